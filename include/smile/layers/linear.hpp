#pragma once
/// @file
/// `linear<B>`: y = x·Wᵀ + b on [n, in, 1, 1] inputs, PyTorch's Linear (W is [out, in]).
/// `reset_parameters` is PyTorch's default initialisation, which RIFLE re-applies to the head.

#include <smile/core/init.hpp>
#include <smile/core/ops.hpp>
#include <smile/layers/layer.hpp>

namespace smile {

struct linear_options {
    std::int64_t in_features = 0;
    std::int64_t out_features = 0;
    bool bias = true;
};

template <Backend B>
class linear : public layer_state<B> {
public:
    linear(session<B>& s, rng& gen, const linear_options& o) : options_(o) {
        SMILE_CHECK(o.in_features > 0 && o.out_features > 0,
                    "linear: in_features and out_features must be positive");
        weight_ = parameter<B>(s, matrix_shape(o.out_features, o.in_features), 2);
        if (o.bias) bias_ = parameter<B>(s, vector_shape(o.out_features), 1);
        reset_parameters(gen);
    }

    /// PyTorch's default: W, b ~ U(±1/√in_features).
    void reset_parameters(rng& gen) {
        const double bound = init::default_bound(options_.in_features);
        init::uniform(weight_.value, gen, bound);
        if (options_.bias) init::uniform(bias_.value, gen, bound);
    }

    [[nodiscard]] shape4 output_shape(const shape4& x) const {
        SMILE_CHECK(x.is_matrix(), this->label(), ": input ", x,
                    " is not a matrix [n, features, 1, 1]; pool or flatten it first");
        SMILE_CHECK(x.c == options_.in_features, this->label(), ": input ", x, " has ", x.c,
                    " features, the layer expects ", options_.in_features);
        return matrix_shape(x.n, options_.out_features);
    }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        y.resize(output_shape(x.shape()));
        this->end_forward(y);
        auto& ctx = s.context();
        ops<B>::gemm(ctx, transpose::no, transpose::yes, 1.0f, x.view(), weight_.value.view(), 0.0f,
                     y.view());
        if (options_.bias) ops<B>::add_channel_bias(ctx, bias_.value.view(), y.view());
    }

    /// dW = dyᵀ·x, db = Σ_rows dy, dx = dy·W.
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        auto& ctx = s.context();
        ops<B>::gemm(ctx, transpose::yes, transpose::no, 1.0f, dy.view(), this->input().view(),
                     0.0f, weight_.grad_for_write().view());
        if (options_.bias) ops<B>::channel_sum(ctx, dy.view(), bias_.grad_for_write().view());
        if (dx != nullptr)
            ops<B>::gemm(ctx, transpose::no, transpose::no, 1.0f, dy.view(), weight_.value.view(),
                         0.0f, prepare_gradient(dx, this->input()));
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        f(join_name(prefix, "weight"), weight_);
        if (options_.bias) f(join_name(prefix, "bias"), bias_);
    }
    template <class F>
    void visit_buffers(std::string_view, F&&) {}

    [[nodiscard]] parameter<B>& weight() noexcept { return weight_; }
    [[nodiscard]] parameter<B>& bias() noexcept { return bias_; }
    [[nodiscard]] const linear_options& options() const noexcept { return options_; }

private:
    linear_options options_;
    parameter<B> weight_;
    parameter<B> bias_;
};

}  // namespace smile
