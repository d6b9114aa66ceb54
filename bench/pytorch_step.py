#!/usr/bin/python3
"""Times PyTorch (Debian's python3-torch) on the training-step configurations of bench_step,
on the same machine: forward + cross-entropy + backward + SGD(momentum 0.9, wd 1e-4), 200
classes, random data. Reports the median seconds per step, images/s, minor page faults per
step and peak RSS. Run it both as shipped and tuned (performance.md §3-4):

    /usr/bin/python3 bench/pytorch_step.py resnet50 224 48                       # as shipped, 2 threads
    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \\
    MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 \\
        /usr/bin/python3 bench/pytorch_step.py resnet50 224 48 --channels-last   # tuned
    ... --channels-last --autocast   # tuned, mixed precision (bfloat16 autocast)

bench/compare_pytorch.sh runs every configuration both ways next to bench_step."""
import argparse
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class BasicBlockA(nn.Module):
    """He et al.'s CIFAR basic block with the option-A (zero-padding) shortcut, as smile's resnet20."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.pad = stride, (cout - cin) // 2

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.stride == 1 and self.pad == 0 else F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(y + s)


class CifarResNet(nn.Module):
    def __init__(self, depth, num_classes):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for k in range(n):
                layers.append(BasicBlockA(cin, cout, stride if k == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def make(arch, classes):
    if arch in ("resnet18", "resnet34", "resnet50", "resnet101", "mobilenet_v2") or arch.startswith("efficientnet_b"):
        return getattr(torchvision.models, arch)(weights=None, num_classes=classes)
    return CifarResNet(int(arch[len("resnet"):]), classes)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("arch")
    p.add_argument("size", type=int)
    p.add_argument("batch", type=int)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--autocast", action="store_true", help='forward and loss under torch.autocast("cpu", torch.bfloat16)')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = make(a.arch, 200)
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.randint(0, 200, (a.batch,))
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    times, faults = [], []
    for _ in range(a.steps):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    med = statistics.median(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pytorch {a.arch} {a.size}px b{a.batch} {'channels_last' if a.channels_last else 'nchw'}{' autocast-bf16' if a.autocast else ''}: "
          f"{med:.3f} s/step [{min(times):.3f}-{max(times):.3f}] n={len(times)}, {a.batch / med:.1f} images/s, "
          f"{statistics.median(faults):.0f} faults/step, peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
