#!/usr/bin/env python3
"""Benchmark a series of two runs (issue 18): what the second push sends, and the time the diff adds.

    python scripts/series_bench.py [--runs 3] [--changed 0.01] [--rows-scale 1.0]      (make bench)

The first export is the standard bench input (scripts/bench_data.py: 200,000 membership rows, 1,000,000
orders, cached in bench-data/standard/). The second is the same export with a share of its customers
(`--changed`, 1 %) changed: half of them renewed (their latest membership ends a year later), a quarter
gone (their rows removed), and as many new customers (one membership each, started in the last weeks)
as make up the rest. The orders stay as they are, and both runs have the same as-of date, so nothing
else changes between them. The edited file is written to bench-data/standard-series/ (seeded).

Then, each run a fresh `python -m memberseg run` process (scripts/bench.py's run_once):
1. the first export, once: the previous run;
2. the second export `--runs` times without `--since` and `--runs` times with `--since` the first run,
   alternating, so a slow spell of the shared machine falls on both;
3. the push of the second run: the delta plan of `memberseg push` (memberseg.push.delta.plan_delta, no
   network) against the first run's state as the one HubSpot accepted, with its added / changed /
   unchanged / cleared counts; the contacts sent are added + changed + cleared.

It prints the second run's `changes`, the plan, and the median wall time with and without `--since`,
their difference (the time the diff adds), and the medians of the stages the diff touches (report.json's
timings_seconds): reading the previous run's state, segmenting (with the carry-over) and writing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from memberseg.push.delta import AcceptedState, plan_delta, state_rows

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
import bench_data  # noqa: E402

SIZE = "standard"
SERIES_SEED = bench_data.SEED + 18
# The stages the diff touches: the state read, the carry-over (in segmenting: every run carries over, from
# nothing without --since) and the writing (the Changes sheet lists everyone on a first run).
STAGES = ("reading the previous run's state", "segmenting", "writing")
NEW_ID_BASE = 100_000_000          # above every bench customer ID and every unknown order ID


def edited_memberships(data: dict, changed: float, rng: np.random.Generator) -> tuple[dict, dict[str, int]]:
    """The memberships data with `changed` of its customers changed (module docstring), and how many of each."""
    customers = np.unique(data["cust"])
    total = int(round(len(customers) * changed))
    picked = rng.choice(customers, size=total, replace=False)
    renewed, gone = picked[: total // 2], picked[total // 2: total // 2 + total // 4]
    new = total - len(renewed) - len(gone)

    cust, expiration = data["cust"], data["expiration"].copy()
    latest = np.zeros(int(cust.max()) + 1, dtype=expiration.dtype)
    np.maximum.at(latest, cust, expiration)
    expiration[np.isin(cust, renewed) & (expiration == latest[cust])] += bench_data.TERM
    keep = ~np.isin(cust, gone)
    rows = {name: data[name][keep] for name in ("cust", "start", "created", "enrolled", "padded", "blank_email",
                                                 "text_date")}
    rows["expiration"] = expiration[keep]

    first_new = len(data["cust_ids"])
    start = bench_data.REFERENCE - rng.integers(0, 28, new)
    added = {"cust": np.arange(first_new, first_new + new), "start": start, "created": start,
             "expiration": start + bench_data.TERM, "enrolled": np.ones(new, bool), "padded": np.zeros(new, bool),
             "blank_email": np.zeros(new, bool), "text_date": np.zeros(new, bool)}
    edited: dict[str, Any] = {name: np.concatenate([rows[name], added[name]]) for name in rows}
    edited["cust_ids"] = np.concatenate([data["cust_ids"], NEW_ID_BASE + np.arange(new)])
    edited["names"] = [*data["names"], *(f"Series New Member {i} LLC" for i in range(new))]
    edited["emails"] = [*data["emails"], *(f"office@seriesnew{i}.com" for i in range(new))]
    return edited, {"customers": len(customers), "renewed": len(renewed), "gone": len(gone), "new": new}


def second_export(data_root: Path, rows_scale: float, changed: float) -> tuple[Path, Path, Path, dict[str, int]]:
    """The cached first export, and the second memberships file (written unless cached); the change counts."""
    first = data_root / (SIZE if rows_scale == 1.0 else f"{SIZE}-x{rows_scale:g}")
    meta = bench_data.generate(SIZE, first, rows_scale)
    data = bench_data.memberships_data(np.random.default_rng(bench_data.SEED), meta["rows"]["memberships"])
    edited, counts = edited_memberships(data, changed, np.random.default_rng(SERIES_SEED))
    folder = first.parent / f"{first.name}-series"
    folder.mkdir(parents=True, exist_ok=True)
    second, marker = folder / "memberships.xlsx", folder / ".series.json"
    wanted = {"first": meta, "changed": changed, "seed": SERIES_SEED, "counts": counts}
    if not (second.exists() and marker.exists() and json.loads(marker.read_text()) == wanted):
        t0 = time.perf_counter()
        bench_data.write_memberships(second, edited)
        marker.write_text(json.dumps(wanted, indent=2) + "\n")
        print(f"[series] second export written in {time.perf_counter() - t0:.1f} s: {second}", flush=True)
    return first / "memberships.xlsx", first / "orders.xlsx", second, counts


def _timed_run(python: str, memberships: Path, orders: Path, timeout: float, since: Path | None) -> dict[str, Any]:
    result = bench.run_once(python, memberships, orders, timeout, keep=True,
                            extra=("--since", str(since)) if since else ())
    label = "with --since" if since else "without"
    print(f"[series] second run {label}: exit {result['exit']}, {result['wall_s']:.2f} s", flush=True)
    if result["exit"] != 0:
        raise SystemExit(f"[series] a run failed; output kept in {result['dir']}\n{result.get('stderr_tail', '')}")
    out = Path(result["dir"]) / "out"
    result["report"] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    result["out"] = out
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Benchmark a series of two memberseg runs.")
    ap.add_argument("--runs", type=int, default=3, help="runs of the second export, with and without --since each")
    ap.add_argument("--changed", type=float, default=0.01, help="share of the customers changed (default 0.01)")
    ap.add_argument("--python", default=sys.executable, help="interpreter that has memberseg installed")
    ap.add_argument("--data", type=Path, default=bench.ROOT / "bench-data", help="cache folder for the inputs")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds before a run is killed")
    ap.add_argument("--rows-scale", type=float, default=1.0, help="shrink the inputs (for testing the bench)")
    a = ap.parse_args(argv)

    memberships, orders, second, counts = second_export(a.data, a.rows_scale, a.changed)
    print(f"[series] {counts['customers']:,} customers; changed {a.changed:.0%}: {counts['renewed']:,} renewed, "
          f"{counts['gone']:,} gone, {counts['new']:,} new", flush=True)
    first = bench.run_once(a.python, memberships, orders, a.timeout, keep=True)
    if first["exit"] != 0:
        raise SystemExit(f"[series] the first run failed; output kept in {first['dir']}")
    previous = Path(first["dir"]) / "out"
    print(f"[series] first run: {first['wall_s']:.2f} s", flush=True)

    without, with_since = [], []
    for _ in range(a.runs):
        without.append(_timed_run(a.python, second, orders, a.timeout, None))
        with_since.append(_timed_run(a.python, second, orders, a.timeout, previous))
    last = with_since[-1]
    accepted = state_rows(previous)
    if accepted is None:
        raise SystemExit(f"[series] the first run left no state in {previous}")
    report = last["report"]
    files = [last["out"] / name for name in report["hubspot"]["files"]]
    # as if the first run's push had ended DONE with every contact taken
    plan = plan_delta(last["out"], files, previous, AcceptedState.all_taken(accepted))
    if plan is None:
        raise SystemExit("[series] the second run's CSV and state do not line up: no delta plan")

    median_without = statistics.median(r["wall_s"] for r in without)
    median_with = statistics.median(r["wall_s"] for r in with_since)
    sent = plan.counts["added"] + plan.counts["changed"] + plan.counts["cleared"]
    print()
    print(f"[series] second run's changes: {report['changes_summary']}")
    print(f"[series] report.json changes: new {report['changes']['new']:,}, gone {report['changes']['gone']:,}, "
          f"status changed {report['changes']['status_changed']:,}")
    print("[series] second push (delta plan, against the first run as accepted): "
          + ", ".join(f"{plan.counts[kind]:,} {kind}" for kind in ("added", "changed", "unchanged", "cleared")))
    contacts = report["hubspot"]["rows"]
    print(f"[series] contacts the second push sends: {sent:,} of the {contacts + plan.counts['cleared']:,} rows "
          f"of its HubSpot CSV ({contacts:,} contacts + {plan.counts['cleared']:,} cleared)")
    print(f"[series] median wall, {a.runs} runs each: {median_without:.2f} s without --since, "
          f"{median_with:.2f} s with --since")
    print(f"[series] time the diff adds to a run: {median_with - median_without:+.2f} s "
          f"({(median_with - median_without) / median_without:+.1%}) of median wall time")
    for stage in STAGES:
        alone, since = (statistics.median(r["report"]["timings_seconds"].get(stage, 0.0) for r in runs)
                        for runs in (without, with_since))
        print(f"[series]   stage {stage!r} (report.json, median): {alone:.2f} s without, {since:.2f} s with --since")
    for run in [first, *without, *with_since]:
        shutil.rmtree(run["dir"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
