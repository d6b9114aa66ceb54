#pragma once
/// @file
/// Launching the backend's kernels on a context's stream, and the cuDNN descriptor owners.

#include <algorithm>
#include <climits>
#include <cstdint>
#include <utility>

#include <smile/backends/cuda/context.hpp>
#include <smile/core/backend.hpp>

namespace smile::cuda {

struct backend;
using view = tensor_view<backend>;
using cview = const_tensor_view<backend>;

namespace detail {

inline constexpr unsigned threads_per_block = 256;

/// Blocks for a grid-stride loop over n items: a function of n only, so that reductions built
/// on it sum in the same order on every run.
[[nodiscard]] inline unsigned blocks_for(std::int64_t n) {
    return static_cast<unsigned>(std::clamp<std::int64_t>((n + threads_per_block - 1) / threads_per_block, 1, 4096));
}

/// Launches kernel `k` with `args` (which must have the kernel's parameter types exactly:
/// pointers, float, int, and std::int64_t for the kernels' 64-bit sizes).
template <class... Args>
void launch(context& ctx, kernel k, dim3 grid, dim3 block, std::size_t shared_bytes, Args... args) {
    void* params[] = {const_cast<void*>(static_cast<const void*>(&args))...};
    check(cudaLaunchKernel((*ctx.kernels)[k], grid, block, params, shared_bytes, ctx.stream),
          kernel_names[static_cast<int>(k)]);
}

/// An element-wise (grid-stride) kernel over n items.
template <class... Args>
void launch_over(context& ctx, kernel k, std::int64_t n, Args... args) {
    if (n <= 0) return;
    launch(ctx, k, dim3(blocks_for(n)), dim3(threads_per_block), 0, args...);
}

/// A reduction kernel with one block of `threads_per_block` threads per item of `blocks`.
template <class... Args>
void launch_reduction(context& ctx, kernel k, std::int64_t blocks, Args... args) {
    if (blocks <= 0) return;
    launch(ctx, k, dim3(static_cast<unsigned>(blocks)), dim3(threads_per_block), threads_per_block * sizeof(double),
           args...);
}

[[nodiscard]] inline int to_int(std::int64_t v, const char* what) {
    SMILE_CHECK(v >= 0 && v <= INT_MAX, "cuda: ", what, " = ", v, " does not fit cuDNN's int dimensions");
    return static_cast<int>(v);
}

/// Owner of one cuDNN descriptor (move-only).
template <class T, auto Create, auto Destroy>
class descriptor {
public:
    descriptor() { check(Create(&d_), "cudnnCreate*Descriptor"); }
    descriptor(descriptor&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
    descriptor& operator=(descriptor&& o) noexcept {
        std::swap(d_, o.d_);
        return *this;
    }
    descriptor(const descriptor&) = delete;
    descriptor& operator=(const descriptor&) = delete;
    ~descriptor() {
        if (d_ != nullptr) (void)Destroy(d_);
    }
    [[nodiscard]] T get() const noexcept { return d_; }
    operator T() const noexcept { return d_; }  // NOLINT: passes straight to cuDNN calls

private:
    T d_ = nullptr;
};

using tensor_descriptor = descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using filter_descriptor = descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using convolution_descriptor =
    descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;
using pooling_descriptor = descriptor<cudnnPoolingDescriptor_t, cudnnCreatePoolingDescriptor, cudnnDestroyPoolingDescriptor>;

/// A float NCHW tensor descriptor of `s`.
[[nodiscard]] inline tensor_descriptor tensor_of(const shape4& s) {
    tensor_descriptor d;
    SMILE_CUDA(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, to_int(s.n, "n"), to_int(s.c, "c"),
                                          to_int(s.h, "h"), to_int(s.w, "w")));
    return d;
}

}  // namespace detail
}  // namespace smile::cuda
