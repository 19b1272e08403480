#!/usr/bin/env python3
"""teleseg vs PyTorch (eager) on the same work: samples/s of each and the ratio teleseg ÷ torch.

    python3 scripts/bench_vs_torch.py [--teleseg target/release/teleseg] [--rows ae,vae,dec,ncf,score]
        [--rounds 5] [--seconds 5] [--quick] [--cuda [--no-cpu]] [--backend flex] [--batch-size B]
        [--against OTHER_TELESEG]   # the peer is another teleseg build (a before/after), not torch

How it measures (issue #19): each side runs in its own loop on the same architecture, batch,
optimizer (Adam, lr 1e-3), data and data feed (the same seeded permutation of the rows, gathered
per batch on both sides), and reads the loss to the host every step (`loss.item()`, the idiomatic
PyTorch loop; teleseg's NaN guard does the same).

1. Calibration: one untimed run of each side (its own warm-up included) gives its rate.
2. Then --rounds rounds (default 5), alternating teleseg, torch, teleseg, torch, ... Every run
   does at least 100 warm-up steps off the clock (20 for `score`), then a timed stretch of
   max(2,000 steps, --seconds of work at the calibrated rate) (`score`, 1,024 customers a step:
   max(100 steps, --seconds)). Each side so runs for seconds per round, not a few hundred steps.
3. The table gives each side's median rate and its spread (min–max over the rounds), and the
   median of the per-round ratios teleseg ÷ torch with its min–max.

Rows (issue #8):

  ae     autoencoder 64-256-128-16 mirrored, MSE, batch 256, 16384 N(0,1) rows
  vae    VAE, same widths, latent 16: all-numeric Gaussian NLL with learned σ per column + KL
  dec    DEC clustering phase, K = 8: KL(P‖Q) of the Student-t assignment (α = 1), the target P
         refreshed on all rows every 140 steps (no_grad forward), batch 256
  ncf    NeuMF, 50k customers × 500 offers, factors 32, MLP 64-32-16-8, 4 negatives per positive
         (~3 positives per customer), batch 1024, BCE; negatives drawn in bulk at every epoch.
         Embedding rows updated sparsely with lazy Adam on both sides: teleseg's default
         (`model.embedding_updates = "sparse"`), torch `Embedding(sparse=True)` + `SparseAdam`
         (Adam for the tower and output layer)
  ncf_dense  the same with dense embedding gradients and Adam over whole tables on both sides
         (teleseg `--dense-embeddings`, torch's default `Embedding` + `Adam`)
  score  embed (encoder) + DEC segment (argmax q) + NeuMF top-10 of 200 offers excluding held
         ones, 1024 customers per step; rates are customers/s

teleseg runs as a subprocess (`teleseg bench MODEL ...`, one JSON line); torch runs in this
process with torch.set_num_threads(os.cpu_count()). With --cuda (and torch.cuda.is_available()) every row is
also run by torch on CUDA, and teleseg with --backend wgpu (its GPU backend).

Install (not part of `cargo test`): `pip install torch numpy` (CPU wheels are enough:
`pip install torch --index-url https://download.pytorch.org/whl/cpu`). Build the binary first
with `cargo test --release --no-run` (it lands in $CARGO_TARGET_DIR/release/teleseg).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

ROWS = ["ae", "vae", "dec", "ncf", "ncf_dense", "score"]
TELESEG_MODEL = {"ae": "autoencoder", "vae": "vae", "dec": "dec", "ncf": "ncf", "ncf_dense": "ncf",
                 "score": "score"}
DESCRIPTION = {
    "ae": "autoencoder 64-256-128-16, batch 256",
    "vae": "VAE 64-256-128-16, batch 256",
    "dec": "DEC clustering phase K=8, batch 256",
    "ncf": "NeuMF 50k×500, f32, MLP 64-32-16-8, 4 neg, batch 1024, lazy Adam",
    "ncf_dense": "NeuMF 50k×500, same, dense Adam over whole tables",
    "score": "embed + segment + top-10 of 200 offers, 1024/step",
}


MIN_STEPS, WARMUP = 2000, 100
SCORE_MIN_STEPS, SCORE_WARMUP = 100, 20


def params(row, quick, batch=None):
    """The sizes of a row (the same arguments go to teleseg); `batch` overrides the batch size.
    `steps` here is the calibration run's; the timed rounds size theirs from its rate."""
    p = dict(rows=16384, input=64, hidden=[256, 128], latent=16, k=8, batch=256,
             steps=MIN_STEPS // 4, warmup=WARMUP, min_steps=MIN_STEPS, users=50_000, items=500,
             factors=32, mlp=[64, 32, 16, 8], negatives=4, top=10)
    if row in ("ncf", "ncf_dense"):
        p.update(batch=1024)
    if row == "score":
        p.update(rows=20_480, batch=1024, steps=SCORE_MIN_STEPS // 2, warmup=SCORE_WARMUP,
                 min_steps=SCORE_MIN_STEPS, items=200)
    if quick:
        p.update(steps=max(10, p["steps"] // 20), warmup=min(p["warmup"], 5),
                 min_steps=max(10, p["min_steps"] // 20))
    if batch:
        p.update(batch=batch)
    return p


def timed_steps(p, rate, seconds):
    """Steps of a timed run: at least `min_steps`, and at least `seconds` at `rate` samples/s."""
    return max(p["min_steps"], int(seconds * rate / p["batch"]) + 1)


def teleseg_args(row, p, backend):
    a = [TELESEG_MODEL[row], "--rows", str(p["rows"]), "--input", str(p["input"]),
         "--hidden", ",".join(map(str, p["hidden"])), "--latent", str(p["latent"]),
         "--k", str(p["k"]), "--batch-size", str(p["batch"]), "--steps", str(p["steps"]),
         "--warmup", str(p["warmup"]), "--users", str(p["users"]), "--items", str(p["items"]),
         "--factors", str(p["factors"]), "--mlp", ",".join(map(str, p["mlp"])),
         "--negatives", str(p["negatives"]), "--top", str(p["top"])]
    if row == "ncf_dense":
        a.append("--dense-embeddings")
    return a + (["--backend", backend] if backend else [])


def run_teleseg(exe, row, p, backend):
    cmd = [exe, "bench"] + teleseg_args(row, p, backend)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    assert r["steps"] == p["steps"], (r, p)
    return r["samples_per_s"]


# ---------------------------------------------------------------- torch models


def mlp(widths):
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


class AE(torch.nn.Module):
    def __init__(self, p):
        super().__init__()
        w = [p["input"]] + p["hidden"] + [p["latent"]]
        self.encoder, self.decoder = mlp(w), mlp(w[::-1])

    def forward(self, x):
        return self.decoder(self.encoder(x))


class VAE(torch.nn.Module):
    def __init__(self, p):
        super().__init__()
        w = [p["input"]] + p["hidden"]
        self.encoder = mlp(w + [2 * p["latent"]])
        self.decoder = mlp([p["latent"]] + p["hidden"][::-1] + [p["input"]])
        self.log_sigma = torch.nn.Parameter(torch.full((p["input"],), -1.6))
        self.latent = p["latent"]

    def loss(self, x):
        h = self.encoder(x)
        mu, logvar = h[:, : self.latent], h[:, self.latent:]
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        out = self.decoder(z)
        sigma = self.log_sigma.exp().clamp(0.01, 1.0)
        b = x.shape[0]
        nll = ((x - out).square() / (2 * sigma.square()) + sigma.log()).sum() / b
        kl = 0.5 * (logvar.exp() + mu.square() - logvar - 1).sum() / b
        return nll + kl


def soft_assign(z, mu):
    d2 = (z.unsqueeze(1) - mu.unsqueeze(0)).square().sum(2)
    kern = 1.0 / (1.0 + d2)  # α = 1: (1 + d²)^-1
    return kern / kern.sum(1, keepdim=True)


def target(q):
    w = q.square() / q.sum(0).clamp_min(1e-12)
    return w / w.sum(1, keepdim=True).clamp_min(1e-12)


class NeuMF(torch.nn.Module):
    def __init__(self, users, items, f, layers, sparse=False):
        super().__init__()
        self.gmf_u = torch.nn.Embedding(users, f, sparse=sparse)
        self.gmf_i = torch.nn.Embedding(items, f, sparse=sparse)
        self.mlp_u = torch.nn.Embedding(users, layers[0] // 2, sparse=sparse)
        self.mlp_i = torch.nn.Embedding(items, layers[0] // 2, sparse=sparse)
        for e in (self.gmf_u, self.gmf_i, self.mlp_u, self.mlp_i):
            torch.nn.init.normal_(e.weight, 0.0, 0.01)
        tower = []
        for a, b in zip(layers[:-1], layers[1:]):
            tower += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        self.tower = torch.nn.Sequential(*tower)
        self.predict = torch.nn.Linear(f + layers[-1], 1)

    def forward(self, u, i):
        g = self.gmf_u(u) * self.gmf_i(i)
        m = self.tower(torch.cat([self.mlp_u(u), self.mlp_i(i)], 1))
        return self.predict(torch.cat([g, m], 1)).squeeze(1)

    def score_all(self, u):
        """[b] users → [b, items] logits."""
        b, n = u.shape[0], self.gmf_i.weight.shape[0]
        items = torch.arange(n, device=u.device)
        uu = u.repeat_interleave(n)
        ii = items.repeat(b)
        return self.forward(uu, ii).reshape(b, n)


def positives(users, items, rng):
    n = rng.integers(1, 6, size=users)
    u = np.repeat(np.arange(users), n)
    i = ((rng.random(u.shape[0]) ** 2) * items).astype(np.int64)
    pairs = np.unique(u * items + i)
    return pairs // items, pairs % items


def timed(step, warmup, steps, sync):
    for s in range(warmup):
        step(s)
    sync()
    t = time.perf_counter()
    for s in range(warmup, warmup + steps):
        step(s)
    sync()
    return time.perf_counter() - t


def run_torch(row, p, device):
    torch.manual_seed(42)
    rng = np.random.default_rng(42)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    x_all = torch.randn(p["rows"], p["input"], device=device)
    b = p["batch"]
    nb = p["rows"] // b
    perm = torch.randperm(p["rows"], device=device)[: nb * b].reshape(nb, b)

    if row in ("ae", "vae", "dec"):
        if row == "ae":
            model = AE(p).to(device)
            loss_of = lambda x: torch.nn.functional.mse_loss(model(x), x)  # noqa: E731
        elif row == "vae":
            model = VAE(p).to(device)
            loss_of = model.loss
        else:
            ae = AE(p).to(device)
            with torch.no_grad():
                mu0 = ae.encoder(x_all[: p["k"]]).clone()
            model = torch.nn.Module()
            model.encoder = ae.encoder
            model.mu = torch.nn.Parameter(mu0)
            state = {}

            def loss_of(x, idx):
                q = soft_assign(model.encoder(x), model.mu)
                pt = state["p"][idx]
                return (pt * (pt.clamp_min(1e-12).log() - q.clamp_min(1e-12).log())).sum() / x.shape[0]
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step(s):
            idx = perm[s % nb]
            if row == "dec":
                if s % 140 == 0:
                    with torch.no_grad():
                        state["p"] = target(soft_assign(model.encoder(x_all), model.mu))
                loss = loss_of(x_all[idx], idx)
            else:
                loss = loss_of(x_all[idx])
            loss.item()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        secs = timed(step, p["warmup"], p["steps"], sync)
        return p["steps"] * b / secs

    if row in ("ncf", "ncf_dense"):
        pu, pi = positives(p["users"], p["items"], rng)
        pu, pi = torch.from_numpy(pu).to(device), torch.from_numpy(pi).to(device)
        sparse = row == "ncf"
        model = NeuMF(p["users"], p["items"], p["factors"], p["mlp"], sparse).to(device)
        if sparse:
            emb = [e.weight for e in (model.gmf_u, model.gmf_i, model.mlp_u, model.mlp_i)]
            rest = [q for q in model.parameters() if all(q is not e for e in emb)]
            opts = [torch.optim.SparseAdam(emb, lr=1e-3), torch.optim.Adam(rest, lr=1e-3)]
        else:
            opts = [torch.optim.Adam(model.parameters(), lr=1e-3)]
        n_pos, k = pu.shape[0], p["negatives"]
        per_epoch = n_pos * (1 + k) // b
        ep = {}

        def new_epoch():
            # Bulk negatives: k uniform offers per positive (no rejection of held offers; teleseg
            # rejects them, which is more work on its side), then a shuffle.
            nu = pu.repeat(k)
            ni = torch.randint(0, p["items"], (n_pos * k,), device=device)
            u = torch.cat([pu, nu])
            i = torch.cat([pi, ni])
            y = torch.cat([torch.ones(n_pos, device=device), torch.zeros(n_pos * k, device=device)])
            o = torch.randperm(u.shape[0], device=device)
            ep.update(u=u[o], i=i[o], y=y[o])

        def step(s):
            j = s % per_epoch
            if j == 0:
                new_epoch()
            sl = slice(j * b, (j + 1) * b)
            logits = model(ep["u"][sl], ep["i"][sl])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, ep["y"][sl])
            loss.item()
            for opt in opts:
                opt.zero_grad(set_to_none=True)
            loss.backward()
            for opt in opts:
                opt.step()

        secs = timed(step, p["warmup"], p["steps"], sync)
        return p["steps"] * b / secs

    if row == "score":
        ae = AE(p).to(device).eval()
        with torch.no_grad():
            mu = ae.encoder(x_all[: p["k"]])
        model = NeuMF(p["rows"], p["items"], p["factors"], p["mlp"]).to(device).eval()
        pu, pi = positives(p["rows"], p["items"], rng)
        held = torch.zeros(p["rows"], p["items"], dtype=torch.bool)
        held[torch.from_numpy(pu), torch.from_numpy(pi)] = True
        held = held.to(device)

        def step(s):
            lo = (s % nb) * b
            with torch.inference_mode():
                x = x_all[lo: lo + b]
                q = soft_assign(ae.encoder(x), mu)
                conf, seg = q.max(1)
                users = torch.arange(lo, lo + b, device=device)
                scores = model.score_all(users).masked_fill(held[lo: lo + b], float("-inf"))
                top = scores.topk(p["top"], dim=1)
                # To host, as teleseg returns host vectors.
                seg.cpu(), conf.cpu(), top.indices.cpu(), top.values.cpu()

        secs = timed(step, p["warmup"], p["steps"], sync)
        return p["steps"] * b / secs
    raise ValueError(row)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teleseg", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "release", "teleseg"))
    ap.add_argument("--rows", default=",".join(ROWS), help="comma-separated: " + ",".join(ROWS))
    ap.add_argument("--rounds", "--repeats", type=int, default=5,
                    help="timed rounds per side, alternating (--repeats: the old name)")
    ap.add_argument("--seconds", type=float, default=5.0,
                    help="least timed seconds of work per side and round (at the calibrated rate)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: 20× fewer steps, 0.2 s rounds, 2 rounds (figures meaningless)")
    ap.add_argument("--cuda", action="store_true", help="also torch on CUDA / teleseg --backend wgpu")
    ap.add_argument("--backend", default=None, help="teleseg CPU backend (default: teleseg's)")
    ap.add_argument("--no-cpu", action="store_true", help="with --cuda: skip the CPU rows")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="override every row's batch size (GPU rows at 256 are launch-bound)")
    ap.add_argument("--against", default=None, metavar="BIN",
                    help="the peer is this other teleseg binary instead of torch (a before/after "
                         "of a change, same rows, rounds and alternation)")
    a = ap.parse_args()
    rows = [r.strip() for r in a.rows.split(",") if r.strip()]
    bad = [r for r in rows if r not in ROWS]
    if bad:
        sys.exit(f"unknown rows {bad}; choose from {ROWS}")
    if not os.path.exists(a.teleseg):
        sys.exit(f"{a.teleseg} not found: build with `cargo test --release --no-run` or pass --teleseg")
    if a.quick:
        a.seconds, a.rounds = min(a.seconds, 0.2), min(a.rounds, 2)
    peer_name = "torch eager" if a.against is None else a.against

    def run_peer(row, p, dev, backend):
        if a.against is not None:
            return run_teleseg(a.against, row, p, backend)
        return run_torch(row, p, dev)
    torch.set_num_threads(os.cpu_count())
    targets = [] if a.no_cpu and a.cuda else [("cpu", torch.device("cpu"), a.backend)]
    if a.cuda:
        if torch.cuda.is_available():
            targets.append(("cuda", torch.device("cuda"), "wgpu"))
        else:
            print("--cuda: torch.cuda.is_available() is False; CPU rows only", file=sys.stderr)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}",
          file=sys.stderr)
    results = []
    for row in rows:
        p = params(row, a.quick, a.batch_size)
        for name, dev, backend in targets:
            # Calibration (untimed for the table): each side's rate sizes its timed runs.
            cal_t = run_teleseg(a.teleseg, row, p, backend)
            cal_o = run_peer(row, p, dev, backend)
            pt = dict(p, steps=timed_steps(p, cal_t, a.seconds))
            po = dict(p, steps=timed_steps(p, cal_o, a.seconds))
            print(f"  {row}/{name} calibration: teleseg {cal_t:.0f}/s → {pt['steps']} steps, "
                  f"{peer_name} {cal_o:.0f}/s → {po['steps']} steps per round", file=sys.stderr)
            ts, tt = [], []
            for r in range(a.rounds):
                ts.append(run_teleseg(a.teleseg, row, pt, backend))
                tt.append(run_peer(row, po, dev, backend))
                print(f"  {row}/{name} round {r + 1}: teleseg {ts[-1]:.0f}/s, {peer_name} {tt[-1]:.0f}/s",
                      file=sys.stderr)
            ratios = [x / y for x, y in zip(ts, tt)]
            results.append((row, name, ts, tt, ratios, p["batch"], pt["steps"], po["steps"]))
    unit = lambda r: "rows/s" if r == "score" else "samples/s"  # noqa: E731
    spread = lambda v, f: f"{f(min(v))}–{f(max(v))}"  # noqa: E731
    k = lambda x: f"{x / 1000:,.1f}k"  # noqa: E731
    print(f"\n{a.rounds} alternating rounds per row; median (min–max); timed steps per round in brackets")
    ratio_name = "torch" if a.against is None else "peer"
    print(f"\n| row | device | teleseg | {peer_name} | teleseg ÷ {ratio_name} |")
    print("|---|---|---:|---:|---:|")
    for row, name, ts, tt, ratios, batch, st, so in results:
        what = DESCRIPTION[row] + (f" (batch overridden: {batch})" if a.batch_size else "")
        print(f"| {what} | {name} | {k(statistics.median(ts))} {unit(row)} ({spread(ts, k)}; {st}) | "
              f"{k(statistics.median(tt))} {unit(row)} ({spread(tt, k)}; {so}) | "
              f"{statistics.median(ratios):.2f}× ({spread(ratios, lambda x: f'{x:.2f}')}) |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
