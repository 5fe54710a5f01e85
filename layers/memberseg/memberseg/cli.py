"""The `memberseg` command line: `memberseg run --memberships PATH --orders PATH --out DIR [--since DIR] [--push]`
and `memberseg push DIR [--dry-run] [--force] [--full]`.

`memberseg run ... --answers FILE` completes a profile inferred from a file no profile fits (the
questions of DIR/proposal.json); `memberseg map` asks the same questions on a terminal and writes the
finished profile.

Also `memberseg profiles` (the export formats it reads, packaged and the rules file's own, each with
where it came from), `memberseg rules show [--profile NAME]`
(the effective rules) and `memberseg rules check FILE` (validate a rules file).
Exit 0 on success, 2 on bad input (one message on stderr, DIR/error.json), 1 on an internal fault;
`push` also exits 3 when HubSpot imported the files but refused some rows. A rules file is loaded
within the same bounds as a job folder's (memberseg.rules.bounded: 64 KB, 10 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import yaml

from . import __version__
from .errors import InputError
from .headers import how_chosen
from .isolation import WorkerFault
from .job_protocol import ERROR_NAME
from .rules import Rules, load_rules
from .rules.bounded import load_rules_bounded
from .runner import JobOutcome, remove_stale_outputs, run_job
from .timing import MessageCallback


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
    run.add_argument("--rules", type=Path, help="rules file: only what it changes, merged over the defaults")
    run.add_argument("--memberships-profile", metavar="NAME", help="read the memberships file with this profile")
    run.add_argument("--orders-profile", metavar="NAME", help="read the orders file with this profile")
    run.add_argument("--since", type=Path, metavar="PREVIOUS_OUT_DIR",
                     help="compare with that finished run's customer state (default: a first run, everyone new)")
    run.add_argument("--push", action="store_true", help="then push the result to HubSpot (see `memberseg push`)")
    run.add_argument("--answers", type=Path, metavar="FILE", help='answers to a proposal.json\'s questions: '
                     '{"<question id>": <answer>}')
    mapping = commands.add_parser("map", help="ask the questions about files no profile fits, and write their "
                                  "profile (a rules file)")
    mapping.add_argument("--memberships", required=True, type=Path)
    mapping.add_argument("--orders", required=True, type=Path)
    mapping.add_argument("--name", required=True, help="the new profile's name (lowercase letters, digits, _)")
    mapping.add_argument("--out", type=Path, help="the profile file to write (default NAME.yaml)")
    mapping.add_argument("--rules", type=Path, help="rules file whose profiles count as known")
    profiles = commands.add_parser("profiles", help="list the export formats memberseg recognises, and where "
                                   "each profile came from")
    profiles.add_argument("--rules", type=Path, help="rules file whose profile changes and own profiles apply")
    rules = commands.add_parser("rules", help="show the effective rules or check a rules file")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True)
    show = rules_commands.add_parser("show", help="print the effective rules (defaults + --rules) as YAML")
    show.add_argument("--rules", type=Path, help="rules file to merge over the defaults")
    show.add_argument("--profile", metavar="NAME", help="also print this profile, with the rules' changes")
    check = rules_commands.add_parser("check", help="validate a rules file")
    check.add_argument("file", type=Path)
    push = commands.add_parser("push", help="send a finished run's contacts and properties to HubSpot",
                               description="Token from HUBSPOT_ACCESS_TOKEN (a private app with crm.import, "
                               "crm.schemas.contacts.read, crm.schemas.contacts.write); API base from "
                               "HUBSPOT_API_BASE (default https://api.hubapi.com).")
    push.add_argument("dir", type=Path, help="a finished run's output folder")
    push.add_argument("--dry-run", action="store_true", help="only read from HubSpot, and print the plan")
    push.add_argument("--force", action="store_true", help="import again even if hubspot_import.json says DONE")
    push.add_argument("--full", action="store_true",
                      help="send every contact, not only those changed since the push of the run's --since folder")
    push.add_argument("--deadline", type=float, default=3600, metavar="SECONDS",
                      help="stop waiting for the imports after this long (default 3600); pushing again resumes")
    return parser


def profiles_table(rules: Rules) -> str:
    """One line per profile: name, the files it reads, where it came from and what it is."""
    rows = [(profile.name, "+".join(profile.roles()), rules.profile_origin(profile.name), profile.title)
            for profile in rules.catalog.values()]
    width = max(len(name) for name, _, _, _ in rows)
    roles = max(len(role) for _, role, _, _ in rows)
    origins = max(len(origin) for _, _, origin, _ in rows)
    lines = [f"{'profile':<{width}}  {'reads':<{roles}}  {'from':<{origins}}  format"]
    lines += [f"{name:<{width}}  {role:<{roles}}  {origin:<{origins}}  {title}" for name, role, origin, title in rows]
    return "\n".join(lines)


def _user_rules(path: Path | None) -> Rules:
    """The defaults, or a rules file given on the command line, loaded within bounds."""
    return load_rules() if path is None else load_rules_bounded(path)


def _rules_command(args: argparse.Namespace) -> int:
    try:
        if args.command == "profiles":
            print(profiles_table(_user_rules(args.rules)))
        elif args.rules_command == "check":
            rules = _user_rules(args.file)
            print(f"memberseg: {args.file} is valid ({len(rules.segments)} segments, rules digest {rules.digest})")
        else:
            rules = _user_rules(args.rules)
            data = rules.model_dump(mode="json")
            if args.profile:
                if args.profile not in rules.catalog:
                    raise InputError("unknown_profile", f"There is no profile named '{args.profile}'. Known "
                                     f"profiles: {', '.join(rules.catalog)}.")
                data = {"rules": data, "profile": rules.catalog[args.profile].model_dump(mode="json")}
            print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="")
    except InputError as exc:
        print(f"memberseg: {exc.message}", file=sys.stderr)
        return 2
    return 0


def _overlay(args: argparse.Namespace) -> dict:
    """--memberships-profile / --orders-profile, as a rules change."""
    inputs = {}
    for role, name in (("memberships", args.memberships_profile), ("orders", args.orders_profile)):
        if name:
            inputs[role] = {"profile": name}
    return {"inputs": inputs} if inputs else {}


def _input_lines(report: dict) -> list[str]:
    lines = []
    inputs = report.get("inputs", {})
    if inputs.get("swapped"):
        lines.append(f"  swapped:     {inputs.get('swapped_reason')}")
    for role, info in inputs.items():
        profile = info.get("profile") if isinstance(info, dict) else None
        if not profile:
            continue
        how = how_chosen(profile, "by ")
        locale = f"dates {info.get('date_order')}"
        if "decimal_separator" in info:
            locale += f", decimal '{info['decimal_separator']}'"
        lines.append(f"  {role + ':':<13}{info['file']}: profile {profile['name']} ({how}); {locale}")
    return lines


def format_summary(report: dict, out_dir: Path) -> str:
    m, o, h = report["memberships"], report["orders"], report["hubspot"]
    lines = [
        f"memberseg: as of {report['as_of']}",
        *_input_lines(report),
        f"  memberships: {m['rows_in']:,} rows in -> {m['kept']:,} customers, "
        f"{m['consolidated']:,} consolidated, {m['rejected']:,} rejected"
        + (f", {m['excluded']:,} excluded" if m.get("excluded") else ""),
        f"  orders:      {o['rows_in']:,} rows in -> {o['matched']:,} matched, {o['unmatched']:,} without membership, "
        f"{o['rejected']:,} rejected" + (f", {o['excluded']:,} excluded" if o.get("excluded") else "")
        + (f" (joined on {o['join_key']['key']})" if o.get("join_key", {}).get("key", "customer_id") != "customer_id"
           else ""),
        "  status:      " + ", ".join(f"{label} {count:,}" for label, count in report["status_counts"].items()),
        "  segments:",
    ]
    width = max((len(name) for name in report["segment_counts"]), default=0)
    lines += [f"    {name:<{width}}  {count:>8,}" for name, count in report["segment_counts"].items()]
    lines.append(f"  hubspot:     {h['rows']:,} contacts, {h['left_out']:,} left out (see Needs Attention)"
                 + (f", {h['cleared']:,} no longer in the export (flags cleared)" if h.get("cleared") else ""))
    if "changes_summary" in report:
        lines.append(f"  changes:     {report['changes_summary']}")
    lines.append(f"  outputs in {out_dir}/: " + ", ".join(report["outputs"]))
    return "\n".join(lines)


def _refused_rules(out_dir: Path, error: InputError) -> int:
    """A --rules file refused before the run: the run's bad-input contract (exit 2, one message,
    error.json and no stale outputs in DIR)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_outputs(out_dir)
    (out_dir / ERROR_NAME).write_text(json.dumps(error.to_dict(), indent=2) + "\n", encoding="utf-8")
    print(f"memberseg: {error.message}", file=sys.stderr)
    return 2


def _push_configuration_problem() -> str | None:
    from .push.command import push_configuration_problem  # here, not at the top: see main
    return push_configuration_problem()


def _map(args: argparse.Namespace) -> int:
    """`memberseg map`: the questions on the terminal, the finished profile in a file."""
    from .mapping import run_map

    try:
        return run_map(args.memberships, args.orders, args.name, args.out, _user_rules(args.rules))
    except InputError as exc:
        print(f"memberseg: {exc.message}", file=sys.stderr)
        return 2
    except EOFError:
        print("memberseg map: no answer (end of input); nothing written", file=sys.stderr)
        return 2


def load_answers(path: Path) -> dict:
    """An answers file: a JSON object of question id -> answer."""
    try:
        answers = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InputError("invalid_answers", f"The answers file {path} cannot be read: {exc.strerror}.",
                         file=path.name) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError("invalid_answers", f"The answers file {path} is not JSON: {exc}.", file=path.name) from exc
    if not isinstance(answers, dict):
        raise InputError("invalid_answers", f"The answers file {path} must hold an object: "
                         '{"<question id>": <answer>, ...}.', file=path.name)
    return answers


def _run(args: argparse.Namespace, progress: MessageCallback) -> int:
    """`memberseg run` without the push: the summary on stdout and 0, or the failure's exit code."""
    try:
        if args.rules is not None:
            _user_rules(args.rules)         # bounded here, so the run's own load of it is quick
        answers = load_answers(args.answers) if args.answers is not None else None
    except InputError as exc:
        return _refused_rules(args.out, exc)
    try:
        outcome: JobOutcome = run_job(args.memberships, args.orders, args.out, rules_path=args.rules,
                                      as_of=args.as_of, progress=progress, rules_overlay=_overlay(args),
                                      answers=answers, since=args.since, record_since=True)
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("profiles", "rules"):
        return _rules_command(args)
    if args.command == "map":
        return _map(args)
    interactive = sys.stderr.isatty()
    started = time.perf_counter()

    def progress(message: str) -> None:
        if interactive:
            print(f"[{time.perf_counter() - started:6.1f}s] {message}...", file=sys.stderr, flush=True)

    # The push is imported where it is used: `memberseg run` without --push never loads the HTTP client.
    if args.command == "push":
        from .push.command import run_push
        return run_push(args.dir, dry_run=args.dry_run, force=args.force, deadline_seconds=args.deadline,
                        progress=progress, full=args.full)
    if args.push and (problem := _push_configuration_problem()):
        print(f"memberseg push: {problem}", file=sys.stderr)   # before a long run, not after it
        return 2
    code = _run(args, progress)
    if code or not args.push:
        return code
    from .push.command import run_push
    return run_push(args.out, dry_run=False, force=False, deadline_seconds=3600, progress=progress)
