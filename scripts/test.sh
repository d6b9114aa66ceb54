#!/usr/bin/env bash
# Installs what is missing, builds everything with warnings as errors, and runs the tests:
#   1. the CPU (oneDNN) build: library tests, examples, benchmarks; ctest without GPU tests
#   2. an install of the package and a downstream project built against it
#   3. the CUDA flavour of the program, the op conformance test and the benchmarks, compiled and
#      linked (there is no GPU to run them on here)
#   (1 and 3 with SMILE_WITH_MPI: the data-parallel tests run the program under mpirun -np 2)
#   4. the whole CPU test suite again under AddressSanitizer + UndefinedBehaviorSanitizer,
#      fuzz corpora and regression inputs included (SMILE_SKIP_SANITIZERS=1 skips it)
# Usage: scripts/test.sh [build directory, default build-ci]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$here/build-ci}"
jobs="${SMILE_JOBS:-$(nproc)}"
export SMILE_DATA="${SMILE_DATA:-$here/.data}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"

# Each stage's start and the elapsed time, so a slow CI run says where its time went.
stage() { echo "== $1 (at $((SECONDS / 60)) min $((SECONDS % 60)) s)"; }

"$here/scripts/install-deps.sh"
"$here/scripts/fetch-data.sh"

stage "CPU build (oneDNN)"
"$here/scripts/configure.sh" "$build" -DCMAKE_BUILD_TYPE=Release -DSMILE_BACKEND=onednn -DSMILE_WARNINGS_AS_ERRORS=ON \
      -DSMILE_BUILD_TESTS=ON -DSMILE_BUILD_EXAMPLES=ON -DSMILE_BUILD_BENCH=ON -DSMILE_WITH_MPI=ON
cmake --build "$build" -j "$jobs"

stage "downstream project against an installed copy"
prefix="$(mktemp -d)"; consumer="$(mktemp -d)"
trap 'rm -rf "$prefix" "$consumer"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
cmake -S "$here/tests/install" -B "$consumer" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$consumer" -j "$jobs" >/dev/null
"$consumer/consumer"

if [ -x /usr/local/cuda/bin/nvcc ]; then
  stage "CUDA build (compile and link only)"
  # -O1: nothing built here runs (there is no GPU), and GCC 12 compiles a file in about two thirds
  # of its -O3 time (docs/building.md); scripts/gpu-check.sh builds -O3 where it runs.
  "$here/scripts/configure.sh" "$build-cuda" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
        -DSMILE_BACKEND=cuda -DSMILE_WARNINGS_AS_ERRORS=ON \
        -DSMILE_BUILD_TESTS=ON -DSMILE_BUILD_EXAMPLES=ON -DSMILE_BUILD_BENCH=ON -DSMILE_WITH_MPI=ON
  # What instantiates the CUDA backend whole: the program (every family, method and subcommand),
  # the op conformance test (every op of every part), the benchmarks and the host checks. The
  # other tests are the generic code the CPU stage compiles, over the same Backend concept;
  # scripts/gpu-check.sh builds and runs all of them where there is a GPU. The whole build took
  # this stage 13 min 46 s on 2026-12-02.
  cmake --build "$build-cuda" -j "$jobs" --target smile_cli test_backend test_cuda_host bench_step bench_methods \
        bench_conv bench_data
  (cd "$build-cuda" && ctest -L cuda-host --output-on-failure)
else
  echo "== CUDA build skipped: no CUDA toolkit under /usr/local/cuda"
fi

# One test at a time: each test already uses every core through OpenMP (OMP_NUM_THREADS in
# its environment), and two such tests side by side on 2 cores make libgomp's spin-waiting
# threads starve each other: the suite took 8 min 13 s with -j2 against 31 s with -j1
# (2026-12-02, this machine).
stage "tests"
cd "$build"
ctest -LE gpu --output-on-failure -j 1

if [ "${SMILE_SKIP_SANITIZERS:-0}" != 1 ]; then
  stage "sanitizers: the CPU test suite under AddressSanitizer + UndefinedBehaviorSanitizer"
  # -O1 keeps the instrumented build and its run short; oneDNN itself is not instrumented. The
  # UndefinedBehaviorSanitizer checks are SMILE_UBSAN_CHECKS' default (CMakeLists.txt: null and
  # alignment checks on every pointer use made each file compile 1.65x as long). Without
  # MPI: Open MPI's own allocations at exit are reported as leaks (its data-parallel tests run in
  # the CPU stage). A precompiled header: an instrumented file compiled in 39 s instead of 62 s
  # with it (docs/building.md). Warnings are the CPU stage's job, not errors here: with the
  # precompiled header GCC 12 inlines std::string concatenations in new places and reports its
  # known false positives about them (-Wstringop-overflow, -Warray-bounds; PR105329 family).
  "$here/scripts/configure.sh" "$build-asan" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
        -DSMILE_SANITIZE=ON -DSMILE_WARNINGS_AS_ERRORS=OFF -DSMILE_PRECOMPILED_HEADERS=ON \
        -DSMILE_BUILD_TESTS=ON -DSMILE_BUILD_EXAMPLES=ON -DSMILE_BUILD_BENCH=OFF
  cmake --build "$build-asan" -j "$jobs"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
  export LSAN_OPTIONS="suppressions=$here/tests/sanitizer-suppressions.txt:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  (cd "$build-asan" && ctest -LE gpu --output-on-failure -j 1)
fi
stage "done"
