#!/usr/bin/env python3
"""Benchmark `memberseg run` against the seed-style naive pipeline on generated inputs (docs/performance.md).

    python scripts/bench.py                      # standard size: naive once, memberseg 3 runs  (make bench)
    python scripts/bench.py --size excel-max --runs 1 --naive-runs 0                         (make bench-max)
    python scripts/bench.py --size both --runs 5 --json bench.json

In the same invocation, `scripts/naive_pipeline.py` (openpyxl reading, per-group Python loops,
iterrows, openpyxl writing) runs on the same inputs --naive-runs times, and the bench prints the
ratio of the two median wall times: the machine's speed varies between days, a ratio measured in
one run does not.

For each size the inputs are generated once and cached in bench-data/<size>/ (scripts/bench_data.py),
then `python -m memberseg run --memberships ... --orders ... --out <tmp> --as-of 2026-11-15` runs N
times, each as a fresh subprocess. Per run it records:

- wall time, from just before the process is spawned until it has been reaped;
- peak RSS: ru_maxrss from os.wait4() on the CLI process. On Linux the rusage that wait4 returns
  for a child covers the child *and every descendant it waited for* (the kernel fills it with
  RUSAGE_BOTH: the child's own usage plus its cumulative children's), and ru_maxrss is the largest
  RSS of any single process in that tree. The memberseg CLI forks a worker and waits for it, so
  the worker's peak is included. It is a max over processes, not a sum of processes alive at the
  same moment;
- peak tree PSS: as a cross-check of the sum, /proc is sampled every 0.1 s (the process tree is
  re-read every 0.5 s) and the proportional set
  size (smaps_rollup; shared fork pages are split, not double-counted) of the CLI and all its
  descendants is summed; the highest sample is reported. Sampling can miss short spikes.

It prints the median wall time, min/max, the maximum peak RSS over the runs and a markdown table row
for docs/performance.md, and exits non-zero if any run fails or (with --check) misses its target.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_data  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2026-11-15"
TARGETS = {  # seconds (None: no time target), bytes, minimum naive/memberseg ratio (None: not measured)
    "standard": (None, 1 * 1024**3, 12.0),
    "excel-max": (180.0, 4 * 1024**3, None),
}
NAIVE = ROOT / "scripts" / "naive_pipeline.py"


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces/parentheses, so split after the last ')'.
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class TreeSampler(threading.Thread):
    """Peak of the summed PSS of a process and its descendants, sampled."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_kib = pid, interval, 0
        self._halt = threading.Event()

    def run(self) -> None:
        if not os.path.exists("/proc/self/smaps_rollup"):
            return
        tree: list[int] = [self.pid]
        last_scan = 0.0
        while not self._halt.is_set():
            now = time.monotonic()
            if now - last_scan >= 0.5:          # rescanning /proc is the costly part; do it less often
                last_scan = now
                kids = _children_map()
                tree, todo = [], [self.pid]
                while todo:
                    p = todo.pop()
                    tree.append(p)
                    todo.extend(kids.get(p, []))
            self.peak_kib = max(self.peak_kib, sum(_pss_kib(p) for p in tree))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def run_once(python: str, memberships: Path, orders: Path, timeout: float, keep: bool, naive: bool = False,
             extra: Sequence[str] = ()) -> dict:
    """One run in a fresh process (its outputs in <dir>/out, kept with `keep`); `extra`: more arguments."""
    out = Path(tempfile.mkdtemp(prefix="memberseg-bench-"))
    program = [str(NAIVE)] if naive else ["-m", "memberseg", "run"]
    cmd = [python, *program, "--memberships", str(memberships), "--orders", str(orders),
           "--out", str(out / "out"), "--as-of", AS_OF, *extra]
    log_out, log_err = open(out / "stdout.txt", "wb"), open(out / "stderr.txt", "wb")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log_out, stderr=log_err, stdin=subprocess.DEVNULL,  # noqa: S603 - our argv
                            cwd=ROOT)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)   # reap ourselves to get the child's rusage
    finally:
        timer.cancel()
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.stop()
    log_out.close()
    log_err.close()
    result = {"exit": proc.returncode, "wall_s": wall, "maxrss_bytes": usage.ru_maxrss * 1024,
              "tree_pss_bytes": sampler.peak_kib * 1024, "user_s": usage.ru_utime, "sys_s": usage.ru_stime,
              "dir": str(out)}
    if proc.returncode != 0:
        err = (out / "stderr.txt").read_text(errors="replace")[-3000:]
        result["stderr_tail"] = err
    elif not keep:
        shutil.rmtree(out, ignore_errors=True)
        result["dir"] = None
    return result


def mb(n: float) -> str:
    return f"{n / 1024**2:,.0f} MB"


def machine() -> str:
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024**2:.1f} GiB RAM"
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), {mem}, Python {platform.python_version()}, {platform.platform()}"


def _runs(label: str, size: str, runs: int, run: Callable[[], dict]) -> list[dict]:
    results = []
    for i in range(runs):
        r = run()
        results.append(r)
        print(f"[{size}] {label} run {i + 1}/{runs}: exit {r['exit']}, {r['wall_s']:.2f} s, "
              f"peak RSS {mb(r['maxrss_bytes'])}, peak tree PSS {mb(r['tree_pss_bytes'])}", flush=True)
        if r["exit"] != 0:
            print(f"[{size}] {label} run failed; output kept in {r['dir']}\n{r.get('stderr_tail', '')}",
                  file=sys.stderr)
            break
    return results


def bench_size(size: str, runs: int, python: str, data_root: Path, timeout: float, keep: bool,
               rows_scale: float = 1.0, naive_runs: int = 1) -> dict:
    folder = data_root / (size if rows_scale == 1.0 else f"{size}-x{rows_scale:g}")
    t0 = time.perf_counter()
    meta = bench_data.generate(size, folder, rows_scale)
    gen = time.perf_counter() - t0
    rows = meta["rows"]
    print(f"[{size}] inputs ready in {gen:.1f} s: {rows['memberships']:,} membership rows, "
          f"{rows['orders']:,} order rows", flush=True)
    m, o = folder / "memberships.xlsx", folder / "orders.xlsx"
    naive = _runs("naive", size, naive_runs, lambda: run_once(python, m, o, timeout, keep, naive=True))
    results = _runs("memberseg", size, runs, lambda: run_once(python, m, o, timeout, keep))
    walls = [r["wall_s"] for r in results]
    ok = all(r["exit"] == 0 for r in results) and len(results) == runs
    summary = {
        "size": size, "rows": rows, "runs": len(results), "ok": ok,
        "median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls),
        "peak_rss_bytes": max(r["maxrss_bytes"] for r in results),
        "peak_tree_pss_bytes": max(r["tree_pss_bytes"] for r in results),
        "results": results,
    }
    ok = ok and all(r["exit"] == 0 for r in naive) and len(naive) == naive_runs
    summary["ok"] = ok
    if naive:
        summary["naive_median_s"] = statistics.median(r["wall_s"] for r in naive)
        summary["naive_peak_rss_bytes"] = max(r["maxrss_bytes"] for r in naive)
        summary["ratio"] = summary["naive_median_s"] / summary["median_s"]
        summary["naive_results"] = naive
    t_s, t_b, t_ratio = TARGETS[size]
    summary["rows_scale"] = rows_scale
    summary["meets_target"] = (rows_scale == 1.0 and ok and (t_s is None or summary["median_s"] <= t_s)
                               and summary["peak_rss_bytes"] <= t_b
                               and (t_ratio is None or summary.get("ratio", 0.0) >= t_ratio))
    return summary


def _target(size: str) -> str:
    t_s, t_b, t_ratio = TARGETS[size]
    parts = [f"≥ {t_ratio:.0f}×" if t_ratio else "", f"≤ {t_s:.0f} s" if t_s else "", f"≤ {t_b / 1024**3:.0f} GB"]
    return ", ".join(p for p in parts if p)


def table_row(s: dict) -> str:
    verdict = ("FAILED RUN" if not s["ok"] else "n/a (scaled)" if s.get("rows_scale", 1.0) != 1.0
               else "yes" if s["meets_target"] else "no")
    naive = (f"{s['naive_median_s']:.1f} s | {mb(s['naive_peak_rss_bytes'])} | {s['ratio']:.1f}×"
             if "ratio" in s else "— | — | —")
    return (f"| {s['size']} | {s['rows']['memberships']:,} | {s['rows']['orders']:,} | {naive} | {s['runs']} | "
            f"{s['median_s']:.1f} s | {s['min_s']:.1f}–{s['max_s']:.1f} s | {mb(s['peak_rss_bytes'])} | "
            f"{mb(s['peak_tree_pss_bytes'])} | {_target(s['size'])} | {verdict} |")


HEADER = ("| Size | Membership rows | Order rows | Naive median | Naive peak RSS | Ratio | Runs | Median wall | "
          "Min–max wall | Peak RSS | Peak tree PSS (sampled) | Target | Meets target |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Benchmark memberseg run.")
    ap.add_argument("--size", choices=["standard", "excel-max", "both"], default="standard")
    ap.add_argument("--runs", type=int, default=3, help="memberseg runs per size (default 3)")
    ap.add_argument("--naive-runs", type=int, default=1, help="naive pipeline runs per size (default 1; 0: skip)")
    ap.add_argument("--python", default=sys.executable, help="interpreter that has memberseg installed")
    ap.add_argument("--data", type=Path, default=ROOT / "bench-data", help="cache folder for the inputs")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds before a run is killed")
    ap.add_argument("--keep", action="store_true", help="keep each run's output folder")
    ap.add_argument("--json", type=Path, help="also write the full results here")
    ap.add_argument("--rows-scale", type=float, default=1.0, help="shrink the inputs (for testing the bench)")
    ap.add_argument("--check", action="store_true", help="exit 1 if a size misses its target")
    a = ap.parse_args(argv)
    sizes = ["standard", "excel-max"] if a.size == "both" else [a.size]
    print(f"machine: {machine()}", flush=True)
    summaries = [bench_size(s, a.runs, a.python, a.data, a.timeout, a.keep, a.rows_scale, a.naive_runs)
                 for s in sizes]
    print()
    print(HEADER)
    for s in summaries:
        print(table_row(s))
    for s in summaries:
        if "ratio" in s:
            print(f"\n[{s['size']}] naive/memberseg ratio (median wall times, one run): {s['ratio']:.1f}×")
    if a.json:
        a.json.write_text(json.dumps({"machine": machine(), "as_of": AS_OF, "sizes": summaries}, indent=2) + "\n")
    if not all(s["ok"] for s in summaries):
        return 2
    if a.check and not all(s["meets_target"] for s in summaries):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
