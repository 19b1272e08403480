#!/usr/bin/env python3
"""Per-arm against factored ridge models for the contact policy, on a folder `teleseg generate` wrote:
the greedy policy's true share of the oracle (from contacts_truth.csv) on the contacts of 20 % held-out
customers, for per-arm ridge regressions and for one regression with interaction blocks per channel, day
type and day part (what src/models/policy/factored.rs implements), over a grid of ridges. Needs numpy and
pandas. Usage: python3 scripts/policy_factored_check.py DATA_DIR
"""
import numpy as np, pandas as pd, sys
d = sys.argv[1]
cust = pd.read_csv(f"{d}/customers.csv")
con = pd.read_csv(f"{d}/contacts.csv")
tru = pd.read_csv(f"{d}/contacts_truth.csv")
off = pd.read_csv(f"{d}/offers.csv")
arms = list(tru.columns[1:])
num = [c for c in cust.columns if c not in ("customer_id","churn") and pd.api.types.is_numeric_dtype(cust[c])]
cat = [c for c in cust.columns if not pd.api.types.is_numeric_dtype(cust[c]) and c != "customer_id"]
X = cust[num].astype(float)
X = ((X - X.mean())/X.std()).fillna(0).clip(-5,5)
X = pd.concat([X, pd.get_dummies(cust[cat]).astype(float)], axis=1)
X.index = cust.customer_id
offcat = off.set_index(off.columns[0])["category"] if "category" in off.columns else None
cats = pd.get_dummies(con.offer_id.map(offcat)).astype(float).values
Xc = X.loc[con.customer_id].values
Xc = np.hstack([Xc, cats])
n, d0 = Xc.shape
arm = con.arm.map({a:i for i,a in enumerate(arms)}).values
r = con.accepted.values.astype(float)
P = tru.set_index("contact_id").loc[con.contact_id].values
rng = np.random.default_rng(0)
custs = con.customer_id.unique(); test = set(rng.choice(custs, int(0.2*len(custs)), replace=False))
te = con.customer_id.isin(test).values; tr = ~te
ch = {"sms":0,"email":1,"app_push":2,"call_centre":3}
parts = {"morning":0,"afternoon":1,"evening":2}
def parts_of(a):
    c, rest = a.split("@"); dt, dp = rest.split("_"); return ch[c], parts[dp], int(dt=="weekend")
AP = np.array([parts_of(a) for a in arms])
oracle = P[te].max(1).mean()
def value(scores):  # scores [n_te, arms]
    return P[te][np.arange(te.sum()), scores.argmax(1)].mean()/oracle
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
def feats(Xb, a_idx):
    c, p, dt = AP[a_idx,0], AP[a_idx,1], AP[a_idx,2]
    m = len(Xb); blocks=[np.ones((m,1)), Xb]
    Ia = np.zeros((m,len(arms))); Ia[np.arange(m), a_idx]=1; blocks.append(Ia)
    for k, K in [(c,4),(p,3),(dt,2)]:
        for j in range(K): blocks.append(Xb*(k==j)[:,None])
    return np.hstack(blocks)
Ztr = feats(Xc[tr], arm[tr])
D = Ztr.shape[1]
for lam in [100, 300, 1000, 3000, 10000]:
    # prior precision: intercept and arm indicators lam/1000, shared block lam/100, interactions lam
    pen = np.ones(D)*lam; pen[0]=lam*1e-3; pen[1:1+d0]=lam*1e-2; pen[1+d0:1+d0+24]=lam*1e-3
    th = np.linalg.solve(Ztr.T@Ztr + np.diag(pen), Ztr.T@r[tr])
    S = np.stack([feats(Xc[te], np.full(te.sum(), a))@th for a in range(len(arms))],1)
    print("structured", lam, D, round(value(S),4))
print("uniform", round(P[te].mean()/oracle, 4), "oracle", round(oracle, 4))
