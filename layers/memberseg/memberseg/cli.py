"""The `memberseg` command line: `memberseg run --memberships PATH --orders PATH --out DIR`.

Exit 0 on success, 2 on bad input (one message on stderr, DIR/error.json), 1 on an internal fault.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from . import __version__
from .isolation import WorkerFault
from .runner import JobOutcome, run_job


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memberseg", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"memberseg {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="segment a memberships file and an orders file")
    run.add_argument("--memberships", required=True, type=Path, help=".xlsx, .xlsm, .xls or .csv")
    run.add_argument("--orders", required=True, type=Path, help=".xlsx, .xlsm, .xls or .csv")
    run.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    run.add_argument("--as-of", type=_date, help="date to classify against (default: today)")
    run.add_argument("--rules", type=Path, help="rules file replacing the defaults (YAML or TOML)")
    return parser


def format_summary(report: dict, out_dir: Path) -> str:
    m, o, h = report["memberships"], report["orders"], report["hubspot"]
    lines = [
        f"memberseg: as of {report['as_of']}",
        f"  memberships: {m['rows_in']:,} rows in -> {m['kept']:,} customers, "
        f"{m['consolidated']:,} consolidated, {m['rejected']:,} rejected",
        f"  orders:      {o['rows_in']:,} rows in -> {o['matched']:,} matched, {o['unmatched']:,} without membership, "
        f"{o['rejected']:,} rejected",
        "  status:      " + ", ".join(f"{label} {count:,}" for label, count in report["status_counts"].items()),
        "  segments:",
    ]
    width = max((len(name) for name in report["segment_counts"]), default=0)
    lines += [f"    {name:<{width}}  {count:>8,}" for name, count in report["segment_counts"].items()]
    lines.append(f"  hubspot:     {h['rows']:,} contacts, {h['left_out']:,} left out (see Needs Attention)")
    lines.append(f"  outputs in {out_dir}/: " + ", ".join(report["outputs"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    interactive = sys.stderr.isatty()
    started = time.perf_counter()

    def progress(message: str) -> None:
        if interactive:
            print(f"[{time.perf_counter() - started:6.1f}s] {message}...", file=sys.stderr, flush=True)

    try:
        outcome: JobOutcome = run_job(args.memberships, args.orders, args.out, rules_path=args.rules,
                                      as_of=args.as_of, progress=progress)
    except WorkerFault as exc:
        print(f"memberseg: internal error, no outputs written: {str(exc).strip().splitlines()[-1]}",
              file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - last resort: never a traceback for a user
        print(f"memberseg: internal error, no outputs written: {exc}", file=sys.stderr)
        return 1
    if outcome.error is not None or outcome.report is None:
        message = outcome.error["error"]["message"] if outcome.error else "the run left no report"
        print(f"memberseg: {message}", file=sys.stderr)
        return outcome.exit_code or 1
    print(format_summary(outcome.report, args.out))
    return 0
