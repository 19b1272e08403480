"""Recommendation family: teleseg NCF (NeuMF) vs popularity, a BPR dot-product MF with a small
validation grid (Rendle et al. 2020) and a PyTorch NeuMF (He et al. 2017), on MovieLens as
implicit feedback (every rating is an interaction).

The split reproduces teleseg's `leave_last_out` (src/data/interactions.rs) exactly: one event
per (user, item) at its earliest time; per user, events sorted by (time, item row) where item
rows are the item ids sorted as strings; the last event is the test item (users with >= 2), the
one before it the validation item (users with >= 3), the rest train. Every method trains on
train, picks its epoch / grid point on the validation item (history = train), and is scored on
the test item with history = train + validation, under both protocols, by one evaluator:
- sampled: the test item among 99 items outside the user's history, drawn uniformly without
  replacement with a seeded generator, the same draws for every method (He et al. 2017);
- full: the test item among every item outside the user's history (RecBole).
Ranks are pessimistic on ties (as teleseg's src/eval/ranking.rs)."""

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import DATASETS, DATA_DIR, Results, TelesegError, log, run_teleseg, teleseg_method, teleseg_sets

K = 10


# ---------------------------------------------------------------------------------------------
# Data and protocol


class Data:
    def __init__(self, path):
        raw = pd.read_csv(path, dtype={"user_id": str, "item_id": str})
        raw = raw.sort_values(["user_id", "item_id", "timestamp"]).drop_duplicates(["user_id", "item_id"])
        self.users = sorted(raw["user_id"].unique())
        self.items = sorted(raw["item_id"].unique())  # string order, as teleseg's `build`
        uix = {u: i for i, u in enumerate(self.users)}
        iix = {it: i for i, it in enumerate(self.items)}
        ev = pd.DataFrame({"u": raw["user_id"].map(uix).to_numpy(), "i": raw["item_id"].map(iix).to_numpy(),
                           "t": raw["timestamp"].to_numpy()})
        ev = ev.sort_values(["u", "t", "i"], kind="mergesort").reset_index(drop=True)
        self.n_users, self.n_items = len(self.users), len(self.items)
        self.n_interactions = len(ev)
        train, valid, test = [], [], []
        for u, g in ev.groupby("u", sort=True):
            items = g["i"].to_numpy()
            n = len(items)
            end = n
            if n >= 2:
                test.append((u, items[-1]))
                end -= 1
            if n >= 3:
                valid.append((u, items[-2]))
                end -= 1
            train.extend((u, i) for i in items[:end])
        self.train = np.array(train, dtype=np.int64)
        self.valid = np.array(valid, dtype=np.int64)
        self.test = np.array(test, dtype=np.int64)
        self.train_sets = [set() for _ in range(self.n_users)]
        for u, i in self.train:
            self.train_sets[u].add(int(i))
        self.hist_valid = self.train_sets  # history when the validation item is held out
        self.hist_test = [set(s) for s in self.train_sets]
        for u, i in self.valid:
            self.hist_test[u].add(int(i))


def sample_negatives(targets, history, n_items, n, seed):
    """Per (user, target): n distinct items outside history and != target (fewer if not enough)."""
    rng = np.random.default_rng(seed)
    out = []
    for u, t in targets:
        excl = history[u] | {int(t)}
        avail = n_items - len(excl)
        if avail <= n:
            out.append(np.array([j for j in range(n_items) if j not in excl], dtype=np.int64))
            continue
        got, seen = [], set()
        while len(got) < n:
            for j in rng.integers(0, n_items, 2 * n):
                j = int(j)
                if j not in excl and j not in seen:
                    seen.add(j)
                    got.append(j)
                    if len(got) == n:
                        break
        out.append(np.array(got, dtype=np.int64))
    return out


def rank_metrics(ranks):
    ranks = np.asarray(ranks, dtype=np.float64)
    hit = ranks <= K
    return {"hr": float(hit.mean()), "ndcg": float(np.where(hit, 1.0 / np.log2(ranks + 1), 0.0).mean()),
            "mrr": float((1.0 / ranks).mean())}


def evaluate(score_users, targets, history, n_items, negatives=None, batch=128):
    """score_users(user_array) -> [len, n_items] scores. Returns full (and sampled) metrics."""
    full, sampled = [], []
    for s in range(0, len(targets), batch):
        chunk = targets[s:s + batch]
        sc = np.asarray(score_users(chunk[:, 0]), dtype=np.float64)
        for r, (u, t) in enumerate(chunk):
            row = sc[r]
            ts = row[t]
            mask = np.ones(n_items, dtype=bool)
            mask[list(history[u])] = False
            mask[t] = False
            full.append(1 + int(np.sum(row[mask] >= ts)))
            if negatives is not None:
                sampled.append(1 + int(np.sum(row[negatives[s + r]] >= ts)))
    out = {"full_" + k: v for k, v in rank_metrics(full).items()}
    if negatives is not None:
        out.update({"sampled_" + k: v for k, v in rank_metrics(sampled).items()})
    return out


# ---------------------------------------------------------------------------------------------
# Models


def train_negatives(data, rng, per_pos):
    """For every train positive, `per_pos` items the user has no train interaction with."""
    u = np.repeat(data.train[:, 0], per_pos)
    j = rng.integers(0, data.n_items, len(u))
    key = data.train[:, 0] * data.n_items + data.train[:, 1]
    key.sort()
    while True:
        bad = np.isin(u * data.n_items + j, key, assume_unique=False)
        if not bad.any():
            return u, j
        j[bad] = rng.integers(0, data.n_items, int(bad.sum()))


def fit_bpr_mf(data, dim, reg, lr, seed, epochs, threads, eval_every=5):
    """Dot-product MF with an item bias, BPR loss, L2 on the batch rows, Adam, batch 1024. The
    epoch with the best validation full-ranking HR@10 is kept."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    P = torch.nn.Embedding(data.n_users, dim)
    Q = torch.nn.Embedding(data.n_items, dim)
    B = torch.nn.Embedding(data.n_items, 1)
    for e in (P, Q):
        torch.nn.init.normal_(e.weight, std=0.1)
    torch.nn.init.zeros_(B.weight)
    params = list(P.parameters()) + list(Q.parameters()) + list(B.parameters())
    opt = torch.optim.Adam(params, lr=lr)

    def scorer(users):
        with torch.no_grad():
            u = torch.as_tensor(users)
            return (P(u) @ Q.weight.T + B.weight.T).numpy()

    best, best_state, best_epoch = -1.0, None, 0
    pos = torch.as_tensor(data.train)
    for ep in range(1, epochs + 1):
        _, j = train_negatives(data, rng, 1)
        jt = torch.as_tensor(j)
        perm = torch.as_tensor(rng.permutation(len(pos)))
        for s in range(0, len(perm), 1024):
            b = perm[s:s + 1024]
            u, i, jj = pos[b, 0], pos[b, 1], jt[b]
            pu, qi, qj = P(u), Q(i), Q(jj)
            x = (pu * (qi - qj)).sum(1) + B(i)[:, 0] - B(jj)[:, 0]
            loss = -torch.nn.functional.logsigmoid(x).mean() + reg * (
                (pu ** 2).sum(1) + (qi ** 2).sum(1) + (qj ** 2).sum(1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        if ep % eval_every == 0 or ep == epochs:
            hr = evaluate(scorer, data.valid, data.hist_valid, data.n_items)["full_hr"]
            if hr > best:
                best, best_epoch = hr, ep
                best_state = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p, s in zip(params, best_state):
            p.copy_(s)
    return scorer, best, best_epoch


def fit_neumf(data, factors, seed, epochs, threads):
    """NeuMF as in He et al. 2017: GMF (factors wide) + MLP (embeddings 2*factors each, towers
    4f -> 2f -> f, ReLU), one sigmoid output on both; N(0, 0.01) init, 4 negatives per positive
    resampled each epoch, BCE, Adam lr 1e-3, batch 256, no pretraining. The epoch with the best
    validation full-ranking HR@10 is kept."""
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    f = factors

    class NeuMF(nn.Module):
        def __init__(self):
            super().__init__()
            self.gu, self.gi = nn.Embedding(data.n_users, f), nn.Embedding(data.n_items, f)
            self.mu, self.mi = nn.Embedding(data.n_users, 2 * f), nn.Embedding(data.n_items, 2 * f)
            for e in (self.gu, self.gi, self.mu, self.mi):
                nn.init.normal_(e.weight, std=0.01)
            self.mlp = nn.Sequential(nn.Linear(4 * f, 2 * f), nn.ReLU(), nn.Linear(2 * f, f), nn.ReLU())
            self.out = nn.Linear(2 * f, 1)

        def forward(self, u, i):
            g = self.gu(u) * self.gi(i)
            m = self.mlp(torch.cat([self.mu(u), self.mi(i)], 1))
            return self.out(torch.cat([g, m], 1))[:, 0]

    model = NeuMF()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    all_items = torch.arange(data.n_items)

    def scorer(users):
        outs = []
        with torch.no_grad():
            for u in users:
                outs.append(model(torch.full((data.n_items,), int(u)), all_items).numpy())
        return np.stack(outs)

    best, best_state, best_epoch = -1.0, None, 0
    for ep in range(1, epochs + 1):
        nu, nj = train_negatives(data, rng, 4)
        u = np.concatenate([data.train[:, 0], nu])
        i = np.concatenate([data.train[:, 1], nj])
        y = np.concatenate([np.ones(len(data.train)), np.zeros(len(nu))]).astype(np.float32)
        perm = rng.permutation(len(u))
        u, i, y = torch.as_tensor(u[perm]), torch.as_tensor(i[perm]), torch.as_tensor(y[perm])
        model.train()
        for s in range(0, len(u), 256):
            loss = nn.functional.binary_cross_entropy_with_logits(model(u[s:s + 256], i[s:s + 256]), y[s:s + 256])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        hr = evaluate(scorer, data.valid, data.hist_valid, data.n_items)["full_hr"]
        if hr > best:
            best, best_epoch = hr, ep
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return scorer, best, best_epoch


# ---------------------------------------------------------------------------------------------
# teleseg


def parse_evaluate_ncf(text):
    """The model's and popularity's rows of `teleseg evaluate ncf`'s table."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if not f or f[0] == "model" or "users," in line:
            continue
        name = f[0]
        try:
            if "sampled" in line:
                hr, ndcg, mrr = map(float, f[-3:])
                out.setdefault(name, {}).update({"sampled_hr": hr, "sampled_ndcg": ndcg, "sampled_mrr": mrr})
            elif "full" in line:
                hr, ndcg, mrr, cov = map(float, f[-4:])
                out.setdefault(name, {}).update({"full_hr": hr, "full_ndcg": ndcg, "full_mrr": mrr,
                                                 "coverage": cov})
        except ValueError:
            continue
    return out


def teleseg_scorer(run, data):
    """Scores of the teleseg checkpoint by scripts/ncf_reference_scorer.py (numpy, no teleseg
    code), mapped onto this script's user/item indices."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import ncf_reference_scorer as ref
    meta, t = ref.load(str(Path(run) / "model.safetensors"))
    users = json.loads(meta["teleseg.ncf.users"])
    items = json.loads(meta["teleseg.ncf.items"])
    urow = {u: r for r, u in enumerate(users)}
    irow = {it: r for r, it in enumerate(items)}
    to_ts_user = np.array([urow[u] for u in data.users])
    item_perm = np.array([irow[it] for it in data.items])

    def scorer(uu):
        outs = []
        for s in range(0, len(uu), 16):
            sc = ref.scores(meta, t, list(to_ts_user[uu[s:s + 16]]))
            outs.append(sc[:, item_perm])
        return np.concatenate(outs)

    return scorer


# ---------------------------------------------------------------------------------------------


def mf_grid(quick):
    if quick:
        return [(d, r, lr) for d in (32, 64) for r in (1e-4, 1e-3) for lr in (5e-3,)]
    return [(d, r, lr) for d in (32, 64, 128) for r in (1e-4, 1e-3, 1e-2) for lr in (1e-3, 5e-3)]


def run(args, datasets, seeds):
    res = Results(args.out, "recommendation")
    for name in datasets:
        path = DATA_DIR / DATASETS[name]["file"]
        t0 = time.time()
        data = Data(path)
        log(f"recommendation {name}: {data.n_users} users, {data.n_items} items, {data.n_interactions} "
            f"interactions; train {len(data.train)}, valid {len(data.valid)}, test {len(data.test)} "
            f"({time.time() - t0:.1f} s)")
        for seed in seeds:
            d = Path(args.out) / "recommendation" / name / f"seed{seed}"
            d.mkdir(parents=True, exist_ok=True)
            negs = sample_negatives(data.test, data.hist_test, data.n_items, 99, seed + 1000)

            def ev(scorer):
                return evaluate(scorer, data.test, data.hist_test, data.n_items, negs)

            counts = np.bincount(data.train[:, 1], minlength=data.n_items).astype(np.float64)
            t0 = time.time()
            res.add(name, "popularity", seed, ev(lambda uu: np.tile(counts, (len(uu), 1))),
                    seconds=time.time() - t0)

            if args.teleseg:
                run_name = f"ncf-s{seed}"
                try:
                    secs, _ = run_teleseg(args.teleseg, [
                        "--seed", seed, "--no-progress", "-q", "train", "ncf",
                        "--set", 'data.format="movielens"', "--set", f'data.interactions="{path}"',
                        "--set", "data.rating_threshold=0.0",  # every rating is an interaction
                        "--set", f'output.dir="{d}"', "--set", f'output.run_name="{run_name}"', "--force"]
                        + teleseg_sets(args),
                        log_path=d / "teleseg.log")
                    _, text = run_teleseg(args.teleseg, ["--no-progress", "evaluate", "ncf", "--checkpoint",
                                                         d / run_name], log_path=d / "teleseg.log")
                    own = parse_evaluate_ncf(text)
                    rep = json.loads((d / run_name / "evaluation.json").read_text())
                    split_info = {"users": rep["users"], "items": rep["items"], "test_users": rep["test_users"]}
                    model_name = rep["model"]
                    m = {k: own.get(model_name, {}).get(k) for k in
                         ("sampled_hr", "sampled_ndcg", "full_hr", "full_ndcg", "sampled_mrr", "full_mrr")}
                    res.add(name, teleseg_method("teleseg NeuMF", args) + " (teleseg's evaluator)", seed, m, seconds=secs,
                            run=str(d / run_name), split=split_info)
                    pm = {k: own.get("popularity", {}).get(k) for k in
                          ("sampled_hr", "sampled_ndcg", "full_hr", "full_ndcg")}
                    res.add(name, "popularity (teleseg's evaluator)", seed, pm)
                    t0 = time.time()
                    m2 = ev(teleseg_scorer(d / run_name, data))
                    res.add(name, teleseg_method("teleseg NeuMF", args), seed, m2, seconds=secs, run=str(d / run_name),
                            note="teleseg's checkpoint scored by scripts/ncf_reference_scorer.py, "
                                 "ranked by this script's evaluator and negatives")
                except (TelesegError, OSError, KeyError, ValueError) as e:
                    res.add(name, teleseg_method("teleseg NeuMF", args), seed, {}, error=str(e))
            if args.teleseg_only:
                continue

            # BPR-MF: grid on the validation item, then the chosen model on test.
            t0 = time.time()
            epochs = 20 if args.quick else 40
            best = None
            grid_log = []
            for dim, reg, lr in mf_grid(args.quick):
                scorer, hr, ep = fit_bpr_mf(data, dim, reg, lr, seed, epochs, args.threads)
                grid_log.append({"dim": dim, "reg": reg, "lr": lr, "valid_full_hr": hr, "epoch": ep})
                if best is None or hr > best[1]:
                    best = (scorer, hr, {"dim": dim, "reg": reg, "lr": lr, "epoch": ep})
            m = ev(best[0])
            m["valid_full_hr"] = best[1]
            res.add(name, "BPR-MF (grid on valid)", seed, m, seconds=time.time() - t0, chosen=best[2],
                    grid=grid_log, epochs=epochs)

            # NeuMF in PyTorch, predictive factors chosen on the validation item.
            t0 = time.time()
            epochs = 10 if args.quick else 20
            best = None
            factors_log = []
            for f in ((16,) if args.quick else (8, 16)):
                scorer, hr, ep = fit_neumf(data, f, seed, epochs, args.threads)
                factors_log.append({"factors": f, "valid_full_hr": hr, "epoch": ep})
                if best is None or hr > best[1]:
                    best = (scorer, hr, {"factors": f, "epoch": ep})
            m = ev(best[0])
            m["valid_full_hr"] = best[1]
            res.add(name, "NeuMF (torch, He et al.)", seed, m, seconds=time.time() - t0, chosen=best[2],
                    grid=factors_log, epochs=epochs)
