"""The `memberseg` command line: `memberseg run --memberships PATH --orders PATH --out DIR [--push]`
and `memberseg push DIR [--dry-run] [--force]`.

Exit 0 on success, 2 on bad input (one message on stderr, DIR/error.json), 1 on an internal fault;
`push` also exits 3 when HubSpot imported the files but refused some rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from . import __version__
from .isolation import WorkerFault
from .push_command import push_configuration_problem, run_push
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
    run.add_argument("--push", action="store_true", help="then push the result to HubSpot (see `memberseg push`)")
    push = commands.add_parser("push", help="send a finished run's contacts and properties to HubSpot",
                               description="Token from HUBSPOT_ACCESS_TOKEN (a private app with crm.import, "
                               "crm.schemas.contacts.read, crm.schemas.contacts.write); API base from "
                               "HUBSPOT_API_BASE (default https://api.hubapi.com).")
    push.add_argument("dir", type=Path, help="a finished run's output folder")
    push.add_argument("--dry-run", action="store_true", help="only read from HubSpot, and print the plan")
    push.add_argument("--force", action="store_true", help="import again even if hubspot_import.json says DONE")
    push.add_argument("--deadline", type=float, default=3600, metavar="SECONDS",
                      help="stop waiting for the imports after this long (default 3600); pushing again resumes")
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

    if args.command == "push":
        return run_push(args.dir, dry_run=args.dry_run, force=args.force, deadline_seconds=args.deadline,
                        progress=progress)
    if args.push and (problem := push_configuration_problem()):
        print(f"memberseg push: {problem}", file=sys.stderr)   # before a long run, not after it
        return 2
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
    if args.push:
        return run_push(args.out, dry_run=False, force=False, deadline_seconds=3600, progress=progress)
    return 0
