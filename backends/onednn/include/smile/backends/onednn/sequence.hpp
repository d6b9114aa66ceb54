#pragma once
/// @file
/// The sequence operations of the oneDNN backend (core/backend.hpp, `BackendSequence`): batched
/// products on `dnnl::sgemm`, the rest OpenMP loops over row-major matrices. Every reduction runs
/// in an order fixed by the shapes (per row, or per fixed block of rows summed in block order),
/// so results are the same bit for bit whatever the thread count; oneDNN's own layer-norm and
/// softmax primitives do not promise that for their backward reductions.

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <smile/backends/onednn/layout.hpp>
#include <smile/backends/onednn/matmul.hpp>
#include <smile/core/operand_checks.hpp>
#include <smile/core/row_groups.hpp>
#include <span>
#include <vector>

namespace smile::onednn::detail {

/// C_i = α·op(A_i)·op(B_i) + β·C_i. With at least as many products as threads, each thread
/// runs whole products (sgemm inside a parallel region is single-threaded); otherwise the
/// products run one after the other on all threads.
inline void batched_gemm(context& ctx, std::int64_t count, transpose ta, transpose tb, float alpha,
                         cview a, cview b, float beta, view c) {
    if (ctx.compute == precision::bf16)
        return low_precision_matmul(ctx, count, ta, tb, alpha, a, b, beta, c);
    const auto [m, n, k] = operand_checks::batched_gemm_dimensions(count, ta, a.shape, tb, b.shape);
    const std::int64_t a_step = (a.shape.n / count) * a.shape.c,
                       b_step = (b.shape.n / count) * b.shape.c, c_step = m * n;
    const char op_a = ta == transpose::yes ? 'T' : 'N', op_b = tb == transpose::yes ? 'T' : 'N';
    const auto product = [&](std::int64_t i) {
        return dnnl::sgemm(op_a, op_b, m, n, k, alpha, a.data + i * a_step, a.shape.c,
                           b.data + i * b_step, b.shape.c, beta, c.data + i * c_step, n);
    };
    bool failed = false;
    if (count >= omp_get_max_threads()) {
#pragma omp parallel for schedule(static) reduction(|| : failed)
        for (std::int64_t i = 0; i < count; ++i)
            failed = failed || product(i) != dnnl::status::success;
    } else {
        for (std::int64_t i = 0; i < count; ++i)
            failed = failed || product(i) != dnnl::status::success;
    }
    SMILE_CHECK(!failed, "batched_gemm: dnnl::sgemm failed");
}

/// Copies the token matrix's head columns to per-head rows (split) or back (merge).
inline void move_heads(const head_split& hs, const float* from, float* to, std::int64_t token_rows,
                       std::int64_t width, bool split) {
    const std::int64_t batch = token_rows / hs.length, size = width / hs.heads;
    const auto bytes = static_cast<std::size_t>(size) * sizeof(float);
    parallel_for(batch * hs.heads, [&](std::int64_t bh) {
        const std::int64_t b = bh / hs.heads, h = bh - b * hs.heads;
        for (std::int64_t t = 0; t < hs.length; ++t) {
            const std::int64_t token = (b * hs.length + t) * width + h * size,
                               head = (bh * hs.length + t) * size;
            if (split)
                std::memcpy(to + head, from + token, bytes);
            else
                std::memcpy(to + token, from + head, bytes);
        }
    });
}

inline void split_heads(context&, const head_split& hs, cview tokens, view per_head) {
    move_heads(hs, tokens.data, per_head.data, tokens.shape.n, tokens.shape.c, true);
}

inline void merge_heads(context&, const head_split& hs, cview per_head, view tokens) {
    move_heads(hs, per_head.data, tokens.data, tokens.shape.n, tokens.shape.c, false);
}

inline void masked_softmax_forward(context&, float scale, cview x, cview mask, view y) {
    const std::int64_t k = x.shape.c;
    const std::int64_t per_mask = mask.empty() ? x.shape.n : x.shape.n / mask.shape.n;
    parallel_for(x.shape.n, [&](std::int64_t r) {
        const float* in = x.data + r * k;
        const float* keep = mask.empty() ? nullptr : mask.data + (r / per_mask) * k;
        float* out = y.data + r * k;
        float top = -INFINITY;
        for (std::int64_t j = 0; j < k; ++j)
            if (keep == nullptr || keep[j] != 0.0f) top = std::max(top, scale * in[j]);
        if (top == -INFINITY) {  // every key masked
            std::fill_n(out, k, 0.0f);
            return;
        }
        double total = 0.0;
        for (std::int64_t j = 0; j < k; ++j) {
            const float e =
                keep != nullptr && keep[j] == 0.0f ? 0.0f : std::exp(scale * in[j] - top);
            out[j] = e;
            total += e;
        }
        const float inv = static_cast<float>(1.0 / total);
        for (std::int64_t j = 0; j < k; ++j) out[j] *= inv;
    });
}

inline void masked_softmax_backward(context&, float scale, cview y, cview dy, view dx) {
    const std::int64_t k = y.shape.c;
    parallel_for(y.shape.n, [&](std::int64_t r) {
        const float* p = y.data + r * k;
        const float* g = dy.data + r * k;
        float* out = dx.data + r * k;
        double inner = 0.0;
        for (std::int64_t j = 0; j < k; ++j) inner += double(p[j]) * g[j];
        const auto dot = static_cast<float>(inner);
        for (std::int64_t j = 0; j < k; ++j) out[j] = scale * p[j] * (g[j] - dot);
    });
}

inline void layer_norm_forward(context&, float eps, cview x, cview gamma, cview beta, view y,
                               view mean, view rstd) {
    const std::int64_t k = x.shape.c;
    parallel_for(x.shape.n, [&](std::int64_t r) {
        const float* in = x.data + r * k;
        float* out = y.data + r * k;
        double sum = 0.0;
        for (std::int64_t j = 0; j < k; ++j) sum += in[j];
        const double mu = sum / double(k);
        double sq = 0.0;
        for (std::int64_t j = 0; j < k; ++j) sq += (in[j] - mu) * (in[j] - mu);
        const auto m = static_cast<float>(mu);
        const auto inv = static_cast<float>(1.0 / std::sqrt(sq / double(k) + double(eps)));
        for (std::int64_t j = 0; j < k; ++j)
            out[j] = gamma.data[j] * ((in[j] - m) * inv) + beta.data[j];
        if (!mean.empty()) {
            mean.data[r] = m;
            rstd.data[r] = inv;
        }
    });
}

/// dx per row; dγ and dβ as column sums over blocks of `block` rows, each block's partial sums
/// in double, blocks added in order.
inline void layer_norm_backward(context&, cview x, cview dy, cview gamma, cview mean, cview rstd,
                                view dx, view dgamma, view dbeta) {
    const std::int64_t rows = x.shape.n, k = x.shape.c;
    constexpr std::int64_t block = 32;
    const std::int64_t blocks = (rows + block - 1) / block;
    // The caller's scratch, reused across calls; captured through a reference because inside the
    // parallel region a thread_local name would mean each worker's own (empty) copy.
    thread_local std::vector<double> scratch;
    std::vector<double>& partial = scratch;
    partial.assign(static_cast<std::size_t>(blocks * 2 * k), 0.0);
    parallel_for(blocks, [&](std::int64_t blk) {
        double* pg = partial.data() + blk * 2 * k;
        double* pb = pg + k;
        for (std::int64_t r = blk * block; r < std::min(rows, (blk + 1) * block); ++r) {
            const float* in = x.data + r * k;
            const float* g = dy.data + r * k;
            float* out = dx.data + r * k;
            const float mu = mean.data[r], inv = rstd.data[r];
            double sum_g = 0.0, sum_gx = 0.0;
            for (std::int64_t j = 0; j < k; ++j) {
                const float xhat = (in[j] - mu) * inv;
                const float gh = gamma.data[j] * g[j];
                sum_g += gh;
                sum_gx += double(gh) * xhat;
                pg[j] += double(g[j]) * xhat;
                pb[j] += g[j];
            }
            const auto mean_g = static_cast<float>(sum_g / double(k));
            const auto mean_gx = static_cast<float>(sum_gx / double(k));
            for (std::int64_t j = 0; j < k; ++j) {
                const float xhat = (in[j] - mu) * inv;
                out[j] = inv * (gamma.data[j] * g[j] - mean_g - xhat * mean_gx);
            }
        }
    });
    parallel_for(k, [&](std::int64_t j) {
        double sg = 0.0, sb = 0.0;
        for (std::int64_t blk = 0; blk < blocks; ++blk) {
            sg += partial[static_cast<std::size_t>(blk * 2 * k + j)];
            sb += partial[static_cast<std::size_t>(blk * 2 * k + k + j)];
        }
        dgamma.data[j] = static_cast<float>(sg);
        dbeta.data[j] = static_cast<float>(sb);
    });
}

inline void gather_rows(context&, cview table, std::span<const std::int64_t> ids, view y) {
    const std::int64_t k = table.shape.c;
    const auto bytes = static_cast<std::size_t>(k) * sizeof(float);
    parallel_for(static_cast<std::int64_t>(ids.size()), [&](std::int64_t i) {
        std::memcpy(y.data + i * k, table.data + ids[static_cast<std::size_t>(i)] * k, bytes);
    });
}

/// Zeroes dtable, then sums each id's gradient rows in order of position: each group of
/// core/row_groups.hpp is one task, so no two threads write one row.
inline void gather_rows_backward(context&, std::span<const std::int64_t> ids, cview dy,
                                 view dtable) {
    const std::int64_t k = dtable.shape.c;
    float* table = dtable.data;
    const auto total = static_cast<std::int64_t>(dtable.size());
#pragma omp parallel for simd schedule(static)
    for (std::int64_t i = 0; i < total; ++i) table[i] = 0.0f;
    thread_local row_groups scratch;  // reused; a reference below (see layer_norm_backward)
    const row_groups& groups = scratch;
    scratch.build(ids);
    parallel_for(static_cast<std::int64_t>(groups.size()), [&](std::int64_t group) {
        const auto g_at = static_cast<std::size_t>(group);
        const auto first = static_cast<std::size_t>(groups.starts[g_at]);
        const auto last = static_cast<std::size_t>(groups.starts[g_at + 1]);
        float* row = table + groups.ids[g_at] * k;
        for (std::size_t p = first; p < last; ++p) {
            const float* g = dy.data + groups.order[p] * k;
            for (std::int64_t j = 0; j < k; ++j) row[j] += g[j];
        }
    });
}

inline void dropout_forward(context&, const dropout_desc& d, cview x, view y) {
    const float* in = x.data;
    float* out = y.data;
    const float scale = d.scale();
    const std::uint32_t threshold = d.threshold();
    const std::uint64_t seed = d.seed, offset = d.offset;
    const auto n = static_cast<std::int64_t>(x.size());
#pragma omp parallel for simd schedule(static)
    for (std::int64_t i = 0; i < n; ++i)
        out[i] = dropout_desc::draw(seed, offset + static_cast<std::uint64_t>(i)) >= threshold
                     ? in[i] * scale
                     : 0.0f;
}

inline void dropout_backward(context& ctx, const dropout_desc& d, cview dy, view dx) {
    dropout_forward(ctx, d, dy, dx);  // the same mask and scale: dx = dy ⊙ keep/(1 − p)
}

}  // namespace smile::onednn::detail
