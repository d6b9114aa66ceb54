#pragma once
/// @file
/// Convolution on oneDNN: forward (training and inference primitives), backward data and
/// backward weights (with bias), any stride, padding and group count.
///
/// Activations stay NHWC, so no reorder touches them. Weights are stored OHWI and reordered
/// into the primitive's preferred blocked layout on each call (they change every step; the
/// reorder moves a few MB where the convolution does GFLOPs), and the weight gradient is
/// reordered back. Primitive descriptors, primitives, reorders and blocked weight buffers are
/// built once per (shapes, mode) and cached in the plan.
///
/// The evaluation convolution with batch norm folded in (teachers, frozen source networks,
/// evaluation passes) is one inference primitive with the BN shift as its bias and the residual
/// sum and ReLU as post-ops. Its weights change rarely (a mean teacher moves every few steps),
/// so the folded, blocked weights are kept in the plan until the caller says they changed.
///
/// At compute precision bf16 (the context's, core/precision.hpp) every primitive takes bfloat16
/// operands and writes float32: the weights' reorder into the blocked layout converts them on
/// the way, and the input and the output gradient are converted into the context's two
/// low-precision buffers before the call (the output gradient once for both backward calls of a
/// layer). Measured per ResNet-50 layer shape, the bf16 primitives take about half the f32 time
/// and the conversions 5-20 % of the f32 time (docs/performance.md).

#include <cmath>
#include <cstdlib>
#include <memory>
#include <smile/backends/onednn/compat.hpp>
#include <smile/backends/onednn/layout.hpp>
#include <smile/backends/onednn/math.hpp>
#include <smile/core/error.hpp>
#include <smile/core/plan_cache.hpp>
#include <smile/core/shape.hpp>
#include <string_view>
#include <unordered_map>

namespace smile::onednn {

namespace detail {

struct conv_key {
    shape4 x, w;
    conv2d_desc desc;
    bool bias;
    bool training;  // training primitive (keeps what backward needs) vs inference primitive
    precision compute;
    friend bool operator==(const conv_key&, const conv_key&) = default;
};

/// Converts float32 activations (NHWC) into a bfloat16 copy in one of the context's two
/// low-precision buffers (`slot`: 0 for inputs, 1 for output gradients), for one call; absent at
/// float32.
struct low_precision_copy {
    bool used = false;
    int slot = 0;
    dnnl::memory::desc from, to;
    dnnl::reorder convert;

    void init(context& ctx, const shape4& s, precision p, int buffer_slot) {
        used = p == precision::bf16;
        slot = buffer_slot;
        from = activation_md(s);
        if (!used) return;
        to = activation_md(s, dt::bf16);
        convert = dnnl::reorder(dnnl::reorder::primitive_desc(ctx.engine, from, ctx.engine, to));
        ctx.low_precision_buffer(slot, to.get_size());  // sized now: steps allocate nothing
    }
    /// The copy's buffer, holding whatever was converted into it last.
    [[nodiscard]] dnnl::memory buffer(context& ctx) const {
        return {to, ctx.engine, ctx.low_precision_buffer(slot, to.get_size())};
    }
    /// The operand at `p` as the primitive takes it: itself, or its converted copy.
    dnnl::memory operand(context& ctx, const float* p) const {
        if (!used) return wrap(ctx, from, p);
        dnnl::memory copy = buffer(ctx);
        auto stored = wrap(ctx, from, p);
        convert.execute(ctx.stream, stored, copy);
        ++ctx.low_precision_writes;
        return copy;
    }
};

/// Weights (or weight gradients) in the primitive's preferred layout, reordered from or to the
/// stored OHWI layout around each call, in the context's shared weights buffer.
struct reordered_weights {
    dnnl::memory::desc stored;   // OHWI as kept in the tensor
    dnnl::memory::desc blocked;  // the primitive's layout
    bool reorder = false;        // false when the primitive takes the stored layout as is
    dnnl::reorder to_blocked;    // stored → blocked
    dnnl::reorder to_stored;     // blocked → stored (weight gradients)

    void init(context& ctx, const dnnl::memory::desc& stored_md,
              const dnnl::memory::desc& wanted, bool gradient) {
        stored = stored_md;
        blocked = wanted;
        reorder = !(wanted == stored_md);
        if (!reorder) return;
        ctx.weights_buffer(wanted.get_size());
        if (gradient)
            to_stored = dnnl::reorder(dnnl::reorder::primitive_desc(ctx.engine, wanted,
                                                                    ctx.engine, stored_md));
        else
            to_blocked = dnnl::reorder(dnnl::reorder::primitive_desc(ctx.engine, stored_md,
                                                                     ctx.engine, wanted));
    }
    [[nodiscard]] bool needed() const { return reorder; }
    /// The blocked layout over the shared buffer, valid for the current call only.
    [[nodiscard]] dnnl::memory buffer(context& ctx) const {
        return dnnl::memory(blocked, ctx.engine, ctx.weights_buffer(blocked.get_size()));
    }
};

struct conv_entry {
    conv_key key;
    dnnl::convolution_forward::primitive_desc fwd_pd;
    dnnl::convolution_forward fwd;
    reordered_weights fwd_weights;
    low_precision_copy src_copy;  // x, at bf16
    low_precision_copy dy_copy;   // the output gradient, at bf16 (built with the backward)
    // The output gradient last converted, and the context's conversion count just after: the
    // backward-data call that follows backward-weights reuses the copy when both still match.
    const float* dy_converted = nullptr;
    std::uint64_t dy_converted_at = 0;
    // Backward primitives, built on the first backward of a training entry.
    bool has_backward = false;
    dnnl::convolution_backward_data::primitive_desc bwd_data_pd;
    dnnl::convolution_backward_data bwd_data;
    reordered_weights bwd_data_weights;
    dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd;
    dnnl::convolution_backward_weights bwd_weights;
    reordered_weights diff_weights;
};

struct folded_key {
    shape4 x, w;
    conv2d_desc desc;
    activation_kind activation;
    bool accumulate;
    precision compute;
    friend bool operator==(const folded_key&, const folded_key&) = default;
};

/// Memory a plan owns for good (folded weights), freed with it.
struct owned_buffer {
    struct free_deleter {
        void operator()(void* p) const noexcept { std::free(p); }
    };
    std::unique_ptr<void, free_deleter> memory;
    [[nodiscard]] float* data() const noexcept { return static_cast<float*>(memory.get()); }
};

struct folded_entry {
    folded_key key;
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::convolution_forward conv;
    low_precision_copy src_copy;  // x, at bf16
    dnnl::memory::desc stored;  // OHWI
    bool reorder = false;
    dnnl::reorder to_blocked;   // folded OHWI (in the shared weights buffer) → blocked, plan-owned
    owned_buffer weights;       // w·s in the primitive's layout
    owned_buffer shift;         // (b − μ)·s + β
    std::uint64_t folded_at = 0;  // the plan's fold epoch these weights belong to; 0: never
    bool activation_after = false;  // the activation has no post-op: it runs in place after
};

inline dnnl::memory::dims strides_of(const conv2d_desc& d) { return {d.stride_h, d.stride_w}; }
inline dnnl::memory::dims padding_of(const conv2d_desc& d) { return {d.pad_h, d.pad_w}; }
/// Bottom and right: the symmetric part plus the extra zeros of an asymmetric ("same") padding.
inline dnnl::memory::dims padding_after(const conv2d_desc& d) {
    return {d.pad_h + d.pad_h_extra, d.pad_w + d.pad_w_extra};
}

}  // namespace detail

/// Per-call-site convolution state (see the file comment).
class conv2d_plan {
public:
    detail::conv_entry& forward_entry(context& ctx, const detail::conv_key& key) {
        auto& e = cache_.find_or_create(key, [&] { return build_forward(ctx, key); });
        last_ = key.training ? &e : nullptr;
        ctx.scratchpad(e.fwd_pd.scratchpad_desc().get_size());
        return e;
    }

    /// The evaluation entry with batch norm folded in, for `key`; `refold` starts a new fold
    /// epoch, so every entry refolds before its next use.
    detail::folded_entry& folded_for(context& ctx, const detail::folded_key& key, bool refold) {
        if (refold) ++fold_epoch_;
        auto& e = folded_.find_or_create(key, [&] { return build_folded(ctx, key); });
        ctx.scratchpad(e.pd.scratchpad_desc().get_size());
        return e;
    }
    [[nodiscard]] std::uint64_t fold_epoch() const noexcept { return fold_epoch_; }

    /// The entry of the last training forward, with its backward primitives.
    detail::conv_entry& backward_entry(context& ctx) {
        SMILE_CHECK(last_ != nullptr,
                    "onednn conv2d: backward needs a preceding forward in training mode");
        if (!last_->has_backward) build_backward(ctx, *last_);
        return *last_;
    }

private:
    static detail::conv_entry build_forward(context& ctx, const detail::conv_key& k) {
        using namespace detail;
        const shape4 y = conv2d_output_shape(k.x, k.w, k.desc);
        const auto bias_md = vector_md(k.w.n);
        const auto operands = operand_type(k.compute);
        conv_entry e{};
        e.key = k;
        e.fwd_pd = compat::conv_forward(
            ctx.engine,
            k.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference,
            activation_md(k.x, operands), any_weights_md(k.w, k.desc.groups, operands),
            k.bias ? &bias_md : nullptr, activation_md(y), strides_of(k.desc), padding_of(k.desc),
            padding_after(k.desc), compat::user_scratchpad());
        e.fwd = dnnl::convolution_forward(e.fwd_pd);
        e.src_copy.init(ctx, k.x, k.compute, 0);
        e.fwd_weights.init(ctx, weights_md(k.w, k.desc.groups), e.fwd_pd.weights_desc(), false);
        return e;
    }

    static detail::folded_entry build_folded(context& ctx, const detail::folded_key& k) {
        using namespace detail;
        const shape4 y = conv2d_output_shape(k.x, k.w, k.desc);
        const auto bias_md = vector_md(k.w.n);
        auto attr = compat::user_scratchpad();
        folded_entry e{};
        e.key = k;
        e.activation_after = !compat::fusable(k.activation);
        attr.set_post_ops(compat::sum_then_activation(k.accumulate, e.activation_after ? activation_kind::identity : k.activation));
        const auto operands = operand_type(k.compute);
        e.pd = compat::conv_forward(
            ctx.engine, dnnl::prop_kind::forward_inference, activation_md(k.x, operands),
            any_weights_md(k.w, k.desc.groups, operands), &bias_md, activation_md(y),
            strides_of(k.desc), padding_of(k.desc), padding_after(k.desc), attr);
        e.conv = dnnl::convolution_forward(e.pd);
        e.src_copy.init(ctx, k.x, k.compute, 0);
        e.stored = weights_md(k.w, k.desc.groups);
        e.reorder = !(e.pd.weights_desc() == e.stored);
        if (e.reorder)
            e.to_blocked = dnnl::reorder(dnnl::reorder::primitive_desc(ctx.engine, e.stored, ctx.engine,
                                                                       e.pd.weights_desc()));
        e.weights.memory.reset(ctx.allocate_bytes(std::max(e.pd.weights_desc().get_size(), e.stored.get_size())));
        e.shift.memory.reset(ctx.allocate_bytes(std::size_t(k.w.n) * sizeof(float)));
        return e;
    }

    /// oneDNN's 1x1 backward-weights kernels (`jit_1x1`) copy a strided NHWC input into a
    /// per-thread buffer at offsets counted in SIMD blocks of input channels; with fewer input
    /// channels per group than a block (8 on AVX2, 16 on AVX-512) the copies overrun the buffer:
    /// wrong weight gradients with two threads, a segmentation fault with one (oneDNN issue
    /// #6035, open; seen here with oneDNN 2.6, e.g. a projection shortcut 3 -> 16 at stride 2).
    /// For those shapes the next implementation oneDNN lists is taken instead.
    [[nodiscard]] static bool overrunning_1x1_kernel(const detail::conv_key& k, std::string_view impl) {
        constexpr std::int64_t widest_channel_block = 16;
        const bool strided_1x1 = k.w.h == 1 && k.w.w == 1 && (k.desc.stride_h > 1 || k.desc.stride_w > 1);
        return strided_1x1 && k.w.c < widest_channel_block && impl.find("1x1") != std::string_view::npos;
    }

    static void build_backward(context& ctx, detail::conv_entry& e) {
        using namespace detail;
        const auto& k = e.key;
        const shape4 y = conv2d_output_shape(k.x, k.w, k.desc);
        const auto bias_md = vector_md(k.w.n);
        const auto attr = compat::user_scratchpad();
        const auto operands = operand_type(k.compute);
        // Gradients with respect to x and w are written in float32 whatever the precision.
        e.bwd_data_pd = compat::conv_backward_data(
            ctx.engine, activation_md(k.x), any_weights_md(k.w, k.desc.groups, operands),
            activation_md(y, operands), strides_of(k.desc), padding_of(k.desc),
            padding_after(k.desc), e.fwd_pd, attr);
        e.bwd_data = dnnl::convolution_backward_data(e.bwd_data_pd);
        e.bwd_data_weights.init(ctx, weights_md(k.w, k.desc.groups), e.bwd_data_pd.weights_desc(),
                                false);
        e.bwd_weights_pd = compat::conv_backward_weights(
            ctx.engine, activation_md(k.x, operands), any_weights_md(k.w, k.desc.groups),
            k.bias ? &bias_md : nullptr, activation_md(y, operands), strides_of(k.desc),
            padding_of(k.desc), padding_after(k.desc), e.fwd_pd, attr,
            [&](std::string_view impl) { return overrunning_1x1_kernel(k, impl); });
        SMILE_CHECK(!overrunning_1x1_kernel(k, e.bwd_weights_pd.impl_info_str()), "onednn conv2d ",
                    k.x.str(), " * ", k.w.str(), ": oneDNN offers only its 1x1 backward-weights "
                    "kernel, which overruns its buffer for fewer than 16 input channels at stride > 1");
        e.bwd_weights = dnnl::convolution_backward_weights(e.bwd_weights_pd);
        e.diff_weights.init(ctx, weights_md(k.w, k.desc.groups),
                            e.bwd_weights_pd.diff_weights_desc(), true);
        ctx.scratchpad(std::max(e.bwd_data_pd.scratchpad_desc().get_size(),
                                e.bwd_weights_pd.scratchpad_desc().get_size()));
        e.dy_copy.init(ctx, y, k.compute, 1);
        e.has_backward = true;
    }

    plan_cache<detail::conv_key, detail::conv_entry> cache_;
    detail::conv_entry* last_ = nullptr;
    // Two shapes (the evaluation batch and a last partial batch) each hold a folded copy.
    plan_cache<detail::folded_key, detail::folded_entry, 2> folded_;
    std::uint64_t fold_epoch_ = 1;
};

namespace detail {

inline void conv2d_forward(context& ctx, conv2d_plan& plan, const conv2d_desc& d, cview x, cview w,
                           cview bias, view y, mode m) {
    auto& e = plan.forward_entry(
        ctx, {x.shape, w.shape, d, !bias.empty(), keeps_activations(m), ctx.compute});
    auto weights = wrap(ctx, e.fwd_weights.stored, w.data);
    if (e.fwd_weights.needed()) {
        auto blocked = e.fwd_weights.buffer(ctx);
        e.fwd_weights.to_blocked.execute(ctx.stream, weights, blocked);
        weights = blocked;
    }
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, e.src_copy.operand(ctx, x.data)},
        {DNNL_ARG_WEIGHTS, weights},
        {DNNL_ARG_DST, wrap(ctx, activation_md(y.shape), y.data)},
        {DNNL_ARG_SCRATCHPAD, dnnl::memory(e.fwd_pd.scratchpad_desc(), ctx.engine,
                                           ctx.scratchpad(e.fwd_pd.scratchpad_desc().get_size()))}};
    if (!bias.empty()) args.emplace(DNNL_ARG_BIAS, wrap(ctx, vector_md(w.shape.n), bias.data));
    e.fwd.execute(ctx.stream, args);
}

/// y = act(conv(x, w·s) + shift [+ y]) with s = γ/√(σ² + ε), shift = (b − μ)·s + β: the
/// evaluation BN folded into the convolution (conv_bn_fold in core/backend.hpp).
inline void conv2d_bn_inference(context& ctx, conv2d_plan& plan, const conv2d_desc& d,
                                const conv_bn_fold& f, cview x, cview w, cview bias, cview gamma,
                                cview beta, cview mean, cview var, view y) {
    auto& e = plan.folded_for(ctx, {x.shape, w.shape, d, f.activation, f.accumulate, ctx.compute},
                              f.refold);
    if (e.folded_at != plan.fold_epoch()) {
        // Fold: s and the shift per output channel in double, then w·s row by row (OHWI keeps
        // each output channel's weights contiguous), then the reorder into the blocked layout.
        const std::int64_t out = w.shape.n, per_out = std::int64_t(w.size()) / out;
        float* folded = e.reorder ? static_cast<float*>(ctx.weights_buffer(e.stored.get_size())) : e.weights.data();
        parallel_for(out, [&](std::int64_t o) {
            const double scale = double(gamma.data[o]) / std::sqrt(double(var.data[o]) + double(f.epsilon));
            const double b = bias.empty() ? 0.0 : double(bias.data[o]);
            e.shift.data()[o] = static_cast<float>((b - double(mean.data[o])) * scale + double(beta.data[o]));
            const float s = static_cast<float>(scale);
            for (std::int64_t i = 0; i < per_out; ++i) folded[o * per_out + i] = w.data[o * per_out + i] * s;
        });
        if (e.reorder) {
            auto from = wrap(ctx, e.stored, folded);
            auto to = wrap(ctx, e.pd.weights_desc(), e.weights.data());
            e.to_blocked.execute(ctx.stream, from, to);
        }
        e.folded_at = plan.fold_epoch();
    }
    const auto& sp = e.pd.scratchpad_desc();
    e.conv.execute(
        ctx.stream,
        {{DNNL_ARG_SRC, e.src_copy.operand(ctx, x.data)},
         {DNNL_ARG_WEIGHTS, wrap(ctx, e.pd.weights_desc(), e.weights.data())},
         {DNNL_ARG_BIAS, wrap(ctx, vector_md(w.shape.n), e.shift.data())},
         {DNNL_ARG_DST, wrap(ctx, activation_md(y.shape), y.data)},
         {DNNL_ARG_SCRATCHPAD, dnnl::memory(sp, ctx.engine, ctx.scratchpad(sp.get_size()))}});
    if (e.activation_after) activation_forward(ctx, f.activation, y, y);
}

/// The output gradient as the backward primitives take it: dy itself at float32; at bf16 its
/// converted copy. A layer calls backward weights and then backward data with the same dy
/// (layers/conv2d.hpp), so the copy backward weights makes is taken once more by the backward
/// data call right after it, when that call gets the same tensor and no conversion came between
/// (`remember`: the backward weights call; the copy is used at most once more).
inline dnnl::memory output_gradient(context& ctx, conv_entry& e, const float* dy, bool remember) {
    if (!e.dy_copy.used) return e.dy_copy.operand(ctx, dy);  // dy itself
    if (!remember && e.dy_converted == dy && e.dy_converted_at == ctx.low_precision_writes) {
        e.dy_converted = nullptr;
        return e.dy_copy.buffer(ctx);
    }
    auto copy = e.dy_copy.operand(ctx, dy);
    e.dy_converted = remember ? dy : nullptr;
    e.dy_converted_at = ctx.low_precision_writes;
    return copy;
}

/// dx = conv_transpose(dy, w): the adjoint of the forward map x ↦ conv(x, w).
inline void conv2d_backward_data(context& ctx, conv2d_plan& plan, cview dy, cview w, view dx) {
    auto& e = plan.backward_entry(ctx);
    check_shape("conv2d backward weights", e.key.w, w.shape);
    check_shape("conv2d input gradient", e.key.x, dx.shape);
    check_shape("conv2d output gradient", conv2d_output_shape(e.key.x, e.key.w, e.key.desc),
                dy.shape);
    auto weights = wrap(ctx, e.bwd_data_weights.stored, w.data);
    if (e.bwd_data_weights.needed()) {
        auto blocked = e.bwd_data_weights.buffer(ctx);
        e.bwd_data_weights.to_blocked.execute(ctx.stream, weights, blocked);
        weights = blocked;
    }
    const auto& sp = e.bwd_data_pd.scratchpad_desc();
    e.bwd_data.execute(
        ctx.stream,
        {{DNNL_ARG_DIFF_DST, output_gradient(ctx, e, dy.data, false)},
         {DNNL_ARG_WEIGHTS, weights},
         {DNNL_ARG_DIFF_SRC, wrap(ctx, activation_md(dx.shape), dx.data)},
         {DNNL_ARG_SCRATCHPAD, dnnl::memory(sp, ctx.engine, ctx.scratchpad(sp.get_size()))}});
}

/// dw[o,i,kh,kw] = Σ_{n,y,x} dy[n,o,y,x]·x[n,i,y·s+kh−p,x·s+kw−p]; db[o] = Σ_{n,y,x} dy[n,o,y,x].
inline void conv2d_backward_weights(context& ctx, conv2d_plan& plan, cview x, cview dy, view dw,
                                    view db) {
    auto& e = plan.backward_entry(ctx);
    check_shape("conv2d input", e.key.x, x.shape);
    check_shape("conv2d weight gradient", e.key.w, dw.shape);
    SMILE_CHECK(db.empty() == !e.key.bias,
                "conv2d: a bias gradient must be given exactly when the forward had a bias");
    auto stored = wrap(ctx, e.diff_weights.stored, dw.data);
    dnnl::memory blocked = e.diff_weights.needed() ? e.diff_weights.buffer(ctx) : stored;
    const auto& sp = e.bwd_weights_pd.scratchpad_desc();
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, e.src_copy.operand(ctx, x.data)},
        {DNNL_ARG_DIFF_DST, output_gradient(ctx, e, dy.data, true)},
        {DNNL_ARG_DIFF_WEIGHTS, blocked},
        {DNNL_ARG_SCRATCHPAD, dnnl::memory(sp, ctx.engine, ctx.scratchpad(sp.get_size()))}};
    if (!db.empty()) args.emplace(DNNL_ARG_DIFF_BIAS, wrap(ctx, vector_md(dw.shape.n), db.data));
    e.bwd_weights.execute(ctx.stream, args);
    if (e.diff_weights.needed()) e.diff_weights.to_stored.execute(ctx.stream, blocked, stored);
}

}  // namespace detail
}  // namespace smile::onednn
