#!/usr/bin/env python3
"""PyTorch column of the GPU check (scripts/gpu-check/README.md): ms per training step of the
models the check times on webgpu, in plain PyTorch, with the same batch, optimiser and AFT
regulariser as the engine (scripts/bench/pytorch_step.py: Adam 1e-3 on the model and 1e-2 on the
ρ logits s; loss = cross-entropy + 10 R(φ, ψ·sigmoid(s)) for AFT, cross-entropy for STL; ψ 512
random features):

  mlp       the demo MLP 784-128-64-10 on 28x28x1, batch 128 (pytorch_step.py's)
  cnn       conv 16, conv 32, dense 64 on 28x28x1, batch 128 (pytorch_step.py's)
  resnet18  torchvision's ResNet-18 layout, fine-tuned whole, BatchNorm in train mode, on
            64x64x3, batch 128, φ = the 512 pooled features
  vit-tiny  ViT-Tiny (patch 16, width 192, depth 12, 3 heads, MLP 768, pre-norm, class token) on
            224x224x3, batch 64, φ = the class token after the last norm

Data live on the device (random images, labels, ψ), so this is PyTorch at its best; float32 with
TF32 off unless --tf32 (WebGPU computes in float32). Each figure: warm-up steps, then timed runs
of n steps with the device synchronised before and after, n sized to about 0.3 s; the median of
three. Prints progress on stderr and one JSON object on stdout (and to --out):
{"torch", "device", "gpu", "tf32", "models": {name: {"stl_ms", "aft_ms", "aft_over_stl", ...}}}.

    python3 pytorch_cuda.py [--device cuda|cpu] [--models mlp,cnn,resnet18,vit-tiny] [--out F]
    python3 pytorch_cuda.py --device cpu --max-steps 1 [--batch 4]   # proves it runs, on any machine
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from pytorch_step import aft_distance, cnn, mlp  # noqa: E402  (the bench's models and regulariser)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet18Body(nn.Module):
    """torchvision's resnet18 up to the pooled features (the key names match too)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for i, c in enumerate((64, 128, 256, 512)):
            layers.append(nn.Sequential(BasicBlock(cin, c, 1 if i == 0 else 2), BasicBlock(c, c, 1)))
            cin = c
        self.layer1, self.layer2, self.layer3, self.layer4 = layers

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d // self.heads), dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViTTinyBody(nn.Module):
    """ViT-Tiny (timm's vit_tiny_patch16_224 shape) up to the class token after the last norm."""

    def __init__(self, size=224, patch=16, dim=192, depth=12, heads=3, hidden=768):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, hidden) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.norm(self.blocks(x))[:, 0]


# name: (body and head, input shape CHW, batch, what)
MODELS = {
    "mlp": (lambda: mlp(), (1, 28, 28), 128, "the demo MLP 784-128-64-10, batch 128"),
    "cnn": (lambda: cnn(), (1, 28, 28), 128, "conv 16, conv 32, dense 64, batch 128"),
    "resnet18": (lambda: (ResNet18Body(), nn.Linear(512, 10)), (3, 64, 64), 128, "ResNet-18 (torchvision layout) on 64x64x3, batch 128"),
    "vit-tiny": (lambda: (ViTTinyBody(), nn.Linear(192, 10)), (3, 224, 224), 64, "ViT-Tiny patch 16 on 224x224x3, batch 64"),
}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ms_per_step(name, method, device, max_steps, window_s=0.3, psi_width=512, batch=None):
    torch.manual_seed(0)
    make, shape, model_batch, _ = MODELS[name]
    batch = batch or model_batch
    body, head = make()
    body, head = body.to(device).train(), head.to(device).train()
    params = list(body.parameters()) + list(head.parameters())
    s = torch.zeros(psi_width, device=device, requires_grad=True)
    opt = torch.optim.Adam([{"params": params, "lr": 1e-3}, {"params": [s], "lr": 1e-2}])
    n = 2 * batch
    x = torch.rand(n, *shape, device=device)
    y = torch.randint(0, 10, (n,), device=device)
    psi = torch.randn(n, psi_width, device=device)
    state = {"i": 0}

    def step():
        k = (state["i"] * batch) % (n - batch + 1)
        state["i"] += 1
        xb, yb, pb = x[k : k + batch], y[k : k + batch], psi[k : k + batch]
        phi = body(xb)
        loss = F.cross_entropy(head(phi), yb)
        if method == "aft":
            loss = loss + 10.0 * aft_distance(phi, pb * torch.sigmoid(s))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def timed(steps):
        sync(device)
        t = time.perf_counter()
        for _ in range(steps):
            step()
        sync(device)
        return time.perf_counter() - t

    first = timed(1)  # kernels chosen, memory allocated
    timed(min(3, max_steps))
    per = timed(min(2, max_steps)) / min(2, max_steps)
    steps = max(1, min(max_steps, round(window_s / max(per, 1e-6))))
    runs = sorted(timed(steps) * 1000 / steps for _ in range(3))
    return runs[1], first * 1000, steps


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated: " + ",".join(MODELS))
    p.add_argument("--max-steps", type=int, default=200, help="at most this many steps per timed run")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    p.add_argument("--batch", type=int, default=0, help="every model at this batch instead of its own (a quick run that proves the code, not a comparable figure)")
    p.add_argument("--tf32", action="store_true", help="allow TF32 in matrix products and convolutions")
    p.add_argument("--out", help="also write the JSON here")
    a = p.parse_args()
    names = [m.strip() for m in a.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    if a.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but torch.cuda.is_available() is False", file=sys.stderr)
        sys.exit(1)
    device = torch.device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    try:  # PyTorch 2.9 and later
        torch.backends.cuda.matmul.fp32_precision = "tf32" if a.tf32 else "ieee"
        torch.backends.cudnn.conv.fp32_precision = "tf32" if a.tf32 else "ieee"
    except Exception:  # older ones refuse the unknown attribute (AttributeError, AssertionError)
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32
    torch.backends.cudnn.benchmark = True
    out = {
        "torch": torch.__version__,
        "device": a.device,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
        "threads": torch.get_num_threads(),
        "tf32": a.tf32,
        "note": "data on the device; float32" + (" with TF32" if a.tf32 else ", TF32 off"),
        "models": {},
    }
    t0 = time.perf_counter()
    for name in names:
        entry = {"what": MODELS[name][3], "batch": a.batch or MODELS[name][2]}
        try:
            for method in ("stl", "aft"):
                ms, first, steps = ms_per_step(name, method, device, a.max_steps, batch=a.batch or None)
                entry[f"{method}_ms"] = round(ms, 3)
                entry[f"{method}_first_step_ms"] = round(first, 1)
                entry[f"{method}_steps_per_run"] = steps
                print(f"[{time.perf_counter() - t0:5.1f} s] {name} {method}: {ms:.3f} ms/step (first step {first:.0f} ms)", file=sys.stderr, flush=True)
            entry["aft_over_stl"] = round(entry["aft_ms"] / entry["stl_ms"], 3)
        except Exception as e:  # a model that fails is said, the others still run
            entry["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            print(f"{name}: {entry['error']}", file=sys.stderr, flush=True)
        out["models"][name] = entry
    out["seconds"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(out)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
