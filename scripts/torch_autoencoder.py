#!/usr/bin/env python3
"""Load a teleseg autoencoder (or the autoencoder inside a dec checkpoint) into an equivalent
PyTorch nn.Module with `load_state_dict(strict=True)`, and embed customers with it.

    python3 scripts/torch_autoencoder.py --checkpoint RUN/model.safetensors \
        --input customers.csv --output embeddings.csv [--compare teleseg_embeddings.csv]

Every tensor of the file is a parameter or buffer of the module — the fitted preprocessing
included (`preprocess.numeric.mean`, ...) — so `strict=True` proves that names and PyTorch-layout
shapes match docs/checkpoint-format.md exactly. Raw CSV rows are preprocessed by the numpy
reference scorer beside this file (§3), then encoded by the module. With `--compare`, the
embeddings must match that CSV (written by `teleseg embed`) within 1e-5 relative to
max(1, |z|), else the exit code is 1.

Install: `pip install torch numpy safetensors` (CPU is enough). Not part of CI (torch is large);
the integration tests run it when `import torch` works and say SKIPPED otherwise.
"""

import argparse
import csv
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_scorer  # noqa: E402  (numpy preprocessing, §3 of the format)

ACTIVATIONS = {
    "relu": torch.nn.ReLU,
    "tanh": torch.nn.Tanh,
    "leaky_relu": lambda: torch.nn.LeakyReLU(0.01),
    "gelu": torch.nn.GELU,
}


class Mlp(torch.nn.Module):
    """§4: Linear layers (`layers.{k}`), LayerNorm after every hidden one when norm = layer
    (`norms.{k}`), then the activation; the last layer is linear."""

    def __init__(self, widths, activation, norm):
        super().__init__()
        self.layers = torch.nn.ModuleList(
            torch.nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])
        )
        self.norms = (
            torch.nn.ModuleList(torch.nn.LayerNorm(w, eps=1e-5) for w in widths[1:-1])
            if norm == "layer"
            else None
        )
        self.act = ACTIVATIONS[activation]()

    def forward(self, x):
        last = len(self.layers) - 1
        for k, layer in enumerate(self.layers):
            x = layer(x)
            if k < last:
                if self.norms is not None:
                    x = self.norms[k](x)
                x = self.act(x)
        return x


class Buffers(torch.nn.Module):
    """A module that only holds named buffers (the fitted preprocessing)."""

    def __init__(self, tensors):
        super().__init__()
        for name, t in tensors.items():
            self.register_buffer(name, torch.zeros_like(t))


class TelesegAutoencoder(torch.nn.Module):
    def __init__(self, arch, state):
        super().__init__()
        if arch.get("norm", "none") not in ("none", "layer"):
            raise SystemExit(f"norm {arch['norm']!r} is not supported here")
        widths = [arch["input"], *arch["hidden"], arch["latent"]]
        self.encoder = Mlp(widths, arch["activation"], arch["norm"])
        self.decoder = Mlp(widths[::-1], arch["activation"], arch["norm"])
        pre = torch.nn.Module()
        for group in ("numeric", "binary"):
            prefix = f"preprocess.{group}."
            setattr(pre, group, Buffers({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}))
        self.preprocess = pre

    def forward(self, x):
        return self.encoder(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--compare", help="teleseg embeddings CSV to compare with (1e-5 relative)")
    a = ap.parse_args()

    meta, _ = reference_scorer.load(a.checkpoint)
    state = load_file(a.checkpoint)
    kind = meta["teleseg.kind"]
    if kind == "dec":  # the autoencoder of a dec checkpoint, under `autoencoder.`
        state = {k[len("autoencoder."):] if k.startswith("autoencoder.") else k: v
                 for k, v in state.items() if k != "centroids"}
    elif kind != "autoencoder":
        sys.exit(f"{a.checkpoint}: kind {kind!r}; expected autoencoder or dec")
    model = TelesegAutoencoder(json.loads(meta["teleseg.model"]), state)
    model.load_state_dict(state, strict=True)  # raises on any missing/unexpected/mis-shaped key
    model.eval()

    header, rows = reference_scorer.read_rows(a.input)
    x = reference_scorer.preprocess(meta, {k: v.numpy() for k, v in state.items()}, header, rows)
    with torch.no_grad():
        z = model(torch.from_numpy(x)).numpy()
    schema = json.loads(meta["teleseg.schema"])
    id_col = header.index(next(c["name"] for c in schema["columns"] if c["role"] == "id"))
    ids = [r[id_col] for r in rows]
    with open(a.output, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["customer_id"] + [f"z{j}" for j in range(z.shape[1])])
        for i, zr in zip(ids, z):
            w.writerow([i] + [repr(float(v)) for v in zr])

    if a.compare:
        with open(a.compare, newline="") as f:
            theirs = list(csv.reader(f))[1:]
        assert [r[0] for r in theirs] == ids, "customer ids differ"
        ref = np.array([[float(v) for v in r[1:]] for r in theirs])
        worst = float((np.abs(z - ref) / np.maximum(np.abs(ref), 1.0)).max())
        print(f"torch vs teleseg: max relative difference {worst:.2e} over {len(ids)} rows")
        if worst > 1e-5:
            sys.exit(1)


if __name__ == "__main__":
    main()
