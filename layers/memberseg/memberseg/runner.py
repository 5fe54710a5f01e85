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
import select
import shutil
import signal
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from .errors import InputError
from .pipeline import PROPERTIES_NAME, REPORT_NAME, WORKBOOK_NAME, run_pipeline, write_outputs
from .rules import Rules, load_rules

ERROR_NAME = "error.json"
STALE_PATTERNS = (WORKBOOK_NAME, PROPERTIES_NAME, REPORT_NAME, ERROR_NAME, "hubspot_contacts*.csv")
ProgressCallback = Callable[[str], None]


@dataclass
class JobOutcome:
    ok: bool
    exit_code: int                      # 0 success, 2 bad input
    report: dict | None = None
    error: dict | None = None
    files: list[str] = field(default_factory=list)


class WorkerFault(RuntimeError):
    """The worker failed for a reason that is not the input's fault (exit 1)."""


def today_in(zone: str) -> dt.date:
    return dt.datetime.now(ZoneInfo(zone)).date()


def remove_stale_outputs(out_dir: Path) -> None:
    for pattern in STALE_PATTERNS:
        for path in out_dir.glob(pattern):
            path.unlink(missing_ok=True)


def _stage_message(stage: str, info: dict) -> str:
    if stage == "parsing":
        return f"reading {info['role']} file {info['file']}"
    return stage


def _child(write_fd: int, memberships: Path, orders: Path, staging: Path, rules: Rules, as_of: dt.date) -> None:
    """Runs in the forked worker; reports over the pipe as JSON lines, then exits without cleanup."""
    def send(message: dict) -> None:
        os.write(write_fd, (json.dumps(message) + "\n").encode())

    code = 0
    try:
        progress = lambda stage, info: send({"stage": stage, **info})  # noqa: E731
        result = run_pipeline(memberships, orders, rules, as_of, progress)
        files = write_outputs(result, staging, progress)
        send({"done": True, "files": files})
    except InputError as exc:
        send({"input_error": exc.to_dict()})
    except BaseException:  # noqa: BLE001 - everything else is an internal fault, reported to the parent
        send({"fault": traceback.format_exc()})
        code = 1
    finally:
        os.close(write_fd)
        os._exit(code)


def _crash_error(last: dict, reason: str) -> InputError:
    file = last.get("file")
    role = last.get("role", "input")
    return InputError(
        "reader_crashed",
        f"The {role} file '{file}' could not be read safely: the spreadsheet reader {reason}. "
        "The file may be damaged or built to exhaust memory; open it in Excel, save a fresh copy and re-upload.",
        file=file,
    )


def _run_isolated(memberships: Path, orders: Path, staging: Path, rules: Rules, as_of: dt.date,
                  progress: ProgressCallback | None) -> list[str]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is the parent's messages
        os.close(read_fd)
        _child(write_fd, memberships, orders, staging, rules, as_of)
    os.close(write_fd)
    deadline = time.monotonic() + rules.limits.timeout_seconds
    buffer = b""
    last_stage: dict = {}
    outcome: dict | None = None
    timed_out = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                os.kill(pid, signal.SIGKILL)
                break
            ready, _, _ = select.select([read_fd], [], [], min(remaining, 1.0))
            if not ready:
                continue
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                message = json.loads(line)
                if "stage" in message:
                    last_stage = message
                    if progress:
                        progress(_stage_message(message["stage"], message))
                else:
                    outcome = message
    finally:
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
    if timed_out:
        if last_stage.get("stage") == "parsing":
            raise _crash_error(last_stage, f"did not finish within {rules.limits.timeout_seconds:g} s")
        raise WorkerFault(f"the run did not finish within {rules.limits.timeout_seconds:g} s "
                          f"(last stage: {last_stage.get('stage', 'starting')})")
    if outcome is None:
        how = (f"was stopped by signal {signal.Signals(os.WTERMSIG(status)).name}" if os.WIFSIGNALED(status)
               else f"exited with status {os.WEXITSTATUS(status)}")
        if last_stage.get("stage") == "parsing":
            raise _crash_error(last_stage, how)
        raise WorkerFault(f"the worker {how} during stage '{last_stage.get('stage', 'starting')}'")
    if "input_error" in outcome:
        raise InputError(**outcome["input_error"]["error"])
    if "fault" in outcome:
        raise WorkerFault(outcome["fault"])
    return outcome["files"]


def run_job(memberships: Path, orders: Path, out_dir: Path, *, rules_path: Path | None = None,
            as_of: dt.date | None = None, progress: ProgressCallback | None = None,
            isolate: bool = True) -> JobOutcome:
    """Run the job and leave either the four outputs or error.json in `out_dir`.

    Bad input returns an outcome with exit_code 2; internal faults raise WorkerFault
    (or the original exception when `isolate` is False).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_outputs(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=".memberseg-staging-", dir=out_dir))
    try:
        try:
            rules = load_rules(rules_path)
            as_of = as_of or today_in(rules.status.timezone)
            if isolate:
                files = _run_isolated(Path(memberships), Path(orders), staging, rules, as_of, progress)
            else:
                result = run_pipeline(Path(memberships), Path(orders), rules, as_of)
                files = write_outputs(result, staging)
        except InputError as exc:
            error = exc.to_dict()
            (out_dir / ERROR_NAME).write_text(json.dumps(error, indent=2) + "\n", encoding="utf-8")
            return JobOutcome(ok=False, exit_code=2, error=error, files=[ERROR_NAME])
        for name in files:  # report.json is last: it marks a complete set
            os.replace(staging / name, out_dir / name)
        report = json.loads((out_dir / REPORT_NAME).read_text(encoding="utf-8"))
        return JobOutcome(ok=True, exit_code=0, report=report, files=files)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
