// What the CUDA backend can prove on a machine without a GPU (CI): NVRTC compiles every one
// of smile's kernels for the architectures we ship to, the fall-back to PTX for GPUs newer
// than NVRTC picks the right virtual architecture, unsupported GPUs and bad settings get a
// clear error, and building a context without a GPU says what to do instead of crashing.
// The numerical conformance of the backend is the "gpu" suite (every other test binary in a
// CUDA build), which needs a device.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include <smile/backends/cuda/backend.hpp>
#include <smile/core/session.hpp>

namespace cuda = smile::cuda;
namespace detail = smile::cuda::detail;

namespace {

std::string message_of(auto&& action) {
    try {
        action();
    } catch (const smile::error& e) {
        return e.what();
    }
    return {};
}

/// Sets an environment variable for one scope.
struct scoped_env {
    std::string name;
    scoped_env(std::string n, const char* value) : name(std::move(n)) { ::setenv(name.c_str(), value, 1); }
    ~scoped_env() { ::unsetenv(name.c_str()); }
};

}  // namespace

TEST_CASE("cuda kernels: NVRTC compiles a CUBIN with every kernel for Turing, Ampere and Hopper") {
    for (auto [major, minor] : {std::pair{7, 5}, std::pair{8, 0}, std::pair{8, 6}, std::pair{9, 0}}) {
        CAPTURE(major);
        CAPTURE(minor);
        const cuda::kernel_image& image = detail::kernels_for(major, minor);
        CHECK(image.binary);
        CHECK(image.target == "sm_" + std::to_string(major * 10 + minor));
        REQUIRE(image.code.size() > 4);
        CHECK(image.code.compare(0, 4, "\x7f" "ELF") == 0);
        // extern "C" kernels keep their plain names in the ELF string table; the loader looks
        // each one up by that name.
        for (const char* name : detail::kernel_names) {
            CAPTURE(name);
            CHECK(image.code.find(std::string(name) + '\0') != std::string::npos);
        }
        // Once per process: the second request returns the same image.
        CHECK(&detail::kernels_for(major, minor) == &image);
    }
}

TEST_CASE("cuda kernels: a GPU newer than NVRTC knows gets PTX for the newest architecture below it") {
    const cuda::kernel_image image = detail::compile_kernels(99, 9);
    CHECK_FALSE(image.binary);
    REQUIRE(image.target.rfind("compute_", 0) == 0);
    const int target = std::stoi(image.target.substr(8));
    CHECK(target >= 90);
    CHECK(target <= 999);
    CHECK(image.code.find(".target sm_" + std::to_string(target)) != std::string::npos);
    for (const char* name : detail::kernel_names) {
        CAPTURE(name);
        CHECK(image.code.find(std::string(".entry ") + name) != std::string::npos);
    }
}

TEST_CASE("cuda kernels: a GPU older than every supported architecture is refused by name") {
    const std::string message = message_of([] { (void)detail::compile_kernels(3, 0); });
    CHECK(message.find("sm_30") != std::string::npos);
    CHECK(message.find("compute capability 3.0") != std::string::npos);
}

TEST_CASE("cuda context: SMILE_CUDA_TF32 accepts 0 or 1 and names itself otherwise") {
    {
        scoped_env env("SMILE_CUDA_TF32", "0");
        CHECK_FALSE(detail::tf32_from_environment());
    }
    {
        scoped_env env("SMILE_CUDA_TF32", "1");
        CHECK(detail::tf32_from_environment());
    }
    CHECK(detail::tf32_from_environment());  // unset: TF32 allowed, as PyTorch does for convolutions
    scoped_env env("SMILE_CUDA_TF32", "yes");
    const std::string message = message_of([] { (void)detail::tf32_from_environment(); });
    CHECK(message.find("SMILE_CUDA_TF32='yes'") != std::string::npos);
}

TEST_CASE("cuda context: without a GPU, opening a session is one clear error naming the CPU build") {
    std::string why;
    if (cuda::device_count(&why) > 0) {
        // A GPU machine: the session opens on the device SMILE_CUDA_DEVICE names.
        smile::session<cuda::backend> session;
        CHECK(session.context().device.major >= 7);
        CHECK(session.context().device.memory > 0);
        scoped_env env("SMILE_CUDA_DEVICE", "-1");
        CHECK(message_of([] { (void)cuda::select_device(); }).find("SMILE_CUDA_DEVICE='-1'") != std::string::npos);
        return;
    }
    CHECK_FALSE(why.empty());
    const std::string message = message_of([] { smile::session<cuda::backend> session; });
    CHECK(message.find("no usable CUDA device") != std::string::npos);
    CHECK(message.find(why) != std::string::npos);
    CHECK(message.find("-DSMILE_BACKEND=onednn") != std::string::npos);
}
