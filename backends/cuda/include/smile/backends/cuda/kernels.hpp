#pragma once
/// @file
/// The backend's own kernels (kernel_source.hpp): compiled by NVRTC once per process and GPU
/// architecture, loaded into each context with the runtime's library API, and launched on the
/// context's stream.
///
/// NVRTC produces a CUBIN for the device's exact architecture when it knows it, else PTX for
/// the newest virtual architecture it knows, which the driver then compiles (newer GPUs).
/// Compiling needs no GPU, which is how the tests check the sources on machines without one.

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <smile/backends/cuda/kernel_source.hpp>
#include <smile/backends/cuda/status.hpp>

namespace smile::cuda {

/// A compiled kernel image: CUBIN (`binary`) or PTX text.
struct kernel_image {
    std::string code;
    bool binary = false;
    std::string target;  ///< "sm_90" or "compute_90"
};

namespace detail {

/// Compiles kernel_source for `sm_<major><minor>`: a CUBIN if NVRTC supports that architecture,
/// PTX for the newest supported virtual architecture at or below it otherwise.
inline kernel_image compile_kernels(int major, int minor) {
    const int wanted = major * 10 + minor;
    int count = 0;
    SMILE_CUDA(nvrtcGetNumSupportedArchs(&count));
    std::vector<int> archs(static_cast<std::size_t>(count));
    SMILE_CUDA(nvrtcGetSupportedArchs(archs.data()));
    const bool exact = std::find(archs.begin(), archs.end(), wanted) != archs.end();
    int target = wanted;
    if (!exact) {
        target = 0;
        for (int a : archs)
            if (a <= wanted) target = std::max(target, a);
        SMILE_CHECK(target > 0, "cuda: NVRTC ", count > 0 ? "supports no architecture at or below" : "supports no",
                    " sm_", wanted, " (the GPU's compute capability ", major, ".", minor, ")");
    }
    const std::string arch = (exact ? "--gpu-architecture=sm_" : "--gpu-architecture=compute_") + std::to_string(target);
    nvrtcProgram program = nullptr;
    SMILE_CUDA(nvrtcCreateProgram(&program, kernel_source, "smile_kernels.cu", 0, nullptr, nullptr));
    struct destroy {
        nvrtcProgram& p;
        ~destroy() { (void)nvrtcDestroyProgram(&p); }
    } guard{program};
    const char* options[] = {arch.c_str(), "--std=c++17", "-default-device"};
    const nvrtcResult compiled = nvrtcCompileProgram(program, 3, options);
    if (compiled != NVRTC_SUCCESS) {
        std::size_t size = 0;
        (void)nvrtcGetProgramLogSize(program, &size);
        std::string log(size, '\0');
        (void)nvrtcGetProgramLog(program, log.data());
        ::smile::detail::fail("cuda: NVRTC could not compile smile's kernels for ", arch, ": ",
                              nvrtcGetErrorString(compiled), "\n", log);
    }
    kernel_image image;
    image.binary = exact;
    image.target = (exact ? "sm_" : "compute_") + std::to_string(target);
    std::size_t size = 0;
    if (exact) {
        SMILE_CUDA(nvrtcGetCUBINSize(program, &size));
        image.code.resize(size);
        SMILE_CUDA(nvrtcGetCUBIN(program, image.code.data()));
    } else {
        SMILE_CUDA(nvrtcGetPTXSize(program, &size));
        image.code.resize(size);
        SMILE_CUDA(nvrtcGetPTX(program, image.code.data()));
    }
    return image;
}

/// compile_kernels, once per process and architecture.
inline const kernel_image& kernels_for(int major, int minor) {
    static std::mutex lock;
    static std::map<int, kernel_image> images;
    std::lock_guard<std::mutex> hold(lock);
    const int key = major * 10 + minor;
    auto it = images.find(key);
    if (it == images.end()) it = images.emplace(key, compile_kernels(major, minor)).first;
    return it->second;
}

}  // namespace detail

/// The kernels loaded into the current device's context.
class kernel_library {
public:
    kernel_library() = default;
    kernel_library(int major, int minor) {
        const kernel_image& image = detail::kernels_for(major, minor);
        SMILE_CUDA(cudaLibraryLoadData(&library_, image.code.data(), nullptr, nullptr, 0, nullptr, nullptr, 0));
        for (int k = 0; k < static_cast<int>(detail::kernel::count); ++k) {
            const cudaError_t status = cudaLibraryGetKernel(&kernels_[k], library_, detail::kernel_names[k]);
            if (status != cudaSuccess) {
                (void)cudaLibraryUnload(library_);
                detail::check(status, (std::string("cudaLibraryGetKernel(") + detail::kernel_names[k] + ")").c_str());
            }
        }
    }
    kernel_library(const kernel_library&) = delete;
    kernel_library& operator=(const kernel_library&) = delete;
    ~kernel_library() {
        if (library_ != nullptr) (void)cudaLibraryUnload(library_);
    }

    [[nodiscard]] const void* operator[](detail::kernel k) const noexcept {
        return reinterpret_cast<const void*>(kernels_[static_cast<int>(k)]);
    }

private:
    cudaLibrary_t library_ = nullptr;
    cudaKernel_t kernels_[static_cast<int>(detail::kernel::count)]{};
};

}  // namespace smile::cuda
