#pragma once
/// @file
/// Element-wise, reduction and small dense operations of the oneDNN backend: OpenMP loops over
/// the NHWC buffers (the compiler vectorises them), oneDNN's eltwise primitive for the activations
/// built on exp, tanh and erf, `dnnl::sgemm` for matrix products.
/// Reductions use `deterministic_sum`, so results do not depend on the thread count.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <smile/backends/onednn/compat.hpp>
#include <smile/backends/onednn/eltwise_plans.hpp>
#include <smile/backends/onednn/layout.hpp>
#include <smile/backends/onednn/matmul.hpp>
#include <smile/core/operand_checks.hpp>
#include <span>
#include <vector>

namespace smile::onednn::detail {

inline std::int64_t count(const cview& v) { return static_cast<std::int64_t>(v.size()); }

/// Row-major C[m×n] = alpha·op(A)·op(B) + beta·C (bfloat16 operands at compute precision bf16).
inline void gemm(context& ctx, transpose ta, transpose tb, float alpha, cview a, cview b,
                 float beta, view c) {
    if (ctx.compute == precision::bf16)
        return low_precision_matmul(ctx, 1, ta, tb, alpha, a, b, beta, c);
    const auto [m, n, k] = operand_checks::gemm_dimensions(ta, a.shape, tb, b.shape);
    const bool tra = ta == transpose::yes;
    const bool trb = tb == transpose::yes;
    const auto status = dnnl::sgemm(tra ? 'T' : 'N', trb ? 'T' : 'N', m, n, k, alpha, a.data,
                                    a.shape.c, b.data, b.shape.c, beta, c.data, c.shape.c);
    SMILE_CHECK(status == dnnl::status::success, "gemm: dnnl::sgemm failed");
}

inline void add(context&, float a, cview x, float b, cview y, view out) {
    const float* xp = x.data;
    const float* yp = y.data;
    float* o = out.data;
    const std::int64_t n = count(x);
#pragma omp parallel for simd schedule(static)
    for (std::int64_t i = 0; i < n; ++i) o[i] = a * xp[i] + b * yp[i];
}

inline void multiply(context&, cview x, cview y, view out) {
    const float* xp = x.data;
    const float* yp = y.data;
    float* o = out.data;
    const std::int64_t n = count(x);
#pragma omp parallel for simd schedule(static)
    for (std::int64_t i = 0; i < n; ++i) o[i] = xp[i] * yp[i];
}

inline void scale_channels(context&, cview x, cview scale, view y) {
    const std::int64_t c = x.shape.c;
    const std::int64_t pixels = x.shape.n * x.shape.h * x.shape.w;
    parallel_for(pixels, [&](std::int64_t p) {
        const float* in = x.data + p * c;
        float* out = y.data + p * c;
        for (std::int64_t k = 0; k < c; ++k) out[k] = scale.data[k] * in[k];
    });
}

inline void add_channel_bias(context&, cview bias, view y) {
    const std::int64_t c = y.shape.c;
    const std::int64_t pixels = y.shape.n * y.shape.h * y.shape.w;
    parallel_for(pixels, [&](std::int64_t p) {
        float* out = y.data + p * c;
        for (std::int64_t k = 0; k < c; ++k) out[k] += bias.data[k];
    });
}

inline void channel_sum(context&, cview x, view out) {
    const std::int64_t c = x.shape.c;
    const std::int64_t pixels = x.shape.n * x.shape.h * x.shape.w;
    // Channels are independent: parallel over channels, each summed in a fixed order.
    parallel_for(c, [&](std::int64_t k) {
        double acc = 0.0;
        for (std::int64_t p = 0; p < pixels; ++p) acc += x.data[p * c + k];
        out.data[k] = static_cast<float>(acc);
    });
}

inline void mix_rows(context&, float lambda, cview x, std::span<const std::int64_t> perm, view y) {
    const std::int64_t row = static_cast<std::int64_t>(x.shape.row_size());
    const float mu = 1.0f - lambda;
    parallel_for(x.shape.n, [&](std::int64_t i) {
        const float* a = x.data + i * row;
        const float* b = x.data + perm[static_cast<std::size_t>(i)] * row;
        float* out = y.data + i * row;
        for (std::int64_t k = 0; k < row; ++k) out[k] = lambda * a[k] + mu * b[k];
    });
}

inline void paste_box(context&, cview x, std::span<const std::int64_t> perm, const spatial_box& box,
                      view y) {
    const std::int64_t c = x.shape.c;
    const std::int64_t row = static_cast<std::int64_t>(x.shape.row_size());
    parallel_for(x.shape.n, [&](std::int64_t i) {
        std::memcpy(y.data + i * row, x.data + i * row, static_cast<std::size_t>(row) * 4);
        const float* src = x.data + perm[static_cast<std::size_t>(i)] * row;
        float* dst = y.data + i * row;
        for (std::int64_t r = box.top; r < box.top + box.height; ++r) {
            const std::int64_t offset = (r * x.shape.w + box.left) * c;
            std::memcpy(dst + offset, src + offset, static_cast<std::size_t>(box.width * c) * 4);
        }
    });
}

inline double dot(context&, cview a, cview b) {
    const float* x = a.data;
    const float* y = b.data;
    return deterministic_sum(count(a), [&](std::int64_t i) {
        return static_cast<double>(x[i]) * static_cast<double>(y[i]);
    });
}

inline void relu_forward(context&, cview x, view y) {
    const float* in = x.data;
    float* out = y.data;
    const std::int64_t n = count(x);
#pragma omp parallel for simd schedule(static)
    for (std::int64_t i = 0; i < n; ++i) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

inline void relu_backward(context&, cview y, cview dy, view dx) {
    const float* out = y.data;
    const float* g = dy.data;
    float* d = dx.data;
    const std::int64_t n = count(y);
#pragma omp parallel for simd schedule(static)
    for (std::int64_t i = 0; i < n; ++i) d[i] = out[i] > 0.0f ? g[i] : 0.0f;
}

inline void softmax(context&, cview x, view y, bool log) {
    const std::int64_t k = x.shape.c;
    parallel_for(x.shape.n, [&](std::int64_t r) {
        const float* z = x.data + r * k;
        float* out = y.data + r * k;
        const float top = *std::max_element(z, z + k);
        double total = 0.0;
        for (std::int64_t j = 0; j < k; ++j) total += std::exp(static_cast<double>(z[j] - top));
        const double log_total = std::log(total);
        for (std::int64_t j = 0; j < k; ++j) {
            const double shifted = static_cast<double>(z[j] - top);
            out[j] = static_cast<float>(log ? shifted - log_total : std::exp(shifted - log_total));
        }
    });
}

inline double softmax_cross_entropy(context&, cview logits, cview targets, float scale,
                                    view dlogits) {
    const std::int64_t k = logits.shape.c;
    const std::int64_t rows = logits.shape.n;
    double row_loss[1024];
    std::vector<double> heap;
    double* losses = row_loss;
    if (rows > 1024) {
        heap.resize(static_cast<std::size_t>(rows));
        losses = heap.data();
    }
    parallel_for(rows, [&](std::int64_t r) {
        const float* z = logits.data + r * k;
        const float* t = targets.data + r * k;
        float* d = dlogits.data + r * k;
        const float top = *std::max_element(z, z + k);
        double total = 0.0;
        for (std::int64_t j = 0; j < k; ++j) total += std::exp(static_cast<double>(z[j] - top));
        const double log_total = std::log(total);
        double target_mass = 0.0;
        double loss = 0.0;
        for (std::int64_t j = 0; j < k; ++j) {
            const double log_p = static_cast<double>(z[j] - top) - log_total;
            target_mass += t[j];
            if (t[j] != 0.0f) loss -= t[j] * log_p;
        }
        for (std::int64_t j = 0; j < k; ++j) {
            const double p = std::exp(static_cast<double>(z[j] - top) - log_total);
            d[j] = static_cast<float>(scale * (p * target_mass - t[j]));
        }
        losses[r] = loss;
    });
    double sum = 0.0;
    for (std::int64_t r = 0; r < rows; ++r) sum += losses[r];
    return sum;
}

inline void global_avg_pool_forward(context&, cview x, view y) {
    const std::int64_t c = x.shape.c;
    const std::int64_t hw = x.shape.h * x.shape.w;
    const float inv = 1.0f / static_cast<float>(hw);
    parallel_for(x.shape.n, [&](std::int64_t n) {
        const float* in = x.data + n * hw * c;
        float* out = y.data + n * c;
        for (std::int64_t k = 0; k < c; ++k) out[k] = 0.0f;
        for (std::int64_t p = 0; p < hw; ++p)
            for (std::int64_t k = 0; k < c; ++k) out[k] += in[p * c + k];
        for (std::int64_t k = 0; k < c; ++k) out[k] *= inv;
    });
}

inline void global_avg_pool_backward(context&, cview dy, view dx) {
    const std::int64_t c = dx.shape.c;
    const std::int64_t hw = dx.shape.h * dx.shape.w;
    const float inv = 1.0f / static_cast<float>(hw);
    parallel_for(dx.shape.n, [&](std::int64_t n) {
        const float* g = dy.data + n * c;
        float* out = dx.data + n * hw * c;
        for (std::int64_t p = 0; p < hw; ++p)
            for (std::int64_t k = 0; k < c; ++k) out[p * c + k] = g[k] * inv;
    });
}

inline void flatten_forward(context&, cview x, view y) {
    nhwc_to_nchw(x.data, x.shape, y.data);  // per sample: (h, w, c) → (c, h, w)
}

inline void flatten_backward(context&, cview dy, view dx) {
    nchw_to_nhwc(dy.data, dx.shape, dx.data);
}

inline void sgd_step(context&, const sgd_update& u, view w, cview g, view buf) {
    float* p = w.data;
    const float* grad = g.data;
    float* b = buf.data;
    const std::int64_t n = static_cast<std::int64_t>(w.size());
    const float lr = u.learning_rate, mom = u.momentum, wd = u.weight_decay;
    const float damp = 1.0f - u.dampening;
    if (mom == 0.0f) {
#pragma omp parallel for simd schedule(static)
        for (std::int64_t i = 0; i < n; ++i) p[i] -= lr * (grad[i] + wd * p[i]);
        return;
    }
    const bool first = u.first_step, nesterov = u.nesterov;
#pragma omp parallel for simd schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
        const float d = grad[i] + wd * p[i];
        const float v = first ? d : mom * b[i] + damp * d;
        b[i] = v;
        p[i] -= lr * (nesterov ? d + mom * v : v);
    }
}

/// The activations whose formulas call exp, tanh or erf: oneDNN's eltwise primitive computes
/// them (eltwise_plans.hpp says why). The others are comparisons and products that the loops
/// below vectorise, and they keep PyTorch's derivative at each kink (core/activation.hpp),
/// which oneDNN's clip and hardswish do not all share.
[[nodiscard]] inline bool transcendental(activation_kind k) noexcept {
    using enum activation_kind;
    return k == silu || k == sigmoid || k == tanh || k == gelu_erf || k == gelu_tanh;
}

inline eltwise_entry& eltwise_plan(context& ctx, activation_kind k, std::int64_t elements) {
    return ctx.eltwise.find_or_create({k, elements}, [&] {
        const auto op = compat::eltwise_of(k);
        SMILE_CHECK(op.has_value(), "onednn: no eltwise algorithm for activation ", activation_name(k));
        eltwise_entry e{};
        e.data = vector_md(elements);
        e.fwd_pd = compat::eltwise_forward(ctx.engine, op->kind, e.data, op->alpha, op->beta,
                                           compat::user_scratchpad());
        e.fwd = dnnl::eltwise_forward(e.fwd_pd);
        return e;
    });
}

inline void eltwise_forward(context& ctx, activation_kind k, cview x, view y) {
    if (count(x) == 0) return;
    auto& e = eltwise_plan(ctx, k, count(x));
    const auto& sp = e.fwd_pd.scratchpad_desc();
    e.fwd.execute(ctx.stream,
                  {{DNNL_ARG_SRC, wrap(ctx, e.data, x.data)},
                   {DNNL_ARG_DST, wrap(ctx, e.data, y.data)},
                   {DNNL_ARG_SCRATCHPAD, dnnl::memory(sp, ctx.engine, ctx.scratchpad(sp.get_size()))}});
}

inline void eltwise_backward(context& ctx, activation_kind k, cview x, cview dy, view dx) {
    if (count(x) == 0) return;
    auto& e = eltwise_plan(ctx, k, count(x));
    if (!e.has_backward) {
        const auto op = compat::eltwise_of(k);
        e.bwd_pd = compat::eltwise_backward(ctx.engine, op->kind, e.data, op->alpha, op->beta,
                                            e.fwd_pd, compat::user_scratchpad());
        e.bwd = dnnl::eltwise_backward(e.bwd_pd);
        e.has_backward = true;
    }
    const auto& sp = e.bwd_pd.scratchpad_desc();
    e.bwd.execute(ctx.stream,
                  {{DNNL_ARG_SRC, wrap(ctx, e.data, x.data)},
                   {DNNL_ARG_DIFF_DST, wrap(ctx, e.data, dy.data)},
                   {DNNL_ARG_DIFF_SRC, wrap(ctx, e.data, dx.data)},
                   {DNNL_ARG_SCRATCHPAD, dnnl::memory(sp, ctx.engine, ctx.scratchpad(sp.get_size()))}});
}

// The other kinds: one vectorisable loop per kind over the flat buffer (layout does not matter
// for an element-wise map), formulas from core/activation.hpp.
inline void activation_forward(context& ctx, activation_kind k, cview x, view y) {
    if (transcendental(k)) return eltwise_forward(ctx, k, x, y);
    const float* in = x.data;
    float* out = y.data;
    const std::int64_t n = static_cast<std::int64_t>(x.size());
    activation_math::dispatch(k, [&]<activation_kind K>() {
#pragma omp parallel for simd schedule(static)
        for (std::int64_t i = 0; i < n; ++i) out[i] = activation_math::forward<K>(in[i]);
    });
}

inline void activation_backward(context& ctx, activation_kind k, cview x, cview dy, view dx) {
    if (transcendental(k)) return eltwise_backward(ctx, k, x, dy, dx);
    const float* in = x.data;
    const float* g = dy.data;
    float* out = dx.data;
    const std::int64_t n = static_cast<std::int64_t>(x.size());
    activation_math::dispatch(k, [&]<activation_kind K>() {
#pragma omp parallel for simd schedule(static)
        for (std::int64_t i = 0; i < n; ++i) out[i] = activation_math::backward<K>(in[i], g[i]);
    });
}

// The broadcast scale (squeeze-excitation, stochastic depth). Activations are NHWC here: a
// per-channel scale s[n, k] meets x[n, p, k] for every pixel p; a per-sample scale covers the
// whole contiguous row.
inline void scale_broadcast(context&, cview x, cview s, view y) {
    const std::int64_t c = x.shape.c, pixels = x.shape.h * x.shape.w;
    const bool per_channel = s.shape.c == c;
    parallel_for(x.shape.n, [&](std::int64_t n) {
        const float* in = x.data + n * pixels * c;
        float* out = y.data + n * pixels * c;
        if (per_channel) {
            const float* row = s.data + n * c;
            for (std::int64_t p = 0; p < pixels; ++p)
                for (std::int64_t k = 0; k < c; ++k) out[p * c + k] = row[k] * in[p * c + k];
        } else {
            const float v = s.data[n];
            for (std::int64_t i = 0; i < pixels * c; ++i) out[i] = v * in[i];
        }
    });
}

inline void scale_broadcast_backward(context&, cview x, cview s, cview dy, view dx, view ds) {
    const std::int64_t c = x.shape.c, pixels = x.shape.h * x.shape.w;
    const bool per_channel = s.shape.c == c;
    parallel_for(x.shape.n, [&](std::int64_t n) {
        const std::int64_t base = n * pixels * c;
        const float* in = x.data + base;
        const float* g = dy.data + base;
        float* out = dx.data + base;
        if (per_channel) {
            // ds first: dx may alias dy.
            thread_local std::vector<double> acc;
            acc.assign(static_cast<std::size_t>(c), 0.0);
            if (!ds.empty())
                for (std::int64_t p = 0; p < pixels; ++p)
                    for (std::int64_t k = 0; k < c; ++k) acc[std::size_t(k)] += double(g[p * c + k]) * in[p * c + k];
            const float* row = s.data + n * c;
            for (std::int64_t p = 0; p < pixels; ++p)
                for (std::int64_t k = 0; k < c; ++k) out[p * c + k] = row[k] * g[p * c + k];
            if (!ds.empty())
                for (std::int64_t k = 0; k < c; ++k) ds.data[n * c + k] = static_cast<float>(acc[std::size_t(k)]);
        } else {
            double acc = 0.0;
            if (!ds.empty())
                for (std::int64_t i = 0; i < pixels * c; ++i) acc += double(g[i]) * in[i];
            const float v = s.data[n];
            for (std::int64_t i = 0; i < pixels * c; ++i) out[i] = v * g[i];
            if (!ds.empty()) ds.data[n] = static_cast<float>(acc);
        }
    });
}

// Adam/AdamW (see adam_update): one pass over w, g and both moments, in PyTorch's order of
// float operations, so that results match torch.optim to rounding.
inline void adam_step(context&, const adam_update& u, view w, cview g, view m, view v) {
    float* p = w.data;
    const float* grad = g.data;
    float* m1 = m.data;
    float* m2 = v.data;
    const std::int64_t n = static_cast<std::int64_t>(w.size());
    const float b1 = u.beta1, b2 = u.beta2, c1 = u.one_minus_beta1, c2 = u.one_minus_beta2;
    const float decay = u.grad_decay, scale = u.weight_scale, root = u.bias_root, eps = u.epsilon;
    const float step = u.step_size;
#pragma omp parallel for simd schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
        const float wi = p[i] * scale;
        const float gi = grad[i] + decay * wi;
        const float a = m1[i] * b1 + c1 * gi;
        const float b = m2[i] * b2 + c2 * gi * gi;
        m1[i] = a;
        m2[i] = b;
        p[i] = wi - step * (a / (std::sqrt(b) / root + eps));
    }
}

}  // namespace smile::onednn::detail
