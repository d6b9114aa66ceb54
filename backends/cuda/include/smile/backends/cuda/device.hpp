#pragma once
/// @file
/// Finding the GPU a context runs on, with one clear message when there is none.
///
/// With no NVIDIA driver installed, `cudaGetDeviceCount` returns cudaErrorInsufficientDriver
/// rather than "no device"; any error there, or a count of zero, means this build cannot run,
/// and the message says what to do instead.

#include <cstdlib>
#include <string>

#include <smile/backends/cuda/status.hpp>

namespace smile::cuda {

/// The device a context uses.
struct device_info {
    int index = 0;
    std::string name;
    int major = 0, minor = 0;  ///< compute capability
    std::size_t memory = 0;    ///< bytes of device memory
    int multiprocessors = 0;
};

/// Number of usable devices; 0 when there is no driver or no device (never throws).
[[nodiscard]] inline int device_count(std::string* why = nullptr) noexcept {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
        (void)cudaGetLastError();
        if (why != nullptr) *why = std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
        return 0;
    }
    if (count == 0 && why != nullptr) *why = "the driver reports no CUDA device";
    return count;
}

/// The device `SMILE_CUDA_DEVICE` names (default: the rank's index on its node under an MPI
/// launcher, else 0), made current; throws `smile::error` with
/// the reason when the machine has no usable GPU.
[[nodiscard]] inline device_info select_device() {
    std::string why;
    const int count = device_count(&why);
    SMILE_CHECK(count > 0, "smile (CUDA backend): no usable CUDA device (", why,
                "). This program was built with SMILE_BACKEND=cuda and needs an NVIDIA GPU with its driver; "
                "build with -DSMILE_BACKEND=onednn to run on the CPU.");
    int index = 0;
    // One GPU per rank of a data-parallel job: the rank's index on its node (Open MPI, Slurm,
    // MPICH/Intel MPI name it), unless SMILE_CUDA_DEVICE says otherwise.
    for (const char* local : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"})
        if (const char* env = std::getenv(local); env != nullptr && *env != '\0') {
            index = std::atoi(env) % count;
            break;
        }
    if (const char* env = std::getenv("SMILE_CUDA_DEVICE"); env != nullptr && *env != '\0') {
        char* end = nullptr;
        const long v = std::strtol(env, &end, 10);
        SMILE_CHECK(end != env && *end == '\0' && v >= 0 && v < count, "SMILE_CUDA_DEVICE='", env,
                    "' is not a device index in [0, ", count, ")");
        index = static_cast<int>(v);
    }
    SMILE_CUDA(cudaSetDevice(index));
    cudaDeviceProp p{};
    SMILE_CUDA(cudaGetDeviceProperties(&p, index));
    return {index, p.name, p.major, p.minor, p.totalGlobalMem, p.multiProcessorCount};
}

}  // namespace smile::cuda
