#!/usr/bin/env bash
# Starts a Kafka-compatible broker (Tansu 0.6, SQLite storage) on 127.0.0.1:$PORT for the Kafka
# tests, building it once into a cache folder (cargo install skips a build that is already there).
# Prints the export line the tests read (on stdout: redirect it to a file and source that); prints nothing (and the tests say SKIPPED) on failure.
set -uo pipefail
PORT="${TELESEG_KAFKA_PORT:-19092}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/teleseg-ci/tansu-0.6.0"
if [ ! -x "$CACHE/bin/tansu" ]; then
  echo "building the Tansu broker into $CACHE (once)" >&2
  CARGO_TARGET_DIR="$CACHE/target" cargo install tansu --version 0.6.0 --no-default-features \
    --features libsql --locked --root "$CACHE" >&2 || { echo "warning: no Tansu build" >&2; exit 0; }
  rm -rf "$CACHE/target"
fi
DATA="$(mktemp -d)"
( cd "$DATA" && nohup "$CACHE/bin/tansu" broker --listener-url "tcp://127.0.0.1:$PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$PORT" --storage-engine "sqlite://tansu.db" \
    >"$DATA/tansu.log" 2>&1 & )
for _ in $(seq 1 50); do
  if (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "export TELESEG_KAFKA_BROKERS=127.0.0.1:$PORT TELESEG_KAFKA_REQUIRED=1"
    exit 0
  fi
  sleep 0.2
done
echo "warning: Tansu did not start; Kafka tests will say SKIPPED" >&2
cat "$DATA/tansu.log" >&2
