#!/usr/bin/env bash
# The pipeline (generate → autoencoder → embed → DEC → VAE → NCF → report) at several customer
# counts: wall time per stage (RUN/summary.json), peak RSS of the whole process (/usr/bin/time -v)
# and peak RSS per stage (VmRSS of the process sampled every 0.2 s, each sample attributed to the
# stage whose [start, end) window of summary.json's cumulative seconds holds it; sampling can miss
# a spike shorter than 0.2 s, so the per-stage figures are lower bounds of the true peaks).
#
#   scripts/scale.sh [N ...]        (default: 100000 300000 1000000)
#
# Env: TELESEG (default $CARGO_TARGET_DIR/release/teleseg or target/release/teleseg),
# OUT (default scale-runs), EXTRA (extra pipeline arguments, e.g. "--set vae.enabled=false").
# Prints a markdown table on stdout (also OUT/scale.md); logs in OUT/nN/.
set -euo pipefail

TELESEG=${TELESEG:-${CARGO_TARGET_DIR:-target}/release/teleseg}
OUT=${OUT:-scale-runs}
[[ -x $TELESEG ]] || { echo "no $TELESEG: build with cargo test --release --no-run" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time (GNU time) is needed for peak RSS" >&2; exit 2; }
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(100000 300000 1000000)
mkdir -p "$OUT"

rows=()
for n in "${sizes[@]}"; do
  dir="$OUT/n$n"
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "== $n customers ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  # shellcheck disable=SC2086
  /usr/bin/time -v -o "$dir/time.txt" "$TELESEG" pipeline --no-progress --force \
    --set "data.generate_customers=$n" --set "output.dir=$dir/runs" ${EXTRA:-} \
    >"$dir/stdout.txt" 2>"$dir/stderr.txt" &
  tpid=$!
  # The child of GNU time is the pipeline.
  pid=""
  for _ in $(seq 50); do
    pid=$(pgrep -P "$tpid" || true)
    [[ -n $pid ]] && break
    sleep 0.1
  done
  t0=$(date +%s.%N)
  : >"$dir/rss.tsv"
  while kill -0 "$tpid" 2>/dev/null; do
    if [[ -n $pid && -r /proc/$pid/status ]]; then
      kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      [[ -n $kb ]] && echo "$(echo "$(date +%s.%N) - $t0" | bc) $kb" >>"$dir/rss.tsv"
    fi
    sleep 0.2
  done
  if ! wait "$tpid"; then
    echo "pipeline at $n failed: see $dir/stderr.txt" >&2
    tail -5 "$dir/stderr.txt" >&2
    exit 1
  fi
  rows+=("$n")
done

python3 - "$OUT" "${rows[@]}" <<'EOF' | tee "$OUT/scale.md"
import glob, json, re, sys
out, sizes = sys.argv[1], sys.argv[2:]
print("| customers | stage | seconds | peak RSS (sampled) |")
print("|---:|---|---:|---:|")
for n in sizes:
    d = f"{out}/n{n}"
    summary = json.load(open(glob.glob(f"{d}/runs/**/summary.json", recursive=True)[0]))
    samples = [tuple(map(float, l.split())) for l in open(f"{d}/rss.tsv") if l.strip()]
    t = 0.0
    for s in summary["stages"]:
        lo, hi = t, t + s["seconds"]
        t = hi
        kb = max((k for (x, k) in samples if lo <= x < hi), default=0)
        print(f"| {int(n):,} | {s['name']} | {s['seconds']:.1f} | {kb / 1024:.0f} MiB |")
    tt = open(f"{d}/time.txt").read()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", tt).group(1)
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", tt).group(1))
    print(f"| {int(n):,} | **total** (wall {wall}) | {t:.1f} | **{peak / 1024:.0f} MiB** |")
EOF
