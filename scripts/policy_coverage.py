#!/usr/bin/env python3
"""Off-policy evaluation on the generator, over seeds: does every estimator's 95 % interval cover the
true value of the learned Thompson-sampling and LinUCB policies, and is DR closer than IPS?

For each seed: `teleseg generate --customers N --seed S`, then `teleseg train policy` (Thompson
sampling and LinUCB, `--seed S`) on it; each run's evaluation.json holds the estimates on the held-out
customers' contacts and the exact truth from contacts_truth.csv. Needs only the Python standard
library. Usage, from the repository root:

    python3 scripts/policy_coverage.py --teleseg target/release/teleseg [--seeds 1,...,10] [--customers 20000]
"""

import argparse
import json
import subprocess
import tempfile
from pathlib import Path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teleseg", required=True)
    ap.add_argument("--seeds", default="1,2,3,4,5,6,7,8,9,10")
    ap.add_argument("--customers", type=int, default=20000)
    ap.add_argument("--algorithms", default="thompson,linucb")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra `teleseg train policy --set` (repeatable), e.g. policy.posterior_scale=0.5")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    algorithms = args.algorithms.split(",")
    rows = {a: [] for a in algorithms}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            data = Path(tmp) / f"data{seed}"
            subprocess.run([args.teleseg, "-q", "generate", "--customers", str(args.customers),
                            "--seed", str(seed), "--out", str(data)], check=True)
            for alg in algorithms:
                sets = {
                    "data.customers": json.dumps(str(data / "customers.csv")),
                    "data.schema": json.dumps(str(data / "schema.toml")),
                    "policy.algorithm": json.dumps(alg),
                    "output.dir": json.dumps(tmp),
                    "output.run_name": json.dumps(f"{alg}{seed}"),
                }
                cmd = [args.teleseg, "-q", "--no-progress", "--seed", str(seed), "train", "policy"]
                for k, v in sets.items():
                    cmd += ["--set", f"{k}={v}"]
                for extra in args.sets:
                    cmd += ["--set", extra]
                subprocess.run(cmd, check=True)
                ev = json.loads((Path(tmp) / f"{alg}{seed}" / "evaluation.json").read_text())
                rows[alg].append(ev)
                t = ev["truth"]
                est = {e["name"]: e for e in ev["estimates"]["estimators"]}
                print(f"seed {seed} {alg}: true {t['policy']:.4f} ({100 * t['share_of_oracle']:.1f} % of oracle), "
                      + " ".join(f"{n}={e['value']:.4f}{'' if c else '(miss)'}"
                                 for (n, e), (_, c) in zip(est.items(), t["covered"])), flush=True)
    for alg, evs in rows.items():
        names = [e["name"] for e in evs[0]["estimates"]["estimators"]]
        print(f"\n### {alg} ({len(evs)} seeds, {args.customers} customers each)\n")
        print("| estimator | intervals covering the truth | mean abs error | mean interval width |")
        print("|---|---|---|---|")
        for n in names:
            cov = sum(dict(ev["truth"]["covered"])[n] for ev in evs)
            err = [abs(next(e for e in ev["estimates"]["estimators"] if e["name"] == n)["value"]
                       - ev["truth"]["policy"]) for ev in evs]
            width = [next(e["ci_high"] - e["ci_low"] for e in ev["estimates"]["estimators"] if e["name"] == n)
                     for ev in evs]
            print(f"| {n} | {cov}/{len(evs)} | {sum(err) / len(err):.4f} | {sum(width) / len(width):.4f} |")
        t = [ev["truth"] for ev in evs]
        mean = lambda k: sum(x[k] for x in t) / len(t)
        print(f"\ntrue value {mean('policy'):.4f} = {100 * mean('share_of_oracle'):.1f} % of the oracle "
              f"{mean('oracle'):.4f}; uniform {mean('uniform'):.4f}; best fixed arm {mean('best_fixed_arm'):.4f}; "
              f"ridge chosen {[ev['ridge'] for ev in evs]}")


if __name__ == "__main__":
    main()
