# smile::core    generic headers (include/smile) and what they need on the host
# smile::onednn  the CPU backend headers + oneDNN + OpenMP        (SMILE_BACKEND=onednn)
# smile::cuda    the GPU backend headers + CUDA libraries          (SMILE_BACKEND=cuda)
# smile::smile   what a downstream project links: core + the configured backend

add_library(smile_core INTERFACE)
add_library(smile::core ALIAS smile_core)
set_target_properties(smile_core PROPERTIES EXPORT_NAME core)
target_include_directories(smile_core INTERFACE
  "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>"
  "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
target_compile_features(smile_core INTERFACE cxx_std_20)
target_link_libraries(smile_core INTERFACE
  Eigen3::Eigen xtensor nlohmann_json::nlohmann_json Threads::Threads
  ZLIB::ZLIB JPEG::JPEG PNG::PNG Matio::matio ICU::uc CSV::csv)
if(SMILE_WITH_MPI)
  target_link_libraries(smile_core INTERFACE MPI::MPI_CXX)
  target_compile_definitions(smile_core INTERFACE SMILE_WITH_MPI=1)
endif()

add_library(smile_${SMILE_BACKEND} INTERFACE)
add_library(smile::${SMILE_BACKEND} ALIAS smile_${SMILE_BACKEND})
set_target_properties(smile_${SMILE_BACKEND} PROPERTIES EXPORT_NAME ${SMILE_BACKEND})
target_include_directories(smile_${SMILE_BACKEND} INTERFACE
  "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/backends/${SMILE_BACKEND}/include>"
  "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
if(SMILE_BACKEND STREQUAL "onednn")
  target_link_libraries(smile_onednn INTERFACE smile_core DNNL::dnnl OpenMP::OpenMP_CXX)
  target_compile_definitions(smile_onednn INTERFACE SMILE_BACKEND_ONEDNN=1)
else()
  target_link_libraries(smile_cuda INTERFACE smile_core
    CUDA::cudart_static CUDA::cublas CUDA::cusolver CUDA::nvrtc CUDNN::cudnn)
  target_compile_definitions(smile_cuda INTERFACE SMILE_BACKEND_CUDA=1)
  if(SMILE_WITH_MPI)
    target_link_libraries(smile_cuda INTERFACE NCCL::nccl)
    target_compile_definitions(smile_cuda INTERFACE SMILE_WITH_NCCL=1)
  endif()
endif()

add_library(smile INTERFACE)
add_library(smile::smile ALIAS smile)
target_link_libraries(smile INTERFACE smile_${SMILE_BACKEND})
