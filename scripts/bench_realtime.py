#!/usr/bin/env python3
"""Real-time benchmarks: `teleseg stream` (file and Kafka) and `teleseg serve`.

    pip install confluent-kafka        # the Kafka part (skipped without it or without a broker)
    apt-get install wrk                # the HTTP part (skipped without it)
    python3 scripts/bench_realtime.py --teleseg target/release/teleseg --run RUN \
        [--customers 5000] [--brokers 127.0.0.1:9092] [--out /tmp/bench-rt]

RUN is a pipeline run folder (segments, offers, churn risk). Prints one JSON object:

- file: events/s of `teleseg stream --events` over the generator's events (wall clock and per
  CPU-second of the process, median and range of --repeats runs);
- kafka: the same events produced at a paced rate to a 4-partition topic while one stream process
  consumes it; end-to-end latency of each decision from the Kafka timestamp of the event that
  closed its batch to the Kafka timestamp of the decision (p50, p99, max), over the whole run and
  without the events of the first --warmup-secs (group join, every customer's first decision),
  and the throughput of a catch-up run over the full topic;
- serve: requests/s and latency percentiles of `POST /score` with one customer and with 100,
  from wrk with a bounded number of connections.

On a 2-core machine the load generators share the cores with teleseg; the figures are a floor.
"""

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def file_bench(args, data, out):
    walls, per_cpu = [], []
    events = None
    for i in range(args.repeats):
        dest = os.path.join(out, f"decisions-{i}.jsonl")
        c0, t0 = cpu_children(), time.perf_counter()
        p = run([args.teleseg, "--no-progress", "--backend", "flex", "stream",
                 "--checkpoint", args.run, "--customers", os.path.join(data, "customers.csv"),
                 "--events", os.path.join(data, "events.jsonl"), "--output", dest])
        wall, cpu = time.perf_counter() - t0, cpu_children() - c0
        stats = json.loads(p.stdout.strip().splitlines()[-1])
        events = stats["events"]
        walls.append(events / wall)
        per_cpu.append(events / cpu)
        os.remove(dest)
    return {
        "events": events,
        "events_per_s": {"median": statistics.median(walls), "min": min(walls), "max": max(walls)},
        "events_per_cpu_s": {"median": statistics.median(per_cpu), "min": min(per_cpu),
                             "max": max(per_cpu)},
    }


def percentiles(xs):
    xs = sorted(xs)
    at = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]
    return {"n": len(xs), "p50": at(0.5), "p99": at(0.99), "max": xs[-1]}


def kafka_bench(args, data, out):
    try:
        from confluent_kafka import Consumer, Producer
        from confluent_kafka.admin import AdminClient, NewTopic
    except ImportError:
        return {"skipped": "confluent-kafka not installed"}
    host, port = args.brokers.split(",")[0].split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return {"skipped": f"no broker at {args.brokers}"}
    tag = f"bench{os.getpid()}"
    admin = AdminClient({"bootstrap.servers": args.brokers})
    for name, parts in [(f"{tag}-events", 4), (f"{tag}-decisions", 1), (f"{tag}-events2", 4),
                        (f"{tag}-decisions2", 1)]:
        for f in admin.create_topics([NewTopic(name, parts, 1)]).values():
            f.result()
    with open(os.path.join(data, "events.jsonl"), "rb") as fh:
        lines = fh.read().splitlines()
    keys = [json.loads(l)["customer_id"].encode() for l in lines]

    def stream(inp, outp, group):
        return subprocess.Popen(
            [args.teleseg, "--no-progress", "--backend", "flex", "stream", "--brokers", args.brokers,
             "--input-topic", inp, "--output-topic", outp, "--group", group,
             "--state-dir", os.path.join(out, group), "--idle-exit-secs", "4",
             "--checkpoint", args.run, "--customers", os.path.join(data, "customers.csv")]
            + args.stream_arg,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def produce(topic, rate):
        p = Producer({"bootstrap.servers": args.brokers, "linger.ms": 2})
        t0 = time.perf_counter()
        for i, (k, v) in enumerate(zip(keys, lines)):
            if rate:
                ahead = i / rate - (time.perf_counter() - t0)
                if ahead > 0:
                    time.sleep(ahead)
            while True:
                try:
                    p.produce(topic, v, key=k)
                    break
                except BufferError:
                    p.poll(0.01)
            p.poll(0)
        p.flush(60)

    def decisions(topic):
        c = Consumer({"bootstrap.servers": args.brokers, "group.id": f"{topic}-reader",
                      "auto.offset.reset": "earliest"})
        c.subscribe([topic])
        got, quiet = [], time.perf_counter()
        while time.perf_counter() - quiet < 3:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.append((m.timestamp()[1], json.loads(m.value())))
                quiet = time.perf_counter()
        c.close()
        return got

    # Live: a consumer waiting, events arriving at a paced rate.
    proc = stream(f"{tag}-events", f"{tag}-decisions", f"{tag}-live")
    time.sleep(3)  # bundle load and group join
    start_ms = time.time() * 1000
    produce(f"{tag}-events", args.rate)
    proc.communicate()
    timed = [(d["source_timestamp_ms"], ts - d["source_timestamp_ms"])
             for ts, d in decisions(f"{tag}-decisions") if "source_timestamp_ms" in d]
    lat = [l for _, l in timed]
    # The first seconds include the group's join and the first decision of every customer.
    steady = [l for src, l in timed if src >= start_ms + 1000 * args.warmup_secs]
    # Catch-up: everything already in the topic.
    produce(f"{tag}-events2", 0)
    t0 = time.perf_counter()
    proc = stream(f"{tag}-events2", f"{tag}-decisions2", f"{tag}-catchup")
    stdout, _ = proc.communicate()
    wall = time.perf_counter() - t0 - 4  # minus the idle wait before exiting
    stats = json.loads(stdout.strip().splitlines()[-1])
    return {
        "rate_events_per_s": args.rate,
        "latency_ms": percentiles(lat) if lat else None,
        "latency_ms_after_warmup": percentiles(steady) if steady else None,
        "warmup_secs": args.warmup_secs,
        "catch_up_events_per_s": stats["events"] / wall,
        "catch_up_includes_startup_s": "bundle load and group join (~1-3 s) are inside the wall time",
    }


def serve_bench(args, data, out):
    wrk = shutil.which("wrk")
    if not wrk:
        return {"skipped": "wrk not installed"}
    import csv
    with open(os.path.join(data, "customers.csv")) as fh:
        rows = list(csv.DictReader(fh))[:100]
    body1 = json.dumps({k: (v if v != "" else None) for k, v in rows[0].items()})
    body100 = json.dumps([{k: (v if v != "" else None) for k, v in r.items()} for r in rows])
    srv = subprocess.Popen([args.teleseg, "--no-progress", "--backend", "flex", "serve",
                            "--checkpoint", args.run, "--addr", "127.0.0.1:0"],
                           stdout=subprocess.PIPE, text=True)
    addr = srv.stdout.readline().strip().removeprefix("listening on ")
    result = {}
    try:
        for name, body in [("one_customer", body1), ("hundred_customers", body100)]:
            lua = os.path.join(out, f"{name}.lua")
            with open(lua, "w") as fh:
                fh.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                         f"wrk.body = {json.dumps(body)}\n")
            run([wrk, "-t1", "-c4", "-d3s", "-s", lua, f"{addr}/score"])  # warm-up
            p = run([wrk, "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "--latency",
                     "-s", lua, f"{addr}/score"])
            rps = float(next(l for l in p.stdout.splitlines() if "Requests/sec" in l).split()[-1])
            lat = {l.split()[0]: l.split()[1] for l in p.stdout.splitlines()
                   if l.strip().startswith(("50%", "90%", "99%"))}
            result[name] = {"requests_per_s": rps, "latency": lat,
                            "connections": args.connections, "seconds": args.seconds}
    finally:
        srv.terminate()
        srv.wait()
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--teleseg", required=True)
    ap.add_argument("--run", required=True, help="a pipeline run folder")
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--brokers", default="127.0.0.1:9092")
    ap.add_argument("--rate", type=float, default=20000, help="paced events/s of the live run")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--out", default=None)
    ap.add_argument("--warmup-secs", type=float, default=10,
                    help="live latency is also reported without the events of the first seconds")
    ap.add_argument("--parts", default="file,kafka,serve",
                    help="which benchmarks to run, comma-separated")
    ap.add_argument("--stream-arg", action="append", default=[],
                    help="an extra argument of the Kafka `teleseg stream` runs (repeatable), "
                         "e.g. --stream-arg=--kafka-property --stream-arg=fetch.wait.max.ms=10")
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="bench-rt-")
    os.makedirs(out, exist_ok=True)
    data = os.path.join(out, "data")
    if not os.path.exists(os.path.join(data, "events.jsonl")):
        run([args.teleseg, "--no-progress", "generate", "--customers", str(args.customers),
             "--seed", "3", "--events", "--out", data])
    with open(os.path.join(data, "events.jsonl"), "rb") as fh:
        n_events = sum(1 for _ in fh)
    report = {"customers": args.customers, "events": n_events, "cores": os.cpu_count(),
              "stream_args": args.stream_arg}
    parts = args.parts.split(",")
    for name, bench in [("file", file_bench), ("kafka", kafka_bench), ("serve", serve_bench)]:
        if name in parts:
            report[name] = bench(args, data, out)
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
