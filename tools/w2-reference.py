#!/usr/bin/env python3
"""The W2 style loss's reference: float64 PyTorch, autograd for the gradient.

Runs a VGG19 given as a safetensors file of features.N.weight/bias (any channel widths, e.g.
a golden reference net) on a content and a style image (raw float32, 1x3xHxW, already
normalised), and writes, as JSON, the W2 style loss of each style tap at step 0 (the image is
the content image) and the gradient of their sum with respect to the image.

The loss is impasto's `--style-loss w2` (StyleLossOp's comment): per tap, with F the C x N
features, mu = F 1 / N, cov = F F^T / N - mu mu^T, both covariances shifted by
delta = kappa tr(cov_s) / C (kappa = 0.03) and A = sqrt(cov_s + delta I):

    W2 = (|mu - mu_s|^2 + tr cov_s' + tr cov' - 2 tr sqrt(A cov' A)) / C

The style's root A comes from an eigendecomposition; the cross term's square root from 80
float64 Newton-Schulz steps (converged to rounding; eigh's backward is undefined where
eigenvalues repeat, as they do where a layer has fewer pixels than channels), differentiated
by autograd, and checked against eigh's value.

    python3 tools/w2-reference.py --dir ../shared/reference/vgg19-div8-48x64 \
        --out Tests/ImpastoTests/Fixtures/w2-step0.json
"""
import argparse
import json

import numpy as np
import torch
from safetensors.numpy import load_file

KAPPA = 0.03
STYLE_TAPS = [0, 5, 10, 19, 28]      # after torchvision's in-place ReLUs: relu1_1 ... relu4_1, conv5_1
CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


def layers(weights):
    """(index, kind, parameters) of torchvision's vgg19.features, with the given tensors, up
    to the last conv the file holds."""
    out, i = [], 0
    for v in CONFIG:
        if v == "M":
            out.append((i, "pool", None)); i += 1
        elif f"features.{i}.weight" not in weights:
            break
        else:
            w = torch.from_numpy(weights[f"features.{i}.weight"]).double()
            b = torch.from_numpy(weights[f"features.{i}.bias"]).double()
            out.append((i, "conv", (w, b))); out.append((i + 1, "relu", None)); i += 2
    return out


def taps(x, net, indices):
    """The features at `indices`, as the seed's in-place ReLUs leave them: a conv's output
    is read after its ReLU when the ReLU runs before the net ends."""
    last = max(indices)
    feats = {}
    for i, kind, p in net:
        if i > last:
            break
        if kind == "conv":
            x = torch.nn.functional.conv2d(x, p[0], p[1], padding=1)
        elif kind == "relu":
            x = torch.relu(x)
            if i - 1 in indices:
                feats[i - 1] = x
        else:
            x = torch.nn.functional.max_pool2d(x, 2)
        if kind == "conv" and i in indices and i == last:
            feats[i] = x
    return [feats[i] for i in indices]


def gaussian(f):
    c = f.shape[1]
    f = f.reshape(c, -1)
    mean = f.mean(1)
    return mean, f @ f.T / f.shape[1] - torch.outer(mean, mean)


def sqrtm_eigh(m):
    w, v = torch.linalg.eigh(m)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def trace_sqrt_ns(m, steps=80):
    s = torch.linalg.norm(m)
    y, z, eye = m / s, torch.eye(m.shape[0], dtype=m.dtype), torch.eye(m.shape[0], dtype=m.dtype)
    for _ in range(steps):
        t = 1.5 * eye - 0.5 * z @ y
        y, z = y @ t, t @ z
    return torch.trace(y) * s.sqrt()


def w2(f, target):
    mean_s, cov_s = target
    c = f.shape[1]
    mean, cov = gaussian(f)
    delta = KAPPA * torch.trace(cov_s) / c
    eye = torch.eye(c, dtype=f.dtype)
    cov_s, cov = cov_s + delta * eye, cov + delta * eye
    a = sqrtm_eigh(cov_s)
    m = a @ cov @ a
    cross = trace_sqrt_ns(m)
    exact = torch.trace(sqrtm_eigh(m.detach()))
    assert abs(float(cross.detach()) - float(exact)) <= 1e-9 * abs(float(exact)), (float(cross.detach()), float(exact))
    return ((mean - mean_s).pow(2).sum() + torch.trace(cov_s) + torch.trace(cov) - 2 * cross) / c


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True, help="a reference folder: vgg19.safetensors, input_content.f32, input_style.f32, reference.json")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    meta = json.load(open(f"{a.dir}/reference.json"))
    shape = meta["input_content"]["shape"]
    net = layers(load_file(f"{a.dir}/vgg19.safetensors"))
    read = lambda name: torch.from_numpy(np.fromfile(f"{a.dir}/{name}", dtype="<f4").reshape(shape)).double()
    content, style = read("input_content.f32"), read("input_style.f32")
    with torch.no_grad():
        targets = [gaussian(f) for f in taps(style, net, STYLE_TAPS)]
    x = content.clone().requires_grad_(True)
    per_layer = [w2(f, t) for f, t in zip(taps(x, net, STYLE_TAPS), targets)]
    total = sum(per_layer)
    total.backward()
    json.dump({
        "what": "W2 style loss (weight 1 per tap) at step 0, float64 PyTorch; see tools/w2-reference.py",
        "source": a.dir.rstrip("/").split("/")[-1],
        "kappa": KAPPA,
        "style_taps": STYLE_TAPS,
        "per_layer": [float(v) for v in per_layer],
        "total": float(total),
        "grad_shape": list(x.grad.shape),
        "grad": [float(f"{v:.9g}") for v in x.grad.flatten().tolist()],
    }, open(a.out, "w"))
    print("W2 per layer", [f"{float(v):.9g}" for v in per_layer], "total", f"{float(total):.9g}")


if __name__ == "__main__":
    main()
