"""Synthesis family: teleseg's tabular VAE vs SDV TVAE / CTGAN and an independent-marginals
floor. One 80/20 train/holdout split per seed, the same for every method; every generator sees
the train rows only and draws as many rows as train has. Every synthetic table is judged by the
same code: sdmetrics QualityReport against the holdout, TSTR vs TRTR ROC AUC on the holdout
(HistGradientBoostingClassifier), positive-class share, DCR and exact copies, plus teleseg's own
`teleseg evaluate synthetic` on the same files."""

import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from common import (DATASETS, DATA_DIR, Results, TelesegError, infer_types, log, read_csv, teleseg_method, teleseg_sets,
                    run_teleseg, with_id, write_schema, write_teleseg_csv)

SDV_EPOCHS_QUICK = 50


def split(df, seed):
    """80/20 train/holdout by a seeded permutation (the same for every method)."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(df))
    n_train = int(round(0.8 * len(df)))
    return df.iloc[np.sort(perm[:n_train])].reset_index(drop=True), \
        df.iloc[np.sort(perm[n_train:])].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Generators. Each returns a frame with the train frame's non-id columns, `n` rows.


def gen_marginals(train, n, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: train[c].to_numpy()[rng.integers(0, len(train), n)] for c in train.columns})


def gen_sdv(kind, train, n, seed, epochs, threads):
    import torch
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer, TVAESynthesizer
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    np.random.seed(seed)
    # The id is already removed; no other column is a key.
    metadata = Metadata.detect_from_dataframes({"table": train}, infer_keys=None)
    cls = TVAESynthesizer if kind == "tvae" else CTGANSynthesizer
    kwargs = {} if epochs is None else {"epochs": epochs}
    synth = cls(metadata, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synth.fit({"table": train})  # SDV 2.x takes {table name: frame}
        out = synth.sample(num_rows=n)
    if isinstance(out, dict):
        out = out["table"]
    return out[train.columns], metadata.to_dict()


# ---------------------------------------------------------------------------------------------
# Judges (identical for every method).


def positive_label(full, target):
    """The minority class of the whole data set (teleseg's utility uses the holdout's minority)."""
    vc = full[target].dropna().astype(str).value_counts()
    return vc.index[-1]


def sdm_metadata(types, target):
    cols = {c: {"sdtype": "numerical" if t == "numeric" else "categorical"} for c, t in types.items()}
    cols[target] = {"sdtype": "categorical"}
    return {"columns": cols}


_BIN = {"0": "0", "false": "0", "no": "0", "n": "0", "1": "1", "true": "1", "yes": "1", "y": "1"}


def _txt(v):
    return str(int(v)) if isinstance(v, (float, np.floating)) and float(v).is_integer() else str(v)


def _norm_cats(frame, types, target):
    """Categorical/binary/target cells as strings (so 1 and 1.0 and '1' agree), NaN kept."""
    f = frame.copy()
    for c in list(types) + [target]:
        if c != target and types[c] == "binary":
            # teleseg's tokens (any case) -> "0"/"1", whatever form a generator wrote them in.
            f[c] = f[c].map(lambda v: np.nan if pd.isna(v) else _BIN.get(_txt(v).lower(), _txt(v)))
        elif c == target or types[c] != "numeric":
            f[c] = f[c].map(lambda v: np.nan if pd.isna(v) else
                            (str(int(v)) if isinstance(v, (float, np.floating)) and float(v).is_integer() else str(v)))
        else:
            f[c] = pd.to_numeric(f[c], errors="coerce")
    return f


def quality(holdout, syn, metadata):
    """SDMetrics QualityReport twice: with the library's defaults (since sdmetrics 0.2x, Column
    Pair Trends averages only pairs whose real correlation > 0.5 / association > 0.3) and with
    both thresholds 0 (every pair: the classic definition, which teleseg implements)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sdmetrics.reports.single_table import QualityReport
        out = {}
        for suffix, zero in (("", False), ("_all_pairs", True)):
            r = QualityReport()
            if zero:
                r.real_correlation_threshold = 0
                r.real_association_threshold = 0
            r.generate(holdout, syn, metadata, verbose=False)
            props = r.get_properties().set_index("Property")["Score"]
            out["sdm_overall" + suffix] = float(r.get_score())
            out["sdm_column_shapes" + suffix] = float(props.get("Column Shapes", np.nan))
            out["sdm_column_pair_trends" + suffix] = float(props.get("Column Pair Trends", np.nan))
            if not zero:
                det = r.get_details("Column Pair Trends")
                out["sdm_pairs_meeting_threshold"] = int(det["Meets Threshold?"].fillna(False).astype(bool).sum())
                out["sdm_pairs"] = int(len(det))
    return out


def _xy(frame, types, target, positive, cat_levels):
    f = frame[frame[target].notna()]
    x = pd.DataFrame(index=f.index)
    for c, t in types.items():
        if t == "numeric":
            x[c] = pd.to_numeric(f[c], errors="coerce")
        else:
            x[c] = pd.Categorical(f[c], categories=cat_levels[c])
    return x, (f[target].astype(str) == positive).to_numpy().astype(int)


def tstr(train, holdout, syn, types, target, positive, seed):
    """ROC AUC on the holdout of a classifier trained on `syn` (NaN when `syn` has one class).
    Category levels are those of the real train rows (others become missing)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    cat_levels = {c: sorted(train[c].dropna().unique().tolist()) for c, t in types.items() if t != "numeric"}
    xh, yh = _xy(holdout, types, target, positive, cat_levels)
    x, y = _xy(syn, types, target, positive, cat_levels)
    if len(np.unique(y)) < 2:
        return float("nan")
    clf = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    clf.fit(x, y)
    return float(roc_auc_score(yh, clf.predict_proba(xh)[:, 1]))


def _encode(frames, train, types, target):
    """Standardized numerics (train mean/sd, NaN -> train mean i.e. 0) + one-hot categoricals
    (train levels plus missing; unseen levels all-zero)."""
    cols = list(types) + [target]
    out = [[] for _ in frames]
    for c in cols:
        if c != target and types[c] == "numeric":
            tr = pd.to_numeric(train[c], errors="coerce")
            mu, sd = tr.mean(), tr.std()
            sd = sd if sd > 0 else 1.0
            for i, f in enumerate(frames):
                out[i].append(((pd.to_numeric(f[c], errors="coerce") - mu) / sd).fillna(0.0).to_numpy()[:, None])
        else:
            levels = train[c].fillna("<NA>").unique().tolist()
            for i, f in enumerate(frames):
                v = f[c].fillna("<NA>").to_numpy()
                out[i].append(np.stack([(v == lv) for lv in levels], axis=1).astype(float))
    return [np.hstack(o) for o in out]


def privacy(train, holdout, syn, types, target):
    from sklearn.neighbors import NearestNeighbors
    etr, eh, es = _encode([train, holdout, syn], train, types, target)
    nn = NearestNeighbors(n_neighbors=1).fit(etr)
    ds = nn.kneighbors(es)[0][:, 0]
    dh = nn.kneighbors(eh)[0][:, 0]
    cols = list(types) + [target]

    def keys(f):
        return set(map(tuple, f[cols].astype(object).where(f[cols].notna(), "<NA>")
                       .map(lambda v: round(v, 6) if isinstance(v, float) else v).to_numpy().tolist()))

    train_keys = keys(train)
    syn_keys = list(map(tuple, syn[cols].astype(object).where(syn[cols].notna(), "<NA>")
                        .map(lambda v: round(v, 6) if isinstance(v, float) else v).to_numpy().tolist()))
    copies = sum(k in train_keys for k in syn_keys)
    return {"dcr_median": float(np.median(ds)), "dcr_holdout_median": float(np.median(dh)),
            "dcr_share_closer_than_holdout_median": float(np.mean(ds < np.median(dh))),
            "exact_copies": int(copies), "exact_copy_share": copies / max(len(syn), 1)}


def teleseg_quality(binary, real, synthetic, schema, train, out_json, log_path):
    run_teleseg(binary, ["--no-progress", "-q", "evaluate", "synthetic", "--real", real,
                         "--synthetic", synthetic, "--schema", schema, "--train", train,
                         "--output", out_json], log_path=log_path)
    r = json.loads(Path(out_json).read_text())
    r = r.get("synthetic", r)  # {"synthetic": report, "independent_marginals": teleseg's own floor}
    q, p, u = r["quality"], r.get("privacy") or {}, r.get("utility") or {}
    return {"ts_overall": q["overall"], "ts_column_shapes": q["column_shapes"],
            "ts_column_pair_trends": q["column_pair_trends"],
            "ts_tstr_auc": (u.get("tstr") or {}).get("roc_auc"),
            "ts_trtr_auc": (u.get("trtr") or {}).get("roc_auc"),
            "ts_dcr_median": p.get("dcr_synthetic_median"),
            "ts_dcr_holdout_median": p.get("dcr_holdout_median"),
            "ts_exact_copies": p.get("exact_copies")}


def judge(ctx, syn, method, seed, seconds, res, extra=None):
    """Every figure of one synthetic table; `syn` has the train frame's columns (id included)."""
    train, holdout, types, target, positive = ctx["train"], ctx["holdout"], ctx["types"], ctx["target"], ctx["positive"]
    m = {}
    s = _norm_cats(syn, types, target)
    m.update(quality(ctx["holdout_n"].drop(columns=[ctx["id"]]), s.drop(columns=[ctx["id"]]), ctx["sdm_meta"]))
    m["tstr_auc"] = tstr(ctx["train_n"], ctx["holdout_n"], s, types, target, positive, seed)
    if "trtr" not in ctx:
        ctx["trtr"] = tstr(ctx["train_n"], ctx["holdout_n"], ctx["train_n"], types, target, positive, seed)
    m["trtr_auc"] = ctx["trtr"]
    m["target_share"] = float((s[target].dropna() == positive).mean()) if s[target].notna().any() else float("nan")
    m["target_share_real"] = float((ctx["train_n"][target].dropna() == positive).mean())
    m.update(privacy(ctx["train_n"], ctx["holdout_n"], s, types, target))
    if ctx["teleseg"]:
        slug = "".join(ch if ch.isalnum() else "-" for ch in method.lower()).strip("-")
        p = ctx["dir"] / f"synthetic-{slug}.csv"
        write_teleseg_csv(syn, p, types, ctx["id"])
        try:
            m.update(teleseg_quality(ctx["teleseg"], ctx["holdout_csv"], p, ctx["schema"],
                                     ctx["train_csv"], ctx["dir"] / f"quality-{slug}.json",
                                     ctx["dir"] / "teleseg.log"))
        except (TelesegError, OSError, KeyError) as e:
            m["ts_error"] = str(e)
    res.add(ctx["name"], method, seed, m, seconds=seconds, **(extra or {}))


def run(args, datasets, seeds):
    res = Results(args.out, "synthesis")
    for name in datasets:
        spec = DATASETS[name]
        full = read_csv(DATA_DIR / spec["file"])
        full, id_col = with_id(full, spec["id"], args.out)
        target = spec["target"]
        types = infer_types(full, id_col, skip=(target,))
        positive = positive_label(full, target)
        log(f"synthesis {name}: {len(full)} rows, types {dict(pd.Series(types).value_counts())}, "
            f"target {target} (positive {positive!r})")
        for seed in seeds:
            d = Path(args.out) / "synthesis" / name / f"seed{seed}"
            d.mkdir(parents=True, exist_ok=True)
            train, holdout = split(full, seed)
            train_csv = write_teleseg_csv(train, d / "train.csv", types, id_col)
            holdout_csv = write_teleseg_csv(holdout, d / "holdout.csv", types, id_col)
            schema = write_schema(d / "schema.toml", name, full, id_col, types, extra_roles={target: "target"})
            ctx = {"name": name, "dir": d, "id": id_col, "types": types, "target": target,
                   "positive": positive, "train": train, "holdout": holdout,
                   "train_n": _norm_cats(train, types, target), "holdout_n": _norm_cats(holdout, types, target),
                   "sdm_meta": sdm_metadata(types, target), "teleseg": args.teleseg, "schema": schema,
                   "train_csv": train_csv, "holdout_csv": holdout_csv}
            n = len(train)
            feats = train.drop(columns=[id_col])
            ids = [f"s{i + 1:07d}" for i in range(n)]

            def with_ids(frame):
                frame = frame.reset_index(drop=True).copy()
                frame.insert(0, id_col, ids[:len(frame)])
                return frame[train.columns]

            # Real train rows judged as if synthetic: the ceiling of every figure (and DCR 0).
            if not args.teleseg_only:
                judge(ctx, train.copy(), "real train (reference)", seed, None, res)
                t0 = time.time()
                judge(ctx, with_ids(gen_marginals(feats, n, seed)), "independent marginals", seed,
                      time.time() - t0, res)
            if args.teleseg:
                run_name = f"vae-s{seed}"
                try:
                    t0 = time.time()
                    run_teleseg(args.teleseg, ["--seed", seed, "--no-progress", "-q", "train", "vae",
                                               "--set", f'data.customers="{train_csv}"',
                                               "--set", f'data.schema="{schema}"',
                                               "--set", f'output.dir="{d}"',
                                               "--set", f'output.run_name="{run_name}"', "--force"]
                                + teleseg_sets(args), log_path=d / "teleseg.log")
                    out_csv = d / "synthetic-teleseg-sampled.csv"
                    run_teleseg(args.teleseg, ["--seed", seed, "--no-progress", "-q", "sample",
                                               "--checkpoint", d / run_name, "--rows", n,
                                               "--output", out_csv, "--force"], log_path=d / "teleseg.log")
                    secs = time.time() - t0
                    syn = read_csv(out_csv)
                    diag = {"run": str(d / run_name)}
                    try:  # training diagnostics kept in the JSON: epochs run, final KL (posterior collapse?)
                        lines = (d / run_name / "metrics.jsonl").read_text().splitlines()
                        last = json.loads(lines[-1])
                        diag.update(epochs_run=len(lines), steps=last.get("step"),
                                    final_train_kl=(last.get("train_parts") or {}).get("kl"))
                    except (OSError, ValueError, IndexError):
                        pass
                    judge(ctx, syn[train.columns], teleseg_method("teleseg VAE", args), seed, secs, res, diag)
                except (TelesegError, OSError, KeyError) as e:
                    res.add(name, teleseg_method("teleseg VAE", args), seed, {}, error=str(e))
            if args.teleseg_only:
                continue
            epochs = SDV_EPOCHS_QUICK if args.quick else None
            for kind, label in (("tvae", "SDV TVAE"), ("ctgan", "SDV CTGAN")):
                try:
                    t0 = time.time()
                    syn, meta = gen_sdv(kind, feats, n, seed, epochs, args.threads)
                    secs = time.time() - t0
                    (d / f"sdv-{kind}-metadata.json").write_text(json.dumps(meta, indent=1))
                    judge(ctx, with_ids(syn), label, seed, secs, res,
                          {"epochs": epochs or "default (300)"})
                except Exception as e:  # noqa: BLE001 (a failing library run is a result)
                    res.add(name, label, seed, {}, error=repr(e))
