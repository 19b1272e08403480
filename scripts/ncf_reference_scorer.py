#!/usr/bin/env python3
"""Reference scorer for teleseg `ncf` checkpoints: numpy + safetensors only, no teleseg code.

It follows section 4d of docs/checkpoint-format.md: the logit of every item for each requested
customer, written as CSV `customer_id,<item id>...` (items in the checkpoint's row order):

    python3 scripts/ncf_reference_scorer.py --checkpoint RUN/model.safetensors \
        --users C0000001,C0000002 --output scores.csv [--customers customers.csv]

A model with customer features (`teleseg.model` has `user_features > 0`) needs `--customers`:
the raw customer CSV holding the requested customers' rows, preprocessed as in section 3 (by
scripts/reference_scorer.py's `preprocess`); `W x` is added to the user vectors (section 4d).

The integration tests compare it with teleseg's own scores (max |difference| <= 1e-4).
Install: `pip install numpy safetensors`.
"""

import argparse
import csv
import json
import sys

import os

import numpy as np
from safetensors import safe_open

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_scorer  # noqa: E402  (section 3: raw rows -> features)


def load(path):
    with safe_open(path, "numpy") as f:
        meta = f.metadata()
        t = {k: f.get_tensor(k).astype(np.float64) for k in f.keys()}
    if meta.get("teleseg.format_version") != "1" or meta.get("teleseg.kind") != "ncf":
        sys.exit(f"{path}: not a version-1 teleseg ncf checkpoint")
    return meta, t


def user_parts(arch, t, rows, x):
    """The user vectors of `rows`: id rows, plus `W x` split over the parts (GMF p, MLP m, MF a,
    MF bias c, in that order) when the model has customer features."""
    kind = arch["kind"]
    names = []
    if kind in ("gmf", "neumf"):
        names.append("gmf_user.weight")
    if kind in ("mlp", "neumf"):
        names.append("mlp_user.weight")
    if kind == "mf":
        names += ["mf_user.weight", "mf_user_bias.weight"]
    parts = {n: t[n][rows] for n in names}
    if arch.get("user_features", 0) > 0:
        wx = x.astype(np.float64) @ t["user_features.weight"].T  # [users, W]
        offset = 0
        for n in names:
            w = parts[n].shape[1]
            parts[n] = parts[n] + wx[:, offset:offset + w]
            offset += w
    return parts


def scores(meta, t, rows, x=None):
    arch = json.loads(meta["teleseg.model"])
    kind = arch["kind"]
    u = user_parts(arch, t, rows, x)
    if kind == "mf":
        a, b = u["mf_user.weight"], t["mf_item.weight"]
        return a @ b.T + u["mf_user_bias.weight"] + t["mf_item_bias.weight"].T
    h, bias = t["predict.weight"], t["predict.bias"]  # [1, d], [1]
    out = np.zeros((len(rows), arch["n_items"]))
    offset = 0
    if kind in ("gmf", "neumf"):
        p, q = u["gmf_user.weight"], t["gmf_item.weight"]
        f = p.shape[1]
        g = p[:, None, :] * q[None, :, :]  # [users, items, F]
        out += g @ h[0, :f]
        offset = f
    if kind in ("mlp", "neumf"):
        m, n = u["mlp_user.weight"], t["mlp_item.weight"]
        users, items = len(rows), n.shape[0]
        x = np.concatenate(
            [np.repeat(m[:, None, :], items, 1), np.repeat(n[None, :, :], users, 0)], axis=2
        )
        for j in range(len(arch["mlp_layers"]) - 1):
            w, b = t[f"mlp.layers.{j}.weight"], t[f"mlp.layers.{j}.bias"]  # [out, in], [out]
            x = np.maximum(x @ w.T + b, 0.0)
        out += x @ h[0, offset:]
    if "item_bias.weight" in t:  # model.item_bias = true: [items, 1]
        out += t["item_bias.weight"].T
    return out + bias[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--users", required=True, help="comma-separated external customer ids")
    ap.add_argument("--output", required=True)
    ap.add_argument("--customers", help="raw customer CSV (models with customer features)")
    args = ap.parse_args()
    meta, t = load(args.checkpoint)
    users = json.loads(meta["teleseg.ncf.users"])
    items = json.loads(meta["teleseg.ncf.items"])
    index = {u: i for i, u in enumerate(users)}
    ids = args.users.split(",")
    missing = [u for u in ids if u not in index]
    if missing:
        sys.exit(f"unknown customers: {missing[:5]}")
    x = None
    if json.loads(meta["teleseg.model"]).get("user_features", 0) > 0:
        if not args.customers:
            sys.exit("this model takes customer features: pass --customers customers.csv")
        header, raw_rows = reference_scorer.read_rows(args.customers)
        schema = json.loads(meta["teleseg.schema"])
        id_col = header.index(next(c["name"] for c in schema["columns"] if c["role"] == "id"))
        by_id = {r[id_col]: r for r in raw_rows}
        absent = [u for u in ids if u not in by_id]
        if absent:
            sys.exit(f"customers without a row in {args.customers}: {absent[:5]}")
        x = reference_scorer.preprocess(meta, t, header, [by_id[u] for u in ids])
    s = scores(meta, t, [index[u] for u in ids], x)
    with open(args.output, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer_id"] + items)
        for u, row in zip(ids, s):
            w.writerow([u] + [f"{v:.7g}" for v in row])


if __name__ == "__main__":
    main()
