#pragma once
/// @file
/// The thin SVD on cuSOLVER (BSS takes one of the 48×2048 pooled-feature matrix every step).
///
/// cuSOLVER's gesvd is column-major and needs at least as many rows as columns. A row-major
/// R×C matrix is the column-major Cᵀ-by-R matrix M = Aᵀ, so for a wide A (C ≥ R) gesvd runs on
/// M directly: M = U_M·Σ·V_Mᵀ gives A = V_M·Σ·U_Mᵀ, and the column-major outputs V_Mᵀ and U_M
/// are, byte for byte, the row-major U and Vᵀ of A. A tall A is transposed first (cublasSgeam)
/// and its factors transposed back.

#include <algorithm>
#include <smile/backends/cuda/launch.hpp>
#include <smile/core/error.hpp>
#include <smile/core/shape.hpp>

namespace smile::cuda::detail {

/// out (cols×rows, column-major) = in (rows×cols, column-major)ᵀ.
inline void transpose_into(context& ctx, const float* in, std::int64_t rows, std::int64_t cols, float* out) {
    const float one = 1.0f, zero = 0.0f;
    // geam reads B even with beta = 0 unless told otherwise; B is `out` (in place), so clear it.
    SMILE_CUDA(cudaMemsetAsync(out, 0, static_cast<std::size_t>(rows * cols) * sizeof(float), ctx.stream));
    SMILE_CUDA(cublasSgeam(ctx.blas, CUBLAS_OP_T, CUBLAS_OP_N, to_int(cols, "svd"), to_int(rows, "svd"), &one, in,
                           to_int(rows, "svd"), &zero, out, to_int(cols, "svd"), out, to_int(cols, "svd")));
}

inline void svd(context& ctx, cview a, view u, view s, view vt) {
    const std::int64_t r = std::min(a.shape.n, a.shape.c);  // ops<B>::svd checked the shapes
    const std::int64_t rows = a.shape.n, cols = a.shape.c;
    const bool wide = cols >= rows;
    // gesvd's problem: m×n column-major with m ≥ n, overwritten by the call.
    const std::int64_t m = wide ? cols : rows, n = wide ? rows : cols;
    device_buffer work_a(ctx, a.size() * sizeof(float));
    if (wide)
        SMILE_CUDA(cudaMemcpyAsync(work_a.floats(), a.data, a.size() * sizeof(float), cudaMemcpyDeviceToDevice, ctx.stream));
    else
        transpose_into(ctx, a.data, cols, rows, work_a.floats());  // M (cols×rows) → A (rows×cols)
    int lwork = 0;
    SMILE_CUDA(cusolverDnSgesvd_bufferSize(ctx.solver, to_int(m, "svd m"), to_int(n, "svd n"), &lwork));
    device_buffer work(ctx, static_cast<std::size_t>(lwork) * sizeof(float) + sizeof(int));
    int* info = reinterpret_cast<int*>(work.floats() + lwork);
    // Column-major factors: U_g m×n (ld m), Vᵀ_g n×n (ld n).
    device_buffer u_tall, vt_tall;
    float* u_g = vt.data;  // wide: U_g is Vᵀ of A
    float* vt_g = u.data;  // wide: Vᵀ_g is U of A
    if (!wide) {
        u_tall = device_buffer(ctx, static_cast<std::size_t>(m * n) * sizeof(float));
        vt_tall = device_buffer(ctx, static_cast<std::size_t>(n * n) * sizeof(float));
        u_g = u_tall.floats();
        vt_g = vt_tall.floats();
    }
    signed char job = 'S';
    SMILE_CUDA(cusolverDnSgesvd(ctx.solver, job, job, to_int(m, "svd m"), to_int(n, "svd n"), work_a.floats(),
                                to_int(m, "svd lda"), s.data, u_g, to_int(m, "svd ldu"), vt_g, to_int(n, "svd ldvt"),
                                work.floats(), lwork, nullptr, info));
    if (!wide) {
        transpose_into(ctx, u_g, m, n, u.data);    // U (rows×r row-major) = U_gᵀ column-major
        transpose_into(ctx, vt_g, n, n, vt.data);  // Vᵀ (r×cols row-major) = (Vᵀ_g)ᵀ column-major
    }
    int status = 0;
    SMILE_CUDA(cudaMemcpyAsync(&status, info, sizeof(int), cudaMemcpyDeviceToHost, ctx.stream));
    SMILE_CUDA(cudaStreamSynchronize(ctx.stream));
    SMILE_CHECK(status == 0, "svd: cuSOLVER's gesvd ",
                status > 0 ? "did not converge" : "rejected an argument", " (info = ", status, ") on a ", rows, "x", cols,
                " matrix");
    (void)r;
}

}  // namespace smile::cuda::detail
