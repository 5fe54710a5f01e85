"""Push one committed run to HubSpot, exactly once (docs/job-protocol.md, "The HubSpot push").

Pure coordination over injected ports (push_storage.py in Lambda, fakes in tests):
1. the status item must still name this run as committed and SUCCEEDED (an older run's late
   event pushes nothing);
2. one conditional write claims the push of that run (`hubspot.run`, a lease): a redelivered
   event finds the claim, or the finished push, and starts no import;
3. the run's outputs are downloaded, with the state and accepted record of the job's last push that
   ended DONE or ROW_ERRORS (the status item's `hubspot_accepted`), and `memberseg.push.push()` sends
   only what changed since then (everything when there is none), with a push token equal to the
   committed run id, so every attempt of this run gives its imports the same names and chooses the
   same rows; a retry whose predecessor died without saving hubspot_import.json seeds a SUBMITTING
   record, and the push looks its imports up by name before it posts anything;
4. hubspot_import.json goes next to the results; a push that ended DONE or ROW_ERRORS keeps its accepted
   record beside the run's state (states/{run_id}.hubspot_accepted.json); `hubspot` (state, counts) and
   the new `hubspot_accepted` go into the status item in one write, then one "HubSpot Import Finished"
   or "HubSpot Import Failed" event.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from memberseg.job_protocol import (
    FINAL_PUSH_STATES,
    HUBSPOT_ACCEPTED_ATTRIBUTE,
    HUBSPOT_FAILED_DETAIL_TYPE,
    HUBSPOT_FINISHED_DETAIL_TYPE,
    HUBSPOT_IMPORT_NAME,
    REPORT_NAME,
    STATE_NAME,
    WORKBOOK_NAME,
    JobStatus,
    PushState,
    accepted_key,
    iso_utc,
    state_key,
)
from memberseg.push import (
    HubSpotClient,
    HubSpotError,
    PushError,
    PushSettings,
    choose_delta,
    counted_errors,
    import_name,
    load_outputs,
    portable_accepted,
    push,
    row_error_text,
    write_delta,
    write_result,
)
from memberseg.push.delta import ACCEPTED_KEY

FIRST_ERROR_LINES = 10      # row errors kept in the status item (all of them are in hubspot_import.json)


class Objects(Protocol):
    def list_keys(self, bucket: str, prefix: str) -> list[str]: ...
    def download(self, bucket: str, key: str, version_id: str | None, dest: Path) -> None: ...
    def upload(self, bucket: str, key: str, src: Path, content_type: str) -> None: ...


class PushStore(Protocol):
    def get_status(self, job_id: str) -> dict | None: ...
    def claim_push(self, job_id: str, *, run_id: str, attempt: int, now: float, lease_until: float) -> bool: ...
    def record_push(self, job_id: str, *, run_id: str, attempt: int, hubspot: dict,
                    accepted: dict | None = None) -> bool: ...
    def mark_published(self, job_id: str, *, run_id: str) -> bool: ...


class Events(Protocol):
    def publish(self, detail_type: str, detail: dict) -> None: ...


@dataclass(frozen=True)
class Settings:
    output_bucket: str
    api_base: str = "https://api.hubapi.com"
    results_prefix: str = "results/"
    max_attempts: int = 3
    margin_s: float = 30.0          # left for writing the result, the status and the event
    work_dir: str | None = None


@dataclass
class Deps:
    objects: Objects
    jobs: PushStore
    events: Events
    token: Callable[[], str]                             # reads the secret; never logged
    client: Callable[[str, str], HubSpotClient]          # (token, api base) -> client
    logger: Any
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


@dataclass
class Outcome:
    action: str                     # pushed | skipped | duplicate | not_committed | retrying
    state: str | None = None
    hubspot: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"action": self.action, "state": self.state, **{k: v for k, v in self.hubspot.items()
                                                               if k in ("created", "updated", "errors")}}


class PushRetry(RuntimeError):
    """A transient fault: the claim was handed back, Lambda's retry resumes the same imports."""


def push_token(run_id: str) -> str:
    """The same for every attempt of one committed run: a retry finds its imports by name."""
    return f"job-run {run_id}"


def summarise(result: dict) -> dict:
    """created / updated / errors over every import of hubspot_import.json, plus the first row errors."""
    created = updated = errors = 0
    first: list[dict] = []
    for entry in result.get("imports", []):
        counters = entry.get("counters") or {}
        created += int(counters.get("CREATED_OBJECTS", 0))
        updated += int(counters.get("UPDATED_OBJECTS", 0))
        errors += counted_errors(entry)
        first += [{"file": entry.get("file"), "line": e.get("line"), "message": row_error_text(e)}
                  for e in entry.get("errors") or []][:FIRST_ERROR_LINES - len(first)]
    delta = result.get("delta") or {}
    return {"created": created, "updated": updated, "errors": errors, "first_errors": first,
            "imports": [{"file": e.get("file"), "import_id": e.get("import_id"), "state": e.get("state")}
                        for e in result.get("imports", [])],
            **({"sent": delta["counts"]} if isinstance(delta.get("counts"), dict) else {})}


def seed_submitting(work: Path, run_id: str, since: Path | None) -> None:
    """A predecessor may have posted imports and died before hubspot_import.json reached S3: record every
    file it would have sent (the same rows: the accepted state is unchanged until this push ends) as
    SUBMITTING under its deterministic name, so the push looks before it posts."""
    outputs = load_outputs(work)
    delta: dict = {}
    plan = choose_delta(replace(outputs, since=since), full=False, count=False).plan if since else None
    if plan is not None:
        if not plan.parts:
            return          # nothing to send: the predecessor posted nothing
        outputs = replace(outputs, files=write_delta(work, plan))
        delta = {"delta": plan.record()}
    token = push_token(run_id)
    write_result(work, {"run_id": outputs.run_id, **delta, "imports": [
        {"file": path.name, "name": import_name(outputs, path.name, token), "import_id": None,
         "state": "SUBMITTING", "counters": {}, "errors": []} for path in outputs.files]})


def accepted_since(deps: Deps, bucket: str, status: dict, run_id: str, work: Path) -> Path | None:
    """A folder holding the state and accepted record of the job's last push that ended DONE or ROW_ERRORS
    (as `memberseg push` reads a --since folder); None when there is none, or its files have expired."""
    pointer = status.get(HUBSPOT_ACCEPTED_ATTRIBUTE) or {}
    keys = (pointer.get("state_key"), pointer.get("record_key"))
    if not all(keys) or pointer.get("run") == run_id:
        return None
    listed = set(deps.objects.list_keys(bucket, str(keys[0]))) | set(deps.objects.list_keys(bucket, str(keys[1])))
    if not all(key in listed for key in keys):
        deps.logger.warning("the last accepted push's state is gone: this push sends every contact",
                            extra={"key": keys[0]})
        return None
    folder = work / "accepted"
    folder.mkdir()
    deps.objects.download(bucket, str(keys[0]), None, folder / STATE_NAME)
    deps.objects.download(bucket, str(keys[1]), None, folder / HUBSPOT_IMPORT_NAME)
    return folder


def keep_accepted(deps: Deps, settings: Settings, bucket: str, job_id: str, run_id: str, work: Path,
                  result: dict) -> dict | None:
    """Upload this push's accepted record beside the run's kept state; the status item's new pointer."""
    record = result.get(ACCEPTED_KEY)
    if not isinstance(record, dict):
        return None
    path = work / "accepted.json"
    path.write_text(json.dumps({ACCEPTED_KEY: portable_accepted(work, record)}, indent=2) + "\n", encoding="utf-8")
    key = accepted_key(job_id, run_id, settings.results_prefix)
    deps.objects.upload(bucket, key, path, "application/json")
    return {"run": run_id, "state_key": state_key(job_id, run_id, settings.results_prefix), "record_key": key}


def handle_job_succeeded(detail: dict, deps: Deps, settings: Settings, *, remaining_s: float) -> Outcome:
    job_id, run_id = str(detail["job_id"]), str(detail["run_id"])
    status = deps.jobs.get_status(job_id)
    if not status or status.get("committed_run") != run_id or status.get("status") != JobStatus.SUCCEEDED:
        deps.logger.info("run is not the committed one; nothing to push", extra={"run_id": run_id})
        return Outcome("not_committed")
    previous = status.get("hubspot") or {}
    if previous.get("run") == run_id and previous.get("state") in FINAL_PUSH_STATES:
        if not previous.get("published"):        # finished, but its event did not go out
            _publish(deps, job_id, run_id, status, previous)
        return Outcome("duplicate", previous.get("state"), previous)
    attempt = int(previous.get("attempt", 0)) + 1 if previous.get("run") == run_id else 1
    now = deps.clock()
    if not deps.jobs.claim_push(job_id, run_id=run_id, attempt=attempt, now=now, lease_until=now + remaining_s):
        deps.logger.info("the push of this run is claimed by another attempt", extra={"run_id": run_id})
        return Outcome("duplicate", previous.get("state"))
    work = Path(tempfile.mkdtemp(prefix="hubspot-push-", dir=settings.work_dir))
    try:
        return _push_claimed(job_id, run_id, attempt, status, work, deps, settings, remaining_s)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _download(deps: Deps, bucket: str, prefix: str, work: Path) -> bool:
    """The committed run's files (not the workbook, nor a sub-folder); True when hubspot_import.json was among
    them."""
    names = [key[len(prefix):] for key in deps.objects.list_keys(bucket, prefix)]
    for name in names:
        if name and "/" not in name and name != WORKBOOK_NAME:
            deps.objects.download(bucket, prefix + name, None, work / name)
    return HUBSPOT_IMPORT_NAME in names


def _push_claimed(job_id: str, run_id: str, attempt: int, status: dict, work: Path, deps: Deps,
                  settings: Settings, remaining_s: float) -> Outcome:
    bucket = status.get("output_bucket") or settings.output_bucket
    prefix = str(status["output_prefix"])
    had_result = _download(deps, bucket, prefix, work)
    report = json.loads((work / REPORT_NAME).read_text(encoding="utf-8"))
    reason = _skip_reason(report.get("hubspot") or {})
    if reason:
        return _finish(deps, job_id, run_id, attempt, status, {"state": PushState.SKIPPED.value, "message": reason})
    try:
        since = accepted_since(deps, bucket, status, run_id, work)
        if attempt > 1 and not had_result:
            seed_submitting(work, run_id, since)
        client = deps.client(deps.token(), settings.api_base)
        outcome = push(work, client, settings=PushSettings(deadline_seconds=max(30.0, remaining_s - settings.margin_s),
                                                           push_token=push_token(run_id)),
                       progress=lambda message: deps.logger.debug(message), sleep=deps.sleep, since=since)
        accepted = keep_accepted(deps, settings, bucket, job_id, run_id, work, outcome.result or {})
    except (PushError, HubSpotError) as exc:
        _save_result(deps, bucket, prefix, work)
        if exc.exit_code == 1 and attempt < settings.max_attempts:
            return _hand_back(deps, job_id, run_id, attempt, exc.message)
        hubspot = {"state": PushState.FAILED.value, "error": {"code": f"exit_{exc.exit_code}", "message": exc.message},
                   **({"result_key": prefix + HUBSPOT_IMPORT_NAME} if (work / HUBSPOT_IMPORT_NAME).is_file() else {})}
        if (work / HUBSPOT_IMPORT_NAME).is_file():
            hubspot.update(summarise(json.loads((work / HUBSPOT_IMPORT_NAME).read_text(encoding="utf-8"))))
        return _finish(deps, job_id, run_id, attempt, status, hubspot)
    except Exception as exc:
        _save_result(deps, bucket, prefix, work)
        if attempt < settings.max_attempts:
            _hand_back(deps, job_id, run_id, attempt, f"internal fault ({type(exc).__name__})")
        deps.logger.exception("push failed on its last attempt")
        hubspot = {"state": PushState.FAILED.value,
                   "error": {"code": "internal_error", "message": "internal fault; see the push function's log"}}
        return _finish(deps, job_id, run_id, attempt, status, hubspot)
    _save_result(deps, bucket, prefix, work)
    state = PushState.DONE if outcome.exit_code == 0 else PushState.ROW_ERRORS
    hubspot = {"state": state.value, "result_key": prefix + HUBSPOT_IMPORT_NAME, **summarise(outcome.result or {})}
    return _finish(deps, job_id, run_id, attempt, status, hubspot, accepted)


def _skip_reason(report_hubspot: dict) -> str | None:
    if report_hubspot.get("push") is False:
        return "Not sent to HubSpot: this job's rules say hubspot.push: false."
    if report_hubspot.get("rows") == 0:
        return "Not sent to HubSpot: no customer has a usable email (see the Needs Attention sheet)."
    return None


def _save_result(deps: Deps, bucket: str, prefix: str, work: Path) -> None:
    path = work / HUBSPOT_IMPORT_NAME
    if path.is_file():
        deps.objects.upload(bucket, prefix + HUBSPOT_IMPORT_NAME, path, "application/json")


def _hand_back(deps: Deps, job_id: str, run_id: str, attempt: int, message: str) -> Outcome:
    deps.jobs.record_push(job_id, run_id=run_id, attempt=attempt,
                          hubspot={"state": PushState.RETRYING.value, "message": message})
    deps.logger.warning("push interrupted; Lambda's retry resumes it", extra={"attempt": attempt})
    raise PushRetry(message)


def _finish(deps: Deps, job_id: str, run_id: str, attempt: int, status: dict, hubspot: dict,
            accepted: dict | None = None) -> Outcome:
    hubspot = {**hubspot, "finished_at": iso_utc(deps.clock()), "published": False}
    # one nested key: LogRecord already has attributes such as `created`
    deps.logger.info("push finished", extra={"hubspot": {k: hubspot.get(k) for k in ("state", "created", "updated",
                                                                                      "errors", "error")}})
    if not deps.jobs.record_push(job_id, run_id=run_id, attempt=attempt, hubspot=hubspot, accepted=accepted):
        deps.logger.warning("the push's claim was taken over; its result is not recorded")
        return Outcome("duplicate", hubspot["state"], hubspot)
    if hubspot["state"] != PushState.SKIPPED:
        _publish(deps, job_id, run_id, status, hubspot)
    return Outcome("skipped" if hubspot["state"] == PushState.SKIPPED else "pushed", hubspot["state"], hubspot)


def _publish(deps: Deps, job_id: str, run_id: str, status: dict, hubspot: dict) -> None:
    failed = hubspot.get("state") == PushState.FAILED
    detail = {"job_id": job_id, "run_id": run_id, "state": hubspot.get("state"),
              "output_bucket": status.get("output_bucket"), "output_prefix": status.get("output_prefix"),
              **{k: hubspot[k] for k in ("created", "updated", "errors", "imports", "result_key", "error")
                 if k in hubspot}}
    deps.events.publish(HUBSPOT_FAILED_DETAIL_TYPE if failed else HUBSPOT_FINISHED_DETAIL_TYPE, detail)
    deps.jobs.mark_published(job_id, run_id=run_id)
