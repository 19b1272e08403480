#!/usr/bin/env python3
"""Reference scorer for teleseg `ncf` checkpoints: numpy + safetensors only, no teleseg code.

It follows section 4d of docs/checkpoint-format.md: the logit of every item for each requested
customer, written as CSV `customer_id,<item id>...` (items in the checkpoint's row order):

    python3 scripts/ncf_reference_scorer.py --checkpoint RUN/model.safetensors \
        --users C0000001,C0000002 --output scores.csv

The integration tests compare it with teleseg's own scores (max |difference| <= 1e-4).
Install: `pip install numpy safetensors`.
"""

import argparse
import csv
import json
import sys

import numpy as np
from safetensors import safe_open


def load(path):
    with safe_open(path, "numpy") as f:
        meta = f.metadata()
        t = {k: f.get_tensor(k).astype(np.float64) for k in f.keys()}
    if meta.get("teleseg.format_version") != "1" or meta.get("teleseg.kind") != "ncf":
        sys.exit(f"{path}: not a version-1 teleseg ncf checkpoint")
    return meta, t


def scores(meta, t, rows):
    arch = json.loads(meta["teleseg.model"])
    kind = arch["kind"]
    if kind == "mf":
        a, b = t["mf_user.weight"][rows], t["mf_item.weight"]
        return a @ b.T + t["mf_user_bias.weight"][rows] + t["mf_item_bias.weight"].T
    h, bias = t["predict.weight"], t["predict.bias"]  # [1, d], [1]
    out = np.zeros((len(rows), arch["n_items"]))
    offset = 0
    if kind in ("gmf", "neumf"):
        p, q = t["gmf_user.weight"][rows], t["gmf_item.weight"]
        f = p.shape[1]
        g = p[:, None, :] * q[None, :, :]  # [users, items, F]
        out += g @ h[0, :f]
        offset = f
    if kind in ("mlp", "neumf"):
        m, n = t["mlp_user.weight"][rows], t["mlp_item.weight"]
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
    args = ap.parse_args()
    meta, t = load(args.checkpoint)
    users = json.loads(meta["teleseg.ncf.users"])
    items = json.loads(meta["teleseg.ncf.items"])
    index = {u: i for i, u in enumerate(users)}
    ids = args.users.split(",")
    missing = [u for u in ids if u not in index]
    if missing:
        sys.exit(f"unknown customers: {missing[:5]}")
    s = scores(meta, t, [index[u] for u in ids])
    with open(args.output, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer_id"] + items)
        for u, row in zip(ids, s):
            w.writerow([u] + [f"{v:.7g}" for v in row])


if __name__ == "__main__":
    main()
