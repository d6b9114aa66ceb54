#pragma once
/// @file
/// The CUDA backend's context: the device, one stream, the cuBLAS, cuDNN and cuSOLVER handles
/// bound to it, the caching allocator, the loaded kernels, and the buffers shared by all
/// operations of the context (convolution workspace, small staging buffers).
///
/// TF32: by default convolutions and matrix products may use TF32 tensor cores (PyTorch's
/// default for convolutions); `SMILE_CUDA_TF32=0` restricts them to full float32 arithmetic,
/// which the conformance tests use to compare with the float64 reference.

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include <smile/backends/cuda/allocator.hpp>
#include <smile/backends/cuda/device.hpp>
#include <smile/backends/cuda/kernels.hpp>

namespace smile::cuda {

namespace detail {

/// RAII owner of one library handle.
template <class Handle, auto Destroy>
struct owned {
    Handle handle{};
    owned() = default;
    owned(const owned&) = delete;
    owned& operator=(const owned&) = delete;
    ~owned() {
        if (handle) (void)Destroy(handle);
    }
};

inline bool tf32_from_environment() {
    const char* v = std::getenv("SMILE_CUDA_TF32");
    if (v == nullptr || *v == '\0') return true;
    SMILE_CHECK(std::strcmp(v, "0") == 0 || std::strcmp(v, "1") == 0, "SMILE_CUDA_TF32='", v, "' must be 0 or 1");
    return *v == '1';
}

}  // namespace detail

/// Device memory that a plan keeps for good (folded weights, saved statistics), returned to the
/// context's cache when the plan goes.
class device_buffer;

struct context {
    std::size_t allocations = 0;  ///< cudaMalloc calls made for this context (cache misses)

    device_info device;
    bool tf32;
    device_allocator memory{allocations};

    context() : device(select_device()), tf32(detail::tf32_from_environment()) {
        SMILE_CUDA(cudaStreamCreateWithFlags(&stream_.handle, cudaStreamNonBlocking));
        stream = stream_.handle;
        SMILE_CUDA(cublasCreate(&blas_.handle));
        blas = blas_.handle;
        SMILE_CUDA(cublasSetStream(blas, stream));
        SMILE_CUDA(cublasSetMathMode(blas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH));
        SMILE_CUDA(cudnnCreate(&dnn_.handle));
        dnn = dnn_.handle;
        SMILE_CUDA(cudnnSetStream(dnn, stream));
        SMILE_CUDA(cusolverDnCreate(&solver_.handle));
        solver = solver_.handle;
        SMILE_CUDA(cusolverDnSetStream(solver, stream));
        void* pinned = nullptr;
        SMILE_CUDA(cudaMallocHost(&pinned, 2 * sizeof(double)));
        host_doubles_.handle = static_cast<double*>(pinned);
        kernels = std::make_unique<kernel_library>(device.major, device.minor);
    }
    context(const context&) = delete;
    context& operator=(const context&) = delete;
    ~context() {
        (void)cudaStreamSynchronize(stream);
        for (auto* b : {&workspace_, &staging_}) memory.deallocate(b->data, b->bytes);
    }

    cudaStream_t stream = nullptr;
    cublasHandle_t blas = nullptr;
    cudnnHandle_t dnn = nullptr;
    cusolverDnHandle_t solver = nullptr;
    std::unique_ptr<kernel_library> kernels;

    /// The convolution workspace shared by every convolution of the context (they run one at a
    /// time on the stream); grows when a new plan needs more.
    void* workspace(std::size_t bytes) { return grow(workspace_, bytes); }
    /// A small device buffer for per-call inputs copied from the host (permutations).
    void* staging(std::size_t bytes) { return grow(staging_, bytes); }
    /// Pinned host doubles that reductions download into.
    [[nodiscard]] double* host_doubles() const noexcept { return host_doubles_.handle; }

private:
    struct shared_buffer {
        void* data = nullptr;
        std::size_t bytes = 0;
    };
    void* grow(shared_buffer& b, std::size_t bytes) {
        if (bytes <= b.bytes) return b.data;
        // Queued work may still use the old buffer: wait for it before handing it back.
        SMILE_CUDA(cudaStreamSynchronize(stream));
        memory.deallocate(b.data, b.bytes);
        b = {};
        b.data = memory.allocate(bytes);
        b.bytes = bytes;
        return b.data;
    }

    // Members are destroyed in reverse order: the library handles before the stream they use,
    // and the allocator (declared first) last, after every buffer has come back to it.
    detail::owned<cudaStream_t, cudaStreamDestroy> stream_;
    detail::owned<cublasHandle_t, cublasDestroy> blas_;
    detail::owned<cudnnHandle_t, cudnnDestroy> dnn_;
    detail::owned<cusolverDnHandle_t, cusolverDnDestroy> solver_;
    detail::owned<double*, cudaFreeHost> host_doubles_;
    shared_buffer workspace_, staging_;
};

class device_buffer {
public:
    device_buffer() = default;
    device_buffer(context& ctx, std::size_t bytes) : ctx_(&ctx), bytes_(bytes), data_(ctx.memory.allocate(bytes)) {}
    device_buffer(device_buffer&& o) noexcept { swap(o); }
    device_buffer& operator=(device_buffer&& o) noexcept {
        device_buffer taken(std::move(o));
        swap(taken);  // the old contents leave with `taken`
        return *this;
    }
    ~device_buffer() {
        if (ctx_ != nullptr) ctx_->memory.deallocate(data_, bytes_);
    }
    [[nodiscard]] float* floats() const noexcept { return static_cast<float*>(data_); }
    [[nodiscard]] double* doubles() const noexcept { return static_cast<double*>(data_); }
    [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }
    void swap(device_buffer& o) noexcept {
        std::swap(ctx_, o.ctx_);
        std::swap(bytes_, o.bytes_);
        std::swap(data_, o.data_);
    }

private:
    context* ctx_ = nullptr;
    std::size_t bytes_ = 0;
    void* data_ = nullptr;
};

}  // namespace smile::cuda
