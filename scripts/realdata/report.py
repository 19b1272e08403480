"""Writes docs/realdata.md from the raw per-seed results in OUT/results/*.jsonl."""

import json
import math
import platform
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np

from common import DATASETS, package_versions

PACKAGES = ["numpy", "pandas", "scipy", "scikit-learn", "torch", "sdv", "sdmetrics", "ctgan", "rdt"]

METHOD_ORDER = {
    "clustering": ["teleseg IDEC", "k-means (std)", "k-means (minmax)", "GMM (std)", "GMM (minmax)",
                   "AE + k-means (torch)"],
    "synthesis": ["teleseg VAE", "SDV TVAE", "SDV CTGAN", "independent marginals", "real train (reference)"],
    "recommendation": ["teleseg NeuMF", "NeuMF (torch, He et al.)", "BPR-MF (grid on valid)", "popularity"],
    "prediction": ["teleseg propensity", "LightGBM (defaults)", "HistGB (defaults)", "logistic (one-hot)"],
}

COLUMNS = {
    "clustering": [("acc", "ACC"), ("nmi", "NMI"), ("ari", "ARI"), ("clusters_used", "clusters used"),
                   ("@seconds", "time (s)")],
    "synthesis": [("sdm_overall", "SDMetrics quality"), ("sdm_column_shapes", "column shapes"),
                  ("sdm_column_pair_trends", "pair trends"),
                  ("sdm_column_pair_trends_all_pairs", "pair trends, all pairs"),
                  ("tstr_auc", "TSTR AUC"), ("target_share", "positive share (real)"),
                  ("dcr_median", "median DCR (holdout)"), ("exact_copies", "exact copies"),
                  ("ts_overall", "teleseg quality"), ("@seconds", "time (s)")],
    "recommendation": [("sampled_hr", "HR@10 sampled"), ("sampled_ndcg", "NDCG@10 sampled"),
                       ("full_hr", "HR@10 full"), ("full_ndcg", "NDCG@10 full"), ("@seconds", "time (s)")],
    "prediction": [("roc_auc", "ROC AUC"), ("pr_auc", "PR AUC"), ("log_loss", "log loss"), ("brier", "Brier"),
                   ("positive_share", "positive share"), ("@seconds", "time (s)")],
}


def load(out, family):
    p = Path(out) / "results" / f"{family}.jsonl"
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def _vals(recs, key):
    out = []
    for r in recs:
        v = r.get("seconds") if key == "@seconds" else r["metrics"].get(key)
        if isinstance(v, (int, float)) and v is not None and not (isinstance(v, float) and math.isnan(v)):
            out.append(float(v))
    return out


def fmt(vals, digits=3, n_total=None):
    if not vals:
        return "—"
    m = np.mean(vals)
    if len(set(vals)) == 1 and float(vals[0]).is_integer():
        s = f"{vals[0]:.0f}"
    elif digits == 0 or all(float(v).is_integer() for v in vals) and abs(m) >= 10:
        s = f"{m:.0f}" if len(vals) == 1 else f"{m:.0f} ± {np.std(vals, ddof=1):.0f}"
    elif len(vals) == 1:
        s = f"{m:.{digits}f}"
    else:
        s = f"{m:.{digits}f} ± {np.std(vals, ddof=1):.{digits}f}"
    if n_total is not None and len(vals) < n_total:
        s += f" ({len(vals)}/{n_total})"
    return s


def table(family, recs, methods=None, columns=None):
    columns = columns or COLUMNS[family]
    by = defaultdict(list)
    for r in recs:
        by[(r["dataset"], r["method"])].append(r)
    datasets = [d for d in DATASETS if any(k[0] == d for k in by)]
    order = methods or METHOD_ORDER[family]
    lines = ["| data set | method | seeds | " + " | ".join(c[1] for c in columns) + " |",
             "|---|---|---|" + "---|" * len(columns)]
    for d in datasets:
        present = [m for m in order if (d, m) in by]
        if methods is None:
            present += sorted(m for (dd, m) in by if dd == d and m not in order and (not m.startswith("teleseg ") or " [" in m)
                              and "(teleseg's evaluator)" not in m)
        for m in present:
            rs = by[(d, m)]
            ok = [r for r in rs if not r.get("error")]
            cells = []
            for key, _ in columns:
                if family == "synthesis" and key == "target_share":
                    a, b = _vals(ok, "target_share"), _vals(ok, "target_share_real")
                    cells.append(f"{fmt(a)} ({fmt(b)})" if a else "—")
                elif family == "synthesis" and key == "dcr_median":
                    a, b = _vals(ok, "dcr_median"), _vals(ok, "dcr_holdout_median")
                    cells.append(f"{fmt(a, 2)} ({fmt(b, 2)})" if a else "—")
                elif key == "@seconds":
                    cells.append(fmt(_vals(ok, key), 0))
                elif key in ("exact_copies", "clusters_used", "ts_exact_copies"):
                    cells.append(fmt(_vals(ok, key), 0) if _vals(ok, key) else "—")
                else:
                    cells.append(fmt(_vals(ok, key)))
            seeds = ",".join(str(r["seed"]) for r in ok)
            if len(ok) < len(rs):
                seeds += f" ({len(rs) - len(ok)} failed)"
            name = f"**{m}**" if m.startswith("teleseg") else m
            lines.append(f"| {d} | {name} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def errors(recs):
    out = []
    for r in recs:
        if r.get("error"):
            first = r["error"].strip().splitlines()
            out.append(f"- {r['dataset']} / {r['method']} / seed {r['seed']}:\n\n```\n" + "\n".join(first[:25]) + "\n```")
        if r["metrics"].get("ts_error"):
            out.append(f"- `teleseg evaluate synthetic` on {r['dataset']} / {r['method']} / seed {r['seed']}:"
                       f"\n\n```\n{r['metrics']['ts_error'][:1500]}\n```")
    return out


def _mean(recs, dataset, method, key):
    v = _vals([r for r in recs if r["dataset"] == dataset and r["method"] == method and not r.get("error")], key)
    return float(np.mean(v)) if v else None


def observations(rc, rs, rr, rp=()):
    """Plain statements computed from the results (so they stay true when the numbers change)."""
    out = []
    for d in [d for d in DATASETS if any(r["dataset"] == d for r in rc)]:
        ms = [m for m in METHOD_ORDER["clustering"] if _mean(rc, d, m, "acc") is not None]
        if "teleseg IDEC" not in ms:
            continue
        for key in ("acc", "nmi"):
            ranked = sorted(ms, key=lambda m: -_mean(rc, d, m, key))
            best = ranked[0]
            out.append(f"clustering / {d}: teleseg IDEC {key.upper()} {_mean(rc, d, 'teleseg IDEC', key):.3f}, rank "
                       f"{ranked.index('teleseg IDEC') + 1} of {len(ranked)}"
                       + ("" if best == "teleseg IDEC" else f" (best: {best} {_mean(rc, d, best, key):.3f})") + ".")
    diffs = [abs(r["metrics"][k] - r["metrics"]["teleseg_reported"][k]) for r in rc if r["metrics"].get("teleseg_reported")
             for k in ("acc", "nmi", "ari")]
    if diffs:
        out.append(f"clustering: `teleseg evaluate clustering` and this script's ACC / NMI / ARI of the same labels differ "
                   f"by at most {max(diffs):.4f} (teleseg prints 3 decimals).")
    for d in [d for d in DATASETS if any(r["dataset"] == d for r in rs)]:
        t = "teleseg VAE"
        if _mean(rs, d, t, "sdm_overall") is None:
            continue
        gens = [m for m in METHOD_ORDER["synthesis"][:4] if _mean(rs, d, m, "sdm_overall") is not None]
        ranked = sorted(gens, key=lambda m: -_mean(rs, d, m, "sdm_overall"))
        floor = "independent marginals"
        txt = (f"synthesis / {d}: teleseg VAE SDMetrics quality {_mean(rs, d, t, 'sdm_overall'):.3f}, rank "
               f"{ranked.index(t) + 1} of {len(ranked)} generators")
        if _mean(rs, d, floor, "sdm_overall") is not None:
            pa, pf = _mean(rs, d, t, "sdm_column_pair_trends_all_pairs"), _mean(rs, d, floor, "sdm_column_pair_trends_all_pairs")
            ta, tf = _mean(rs, d, t, "tstr_auc"), _mean(rs, d, floor, "tstr_auc")
            txt += (f"; pair trends (all pairs) {pa:.3f} vs the independent-marginals floor {pf:.3f}"
                    + (f"; TSTR AUC {ta:.3f} vs floor {tf:.3f}" if ta is not None and tf is not None else "")
                    + (f" and TRTR {_mean(rs, d, t, 'trtr_auc'):.3f}" if _mean(rs, d, t, "trtr_auc") else ""))
        diag = [r for r in rs if r["dataset"] == d and r["method"] == t and r.get("final_train_kl") is not None]
        if diag:
            txt += ("; teleseg's VAE training: " + ", ".join(
                f"seed {r['seed']} {r['steps']} optimizer steps, final KL {r['final_train_kl']:.2f} nats" for r in diag))
        out.append(txt + ".")
    for d in [d for d in DATASETS if any(r["dataset"] == d for r in rr)]:
        t, p = "teleseg NeuMF", "popularity"
        if _mean(rr, d, t, "full_hr") is None:
            continue
        for proto in ("sampled", "full"):
            k = f"{proto}_hr"
            ms = [m for m in METHOD_ORDER["recommendation"] if _mean(rr, d, m, k) is not None]
            ranked = sorted(ms, key=lambda m: -_mean(rr, d, m, k))
            out.append(f"recommendation / {d}: teleseg NeuMF HR@10 ({proto}) {_mean(rr, d, t, k):.4f}, rank "
                       f"{ranked.index(t) + 1} of {len(ranked)}; popularity {_mean(rr, d, p, k):.4f}.")
        own = _mean(rr, d, "teleseg NeuMF (teleseg's evaluator)", "full_hr")
        if own is not None:
            out.append(f"recommendation / {d}: full-ranking HR@10 of the teleseg model by `teleseg evaluate ncf` "
                       f"{own:.4f} vs this script's evaluator {_mean(rr, d, t, 'full_hr'):.4f} (same split and "
                       f"candidates: they must agree); sampled HR@10 {_mean(rr, d, 'teleseg NeuMF (teleseg' + chr(39) + 's evaluator)', 'sampled_hr'):.4f} "
                       f"vs {_mean(rr, d, t, 'sampled_hr'):.4f} (different negative draws).")
    for d in [d for d in DATASETS if any(r["dataset"] == d for r in rp)]:
        t, lgb = "teleseg propensity", "LightGBM (defaults)"
        if _mean(rp, d, t, "roc_auc") is None:
            continue
        ms = [m for m in METHOD_ORDER["prediction"] if _mean(rp, d, m, "roc_auc") is not None]
        parts = []
        for key, better in (("roc_auc", max), ("brier", min)):
            ranked = sorted(ms, key=lambda m: _mean(rp, d, m, key), reverse=better is max)
            parts.append(f"{key.replace('_', ' ').upper() if key == 'roc_auc' else 'Brier'} "
                         f"{_mean(rp, d, t, key):.3f}, rank {ranked.index(t) + 1} of {len(ranked)}"
                         + (f" (LightGBM {_mean(rp, d, lgb, key):.3f})" if _mean(rp, d, lgb, key) is not None else ""))
        errs = [r["metrics"].get("shap_additivity_error") for r in rp if r["dataset"] == d and r["method"] == t]
        errs = [e for e in errs if e is not None]
        out.append(f"prediction / {d}: teleseg propensity " + "; ".join(parts)
                   + (f"; largest |Σ SHAP − margin| {max(errs):.1e}" if errs else "") + ".")
    return out


def git_rev(repo):
    try:
        rev = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "src", "configs",
                                "Cargo.toml"], capture_output=True, text=True).stdout.strip()
        return rev + (" (with uncommitted changes under src/ or configs/)" if dirty else "")
    except OSError:
        return "unknown"


def write(out, doc, meta, repo):
    out = Path(out)
    parts = []
    runs = meta.get("runs", [])
    last = runs[-1] if runs else {}
    parts.append("# teleseg on real public data: clustering, synthesis, recommendation, prediction\n")
    parts.append(
        "Generated by `scripts/realdata/run.py` (do not edit by hand: rerun it). Every method of a family runs "
        "in the same invocation on the same data and split, each with its own defaults; nothing is tuned per "
        "data set. The only per-data-set inputs are the id column, the class / target column and k "
        "(`DATASETS` in `scripts/realdata/common.py`). Raw per-seed results: `OUT/results/*.jsonl`; "
        "teleseg's own logs (`teleseg.log`: every command with its exit status and output), run folders and schemas: "
        "`OUT/<family>/<data set>/`. `teleseg` below is `OUT/bin/teleseg`, a copy of the binary taken at the start.\n")
    parts.append("## This run\n")
    for r in runs:
        parts.append(f"- `{r['command']}` — {r['date']}, OUT = `{r.get('out', out)}`, mode {'quick' if r['quick'] else 'default'}, seeds "
                     f"{r['seeds']}; wall time per family: "
                     + ", ".join(f"{k} {v / 60:.1f} min" for k, v in r["family_seconds"].items()))
    parts.append(f"- teleseg: `{meta.get('teleseg_version', '?')}`, repository HEAD at run time {meta.get('repo_head') or git_rev(repo)} (the binary is the one named, built from the tree of its build time), "
                 "default backend (`flex`, CPU).")
    vers = package_versions(PACKAGES)
    parts.append(f"- Python {platform.python_version()}; " + ", ".join(f"{k} {v}" for k, v in vers.items()) + ".")
    parts.append(f"- Machine: {meta.get('machine', '?')}; torch threads {last.get('threads', '?')}.\n")

    # ---------------------------------------------------------------------------------------
    rc = load(out, "clustering")
    if rc:
        parts.append("## Clustering (ACC / NMI / ARI against the class column, all rows)\n")
        parts.append(table("clustering", rc))
        parts.append("""
How each was run (per data set and seed S; k = number of classes):

- **teleseg IDEC**:

  ```sh
  teleseg --seed S --no-progress -q train dec --set data.customers='"OUT/clustering/X/X.csv"' \\
      --set data.schema='"OUT/clustering/X/X.toml"' --set dec.k=K \\
      --set output.dir='"OUT/clustering/X"' --set output.run_name='"dec-X-sS"' --force
  teleseg evaluate clustering --run OUT/clustering/X/dec-X-sS --labels OUT/clustering/X/labels.csv
  ```

  (all other settings from `configs/dec.toml`: autoencoder [256, 128] → 8, 30 epochs, IDEC γ 0.1, whitened
  k-means++ start, 20 clustering epochs). The schema is written automatically: the id column `id`, every
  other numeric column `numeric` (`integer = true` when all values are whole), the class column `ignore`.
  teleseg trains on its own 80 % split of the rows (10 % validation, 10 % test), then assigns every row of
  the file; the labels of every row are read from `RUN/segments.json` (`methods.dec.labels`, with `ids`).
  `teleseg train dec` writes `segments.json`, not `segments.csv` (that one is written by `teleseg pipeline`).
  ACC / NMI / ARI are computed here; `teleseg evaluate clustering --run RUN --labels labels.csv` is also run
  and its figures are kept in the JSON (`teleseg_reported`) as a cross-check of the definitions.
- **k-means / GMM**: scikit-learn `KMeans(n_clusters=k, n_init=10, random_state=S)` and
  `GaussianMixture(n_components=k, random_state=S)` (full covariance, 1 init) on the raw columns (all
  numeric here) after `StandardScaler` or `MinMaxScaler`, fitted on all rows.
- **AE + k-means (torch)**: d-256-128-10 autoencoder (ReLU, MSE on standardized columns, Adam 1e-3,
  batch 256, 50 epochs), then `KMeans(n_init=10)` on the 10-d code. A smaller network than
  DEC's d-500-500-2000-10, which takes minutes per fit on 2 cores for letter_recognition.
- ACC is Hungarian-matched accuracy (`scipy.optimize.linear_sum_assignment`), NMI is
  `sklearn.metrics.normalized_mutual_info_score` (arithmetic mean), ARI `adjusted_rand_score`, all on
  every row of the file.
""")
        extra = sorted({r["method"] for r in rc if r["method"].startswith("teleseg ") and r["method"] != "teleseg IDEC"})
        if extra:
            parts.append("teleseg also writes its own baselines into `segments.json` (`dec.baselines`: k-means++ "
                         "on its preprocessed features `kmeans_raw`, and k-means / GMM / Ward on its pretrained "
                         "embedding). Scored the same way:\n")
            parts.append(table("clustering", rc, methods=["teleseg IDEC"] + extra,
                               columns=[("acc", "ACC"), ("nmi", "NMI"), ("ari", "ARI")]))
            parts.append("")
    # ---------------------------------------------------------------------------------------
    rs = load(out, "synthesis")
    if rs:
        parts.append("## Synthetic data (judged against the real holdout)\n")
        parts.append(table("synthesis", rs))
        parts.append("""
Columns: SDMetrics `QualityReport` (overall, Column Shapes, Column Pair Trends) of the synthetic table
against the real 20 % holdout, with the library's defaults: since sdmetrics 0.2x, Column Pair Trends (and
so the overall score) averages only the pairs whose *real* correlation exceeds 0.5 or association 0.3
(`QualityReport.real_correlation_threshold` / `real_association_threshold`), a few dozen of hundreds of
pairs here; "pair trends, all pairs" is the same report with both thresholds 0 (the classic definition,
the one teleseg implements). TSTR: ROC AUC on the holdout of a
`HistGradientBoostingClassifier(random_state=S)` (categoricals native) trained on the synthetic table, for
the target column, positive class = the data set's minority class; TRTR (trained on the real train rows)
is the TSTR of the "real train (reference)" row; — means the synthetic table holds a single target class
(no classifier can be trained). Positive
share of the synthetic table (of the real train rows in brackets); median DCR of the synthetic rows to the
real train rows (the holdout's own median DCR to train in brackets; Euclidean on standardized numerics +
one-hot categoricals, train statistics); exact copies = synthetic rows equal to a train row in every
column but the id; teleseg quality = `teleseg evaluate synthetic`'s overall figure on the same files
(its own implementation of the SDMetrics definitions). "real train (reference)" judges the real train rows
as if they were synthetic: the ceiling of the quality and utility figures (and DCR 0, all rows copies).

A property of SDMetrics' report to keep in mind when reading its pair trends: for a numeric × categorical
pair, `QualityReport` discretizes the numeric column into 10 bins computed *separately* on the real and on
the synthetic table (`np.histogram_bin_edges` on each, sdmetrics 0.32
`reports/single_table/_properties/column_pair_trends.py`), so the same value can fall into different bins
when the two tables' ranges differ. On credit_data, seed 42, the holdout's `Time` ends at 60 and train's at
72, and the real train rows score 0.09 on `Home × Time` against the holdout; the `ContingencySimilarity`
metric called directly (bins from the real column) gives 0.91, as teleseg does. This is why SDMetrics'
all-pairs figure and teleseg's differ on credit_data (and on attrition) while they agree to 0.001 on
wa_churn; it moves every method, the reference row included.

How each was run (per data set and seed S):

- Split: a seeded permutation (numpy `default_rng(S)`), 80 % train / 20 % holdout, the same for every
  method; every generator sees the train rows only and draws as many rows as train has.
- Schema (automatic): the id column → `id`; two-valued columns teleseg reads as binary (0/1, yes/no,
  true/false) → `binary`; other numeric columns → `numeric` (`integer = true` when all whole); other strings
  → `categorical`; the target → `target`. The same typing gives the SDMetrics metadata
  (numeric → numerical, everything else → categorical).
- **teleseg VAE** (defaults of `configs/vae.toml`: [128, 128] → 16, mode-specific normalisation,
  conditioned on the target's class, KL weight 0.5, 40 epochs, early stopping), in
  `D = OUT/synthesis/X/seedS`:

  ```sh
  teleseg --seed S --no-progress -q train vae --set data.customers='"D/train.csv"' \\
      --set data.schema='"D/schema.toml"' --set output.dir='"D"' --set output.run_name='"vae-sS"' --force
  teleseg --seed S --no-progress -q sample --checkpoint D/vae-sS --rows N_train \\
      --output D/synthetic-teleseg-sampled.csv --force
  # for every method's table M:
  teleseg --no-progress -q evaluate synthetic --real D/holdout.csv --synthetic D/synthetic-M.csv \\
      --schema D/schema.toml --train D/train.csv --output D/quality-M.json
  ```

  teleseg splits the file
  it is given again (10 % validation for early stopping, 10 % test for its own report; `data.test_fraction`
  must be > 0), so it fits on about 80 % of the train rows while SDV fits on all of them.
- **SDV TVAE / CTGAN**: `Metadata.detect_from_dataframes({"table": train without the id}, infer_keys=None)`
  (SDV 2.x; it types some integer columns `ordinal`), `TVAESynthesizer(metadata)`
  / `CTGANSynthesizer(metadata)` with their defaults (300 epochs; `--quick`: `epochs=50`), `torch`
  and numpy seeded with S.
- **independent marginals**: every column drawn independently, with replacement, from its own train
  values (correlations destroyed, marginals kept): the floor.
""")
        ts = [r for r in rs if not r.get("error") and r["metrics"].get("ts_overall") is not None]
        if ts:
            parts.append("teleseg's `evaluate synthetic` next to the Python figures (same files, same holdout; SDMetrics "
                         "with all pairs, the definition teleseg implements; teleseg's TSTR uses a class-balanced "
                         "logistic regression and reports an AUC even when the synthetic table has one class; its DCR "
                         "is a range-normalised L1 / mismatch mean over columns and it compares at most 2,000 "
                         "synthetic rows, `--dcr-rows`, hence 2000 copies for the real train rows):\n")
            parts.append(table("synthesis", rs, methods=METHOD_ORDER["synthesis"], columns=[
                ("sdm_overall_all_pairs", "SDMetrics quality, all pairs"), ("ts_overall", "teleseg quality"),
                ("sdm_column_shapes", "SDM shapes"), ("ts_column_shapes", "teleseg shapes"),
                ("sdm_column_pair_trends_all_pairs", "SDM pairs, all"), ("ts_column_pair_trends", "teleseg pairs"),
                ("tstr_auc", "TSTR AUC (HGB)"), ("ts_tstr_auc", "TSTR AUC (teleseg)"),
                ("ts_exact_copies", "teleseg exact copies")]))
            parts.append("")
    # ---------------------------------------------------------------------------------------
    rr = load(out, "recommendation")
    if rr:
        info = next((r for r in rr if r.get("split")), None)
        parts.append("## Recommendation (MovieLens small, implicit, leave-last-out)\n")
        parts.append(table("recommendation", rr))
        parts.append("""
Protocol (one evaluator for every row of this table): every rating is an interaction (one per user–item
pair, at its earliest time); per user, the latest interaction is the test item and the one before it the
validation item (ties broken as teleseg does: by item id compared as strings), the rest is train. Models
train on train and choose epochs / grid points on the validation item (full-ranking HR@10, history = train);
the test item is ranked with history = train + validation: **sampled** among 99 items outside the
history, drawn once per seed (the same draws for every method; He et al. 2017), **full** among every item
outside the history (RecBole). Ranks are pessimistic on ties. teleseg's model is scored for this table by
`scripts/ncf_reference_scorer.py` (numpy, from its checkpoint), so it meets exactly the same candidates.

- **teleseg NeuMF** (defaults of `configs/ncf.toml`: NeuMF, 16 factors, MLP [16, 8], 8 negatives, Adam
  2e-3, batch 1024, up to 30 epochs with patience 6, best epoch by validation BCE; no customer table, so
  pure CF). The rating threshold is the one setting given: teleseg's default `rating_threshold = 4.0`
  keeps ratings ≥ 4 only, and this benchmark counts every rating. Its own figures are in the second table.

  ```sh
  teleseg --seed S --no-progress -q train ncf --set data.format='"movielens"' \\
      --set data.interactions='"../shared/data/movielens_small.csv"' --set data.rating_threshold=0.0 \\
      --set output.dir='"OUT/recommendation/movielens_small/seedS"' --set output.run_name='"ncf-sS"' --force
  teleseg --no-progress evaluate ncf --checkpoint OUT/recommendation/movielens_small/seedS/ncf-sS
  ```
- **popularity**: training interactions per item.
- **BPR-MF (grid on valid)**: dot product + item bias, BPR loss with one uniformly sampled unseen item per
  positive, L2 on the batch rows, Adam, batch 1024, best epoch of 40 (20 in `--quick`) by validation;
  grid dimension {32, 64, 128} × L2 {1e-4, 1e-3, 1e-2} × learning rate {1e-3, 5e-3} (`--quick`:
  {32, 64} × {1e-4, 1e-3} × {5e-3}), chosen on the validation item (Rendle et al. 2020 tune MF this way).
- **NeuMF (torch, He et al.)**: GMF (f) + MLP (embeddings 2f, towers 4f → 2f → f), N(0, 0.01) init, 4
  negatives per positive resampled each epoch, BCE, Adam 1e-3, batch 256, no pretraining, best of 20
  epochs by validation (10 in `--quick`); f ∈ {8, 16} chosen on validation (`--quick`: 16).
""")
        if info:
            parts.append(f"teleseg's split of the same file: {info['split']['users']} users, {info['split']['items']} "
                         f"items, {info['split']['test_users']} test users.\n")
        own = [r for r in rr if "(teleseg's evaluator)" in r["method"]]
        if own:
            parts.append("The same teleseg runs as `teleseg evaluate ncf` reports them (its own negative draws):\n")
            parts.append(table("recommendation", rr,
                               methods=["teleseg NeuMF (teleseg's evaluator)", "popularity (teleseg's evaluator)",
                                        "teleseg NeuMF", "popularity"],
                               columns=COLUMNS["recommendation"][:4]))
            parts.append("")
    # ---------------------------------------------------------------------------------------
    rp = load(out, "prediction")
    if rp:
        import prediction
        parts.append("## Prediction (the target column of the synthesis tables, on the real holdout)\n")
        parts.append(table("prediction", rp))
        parts.append("\n" + prediction.__doc__.split("\n\n", 1)[1] + "\n")
        parts.append("""```sh
teleseg --seed S --no-progress -q train propensity --set data.customers='"OUT/prediction/X/seedS/train.csv"' \\
    --set data.schema='"OUT/prediction/X/seedS/schema.toml"' --set propensity.target='"TARGET"' \\
    --set data.test_fraction=0 --set output.dir='"OUT/prediction/X/seedS"' --set output.run_name='"propensity-sS"' --force
teleseg --no-progress score --checkpoint OUT/prediction/X/seedS/propensity-sS --input OUT/prediction/X/seedS/holdout.csv \\
    --output OUT/prediction/X/seedS/scores.csv --force
```
""")
    errs = errors(rc + rs + rr + rp) if (rc or rs or rr or rp) else []
    if errs:
        parts.append("## Failures\n")
        parts.extend(errs)
        parts.append("")
    obs = observations(rc, rs, rr, rp)
    quick_sdv = [r for r in rs if r.get("epochs") == 50]
    if quick_sdv or obs:
        parts.append("## Observations (computed from the tables above)\n")
        if quick_sdv:
            parts.append("- **Caveat**: SDV TVAE / CTGAN ran with `epochs=50` (`--quick`), not their default 300. "
                         "On these small tables that is a few hundred optimizer steps (batch 500) and under-trains "
                         "them; their rows are not their library-default performance. Run without `--quick` for that.")
        parts.extend(f"- {o}" for o in obs)
        parts.append("")
    if meta.get("notes"):
        parts.append("## Notes\n")
        parts.extend(f"- {n}" for n in meta["notes"])
        parts.append("")
    Path(doc).parent.mkdir(parents=True, exist_ok=True)
    Path(doc).write_text("\n".join(parts) + "\n")
    return doc
