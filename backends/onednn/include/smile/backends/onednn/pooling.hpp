#pragma once
/// @file
/// Max and average pooling on oneDNN. Training-mode max pooling keeps oneDNN's workspace (the
/// arg-max positions) in the plan for the backward pass; evaluation uses the inference
/// primitive, which needs none.

#include <smile/backends/onednn/compat.hpp>
#include <smile/backends/onednn/layout.hpp>
#include <smile/core/error.hpp>
#include <smile/core/plan_cache.hpp>
#include <smile/core/shape.hpp>

namespace smile::onednn {

namespace detail {

struct pool_key {
    shape4 x;
    pool2d_desc desc;
    bool training;
    friend bool operator==(const pool_key&, const pool_key&) = default;
};

struct pool_entry {
    pool_key key;
    dnnl::pooling_forward::primitive_desc fwd_pd;
    dnnl::pooling_forward fwd;
    dnnl::memory workspace;  // max pooling in training mode
    bool has_backward = false;
    dnnl::pooling_backward::primitive_desc bwd_pd;
    dnnl::pooling_backward bwd;
};

inline dnnl::algorithm pool_algorithm(pool_kind k) {
    switch (k) {
        case pool_kind::max: return dnnl::algorithm::pooling_max;
        case pool_kind::average_include_padding: return dnnl::algorithm::pooling_avg_include_padding;
        case pool_kind::average_exclude_padding: return dnnl::algorithm::pooling_avg_exclude_padding;
    }
    return dnnl::algorithm::pooling_max;
}

}  // namespace detail

class pool2d_plan {
public:
    detail::pool_entry& forward_entry(context& ctx, const detail::pool_key& key) {
        auto& e = cache_.find_or_create(key, [&] { return build_forward(ctx, key); });
        last_ = key.training ? &e : nullptr;
        ctx.scratchpad(e.fwd_pd.scratchpad_desc().get_size());
        return e;
    }

    detail::pool_entry& backward_entry(context& ctx) {
        SMILE_CHECK(last_ != nullptr,
                    "onednn pool2d: backward needs a preceding forward in training mode");
        if (!last_->has_backward) {
            using namespace detail;
            const auto& k = last_->key;
            last_->bwd_pd = compat::pool_backward(
                ctx.engine, pool_algorithm(k.desc.kind), activation_md(k.x),
                activation_md(pool2d_output_shape(k.x, k.desc)), {k.desc.stride_h, k.desc.stride_w},
                {k.desc.window_h, k.desc.window_w}, {k.desc.pad_h, k.desc.pad_w}, last_->fwd_pd,
                compat::user_scratchpad());
            last_->bwd = dnnl::pooling_backward(last_->bwd_pd);
            ctx.scratchpad(last_->bwd_pd.scratchpad_desc().get_size());
            last_->has_backward = true;
        }
        return *last_;
    }

private:
    static detail::pool_entry build_forward(context& ctx, const detail::pool_key& k) {
        using namespace detail;
        pool_entry e{};
        e.key = k;
        e.fwd_pd = compat::pool_forward(
            ctx.engine,
            k.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference,
            pool_algorithm(k.desc.kind), activation_md(k.x),
            activation_md(pool2d_output_shape(k.x, k.desc)), {k.desc.stride_h, k.desc.stride_w},
            {k.desc.window_h, k.desc.window_w}, {k.desc.pad_h, k.desc.pad_w},
            compat::user_scratchpad());
        e.fwd = dnnl::pooling_forward(e.fwd_pd);
        if (e.fwd_pd.workspace_desc().get_size() > 0) {
            e.workspace = dnnl::memory(e.fwd_pd.workspace_desc(), ctx.engine);
            ++ctx.allocations;
        }
        return e;
    }

    plan_cache<detail::pool_key, detail::pool_entry> cache_;
    detail::pool_entry* last_ = nullptr;
};

namespace detail {

inline void pool2d_forward(context& ctx, pool2d_plan& plan, const pool2d_desc& d, cview x, view y,
                           mode m) {
    auto& e = plan.forward_entry(ctx, {x.shape, d, keeps_activations(m)});
    const auto& sp = e.fwd_pd.scratchpad_desc();
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, wrap(ctx, activation_md(x.shape), x.data)},
        {DNNL_ARG_DST, wrap(ctx, activation_md(y.shape), y.data)},
        {DNNL_ARG_SCRATCHPAD, dnnl::memory(sp, ctx.engine, ctx.scratchpad(sp.get_size()))}};
    if (e.workspace) args.emplace(DNNL_ARG_WORKSPACE, e.workspace);
    e.fwd.execute(ctx.stream, args);
}

/// Max: dx receives dy at each window's arg-max. Average: dy/|window| spread over the window.
inline void pool2d_backward(context& ctx, pool2d_plan& plan, cview x, cview /*y*/, cview dy,
                            view dx) {
    auto& e = plan.backward_entry(ctx);
    check_shape("pool2d input", e.key.x, x.shape);
    check_shape("pool2d input gradient", e.key.x, dx.shape);
    check_shape("pool2d output gradient", pool2d_output_shape(e.key.x, e.key.desc), dy.shape);
    const auto& sp = e.bwd_pd.scratchpad_desc();
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_DIFF_DST, wrap(ctx, activation_md(dy.shape), dy.data)},
        {DNNL_ARG_DIFF_SRC, wrap(ctx, activation_md(dx.shape), dx.data)},
        {DNNL_ARG_SCRATCHPAD, dnnl::memory(sp, ctx.engine, ctx.scratchpad(sp.get_size()))}};
    if (e.workspace) args.emplace(DNNL_ARG_WORKSPACE, e.workspace);
    e.bwd.execute(ctx.stream, args);
}

}  // namespace detail
}  // namespace smile::onednn
