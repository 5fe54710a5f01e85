"""Compare the orders side of two commits: `summarize_orders` on the same inputs, old code against new.

    python scripts/compare_orders.py [--old COMMIT] [--rounds N] INPUT...

An INPUT is an orders file (read with the default rules) or a folder holding one orders file and a
meta.pkl ({"name", "rules", "kind"}), as a capture of a test run leaves it. The old commit's package is
exported with `git archive`; each side runs in its own interpreter. Every OrdersSummary (by_id, rejected,
excluded, facts, and the source file's entry in report.json: file, sheet, header row, rows, profile,
locale) must be equal: values, dtypes, and the kind of missing value in object columns. With --rounds N > 1
each input is also timed N times, old and new interleaved, and the medians are printed. Exit status 0 when
every summary is the same, 1 when any differs.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle  # noqa: S403 - our own child processes' results
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
CHILD = r'''
import json, pickle, sys, time
from pathlib import Path
from memberseg.errors import InputError
from memberseg.rules import load_rules
from memberseg.safety import inspect_file
import memberseg.pipeline as P

out = Path(sys.argv[1])
for number, source in enumerate(json.loads(Path(sys.argv[2]).read_text())):
    source = Path(source)
    if source.is_dir():
        meta = pickle.loads((source / "meta.pkl").read_bytes())
        path, rules, kind = source / meta["name"], meta["rules"], meta["kind"]
    else:
        path, rules, kind = source, load_rules(None), None
    try:
        checked = P.CheckedFile(kind or inspect_file(path, rules.limits, role="orders"), None)
        started = time.perf_counter()
        summary = P.summarize_orders(path, rules, checked)
        wall = time.perf_counter() - started
        source = summary.source
        if hasattr(source, "describe"):   # SourceFacts
            described = source.describe()
        else:                             # before SourceFacts: a RawTable with its rows dropped
            described = {"file": source.file, "sheet": source.sheet, "header_row": source.header_row,
                         "rows": source.rows_in, "profile": source.describe_profile(), **source.locale}
        result = {"by_id": summary.by_id, "rejected": summary.rejected, "excluded": summary.excluded,
                  "facts": summary.facts, "source": described, "wall": wall, "timings": summary.timings}
    except InputError as error:
        result = {"error": error.to_dict()}
    (out / f"{number}.pkl").write_bytes(pickle.dumps(result))
'''
UNTIMED = {"wall", "timings"}


def export(commit: str, into: Path) -> Path:
    git = shutil.which("git") or "git"
    archive = subprocess.run([git, "-C", str(ROOT), "archive", commit, "layers/memberseg"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "layers" / "memberseg"


def run_side(package: str, inputs: list[str], work: Path) -> list[dict]:
    work.mkdir(parents=True, exist_ok=True)
    listing = work / "inputs.json"
    listing.write_text(json.dumps(inputs))
    env = dict(os.environ, PYTHONPATH=package)
    subprocess.run([sys.executable, "-c", CHILD, str(work), str(listing)], env=env, cwd=tempfile.gettempdir(),
                   check=True)
    return [pickle.loads((work / f"{n}.pkl").read_bytes()) for n in range(len(inputs))]  # noqa: S301


def _frame_difference(old: pd.DataFrame, new: pd.DataFrame) -> str | None:
    try:
        pd.testing.assert_frame_equal(old, new, check_exact=True)
    except AssertionError as difference:
        return str(difference)
    for column in old.columns:
        if old[column].dtype == object and list(map(type, old[column])) != list(map(type, new[column])):
            return f"column {column!r}: the kinds of cell (None, NaN, pd.NA, ...) differ"
    return None


def _value_difference(old: object, new: object) -> str | None:
    if isinstance(old, pd.DataFrame) and isinstance(new, pd.DataFrame):
        return _frame_difference(old, new)
    if isinstance(old, np.ndarray) and isinstance(new, np.ndarray):
        return None if old.dtype == new.dtype and np.array_equal(old, new) else "arrays differ"
    if isinstance(old, dict) and isinstance(new, dict) and old.keys() == new.keys():
        for key in old:
            found = _value_difference(old[key], new[key])
            if found:
                return f"{key}: {found}"
        return None
    return None if old == new else f"{old!r:.200} against {new!r:.200}"


def difference(old: dict, new: dict) -> str | None:
    keep_old = {k: v for k, v in old.items() if k not in UNTIMED}
    keep_new = {k: v for k, v in new.items() if k not in UNTIMED}
    return _value_difference(keep_old, keep_new)


def timing_line(runs: dict[str, list[dict]]) -> str:
    walls = {side: statistics.median(r["wall"] for r in results) for side, results in runs.items()}
    phases = {side: {k: statistics.median(r["timings"][k] for r in results) for k in results[0]["timings"]}
              for side, results in runs.items()}
    return (f"    median of {len(runs['old'])}: old {walls['old']:.2f} s, new {walls['new']:.2f} s "
            f"({walls['old'] - walls['new']:+.2f} s saved); phases old {phases['old']}, new {phases['new']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default="main", help="the commit to compare against (default: main)")
    parser.add_argument("--rounds", type=int, default=1, help="time each side this many times, interleaved")
    parser.add_argument("inputs", nargs="+")
    args = parser.parse_args()
    inputs = [str(Path(source).resolve()) for source in args.inputs]
    with tempfile.TemporaryDirectory() as scratch:
        old_package = str(export(args.old, Path(scratch) / "old"))
        runs: dict[str, list[list[dict]]] = {"old": [], "new": []}
        for round_number in range(args.rounds):
            for side, package in (("old", old_package), ("new", str(ROOT / "layers" / "memberseg"))):
                runs[side].append(run_side(package, inputs, Path(scratch) / f"{side}-{round_number}"))
    different = 0
    for number, source in enumerate(inputs):
        old, new = runs["old"][0][number], runs["new"][0][number]
        found = difference(old, new)
        different += found is not None
        what = f"error {old['error']['error']['code']}" if "error" in old else f"{len(old['by_id'])} IDs"
        print(f"{'SAME' if found is None else 'DIFFERENT'} {source} ({what})" + (f"\n    {found}" if found else ""))
        if args.rounds > 1 and "wall" in old:
            print(timing_line({side: [results[number] for results in runs[side]] for side in runs}))
    print(f"{len(inputs)} inputs: {len(inputs) - different} same, {different} different")
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
