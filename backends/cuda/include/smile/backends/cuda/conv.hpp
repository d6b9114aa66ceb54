#pragma once
/// @file
/// Convolution on cuDNN: forward, backward data and backward weights (with bias), any stride,
/// padding and group count, and the evaluation convolution with batch norm folded in.
///
/// Descriptors and algorithms are chosen once per (shapes, mode) with cuDNN's heuristics
/// (cudnnGet*Algorithm_v7, PyTorch's default without benchmarking): the first algorithm that
/// succeeds, fits the workspace limit and respects the context's TF32 setting. The workspace is
/// the context's, shared by all convolutions. Folded weights are kept in the plan until the
/// caller says the weights or the batch-norm tensors changed, as in the oneDNN backend.
///
/// cuDNN's convolution descriptors pad symmetrically. An asymmetric padding (TensorFlow's
/// "same", conv2d_desc::pad_h_extra/pad_w_extra) is run on a staged copy of the input with the
/// extra zero rows and columns already in place, kept in the problem and zeroed once; the input
/// gradient is computed on the staged shape and cropped back.

#include <smile/backends/cuda/launch.hpp>
#include <smile/core/error.hpp>
#include <smile/core/plan_cache.hpp>
#include <smile/core/shape.hpp>

namespace smile::cuda {

namespace detail {

struct conv_key {
    shape4 x, w;
    conv2d_desc desc;
    bool bias;
    bool training;
    friend bool operator==(const conv_key&, const conv_key&) = default;
};

/// One convolution problem: descriptors and the algorithm chosen for each direction (each
/// direction has its own convolution descriptor, because each carries its algorithm's math type).
struct conv_problem {
    shape4 x_shape, w_shape;
    conv2d_desc desc;
    tensor_descriptor x, y, bias;  // x: of the staged shape when staged; bias: [1, out, 1, 1]
    bool staged = false;           // asymmetric padding: x runs through staged_input
    shape4 staged_shape{};         // x_shape plus the extra rows and columns
    device_buffer staged_input, staged_gradient;
    bool has_bias = false;
    filter_descriptor w;
    convolution_descriptor fwd_conv, bwd_data_conv, bwd_filter_conv;
    cudnnConvolutionFwdAlgo_t fwd_algo{};
    std::size_t fwd_bytes = 0;
    bool has_backward = false;
    cudnnConvolutionBwdDataAlgo_t bwd_data_algo{};
    std::size_t bwd_data_bytes = 0;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo{};
    std::size_t bwd_filter_bytes = 0;
};

/// Copies the [rows, cols] top-left corner of each of `planes` planes from one plane size to
/// another (staging into, or cropping out of, an asymmetrically padded copy).
inline void copy_plane_corners(context& ctx, const float* from, std::int64_t from_h, std::int64_t from_w, float* to,
                               std::int64_t to_h, std::int64_t to_w, std::int64_t planes, std::int64_t rows,
                               std::int64_t cols) {
    // Pitched pointers: (data, row pitch in bytes, row length in elements, rows per plane).
    cudaMemcpy3DParms copy{};
    copy.srcPtr = cudaPitchedPtr{const_cast<float*>(from), static_cast<std::size_t>(from_w) * sizeof(float),
                                 static_cast<std::size_t>(from_w), static_cast<std::size_t>(from_h)};
    copy.dstPtr = cudaPitchedPtr{to, static_cast<std::size_t>(to_w) * sizeof(float), static_cast<std::size_t>(to_w),
                                 static_cast<std::size_t>(to_h)};
    copy.extent = cudaExtent{static_cast<std::size_t>(cols) * sizeof(float), static_cast<std::size_t>(rows),
                             static_cast<std::size_t>(planes)};
    copy.kind = cudaMemcpyDeviceToDevice;
    SMILE_CUDA(cudaMemcpy3DAsync(&copy, ctx.stream));
}

/// The input cuDNN convolves: x itself, or x staged into the zero-padded copy.
inline const float* convolved_input(context& ctx, conv_problem& p, const float* x) {
    if (!p.staged) return x;
    const shape4& s = p.x_shape;
    float* staged = p.staged_input.floats();
    copy_plane_corners(ctx, x, s.h, s.w, staged, p.staged_shape.h, p.staged_shape.w, s.n * s.c, s.h, s.w);
    return staged;
}

inline void set_convolution(const convolution_descriptor& c, const conv2d_desc& d) {
    SMILE_CUDA(cudnnSetConvolution2dDescriptor(c, to_int(d.pad_h, "pad"), to_int(d.pad_w, "pad"),
                                               to_int(d.stride_h, "stride"), to_int(d.stride_w, "stride"), 1, 1,
                                               CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    SMILE_CUDA(cudnnSetConvolutionGroupCount(c, to_int(d.groups, "groups")));
}

/// Largest workspace an algorithm may ask for: 1 GiB, or an eighth of the device's memory.
inline std::size_t workspace_limit(const context& ctx) {
    return std::min<std::size_t>(std::size_t{1} << 30, ctx.device.memory / 8);
}

/// The first usable algorithm of cuDNN's ranked list; sets its math type on `conv`.
template <class Perf>
Perf choose_algorithm(const context& ctx, const Perf* ranked, int count, const convolution_descriptor& conv,
                      const char* direction, const conv_problem& p) {
    for (int i = 0; i < count; ++i) {
        const Perf& r = ranked[i];
        if (r.status != CUDNN_STATUS_SUCCESS || r.memory > workspace_limit(ctx)) continue;
        const bool tensor_cores = r.mathType == CUDNN_TENSOR_OP_MATH || r.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
        if (tensor_cores && !ctx.tf32) continue;
        SMILE_CUDA(cudnnSetConvolutionMathType(conv, r.mathType));
        return r;
    }
    ::smile::detail::fail("cuda: cuDNN offers no ", direction, " algorithm for input ", p.x_shape, ", weights ", p.w_shape,
                          " within ", workspace_limit(ctx) >> 20, " MiB of workspace",
                          ctx.tf32 ? "" : " without TF32 (SMILE_CUDA_TF32=0)");
}

inline conv_problem make_problem(context& ctx, const shape4& x, const shape4& w, const conv2d_desc& d, bool bias) {
    conv_problem p;
    p.x_shape = x;
    p.w_shape = w;
    p.desc = d;
    p.staged = d.pad_h_extra != 0 || d.pad_w_extra != 0;
    p.staged_shape = {x.n, x.c, x.h + d.pad_h_extra, x.w + d.pad_w_extra};
    p.x = tensor_of(p.staged ? p.staged_shape : x);
    p.y = tensor_of(conv2d_output_shape(x, w, d));
    if (p.staged) {
        const std::size_t bytes = p.staged_shape.size() * sizeof(float);
        p.staged_input = device_buffer(ctx, bytes);
        SMILE_CUDA(cudaMemsetAsync(p.staged_input.floats(), 0, bytes, ctx.stream));  // the extra zeros, once
    }
    p.has_bias = bias;
    if (bias) p.bias = tensor_of({1, w.n, 1, 1});
    SMILE_CUDA(cudnnSetFilter4dDescriptor(p.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, to_int(w.n, "out channels"),
                                          to_int(w.c, "in channels"), to_int(w.h, "kernel"), to_int(w.w, "kernel")));
    // Heuristics are asked with the widest math type allowed; the chosen one is then set.
    const cudnnMathType_t widest = ctx.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
    for (const auto* c : {&p.fwd_conv, &p.bwd_data_conv, &p.bwd_filter_conv}) {
        set_convolution(*c, d);
        SMILE_CUDA(cudnnSetConvolutionMathType(*c, widest));
    }
    cudnnConvolutionFwdAlgoPerf_t ranked[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int count = 0;
    SMILE_CUDA(cudnnGetConvolutionForwardAlgorithm_v7(ctx.dnn, p.x, p.w, p.fwd_conv, p.y,
                                                      CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, ranked));
    const auto chosen = choose_algorithm(ctx, ranked, count, p.fwd_conv, "forward convolution", p);
    p.fwd_algo = chosen.algo;
    p.fwd_bytes = chosen.memory;
    ctx.workspace(p.fwd_bytes);
    return p;
}

inline void add_backward(context& ctx, conv_problem& p) {
    cudnnConvolutionBwdDataAlgoPerf_t data[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int count = 0;
    SMILE_CUDA(cudnnGetConvolutionBackwardDataAlgorithm_v7(ctx.dnn, p.w, p.y, p.bwd_data_conv, p.x,
                                                           CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, data));
    const auto d = choose_algorithm(ctx, data, count, p.bwd_data_conv, "backward-data convolution", p);
    p.bwd_data_algo = d.algo;
    p.bwd_data_bytes = d.memory;
    cudnnConvolutionBwdFilterAlgoPerf_t filter[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    SMILE_CUDA(cudnnGetConvolutionBackwardFilterAlgorithm_v7(ctx.dnn, p.x, p.y, p.bwd_filter_conv, p.w,
                                                             CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count, filter));
    const auto f = choose_algorithm(ctx, filter, count, p.bwd_filter_conv, "backward-weights convolution", p);
    p.bwd_filter_algo = f.algo;
    p.bwd_filter_bytes = f.memory;
    ctx.workspace(std::max(p.bwd_data_bytes, p.bwd_filter_bytes));
    if (p.staged) p.staged_gradient = device_buffer(ctx, p.staged_shape.size() * sizeof(float));
    p.has_backward = true;
}

struct conv_entry {
    conv_key key;
    conv_problem problem;
};

struct folded_key {
    shape4 x, w;
    conv2d_desc desc;
    activation_kind activation;
    bool accumulate;
    friend bool operator==(const folded_key&, const folded_key&) = default;
};

struct folded_entry {
    folded_key key;
    conv_problem problem;
    device_buffer weights;  // w·s
    device_buffer shift;    // (b − μ)·s + β
    std::uint64_t folded_at = 0;
};

}  // namespace detail

/// Per-call-site convolution state (see the file comment).
class conv2d_plan {
public:
    detail::conv_problem& forward_problem(context& ctx, const detail::conv_key& key) {
        auto& e = cache_.find_or_create(key, [&] {
            return detail::conv_entry{key, detail::make_problem(ctx, key.x, key.w, key.desc, key.bias)};
        });
        last_ = key.training ? &e.problem : nullptr;
        return e.problem;
    }

    /// The problem of the last training forward, with its backward algorithms.
    detail::conv_problem& backward_problem(context& ctx) {
        SMILE_CHECK(last_ != nullptr, "cuda conv2d: backward needs a preceding forward in training mode");
        if (!last_->has_backward) detail::add_backward(ctx, *last_);
        return *last_;
    }

    /// The folded evaluation entry for `key`; `refold` starts a new fold epoch.
    detail::folded_entry& folded_for(context& ctx, const detail::folded_key& key, bool refold) {
        if (refold) ++fold_epoch_;
        return folded_.find_or_create(key, [&] {
            detail::folded_entry e{key, detail::make_problem(ctx, key.x, key.w, key.desc, false), {}, {}, 0};
            e.weights = device_buffer(ctx, key.w.size() * sizeof(float));
            e.shift = device_buffer(ctx, static_cast<std::size_t>(key.w.n) * sizeof(float));
            return e;
        });
    }
    [[nodiscard]] std::uint64_t fold_epoch() const noexcept { return fold_epoch_; }

private:
    plan_cache<detail::conv_key, detail::conv_entry> cache_;
    detail::conv_problem* last_ = nullptr;
    plan_cache<detail::folded_key, detail::folded_entry, 2> folded_;
    std::uint64_t fold_epoch_ = 1;
};

namespace detail {

inline void conv2d_forward(context& ctx, conv2d_plan& plan, const conv2d_desc& d, cview x, cview w,
                           cview bias, view y, mode m) {
    auto& p = plan.forward_problem(ctx, {x.shape, w.shape, d, !bias.empty(), keeps_activations(m)});
    const float one = 1.0f, zero = 0.0f;
    SMILE_CUDA(cudnnConvolutionForward(ctx.dnn, &one, p.x, convolved_input(ctx, p, x.data), p.w, w.data, p.fwd_conv, p.fwd_algo,
                                       ctx.workspace(p.fwd_bytes), p.fwd_bytes, &zero, p.y, y.data));
    if (!bias.empty()) SMILE_CUDA(cudnnAddTensor(ctx.dnn, &one, p.bias, bias.data, &one, p.y, y.data));
}

/// y = act(conv(x, w·s) [+ y] + shift) with s = γ/√(σ² + ε), shift = (b − μ)·s + β.
inline void conv2d_bn_inference(context& ctx, conv2d_plan& plan, const conv2d_desc& d,
                                const conv_bn_fold& f, cview x, cview w, cview bias, cview gamma,
                                cview beta, cview mean, cview var, view y) {
    auto& e = plan.folded_for(ctx, {x.shape, w.shape, d, f.activation, f.accumulate}, f.refold);
    const std::int64_t out = w.shape.n, per_out = static_cast<std::int64_t>(w.size()) / out;
    if (e.folded_at != plan.fold_epoch()) {
        launch_over(ctx, kernel::bn_fold, out * per_out, e.weights.floats(), e.shift.floats(), w.data,
                    bias.empty() ? static_cast<const float*>(nullptr) : bias.data, gamma.data, beta.data, mean.data,
                    var.data, f.epsilon, out, per_out);
        e.folded_at = plan.fold_epoch();
    }
    auto& p = e.problem;
    const float one = 1.0f, keep = f.accumulate ? 1.0f : 0.0f;
    SMILE_CUDA(cudnnConvolutionForward(ctx.dnn, &one, p.x, convolved_input(ctx, p, x.data), p.w, e.weights.floats(),
                                       p.fwd_conv, p.fwd_algo,
                                       ctx.workspace(p.fwd_bytes), p.fwd_bytes, &keep, p.y, y.data));
    const auto& s = y.shape;
    launch_over(ctx, kernel::bias_activation, static_cast<std::int64_t>(y.size()), y.data,
                static_cast<const float*>(e.shift.floats()), static_cast<std::int64_t>(y.size()), s.c, s.h * s.w,
                static_cast<int>(f.activation));
}

/// dx = conv_transpose(dy, w): the adjoint of x ↦ conv(x, w).
inline void conv2d_backward_data(context& ctx, conv2d_plan& plan, cview dy, cview w, view dx) {
    auto& p = plan.backward_problem(ctx);
    check_shape("conv2d backward weights", p.w_shape, w.shape);
    check_shape("conv2d input gradient", p.x_shape, dx.shape);
    check_shape("conv2d output gradient", conv2d_output_shape(p.x_shape, p.w_shape, p.desc), dy.shape);
    const float one = 1.0f, zero = 0.0f;
    float* gradient = p.staged ? p.staged_gradient.floats() : dx.data;
    SMILE_CUDA(cudnnConvolutionBackwardData(ctx.dnn, &one, p.w, w.data, p.y, dy.data, p.bwd_data_conv, p.bwd_data_algo,
                                            ctx.workspace(p.bwd_data_bytes), p.bwd_data_bytes, &zero, p.x, gradient));
    if (p.staged) {  // the gradient of the extra zeros is dropped
        const shape4& s = p.x_shape;
        copy_plane_corners(ctx, gradient, p.staged_shape.h, p.staged_shape.w, dx.data, s.h, s.w, s.n * s.c, s.h, s.w);
    }
}

/// dw = Σ dy ⋆ x over the batch; db = Σ_{n,h,w} dy.
inline void conv2d_backward_weights(context& ctx, conv2d_plan& plan, cview x, cview dy, view dw, view db) {
    auto& p = plan.backward_problem(ctx);
    check_shape("conv2d input", p.x_shape, x.shape);
    check_shape("conv2d weight gradient", p.w_shape, dw.shape);
    SMILE_CHECK(db.empty() == !p.has_bias,
                "conv2d: a bias gradient must be given exactly when the forward had a bias");
    const float one = 1.0f, zero = 0.0f;
    SMILE_CUDA(cudnnConvolutionBackwardFilter(ctx.dnn, &one, p.x, convolved_input(ctx, p, x.data), p.y, dy.data,
                                              p.bwd_filter_conv,
                                              p.bwd_filter_algo, ctx.workspace(p.bwd_filter_bytes), p.bwd_filter_bytes,
                                              &zero, p.w, dw.data));
    if (!db.empty()) SMILE_CUDA(cudnnConvolutionBackwardBias(ctx.dnn, &one, p.y, dy.data, &zero, p.bias, db.data));
}

}  // namespace detail
}  // namespace smile::cuda
