#pragma once
/// @file
/// The sequence operations of the CUDA backend (core/backend.hpp, `BackendSequence`): batched
/// products on cublasSgemmStridedBatched, the rest the backend's kernels (kernel_source.hpp),
/// each reduction summed in an order fixed by the shapes.

#include <algorithm>
#include <smile/backends/cuda/launch.hpp>
#include <smile/core/operand_checks.hpp>
#include <smile/core/row_groups.hpp>
#include <span>
#include <vector>

namespace smile::cuda::detail {

/// Row-major C_i = α·op(A_i)·op(B_i) + β·C_i as the column-major C_iᵀ = op(B_i)ᵀ·op(A_i)ᵀ.
inline void batched_gemm(context& ctx, std::int64_t count, transpose ta, transpose tb, float alpha,
                         cview a, cview b, float beta, view c) {
    const auto [m, n, k] = operand_checks::batched_gemm_dimensions(count, ta, a.shape, tb, b.shape);
    const auto op = [](transpose t) { return t == transpose::yes ? CUBLAS_OP_T : CUBLAS_OP_N; };
    const long long a_step = (a.shape.n / count) * a.shape.c,
                    b_step = (b.shape.n / count) * b.shape.c;
    SMILE_CUDA(cublasSgemmStridedBatched(
        ctx.blas, op(tb), op(ta), to_int(n, "batched_gemm n"), to_int(m, "batched_gemm m"),
        to_int(k, "batched_gemm k"), &alpha, b.data, to_int(b.shape.c, "batched_gemm ldb"), b_step,
        a.data, to_int(a.shape.c, "batched_gemm lda"), a_step, &beta, c.data,
        to_int(n, "batched_gemm ldc"), static_cast<long long>(m * n),
        to_int(count, "batched_gemm count")));
}

inline void move_heads(context& ctx, const head_split& hs, const float* from, float* to,
                       const shape4& tokens, bool split) {
    const auto n = static_cast<std::int64_t>(tokens.size());
    launch_over(ctx, kernel::move_heads, n, to, from, n, hs.length, hs.heads, tokens.c / hs.heads,
                static_cast<int>(split));
}

inline void split_heads(context& ctx, const head_split& hs, cview tokens, view per_head) {
    move_heads(ctx, hs, tokens.data, per_head.data, tokens.shape, true);
}

inline void merge_heads(context& ctx, const head_split& hs, cview per_head, view tokens) {
    move_heads(ctx, hs, per_head.data, tokens.data, tokens.shape, false);
}

inline void masked_softmax_forward(context& ctx, float scale, cview x, cview mask, view y) {
    const std::int64_t per_mask = mask.empty() ? x.shape.n : x.shape.n / mask.shape.n;
    launch_reduction(ctx, kernel::masked_softmax_forward, x.shape.n, y.data, x.data, mask.data,
                     x.shape.c, per_mask, scale);
}

inline void masked_softmax_backward(context& ctx, float scale, cview y, cview dy, view dx) {
    launch_reduction(ctx, kernel::masked_softmax_backward, y.shape.n, dx.data, y.data, dy.data,
                     y.shape.c, scale);
}

inline void layer_norm_forward(context& ctx, float eps, cview x, cview gamma, cview beta, view y,
                               view mean, view rstd) {
    launch_reduction(ctx, kernel::layer_norm_forward, x.shape.n, y.data, mean.data, rstd.data,
                     x.data, gamma.data, beta.data, x.shape.c, eps);
}

inline void layer_norm_backward(context& ctx, cview x, cview dy, cview gamma, cview mean,
                                cview rstd, view dx, view dgamma, view dbeta) {
    // The parameter gradients first: dx may not alias dy by contract, but reading dy once per
    // kernel keeps the two independent.
    launch_over(ctx, kernel::layer_norm_backward_params, x.shape.c, dgamma.data, dbeta.data, x.data,
                dy.data, mean.data, rstd.data, x.shape.n, x.shape.c);
    launch_reduction(ctx, kernel::layer_norm_backward_data, x.shape.n, dx.data, x.data, dy.data,
                     gamma.data, mean.data, rstd.data, x.shape.c);
}

/// The ids in device memory (the context's staging buffer, valid until the next call).
inline const std::int64_t* device_ids(context& ctx, std::span<const std::int64_t> ids) {
    auto* p = static_cast<std::int64_t*>(ctx.staging(std::max<std::size_t>(ids.size_bytes(), 8)));
    SMILE_CUDA(
        cudaMemcpyAsync(p, ids.data(), ids.size_bytes(), cudaMemcpyHostToDevice, ctx.stream));
    return p;
}

inline void gather_rows(context& ctx, cview table, std::span<const std::int64_t> ids, view y) {
    const auto n = static_cast<std::int64_t>(ids.size());
    launch_over(ctx, kernel::gather_rows, n * table.shape.c, y.data, table.data,
                device_ids(ctx, ids), n, table.shape.c);
}

/// Groups the positions by id on the host (core/row_groups.hpp), uploads order, group starts and
/// group ids in one copy, zeroes dtable and writes each touched row once: no atomics, the same sums
/// on every run.
inline void gather_rows_backward(context& ctx, std::span<const std::int64_t> ids, cview dy,
                                 view dtable) {
    thread_local row_groups groups;
    thread_local std::vector<std::int64_t> packed;
    groups.build(ids);
    packed.assign(groups.order.begin(), groups.order.end());
    packed.insert(packed.end(), groups.starts.begin(), groups.starts.end());
    packed.insert(packed.end(), groups.ids.begin(), groups.ids.end());
    const auto count = static_cast<std::int64_t>(dtable.size());
    launch_over(ctx, kernel::fill, count, dtable.data, count, 0.0f);
    const auto group_count = static_cast<std::int64_t>(groups.size());
    launch_over(ctx, kernel::gather_rows_backward, group_count * dtable.shape.c, dtable.data,
                dy.data, device_ids(ctx, packed), static_cast<std::int64_t>(ids.size()),
                group_count, dtable.shape.c);
}

inline void dropout_forward(context& ctx, const dropout_desc& d, cview x, view y) {
    const auto n = static_cast<std::int64_t>(x.size());
    launch_over(ctx, kernel::dropout, n, y.data, x.data, n, static_cast<unsigned long long>(d.seed),
                static_cast<unsigned long long>(d.offset), static_cast<unsigned int>(d.threshold()),
                d.scale());
}

inline void dropout_backward(context& ctx, const dropout_desc& d, cview dy, view dx) {
    dropout_forward(ctx, d, dy, dx);
}

}  // namespace smile::cuda::detail
