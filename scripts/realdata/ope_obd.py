#!/usr/bin/env python3
"""Off-policy evaluation on the Open Bandit Dataset sample: obp's estimators (and optionally teleseg's).

The OBD sample (/work/shared/data/obd, see ../shared/data/README.md) holds two logs of the same
ZOZOTOWN campaign ("all", 80 items, 3 slots), 10,000 rows each: `random/` (uniform random policy,
propensity 1/80) and `bts/` (Bernoulli Thompson sampling). Each log's observed CTR is the ground truth
for estimating that policy off-policy from the *other* log:

    A "bts from random":  log = random/all.csv, target = BTS,     truth = mean click of bts/all.csv
    B "random from bts":  log = bts/all.csv,    target = uniform, truth = mean click of random/all.csv

Target action distributions pi_e(item | row, position), shape (n, 80, 3), three variants in A:
    obp           BernoulliTS(n_actions=80, len_list=3, is_zozotown_prior=True, campaign="all",
                  random_state=SEED).compute_batch_action_dist(n_sim=100000, n_rounds=n)
    empirical     count(item, pos) / count(pos) in the BTS log (context-free)
    interpolated  teleseg's reconstruction (slot_policy in src/models/policy/logs.rs): per slot, the
                  BTS log's rows in timestamp order are rounds; each item's propensity is
                  interpolated linearly in round index between the rounds where it was chosen
                  (flat outside, 0 if never chosen), normalised over items per round, averaged
                  over rounds. obp's IPW/SNIPW on it reproduce teleseg's ips/snips to ~1e-15.
In B the target is uniform 1/80 (obp's Random policy), which all three constructions give, so B
is run and printed once as "uniform"; teleseg uses the logged propensities there, also 1/80.

obp estimators, with the reward model of obp's OBD example (RegressionModel(80, 3, action_context,
LogisticRegression(max_iter=1000, C=100, random_state=SEED)).fit_predict(..., n_folds=3,
random_state=SEED)):
  - no hyperparameter: DM, IPW, SNIPW, DR, SNDR;
  - tuned by obp from the logged data (what one does when the hyperparameter is unknown): for each
    of InverseProbabilityWeightingTuning (clipped IPW), DoublyRobustTuning (clipped DR),
    SwitchDoublyRobustTuning, DoublyRobustWithShrinkageTuning (grid WEIGHT_GRID = 1, 2, 5, 10, 20,
    50, 100, 200, 500, 1000, 5000, 10000, inf), SubGaussianInverseProbabilityWeightingTuning and
    SubGaussianDoublyRobustTuning (grid SG_GRID = 0 .. 0.99), both tuning_method="slope" (SLOPE++)
    and "mse" (sample variance/n + squared high-probability bias bound), delta = --tuning-delta
    (obp's default 0.1; teleseg's switch_dr/dr_os use the mse rule with delta 0.05);
  - hand-picked (hyperparameter chosen after looking at the weights): Switch-DR tau 10, 100 and
    DRos lambda 10, 1000. They are labelled so and left out of the "excl. hand-picked" summary.
For each: point estimate, 95% bootstrap interval (estimate_interval, 1000 resamples,
random_state=SEED), the chosen hyperparameter, the relative error |estimate - truth| / truth and
whether the interval covers the truth. The truth's own standard error sqrt(p(1-p)/n) is printed too
(about 15% of the truth here, so relative errors of that size are within the truth's noise).
All of it is repeated per seed (--seeds).

Context: exactly obp's OpenBanditDataset.pre_process, i.e. one-hot user_feature_0..3 with
drop_first=True. Note obp's default does NOT include the user-item affinity columns (its
examples/obd/custom_dataset.py adds them); `--context user+affinity` appends the 80 raw affinities.

With --teleseg BIN, per direction and seed the script also runs
    BIN evaluate policy --log LOG_CSV --target-log TARGET_CSV --format obd --seed SEED
and puts its estimators (JSON on stdout) in the same tables (as action dist "teleseg").

Output: per direction the truth and its standard error, the log's own CTR for scale (what an
estimator ignoring the weights would return), the importance-weight statistics of each target
(max, mean, ESS share), a full table (estimate [CI], rel err, covers, per seed; chosen hyperparameters; mean rel err;
coverage), then a summary: per direction, obp action dist and seed (and `mean`, the lowest mean
rel err over seeds) the best teleseg estimator, the best obp estimator and the best obp estimator
without hand-picked hyperparameters; then interval coverage counts and the runtime. --out DIR
also writes DIR/ope_obd.json (meta, truths and their standard errors, every result row with its
kind, hyperparameter and coverage, the summary, weights, timings and teleseg's raw JSON; an
infinite hyperparameter is written as the string "inf").

Install (Python 3.11.7 with numpy 2.4.6, scikit-learn 1.9.1, scipy 1.17.1, pandas 2.3.3, tqdm,
PyYAML and torch already present). obp 0.5.7 declares Python < 3.11 and pins old numpy/sklearn, so
it goes in without its dependency resolver; of its dependencies only matplotlib and seaborn are
imported (by obp.ope.meta) and missing; pingouin, pyieoe, mypy-extensions are never imported:

    pip install --no-deps --ignore-requires-python obp==0.5.7
    pip install matplotlib seaborn          # got matplotlib 3.11.2, seaborn 0.13.2 (numpy untouched)

No monkeypatch was needed with these versions (see OBP_PATCHES below; it stays empty unless one is).

Usage, from the repository root:

    python3 scripts/realdata/ope_obd.py                                  # obp only, seeds 12345,1,7
    python3 scripts/realdata/ope_obd.py --seeds 12345 --out /tmp/ope_obd
    python3 scripts/realdata/ope_obd.py --teleseg target/release/teleseg --out /tmp/ope_obd
    python3 scripts/realdata/ope_obd.py --teleseg /tmp/teleseg-ope --seeds 12345,1,7 --out /tmp/ope_obd2

Options: --data DIR (default ../shared/data/obd beside the checkout, or $OBD_DIR), --seeds LIST,
--context user|user+affinity, --n-sim N (BTS Monte Carlo draws, default 100000), --n-bootstrap N
(default 1000), --tuning-delta D (default 0.1), --teleseg BIN, --teleseg-timeout S, --out DIR.
About 1.5 minutes on 2 shared cores for 3 seeds.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import LabelEncoder

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = Path(os.environ.get("OBD_DIR", REPO.parent / "shared" / "data" / "obd"))
N_ACTIONS, LEN_LIST, CAMPAIGN = 80, 3, "all"

# (direction key, title, log policy, target policy)
DIRECTIONS = [
    ("A", "bts from random", "random", "bts"),
    ("B", "random from bts", "bts", "random"),
]

# Workarounds applied to obp before use; each entry says what and why. Empty: obp 0.5.7 imported
# and ran unchanged against numpy 2.4.6 / scikit-learn 1.9.1 / pandas 2.3.3 when this was written.
OBP_PATCHES = []


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def import_obp():
    """Imports obp quietly (obp.ope.meta imports matplotlib/seaborn; use a non-GUI backend)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import logging
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    try:
        import obp
        from obp import ope
        from obp.policy import BernoulliTS
    except Exception as e:  # say exactly what fails, with the install hint
        sys.exit(f"cannot import obp ({type(e).__name__}: {e}); see the install commands at the top "
                 "of this script")
    return obp, ope, BernoulliTS


# ---------------------------------------------------------------------------------------------
# Data: the bandit feedback dict exactly as obp's OpenBanditDataset builds it (load_raw_data +
# pre_process in obp/dataset/real.py), without the class (which reads the copy inside the wheel).
# ---------------------------------------------------------------------------------------------
def load_feedback(data_dir, policy, context_mode):
    path = Path(data_dir) / policy / f"{CAMPAIGN}.csv"
    data = pd.read_csv(path, index_col=0)
    item_context = pd.read_csv(Path(data_dir) / policy / "item_context.csv", index_col=0)
    stable = data.sort_values("timestamp", kind="stable").index.values  # teleseg's order
    data.sort_values("timestamp", inplace=True)  # as obp does (the sample is already in order)
    if not (data.index.values == stable).all():
        log(f"warning: {path}: obp's (unstable) timestamp sort reordered ties; the `interpolated` "
            "target then differs slightly from teleseg's")
    action = data["item_id"].values.astype(int)
    position = (rankdata(data["position"].values, "dense") - 1).astype(int)  # 1..3 -> 0..2
    reward = data["click"].values
    pscore = data["propensity_score"].values

    user_cols = data.columns.str.contains("user_feature")
    # obp keeps get_dummies' dtype (bool under pandas 2); as float it is the same design matrix.
    context = pd.get_dummies(data.loc[:, user_cols], drop_first=True).values.astype(float)
    if context_mode == "user+affinity":
        affinity_cols = data.columns.str.contains("user-item_affinity")
        context = np.c_[context, data.loc[:, affinity_cols].values.astype(float)]

    item_feature_0 = item_context["item_feature_0"].to_frame()
    item_feature_cat = item_context.drop(columns=["item_id", "item_feature_0"], axis=1).apply(
        LabelEncoder().fit_transform)
    action_context = pd.concat(objs=[item_feature_cat, item_feature_0], axis=1).values

    n_actions = int(action.max() + 1)
    len_list = int(position.max() + 1)
    assert (n_actions, len_list) == (N_ACTIONS, LEN_LIST), (path, n_actions, len_list)
    return dict(n_rounds=data.shape[0], n_actions=n_actions, len_list=len_list, action=action,
                position=position, reward=reward, pscore=pscore, context=context,
                action_context=action_context, path=str(path))


# ---------------------------------------------------------------------------------------------
# Target action distributions
# ---------------------------------------------------------------------------------------------
def uniform_dist(n):
    return np.full((n, N_ACTIONS, LEN_LIST), 1.0 / N_ACTIONS)


def bts_dist_obp(BernoulliTS, n, seed, n_sim):
    policy = BernoulliTS(n_actions=N_ACTIONS, len_list=LEN_LIST, is_zozotown_prior=True,
                         campaign=CAMPAIGN, random_state=seed)
    return policy.compute_batch_action_dist(n_sim=n_sim, n_rounds=n)


def empirical_dist(target_fb, n):
    """count(item, pos) / count(pos) in the target log, the same for every row (context-free)."""
    counts = np.zeros((N_ACTIONS, LEN_LIST))
    np.add.at(counts, (target_fb["action"], target_fb["position"]), 1.0)
    return np.tile(counts / counts.sum(axis=0, keepdims=True), (n, 1, 1))


def interpolated_dist(target_fb, n):
    """teleseg's reconstruction of a policy that changed while it logged (slot_policy in
    src/models/policy/logs.rs): per slot, the target log's rows in timestamp order are rounds
    t = 0..T-1; each item's propensity is interpolated linearly in t between the rounds where it
    was chosen (flat before the first and after the last; 0 if never chosen in that slot), the T x 80
    grid is normalised over items per round, then averaged over the rounds. Context-free, tiled."""
    probs = np.zeros((N_ACTIONS, LEN_LIST))
    for s in range(LEN_LIST):
        rows = np.flatnonzero(target_fb["position"] == s)  # already in timestamp order
        t_len = len(rows)
        if t_len == 0:
            probs[:, s] = 1.0 / N_ACTIONS
            continue
        act, ps = target_fb["action"][rows], target_fb["pscore"][rows]
        grid = np.zeros((t_len, N_ACTIONS))
        for a in range(N_ACTIONS):
            at = np.flatnonzero(act == a)
            if len(at):
                grid[:, a] = np.interp(np.arange(t_len), at, ps[at])  # flat outside [at[0], at[-1]]
        probs[:, s] = (grid / grid.sum(axis=1, keepdims=True)).mean(axis=0)
    return np.tile(probs, (n, 1, 1))


# ---------------------------------------------------------------------------------------------
# obp side
# ---------------------------------------------------------------------------------------------
# Candidate grids for obp's built-in tuning. Weight-type hyperparameters (clip / switch threshold
# tau / shrinkage lambda): obp's examples use [10, 50, 100, 500, 1000, 5000, 10000, inf]; the small
# values are added because the weights here are small (max ~7-20 in A, ~280 in B). SubGaussian's
# lambda lives in [0, 1] (0 = plain IPW/DR); obp's examples use [0, .25, .5, .75, 1], refined near 0
# here and with 1 replaced by 0.99: at lambda=1 obp computes w / (1 - 1 + 1 * w) = 0/0 = nan for the
# rounds with weight 0 (items the target never shows), and SLOPE then returns that nan candidate.
WEIGHT_GRID = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0, 10000.0, np.inf]
SG_GRID = [0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.25, 0.5, 0.75, 0.99]

HAND_PICKED = "hand-picked (hyperparameter chosen after looking at the weights)"


def obp_estimators(ope, delta):
    """(label, estimator, kind) triples; kind is "none" (no hyperparameter), "tuned: slope|mse"
    (obp's *Tuning class picks it from the logged data: SLOPE++ or the estimated-MSE rule, with
    obp's default use_bias_upper_bound=True and `delta`), or HAND_PICKED. The hand-picked Switch-DR
    taus and DRos lambdas bracket the importance weights pi_e/pi_b seen here: max 19.6 in A with
    obp's BTS distribution, 9.6 with the empirical one, 278 in B (0.0125 / smallest BTS propensity
    4.5e-5); they are a peek at the data and are reported apart. Fresh instances every call:
    the *Tuning classes sort `lambdas` in place and cache `best_hyperparam`."""
    rows = [
        ("DM", ope.DirectMethod(), "none"),
        ("IPW", ope.InverseProbabilityWeighting(), "none"),
        ("SNIPW", ope.SelfNormalizedInverseProbabilityWeighting(), "none"),
        ("DR", ope.DoublyRobust(), "none"),
        ("SNDR", ope.SelfNormalizedDoublyRobust(), "none"),
        ("Switch-DR (tau=10)", ope.SwitchDoublyRobust(lambda_=10.0, estimator_name="switch-dr-10"),
         HAND_PICKED),
        ("Switch-DR (tau=100)", ope.SwitchDoublyRobust(lambda_=100.0,
                                                       estimator_name="switch-dr-100"), HAND_PICKED),
        ("DRos (lambda=10)", ope.DoublyRobustWithShrinkage(lambda_=10.0, estimator_name="dr-os-10"),
         HAND_PICKED),
        ("DRos (lambda=1000)", ope.DoublyRobustWithShrinkage(lambda_=1000.0,
                                                              estimator_name="dr-os-1000"),
         HAND_PICKED),
    ]
    tuned = [
        ("IPW-clip", ope.InverseProbabilityWeightingTuning, WEIGHT_GRID),
        ("DR-clip", ope.DoublyRobustTuning, WEIGHT_GRID),
        ("Switch-DR", ope.SwitchDoublyRobustTuning, WEIGHT_GRID),
        ("DRos", ope.DoublyRobustWithShrinkageTuning, WEIGHT_GRID),
        ("SG-IPW", ope.SubGaussianInverseProbabilityWeightingTuning, SG_GRID),
        ("SG-DR", ope.SubGaussianDoublyRobustTuning, SG_GRID),
    ]
    for name, cls, grid in tuned:
        for method in ("slope", "mse"):
            est = cls(lambdas=list(grid), tuning_method=method, delta=delta,
                      estimator_name=f"{name.lower()} (tuning-{method})")
            rows.append((f"{name} tuned ({method})", est, f"tuned: {method}"))
    return rows


def fit_reward_model(ope, fb, seed):
    """q_hat(x, a, pos) by obp's RegressionModel with 3-fold cross-fitting, as in obp's OBD example."""
    model = ope.RegressionModel(
        n_actions=fb["n_actions"], len_list=fb["len_list"], action_context=fb["action_context"],
        base_model=LogisticRegression(max_iter=1000, C=100, random_state=seed))
    return model.fit_predict(context=fb["context"], action=fb["action"], reward=fb["reward"],
                             position=fb["position"], pscore=fb["pscore"], n_folds=3,
                             random_state=seed)


def run_obp(ope, fb, action_dist, q_hat, truth, seed, n_bootstrap, delta):
    rows = []
    inputs = dict(reward=fb["reward"], action=fb["action"], position=fb["position"],
                  pscore=fb["pscore"], action_dist=action_dist, estimated_rewards_by_reg_model=q_hat)
    for label, est, kind in obp_estimators(ope, delta):
        value = float(est.estimate_policy_value(**inputs))
        ci = est.estimate_interval(**inputs, alpha=0.05, n_bootstrap_samples=n_bootstrap,
                                   random_state=seed)
        lo = next(v for k, v in ci.items() if "lower" in k)
        hi = next(v for k, v in ci.items() if "upper" in k)
        if kind.startswith("tuned"):
            hyper = float(est.best_hyperparam)
        elif kind == HAND_PICKED:
            hyper = float(est.lambda_)
        else:
            hyper = None
        rows.append(dict(source="obp", estimator=label, kind=kind, hyperparameter=hyper,
                         value=value, ci_low=float(lo), ci_high=float(hi),
                         rel_err=rel_err(value, truth), covers=covers(lo, hi, truth)))
    return rows


def covers(lo, hi, truth):
    lo, hi = as_float(lo), as_float(hi)
    return None if lo is None or hi is None else bool(lo <= truth <= hi)


def weight_stats(fb, action_dist):
    """Importance weights pi_e(a_i | pos_i) / pi_b(a_i | pos_i) on the log: max, mean, ESS share."""
    n = fb["n_rounds"]
    w = action_dist[np.arange(n), fb["action"], fb["position"]] / fb["pscore"]
    return dict(max=float(w.max()), mean=float(w.mean()),
                ess_fraction=float(w.sum() ** 2 / (w ** 2).sum() / n))


def rel_err(value, truth):
    if value is None or not np.isfinite(value):
        return None
    return abs(value - truth) / truth


# ---------------------------------------------------------------------------------------------
# teleseg side
# ---------------------------------------------------------------------------------------------
def run_teleseg(binary, log_csv, target_csv, seed, truth, timeout):
    """Runs teleseg's evaluator; returns (rows, raw) or (None, None) after printing why it failed."""
    cmd = [binary, "evaluate", "policy", "--log", log_csv, "--target-log", target_csv,
           "--format", "obd", "--seed", str(seed)]
    log("teleseg: " + " ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"teleseg did not run ({type(e).__name__}: {e}); continuing with obp only",
              file=sys.stderr)
        return None, None
    if proc.returncode != 0:
        print(f"teleseg exited with {proc.returncode}; stderr:\n{proc.stderr.strip()}\n"
              "continuing with obp only", file=sys.stderr)
        return None, None
    raw = parse_json_object(proc.stdout)
    if not isinstance(raw, dict) or not isinstance(raw.get("estimators"), list):
        print("teleseg printed no JSON object with an `estimators` list; stdout:\n"
              f"{proc.stdout[-2000:]}\nstderr:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None, None
    observed = as_float(raw.get("target_observed_value"))
    if observed is not None and abs(observed - truth) > 1e-9:
        print(f"note: teleseg's target_observed_value {observed} != this script's truth {truth}",
              file=sys.stderr)
    rows = []
    for e in raw["estimators"]:
        if not isinstance(e, dict):
            continue
        value = as_float(e.get("value"))
        # teleseg writes an infinite tau/lambda (no switching / no shrinkage) as null
        hyper = None
        if "hyperparameter" in e:
            hyper = as_float(e["hyperparameter"]) if e["hyperparameter"] is not None else np.inf
        lo, hi = as_float(e.get("ci_low")), as_float(e.get("ci_high"))
        rows.append(dict(source="teleseg", estimator=str(e.get("name", "?")),
                         kind="none" if "hyperparameter" not in e else "tuned: teleseg",
                         hyperparameter=hyper, value=value, ci_low=lo, ci_high=hi,
                         std_error=as_float(e.get("std_error")), rel_err=rel_err(value, truth),
                         covers=covers(lo, hi, truth)))
    return rows, raw


def parse_json_object(text):
    """The JSON object on stdout: the whole text, else the first decodable {...} in it."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch == "{":
            try:
                return decoder.raw_decode(text[i:])[0]
            except ValueError:
                continue
    return None


def as_float(x):
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if np.isfinite(x) else None


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------
def fmt(x, spec=".5f"):
    return "—" if x is None else format(x, spec)


def fmt_pct(x):
    return "—" if x is None else f"{100 * x:.1f}%"


def fmt_hyper(x):
    return "—" if x is None else ("inf" if not np.isfinite(x) else f"{x:g}")


def fmt_cov(c):
    return "—" if c is None else ("yes" if c else "no")


def mean_or_none(xs):
    xs = [x for x in xs if x is not None]
    return float(np.mean(xs)) if xs else None


def key_of(r):
    return (r["direction"], r["variant"], r["source"], r["estimator"])


def summarize(results):
    """Per direction, variant, source, estimator: mean estimate, mean relative error, how many
    seeds' intervals cover the truth."""
    keys = []
    for r in results:
        if key_of(r) not in keys:
            keys.append(key_of(r))
    out = []
    for k in keys:
        rs = [r for r in results if key_of(r) == k]
        cov = [r["covers"] for r in rs if r.get("covers") is not None]
        out.append(dict(direction=k[0], variant=k[1], source=k[2], estimator=k[3],
                        kind=rs[0]["kind"], n_seeds=len(rs),
                        mean_value=mean_or_none([r["value"] for r in rs]),
                        mean_rel_err=mean_or_none([r["rel_err"] for r in rs]),
                        n_covers=sum(cov), n_intervals=len(cov)))
    return out


def best(rows, key="rel_err"):
    rows = [r for r in rows if r.get(key) is not None]
    return min(rows, key=lambda r: r[key]) if rows else None


def pick(rows, **kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


def print_direction(d, title, truth, truth_se, log_policy, log_value, log_se, variants, results,
                    summary, seeds, weights):
    print(f"\n## Direction {d}: {title}  (log: {log_policy}/{CAMPAIGN}.csv; truth = target log "
          f"CTR = {truth:.5f}, its standard error sqrt(p(1-p)/n) = {truth_se:.5f}, i.e. "
          f"{100 * truth_se / truth:.1f}% of the truth)\n")
    print(f"- for scale: the log's own CTR is {log_value:.5f} (rel err {fmt_pct(rel_err(log_value, truth))} "
          f"if taken as the estimate, i.e. an estimator that ignores the weights); the two CTRs "
          f"differ by {abs(log_value - truth) / np.hypot(truth_se, log_se):.2f} standard errors")
    for variant in variants + ["teleseg"]:
        ws = [w for w in weights if w["direction"] == d and w["variant"] == variant]
        if ws:
            print(f"- weights, `{variant}`: " + "; ".join(
                f"seed {w['seed']}: max {w['max']:.2f}, mean {w['mean']:.3f}, ESS "
                f"{100 * w['ess_fraction']:.1f}%" for w in ws))
    print()
    head = ["action dist", "source", "estimator", "hyperparameter"]
    for sd in seeds:
        head += [f"seed {sd}: estimate [95% CI]", "rel err", "covers"]
    head += ["chosen value per seed", "mean rel err", "covers (seeds)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] * 4 + ["---:"] * (len(head) - 4)) + "|")
    for variant in variants + ["teleseg"]:
        for srow in pick(summary, direction=d, variant=variant):
            cells = [variant, srow["source"], srow["estimator"], srow["kind"]]
            hypers = []
            for sd in seeds:
                r = next(iter(pick(results, direction=d, variant=variant, source=srow["source"],
                                   estimator=srow["estimator"], seed=sd)), None)
                if r is None:
                    cells += ["—", "—", "—"]
                    continue
                cells += [f"{fmt(r['value'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]",
                          fmt_pct(r["rel_err"]), fmt_cov(r["covers"])]
                hypers.append(fmt_hyper(r.get("hyperparameter")))
            cells += [" / ".join(hypers) if any(h != "—" for h in hypers) else "—",
                      fmt_pct(srow["mean_rel_err"]), f"{srow['n_covers']}/{srow['n_intervals']}"]
            print("| " + " | ".join(cells) + " |")


def print_summary(directions, variants_of, results, summary, seeds, truths_rel_se):
    print("\n## Summary: best estimator by relative error (per seed; `mean` = lowest mean over "
          "seeds)\n")
    print("teleseg uses its own target (A: interpolated propensities, B: the logged uniform "
          "ones) whatever obp's action dist is, so its column repeats across a direction's rows. "
          "`excl. hand-picked` leaves out Switch-DR tau=10/100 and DRos lambda=10/1000.\n")
    print("| direction | obp action dist | seed | best teleseg (rel err) | best obp, all (rel err) "
          "| best obp, excl. hand-picked (rel err) |")
    print("|---|---|---|---|---|---|")

    def cell(b, key):
        return "—" if b is None else f"{b['estimator']} ({fmt_pct(b[key])})"

    for d, title, _, _ in directions:
        for variant in variants_of[d]:
            for sd in seeds + ["mean"]:
                if sd == "mean":
                    rows, key = summary, "mean_rel_err"
                    base = dict(direction=d)
                else:
                    rows, key = results, "rel_err"
                    base = dict(direction=d, seed=sd)
                tb = best(pick(rows, variant="teleseg", **base), key)
                ob = best(pick(rows, variant=variant, source="obp", **base), key)
                oe = best([r for r in pick(rows, variant=variant, source="obp", **base)
                           if r["kind"] != HAND_PICKED], key)
                print(f"| {d} ({title}) | {variant} | {sd} | {cell(tb, key)} | {cell(ob, key)} | "
                      f"{cell(oe, key)} |")
    print("\nrelative standard error of the truth itself: "
          + ", ".join(f"{d} {100 * v:.1f}%" for d, v in truths_rel_se.items())
          + " (relative errors below about twice that are within the truth's own noise)")
    print("\nCoverage of the truth by 95% intervals (all estimators x seeds):")
    for d, _, _, _ in directions:
        for variant in variants_of[d] + ["teleseg"]:
            for src in ("obp", "teleseg"):
                rs = [r for r in pick(results, direction=d, variant=variant, source=src)
                      if r.get("covers") is not None]
                if rs:
                    print(f"- {d}, `{variant}`, {src}: {sum(r['covers'] for r in rs)}/{len(rs)}")


# ---------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="folder with random/ and bts/")
    ap.add_argument("--seeds", default="12345,1,7")
    ap.add_argument("--context", choices=["user", "user+affinity"], default="user",
                    help="user: obp's pre_process (one-hot user features); user+affinity: "
                         "plus the 80 user-item affinities")
    ap.add_argument("--n-sim", type=int, default=100000, help="BTS Monte Carlo draws")
    ap.add_argument("--n-bootstrap", type=int, default=1000)
    ap.add_argument("--tuning-delta", type=float, default=0.1,
                    help="delta of obp's *Tuning estimators (obp's default 0.1; teleseg uses 0.05)")
    ap.add_argument("--teleseg", default=None, help="teleseg binary (optional)")
    ap.add_argument("--teleseg-timeout", type=float, default=600.0)
    ap.add_argument("--out", default=None, help="folder for ope_obd.json")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]

    t_start = time.time()
    obp, ope, BernoulliTS = import_obp()
    for patch in OBP_PATCHES:
        patch()

    fbs = {p: load_feedback(args.data, p, args.context) for p in ("random", "bts")}
    truths = {p: float(fbs[p]["reward"].mean()) for p in fbs}  # obp's on-policy ground truth
    truth_se = {p: float(np.sqrt(truths[p] * (1 - truths[p]) / fbs[p]["n_rounds"])) for p in fbs}
    log(f"loaded: random n={fbs['random']['n_rounds']} CTR={truths['random']:.5f}, "
        f"bts n={fbs['bts']['n_rounds']} CTR={truths['bts']:.5f}, "
        f"context dim={fbs['random']['context'].shape[1]}/{fbs['bts']['context'].shape[1]}")

    results, teleseg_raw, timings, weights = [], [], [], []
    variants_of = {}
    interp_cache = {}
    for seed in seeds:
        for d_key, title, log_pol, tgt_pol in DIRECTIONS:
            fb, truth = fbs[log_pol], truths[tgt_pol]
            n = fb["n_rounds"]
            t0 = time.time()
            if tgt_pol == "bts":
                if "bts" not in interp_cache:  # deterministic: computed once
                    interp_cache["bts"] = interpolated_dist(fbs[tgt_pol], n)
                dists = {"obp": bts_dist_obp(BernoulliTS, n, seed, args.n_sim),
                         "empirical": empirical_dist(fbs[tgt_pol], n),
                         "interpolated": interp_cache["bts"]}
            else:  # uniform target: obp's Random policy, empirical and interpolated coincide
                dists = {"uniform": uniform_dist(n)}
            t_dist = time.time() - t0
            variants_of[d_key] = list(dists)
            for variant, dist in dists.items():
                weights.append(dict(seed=seed, direction=d_key, variant=variant,
                                    **weight_stats(fb, dist)))
            t0 = time.time()
            q_hat = fit_reward_model(ope, fb, seed)
            t_reg = time.time() - t0
            t0 = time.time()
            for variant, dist in dists.items():
                for r in run_obp(ope, fb, dist, q_hat, truth, seed, args.n_bootstrap,
                                 args.tuning_delta):
                    results.append(dict(seed=seed, direction=d_key, variant=variant, **r))
            t_est = time.time() - t0
            t_tel = None
            if args.teleseg:
                t0 = time.time()
                rows, raw = run_teleseg(args.teleseg, fb["path"], fbs[tgt_pol]["path"], seed, truth,
                                        args.teleseg_timeout)
                t_tel = time.time() - t0
                if rows is not None:
                    for r in rows:
                        results.append(dict(seed=seed, direction=d_key, variant="teleseg", **r))
                    teleseg_raw.append(dict(seed=seed, direction=d_key, output=raw))
                    w = raw.get("weights") or {}
                    if as_float(w.get("max")) is not None:
                        weights.append(dict(seed=seed, direction=d_key, variant="teleseg",
                                            max=as_float(w.get("max")),
                                            mean=as_float(w.get("mean")) or float("nan"),
                                            ess_fraction=as_float(w.get("ess_fraction"))
                                            or float("nan")))
            timings.append(dict(seed=seed, direction=d_key, action_dist_s=t_dist,
                                reward_model_s=t_reg, estimators_s=t_est, teleseg_s=t_tel))
            log(f"seed {seed} direction {d_key}: action dists {t_dist:.1f}s, reward model "
                f"{t_reg:.1f}s, estimators+bootstrap {t_est:.1f}s"
                + (f", teleseg {t_tel:.1f}s" if t_tel is not None else ""))

    summary = summarize(results)
    print(f"# OPE on the Open Bandit Dataset sample (campaign `{CAMPAIGN}`), obp {obp.__version__}")
    print(f"\nseeds {seeds}; context `{args.context}`; BTS n_sim {args.n_sim}; bootstrap "
          f"{args.n_bootstrap} resamples; obp tuning delta {args.tuning_delta}; grids "
          f"{[fmt_hyper(x) for x in WEIGHT_GRID]} (clip/tau/lambda), {SG_GRID} (SubGaussian); "
          "rel err = |estimate - truth| / truth; covers = the 95% interval contains the truth. "
          "Direction B's target is uniform, for which obp's, the empirical and the interpolated "
          "distribution are the same (`uniform`). `hyperparameter` column: `none`, `tuned: "
          "slope|mse` (obp's *Tuning), `tuned: teleseg`, or " + HAND_PICKED + ".")
    for d_key, title, log_pol, tgt_pol in DIRECTIONS:
        print_direction(d_key, title, truths[tgt_pol], truth_se[tgt_pol], log_pol,
                        truths[log_pol], truth_se[log_pol], variants_of[d_key], results, summary,
                        seeds, weights)
    print_summary(DIRECTIONS, variants_of, results, summary, seeds,
                  {d: truth_se[tp] / truths[tp] for d, _, _, tp in DIRECTIONS})
    runtime = time.time() - t_start
    print(f"\nruntime {runtime:.0f}s")

    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        import sklearn
        doc = dict(
            meta=dict(obp=obp.__version__, numpy=np.__version__, sklearn=sklearn.__version__,
                      pandas=pd.__version__, python=sys.version.split()[0], data=args.data,
                      seeds=seeds, context=args.context, n_sim=args.n_sim,
                      n_bootstrap=args.n_bootstrap, tuning_delta=args.tuning_delta,
                      weight_grid=[fmt_hyper(x) for x in WEIGHT_GRID], sg_grid=SG_GRID,
                      teleseg=args.teleseg, obp_patches=[p.__doc__ for p in OBP_PATCHES],
                      runtime_s=runtime),
            truth=dict(A=truths["bts"], B=truths["random"]),
            truth_se=dict(A=truth_se["bts"], B=truth_se["random"]),
            directions={d: dict(title=t, log=fbs[lp]["path"], target=fbs[tp]["path"],
                                variants=variants_of[d]) for d, t, lp, tp in DIRECTIONS},
            results=results, summary=summary, weights=weights, timings=timings,
            teleseg_raw=teleseg_raw)
        (out / "ope_obd.json").write_text(json.dumps(finite(doc), indent=1, default=json_default))
        log(f"wrote {out / 'ope_obd.json'}")


def finite(x):
    """Strict JSON: non-finite floats (an infinite tuned hyperparameter) become "inf"/"nan"."""
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    if isinstance(x, (float, np.floating)) and not np.isfinite(x):
        return str(float(x))
    return x


def json_default(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.bool_):
        return bool(x)
    raise TypeError(type(x))


if __name__ == "__main__":
    main()
