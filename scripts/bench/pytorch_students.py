#!/usr/bin/python3
"""
The PyTorch reference for `npm run bench:train`'s ResNet-18 row: milliseconds per training step
(forward, backward, Adam) of torchvision's resnet18 (10 classes, random weights) at batch 32 on
64x64 inputs, with cross-entropy only (STL) and with the AFT linear-kernel regulariser (ψ: 512
features, learned ρ), on the CPU at a given thread count (default 1: what tfjs's wasm backend
uses in Node), and the process's peak resident memory. Run it by hand with Debian's
python3-torch 1.13 and python3-torchvision 0.14 (nothing is downloaded):

    /usr/bin/python3 scripts/bench/pytorch_resnet.py [--threads 1] [--steps 10] [--json]
"""
import argparse
import json
import resource
import time

import torch
import torch.nn.functional as F
import torchvision

# The regulariser of the MLP/CNN reference (the same script folder): one definition.
from pytorch_step import aft_distance


def features(model, x):
    x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    x = model.layer4(model.layer3(model.layer2(model.layer1(x))))
    return torch.flatten(model.avgpool(x), 1)


def ms_per_step(method, batch, size, steps):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    model.train()
    rho = torch.zeros(512, requires_grad=True)
    opt = torch.optim.Adam([{'params': model.parameters(), 'lr': 1e-3}, {'params': [rho], 'lr': 1e-2}])
    x = torch.randn(batch, 3, size, size)
    y = torch.arange(batch) % 10
    psi = torch.randn(batch, 512)

    def step():
        opt.zero_grad(set_to_none=True)
        phi = features(model, x)
        loss = F.cross_entropy(model.fc(phi), y)
        if method == 'aft':
            loss = loss + 10 * aft_distance(phi, psi * torch.sigmoid(rho))
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - t0) * 1000 / steps)
    return sorted(times)[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--size', type=int, default=64)
    p.add_argument('--json', action='store_true')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    out = {'torch': torch.__version__, 'threads': a.threads, 'batch': a.batch, 'size': a.size}
    for m in ('stl', 'aft'):
        out[f'{m}_ms'] = round(ms_per_step(m, a.batch, a.size, a.steps), 1)
    out['peak_rss_mb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if not a.json:
        print(f"pytorch {out['torch']} resnet18 batch {a.batch} {a.size}x{a.size}, {a.threads} thread(s): "
              f"stl {out['stl_ms']} ms/step, aft {out['aft_ms']} ms/step, peak RSS {out['peak_rss_mb']} MB")
    print(json.dumps(out))


if __name__ == '__main__':
    main()
