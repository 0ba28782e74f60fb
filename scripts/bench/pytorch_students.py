#!/usr/bin/python3
"""
The PyTorch reference for `npm run bench:train`'s pretrained-student rows: milliseconds per
training step (forward, backward, Adam) with cross-entropy only (STL) and with the AFT
linear-kernel regulariser (ψ: 512 features, learned ρ), on the CPU at a given thread count
(default 1: what tfjs's wasm backend uses in Node), and the process's peak resident memory, of

  resnet18  torchvision's resnet18 (10 classes, random weights), batch 32, 64x64;
  vit-tiny  timm's vit_tiny_patch16_224 (10 classes, random weights; the plain-PyTorch ViT with
            timm's names and semantics of test/fixtures/students/make_vit.py), batch 16, 224x224;
  effnet-b0 timm's efficientnet_b0 (10 classes, random weights; the plain-PyTorch EfficientNet of
            test/fixtures/students/make_effnet.py), batch 32, 64x64;
  bert-small  google/bert_uncased_L-4_H-512_A-8's shape (10 classes, random weights; the
            plain-PyTorch BERT with transformers' names and semantics of make_bert.py), batch 16
            of 64 token ids, the last 8 padded, dropout 0.1 as BERT's config has it.

Run it by hand with Debian's python3-torch 1.13 and python3-torchvision 0.14 (nothing is
downloaded):

    /usr/bin/python3 scripts/bench/pytorch_students.py [--model resnet18] [--threads 1] [--steps 10] [--json]
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F
import torchvision

# The regulariser of the MLP/CNN reference (the same script folder): one definition.
from pytorch_step import aft_distance, blas_library

# The ViT the parity fixtures are made with: one definition.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'students'))
from make_vit import build  # noqa: E402
from make_effnet import EfficientNet  # noqa: E402
from make_bert import BertForSequenceClassification  # noqa: E402

BERT_SMALL = {'vocab_size': 30522, 'hidden_size': 512, 'num_hidden_layers': 4, 'num_attention_heads': 8,
              'intermediate_size': 2048, 'max_position_embeddings': 512, 'type_vocab_size': 2,
              'layer_norm_eps': 1e-12, 'hidden_dropout_prob': 0.1, 'attention_probs_dropout_prob': 0.1,
              'pad_token_id': 0, 'id2label': {str(i): f'LABEL_{i}' for i in range(10)}}


def resnet_features(model, x):
    x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    x = model.layer4(model.layer3(model.layer2(model.layer1(x))))
    return torch.flatten(model.avgpool(x), 1)


# name: (model, φ, φ's width, batch, size)
MODELS = {
    'resnet18': (lambda: torchvision.models.resnet18(num_classes=10), resnet_features, lambda m: m.fc, 512, 32, 64),
    'vit-tiny': (lambda: build('vit_tiny_patch16_224', 10, {}), lambda m, x: m.features(x), lambda m: m.head, 192, 16,
                 224),
    'effnet-b0': (lambda: EfficientNet(10), lambda m, x: m.features(x), lambda m: m.classifier, 1280, 32, 64),
    # The head of BERT is the pooler (tanh) then the classifier, on φ (the [CLS] token's state).
    'bert-small': (lambda: BertForSequenceClassification(BERT_SMALL), lambda m, x: m.features(*x),
                   lambda m: lambda phi: m.classifier(m.dropout(torch.tanh(m.bert.pooler.dense(phi)))), 512, 16, 64),
}


def inputs(name, batch, size):
    if name != 'bert-small':
        return torch.randn(batch, 3, size, size)
    ids = torch.randint(5, BERT_SMALL['vocab_size'], (batch, size))
    mask = torch.ones(batch, size, dtype=torch.long)
    mask[:, size - size // 8:] = 0
    return ids, mask


def ms_per_step(name, method, steps, clock=time.perf_counter):
    make, features, head, _, batch, size = MODELS[name]
    torch.manual_seed(0)
    model = make()
    model.train()
    rho = torch.zeros(512, requires_grad=True)
    opt = torch.optim.Adam([{'params': model.parameters(), 'lr': 1e-3}, {'params': [rho], 'lr': 1e-2}])
    x = inputs(name, batch, size)
    y = torch.arange(batch) % 10
    psi = torch.randn(batch, 512)

    def step():
        opt.zero_grad(set_to_none=True)
        phi = features(model, x)
        loss = F.cross_entropy(head(model)(phi), y)
        if method == 'aft':
            loss = loss + 10 * aft_distance(phi, psi * torch.sigmoid(rho))
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    times = []
    for _ in range(3):
        t0 = clock()
        for _ in range(steps):
            step()
        times.append((clock() - t0) * 1000 / steps)
    return sorted(times)[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--model', choices=list(MODELS), default='resnet18')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--json', action='store_true')
    # The process's CPU time instead of wall time (as the engine's --cpu-time): at one thread, the
    # other processes of a busy machine inflate it far less.
    p.add_argument('--cpu-time', action='store_true')
    a = p.parse_args()
    clock = time.process_time if a.cpu_time else time.perf_counter
    torch.set_num_threads(a.threads)
    _, _, _, _, batch, size = MODELS[a.model]
    out = {'torch': torch.__version__, 'model': a.model, 'threads': a.threads, 'batch': batch, 'size': size}
    for m in ('stl', 'aft'):
        out[f'{m}_ms'] = round(ms_per_step(a.model, m, a.steps, clock), 1)
    out['peak_rss_mb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out['blas'] = blas_library()
    if not a.json:
        shape = f'{size} tokens' if a.model == 'bert-small' else f'{size}x{size}'
        print(f"pytorch {out['torch']} {a.model} batch {batch} {shape}, {a.threads} thread(s): "
              f"stl {out['stl_ms']} ms/step, aft {out['aft_ms']} ms/step, peak RSS {out['peak_rss_mb']} MB")
    print(json.dumps(out))


if __name__ == '__main__':
    main()
