#!/usr/bin/env bash
# The main job: installs what is missing, builds the smile program, and runs `smile compare`
# on packaged real data (ResNet-20 pretrained on MNIST, fine-tuned on Fashion-MNIST and the UCI
# digits with plain fine-tuning, mixup and SMILE over 3 seeds; a Table-1-style comparison).
# Arguments go to `smile compare`, e.g. scripts/run.sh --full.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SMILE_BUILD_DIR:-$here/build-run}"
export SMILE_DATA="${SMILE_DATA:-$here/.data}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"

"$here/scripts/install-deps.sh"
"$here/scripts/fetch-data.sh"
"$here/scripts/configure.sh" "$build" -DCMAKE_BUILD_TYPE=Release -DSMILE_BUILD_TESTS=OFF -DSMILE_BUILD_BENCH=OFF \
      -DSMILE_BUILD_EXAMPLES=ON -DSMILE_WITH_MPI=ON
cmake --build "$build" -j "$(nproc)" --target smile_cli
"$build/examples/smile" compare --out "$here/results" "$@"
