#pragma once
/// @file
/// Batch normalization on oneDNN, optionally fused with the ReLU that follows it.
///
/// Training uses the batch statistics (biased variance for normalising, as PyTorch) and then
/// updates the running statistics in PyTorch's convention: running = (1 − m)·running + m·stat,
/// with the unbiased variance n/(n − 1)·σ² (n = N·H·W) for `running_var`. oneDNN does not keep
/// running statistics itself, so that update is done here. Evaluation uses the running
/// statistics through the inference primitive; `eval_grad` uses them through the training
/// primitive with global statistics, so that backward works.

#include <smile/backends/onednn/compat.hpp>
#include <smile/backends/onednn/layout.hpp>
#include <smile/core/plan_cache.hpp>

namespace smile::onednn {

namespace detail {

struct bn_key {
    shape4 x;
    batch_norm_desc desc;
    mode m;
    friend bool operator==(const bn_key&, const bn_key&) = default;
};

struct bn_entry {
    bn_key key;
    dnnl::batch_normalization_forward::primitive_desc fwd_pd;
    dnnl::batch_normalization_forward fwd;
    dnnl::memory mean, variance;  // batch statistics of the last training forward
    dnnl::memory workspace;       // ReLU mask when fused, training only
    const float* global_mean = nullptr;  // eval_grad: the running statistics used by forward
    const float* global_var = nullptr;
    bool has_backward = false;
    dnnl::batch_normalization_backward::primitive_desc bwd_pd;
    dnnl::batch_normalization_backward bwd;
};

inline dnnl::normalization_flags bn_flags(const batch_norm_desc& d, mode m) {
    auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    if (d.fuse_relu) flags = flags | dnnl::normalization_flags::fuse_norm_relu;
    if (!uses_batch_statistics(m)) flags = flags | dnnl::normalization_flags::use_global_stats;
    return flags;
}

}  // namespace detail

class batch_norm_plan {
public:
    detail::bn_entry& forward_entry(context& ctx, const detail::bn_key& key) {
        auto& e = cache_.find_or_create(key, [&] { return build_forward(ctx, key); });
        last_ = keeps_activations(key.m) ? &e : nullptr;
        ctx.scratchpad(e.fwd_pd.scratchpad_desc().get_size());
        return e;
    }

    detail::bn_entry& backward_entry(context& ctx) {
        SMILE_CHECK(last_ != nullptr,
                    "onednn batch_norm: backward needs a preceding forward in training mode");
        if (!last_->has_backward) {
            const auto& k = last_->key;
            last_->bwd_pd = compat::bn_backward(
                ctx.engine, detail::activation_md(k.x), k.desc.epsilon,
                detail::bn_flags(k.desc, k.m), last_->fwd_pd, compat::user_scratchpad());
            last_->bwd = dnnl::batch_normalization_backward(last_->bwd_pd);
            ctx.scratchpad(last_->bwd_pd.scratchpad_desc().get_size());
            last_->has_backward = true;
        }
        return *last_;
    }

private:
    static detail::bn_entry build_forward(context& ctx, const detail::bn_key& k) {
        using namespace detail;
        bn_entry e{};
        e.key = k;
        e.fwd_pd = compat::bn_forward(ctx.engine,
                                      keeps_activations(k.m) ? dnnl::prop_kind::forward_training
                                                             : dnnl::prop_kind::forward_inference,
                                      activation_md(k.x), k.desc.epsilon, bn_flags(k.desc, k.m),
                                      compat::user_scratchpad());
        e.fwd = dnnl::batch_normalization_forward(e.fwd_pd);
        if (uses_batch_statistics(k.m)) {
            e.mean = dnnl::memory(e.fwd_pd.mean_desc(), ctx.engine);
            e.variance = dnnl::memory(e.fwd_pd.variance_desc(), ctx.engine);
            ctx.allocations += 2;
        }
        if (keeps_activations(k.m)) {
            if (e.fwd_pd.workspace_desc().get_size() > 0) {
                e.workspace = dnnl::memory(e.fwd_pd.workspace_desc(), ctx.engine);
                ++ctx.allocations;
            }
        }
        return e;
    }

    plan_cache<detail::bn_key, detail::bn_entry> cache_;
    detail::bn_entry* last_ = nullptr;
};

namespace detail {

inline void batch_norm_forward(context& ctx, batch_norm_plan& plan, const batch_norm_desc& d,
                               cview x, cview gamma, cview beta, view running_mean,
                               view running_var, view y, mode m) {
    const std::int64_t c = x.shape.c;
    auto& e = plan.forward_entry(ctx, {x.shape, d, m});
    const auto& sp = e.fwd_pd.scratchpad_desc();
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, wrap(ctx, activation_md(x.shape), x.data)},
        {DNNL_ARG_DST, wrap(ctx, activation_md(y.shape), y.data)},
        {DNNL_ARG_SCALE, wrap(ctx, vector_md(c), gamma.data)},
        {DNNL_ARG_SHIFT, wrap(ctx, vector_md(c), beta.data)},
        {DNNL_ARG_SCRATCHPAD, dnnl::memory(sp, ctx.engine, ctx.scratchpad(sp.get_size()))}};
    if (!uses_batch_statistics(m)) {
        args.emplace(DNNL_ARG_MEAN, wrap(ctx, vector_md(c), running_mean.data));
        args.emplace(DNNL_ARG_VARIANCE, wrap(ctx, vector_md(c), running_var.data));
        if (e.workspace) args.emplace(DNNL_ARG_WORKSPACE, e.workspace);
        e.global_mean = running_mean.data;
        e.global_var = running_var.data;
        e.fwd.execute(ctx.stream, args);
        return;
    }
    args.emplace(DNNL_ARG_MEAN, e.mean);
    args.emplace(DNNL_ARG_VARIANCE, e.variance);
    if (e.workspace) args.emplace(DNNL_ARG_WORKSPACE, e.workspace);
    e.fwd.execute(ctx.stream, args);
    ctx.stream.wait();  // the statistics are read below
    // Running statistics, PyTorch's convention (see the file comment).
    const auto* mean = static_cast<const float*>(e.mean.get_data_handle());
    const auto* var = static_cast<const float*>(e.variance.get_data_handle());
    const double count = static_cast<double>(x.shape.n * x.shape.h * x.shape.w);
    const double unbias = count / (count - 1.0);
    const double mom = d.momentum;
    for (std::int64_t i = 0; i < c; ++i) {
        running_mean.data[i] = static_cast<float>((1.0 - mom) * running_mean.data[i] + mom * mean[i]);
        running_var.data[i] =
            static_cast<float>((1.0 - mom) * running_var.data[i] + mom * unbias * var[i]);
    }
}

/// With x̂ = (x − μ)/σ and g = dy (masked by y > 0 when ReLU is fused), per channel:
/// dβ = Σ g, dγ = Σ g·x̂, and with batch statistics dx = γ/σ·(g − dβ/n − x̂·dγ/n), n = N·H·W;
/// with running statistics (eval_grad) μ and σ are constants and dx = γ/σ·g.
inline void batch_norm_backward(context& ctx, batch_norm_plan& plan, cview x, cview /*y*/,
                                cview dy, cview gamma, cview beta, view dx, view dgamma,
                                view dbeta) {
    auto& e = plan.backward_entry(ctx);
    const std::int64_t c = x.shape.c;
    check_shape("batch_norm input", e.key.x, x.shape);
    check_shape("batch_norm output gradient", e.key.x, dy.shape);
    check_shape("batch_norm input gradient", e.key.x, dx.shape);
    const auto& sp = e.bwd_pd.scratchpad_desc();
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, wrap(ctx, activation_md(x.shape), x.data)},
        {DNNL_ARG_DIFF_DST, wrap(ctx, activation_md(dy.shape), dy.data)},
        {DNNL_ARG_MEAN, e.mean ? e.mean : wrap(ctx, vector_md(c), e.global_mean)},
        {DNNL_ARG_VARIANCE, e.variance ? e.variance : wrap(ctx, vector_md(c), e.global_var)},
        {DNNL_ARG_SCALE, wrap(ctx, vector_md(c), gamma.data)},
        {DNNL_ARG_SHIFT, wrap(ctx, vector_md(c), beta.data)},  // oneDNN 2.6 insists on it
        {DNNL_ARG_DIFF_SRC, wrap(ctx, activation_md(dx.shape), dx.data)},
        {DNNL_ARG_DIFF_SCALE, wrap(ctx, vector_md(c), dgamma.data)},
        {DNNL_ARG_DIFF_SHIFT, wrap(ctx, vector_md(c), dbeta.data)},
        {DNNL_ARG_SCRATCHPAD, dnnl::memory(sp, ctx.engine, ctx.scratchpad(sp.get_size()))}};
    if (e.workspace) args.emplace(DNNL_ARG_WORKSPACE, e.workspace);
    e.bwd.execute(ctx.stream, args);
}

}  // namespace detail
}  // namespace smile::onednn
