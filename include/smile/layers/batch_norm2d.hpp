#pragma once
/// @file
/// `batch_norm2d<B>`: PyTorch's BatchNorm2d (affine, tracking running statistics, momentum 0.1,
/// ε = 1e-5), optionally fused with the ReLU that follows it, which saves one activation-sized
/// tensor per convolution block and a pass over memory. In a data-parallel run whose session
/// asks for it, training statistics are the global batch's (sync_batch_norm.hpp).

#include <smile/core/ops.hpp>
#include <smile/layers/layer.hpp>
#include <smile/layers/sync_batch_norm.hpp>

namespace smile {

struct batch_norm2d_options {
    std::int64_t channels = 0;
    float epsilon = 1e-5f;
    float momentum = 0.1f;
    bool fuse_relu = false;
};

template <Backend B>
class batch_norm2d : public layer_state<B> {
public:
    batch_norm2d(session<B>& s, const batch_norm2d_options& o)
        : options_(o), desc_{o.epsilon, o.momentum, o.fuse_relu} {
        SMILE_CHECK(o.channels > 0, "batch_norm2d: the channel count must be positive");
        SMILE_CHECK(o.momentum >= 0.0f && o.momentum <= 1.0f && o.epsilon > 0.0f,
                    "batch_norm2d: momentum must be in [0, 1] and epsilon positive");
        const shape4 v = vector_shape(o.channels);
        weight_ = parameter<B>(s, v, 1);
        bias_ = parameter<B>(s, v, 1);
        running_mean_ = tensor<B>(s, v);
        running_var_ = tensor<B>(s, v);
        reset_parameters();
    }

    /// γ = 1, β = 0, running mean 0, running variance 1 (PyTorch's reset_parameters).
    void reset_parameters() {
        weight_.value.fill(1.0f);
        bias_.value.fill(0.0f);
        running_mean_.fill(0.0f);
        running_var_.fill(1.0f);
    }

    [[nodiscard]] shape4 output_shape(const shape4& x) const {
        SMILE_CHECK(x.c == options_.channels, this->label(), ": input ", x, " has ", x.c,
                    " channels, the layer expects ", options_.channels);
        return x;
    }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        y.resize(output_shape(x.shape()));
        this->end_forward(y);
        const shape4& xs = x.shape();
        SMILE_CHECK(!uses_batch_statistics(m) || xs.n * xs.h * xs.w > 1, this->label(),
                    ": training needs more than one value per channel, got input ", xs);
        synchronised_ = uses_batch_statistics(m) && s.sync_batch_norm();
        if (synchronised_) {
            sync_.forward(s, plan_, desc_, x, weight_.value, bias_.value, running_mean_,
                          running_var_, y);
            return;
        }
        ops<B>::batch_norm_forward(s.context(), plan_, desc_, x.view(), weight_.value.view(),
                                   bias_.value.view(), running_mean_.view(), running_var_.view(),
                                   y.view(), m);
    }

    /// With x̂ the normalised input, σ the batch standard deviation and g = dy (masked by
    /// y > 0 when ReLU is fused), per channel over n = N·H·W values:
    /// dβ = Σ g, dγ = Σ g·x̂, dx = γ/σ·(g − dβ/n − x̂·dγ/n).
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        if (synchronised_) {
            prepare_gradient(dx, this->input());
            sync_.backward(s, desc_, this->input(), options_.fuse_relu ? &this->output() : nullptr,
                           dy, weight_.value, dx, weight_.grad_for_write(), bias_.grad_for_write());
            return;
        }
        // oneDNN and cuDNN always produce dx; route it to a scratch tensor when not wanted.
        auto scratch = dx == nullptr ? s.borrow(dy.shape()) : typename tensor_pool<B>::lease{};
        tensor<B>& out = dx != nullptr ? *dx : *scratch;
        // The output is read only to mask the fused ReLU (and may be released otherwise).
        const const_tensor_view<B> y = options_.fuse_relu ? this->output().view() : const_tensor_view<B>{};
        ops<B>::batch_norm_backward(s.context(), plan_, this->input().view(), y, dy.view(),
                                    weight_.value.view(), bias_.value.view(),
                                    prepare_gradient(&out, this->input()),
                                    weight_.grad_for_write().view(), bias_.grad_for_write().view());
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        f(join_name(prefix, "weight"), weight_);
        f(join_name(prefix, "bias"), bias_);
    }
    template <class F>
    void visit_buffers(std::string_view prefix, F&& f) {
        f(join_name(prefix, "running_mean"), running_mean_);
        f(join_name(prefix, "running_var"), running_var_);
    }

    [[nodiscard]] parameter<B>& weight() noexcept { return weight_; }
    [[nodiscard]] parameter<B>& bias() noexcept { return bias_; }
    [[nodiscard]] tensor<B>& running_mean() noexcept { return running_mean_; }
    [[nodiscard]] tensor<B>& running_var() noexcept { return running_var_; }
    [[nodiscard]] const batch_norm2d_options& options() const noexcept { return options_; }

private:
    batch_norm2d_options options_;
    batch_norm_desc desc_;
    parameter<B> weight_;
    parameter<B> bias_;
    tensor<B> running_mean_;
    tensor<B> running_var_;
    typename B::batch_norm_plan plan_;
    sync_batch_norm<B> sync_;    // the global batch's statistics (data-parallel --sync-bn)
    bool synchronised_ = false;  // the last forward used sync_
};

}  // namespace smile
