#pragma once
/// @file
/// Every status returned by the CUDA runtime, cuBLAS, cuDNN, cuSOLVER and NVRTC is checked and
/// turned into a `smile::error` that names the call and the library's own name for the status,
/// e.g. "cuda: cudnnConvolutionForward(...) failed: CUDNN_STATUS_BAD_PARAM".

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <cusolverDn.h>
#include <nvrtc.h>

#include <smile/core/error.hpp>

namespace smile::cuda::detail {

inline const char* cusolver_status_name(cusolverStatus_t s) noexcept {
    switch (s) {
        case CUSOLVER_STATUS_SUCCESS: return "CUSOLVER_STATUS_SUCCESS";
        case CUSOLVER_STATUS_NOT_INITIALIZED: return "CUSOLVER_STATUS_NOT_INITIALIZED";
        case CUSOLVER_STATUS_ALLOC_FAILED: return "CUSOLVER_STATUS_ALLOC_FAILED";
        case CUSOLVER_STATUS_INVALID_VALUE: return "CUSOLVER_STATUS_INVALID_VALUE";
        case CUSOLVER_STATUS_ARCH_MISMATCH: return "CUSOLVER_STATUS_ARCH_MISMATCH";
        case CUSOLVER_STATUS_EXECUTION_FAILED: return "CUSOLVER_STATUS_EXECUTION_FAILED";
        case CUSOLVER_STATUS_INTERNAL_ERROR: return "CUSOLVER_STATUS_INTERNAL_ERROR";
        case CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED: return "CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED";
        case CUSOLVER_STATUS_NOT_SUPPORTED: return "CUSOLVER_STATUS_NOT_SUPPORTED";
        default: return "cusolverStatus_t (unnamed)";
    }
}

inline void check(cudaError_t status, const char* call) {
    if (status == cudaSuccess) return;
    (void)cudaGetLastError();  // clear a non-sticky error so the next call reports its own
    ::smile::detail::fail("cuda: ", call, " failed: ", cudaGetErrorName(status), " (", cudaGetErrorString(status), ")");
}
inline void check(cublasStatus_t status, const char* call) {
    if (status != CUBLAS_STATUS_SUCCESS)
        ::smile::detail::fail("cuda: ", call, " failed: ", cublasGetStatusName(status), " (", cublasGetStatusString(status), ")");
}
inline void check(cudnnStatus_t status, const char* call) {
    if (status != CUDNN_STATUS_SUCCESS) ::smile::detail::fail("cuda: ", call, " failed: ", cudnnGetErrorString(status));
}
inline void check(cusolverStatus_t status, const char* call) {
    if (status != CUSOLVER_STATUS_SUCCESS) ::smile::detail::fail("cuda: ", call, " failed: ", cusolver_status_name(status));
}
inline void check(nvrtcResult status, const char* call) {
    if (status != NVRTC_SUCCESS) ::smile::detail::fail("cuda: ", call, " failed: ", nvrtcGetErrorString(status));
}

}  // namespace smile::cuda::detail

/// Checks the status of a CUDA-library call, naming the call in the error.
#define SMILE_CUDA(call) ::smile::cuda::detail::check((call), #call)
