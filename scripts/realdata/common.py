"""Shared pieces of the real-data benchmark: the data set registry, the automatic teleseg schema,
CSV writing in teleseg's formats, running the teleseg binary, and the raw-result log."""

import json
import math
import os
import shlex
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

DATA_DIR = Path(
    os.environ.get("REALDATA_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "data")
)

# What a user must say about each data set, nothing more: the file, its id column (None: one is
# added in a copy), and per family the class column and k (clustering) or the target column
# (synthesis). No per-data-set settings of any method.
DATASETS = {
    "vehicle": {"family": "clustering", "file": "vehicle.csv", "id": "id", "label": "label", "k": 4},
    "satellite": {"family": "clustering", "file": "satellite.csv", "id": "id", "label": "label", "k": 6},
    "letter_recognition": {"family": "clustering", "file": "letter_recognition.csv", "id": "id",
                           "label": "label", "k": 26},
    # The synthesis tables' target columns are also the prediction family's targets ("also").
    "attrition": {"family": "synthesis", "also": ("prediction",), "file": "attrition.csv", "id": "id",
                  "target": "Attrition"},
    "credit_data": {"family": "synthesis", "also": ("prediction",), "file": "credit_data.csv", "id": "id",
                    "target": "Status"},
    "wa_churn": {"family": "synthesis", "also": ("prediction",), "file": "wa_churn.csv", "id": "customer_id",
                 "target": "churn"},
    "movielens_small": {"family": "recommendation", "file": "movielens_small.csv"},
}

FAMILIES = ("clustering", "synthesis", "recommendation", "prediction")


def in_family(dataset, family):
    """Whether `dataset` belongs to `family` (its own family or one of its `also`)."""
    spec = DATASETS[dataset]
    return family == spec["family"] or family in spec.get("also", ())

# teleseg's binary cells (src/data/reader/rows.rs, any case).
_BIN_ZERO = {"0", "false", "no", "n"}
_BIN_ONE = {"1", "true", "yes", "y"}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def read_csv(path):
    """Reads a data set as the README says: NA is an empty cell, nothing else is missing."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""], low_memory=False)


def with_id(df, id_col, out_dir):
    """The frame and its id column; a data set without one gets `row_id` 1..N (written to a copy
    under out_dir by the caller, never to the shared data folder)."""
    if id_col is not None:
        return df, id_col
    df = df.copy()
    df.insert(0, "row_id", np.arange(1, len(df) + 1))
    return df, "row_id"


def _cell_text(v):
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def infer_types(df, id_col, skip=()):
    """Column -> `numeric` | `binary` | `categorical`, from the data alone:
    - two distinct values that teleseg reads as binary (0/1, yes/no, true/false, y/n) -> binary;
    - any other numeric dtype -> numeric;
    - any other string column -> categorical.
    The id and the columns in `skip` are left out."""
    types = {}
    for c in df.columns:
        if c == id_col or c in skip:
            continue
        s = df[c].dropna()
        levels = {_cell_text(v).lower() for v in s.unique()}
        if len(levels) == 2 and len(levels & _BIN_ZERO) == 1 and len(levels & _BIN_ONE) == 1:
            types[c] = "binary"
        elif pd.api.types.is_numeric_dtype(df[c]):
            types[c] = "numeric"
        else:
            types[c] = "categorical"
    return types


def is_integer_column(s):
    s = s.dropna()
    return len(s) > 0 and pd.api.types.is_numeric_dtype(s) and bool(np.all(np.isclose(s, np.round(s))))


def write_schema(path, name, df, id_col, types, extra_roles=None):
    """Writes a teleseg schema TOML (src/data/schema.rs): the id, one entry per inferred column
    (numeric columns of whole numbers get `integer = true`, read from the data), and
    `extra_roles` ({column: "target" | "ignore"}). Nothing is tuned: no clip, log1p, min/max or
    min_frequency; teleseg's defaults apply."""
    extra_roles = extra_roles or {}
    lines = [f'name = "{name}"', ""]

    def entry(col, role, integer=False):
        lines.append("[[columns]]")
        lines.append(f"name = {json.dumps(col)}")
        lines.append(f'role = "{role}"')
        if integer:
            lines.append("integer = true")
        lines.append("")

    for c in df.columns:
        if c == id_col:
            entry(c, "id")
        elif c in extra_roles:
            entry(c, extra_roles[c])
        elif c in types:
            t = types[c]
            entry(c, t, integer=(t == "numeric" and is_integer_column(df[c])))
    Path(path).write_text("\n".join(lines))
    return path


def write_teleseg_csv(df, path, types, id_col):
    """Writes `df` in a form teleseg's CSV reader takes: binary cells as 0/1 or the original
    tokens, whole numbers without a trailing `.0`, NaN as an empty cell."""
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        s = df[c]
        t = types.get(c)
        if t in ("binary", "numeric") or c == id_col:
            out[c] = s.map(lambda v: "" if (v is None or (isinstance(v, float) and math.isnan(v))) else _cell_text(v))
        else:
            out[c] = s.map(lambda v: "" if (v is None or (isinstance(v, float) and math.isnan(v))) else str(v))
    out.to_csv(path, index=False)
    return path


class TelesegError(RuntimeError):
    pass


def run_teleseg(binary, args, log_path=None, timeout=None):
    """Runs `binary args...`; returns (seconds, stdout). A non-zero exit raises TelesegError with
    the exact command and the end of its stderr."""
    cmd = [str(binary)] + [str(a) for a in args]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    dt = time.time() - t0
    if log_path:
        with open(log_path, "a") as f:
            f.write(f"$ {shlex.join(cmd)}\n# exit {p.returncode}, {dt:.1f} s\n")
            f.write(p.stdout)
            f.write(p.stderr)
            f.write("\n")
    if p.returncode != 0:
        tail = (p.stderr or p.stdout)[-3000:]
        raise TelesegError(f"exit {p.returncode}: {shlex.join(cmd)}\n{tail}")
    return dt, p.stdout


def teleseg_version(binary):
    try:
        return subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unavailable"


class Results:
    """Raw per-seed results, appended as JSON lines to OUT/results/<family>.jsonl as they come.
    A record replaces any earlier one of the same data set, method and seed (a --teleseg-only
    rerun also recomputes the cheap baselines it reports beside teleseg, e.g. popularity)."""

    def __init__(self, out_dir, family):
        self.path = Path(out_dir) / "results" / f"{family}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def add(self, dataset, method, seed, metrics, seconds=None, error=None, **extra):
        rec = {"dataset": dataset, "method": method, "seed": seed, "metrics": metrics,
               "seconds": None if seconds is None else round(seconds, 2), "error": error}
        rec.update(extra)
        key = (dataset, method, seed)
        if self.path.exists():
            lines = [line for line in self.path.read_text().splitlines() if line.strip()]
            keep = [line for line in lines if _key(json.loads(line)) != key]
            if len(keep) != len(lines):
                self.path.write_text("".join(line + "\n" for line in keep))
        with open(self.path, "a") as f:
            f.write(json.dumps(rec, default=_json_default) + "\n")
        status = f"ERROR {error.splitlines()[0]}" if error else \
            ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
                      if not isinstance(v, (dict, list)))
        log(f"  {dataset} / {method} / seed {seed}: {status}" + (f" ({seconds:.1f} s)" if seconds else ""))
        return rec


def _key(rec):
    return (rec.get("dataset"), rec.get("method"), rec.get("seed"))


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def package_versions(names):
    from importlib import metadata
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "not installed"
    return out


def teleseg_sets(args):
    """The extra `--set KEY=VALUE` arguments of an ablation (`run.py --set`), for a train command."""
    out = []
    for kv in getattr(args, "teleseg_set", None) or []:
        out += ["--set", kv]
    return out


def teleseg_method(base, args):
    """The method label: `base`, or `base [KEY=VALUE, ...]` for an ablation."""
    sets = getattr(args, "teleseg_set", None) or []
    return f"{base} [{', '.join(sets)}]" if sets else base
