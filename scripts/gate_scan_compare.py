"""Time the safety gate with another version of the sheet scanner against this tree's, on the same files.

    git show REV:layers/memberseg/memberseg/safety/scanner.py > /tmp/scanner_old.py
    .venv/bin/python scripts/gate_scan_compare.py /tmp/scanner_old.py [FILE.xlsx ...] [--runs 5]

Runs `inspect_file` interleaved (old, new, old, new, ...), prints each version's median and the ratio,
and checks that both versions return the same SheetScan for every sheet. Default files: the cached
standard bench inputs.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import memberseg.safety.container as container
from memberseg.rules import load_rules
from memberseg.safety import inspect_file

BENCH = Path(__file__).resolve().parents[1] / "bench-data" / "standard"


def load_scanner(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("memberseg.safety._scanner_compared", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def timed_gate(path: Path, scan: Callable[..., Any], scans: list[dict[str, Any]]) -> float:
    def recording(read_chunks: Callable[[], Any], bounds: Any) -> Any:
        result = scan(read_chunks, bounds)
        scans.append(dataclasses.asdict(result))
        return result

    container.scan_sheet_exactly_if_needed = recording   # the gate looks the function up at call time
    limits = load_rules(None).limits
    start = time.perf_counter()
    inspect_file(path, limits, role="orders")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_scanner", type=Path)
    parser.add_argument("files", type=Path, nargs="*")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    files = args.files or [BENCH / "orders.xlsx", BENCH / "memberships.xlsx"]
    versions = {"old": load_scanner(args.old_scanner).scan_sheet_exactly_if_needed,
                "new": container.scan_sheet_exactly_if_needed}
    for path in files:
        times: dict[str, list[float]] = {name: [] for name in versions}
        scans: dict[str, list[dict[str, Any]]] = {name: [] for name in versions}
        for _ in range(args.runs):
            for name, scan in versions.items():
                times[name].append(timed_gate(path, scan, scans[name]))
        old, new = (statistics.median(times[name]) for name in versions)
        same = scans["old"] == scans["new"]
        print(f"{path.name}: old {old:.2f} s, new {new:.2f} s (medians of {args.runs}, interleaved), "
              f"{old / new:.2f}x; same scans: {same}")
        if not same:
            raise SystemExit("the two scanners disagree")
    container.scan_sheet_exactly_if_needed = versions["new"]


if __name__ == "__main__":
    main()
