#!/usr/bin/env python3
"""Two teleseg binaries side by side on the real-time paths, alternating, in one invocation.

    python3 scripts/bench_ab.py --binaries OLD,NEW --run RUN[,RUN_NEW] --data DIR [--rounds 3]

RUN is a pipeline run folder, or one per binary (comma-separated, in the order of --binaries) when
each must score the checkpoint it writes itself (a format change between them); DIR a `teleseg
generate --events` folder (customers.csv, events.jsonl). Per round and binary, in turn:
- `teleseg stream --events` over DIR's events: wall seconds (the decisions of the first round of
  every binary are compared: identical or not);
- `teleseg serve` started alone, `POST /score` with 1 customer and with 100 (wrk, 1 thread,
  8 connections, 3 s warm-up then --seconds): requests/s and p99.
Prints one line per measurement, then the median and range per binary. Needs wrk.
"""

import argparse
import csv
import filecmp
import json
import os
import statistics
import subprocess
import tempfile
import time


def serve(binary, run, bodies, seconds, tmp):
    srv = subprocess.Popen([binary, "--no-progress", "serve", "--checkpoint", run,
                            "--addr", "127.0.0.1:0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    addr = srv.stdout.readline().strip().removeprefix("listening on ")
    out = {}
    try:
        for name, body in bodies.items():
            lua = os.path.join(tmp, f"{name}.lua")
            with open(lua, "w") as fh:
                fh.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                         f"wrk.body = {json.dumps(body)}\n")
            subprocess.run(["wrk", "-t1", "-c4", "-d3s", "-s", lua, f"{addr}/score"],
                           capture_output=True, check=True)
            p = subprocess.run(["wrk", "-t1", "-c8", f"-d{seconds}s", "--latency", "-s", lua,
                                f"{addr}/score"], capture_output=True, text=True, check=True)
            lines = p.stdout.splitlines()
            rps = float(next(l for l in lines if "Requests/sec" in l).split()[-1])
            p99 = next(l.split()[1] for l in lines if l.strip().startswith("99%"))
            out[name] = (rps, p99)
    finally:
        srv.terminate()
        srv.wait()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binaries", required=True, help="two or more teleseg binaries, comma-separated")
    ap.add_argument("--run", required=True, help="a run folder, or one per binary (comma-separated)")
    ap.add_argument("--data", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    binaries = args.binaries.split(",")
    runs = args.run.split(",")
    if len(runs) == 1:
        runs = runs * len(binaries)
    if len(runs) != len(binaries):
        ap.error(f"--run names {len(runs)} run folders for {len(binaries)} binaries")
    run_of = dict(zip(binaries, runs))
    tmp = tempfile.mkdtemp(prefix="bench-ab-")
    with open(os.path.join(args.data, "customers.csv")) as fh:
        rows = list(csv.DictReader(fh))[:100]
    cell = lambda v: v if v != "" else None
    bodies = {"one": json.dumps({k: cell(v) for k, v in rows[0].items()}),
              "hundred": json.dumps([{k: cell(v) for k, v in r.items()} for r in rows])}
    results = {}
    first = {}
    for r in range(args.rounds):
        for b in binaries:
            dest = os.path.join(tmp, f"{len(results)}-{r}-{os.path.basename(b)}.jsonl")
            t0 = time.perf_counter()
            subprocess.run([b, "--no-progress", "stream", "--checkpoint", run_of[b],
                            "--customers", os.path.join(args.data, "customers.csv"),
                            "--events", os.path.join(args.data, "events.jsonl"),
                            "--output", dest], capture_output=True, check=True)
            wall = time.perf_counter() - t0
            first.setdefault(b, dest)
            results.setdefault((b, "stream_s"), []).append(wall)
            print(f"{b} stream {wall:.2f} s", flush=True)
            for name, (rps, p99) in serve(b, run_of[b], bodies, args.seconds, tmp).items():
                results.setdefault((b, f"serve_{name}_rps"), []).append(rps)
                results.setdefault((b, f"serve_{name}_p99"), []).append(p99)
                print(f"{b} serve {name} {rps} req/s p99 {p99}", flush=True)
    same = all(filecmp.cmp(first[binaries[0]], first[b], shallow=False) for b in binaries[1:])
    print("decisions identical:", same)
    for (b, what), v in results.items():
        if what.endswith("_p99"):
            print(b, what, v)
        else:
            print(b, what, f"median {statistics.median(v):.2f} range {min(v):.2f}-{max(v):.2f}")


if __name__ == "__main__":
    main()
