#!/usr/bin/env bash
# smile's training step next to PyTorch's on the same machine, for every bench_step
# configuration: PyTorch as shipped and tuned (jemalloc with decay off, channels_last), and tuned
# with torch.autocast("cpu", torch.bfloat16) next to smile's train_step_bf16.
# Needs Debian's PyTorch: scripts/install-deps.sh --pytorch. Usage: bench/compare_pytorch.sh [build dir]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$here/build}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"
jemalloc=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch, torchvision" 2>/dev/null ||
  { echo "compare_pytorch: needs Debian's PyTorch (scripts/install-deps.sh --pytorch)" >&2; exit 2; }

echo "== smile (bench_step, train_step and train_step_bf16)"
"$build/bench/bench_step" --benchmark_filter='train_step'
for config in "resnet20 32 128" "resnet18 64 48" "resnet50 224 48" "mobilenet_v2 224 48" "efficientnet_b0 224 48" "efficientnet_b4 224 48"; do
  # shellcheck disable=SC2086
  set -- $config
  echo "== PyTorch as shipped: $*"
  /usr/bin/python3 "$here/bench/pytorch_step.py" "$@"
  echo "== PyTorch tuned (jemalloc, channels_last): $*"
  LD_PRELOAD="$jemalloc" MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 \
    /usr/bin/python3 "$here/bench/pytorch_step.py" "$@" --channels-last
  echo "== PyTorch tuned, autocast bf16: $*"
  LD_PRELOAD="$jemalloc" MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 \
    /usr/bin/python3 "$here/bench/pytorch_step.py" "$@" --channels-last --autocast
done

echo "== smile (bench_bert)"
"$build/bench/bench_bert"
for size in small base; do
  echo "== PyTorch as shipped: BERT $size, sequence 128, batch 24"
  /usr/bin/python3 "$here/bench/pytorch_bert_step.py" "$size" 128 24
  echo "== PyTorch tuned (jemalloc): BERT $size, sequence 128, batch 24"
  LD_PRELOAD="$jemalloc" MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 \
    /usr/bin/python3 "$here/bench/pytorch_bert_step.py" "$size" 128 24
  echo "== PyTorch tuned (jemalloc), autocast bf16: BERT $size, sequence 128, batch 24"
  LD_PRELOAD="$jemalloc" MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 \
    /usr/bin/python3 "$here/bench/pytorch_bert_step.py" "$size" 128 24 --autocast
done
