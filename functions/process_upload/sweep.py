"""The sweeper: no job stays PROCESSING, no committed outcome event stays unsent.

Runs on a schedule (template.yaml: SweeperFunction, every 5 minutes). For each run item
still PROCESSING or RETRYING whose lease has expired, it ends the run only when no attempt
can still come (`retries_spent`):

- Lambda's on-failure record has arrived for every event whose attempts claimed the run
  (the failure-queue pass below notes them on the run item as spent), or
- the last possible retry's deadline has passed: the first claim + the event's maximum age
  + the function's timeout (Settings.retries_over_at, from the template).

Then it claims the run like a retry would and records a final FAILED through the same commit
as a run: error.json, the status, the Failed event. Code `timeout` when the attempt was alive
until its deadline (its last heartbeat), else `internal_error` (a crash, OOM or lost sandbox).
Until then it waits: an attempt that timed out or died is taken over by Lambda's retry, which
finishes the job.

Status items with an outbox whose publish lease expired get their event sent again.

Messages in the failure queue (Lambda's on-failure destination, the trigger rule's dead-letter
queue) are events whose every attempt failed. If a run item exists, the event's attempts are
noted as spent on it (the run pass ends it); if those attempts all died before they could claim
the run, nothing else would ever finish the job: the sweeper records it FAILED. Then it deletes
the message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote_plus

from job_commit import publish_outbox
from job_errors import FinalError, internal_error, timeout_error
from job_folder import split_key
from job_ports import Action, Deps, Settings
from job_run import record_final_failure
from jobs import record_dead_event
from memberseg.job_protocol import RUN_SK_PREFIX, RunStatus


class DeadLetters(Protocol):
    def receive(self, limit: int) -> list[tuple[str, str]]: ...      # (receipt, body)
    def delete(self, receipt: str) -> None: ...


@dataclass
class SweepReport:
    failed: list[str] = field(default_factory=list)          # job ids marked FAILED now
    published: list[str] = field(default_factory=list)       # job ids whose event was sent now
    waiting: int = 0                                         # dead runs left for Lambda's retry
    dead_events: int = 0                                     # failure-queue messages handled

    @property
    def stuck(self) -> int:
        return len(self.failed)


def sweep(deps: Deps, settings: Settings, *, dead_letters: DeadLetters | None = None,
          max_dead_letters: int = 100) -> SweepReport:
    report = SweepReport()
    if dead_letters is not None:
        _drain_dead_letters(deps, settings, dead_letters, max_dead_letters, report)
    for item in deps.jobs.sweep_candidates():
        try:
            if str(item.get("sk", "")).startswith(RUN_SK_PREFIX):
                _sweep_run(deps, settings, item, report)
            elif item.get("outbox") and publish_outbox(deps, item["job_id"], item, lease_s=settings.lease_s):
                report.published.append(item["job_id"])
        except Exception:  # noqa: BLE001 - one broken job must not stop the sweep of the others
            deps.logger.exception("sweeping a job failed; the next sweep retries", extra={"job_id": item.get("job_id")})
    return report


def _error_for(item: dict) -> FinalError:
    # heartbeats every heartbeat_s < lease_s: a lease that outlived the deadline was renewed until the end
    alive_until_deadline = (item.get("run_status") == RunStatus.PROCESSING
                            and float(item.get("lease_expires_at", 0)) >= float(item.get("deadline_at", 0)))
    return FinalError.of(timeout_error() if alive_until_deadline else internal_error())


def retries_spent(item: dict, settings: Settings, now: float) -> bool:
    """No attempt of the run item's events can come any more: Lambda's on-failure record of every event that
    claimed it has arrived, or the last possible retry's deadline has passed."""
    claimed_by = set(item.get("claim_events") or ())
    if claimed_by and claimed_by <= set(item.get("spent_events") or ()):
        return True
    # an item claimed before first_claimed_at was kept: its lease expiry is later than its first claim
    first_claim = float(item.get("first_claimed_at", item.get("lease_expires_at", 0)))
    return now > settings.retries_over_at(first_claim)


def _sweep_run(deps: Deps, settings: Settings, item: dict, report: SweepReport) -> None:
    now = deps.clock()
    if float(item.get("lease_expires_at", 0)) >= now:
        return                                   # an attempt is alive
    if not retries_spent(item, settings, now):
        report.waiting += 1                      # Lambda may still retry: its retry takes the run over
        return
    job_id, problem = item["job_id"], _error_for(item)
    # a newer run that began holds the status (the commit refuses us); else record it even if inputs changed
    outcome = record_final_failure(deps, settings, job_id=job_id, fingerprint=item["fingerprint"],
                                   input_seq=int(item["input_seq"]), files=item.get("files") or {}, error=problem,
                                   now=now, check_current=False)
    if outcome is None:
        return                                   # a retry took it meanwhile
    deps.logger.warning("swept a job whose attempts all died", extra={"job_id": job_id, "outcome": outcome.action,
                                                                    "code": problem.error["error"]["code"]})
    if outcome.action == Action.FAILED:
        report.failed.append(job_id)


def _event_of(body: str) -> dict | None:
    """The S3 event in a failure-queue message: Lambda's destination record or the raw event."""
    try:
        message: Any = json.loads(body)
    except ValueError:
        return None
    event = message.get("requestPayload", message) if isinstance(message, dict) else None
    return event if isinstance(event, dict) else None


def s3_object_of(body: str) -> tuple[str, str] | None:
    """(bucket, key) of a failure-queue message."""
    detail = (_event_of(body) or {}).get("detail")
    if not isinstance(detail, dict):
        return None
    bucket, key = (detail.get("bucket") or {}).get("name"), (detail.get("object") or {}).get("key")
    return (bucket, unquote_plus(key)) if isinstance(bucket, str) and isinstance(key, str) else None


def event_id_of(body: str) -> str | None:
    """The EventBridge event's id in a failure-queue message (every attempt of that event carried it)."""
    event_id = (_event_of(body) or {}).get("id")
    return event_id if isinstance(event_id, str) and event_id else None


def _drain_dead_letters(deps: Deps, settings: Settings, queue: DeadLetters, limit: int, report: SweepReport) -> None:
    for receipt, body in queue.receive(limit):
        target = s3_object_of(body)
        try:
            action = "done" if target is None else record_dead_event(target[0], target[1], deps, settings,
                                                                     event_id=event_id_of(body))
        except Exception:  # noqa: BLE001 - the message stays; the next sweep tries again
            deps.logger.exception("handling a failure-queue message failed; it stays for the next sweep")
            continue
        if action == Action.FAILED:
            report.failed.append(split_key(target[1], settings.upload_prefix)[0])  # type: ignore[index]
        report.dead_events += 1
        queue.delete(receipt)
