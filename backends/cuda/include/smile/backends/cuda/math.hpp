#pragma once
/// @file
/// Storage, element-wise, reduction and small dense operations of the CUDA backend: cuBLAS for
/// matrix products, cuDNN for the softmax, the backend's kernels for the rest. Tensors are NCHW
/// in device memory, so host transfers are plain copies.

#include <span>
#include <vector>

#include <smile/backends/cuda/launch.hpp>
#include <smile/core/operand_checks.hpp>

namespace smile::cuda::detail {

inline std::int64_t count(const cview& v) { return static_cast<std::int64_t>(v.size()); }

inline void upload(context& ctx, const float* host, view dst) {
    // From pageable memory the copy returns once the host data is staged, so `host` may go.
    SMILE_CUDA(cudaMemcpyAsync(dst.data, host, dst.size() * sizeof(float), cudaMemcpyHostToDevice, ctx.stream));
}

inline void download(context& ctx, cview src, float* host) {
    SMILE_CUDA(cudaMemcpyAsync(host, src.data, src.size() * sizeof(float), cudaMemcpyDeviceToHost, ctx.stream));
    SMILE_CUDA(cudaStreamSynchronize(ctx.stream));
}

inline void copy(context& ctx, cview src, view dst) {
    if (src.data != dst.data)
        SMILE_CUDA(cudaMemcpyAsync(dst.data, src.data, src.size() * sizeof(float), cudaMemcpyDeviceToDevice, ctx.stream));
}

inline void fill(context& ctx, view dst, float value) { launch_over(ctx, kernel::fill, count(dst), dst.data, count(dst), value); }

/// Row-major C = alpha·op(A)·op(B) + beta·C as the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ.
inline void gemm(context& ctx, transpose ta, transpose tb, float alpha, cview a, cview b, float beta, view c) {
    const auto [m, n, k] = operand_checks::gemm_dimensions(ta, a.shape, tb, b.shape);
    const auto op = [](transpose t) { return t == transpose::yes ? CUBLAS_OP_T : CUBLAS_OP_N; };
    SMILE_CUDA(cublasSgemm(ctx.blas, op(tb), op(ta), to_int(n, "gemm n"), to_int(m, "gemm m"), to_int(k, "gemm k"), &alpha,
                           b.data, to_int(b.shape.c, "gemm ldb"), a.data, to_int(a.shape.c, "gemm lda"), &beta, c.data,
                           to_int(c.shape.c, "gemm ldc")));
}

inline void add(context& ctx, float a, cview x, float b, cview y, view out) {
    launch_over(ctx, kernel::axpby, count(x), out.data, a, x.data, b, y.data, count(x));
}

inline void multiply(context& ctx, cview x, cview y, view out) {
    launch_over(ctx, kernel::multiply, count(x), out.data, x.data, y.data, count(x));
}

inline void scale_channels(context& ctx, cview x, cview scale, view y) {
    const std::int64_t hw = x.shape.h * x.shape.w;
    launch_over(ctx, kernel::scale_channels, count(x), y.data, x.data, scale.data, count(x), x.shape.c, hw);
}

inline void add_channel_bias(context& ctx, cview bias, view y) {
    const std::int64_t hw = y.shape.h * y.shape.w;
    launch_over(ctx, kernel::add_channel_bias, count(y), y.data, bias.data, count(y), y.shape.c, hw);
}

inline void channel_sum(context& ctx, cview x, view out) {
    launch_reduction(ctx, kernel::channel_sum, x.shape.c, out.data, x.data, x.shape.n, x.shape.c, x.shape.h * x.shape.w);
}

/// The permutation in device memory (the context's staging buffer, valid until the next call).
inline const std::int64_t* device_permutation(context& ctx, std::span<const std::int64_t> perm) {
    auto* p = static_cast<std::int64_t*>(ctx.staging(perm.size_bytes()));
    SMILE_CUDA(cudaMemcpyAsync(p, perm.data(), perm.size_bytes(), cudaMemcpyHostToDevice, ctx.stream));
    return p;
}

inline void mix_rows(context& ctx, float lambda, cview x, std::span<const std::int64_t> perm,
                     view y) {
    const auto row = static_cast<std::int64_t>(x.shape.row_size());
    launch_over(ctx, kernel::mix_rows, count(x), y.data, x.data, device_permutation(ctx, perm), lambda, x.shape.n, row);
}

inline void paste_box(context& ctx, cview x, std::span<const std::int64_t> perm,
                      const spatial_box& box, view y) {
    const auto& s = x.shape;
    launch_over(ctx, kernel::paste_box, count(x), y.data, x.data, device_permutation(ctx, perm), s.n, s.c, s.h, s.w,
                box.top, box.left, box.height, box.width);
}

/// Σ a·b in double: per-block partial sums (a fixed grid), then one block sums them in order.
inline double dot(context& ctx, cview a, cview b) {
    const std::int64_t n = count(a);
    const unsigned blocks = blocks_for(n);
    auto* partial = static_cast<double*>(ctx.staging(sizeof(double) * (blocks + 1)));
    launch(ctx, kernel::dot_partial, dim3(blocks), dim3(threads_per_block), threads_per_block * sizeof(double), partial,
           a.data, b.data, n);
    launch(ctx, kernel::sum_doubles, dim3(1), dim3(threads_per_block), threads_per_block * sizeof(double),
           partial + blocks, static_cast<const double*>(partial), static_cast<std::int64_t>(blocks));
    SMILE_CUDA(cudaMemcpyAsync(ctx.host_doubles(), partial + blocks, sizeof(double), cudaMemcpyDeviceToHost, ctx.stream));
    SMILE_CUDA(cudaStreamSynchronize(ctx.stream));
    return ctx.host_doubles()[0];
}

inline void relu_forward(context& ctx, cview x, view y) {
    launch_over(ctx, kernel::relu_forward, count(x), y.data, x.data, count(x));
}

inline void relu_backward(context& ctx, cview y, cview dy, view dx) {
    launch_over(ctx, kernel::relu_backward, count(y), dx.data, y.data, dy.data, count(y));
}

inline void softmax(context& ctx, cview x, view y, bool log) {
    const auto desc = tensor_of(x.shape);
    const float one = 1.0f, zero = 0.0f;
    SMILE_CUDA(cudnnSoftmaxForward(ctx.dnn, log ? CUDNN_SOFTMAX_LOG : CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_INSTANCE,
                                   &one, desc, x.data, &zero, desc, y.data));
}

inline double softmax_cross_entropy(context& ctx, cview logits, cview targets, float scale,
                                    view dlogits) {
    const std::int64_t rows = logits.shape.n;
    auto* losses = static_cast<double*>(ctx.staging(sizeof(double) * static_cast<std::size_t>(rows)));
    launch_reduction(ctx, kernel::softmax_cross_entropy, rows, dlogits.data, losses, logits.data, targets.data,
                     logits.shape.c, scale);
    std::vector<double> host(static_cast<std::size_t>(rows));
    SMILE_CUDA(cudaMemcpyAsync(host.data(), losses, host.size() * sizeof(double), cudaMemcpyDeviceToHost, ctx.stream));
    SMILE_CUDA(cudaStreamSynchronize(ctx.stream));
    double sum = 0.0;
    for (double l : host) sum += l;  // in row order, as the CPU backend
    return sum;
}

inline void global_avg_pool_forward(context& ctx, cview x, view y) {
    const std::int64_t nc = x.shape.n * x.shape.c;
    launch_over(ctx, kernel::gap_forward, nc, y.data, x.data, nc, x.shape.h * x.shape.w);
}

inline void global_avg_pool_backward(context& ctx, cview dy, view dx) {
    launch_over(ctx, kernel::gap_backward, count(dx), dx.data, dy.data, count(dx), dx.shape.h * dx.shape.w);
}

// NCHW is already PyTorch's flatten order: flattening is a copy.
inline void flatten_forward(context& ctx, cview x, view y) {
    SMILE_CUDA(cudaMemcpyAsync(y.data, x.data, x.size() * sizeof(float), cudaMemcpyDeviceToDevice, ctx.stream));
}

inline void flatten_backward(context& ctx, cview dy, view dx) {
    SMILE_CUDA(cudaMemcpyAsync(dx.data, dy.data, dy.size() * sizeof(float), cudaMemcpyDeviceToDevice, ctx.stream));
}

inline void sgd_step(context& ctx, const sgd_update& u, view w, cview g, view buf) {
    launch_over(ctx, kernel::sgd_step, count(w), w.data, g.data, buf.data, count(w), u.learning_rate, u.momentum,
                u.dampening, u.weight_decay, static_cast<int>(u.nesterov), static_cast<int>(u.first_step));
}

// The activation family: the kind's value is the kernel's switch (kernel_source.hpp).
static_assert(static_cast<int>(activation_kind::gelu_tanh) == 9, "kernel_source's activation switch follows activation_kind");
inline void activation_forward(context& ctx, activation_kind k, cview x, view y) {
    launch_over(ctx, kernel::activation_forward, count(x), y.data, x.data, count(x), static_cast<int>(k));
}

inline void activation_backward(context& ctx, activation_kind k, cview x, cview dy, view dx) {
    launch_over(ctx, kernel::activation_backward, count(x), dx.data, x.data, dy.data, count(x), static_cast<int>(k));
}

// The broadcast scale: in NCHW the elements one scale meets are contiguous (operand_checks).
inline void scale_broadcast(context& ctx, cview x, cview s, view y) {
    const std::int64_t len = operand_checks::broadcast_length(x.shape, s.shape);
    launch_over(ctx, kernel::scale_rows, count(x), y.data, x.data, s.data, count(x), len);
}

inline void scale_broadcast_backward(context& ctx, cview x, cview s, cview dy, view dx, view ds) {
    const std::int64_t len = operand_checks::broadcast_length(x.shape, s.shape);
    if (!ds.empty()) {  // before dx: dx may alias dy
        launch_reduction(ctx, kernel::row_dot, count(s), ds.data, dy.data, x.data, len);
    }
    launch_over(ctx, kernel::scale_rows, count(x), dx.data, dy.data, s.data, count(x), len);
}

inline void adam_step(context& ctx, const adam_update& u, view w, cview g, view m, view v) {
    launch_over(ctx, kernel::adam_step, count(w), w.data, g.data, m.data, v.data, count(w), u.step_size, u.bias_root,
                u.beta1, u.beta2, u.one_minus_beta1, u.one_minus_beta2, u.epsilon, u.grad_decay, u.weight_scale);
}

}  // namespace smile::cuda::detail
