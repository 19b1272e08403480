#!/usr/bin/env python3
"""Reference scorer for teleseg `propensity` checkpoints: numpy only, no teleseg or perpetual code.

It follows section 4e of docs/checkpoint-format.md: the raw customer CSV is turned into the
trees' inputs (`teleseg.model` → `features`), every tree of `teleseg.gbm` is walked, the leaf
values are summed onto `base_score` (the log-odds for a binary target) and the calibrator maps
them to a probability; a model with a lifetime value (`teleseg.model.lifetime_value`) also gets
it from the probability and the revenue column. Output: CSV `customer_id,<target>_probability`
(or `_prediction`)[,lifetime_value].

    python3 scripts/propensity_reference_scorer.py --checkpoint RUN/model.safetensors \
        --input customers.csv --output scores.csv

The integration tests compare it with `teleseg score` (max |difference| <= 1e-9).
Install: `pip install numpy`.
"""

import argparse
import csv
import json
import math
import struct
import sys

import numpy as np

ONE = {"1", "true", "yes", "y"}
ZERO = {"0", "false", "no", "n"}


def metadata(path):
    """The `__metadata__` of a safetensors file (8-byte little-endian length, JSON header)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))["__metadata__"]


def inputs(rows, features):
    """Column j of the trees' input for every CSV row (section 4e)."""
    x = np.full((len(rows), len(features)), np.nan)
    for j, f in enumerate(features):
        levels = {l: i for i, l in enumerate(f.get("levels", []))}
        for i, row in enumerate(rows):
            cell = row[f["name"]].strip()
            if cell == "":
                continue
            if f["kind"] == "numeric":
                x[i, j] = float(cell)
            elif f["kind"] == "binary":
                low = cell.lower()
                x[i, j] = 1.0 if low in ONE else 0.0 if low in ZERO else np.nan
            else:
                x[i, j] = levels.get(cell, np.nan)
    return x


def margin(x, gbm):
    """base_score + the sum over trees of the leaf each row reaches."""
    out = np.full(len(x), float(gbm["base_score"]))
    for tree in gbm["trees"]:
        nodes = {int(k): v for k, v in tree["nodes"].items()}
        for i in range(len(x)):
            n = nodes[0]
            while not n["is_leaf"]:
                v = x[i, n["split_feature"]]
                if math.isnan(v):
                    n = nodes[n["missing_node"]]
                elif v < n["split_value"]:
                    n = nodes[n["left_child"]]
                else:
                    n = nodes[n["right_child"]]
            out[i] += float(np.float32(n["weight_value"]))
    return out


def calibrate(m, cal):
    if cal is None:
        return m
    if cal["method"] == "platt":
        return 1.0 / (1.0 + np.exp(-(cal["a"] * m + cal["b"])))
    if cal["method"] == "isotonic":
        return np.interp(m, cal["x"], cal["y"])
    return 1.0 / (1.0 + np.exp(-m))


def lifetime_value(rows, p, ltv):
    """Section 4e's lifetime value: margin over the horizon, survival from the monthly hazard."""
    c = ltv["config"]
    lo, hi = ltv["revenue_clip"]
    out = np.empty(len(rows))
    r = (1.0 + c["annual_discount"]) ** (1.0 / 12.0) - 1.0
    for i, row in enumerate(rows):
        cell = row[c["revenue_column"]].strip()
        revenue = min(max(float(cell), lo), hi) if cell else ltv["revenue_median"]
        h = 1.0 - (1.0 - min(max(p[i], 0.0), 1.0)) ** (1.0 / c["churn_window_months"])
        t = np.arange(1, c["horizon_months"] + 1)
        out[i] = np.sum(c["margin_rate"] * revenue * (1.0 - h) ** (t - 1) / (1.0 + r) ** t)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    a = ap.parse_args()
    meta = metadata(a.checkpoint)
    if meta.get("teleseg.format_version") != "1" or meta.get("teleseg.kind") != "propensity":
        sys.exit(f"{a.checkpoint}: not a version-1 teleseg propensity checkpoint")
    model = json.loads(meta["teleseg.model"])
    schema = json.loads(meta["teleseg.schema"])
    gbm = json.loads(meta["teleseg.gbm"])
    id_col = next(c["name"] for c in schema["columns"] if c["role"] == "id")
    with open(a.input, newline="") as f:
        rows = list(csv.DictReader(f))
    p = calibrate(margin(inputs(rows, model["features"]["features"]), gbm), model.get("calibrator"))
    target = model["target"]
    col = f"{target['name']}_{'probability' if target['kind'] == 'binary' else 'prediction'}"
    ltv = model.get("lifetime_value")
    values = lifetime_value(rows, p, ltv) if ltv else None
    with open(a.output, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", col] + (["lifetime_value"] if ltv else []))
        for i, (row, v) in enumerate(zip(rows, p)):
            extra = [repr(float(values[i]))] if ltv else []
            w.writerow([row[id_col].strip(), repr(float(v))] + extra)


if __name__ == "__main__":
    main()
