#pragma once
/// @file
/// Batch normalization on cuDNN (spatial mode), in PyTorch's convention: normalise with the
/// biased batch variance, update the running statistics with momentum and the unbiased
/// variance (cuDNN's exponential average does exactly this). The optional fused ReLU is a
/// kernel after the normalisation, and masks the gradient before cuDNN's backward.
///
/// `eval_grad` (running statistics, with backward) is not a cuDNN mode: its forward is the
/// inference call, and its backward treats μ and σ as constants: dx = γ/σ·g, dγ = Σ g·x̂,
/// dβ = Σ g (the backend's kernels).

#include <smile/backends/cuda/launch.hpp>
#include <smile/core/plan_cache.hpp>

namespace smile::cuda {

namespace detail {

struct bn_key {
    shape4 x;
    friend bool operator==(const bn_key&, const bn_key&) = default;
};

struct bn_entry {
    bn_key key;
    tensor_descriptor x;
    tensor_descriptor parameters;  // [1, c, 1, 1], derived by cuDNN
    device_buffer saved_mean, saved_inv_std;
};

}  // namespace detail

class batch_norm_plan {
public:
    detail::bn_entry& entry(context& ctx, const shape4& x) {
        return cache_.find_or_create({x}, [&] {
            detail::bn_entry e{{x}, detail::tensor_of(x), {}, {}, {}};
            SMILE_CUDA(cudnnDeriveBNTensorDescriptor(e.parameters, e.x, CUDNN_BATCHNORM_SPATIAL));
            e.saved_mean = device_buffer(ctx, static_cast<std::size_t>(x.c) * sizeof(float));
            e.saved_inv_std = device_buffer(ctx, static_cast<std::size_t>(x.c) * sizeof(float));
            return e;
        });
    }

    // What the last forward was, for its backward.
    detail::bn_entry* last = nullptr;
    batch_norm_desc desc{};
    bool batch_statistics = false;
    const float* global_mean = nullptr;  // eval_grad: the running statistics the forward used
    const float* global_var = nullptr;

private:
    plan_cache<detail::bn_key, detail::bn_entry> cache_;
};

namespace detail {

inline void batch_norm_forward(context& ctx, batch_norm_plan& plan, const batch_norm_desc& d,
                               cview x, cview gamma, cview beta, view running_mean,
                               view running_var, view y, mode m) {
    SMILE_CHECK(d.epsilon >= CUDNN_BN_MIN_EPSILON, "batch_norm: epsilon ", d.epsilon, " is below cuDNN's minimum ",
                CUDNN_BN_MIN_EPSILON);
    auto& e = plan.entry(ctx, x.shape);
    const float one = 1.0f, zero = 0.0f;
    if (uses_batch_statistics(m)) {
        SMILE_CUDA(cudnnBatchNormalizationForwardTraining(
            ctx.dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, e.x, x.data, e.x, y.data, e.parameters, gamma.data, beta.data,
            static_cast<double>(d.momentum), running_mean.data, running_var.data, static_cast<double>(d.epsilon),
            e.saved_mean.floats(), e.saved_inv_std.floats()));
    } else {
        SMILE_CUDA(cudnnBatchNormalizationForwardInference(ctx.dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, e.x, x.data,
                                                           e.x, y.data, e.parameters, gamma.data, beta.data,
                                                           running_mean.data, running_var.data,
                                                           static_cast<double>(d.epsilon)));
    }
    if (d.fuse_relu)
        launch_over(ctx, kernel::relu_forward, static_cast<std::int64_t>(y.size()), y.data,
                    static_cast<const float*>(y.data), static_cast<std::int64_t>(y.size()));
    plan.last = keeps_activations(m) ? &e : nullptr;
    plan.desc = d;
    plan.batch_statistics = uses_batch_statistics(m);
    plan.global_mean = running_mean.data;
    plan.global_var = running_var.data;
}

/// With x̂ = (x − μ)/σ and g = dy (masked by y > 0 when ReLU is fused), per channel:
/// dβ = Σ g, dγ = Σ g·x̂, and with batch statistics dx = γ/σ·(g − dβ/n − x̂·dγ/n), n = N·H·W;
/// with running statistics (eval_grad) dx = γ/σ·g.
inline void batch_norm_backward(context& ctx, batch_norm_plan& plan, cview x, cview y, cview dy, cview gamma,
                                cview /*beta*/, view dx, view dgamma, view dbeta) {
    SMILE_CHECK(plan.last != nullptr, "cuda batch_norm: backward needs a preceding forward in training mode");
    auto& e = *plan.last;
    const shape4& s = e.key.x;
    check_shape("batch_norm input", s, x.shape);
    check_shape("batch_norm output gradient", s, dy.shape);
    check_shape("batch_norm input gradient", s, dx.shape);
    const auto n = static_cast<std::int64_t>(x.size());
    // The gradient reaching the normalisation: dy, or dy masked by the fused ReLU's output.
    device_buffer masked;
    const float* g = dy.data;
    if (plan.desc.fuse_relu) {
        SMILE_CHECK(!y.empty(), "batch_norm: the fused ReLU's backward needs the forward output");
        masked = device_buffer(ctx, x.size() * sizeof(float));
        launch_over(ctx, kernel::relu_backward, n, masked.floats(), y.data, dy.data, n);
        g = masked.floats();
    }
    if (plan.batch_statistics) {
        const float one = 1.0f, zero = 0.0f;
        SMILE_CUDA(cudnnBatchNormalizationBackward(ctx.dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, e.x,
                                                   x.data, e.x, g, e.x, dx.data, e.parameters, gamma.data, dgamma.data,
                                                   dbeta.data, static_cast<double>(plan.desc.epsilon),
                                                   e.saved_mean.floats(), e.saved_inv_std.floats()));
        return;
    }
    const std::int64_t hw = s.h * s.w;
    launch_reduction(ctx, kernel::bn_frozen_backward_params, s.c, dgamma.data, dbeta.data, x.data, g, plan.global_mean,
                     plan.global_var, plan.desc.epsilon, s.n, s.c, hw);
    launch_over(ctx, kernel::bn_frozen_backward_data, n, dx.data, g, gamma.data, plan.global_var, plan.desc.epsilon, n,
                s.c, hw);
}

}  // namespace detail
}  // namespace smile::cuda
