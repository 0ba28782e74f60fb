#!/usr/bin/python3
"""
Makes the `expected` values of the golden cases in test/golden/cases: float64 PyTorch
implementations of the paper's formulas, with gradients by autograd.

    /usr/bin/python3 test/golden/make_cases.py            # recompute; rewrite `expected` where it changed
    /usr/bin/python3 test/golden/make_cases.py --check    # recompute and compare, change nothing

Needs Debian's PyTorch (`apt-get install python3-torch python3-numpy`; run it with
/usr/bin/python3). It is a tool for maintainers, never a dependency of the product or its tests.

The inputs are taken from the committed case files and kept as they are: only the students were
drawn from a known seed (torch.manual_seed(1000 + i), randn in float64), and the rest of the
inputs cannot be redrawn bit for bit, so the files are the record of the inputs and this script
is the record of how `expected` follows from them. Each case is written back as
`json.dumps(case)` (no trailing newline), the layout the files already have.

--check prints, per case, the largest relative difference between the recomputed and the
committed values (scalars relative to themselves; each array relative to its largest entry,
floored at 1e-4, as the TypeScript golden test does) and exits with status 1 if any exceeds 1e-9.

The formulas (the product's float32 versions are in sidecar/src/methods/):
- aft: features centred per column, each row divided by (its L2 norm + 1e-8); kernel K = a aᵀ
  (linear) or exp(−‖a_i − a_j‖²) (rbf); R = sqrt(mean((K_φ − K_ψ')²) + 1e-8) with
  ψ' = ψ ⊙ sigmoid(s) (rho diagonal-sigmoid) or ψ' = ψ S (rho dense); gradients for the
  student φ and for s or S.
- aft-no-kernel: mean((c(φ) − c(ψ Wᵀ + b))²), c = column centring, W is d×D; gradients for φ, W, b.
- kd (paper Eq. 7): mean((φ Wᵀ + b − ψ)²), W is D×d; gradients for φ, W, b.
- rkd (Park et al. 2019, relational KD): (L_dist + 2·L_angle) / 2, the reference RkdDistance
  plus twice RKdAngle, halved; the teacher ψ is constant; gradient for φ.
- btune (You et al. 2022): π = softmax(scores / T), target = Σ_i π_i ψ_i W_iᵀ,
  R = mean((φ W_dᵀ − target)²); gradient for φ.
- logme: the reference implementation's fixed-point iteration (thuml/LogME,
  `LogME._fit_fixed_point`): score and posterior-mean weights (K×D).
- ft (factor transfer as the AFT reference runs it): per source, the encoder d → d → d/2 → d/2
  with ReLU after every layer (the code too), codes concatenated (F wide); the translator
  φ → d → F → F, ReLU between layers; R = mean over rows of ‖n(T(φ)) − n(codes)‖₁ with the
  product's n(x) = x / sqrt(‖x‖² + 1e-6); gradients for φ and every translator weight.
- logreg (the fig. 6a probe on raw features): scikit-learn's multinomial
  `LogisticRegression(C)` (lbfgs, tol 1e-12) on the features as given; `weights` are
  [coef_ | intercept_] (K×(D+1)), `score` the test accuracy. Needs Debian's python3-sklearn.

`--new` first writes the inputs of the cases listed in NEW_CASES whose files are missing (drawn
from fixed torch seeds), then computes `expected` for every case as usual.
"""
import argparse
import json
import math
import os
import sys

import torch

torch.set_default_dtype(torch.float64)

HERE = os.path.dirname(os.path.abspath(__file__))
TOLERANCE = 1e-9
# An array is compared relative to its largest entry, but never to less than this: a gradient
# that is zero in theory (aft-no-kernel's grad.b, which the column centring cancels) holds only
# float64 round-off (~1e-17) whose digits depend on the summation order, so its own scale means
# nothing. The TypeScript golden test uses the same floor. Every other gradient in the cases is
# larger than 7e-4.
ARRAY_SCALE_FLOOR = 1e-4


def t(v):
    return torch.tensor(v, dtype=torch.float64)


def leaf(v):
    return t(v).requires_grad_(True)


def loss_and_grads(loss_fn, inputs):
    """{'loss': value, 'grad': {name: gradient}} of loss_fn(**inputs) for the named leaf inputs."""
    names = list(inputs)
    loss = loss_fn(**inputs)
    grads = torch.autograd.grad(loss, [inputs[n] for n in names])
    return {'loss': loss.item(), 'grad': {n: g.tolist() for n, g in zip(names, grads)}}


# ---- AFT -------------------------------------------------------------------------------------

def centre(a):
    return a - a.mean(dim=0, keepdim=True)


def centre_and_normalise(a):
    c = centre(a)
    return c / (c.norm(dim=1, keepdim=True) + 1e-8)


def kernel(an, kind):
    gram = an @ an.T
    if kind == 'linear':
        return gram
    if kind == 'rbf':
        sq = (an * an).sum(dim=1, keepdim=True)
        # ‖a_i − a_j‖², clamped at 0 against round-off (the diagonal).
        return torch.exp(-torch.relu(sq + sq.T - 2 * gram))
    raise ValueError(f'unknown kernel {kind!r}')


def aft_kernel_loss(phi, psi_weighted, kind):
    k_phi = kernel(centre_and_normalise(phi), kind)
    k_psi = kernel(centre_and_normalise(psi_weighted), kind)
    return torch.sqrt(((k_phi - k_psi) ** 2).mean() + 1e-8)


def aft(case):
    inp = case['inputs']
    kind = case.get('kernel', 'linear')
    psi = t(inp['pretrained'])
    if case.get('rho') == 'dense':
        return loss_and_grads(lambda student, S: aft_kernel_loss(student, psi @ S, kind),
                              {'student': leaf(inp['student']), 'S': leaf(inp['S'])})
    return loss_and_grads(lambda student, s: aft_kernel_loss(student, psi * torch.sigmoid(s), kind),
                          {'student': leaf(inp['student']), 's': leaf(inp['s'])})


def aft_no_kernel(case):
    inp = case['inputs']
    psi = t(inp['pretrained'])
    return loss_and_grads(lambda student, W, b: ((centre(student) - centre(psi @ W.T + b)) ** 2).mean(),
                          {'student': leaf(inp['student']), 'W': leaf(inp['W']), 'b': leaf(inp['b'])})


# ---- KD --------------------------------------------------------------------------------------

def kd(case):
    inp = case['inputs']
    psi = t(inp['pretrained'])
    return loss_and_grads(lambda student, W, b: ((student @ W.T + b - psi) ** 2).mean(),
                          {'student': leaf(inp['student']), 'W': leaf(inp['W']), 'b': leaf(inp['b'])})


# ---- RKD -------------------------------------------------------------------------------------

def pdist(e, eps=1e-12):
    """Pairwise Euclidean distances, squared distances clamped at eps, zero diagonal (reference `pdist`)."""
    sq = (e * e).sum(dim=1)
    d = (sq[:, None] + sq[None, :] - 2 * e @ e.T).clamp(min=eps).sqrt()
    return d * (1 - torch.eye(len(e)))


def unit_differences(e):
    """u[a, b] = (e_b − e_a) / max(‖e_b − e_a‖, 1e-12) (F.normalize; a zero difference stays zero)."""
    diff = e[None, :, :] - e[:, None, :]
    return diff / diff.norm(dim=2, keepdim=True).clamp(min=1e-12)


def smooth_l1(x, y):
    a = (x - y).abs()
    return torch.where(a < 1, 0.5 * a * a, a - 0.5).mean()


def rkd_loss(student, teacher):
    with torch.no_grad():
        td = pdist(teacher)
        td = td / td[td > 0].mean()
        tu = unit_differences(teacher)
        t_angle = torch.bmm(tu, tu.transpose(1, 2))
    sd = pdist(student)
    sd = sd / sd[sd > 0].mean()
    su = unit_differences(student)
    s_angle = torch.bmm(su, su.transpose(1, 2))
    return (smooth_l1(sd, td) + 2 * smooth_l1(s_angle, t_angle)) / 2


def rkd(case):
    inp = case['inputs']
    psi = t(inp['pretrained'])
    return loss_and_grads(lambda student: rkd_loss(student, psi), {'student': leaf(inp['student'])})


# ---- B-Tuning --------------------------------------------------------------------------------

def btune(case):
    inp = case['inputs']
    psi = t(inp['pretrained'])
    pi = torch.softmax(t(inp['logme_scores']) / case['temperature'], dim=0)
    target = torch.zeros(psi.shape[0], len(inp['student_logme_weights']))
    start = 0
    for i, (di, w) in enumerate(zip(inp['feature_dims'], inp['logme_weights'])):
        target = target + pi[i] * (psi[:, start:start + di] @ t(w).T)
        start += di
    assert start == psi.shape[1], 'feature_dims must sum to the width of pretrained'
    wd = t(inp['student_logme_weights'])
    return loss_and_grads(lambda student: ((student @ wd.T - target) ** 2).mean(), {'student': leaf(inp['student'])})


# ---- LogME -----------------------------------------------------------------------------------

def logme_fixed_point(f, labels):
    """Score and K×D weights, as thuml/LogME `LogME._fit_fixed_point` computes them."""
    n, dim = f.shape
    if n > dim:
        # the reference's truncated_svd: eigenvectors of FᵀF, rank cut at singular values 1e-10
        _, s, vh = torch.linalg.svd(f.T @ f)
        s = s.sqrt()
        k = int((s > 1e-10).sum())
        s, vh = s[:k], vh[:k]
        u = (f @ vh.T) / s[None, :]
    else:
        u, s, vh = torch.linalg.svd(f, full_matrices=False)
    s = s[:, None]
    sigma = s ** 2
    evidences, weights = [], []
    for c in range(int(labels.max()) + 1):
        y = (labels == c).to(torch.float64)[:, None]
        x = u.T @ y
        x2 = x ** 2
        res_x2 = (y ** 2).sum() - x2.sum()
        alpha, beta = 1.0, 1.0
        for _ in range(11):
            lam = alpha / beta
            gamma = (sigma / (sigma + lam)).sum().item()
            m2 = (sigma * x2 / ((lam + sigma) ** 2)).sum().item()
            res2 = ((x2 / ((1 + sigma / lam) ** 2)).sum() + res_x2).item()
            alpha = gamma / (m2 + 1e-5)
            beta = (n - gamma) / (res2 + 1e-5)
            if abs(alpha / beta - lam) / lam <= 1e-3:
                break
        # As the reference: the evidence at the final α, β with m2 and res2 of the last λ, and
        # the weights at that λ.
        evidence = (dim / 2.0 * math.log(alpha) + n / 2.0 * math.log(beta)
                    - 0.5 * torch.log(alpha + beta * sigma).sum().item()
                    - beta / 2.0 * res2 - alpha / 2.0 * m2 - n / 2.0 * math.log(2 * math.pi)) / n
        m = (vh.T @ (s * x / (lam + sigma))).reshape(-1)
        evidences.append(evidence)
        weights.append(m)
    return sum(evidences) / len(evidences), torch.stack(weights)


def logme(case):
    inp = case['inputs']
    score, weights = logme_fixed_point(t(inp['features']), torch.tensor(inp['labels']))
    return {'score': score, 'weights': weights.tolist()}




# ---- Factor transfer -------------------------------------------------------------------------

FT_NORM_EPS = 1e-3  # the product's n(x) = x / sqrt(‖x‖² + ε²) (factorTransfer.ts NORM_EPS)


def mlp(x, layers, relu_last):
    """x W + b per layer ([W, b] with W in×out), ReLU between layers (and after the last with relu_last)."""
    for i, (w, b) in enumerate(layers):
        x = x @ w + b
        if relu_last or i + 1 < len(layers):
            x = torch.relu(x)
    return x


def ft_normalise(x):
    return x / torch.sqrt((x * x).sum(dim=1, keepdim=True) + FT_NORM_EPS ** 2)


def ft(case):
    inp = case['inputs']
    psi = t(inp['pretrained'])
    encoders = [[(t(w), t(b)) for w, b in enc] for enc in inp['encoders']]
    names = ['student'] + [f'translator{i}_{p}' for i in range(len(inp['translator'])) for p in ('w', 'b')]
    leaves = [leaf(inp['student'])] + [leaf(v) for layer in inp['translator'] for v in layer]

    def loss(student, *translator):
        parts, offset = [], 0
        for width, enc in zip(inp['feature_dims'], encoders):
            parts.append(mlp(psi[:, offset:offset + width], enc, relu_last=True))
            offset += width
        factors = torch.cat(parts, dim=1)
        layers = list(zip(translator[0::2], translator[1::2]))
        prediction = mlp(student, layers, relu_last=False)
        return (ft_normalise(prediction) - ft_normalise(factors)).abs().sum(dim=1).mean()

    return loss_and_grads(lambda **kw: loss(*[kw[n] for n in names]), dict(zip(names, leaves)))


def new_ft_inputs(i):
    """A batch of 6: student φ 5 wide; sources 6 and 4 wide (case 2: one source, 6 wide)."""
    g = torch.Generator().manual_seed(3000 + i)
    dims = [6] if i == 2 else [6, 4]
    batch, d = 6, 5
    f = sum(w // 2 for w in dims)

    def layer(n_in, n_out):
        return [(torch.randn(n_in, n_out, generator=g) / n_in ** 0.5).tolist(),
                (0.1 * torch.randn(n_out, generator=g)).tolist()]
    return {
        'student': torch.randn(batch, d, generator=g).tolist(),
        'pretrained': torch.randn(batch, sum(dims), generator=g).tolist(),
        'feature_dims': dims,
        # The reference's encoder d → d → d/2 → d/2 (ReLU code) per source; translator d → d → F → F.
        'encoders': [[layer(w, w), layer(w, w // 2), layer(w // 2, w // 2)] for w in dims],
        'translator': [layer(d, d), layer(d, f), layer(f, f)],
    }


# ---- Logistic regression on raw features (fig. 6a probe) --------------------------------------

def logreg(case):
    """scikit-learn's LogisticRegression(C) on the features as given (no standardisation)."""
    # Imported here: only this method needs scikit-learn (Debian's python3-sklearn).
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    inp = case['inputs']
    x, y = np.array(inp['train_features'], dtype=np.float64), np.array(inp['train_labels'])
    model = LogisticRegression(C=case['C'], multi_class='multinomial', solver='lbfgs', tol=1e-12, max_iter=100000)
    model.fit(x, y)
    test_x, test_y = np.array(inp['test_features'], dtype=np.float64), np.array(inp['test_labels'])
    accuracy = float((model.predict(test_x) == test_y).mean())
    weights = np.concatenate([model.coef_, model.intercept_[:, None]], axis=1)
    return {'score': accuracy, 'weights': weights.tolist()}


def new_logreg_inputs(i):
    """
    Three classes told apart by two features at a small scale (0.1), among six noise features at
    scale 3; case 1 multiplies them by a ρ that favours the informative two, as AFT's would. At
    C = 1 the penalty makes the small informative features costly to use, so the two cases differ.
    """
    g = torch.Generator().manual_seed(2000 + i)
    def draw(n):
        labels = torch.arange(n) % 3
        centres = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
        informative = (centres[labels] + torch.randn(n, 2, generator=g)) * 0.1
        noise = torch.randn(n, 6, generator=g) * 3
        return torch.cat([informative, noise], dim=1), labels
    rho = torch.tensor([1.0, 1.0] + [0.05] * 6) if i == 1 else torch.ones(8)
    (train_x, train_y), (test_x, test_y) = draw(90), draw(60)
    return {
        'train_features': (train_x * rho).tolist(), 'train_labels': train_y.tolist(),
        'test_features': (test_x * rho).tolist(), 'test_labels': test_y.tolist(),
    }


# Cases that `--new` draws when their file is missing: file name → (case without expected, inputs).
NEW_CASES = {
    **{f'logreg-{i}.json': (lambda i=i: ({'method': 'logreg', 'C': 1.0}, new_logreg_inputs(i))) for i in range(2)},
    **{f'ft-{i}.json': (lambda i=i: ({'method': 'ft'}, new_ft_inputs(i))) for i in range(3)},
}


METHODS = {'aft': aft, 'aft-no-kernel': aft_no_kernel, 'kd': kd, 'rkd': rkd, 'btune': btune, 'logme': logme,
           'logreg': logreg, 'ft': ft}


# ---- comparison and driver -------------------------------------------------------------------

def flatten(v):
    return [y for x in v for y in flatten(x)] if isinstance(v, list) else [v]


def differences(got, want):
    """{quantity: relative difference}: scalars relative to themselves, arrays to their (floored) largest entry."""
    out = {}
    for key in ('loss', 'score'):
        if key in want:
            out[key] = abs(got[key] - want[key]) / max(abs(want[key]), 1e-300)
    arrays = {f'grad.{n}': g for n, g in want.get('grad', {}).items()}
    if 'weights' in want:
        arrays['weights'] = want['weights']
    for name, w in arrays.items():
        g = got['weights'] if name == 'weights' else got['grad'][name[len('grad.'):]]
        g, w = flatten(g), flatten(w)
        assert len(g) == len(w), f'{name}: {len(g)} values, expected {len(w)}'
        # Relative to the array's largest entry, floored at ARRAY_SCALE_FLOOR as in the TS test.
        scale = max(max(abs(x) for x in w), ARRAY_SCALE_FLOOR)
        out[name] = max(abs(a - b) for a, b in zip(g, w)) / scale
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--check', action='store_true', help='compare with the committed values instead of rewriting them')
    parser.add_argument('--dir', default=os.path.join(HERE, 'cases'), help='folder of the case files (default: %(default)s)')
    parser.add_argument('--new', action='store_true', help='first draw the inputs of the cases in NEW_CASES whose files are missing')
    args = parser.parse_args()

    if args.new:
        for name, make in NEW_CASES.items():
            path = os.path.join(args.dir, name)
            if not os.path.exists(path):
                head, inputs = make()
                with open(path, 'w', encoding='utf-8') as fh:
                    fh.write(json.dumps({**head, 'inputs': inputs, 'expected': {}}))
                print(f'{name}: new inputs drawn')

    files = sorted(f for f in os.listdir(args.dir) if f.endswith('.json'))
    if not files:
        sys.exit(f'no cases in {args.dir}')
    worst_by_method = {}
    failed = []
    for name in files:
        path = os.path.join(args.dir, name)
        with open(path, encoding='utf-8') as fh:
            case = json.load(fh)
        method = METHODS.get(case['method'])
        if method is None:
            sys.exit(f'{name}: unknown method {case["method"]!r}')
        got = method(case)
        diffs = differences(got, case['expected'])
        worst = max(diffs.values(), default=0.0)
        key = case['method'] + (f'/{case["kernel"]}' if 'kernel' in case else '') + (f'/{case["rho"]}' if 'rho' in case else '')
        worst_by_method[key] = max(worst_by_method.get(key, 0.0), worst)
        detail = ', '.join(f'{k} {v:.1e}' for k, v in diffs.items())
        print(f'{name:22s} max relative difference {worst:.2e}  ({detail})')
        if args.check:
            if worst > TOLERANCE:
                failed.append(name)
        elif worst > TOLERANCE or not case['expected']:
            # Only a case whose values changed is rewritten: a rerun leaves the others' bytes
            # alone (their last digits move with the BLAS and PyTorch build).
            case['expected'] = got
            with open(path, 'w', encoding='utf-8') as fh:
                fh.write(json.dumps(case))
    print('per method:', ', '.join(f'{k} {v:.2e}' for k, v in sorted(worst_by_method.items())))
    if failed:
        print(f'{len(failed)} case(s) differ from the committed values by more than {TOLERANCE}: {", ".join(failed)}')
        sys.exit(1)
    print(f'{len(files)} cases ' + ('match the committed values within 1e-9' if args.check else 'up to date'))


if __name__ == '__main__':
    main()
