# What smile::smile needs. Every package here is a Debian 12 package (see docs/building.md);
# smileConfig.cmake repeats the same lookups for downstream projects.

find_package(Eigen3 3.4 REQUIRED NO_MODULE)        # host SVD (BSS, PCA) and test oracle
find_package(xtensor REQUIRED)                     # host batches and .npy files
find_package(nlohmann_json 3.10 REQUIRED)          # safetensors headers, JSON-lines logs
find_package(Threads REQUIRED)                     # data-loader workers
find_package(ZLIB REQUIRED)                        # gzip'd IDX files (MNIST family)
find_package(JPEG REQUIRED)                        # libjpeg-turbo
find_package(PNG REQUIRED)                         # libpng
find_package(Matio REQUIRED)                       # Stanford Cars .mat annotations
find_package(ICU REQUIRED COMPONENTS uc)           # Unicode for the BERT tokenizer (categories, NFC/NFD, casing)
find_package(CSV REQUIRED)                         # libcsv: CSV text-classification files (RFC 4180 quoting)
if(SMILE_WITH_MPI)
  set(MPI_CXX_SKIP_MPICXX TRUE)                    # the C API from C++; not the deprecated C++ bindings
  find_package(MPI REQUIRED COMPONENTS CXX)        # Open MPI: data-parallel training (distributed/)
endif()

if(SMILE_BACKEND STREQUAL "onednn")
  find_package(dnnl 2.6 REQUIRED CONFIG)           # Debian's config needs the OpenCL dev packages
  find_package(OpenMP REQUIRED)
elseif(SMILE_BACKEND STREQUAL "cuda")
  find_package(CUDAToolkit 12 REQUIRED)            # cudart, cuBLAS, cuSOLVER, NVRTC
  find_package(CUDNN REQUIRED)                     # no CMake package ships with cuDNN
  if(SMILE_WITH_MPI)
    find_package(NCCL REQUIRED)                    # data-parallel on GPUs: device collectives
  endif()
endif()
