#!/usr/bin/env python3
"""Real-data benchmark of teleseg against standard baselines, one command for everything.

Install (Python 3.11; the versions this was run with; SDV >= 2.0 is needed for its API):

    pip install "sdv==2.0.0" "sdmetrics==0.32.0" "scikit-learn==1.9.1" "scipy==1.17.1" \
        "pandas==2.3.3" "numpy==2.4.6" "torch==2.15.0" "safetensors==0.8.0"

(sdv pulls ctgan 0.12.1 and rdt 2.0.0; safetensors is read by scripts/ncf_reference_scorer.py,
which scores teleseg's NCF checkpoint.) The teleseg binary is built separately
(`cargo build --release` → target/release/teleseg); this script never runs cargo.

Usage, from the repository root:

    python3 scripts/realdata/run.py --quick                     # all families, seed 42, ~7 min
    python3 scripts/realdata/run.py                             # all families, seeds 42,1,7, ~1 h
    python3 scripts/realdata/run.py --family synthesis --datasets wa_churn --seeds 42,1
    python3 scripts/realdata/run.py --doc-only                  # rewrite the doc from OUT/results

Options: --family clustering|synthesis|recommendation|prediction|all, --seeds, --datasets (comma list),
--quick (1 seed unless --seeds is given, SDV epochs=50 instead of 300, BPR-MF: 20 epochs and a
4-point grid, torch NeuMF: 10 epochs and f=16 only),
--teleseg PATH (default target/release/teleseg), --no-teleseg (baselines only), --out DIR
(default /tmp/realdata), --doc PATH (default docs/realdata.md), --threads N (torch threads,
default 1: with other work on the 2 cores, 2 threads ran 7x slower), --set KEY=VALUE (repeatable:
an ablation of a teleseg setting, labelled as such in the tables), --teleseg-only (no baselines).

Data: ../shared/data beside the checkout (or $REALDATA_DIR), see its README.md. Per family and data set the run
writes the automatic teleseg schema, teleseg's run folders and logs under OUT/<family>/<data set>/,
raw per-seed results to OUT/results/<family>.jsonl (appended as they come; rerunning a data set
and seed replaces its records) and finally the Markdown tables to --doc.
"""

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from common import DATASETS, FAMILIES, in_family, log, teleseg_version  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", default="all", choices=FAMILIES + ("all",))
    ap.add_argument("--seeds", default=None, help="comma-separated (default 42,1,7; --quick: 42)")
    ap.add_argument("--datasets", default=None, help="comma-separated subset of " + ",".join(DATASETS))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--teleseg", default=str(REPO / "target" / "release" / "teleseg"))
    ap.add_argument("--no-teleseg", action="store_true")
    ap.add_argument("--out", default="/tmp/realdata")
    ap.add_argument("--doc", default=str(REPO / "docs" / "realdata.md"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--doc-only", action="store_true")
    ap.add_argument("--set", dest="teleseg_set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra teleseg --set for every train command (an ablation); the method is "
                         "then labelled 'teleseg ... [KEY=VALUE]' so it sits beside the defaults")
    ap.add_argument("--teleseg-only", action="store_true", help="skip the baselines (ablations)")
    args = ap.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(args.threads))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    import report  # noqa: E402 (after the thread caps)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "results" / "meta.json"
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"runs": [], "notes": []}

    if not args.doc_only:
        seeds = [int(s) for s in (args.seeds or ("42" if args.quick else "42,1,7")).split(",")]
        families = FAMILIES if args.family == "all" else (args.family,)
        wanted = args.datasets.split(",") if args.datasets else list(DATASETS)
        unknown = [d for d in wanted if d not in DATASETS]
        if unknown:
            sys.exit(f"unknown data sets {unknown}; known: {list(DATASETS)}")
        if args.no_teleseg:
            args.teleseg = None
        elif not Path(args.teleseg).is_file():
            sys.exit(f"{args.teleseg}: no teleseg binary (build it, pass --teleseg, or --no-teleseg)")
        if args.teleseg:
            src = Path(args.teleseg).resolve()
            # Run a copy: a rebuild of target/release during the run must not mix two binaries.
            snap = out / "bin" / "teleseg"
            snap.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, snap)
            mtime = datetime.fromtimestamp(src.stat().st_mtime, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            args.teleseg = str(snap)
            meta["teleseg_version"] = f"{teleseg_version(snap)} ({src}, built {mtime})"
        meta["machine"] = f"{os.cpu_count()} CPU cores, {platform_memory()}"
        meta["repo_head"] = report.git_rev(REPO)
        run_rec = {"command": "python3 scripts/realdata/run.py " + shlex.join(sys.argv[1:]),
                   "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "quick": args.quick,
                   "seeds": seeds, "out": str(out), "threads": args.threads, "teleseg": bool(args.teleseg), "family_seconds": {}}
        for fam in families:
            ds = [d for d in wanted if in_family(d, fam)]
            if not ds:
                continue
            drop_records(out, fam, ds, seeds, args)
            mod = __import__(fam)
            log(f"=== {fam}: {ds}, seeds {seeds}{' (quick)' if args.quick else ''}")
            t0 = time.time()
            mod.run(args, ds, seeds)
            run_rec["family_seconds"][fam] = round(time.time() - t0, 1)
            log(f"=== {fam} done in {(time.time() - t0) / 60:.1f} min")
            meta["runs"] = [r for r in meta["runs"] if r["command"] != run_rec["command"]] + [run_rec]
            meta_path.write_text(json.dumps(meta, indent=1))
            report.write(out, args.doc, meta, REPO)
    report.write(out, args.doc, meta, REPO)
    log(f"wrote {args.doc}")


def drop_records(out, family, datasets, seeds, args):
    """Removes earlier records of (data set, seed) about to be rerun: all of them, or with
    --teleseg-only only teleseg's (of this ablation's label, so ablations sit side by side)."""
    p = Path(out) / "results" / f"{family}.jsonl"
    if not p.exists():
        return
    sets = args.teleseg_set

    def rerun(r):
        if r["dataset"] not in datasets or r["seed"] not in seeds:
            return False
        if not args.teleseg_only:
            return True
        m = r["method"]
        return m.startswith("teleseg ") and ((f" [{', '.join(sets)}]" in m) if sets else " [" not in m)

    keep = [line for line in p.read_text().splitlines() if line.strip() and not rerun(json.loads(line))]
    p.write_text("".join(line + "\n" for line in keep))


def platform_memory():
    try:
        kb = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
        return f"{kb / 1024 ** 2:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        return "memory unknown"


if __name__ == "__main__":
    main()
