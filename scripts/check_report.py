#!/usr/bin/env python3
"""Check a teleseg report.html in headless Chromium: it must render, and log nothing to the console.

Usage:
    python3 scripts/check_report.py RUN/report.html [--screenshot report.png] [--chromium PATH]

The report has no script and a Content-Security-Policy that forbids every network load, so any
console message (a blocked fetch, a CSP violation, a script error) means the page is not
self-contained or not well-formed: the check fails. It also fails when Chromium cannot render the
page or the screenshot is implausibly small, and when the page lacks its main sections.

Needs only the Python standard library and Chromium (Debian: `apt-get install chromium`).
Exit code 0 = pass, 1 = fail, 2 = usage error (no Chromium, no file).
"""

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

CANDIDATES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
# Sections a pipeline report always has (a single training run may have fewer: --sections).
DEFAULT_SECTIONS = ["Training curves", "Segments", "Personas", "Synthetic customers", "Offer recommendation"]


def find_chromium(explicit):
    if explicit:
        return explicit if shutil.which(explicit) or os.path.exists(explicit) else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report", type=pathlib.Path)
    ap.add_argument("--screenshot", type=pathlib.Path, help="where to save the PNG (default: a temp file)")
    ap.add_argument("--chromium", help="Chromium binary (default: search PATH)")
    ap.add_argument(
        "--sections",
        default=",".join(DEFAULT_SECTIONS),
        help="comma-separated <h2>/<h3> titles the page must have (default: %(default)s)",
    )
    ap.add_argument("--timeout", type=int, default=120, help="seconds Chromium may take")
    args = ap.parse_args()

    if not args.report.is_file():
        print(f"check_report: {args.report}: no such file", file=sys.stderr)
        return 2
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("check_report: Chromium not found (apt-get install chromium)", file=sys.stderr)
        return 2

    html = args.report.read_text(encoding="utf-8")
    failures = []
    for title in filter(None, (s.strip() for s in args.sections.split(","))):
        if not re.search(r"<h[23][^>]*>\s*" + re.escape(title), html):
            failures.append(f"missing section: {title}")
    if "Content-Security-Policy" not in html:
        failures.append("no Content-Security-Policy meta tag (the page must forbid network loads)")

    with tempfile.TemporaryDirectory() as tmp:
        shot = args.screenshot or pathlib.Path(tmp) / "report.png"
        cmd = [
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={tmp}/profile",
            "--window-size=1200,3000",
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={shot}",
            args.report.resolve().as_uri(),
        ]
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"check_report: Chromium took more than {args.timeout} s", file=sys.stderr)
            return 1
        console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
        failures += [f"console: {line}" for line in console]
        if not shot.is_file():
            failures.append(f"Chromium wrote no screenshot (exit {run.returncode}): {run.stderr[-2000:]}")
        elif shot.stat().st_size < 20_000:
            failures.append(f"screenshot is only {shot.stat().st_size} bytes: the page looks empty")
        size = shot.stat().st_size if shot.is_file() else 0

    if failures:
        print(f"check_report: FAIL {args.report}", file=sys.stderr)
        for f in failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    where = f" -> {args.screenshot}" if args.screenshot else ""
    print(f"check_report: OK {args.report} ({len(html)} bytes, screenshot {size} bytes{where}, no console messages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
