#!/usr/bin/env python3
"""Reference scorer for teleseg checkpoints: numpy + safetensors only, no teleseg code.

It follows docs/checkpoint-format.md to the letter — preprocessing from the tensors and JSON in
the checkpoint, then the encoder forward pass and, for a `dec` checkpoint, the Student-t soft
assignment — and writes the same CSV as `teleseg embed` (kind autoencoder) or
`teleseg score --with-q` (kind dec):

    python3 scripts/reference_scorer.py --checkpoint RUN/model.safetensors \
        --input customers.csv --output scores.csv

The integration tests run it against teleseg and require max |difference| <= 1e-5 (relative to
max(1, |value|)) on embeddings and q, and identical segments.
Install: `pip install numpy safetensors`.
"""

import argparse
import csv
import json
import math
import sys

import numpy as np
from safetensors import safe_open

TRUE = {"1", "true", "yes", "y"}
FALSE = {"0", "false", "no", "n"}


def load(path):
    tensors = {}
    with safe_open(path, "numpy") as f:
        meta = f.metadata()
        for k in f.keys():
            tensors[k] = f.get_tensor(k)
    if meta.get("teleseg.format_version") != "1":
        sys.exit(f"{path}: unsupported teleseg.format_version {meta.get('teleseg.format_version')!r}")
    return meta, tensors


def read_rows(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    header = [h.strip() for h in rows[0]]
    return header, [[c.strip() for c in r] for r in rows[1:] if r]


def preprocess(meta, t, header, rows):
    """§3 of docs/checkpoint-format.md: raw rows -> float32 [rows, features]."""
    schema = json.loads(meta["teleseg.schema"])
    pre = json.loads(meta["teleseg.preprocess"])
    col = {name: i for i, name in enumerate(header)}
    cols = schema["columns"]

    def raw(name):
        j = col[name]
        return np.array([float(r[j]) if r[j] != "" else math.nan for r in rows], dtype=np.float64)

    # Numeric block: numeric columns in schema order, then derived features.
    block = [raw(c["name"]) for c in cols if c["role"] == "numeric"]
    for d in schema.get("derived", []):
        num, den = raw(d["numerator"]), raw(d["denominator"])
        block.append(num / np.maximum(den, d.get("floor", 1.0)) * d.get("scale", 1.0))
    p = {k: t[f"preprocess.numeric.{k}"].astype(np.float64)
         for k in ["median", "clip_low", "clip_high", "log1p", "mean", "std", "has_indicator"]}
    out = []
    for i, x in enumerate(block):
        missing = np.isnan(x)
        x = np.where(missing, p["median"][i], x)
        x = np.minimum(np.maximum(x, p["clip_low"][i]), p["clip_high"][i])
        if p["log1p"][i] == 1:
            x = np.log1p(np.maximum(x, 0.0))
        out.append(((x - p["mean"][i]) / p["std"][i]).astype(np.float32))
        if p["has_indicator"][i] == 1:
            out.append(missing.astype(np.float32))

    mode, has_ind = t["preprocess.binary.mode"], t["preprocess.binary.has_indicator"]
    for j, c in enumerate(c for c in cols if c["role"] == "binary"):
        cells = [r[col[c["name"]]].lower() for r in rows]
        missing = np.array([v == "" for v in cells])
        v = np.array([1.0 if v in TRUE else 0.0 if v in FALSE else math.nan for v in cells])
        out.append(np.where(missing, mode[j], v).astype(np.float32))
        if has_ind[j] == 1:
            out.append(missing.astype(np.float32))

    for c, spec in zip((c for c in cols if c["role"] == "categorical"), pre["categorical"]):
        levels = spec["levels"]
        index = {lvl: k for k, lvl in enumerate(levels) if lvl not in ("<missing>", "other")}
        other = levels.index("other")
        miss = levels.index("<missing>") if "<missing>" in levels else other
        onehot = np.zeros((len(rows), len(levels)), dtype=np.float32)
        for r_i, r in enumerate(rows):
            v = r[col[c["name"]]]
            onehot[r_i, miss if v == "" else index.get(v, other)] = 1.0
        out.extend(onehot.T)

    x = np.stack(out, axis=1)
    names = json.loads(meta["teleseg.features"])
    assert x.shape[1] == len(names), (x.shape, len(names))
    return x


ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0),
    "tanh": np.tanh,
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "gelu": lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
}


def mlp(t, prefix, n_layers, activation, norm, x):
    """§4: y = x @ W.T + b, then norm, then activation, on every layer but the last."""
    for k in range(n_layers):
        x = x @ t[f"{prefix}.layers.{k}.weight"].T + t[f"{prefix}.layers.{k}.bias"]
        if k < n_layers - 1:
            if norm == "layer":
                mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
                x = (x - mu) / np.sqrt(var + 1e-5) * t[f"{prefix}.norms.{k}.weight"] + t[f"{prefix}.norms.{k}.bias"]
            elif norm != "none":
                sys.exit(f"norm {norm!r} is not supported by the reference scorer")
            x = ACTIVATIONS[activation](x)
    return x.astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    a = ap.parse_args()
    meta, t = load(a.checkpoint)
    kind = meta["teleseg.kind"]
    if kind not in ("autoencoder", "dec"):
        sys.exit(f"{a.checkpoint}: kind {kind!r}; this scorer handles autoencoder and dec")
    arch = json.loads(meta["teleseg.model"])
    header, rows = read_rows(a.input)
    x = preprocess(meta, t, header, rows)
    prefix = "autoencoder.encoder" if kind == "dec" else "encoder"
    z = mlp(t, prefix, len(arch["hidden"]) + 1, arch["activation"], arch["norm"], x)
    schema = json.loads(meta["teleseg.schema"])
    id_col = header.index(next(c["name"] for c in schema["columns"] if c["role"] == "id"))
    fmt = lambda values: [repr(float(v)) for v in values]
    with open(a.output, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        zs = [f"z{j}" for j in range(z.shape[1])]
        if kind == "autoencoder":
            w.writerow(["customer_id"] + zs)
            for r, zr in zip(rows, z):
                w.writerow([r[id_col]] + fmt(zr))
            return
        q = student_t(z, t["centroids"], json.loads(meta["teleseg.dec"])["alpha"])
        seg = q.argmax(axis=1)  # ties: lowest j, as documented
        w.writerow(["customer_id", "segment", "confidence"] + [f"q{j}" for j in range(q.shape[1])] + zs)
        for r, s_, qr, zr in zip(rows, seg, q, z):
            w.writerow([r[id_col], int(s_)] + fmt([qr[s_]]) + fmt(qr) + fmt(zr))


def student_t(z, mu, alpha):
    """§4b: q_j = (1 + ||z - mu_j||^2 / alpha)^(-(alpha+1)/2), normalised over j (float64)."""
    d2 = ((z.astype(np.float64)[:, None, :] - mu.astype(np.float64)[None, :, :]) ** 2).sum(-1)
    k = (1.0 + d2 / alpha) ** (-(alpha + 1.0) / 2.0)
    return k / k.sum(axis=1, keepdims=True)


if __name__ == "__main__":
    main()
