#pragma once
/// @file
/// `flatten<B>`: [n, c, h, w] → [n, c·h·w, 1, 1] in PyTorch's (c, h, w) order, whatever the
/// backend's memory layout.

#include <smile/core/ops.hpp>
#include <smile/layers/layer.hpp>

namespace smile {

template <Backend B>
class flatten : public layer_state<B> {
public:
    [[nodiscard]] shape4 output_shape(const shape4& x) const {
        return matrix_shape(x.n, x.c * x.h * x.w);
    }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        y.resize(output_shape(x.shape()));
        this->end_forward(y);
        ops<B>::flatten_forward(s.context(), x.view(), y.view());
    }

    /// dx is dy put back in the input's shape (flatten is a permutation of elements).
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        if (dx == nullptr) return;
        ops<B>::flatten_backward(s.context(), dy.view(), prepare_gradient(dx, this->input()));
    }

    template <class F>
    void visit_parameters(std::string_view, F&&) {}
    template <class F>
    void visit_buffers(std::string_view, F&&) {}
};

}  // namespace smile
