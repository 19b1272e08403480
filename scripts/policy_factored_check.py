#!/usr/bin/env python3
"""Per-arm against factored ridge models for the contact policy, on a folder `teleseg generate` wrote:
the greedy policy's true share of the oracle (from contacts_truth.csv) on the contacts of 20 % held-out
customers, for per-arm ridge regressions and for one regression with interaction blocks per channel, day
type and day part (what src/models/policy/factored.rs implements), over a grid of ridges. Needs numpy and
pandas (the data through policy_contacts.py). Usage: python3 scripts/policy_factored_check.py DATA_DIR
"""
import sys

import numpy as np

from policy_contacts import feats, load, share

D0 = load(sys.argv[1])
arms, Xc, n, d0, arm, r, P, te, tr, oracle = (D0.arms, D0.Xc, D0.n, D0.d0, D0.arm, D0.r, D0.P,
                                              D0.te, D0.tr, D0.oracle)
value = lambda scores: share(D0, scores)  # scores [n_te, arms]
def ridge(Z, y, lam, pen):
    A = Z.T@Z + lam*np.diag(pen); return np.linalg.solve(A, Z.T@y)
one = np.ones((n,1))
# A) disjoint per arm
for lam in [30, 300]:
    S = np.zeros((te.sum(), len(arms)))
    for a in range(len(arms)):
        m = tr & (arm==a); Z = np.hstack([one, Xc])
        pen = np.r_[1e-3, np.ones(d0)]
        th = ridge(Z[m], r[m], lam, pen); S[:,a] = Z[te]@th
    print("disjoint", lam, round(value(S),4))
# B) structured
Ztr = feats(D0, Xc[tr], arm[tr])
D = Ztr.shape[1]
for lam in [100, 300, 1000, 3000, 10000]:
    # prior precision: intercept and arm indicators lam/1000, shared block lam/100, interactions lam
    pen = np.ones(D)*lam; pen[0]=lam*1e-3; pen[1:1+d0]=lam*1e-2; pen[1+d0:1+d0+24]=lam*1e-3
    th = np.linalg.solve(Ztr.T@Ztr + np.diag(pen), Ztr.T@r[tr])
    S = np.stack([feats(D0, Xc[te], np.full(te.sum(), a))@th for a in range(len(arms))],1)
    print("structured", lam, D, round(value(S),4))
print("uniform", round(P[te].mean()/oracle, 4), "oracle", round(oracle, 4))
