"""The generator's contact log as the policy scripts study it (`policy_factored_check.py`,
`policy_reward_models.py`): contexts, arms, rewards, every arm's true acceptance probability, a split
of 20 % held-out customers, and teleseg's factored features. Needs numpy and pandas."""
from types import SimpleNamespace

import numpy as np
import pandas as pd

CHANNELS = {"sms": 0, "email": 1, "app_push": 2, "call_centre": 3}
DAY_PARTS = {"morning": 0, "afternoon": 1, "evening": 2}


def load(d):
    """A folder `teleseg generate` wrote: standardized numeric and one-hot categorical customer
    columns plus the offer's category per contact (`Xc`), the arm index, the response, the truth
    (`P`, contacts × arms), the test / train masks and the oracle's value on the test contacts."""
    cust = pd.read_csv(f"{d}/customers.csv")
    con = pd.read_csv(f"{d}/contacts.csv")
    tru = pd.read_csv(f"{d}/contacts_truth.csv")
    off = pd.read_csv(f"{d}/offers.csv")
    arms = list(tru.columns[1:])
    numeric = lambda c: pd.api.types.is_numeric_dtype(cust[c])
    num = [c for c in cust.columns if c not in ("customer_id", "churn") and numeric(c)]
    cat = [c for c in cust.columns if c != "customer_id" and not numeric(c)]
    X = cust[num].astype(float)
    X = ((X - X.mean()) / X.std()).fillna(0).clip(-5, 5)
    X = pd.concat([X, pd.get_dummies(cust[cat]).astype(float)], axis=1)
    X.index = cust.customer_id
    category = off.set_index(off.columns[0])["category"]
    cats = pd.get_dummies(con.offer_id.map(category)).astype(float).values
    Xc = np.hstack([X.loc[con.customer_id].values, cats])
    P = tru.set_index("contact_id").loc[con.contact_id].values
    rng = np.random.default_rng(0)
    custs = con.customer_id.unique()
    test = set(rng.choice(custs, int(0.2 * len(custs)), replace=False))
    te = con.customer_id.isin(test).values

    def parts_of(a):
        c, rest = a.split("@")
        dt, dp = rest.split("_")
        return CHANNELS[c], DAY_PARTS[dp], int(dt == "weekend")

    return SimpleNamespace(
        arms=arms, Xc=Xc, n=Xc.shape[0], d0=Xc.shape[1],
        arm=con.arm.map({a: i for i, a in enumerate(arms)}).values,
        r=con.accepted.values.astype(float), P=P, te=te, tr=~te,
        AP=np.array([parts_of(a) for a in arms]), oracle=P[te].max(1).mean())


def feats(data, Xb, a_idx):
    """teleseg's factored features: [1, x | arm indicators | x per channel, day part, day type]."""
    c, p, dt = data.AP[a_idx, 0], data.AP[a_idx, 1], data.AP[a_idx, 2]
    m = len(Xb)
    ind = np.zeros((m, len(data.arms)))
    ind[np.arange(m), a_idx] = 1
    blocks = [np.ones((m, 1)), Xb, ind]
    for k, K in [(c, 4), (p, 3), (dt, 2)]:
        blocks += [Xb * (k == j)[:, None] for j in range(K)]
    return np.hstack(blocks)


def share(data, scores):
    """The true value of the greedy policy of `scores` ([test contacts, arms]) over the oracle's."""
    te = data.te
    return data.P[te][np.arange(te.sum()), scores.argmax(1)].mean() / data.oracle
