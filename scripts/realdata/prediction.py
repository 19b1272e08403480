"""Prediction family: teleseg's propensity model (gradient-boosted trees, `teleseg train
propensity`) vs LightGBM and scikit-learn's HistGradientBoosting with their defaults, and a
one-hot logistic regression, on the target column of the synthesis tables (churn, credit status,
attrition). One 80/20 train/holdout split per seed (the synthesis family's split), the same for
every method; every method fits on the train rows only and predicts the holdout:

- teleseg: `teleseg train propensity` on train.csv with the automatic schema (the target column
  `role = "target"`, only `propensity.target` set, and `data.test_fraction = 0` so the trees see
  the same 80 % as the others: teleseg's own test split would otherwise hold back a tenth of
  them), then `teleseg score --checkpoint RUN --input holdout.csv`;
- LightGBM: `LGBMClassifier()` with categoricals as pandas `category` columns (its native
  categorical handling), `verbose=-1`;
- HistGB: `HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=S)`;
- logistic: standardized numerics + one-hot categoricals, `LogisticRegression(max_iter=2000)`.

Metrics on the holdout, positive class = the data set's minority class: ROC AUC, PR AUC (average
precision), log loss, Brier score, fit + predict seconds."""

import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from common import (DATASETS, DATA_DIR, Results, TelesegError, infer_types, log, read_csv, run_teleseg,
                    teleseg_method, teleseg_sets, write_schema, write_teleseg_csv)
from synthesis import positive_label, split


def metrics(y, p):
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
    p = np.clip(np.asarray(p, dtype=float), 1e-15, 1 - 1e-15)
    return {"roc_auc": float(roc_auc_score(y, p)), "pr_auc": float(average_precision_score(y, p)),
            "log_loss": float(log_loss(y, p, labels=[0, 1])), "brier": float(brier_score_loss(y, p)),
            "positive_share": float(np.mean(y))}


def frames(train, holdout, types, target):
    """Features for the Python models: numerics as floats, binary as 0/1 floats, categoricals as
    pandas `category` with the train levels."""
    def one(df):
        out = pd.DataFrame(index=df.index)
        for c, t in types.items():
            if c == target:
                continue
            if t == "categorical":
                out[c] = pd.Categorical(df[c].astype("string"),
                                        categories=sorted(train[c].dropna().astype(str).unique()))
            elif t == "binary":
                out[c] = df[c].map(lambda v: np.nan if pd.isna(v) else
                                   float(str(v).strip().lower() in ("1", "true", "yes", "y")))
            else:
                out[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
        return out
    return one(train), one(holdout)


def fit_lightgbm(xtr, ytr, xte, seed):
    import lightgbm as lgb
    m = lgb.LGBMClassifier(random_state=seed, verbose=-1)
    m.fit(xtr, ytr)
    return m.predict_proba(xte)[:, 1]


def fit_histgb(xtr, ytr, xte, seed):
    from sklearn.ensemble import HistGradientBoostingClassifier
    m = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    m.fit(xtr, ytr)
    return m.predict_proba(xte)[:, 1]


def fit_logistic(xtr, ytr, xte, seed):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    cats = [c for c in xtr.columns if isinstance(xtr[c].dtype, pd.CategoricalDtype)]
    nums = [c for c in xtr.columns if c not in cats]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), nums),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), cats)])
    m = make_pipeline(pre, LogisticRegression(max_iter=2000, random_state=seed))
    m.fit(xtr.astype({c: object for c in cats}), ytr)
    return m.predict_proba(xte.astype({c: object for c in cats}))[:, 1]


def run(args, datasets, seeds):
    res = Results(args.out, "prediction")
    for name in datasets:
        spec = DATASETS[name]
        full = read_csv(DATA_DIR / spec["file"])
        id_col, target = spec["id"], spec["target"]
        if id_col is None:
            full.insert(0, "row_id", np.arange(1, len(full) + 1))
            id_col = "row_id"
        types = infer_types(full, id_col, skip=(target,))
        positive = positive_label(full, target)
        log(f"prediction {name}: {len(full)} rows, target {target} (positive {positive!r})")
        for seed in seeds:
            d = Path(args.out) / "prediction" / name / f"seed{seed}"
            d.mkdir(parents=True, exist_ok=True)
            train, holdout = split(full, seed)
            ytr = (train[target].astype(str) == str(positive)).astype(int).to_numpy()
            yte = (holdout[target].astype(str) == str(positive)).astype(int).to_numpy()
            if args.teleseg:
                train_csv = write_teleseg_csv(train, d / "train.csv", types, id_col)
                holdout_csv = write_teleseg_csv(holdout, d / "holdout.csv", types, id_col)
                schema = write_schema(d / "schema.toml", name, full, id_col, types,
                                      extra_roles={target: "target"})
                run_name = f"propensity-s{seed}"
                method = teleseg_method("teleseg propensity", args)
                try:
                    secs, _ = run_teleseg(args.teleseg, [
                        "--seed", seed, "--no-progress", "-q", "train", "propensity",
                        "--set", f'data.customers="{train_csv}"', "--set", f'data.schema="{schema}"',
                        "--set", f'propensity.target="{target}"', "--set", "data.test_fraction=0",
                        "--set", f'output.dir="{d}"', "--set", f'output.run_name="{run_name}"', "--force"]
                        + teleseg_sets(args), log_path=d / "teleseg.log")
                    scores = d / "scores.csv"
                    t0 = time.time()
                    run_teleseg(args.teleseg, ["--no-progress", "score", "--checkpoint", d / run_name,
                                               "--input", holdout_csv, "--output", scores, "--force"],
                                log_path=d / "teleseg.log")
                    secs += time.time() - t0
                    ev = json.loads((d / run_name / "evaluation.json").read_text())
                    out = pd.read_csv(scores, dtype={"customer_id": str})
                    col = f"{target}_probability"
                    by_id = dict(zip(out["customer_id"], out[col]))
                    p = np.array([by_id[str(i)] for i in holdout[id_col].map(
                        lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))])
                    if str(ev["target"].get("positive")) != str(positive):
                        p = 1.0 - p
                    m = metrics(yte, p)
                    m["trees"] = ev.get("trees")
                    m["shap_additivity_error"] = ev.get("shap_additivity_error")
                    res.add(name, method, seed, m, seconds=secs, run=str(d / run_name),
                            teleseg_positive=ev["target"].get("positive"))
                except (TelesegError, OSError, KeyError, ValueError) as e:
                    res.add(name, method, seed, {}, error=str(e))
            if args.teleseg_only:
                continue
            xtr, xte = frames(train, holdout, types, target)
            for label, fit in (("LightGBM (defaults)", fit_lightgbm), ("HistGB (defaults)", fit_histgb),
                               ("logistic (one-hot)", fit_logistic)):
                try:
                    t0 = time.time()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        p = fit(xtr, ytr, xte, seed)
                    res.add(name, label, seed, metrics(yte, p), seconds=time.time() - t0)
                except Exception as e:  # noqa: BLE001 (a failing library run is a result)
                    res.add(name, label, seed, {}, error=repr(e))
