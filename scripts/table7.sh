#!/usr/bin/env bash
# The paper's Table 7 protocol on a user's BERT and SST-5: every text method (FT, mixup, L2-SP,
# BSS, SMILE) fine-tuned with `smile finetune --arch bert --preset sst5` over several seeds, one
# run folder each under OUT, then a table of test top-1 (mean ± sample std over seeds, and each
# method's mean paired difference to FT) as OUT/table7.md and OUT/table7.csv. Resumable: a run
# whose summary.json exists is kept, an interrupted one continues from its checkpoint.
#
#   scripts/table7.sh --model-config bert-base-uncased/config.json \
#       --weights bert-base-uncased/model.safetensors --vocab bert-base-uncased/vocab.txt \
#       --root stanfordSentimentTreebank [--format sst5] [--seeds "0 1 2"] \
#       [--methods "finetune mixup l2sp bss smile"] [--out runs/table7] [-- more finetune options]
#
# Needs the smile program (SMILE, default build/examples/smile) and python3 for the table.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
smile="${SMILE:-$here/build/examples/smile}"
config="" weights="" vocab="" root="" format="sst5" seeds="0 1 2" out="runs/table7"
methods="finetune mixup l2sp bss smile"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model-config) config="$2"; shift 2 ;;
    --weights) weights="$2"; shift 2 ;;
    --vocab) vocab="$2"; shift 2 ;;
    --root) root="$2"; shift 2 ;;
    --format) format="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --methods) methods="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "table7.sh: unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
for v in config weights vocab root; do
  if [ -z "${!v}" ]; then echo "table7.sh: --${v/config/model-config} is required" >&2; exit 2; fi
done
[ -x "$smile" ] || { echo "table7.sh: no smile program at $smile (build it, or set SMILE)" >&2; exit 2; }
mkdir -p "$out"
for method in $methods; do
  for seed in $seeds; do
    run="$out/$method-s$seed"
    if [ -f "$run/summary.json" ]; then echo "table7.sh: $run is done"; continue; fi
    resume=(); [ -f "$run/checkpoint-last.safetensors" ] && resume=(--resume)
    echo "table7.sh: $method, seed $seed -> $run"
    "$smile" finetune --arch bert --preset sst5 --model-config "$config" --weights "$weights" \
      --vocab "$vocab" --format "$format" --root "$root" --method "$method" --seed "$seed" \
      --output-dir "$run" --progress lines "${resume[@]}" "${extra[@]}"
  done
done
python3 - "$out" $methods -- $seeds <<'EOF'
import json, math, sys
out = sys.argv[1]
split = sys.argv.index("--")
methods, seeds = sys.argv[2:split], sys.argv[split + 1:]
def top1(method, seed, key):
    with open(f"{out}/{method}-s{seed}/summary.json") as f:
        s = json.load(f)
    return 100 * s[key]["top1"] if key in s else float("nan")
def mean_std(v):
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return m, sd
rows = []
base = [top1(methods[0], s, "test") for s in seeds]
for method in methods:
    last = [top1(method, s, "test") for s in seeds]
    best = [top1(method, s, "test_of_best") for s in seeds]
    m, sd = mean_std(last)
    bm, bsd = mean_std(best)
    dm, dsd = mean_std([a - b for a, b in zip(last, base)])
    rows.append((method, m, sd, bm, bsd, dm, dsd))
with open(f"{out}/table7.csv", "w") as f:
    f.write("method,test_top1_mean,test_top1_std,test_of_best_mean,test_of_best_std,"
            f"paired_diff_to_{methods[0]}_mean,paired_diff_std,seeds\n")
    for r in rows:
        f.write(",".join([r[0]] + [f"{x:.4f}" for x in r[1:]] + [str(len(seeds))]) + "\n")
with open(f"{out}/table7.md", "w") as f:
    f.write(f"Test top-1 (%) over seeds {' '.join(seeds)}: final network; network selected on dev; "
            f"mean paired difference to {methods[0]}.\n\n")
    f.write(f"| method | test top-1 | selected on dev | vs {methods[0]} |\n|---|---|---|---|\n")
    for r in rows:
        f.write(f"| {r[0]} | {r[1]:.2f} ± {r[2]:.2f} | {r[3]:.2f} ± {r[4]:.2f} | {r[5]:+.2f} ± {r[6]:.2f} |\n")
print(open(f"{out}/table7.md").read())
EOF
