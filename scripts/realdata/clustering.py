"""Clustering family: teleseg DEC/IDEC vs k-means, GMM and a PyTorch autoencoder + k-means, on
data sets with a true class column. Every method labels every row of the file; ACC (Hungarian),
NMI and ARI are computed on all rows against the class column, which is no feature."""

import json
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from common import (DATASETS, DATA_DIR, Results, TelesegError, infer_types, log, read_csv, teleseg_method, teleseg_sets,
                    run_teleseg, with_id, write_schema, write_teleseg_csv)

# The small autoencoder baseline (same for every data set): d-256-128-10, ReLU, MSE on
# standardized features, Adam lr 1e-3, batch 256, 50 epochs, then k-means (n_init=10) on the
# 10-d code. (DEC's d-500-500-2000-10 would take ~5 min per fit on letter_recognition on 2 cores.)
AE_HIDDEN = (256, 128)
AE_LATENT = 10
AE_EPOCHS = 50
AE_EPOCHS_QUICK = 50  # cheap enough: the same in --quick


def cluster_acc(y_true, y_pred):
    """Hungarian-matched accuracy (each cluster to at most one class)."""
    t = np.unique(y_true, return_inverse=True)[1]
    p = np.unique(y_pred, return_inverse=True)[1]
    w = np.zeros((p.max() + 1, t.max() + 1), dtype=np.int64)
    np.add.at(w, (p, t), 1)
    r, c = linear_sum_assignment(-w)
    return w[r, c].sum() / len(t)


def external(y_true, y_pred):
    return {
        "acc": float(cluster_acc(y_true, y_pred)),
        "nmi": float(normalized_mutual_info_score(y_true, y_pred)),
        "ari": float(adjusted_rand_score(y_true, y_pred)),
        "clusters_used": int(len(np.unique(y_pred))),
    }


def feature_matrix(df, types):
    """Raw numeric/binary columns (median-imputed) and one-hot categoricals (none in these sets)."""
    import pandas as pd
    cols = []
    for c, t in types.items():
        s = df[c]
        if t == "categorical":
            cols.append(pd.get_dummies(s.astype("string"), prefix=c, dummy_na=True).astype(float))
        else:
            if t == "binary" and not pd.api.types.is_numeric_dtype(s):
                s = s.astype(str).str.lower().isin(["1", "true", "yes", "y"]).astype(float).where(s.notna())
            s = s.astype(float)
            cols.append(s.fillna(s.median()).to_frame(c))
    return pd.concat(cols, axis=1).to_numpy(dtype=np.float64)


def ae_kmeans(x, k, seed, epochs, threads):
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    xs = torch.tensor(StandardScaler().fit_transform(x), dtype=torch.float32)
    d = xs.shape[1]
    dims = (d,) + AE_HIDDEN + (AE_LATENT,)
    enc, dec = [], []
    for i in range(len(dims) - 1):
        enc.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            enc.append(nn.ReLU())
    rd = dims[::-1]
    for i in range(len(rd) - 1):
        dec.append(nn.Linear(rd[i], rd[i + 1]))
        if i < len(rd) - 2:
            dec.append(nn.ReLU())
    encoder, decoder = nn.Sequential(*enc), nn.Sequential(*dec)
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    n = xs.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, 256):
            b = xs[perm[i:i + 256]]
            loss = ((decoder(encoder(b)) - b) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        z = encoder(xs).numpy()
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(z), float(loss.item())


def prepare(name, out_dir):
    spec = DATASETS[name]
    df = read_csv(DATA_DIR / spec["file"])
    df, id_col = with_id(df, spec["id"], out_dir)
    label = spec["label"]
    types = infer_types(df, id_col, skip=(label,))
    d = Path(out_dir) / "clustering" / name
    d.mkdir(parents=True, exist_ok=True)
    csv = write_teleseg_csv(df, d / f"{name}.csv", types, id_col)
    schema = write_schema(d / f"{name}.toml", name, df, id_col, types, extra_roles={label: "ignore"})
    labels = d / "labels.csv"  # id,label for `teleseg evaluate clustering`
    df[[id_col, label]].to_csv(labels, index=False)
    return df, id_col, label, types, csv, schema, labels, d


def parse_evaluate_clustering(text):
    out = {}
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) == 4:
            out[f[0]] = {"acc": float(f[1]), "nmi": float(f[2]), "ari": float(f[3])}
    return out


def run(args, datasets, seeds):
    res = Results(args.out, "clustering")
    for name in datasets:
        spec = DATASETS[name]
        df, id_col, label, types, csv, schema, labels_csv, d = prepare(name, args.out)
        k = spec["k"]
        y = df[label].astype(str).to_numpy()
        x = feature_matrix(df, types)
        log(f"clustering {name}: {len(df)} rows, {x.shape[1]} features, k={k}")
        for seed in seeds:
            # teleseg DEC/IDEC with its defaults (configs/dec.toml); only data, schema, k, output.
            if args.teleseg:
                run_name = f"dec-{name}-s{seed}"
                cmd = ["--seed", seed, "--no-progress", "-q", "train", "dec",
                       "--set", f'data.customers="{csv}"', "--set", f'data.schema="{schema}"',
                       "--set", f"dec.k={k}", "--set", f'output.dir="{d}"',
                       "--set", f'output.run_name="{run_name}"', "--force"] + teleseg_sets(args)
                try:
                    secs, _ = run_teleseg(args.teleseg, cmd, log_path=d / "teleseg.log")
                    seg = json.loads((d / run_name / "segments.json").read_text())
                    by_id = dict(zip(df[id_col].astype(str), y))
                    truth = np.array([by_id[i] for i in seg["ids"]])
                    assert len(truth) == len(df), "segments.json must label every row"
                    _, ev = run_teleseg(args.teleseg, ["evaluate", "clustering", "--run", d / run_name,
                                                       "--labels", labels_csv], log_path=d / "teleseg.log")
                    own = parse_evaluate_clustering(ev)
                    for m, body in seg["methods"].items():
                        metrics = external(truth, np.asarray(body["labels"]))
                        if m in own:
                            metrics["teleseg_reported"] = own[m]
                        method = teleseg_method("teleseg IDEC" if m == "dec" else f"teleseg {m}", args)
                        res.add(name, method, seed, metrics, seconds=secs if m == "dec" else None,
                                run=str(d / run_name), mode=seg.get("mode"),
                                collapsed=seg.get("collapsed"), stop=seg.get("stop"))
                except (TelesegError, OSError, KeyError, AssertionError, ValueError) as e:
                    res.add(name, teleseg_method("teleseg IDEC", args), seed, {}, error=str(e))
            if args.teleseg_only:
                continue
            # scikit-learn baselines on the raw columns, both scalers.
            for scaler_name, scaler in (("std", StandardScaler), ("minmax", MinMaxScaler)):
                xs = scaler().fit_transform(x)
                t0 = time.time()
                pred = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(xs)
                res.add(name, f"k-means ({scaler_name})", seed, external(y, pred), seconds=time.time() - t0)
                t0 = time.time()
                try:
                    pred = GaussianMixture(n_components=k, random_state=seed).fit(xs).predict(xs)
                    res.add(name, f"GMM ({scaler_name})", seed, external(y, pred), seconds=time.time() - t0)
                except Exception as e:  # noqa: BLE001 (a singular covariance is a result too)
                    res.add(name, f"GMM ({scaler_name})", seed, {}, error=repr(e))
            t0 = time.time()
            epochs = AE_EPOCHS_QUICK if args.quick else AE_EPOCHS
            pred, loss = ae_kmeans(x, k, seed, epochs, args.threads)
            m = external(y, pred)
            m["ae_final_batch_mse"] = loss
            res.add(name, "AE + k-means (torch)", seed, m, seconds=time.time() - t0, epochs=epochs)
