#!/usr/bin/python3
"""Times PyTorch (Debian's python3-torch) on bench_bert's plain fine-tuning step, on the same
machine: the plain-PyTorch BERT of tests/fixtures/make_bert_fixtures.py (Hugging Face's module
names and arithmetic; there is no transformers package here) in training mode with dropout 0.1,
forward, cross-entropy, backward, clip_grad_norm_(1.0), AdamW (weight decay 0.01, none on
biases and LayerNorm weights) and the linear warm-up schedule. Random ids, full-length
sequences. Reports the median seconds per step and sequences/s.

    /usr/bin/python3 bench/pytorch_bert_step.py small 128 24           # as shipped
    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \\
    MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 \\
        /usr/bin/python3 bench/pytorch_bert_step.py base 128 24        # tuned
"""
import argparse
import os
import resource
import statistics
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
from make_bert_fixtures import BertForSequenceClassification, hf_config  # noqa: E402

SIZES = {"small": (256, 4, 4, 1024), "base": (768, 12, 12, 3072)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("size", choices=SIZES)
    p.add_argument("length", type=int)
    p.add_argument("batch", type=int)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--autocast", action="store_true", help='forward and loss under torch.autocast("cpu", torch.bfloat16)')
    a = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count())))
    hidden, layers, heads, inner = SIZES[a.size]
    config = hf_config(hidden, layers, heads, inner, 30522, 512, 5)
    model = BertForSequenceClassification(config).train()
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm.weight" in n]
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm.weight" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=2e-5, eps=1e-8)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: k / 100 if k < 100 else max(0.0, (1000 - k) / 900))
    ids = torch.randint(1000, 30522, (a.batch, a.length))
    ids[:, 0] = 101
    types = torch.zeros_like(ids)
    mask = torch.ones_like(ids)
    labels = torch.randint(0, 5, (a.batch,))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast):
            logits, _, _ = model(ids, types, mask)
            loss = nn.functional.cross_entropy(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()

    step()
    step()
    times = []
    for _ in range(a.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pytorch bert {a.size} s{a.length} b{a.batch}{' autocast-bf16' if a.autocast else ''}: {median * 1000:.0f} ms/step, "
          f"{a.batch / median:.1f} sequences/s, peak RSS {peak:.0f} MB, threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
