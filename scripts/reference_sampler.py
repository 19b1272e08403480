#!/usr/bin/env python3
"""Sample synthetic rows from a teleseg `vae` checkpoint with numpy alone, following
docs/checkpoint-format.md section 4c (written from the document, not from the Rust code).

    python3 scripts/reference_sampler.py RUN/model.safetensors ROWS OUT.csv [SEED] [SEGMENT]

The RNG stream differs from `teleseg sample`, so rows match in distribution, not draw for draw:
check with `teleseg evaluate synthetic --real RUN/holdout.csv --synthetic OUT.csv --schema ...`.
"""
import csv
import json
import sys

import numpy as np
from safetensors.numpy import load_file
from safetensors import safe_open


def block(t, prefix, x, activation):
    n = len([k for k in t if k.startswith(prefix + ".layers.") and k.endswith(".weight")])
    for k in range(n):
        x = x @ t[f"{prefix}.layers.{k}.weight"].T + t[f"{prefix}.layers.{k}.bias"]
        if k < n - 1:
            if activation == "relu":
                x = np.maximum(x, 0)
            elif activation == "tanh":
                x = np.tanh(x)
            elif activation == "leaky_relu":
                x = np.where(x > 0, x, 0.01 * x)
            else:
                raise SystemExit(f"activation {activation} not supported by this script")
    return x


def draw(rng, logits):
    p = np.exp(logits - logits.max())
    p /= p.sum()
    return rng.choice(len(p), p=p)


def fmt(x, decimals):
    s = f"{x:.{decimals}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def main():
    path, rows, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    segment = sys.argv[5] if len(sys.argv) > 5 else None
    t = load_file(path)
    with safe_open(path, "np") as f:
        meta = f.metadata()
    assert meta["teleseg.kind"] == "vae", meta["teleseg.kind"]
    arch = json.loads(meta["teleseg.model"])
    codec = json.loads(meta["teleseg.vae.codec"])["columns"]
    segs = json.loads(meta["teleseg.vae.segments"])
    target = json.loads(meta.get("teleseg.vae.target_condition", "{}"))
    n_classes = arch.get("n_target_classes", 0)
    schema = json.loads(meta["teleseg.schema"])
    rng = np.random.default_rng(seed)

    z = rng.standard_normal((rows, arch["latent"])).astype(np.float32)
    idx = np.zeros(rows, dtype=int)
    if arch["n_segments"] > 0:
        if segment is None:
            idx = rng.choice(arch["n_segments"], size=rows, p=np.array(segs["shares"]) / sum(segs["shares"]))
        else:
            idx = np.full(rows, segs["labels"].index(segment))
        z = np.concatenate([z, np.eye(arch["n_segments"], dtype=np.float32)[idx]], axis=1)
    if n_classes > 0:
        shares = np.array(target["shares"])
        cls = np.array([rng.choice(n_classes, p=shares[s] / shares[s].sum()) for s in idx])
        z = np.concatenate([z, np.eye(n_classes, dtype=np.float32)[cls]], axis=1)
    o = block(t, "decoder", z, arch["activation"])
    sigma = np.clip(np.exp(t["log_sigma"]), 0.01, 1.0)

    cells, drawn = {}, {}
    off, vi = 0, 0
    for col in codec:
        name = col["name"]
        vals = []
        if col["type"] == "numeric":
            tr = col["transform"]
            k = len(tr["means"]) if tr["kind"] == "modes" else 0
            width = 1 + k + 2 * int(col["missing"])
            if col.get("missing_with"):
                missing = drawn[col["missing_with"]]
            else:
                missing = [bool(col["missing"]) and draw(rng, o[r, off + 1 + k:off + 3 + k]) == 1
                           for r in range(rows)]
            if col["missing"]:
                drawn[name] = missing
            for r in range(rows):
                b = o[r, off:off + width]
                if missing[r]:
                    vals.append("")
                    continue
                v = rng.normal(b[0], sigma[vi])
                if k:
                    m = draw(rng, b[1:1 + k])
                    tt = tr["means"][m] + 4 * tr["stds"][m] * np.clip(v, -1, 1)
                else:
                    tt = tr["mean"] + tr["std"] * v
                x = np.expm1(tt) if col["log1p"] else tt
                x = min(max(x, col["min"]), col["max"])
                vals.append(fmt(round(x), 0) if col["integer"] else fmt(x, col["decimals"]))
            vi += 1
        else:
            width = len(col["levels"]) + int(col["missing"])
            for r in range(rows):
                j = draw(rng, o[r, off:off + width])
                vals.append(col["levels"][j] if j < len(col["levels"]) else "")
        cells[name] = vals
        off += width
    # Target-conditioned: the target cells are the drawn class's.
    for j, name in enumerate(target.get("columns", []) if n_classes > 0 else []):
        cells[name] = [target["classes"][c][j] or "" for c in cls]

    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        names = [c["name"] for c in schema["columns"]]
        w.writerow(names)
        for r in range(rows):
            row = []
            for c in schema["columns"]:
                if c["role"] == "id":
                    row.append(f"P{r + 1:07d}")
                else:
                    row.append(cells.get(c["name"], [""] * rows)[r])
            w.writerow(row)


if __name__ == "__main__":
    main()
