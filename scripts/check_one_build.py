#!/usr/bin/env python3
"""Check that the README's two commands share one build of the dependencies (issue #19).

`cargo build --release` (what `cargo run --release -- pipeline` builds) and
`cargo test --release --no-run` resolve features separately: a dev-dependency that turns on a
feature of a shared crate changes that crate's hash and every crate above it, so the second
command compiled Burn again. This script asks cargo for both unit graphs (no compilation; the
unstable `--unit-graph` flag through cargo's test-channel override) and lists every dependency
unit that the test build would compile differently (features or profile). Exit 0 when none, 1
otherwise.

    python3 scripts/check_one_build.py [--features ...]
"""
import json
import os
import subprocess
import sys


def unit_graph(args):
    env = dict(os.environ, __CARGO_TEST_CHANNEL_OVERRIDE_DO_NOT_USE_THIS="nightly")
    done = subprocess.run(
        ["cargo", *args, "--release", "-Z", "unstable-options", "--unit-graph", *sys.argv[1:]],
        env=env, capture_output=True, text=True,
    )
    if done.returncode != 0:
        if "unstable" in done.stderr or "nightly" in done.stderr or "-Z" in done.stderr:
            print("SKIPPED check_one_build: this cargo does not give --unit-graph "
                  f"({done.stderr.strip().splitlines()[-1] if done.stderr.strip() else '?'})")
            sys.exit(0)
        sys.exit(f"cargo {' '.join(args)} --unit-graph failed:\n{done.stderr}")
    out = done.stdout
    units = {}
    for unit in json.loads(out)["units"]:
        if unit["pkg_id"].startswith("path+"):  # teleseg itself: its own targets differ by design
            continue
        key = (unit["pkg_id"].split("#")[-1], unit["target"]["name"], unit["mode"])
        units.setdefault(key, set()).add(
            (tuple(sorted(unit["features"])), json.dumps(unit["profile"], sort_keys=True))
        )
    return units


def main():
    build = unit_graph(["build"])
    test = unit_graph(["test", "--no-run"])
    differ = [key for key in sorted(build) if key in test and build[key] != test[key]]
    for key in differ:
        only_build = {f for f, _ in build[key]} - {f for f, _ in test[key]}
        only_test = {f for f, _ in test[key]} - {f for f, _ in build[key]}
        print(f"{key[0]} ({key[1]}, {key[2]}): build features {sorted(only_build)}, "
              f"test features {sorted(only_test)}")
    shared = sum(1 for key in build if key in test)
    print(f"{shared} dependency units shared by `cargo build --release` and "
          f"`cargo test --release --no-run`; {len(differ)} built differently")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
