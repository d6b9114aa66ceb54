#!/usr/bin/env bash
# The CUDA backend's checks on a machine with an NVIDIA GPU, in two steps so that the build can
# happen where the toolkit is and the run where the GPU is:
#
#   scripts/gpu-check.sh pack [dir]   build the CUDA flavour into dir (default build-gpu) and
#                                     gather its programs and the non-CUDA shared libraries
#                                     they need into dir-pack (about 40 MB), the folder to copy
#   scripts/gpu-check.sh run  [dir]   on the GPU machine, from dir-pack: the test suite on the GPU
#                                     (conformance against the float64 reference backend, with
#                                     SMILE_CUDA_TF32=0), then the step and method benchmarks
#
# The GPU machine must provide the CUDA 13 libraries (cuBLAS, cuDNN 9, cuSOLVER, NVRTC): from
# /usr/local/cuda, or from the Python wheels nvidia-* that PyTorch installs, which `run` finds.
# On a machine with both toolkit and GPU, `pack` then `run` in place is the same thing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
step="${1:-}"
build="${2:-$here/build-gpu}"

case "$step" in
pack)
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSMILE_BACKEND=cuda \
        -DSMILE_BUILD_TESTS=ON -DSMILE_BUILD_EXAMPLES=ON -DSMILE_BUILD_BENCH=ON >/dev/null
  cmake --build "$build" -j "${SMILE_JOBS:-$(nproc)}"
  # The programs, in the build's layout, and everything they load that is neither the C/C++
  # runtime nor a CUDA library (the GPU machine brings its own of those, matching its driver).
  pack="$build-pack"
  rm -rf "$pack" && mkdir -p "$pack/lib"
  cp "$build/CMakeCache.txt" "$pack/"
  for area in tests bench examples; do
    mkdir -p "$pack/$area"
    find "$build/$area" -maxdepth 1 -type f -executable -exec cp -t "$pack/$area" {} +
  done
  find "$pack" -type f -executable -print0 | xargs -0 ldd | awk '$3 ~ /^\// {print $3}' | sort -u |
    grep -Ev '/(libc|libm|libstdc\+\+|libgcc_s|libdl|librt|libpthread|libresolv)\.so|lib(cu|nv)[a-zA-Z]*\.so' |
    xargs -r cp -L -t "$pack/lib"
  echo "packed $pack ($(du -sh "$pack" | cut -f1)); copy it and run: scripts/gpu-check.sh run ${build#"$here"/}"
  ;;
run)
  pack="$build-pack"
  [ -d "$pack/tests" ] || { echo "gpu-check: no packed CUDA build in $pack; run 'scripts/gpu-check.sh pack' first" >&2; exit 2; }
  # The programs hold absolute paths (test fixtures, the smile program the CLI tests run): when
  # they were built elsewhere, make those paths lead here and to the pack.
  configured_source="$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$pack/CMakeCache.txt")"
  configured_build="$(sed -n 's/^CMAKE_CACHEFILE_DIR:INTERNAL=//p' "$pack/CMakeCache.txt")"
  if [ ! -e "$configured_source" ]; then mkdir -p "$(dirname "$configured_source")" && ln -s "$here" "$configured_source"; fi
  if [ ! -e "$configured_build" ]; then mkdir -p "$(dirname "$configured_build")" && ln -s "$pack" "$configured_build"; fi
  build="$configured_build"
  wheel_libs="$(python3 - <<'EOF' 2>/dev/null || true
import glob, os
try:
    import nvidia
    roots = list(nvidia.__path__)
except ImportError:
    roots = []
print(":".join(sorted({os.path.dirname(p) for r in roots for p in glob.glob(os.path.join(r, "**", "lib*.so*"), recursive=True)})))
EOF
)"
  export LD_LIBRARY_PATH="$pack/lib:${wheel_libs}:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  status=0
  echo "== GPU test suite"
  for t in "$build"/tests/test_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    echo "-- $(basename "$t")"
    SMILE_CUDA_TF32=0 "$t" --no-intro=true || status=1
  done
  echo "== benchmarks (TF32 on, as PyTorch's default for convolutions)"
  "$build/bench/bench_step" || status=1
  "$build/bench/bench_methods" || status=1
  exit $status
  ;;
*)
  echo "usage: scripts/gpu-check.sh pack|run [build directory, default build-gpu]" >&2
  exit 2
  ;;
esac
