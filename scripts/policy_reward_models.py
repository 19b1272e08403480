#!/usr/bin/env python3
"""Reward models for the contact policy beyond teleseg's factored ridge, on a folder `teleseg generate`
wrote (docs/bandits.md, session 19): the greedy policy's true share of the oracle on the contacts of the
20 % held-out customers for the factored ridge, a logistic model with the same features and prior
structure (Newton's method), the ridge with per-feature interaction precisions fitted by evidence
maximisation (ARD, MacKay's updates), and the ceiling of the observed features (the true logits
regressed on them per arm, no reward noise); then DM's error for the ridge policy's value with either
reward model cross-fitted over 2 folds of the held-out contacts. Needs numpy and pandas (the data
through policy_contacts.py).

    python3 scripts/policy_reward_models.py DATA_DIR
"""
import sys

import numpy as np

from policy_contacts import feats as features
from policy_contacts import load
from policy_contacts import share as greedy_share

data = load(sys.argv[1])
arms, Xc, n, d0, arm, r, P, te, tr, oracle = (data.arms, data.Xc, data.n, data.d0, data.arm, data.r,
                                              data.P, data.te, data.tr, data.oracle)


def feats(Xb, a_idx):
    return features(data, Xb, a_idx)


Ztr = feats(Xc[tr], arm[tr])
D = Ztr.shape[1]
Zte = [feats(Xc[te], np.full(te.sum(), a)) for a in range(len(arms))]
inter = np.arange(1 + d0 + len(arms), D)


def prior(lam):
    """teleseg's prior precisions: 1e-3 on the intercept and arms, 1e-2 on the shared block."""
    pen = np.full(D, float(lam))
    pen[0] = lam * 1e-3
    pen[1:1 + d0] = lam * 1e-2
    pen[1 + d0:1 + d0 + len(arms)] = lam * 1e-3
    return pen


def share(theta):
    return greedy_share(data, np.stack([Z @ theta for Z in Zte], 1))


def ridge(Z, y, pen):
    return np.linalg.solve(Z.T @ Z + np.diag(pen), Z.T @ y)


def logistic(Z, y, pen):
    w = np.zeros(Z.shape[1])
    w[0] = np.log(y.mean() / (1 - y.mean()))
    for _ in range(30):
        p = 1 / (1 + np.exp(-(Z @ w)))
        step = np.linalg.solve((Z * (p * (1 - p))[:, None]).T @ Z + np.diag(pen), Z.T @ (p - y) + pen * w)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return w


y = r[tr]
for lam in [300, 1000, 3000, 10000]:
    print(f"ridge {lam}: {share(ridge(Ztr, y, prior(lam))):.4f}", flush=True)
for lam in [30, 100, 300, 1000, 3000]:
    print(f"logistic {lam}: {share(logistic(Ztr, y, prior(lam))):.4f}", flush=True)
# ARD: one precision per context feature, shared by its interaction weights in every level block.
G, b, pen = Ztr.T @ Ztr, Ztr.T @ y, prior(1000)
feature_of = (inter - inter[0]) % d0
for _ in range(12):
    Ai = np.linalg.inv(G + np.diag(pen))
    theta = Ai @ b
    s2 = np.mean((y - Ztr @ theta) ** 2)
    gamma = 1 - pen[inter] * np.diag(Ai)[inter]  # 1 − α Σ_kk with Σ = s2 A⁻¹, α = pen / s2
    for j in range(d0):
        m = feature_of == j
        pen[inter[m]] = min(s2 * gamma[m].sum() / max((theta[inter][m] ** 2).sum(), 1e-12), 1e7)
print(f"ridge with ARD interaction precisions: {share(np.linalg.solve(G + np.diag(pen), b)):.4f}")
L = np.log(P / (1 - P))
Z1 = np.hstack([np.ones((n, 1)), Xc])
S = np.stack([Z1[te] @ np.linalg.lstsq(Z1[tr], L[tr, a], rcond=None)[0] for a in range(len(arms))], 1)
print(f"ceiling (true logits, linear in the observed features): "
      f"{P[te][np.arange(te.sum()), S.argmax(1)].mean() / oracle:.4f}")
# DM of the ridge-1000 greedy policy from reward models fitted on the held-out contacts (2 folds).
pick = np.stack([Z @ ridge(Ztr, y, prior(1000)) for Z in Zte], 1).argmax(1)
truth = P[te][np.arange(len(pick)), pick].mean()
Zlog, Zpick, rte = feats(Xc[te], arm[te]), feats(Xc[te], pick), r[te]
fold = np.random.default_rng(1).integers(0, 2, len(rte))
print(f"greedy policy: true value {truth:.4f} ({truth / oracle:.3f} of the oracle)")
for kind, lams in [("ridge", [10, 30, 100, 300]), ("logistic", [0.3, 1, 3, 10, 30])]:
    for lam in lams:
        q = np.zeros(len(rte))
        for f in (0, 1):
            fit = ridge if kind == "ridge" else logistic
            w = fit(Zlog[fold != f], rte[fold != f], prior(lam))
            z = Zpick[fold == f] @ w
            q[fold == f] = z if kind == "ridge" else 1 / (1 + np.exp(-z))
        print(f"DM with {kind} {lam}: {q.mean():.4f} (error {q.mean() - truth:+.4f})", flush=True)
