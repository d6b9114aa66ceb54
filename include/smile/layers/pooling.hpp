#pragma once
/// @file
/// `pool2d<B>`: max and average pooling (PyTorch's MaxPool2d / AvgPool2d with floor rounding),
/// and `global_avg_pool<B>` (AdaptiveAvgPool2d(1)), whose output is the [n, c, 1, 1] matrix
/// the heads consume.

#include <smile/core/ops.hpp>
#include <smile/layers/layer.hpp>

namespace smile {

template <Backend B>
class pool2d : public layer_state<B> {
public:
    explicit pool2d(const pool2d_desc& d) : desc_(d) {
        SMILE_CHECK(d.window_h > 0 && d.window_w > 0 && d.stride_h > 0 && d.stride_w > 0 &&
                        d.pad_h >= 0 && d.pad_w >= 0,
                    "pool2d: window and stride must be positive, padding non-negative");
        SMILE_CHECK(2 * d.pad_h <= d.window_h && 2 * d.pad_w <= d.window_w,
                    "pool2d: padding must be at most half the window (as in PyTorch)");
    }

    /// PyTorch's MaxPool2d(kernel, stride, padding).
    static pool2d max(std::int64_t kernel, std::int64_t stride, std::int64_t padding = 0) {
        return pool2d({pool_kind::max, kernel, kernel, stride, stride, padding, padding});
    }
    /// PyTorch's AvgPool2d(kernel, stride, padding) (count_include_pad = true).
    static pool2d average(std::int64_t kernel, std::int64_t stride, std::int64_t padding = 0) {
        return pool2d({pool_kind::average_include_padding, kernel, kernel, stride, stride, padding,
                       padding});
    }

    [[nodiscard]] shape4 output_shape(const shape4& x) const {
        SMILE_CHECK(x.h + 2 * desc_.pad_h >= desc_.window_h && x.w + 2 * desc_.pad_w >= desc_.window_w,
                    this->label(), ": input ", x, " is smaller than the ", desc_.window_h, "x",
                    desc_.window_w, " window");
        return pool2d_output_shape(x, desc_);
    }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        y.resize(output_shape(x.shape()));
        this->end_forward(y);
        ops<B>::pool2d_forward(s.context(), plan_, desc_, x.view(), y.view(), m);
    }

    /// Max: dy goes to each window's arg-max input (ties: the first maximum). Average: dy is
    /// spread evenly over the window (divided by the window size, or by the count of
    /// non-padding inputs for `average_exclude_padding`).
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        if (dx == nullptr) return;
        ops<B>::pool2d_backward(s.context(), plan_, this->input().view(), this->output().view(),
                                dy.view(),
                                prepare_gradient(dx, this->input()));  // y: kept by the caller
    }

    template <class F>
    void visit_parameters(std::string_view, F&&) {}
    template <class F>
    void visit_buffers(std::string_view, F&&) {}

    [[nodiscard]] const pool2d_desc& desc() const noexcept { return desc_; }

private:
    pool2d_desc desc_;
    typename B::pool2d_plan plan_;
};

template <Backend B>
class global_avg_pool : public layer_state<B> {
public:
    [[nodiscard]] shape4 output_shape(const shape4& x) const { return matrix_shape(x.n, x.c); }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        y.resize(output_shape(x.shape()));
        this->end_forward(y);
        ops<B>::global_avg_pool_forward(s.context(), x.view(), y.view());
    }

    /// dx[n,c,h,w] = dy[n,c]/(h·w).
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        if (dx == nullptr) return;
        ops<B>::global_avg_pool_backward(s.context(), dy.view(),
                                         prepare_gradient(dx, this->input()));
    }

    template <class F>
    void visit_parameters(std::string_view, F&&) {}
    template <class F>
    void visit_buffers(std::string_view, F&&) {}
};

}  // namespace smile
