"""Run a whole job in an isolated worker process and commit its outputs atomically.

python-calamine can abort the process (SIGABRT) on hostile workbooks that slip
past the safety gate; Python cannot catch that. The job therefore runs in a
forked child: if the child dies while parsing a file, the parent turns that into
a clear bad-input error naming the file, instead of dying with it.

Outputs are written to a staging folder inside `out_dir` and moved into place
only when the run succeeds (report.json last). On any error, stale outputs from
an earlier run are removed and only error.json is left.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from .errors import InputError
from .isolation import Forked, WorkerDied, crash_error
from .job_protocol import (
    ERROR_NAME,
    FINISHED_PROFILE_NAME,
    HUBSPOT_CSV_STEM,
    HUBSPOT_DELTA_FOLDER,
    HUBSPOT_IMPORT_NAME,
    PROPERTIES_NAME,
    PROPOSAL_JSON,
    PROPOSAL_YAML,
    REPORT_NAME,
    SINCE_FOLDER_KEY,
    STATE_NAME,
    WORKBOOK_NAME,
)
from .rules import Rules, load_rules
from .state_file import PreviousFile, check_previous, read_previous
from .timing import MessageCallback, Progress

# hubspot_import.json (memberseg push) describes the previous run's import, never the new one's.
STALE_PATTERNS = (WORKBOOK_NAME, PROPERTIES_NAME, REPORT_NAME, ERROR_NAME, f"{HUBSPOT_CSV_STEM}*.csv",
                  HUBSPOT_IMPORT_NAME, f"{HUBSPOT_DELTA_FOLDER}/{HUBSPOT_CSV_STEM}*.csv", PROPOSAL_JSON,
                  PROPOSAL_YAML, FINISHED_PROFILE_NAME, STATE_NAME)


@dataclass
class JobOutcome:
    ok: bool
    exit_code: int                      # 0 success, 2 bad input
    report: dict | None = None
    error: dict | None = None
    files: list[str] = field(default_factory=list)


def today_in(zone: str) -> dt.date:
    return dt.datetime.now(ZoneInfo(zone)).date()


def remove_stale_outputs(out_dir: Path) -> None:
    for pattern in STALE_PATTERNS:
        for path in out_dir.glob(pattern):
            path.unlink(missing_ok=True)


def _record_since(report_path: Path, since: Path) -> None:
    report = json.loads(report_path.read_text(encoding="utf-8"))
    report[SINCE_FOLDER_KEY] = str(since.resolve())
    report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def _stage_message(stage: str, info: dict) -> str | None:
    if stage == "parsing":
        return f"reading {info['role']} file {info['file']}"
    if stage == "parsed":
        return None
    return stage


def _job(memberships: Path, orders: Path, staging: Path, rules: Rules, as_of: dt.date, answers: dict | None,
         previous: PreviousFile | None, report: Progress, keep_profile: bool = False) -> list[str]:
    """The whole job: every stage (see `memberseg.pipeline` for its phases), then the outputs. A file no
    profile fits gets one inferred from it, or the job stops to ask (`memberseg.proposal`).

    Both files pass the safety gate and the header check before pandas and numpy are imported,
    so a bad file is refused at once."""
    from .proposal import run_inferring

    result = run_inferring(memberships, orders, rules, as_of, report, answers=answers, previous=previous)
    from .write import write_outputs

    files = write_outputs(result, staging, report)
    if keep_profile:
        files = _with_finished_profile(result.rules, staging, files)
    return files


def _with_finished_profile(rules: Rules, staging: Path, files: list[str]) -> list[str]:
    """A run the answers completed also leaves the finished profile (profile.yaml), before report.json."""
    from .finished_profile import finished_profile, profile_file_text

    body = finished_profile(rules)
    if body is None:
        return files
    (staging / FINISHED_PROFILE_NAME).write_text(profile_file_text(body), encoding="utf-8")
    return [*files[:-1], FINISHED_PROFILE_NAME, files[-1]]


def _run_isolated(memberships: Path, orders: Path, staging: Path, rules: Rules, as_of: dt.date,
                  progress: MessageCallback | None, deadline_s: float | None = None,
                  answers: dict | None = None, previous: PreviousFile | None = None,
                  keep_profile: bool = False) -> list[str]:
    def relay(stage: str, info: dict) -> None:
        message = _stage_message(stage, info)
        if progress and message:
            progress(message)

    # Its own process group, so a timeout or its own death also stops the orders reader it forks.
    target = partial(_job, keep_profile=True) if keep_profile else _job
    job = Forked(target, memberships, orders, staging, rules, as_of, answers, previous, progress=relay,
                 new_process_group=True)
    try:
        return job.result(timeout=engine_timeout(rules, deadline_s))
    except WorkerDied as died:
        error = crash_error(died, [memberships, orders])
        if error is None:
            raise
        raise error from died


def engine_timeout(rules: Rules, deadline_s: float | None) -> float:
    """The rules' limit, or less when the caller (a Lambda function) has less time left."""
    limit = rules.limits.timeout_seconds
    return limit if deadline_s is None else max(0.001, min(limit, deadline_s))


def run_job(memberships: Path, orders: Path, out_dir: Path, *, rules_path: Path | None = None,
            as_of: dt.date | None = None, progress: MessageCallback | None = None,
            isolate: bool = True, deadline_s: float | None = None,
            rules_overlay: dict | None = None, answers: dict | None = None,
            keep_profile: bool = False, profile_sources: Mapping[str, Sequence[str]] | None = None,
            since: Path | None = None, record_since: bool = False) -> JobOutcome:
    """Run the job and leave either the outputs or error.json in `out_dir` (with proposal.json and
    proposal.yaml when the job stops to ask: `needs_answers`). `answers` complete an inferred profile;
    with `keep_profile` the finished profile is one more output, profile.yaml (memberseg.finished_profile).

    `since` is a finished run's output folder whose customer state this run compares with (it may be
    `out_dir` itself: its state is read before the stale outputs go); without it, a first run. With
    `record_since` (the CLI) report.json names that folder, where `memberseg push` finds what HubSpot accepted.

    `deadline_s` caps the isolated worker's time below `limits.timeout_seconds` (the job
    function passes what its invocation has left minus the time to upload and record).

    Bad input returns an outcome with exit_code 2; internal faults raise WorkerFault: WorkerRaised
    when the engine's own code raised (deterministic for these inputs), WorkerDied when the worker
    was killed or ran out of time (or the original exception when `isolate` is False).

    `profile_sources` names the files that wrote each profile when `rules_path` is rules someone
    already merged and checked (the S3 job's effective rules, with the organisation's profile files in
    them): report.json then names those files, not the merged copy.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    previous_data: bytes | InputError | None = None
    if since is not None:
        try:
            previous_data = read_previous(Path(since))
        except InputError as exc:
            previous_data = exc
    remove_stale_outputs(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=".memberseg-staging-", dir=out_dir))
    try:
        try:
            rules = load_rules(rules_path, overlay=rules_overlay)
            if profile_sources is not None:
                rules = rules.with_profile_sources(profile_sources)
            as_of = as_of or today_in(rules.status.timezone)
            previous = None
            if isinstance(previous_data, InputError):
                raise previous_data
            if previous_data is not None:
                check_previous(previous_data, as_of, str(since))
                previous = PreviousFile(previous_data, str(since))
            if isolate:
                files = _run_isolated(Path(memberships), Path(orders), staging, rules, as_of, progress,
                                      deadline_s, answers, previous, keep_profile)
            else:
                files = _job(Path(memberships), Path(orders), staging, rules, as_of, answers, previous,
                             lambda stage, info: None, keep_profile)
        except InputError as exc:
            from .proposal import split_proposal, write_proposal

            error = split_proposal(exc)
            (out_dir / ERROR_NAME).write_text(json.dumps(error, indent=2) + "\n", encoding="utf-8")
            return JobOutcome(ok=False, exit_code=2, error=error, files=[ERROR_NAME, *write_proposal(exc, out_dir)])
        if since is not None and record_since:
            _record_since(staging / REPORT_NAME, Path(since))
        for name in files:  # report.json is last: it marks a complete set
            os.replace(staging / name, out_dir / name)
        report = json.loads((out_dir / REPORT_NAME).read_text(encoding="utf-8"))
        return JobOutcome(ok=True, exit_code=0, report=report, files=files)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
