#pragma once
/// @file
/// `layer_norm<B>`: PyTorch's LayerNorm over the last dimension of a sequence tensor, i.e. over
/// the columns of the token matrix [tokens, features, 1, 1] (core/backend.hpp, BackendSequence):
///   y = γ ⊙ (x − μ)/√(σ² + ε) + β   per row, σ² biased.
/// Parameters are `weight` (γ, ones) and `bias` (β, zeros), PyTorch's names and initialisation.
/// Normalisation uses the row's own statistics in every mode (there are no running statistics),
/// so train and eval differ only in whether μ and 1/σ are kept for backward.

#include <smile/core/ops.hpp>
#include <smile/layers/layer.hpp>

namespace smile {

struct layer_norm_options {
    std::int64_t features = 0;
    float epsilon = 1e-5f;  ///< PyTorch's default; BERT's config says 1e-12
};

template <Backend B>
requires BackendSequence<B>
class layer_norm : public layer_state<B> {
public:
    layer_norm(session<B>& s, const layer_norm_options& o) : options_(o) {
        SMILE_CHECK(o.features > 0, "layer_norm: features must be positive");
        SMILE_CHECK(o.epsilon > 0.0f, "layer_norm: epsilon must be positive, got ", o.epsilon);
        weight_ = parameter<B>(s, vector_shape(o.features), 1);
        bias_ = parameter<B>(s, vector_shape(o.features), 1);
        reset_parameters();
    }

    void reset_parameters() {
        weight_.value.fill(1.0f);
        bias_.value.fill(0.0f);
    }

    [[nodiscard]] shape4 output_shape(const shape4& x) const {
        SMILE_CHECK(x.is_matrix() && x.c == options_.features, this->label(), ": input ", x,
                    " is not a token matrix [tokens, ", options_.features, ", 1, 1]");
        return x;
    }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        y.resize(output_shape(x.shape()));
        this->end_forward(y);
        tensor_view<B> mean{}, rstd{};
        if (keeps_activations(m)) {
            mean_.bind(s.context());
            rstd_.bind(s.context());
            mean_.resize(vector_shape(x.shape().n));
            rstd_.resize(vector_shape(x.shape().n));
            mean = mean_.view();
            rstd = rstd_.view();
        }
        ops<B>::layer_norm_forward(s.context(), options_.epsilon, x.view(), weight_.value.view(),
                                   bias_.value.view(), y.view(), mean, rstd);
    }

    /// dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ ⊙ x̂)) with ĝ = γ ⊙ dy, x̂ = (x − μ)·r, r = 1/√(σ² + ε);
    /// dγ = Σ_rows dy ⊙ x̂, dβ = Σ_rows dy.
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        auto scratch =
            dx == nullptr ? s.borrow(this->input().shape()) : typename tensor_pool<B>::lease{};
        tensor<B>* out = dx != nullptr ? dx : scratch.get_if();
        ops<B>::layer_norm_backward(s.context(), this->input().view(), dy.view(),
                                    weight_.value.view(), std::as_const(mean_).view(),
                                    std::as_const(rstd_).view(),
                                    prepare_gradient(out, this->input()),
                                    weight_.grad_for_write().view(), bias_.grad_for_write().view());
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        f(join_name(prefix, "weight"), weight_);
        f(join_name(prefix, "bias"), bias_);
    }
    template <class F>
    void visit_buffers(std::string_view, F&&) {}

    [[nodiscard]] parameter<B>& weight() noexcept { return weight_; }
    [[nodiscard]] parameter<B>& bias() noexcept { return bias_; }
    [[nodiscard]] const layer_norm_options& options() const noexcept { return options_; }

private:
    layer_norm_options options_;
    parameter<B> weight_, bias_;
    tensor<B> mean_, rstd_;  // the last training forward's row statistics
};

}  // namespace smile
