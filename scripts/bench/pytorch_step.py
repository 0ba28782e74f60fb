#!/usr/bin/env python3
"""PyTorch reference for `npm run bench:train -- --pytorch`: ms per training step of the same
models, batch, optimiser and AFT regulariser as the engine's benchmark (sidecar/src/bench), on the
CPU with the same number of threads. Optional: it needs PyTorch (Debian's python3-torch works:
run with /usr/bin/python3). Prints one JSON object: {"torch", "threads", "mlp": {...}, "cnn": {...}}.

The regulariser is the AFT linear-kernel distance of sidecar/src/methods/regularizers.ts
(centre columns, L2-normalise rows, K = a aᵀ, R = sqrt(mean((K − Kψ)²) + 1e-8)) with ψ weighted by
sigmoid(s); loss = cross-entropy + β R; Adam on the model and on s.
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp(hidden=(128, 64), inputs=784, classes=10):
    layers, width = [], inputs
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(nn.Flatten(), *layers), nn.Linear(width, classes)


def cnn(channels=(16, 32), hidden=(64,), classes=10):
    layers, c, side = [], 1, 28
    for out in channels:
        layers += [nn.Conv2d(c, out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c, side = out, side // 2
    width = c * side * side
    layers.append(nn.Flatten())
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers), nn.Linear(width, classes)


def blas_library():
    """The BLAS library this process loaded (Linux), for the figures' record. Debian's python3-torch
    links the generic libblas.so.3: installed without recommends, that is the reference BLAS, and
    the MLP's step reads ~17 ms instead of ~1.5 (libopenblas0-pthread makes it OpenBLAS)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    except OSError:
        return None
    real = sorted({os.path.realpath(p) for p in paths})
    return ", ".join(real) or None


def normalise(a):
    c = a - a.mean(0, keepdim=True)
    return c / (c.norm(dim=1, keepdim=True) + 1e-8)


def aft_distance(phi, psi_weighted):
    a, b = normalise(phi), normalise(psi_weighted)
    return torch.sqrt(((a @ a.T - b @ b.T) ** 2).mean() + 1e-8)


def ms_per_step(name, method, steps, batch=128, psi_width=512, clock=time.perf_counter):
    torch.manual_seed(0)
    body, head = mlp() if name == "mlp" else cnn()
    params = list(body.parameters()) + list(head.parameters())
    s = torch.zeros(psi_width, requires_grad=True)
    opt = torch.optim.Adam([{"params": params, "lr": 1e-3}, {"params": [s], "lr": 1e-2}])
    x = torch.rand(1024, 1, 28, 28)
    y = torch.randint(0, 10, (1024,))
    psi = torch.randn(1024, psi_width)

    def step(i):
        k = (i * batch) % (1024 - batch)
        xb, yb, pb = x[k : k + batch], y[k : k + batch], psi[k : k + batch]
        phi = body(xb)
        loss = F.cross_entropy(head(phi), yb)
        if method == "aft":
            loss = loss + 10.0 * aft_distance(phi, pb * torch.sigmoid(s))
        opt.zero_grad()
        loss.backward()
        opt.step()

    for i in range(8):  # warm-up
        step(i)
    # As the engine's benchmark: the median of single steps' durations, which a pause on a shared
    # machine cannot sway (the difference of runs of n and 2n steps read 17 ms for a 1.3 ms step).
    times = []
    for i in range(steps):
        start = clock()
        step(i)
        times.append((clock() - start) * 1000)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=40)
    # The process's CPU time instead of wall time (as the engine's --cpu-time): at one thread, the
    # step's work however busy the machine is.
    p.add_argument("--cpu-time", action="store_true")
    a = p.parse_args()
    clock = time.process_time if a.cpu_time else time.perf_counter
    torch.set_num_threads(a.threads)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    for name in ("mlp", "cnn"):
        n = max(8, round(a.steps / 4)) * 2 if name == "cnn" else a.steps * 4
        stl, aft = ms_per_step(name, "stl", n, clock=clock), ms_per_step(name, "aft", n, clock=clock)
        out[name] = {"stl_ms": round(stl, 2), "aft_ms": round(aft, 2)}
    out["blas"] = blas_library()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
