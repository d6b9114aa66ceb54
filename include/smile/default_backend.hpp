#pragma once
/// @file
/// `smile::default_backend`: the backend chosen at configure time (CMake `SMILE_BACKEND`),
/// which defines exactly one of `SMILE_BACKEND_ONEDNN` or `SMILE_BACKEND_CUDA`. The same source
/// therefore builds for the CPU or the GPU.

#if defined(SMILE_BACKEND_ONEDNN) && defined(SMILE_BACKEND_CUDA)
#error "smile: define only one of SMILE_BACKEND_ONEDNN and SMILE_BACKEND_CUDA"
#elif defined(SMILE_BACKEND_ONEDNN)
#include <smile/backends/onednn/backend.hpp>
namespace smile {
using default_backend = onednn::backend;
}
#elif defined(SMILE_BACKEND_CUDA)
#include <smile/backends/cuda/backend.hpp>
namespace smile {
using default_backend = cuda::backend;
}
#else
#error "smile: no backend selected; link smile::smile (CMake) or define SMILE_BACKEND_ONEDNN or SMILE_BACKEND_CUDA"
#endif
