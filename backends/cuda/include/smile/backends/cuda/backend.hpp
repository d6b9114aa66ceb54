#pragma once
/// @file
/// `smile::cuda::backend`: the GPU backend on cuDNN, cuBLAS and cuSOLVER, with the few kernels
/// no library provides compiled at run time by NVRTC. Tensors are NCHW in device memory from a
/// caching allocator; every operation is issued on the context's one stream; only the calls the
/// concept says wait (download, dot, softmax_cross_entropy, svd, synchronize) wait.

#include <smile/backends/cuda/batch_norm.hpp>
#include <smile/backends/cuda/conv.hpp>
#include <smile/backends/cuda/linalg.hpp>
#include <smile/backends/cuda/math.hpp>
#include <smile/backends/cuda/pooling.hpp>
#include <smile/backends/cuda/sequence.hpp>
#include <smile/core/backend.hpp>
#include <string_view>

namespace smile::cuda {

struct backend {
    static constexpr std::string_view name = "cuda";
    static constexpr bool host_memory =
        false;  // device memory: collectives over host buffers stage through download/upload
    using context = cuda::context;
    using conv2d_plan = cuda::conv2d_plan;
    using pool2d_plan = cuda::pool2d_plan;
    using batch_norm_plan = cuda::batch_norm_plan;
    /// The stream every operation of `ctx` is issued on, for a device communicator (NCCL).
    static void* native_stream(context& ctx) noexcept { return ctx.stream; }

    // Storage ------------------------------------------------------------------------------
    static float* allocate(context& ctx, std::size_t n) { return static_cast<float*>(ctx.memory.allocate(n * sizeof(float))); }
    static void deallocate(context& ctx, float* p, std::size_t n) noexcept { ctx.memory.deallocate(p, n * sizeof(float)); }
    static void release_cached_memory(context& ctx) { ctx.memory.release_cache(); }
    static void upload(context& ctx, const float* host, view dst) { detail::upload(ctx, host, dst); }
    static void download(context& ctx, cview src, float* host) { detail::download(ctx, src, host); }
    static void copy(context& ctx, cview src, view dst) { detail::copy(ctx, src, dst); }
    static void fill(context& ctx, view dst, float value) { detail::fill(ctx, dst, value); }
    static void synchronize(context& ctx) { SMILE_CUDA(cudaStreamSynchronize(ctx.stream)); }

    // Math ---------------------------------------------------------------------------------
    static void gemm(context& ctx, transpose ta, transpose tb, float alpha, cview a, cview b, float beta, view c) {
        detail::gemm(ctx, ta, tb, alpha, a, b, beta, c);
    }
    static void add(context& ctx, float a, cview x, float b, cview y, view out) { detail::add(ctx, a, x, b, y, out); }
    static void multiply(context& ctx, cview x, cview y, view out) { detail::multiply(ctx, x, y, out); }
    static void scale_channels(context& ctx, cview x, cview scale, view y) { detail::scale_channels(ctx, x, scale, y); }
    static void add_channel_bias(context& ctx, cview bias, view y) { detail::add_channel_bias(ctx, bias, y); }
    static void channel_sum(context& ctx, cview x, view out) { detail::channel_sum(ctx, x, out); }
    static void mix_rows(context& ctx, float lambda, cview x, std::span<const std::int64_t> perm, view y) {
        detail::mix_rows(ctx, lambda, x, perm, y);
    }
    static void paste_box(context& ctx, cview x, std::span<const std::int64_t> perm, const spatial_box& box, view y) {
        detail::paste_box(ctx, x, perm, box, y);
    }
    static double dot(context& ctx, cview a, cview b) { return detail::dot(ctx, a, b); }
    static void relu_forward(context& ctx, cview x, view y) { detail::relu_forward(ctx, x, y); }
    static void relu_backward(context& ctx, cview y, cview dy, view dx) { detail::relu_backward(ctx, y, dy, dx); }
    static void softmax(context& ctx, cview x, view y, bool log) { detail::softmax(ctx, x, y, log); }
    static double softmax_cross_entropy(context& ctx, cview logits, cview targets, float scale, view dlogits) {
        return detail::softmax_cross_entropy(ctx, logits, targets, scale, dlogits);
    }
    static void global_avg_pool_forward(context& ctx, cview x, view y) { detail::global_avg_pool_forward(ctx, x, y); }
    static void global_avg_pool_backward(context& ctx, cview dy, view dx) { detail::global_avg_pool_backward(ctx, dy, dx); }
    static void flatten_forward(context& ctx, cview x, view y) { detail::flatten_forward(ctx, x, y); }
    static void flatten_backward(context& ctx, cview dy, view dx) { detail::flatten_backward(ctx, dy, dx); }

    // DNN ----------------------------------------------------------------------------------
    static void conv2d_forward(context& ctx, conv2d_plan& plan, const conv2d_desc& d, cview x, cview w, cview bias,
                               view y, mode m) {
        detail::conv2d_forward(ctx, plan, d, x, w, bias, y, m);
    }
    static void conv2d_bn_inference(context& ctx, conv2d_plan& plan, const conv2d_desc& d, const conv_bn_fold& f,
                                    cview x, cview w, cview bias, cview gamma, cview beta, cview mean, cview var,
                                    view y) {
        detail::conv2d_bn_inference(ctx, plan, d, f, x, w, bias, gamma, beta, mean, var, y);
    }
    static void conv2d_backward_data(context& ctx, conv2d_plan& plan, cview dy, cview w, view dx) {
        detail::conv2d_backward_data(ctx, plan, dy, w, dx);
    }
    static void conv2d_backward_weights(context& ctx, conv2d_plan& plan, cview x, cview dy, view dw, view db) {
        detail::conv2d_backward_weights(ctx, plan, x, dy, dw, db);
    }
    static void pool2d_forward(context& ctx, pool2d_plan& plan, const pool2d_desc& d, cview x, view y, mode m) {
        detail::pool2d_forward(ctx, plan, d, x, y, m);
    }
    static void pool2d_backward(context& ctx, pool2d_plan& plan, cview x, cview y, cview dy, view dx) {
        detail::pool2d_backward(ctx, plan, x, y, dy, dx);
    }
    static void batch_norm_forward(context& ctx, batch_norm_plan& plan, const batch_norm_desc& d, cview x, cview gamma,
                                   cview beta, view running_mean, view running_var, view y, mode m) {
        detail::batch_norm_forward(ctx, plan, d, x, gamma, beta, running_mean, running_var, y, m);
    }
    static void batch_norm_backward(context& ctx, batch_norm_plan& plan, cview x, cview y, cview dy, cview gamma,
                                    cview beta, view dx, view dgamma, view dbeta) {
        detail::batch_norm_backward(ctx, plan, x, y, dy, gamma, beta, dx, dgamma, dbeta);
    }

    // Optimizer ----------------------------------------------------------------------------
    static void sgd_step(context& ctx, const sgd_update& u, view w, cview g, view buf) { detail::sgd_step(ctx, u, w, g, buf); }
    static void activation_forward(context& ctx, activation_kind k, cview x, view y) {
        detail::activation_forward(ctx, k, x, y);
    }
    static void activation_backward(context& ctx, activation_kind k, cview x, cview dy, view dx) {
        detail::activation_backward(ctx, k, x, dy, dx);
    }
    static void scale_broadcast(context& ctx, cview x, cview s, view y) { detail::scale_broadcast(ctx, x, s, y); }
    static void scale_broadcast_backward(context& ctx, cview x, cview s, cview dy, view dx, view ds) {
        detail::scale_broadcast_backward(ctx, x, s, dy, dx, ds);
    }
    static void adam_step(context& ctx, const adam_update& u, view w, cview g, view m, view v) {
        detail::adam_step(ctx, u, w, g, m, v);
    }

    // Linear algebra -----------------------------------------------------------------------
    static void svd(context& ctx, cview a, view u, view s, view vt) { detail::svd(ctx, a, u, s, vt); }

    // Sequence operations ------------------------------------------------------------------
    static void batched_gemm(context& ctx, std::int64_t count, transpose ta, transpose tb,
                             float alpha, cview a, cview b, float beta, view c) {
        detail::batched_gemm(ctx, count, ta, tb, alpha, a, b, beta, c);
    }
    static void split_heads(context& ctx, const head_split& hs, cview tokens, view per_head) {
        detail::split_heads(ctx, hs, tokens, per_head);
    }
    static void merge_heads(context& ctx, const head_split& hs, cview per_head, view tokens) {
        detail::merge_heads(ctx, hs, per_head, tokens);
    }
    static void masked_softmax_forward(context& ctx, float scale, cview x, cview mask, view y) {
        detail::masked_softmax_forward(ctx, scale, x, mask, y);
    }
    static void masked_softmax_backward(context& ctx, float scale, cview y, cview dy, view dx) {
        detail::masked_softmax_backward(ctx, scale, y, dy, dx);
    }
    static void layer_norm_forward(context& ctx, float eps, cview x, cview gamma, cview beta,
                                   view y, view mean, view rstd) {
        detail::layer_norm_forward(ctx, eps, x, gamma, beta, y, mean, rstd);
    }
    static void layer_norm_backward(context& ctx, cview x, cview dy, cview gamma, cview mean,
                                    cview rstd, view dx, view dgamma, view dbeta) {
        detail::layer_norm_backward(ctx, x, dy, gamma, mean, rstd, dx, dgamma, dbeta);
    }
    static void gather_rows(context& ctx, cview table, std::span<const std::int64_t> ids, view y) {
        detail::gather_rows(ctx, table, ids, y);
    }
    static void gather_rows_backward(context& ctx, std::span<const std::int64_t> ids, cview dy,
                                     view dtable) {
        detail::gather_rows_backward(ctx, ids, dy, dtable);
    }
    static void dropout_forward(context& ctx, const dropout_desc& d, cview x, view y) {
        detail::dropout_forward(ctx, d, x, y);
    }
    static void dropout_backward(context& ctx, const dropout_desc& d, cview dy, view dx) {
        detail::dropout_backward(ctx, d, dy, dx);
    }
};

static_assert(Backend<backend>, "smile::cuda::backend must satisfy smile::Backend");
static_assert(BackendActivations<backend>, "smile::cuda::backend provides the activation family");
static_assert(BackendSequence<backend>, "smile::cuda::backend provides the sequence operations");
static_assert(BackendCachedMemory<backend>, "smile::cuda::backend gives cached blocks back when the tensor pool frees tensors");

}  // namespace smile::cuda
