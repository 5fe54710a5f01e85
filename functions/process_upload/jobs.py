"""Job coordination for S3 uploads: which files make a job, which run may publish results,
and how every job ends SUCCEEDED or FAILED under faults, races and retries.

The state machine (docs/job-protocol.md has the prose, the failure table and a timeline):

    list folder ─ missing file ──> WAITING_FOR_FILES
        │ complete
    claim run item RUN#{fingerprint}   short lease, renewed by a heartbeat while the run works
        │ won                                         (lost -> "duplicate"; job_run.claim says when)
    begin: STATUS.active run := this attempt, if no newer inputs were claimed (input_seq)
        │                                             (newer -> "superseded")
    work: download by version, engine (deadline from the remaining time), upload to the
          attempt's own prefix results/{job_id}/runs/{run_id}/
        │
    still current? (re-list the folder)               (no -> release, "superseded")
        │
    COMMIT: one conditional UpdateItem on STATUS (run_id = this attempt): status, output
            prefix and keys, and the outcome event in an outbox attribute
        │
    publish the outbox event, clear it; mark the run item; remove older run folders

Only a committed run is ever visible through the status item, the API and the events.
Everything after the commit is idempotent and never re-runs or deletes the committed run;
a lost publish is redone by the sweeper (sweep.py), which also fails jobs whose attempts
all died.

Where each part lives: the ports, settings and outcomes in job_ports.py (re-exported here), the
job folder in job_folder.py, final errors in job_errors.py, the claim and the run in job_run.py,
the commit and its outbox in job_commit.py; this module keeps the two entry points.

These modules never import boto3: object storage, the job table and the event bus are
injected (storage.py has the AWS adapters, tests/fakes.py in-memory ones).
"""

from __future__ import annotations

from job_errors import FinalError, internal_error
from job_folder import (
    classify,
    file_entries,
    fingerprint_of,
    input_seq_of,
    inspect_folder,
    listing,
    split_key,
)
from job_ports import (
    Action,
    Claim,
    Deps,
    EventPublisher,
    JobStore,
    ObjectInfo,
    ObjectStore,
    Outcome,
    Runner,
    Settings,
)
from job_run import Run, claim, record_final_failure
from memberseg.job_protocol import iso_utc

__all__ = ["Action", "Claim", "Deps", "EventPublisher", "JobStore", "ObjectInfo", "ObjectStore", "Outcome",
           "Runner", "Settings", "classify", "handle_object_created", "iso", "record_dead_event", "split_key"]

iso = iso_utc


# ----------------------------------------------------------------- the entry points
def handle_object_created(bucket: str, key: str, deps: Deps, settings: Settings, *,
                          request_id: str = "local", remaining_s: float = 900.0,
                          event_id: str | None = None) -> Outcome:
    """React to one S3 Object Created notification (key already URL-decoded). `event_id`: the EventBridge
    event's id, which every retry of it carries too (the sweeper matches Lambda's on-failure record to it)."""
    log = deps.logger
    if bucket != settings.input_bucket:
        # defence in depth: the EventBridge rule already filters on the bucket
        log.warning("event for a bucket that is not the input bucket: ignored", extra={"bucket": bucket})
        return Outcome(Action.IGNORED, reason="not_input_bucket")
    parts = split_key(key, settings.upload_prefix)
    if parts is None:
        log.warning("key outside uploads/{job_id}/: ignored", extra={"key": key})
        return Outcome(Action.IGNORED, reason="not_in_job_folder")
    job_id, _ = parts
    started = deps.clock()
    prefix = f"{settings.upload_prefix}{job_id}/"

    objects = listing(deps, bucket, prefix)
    if not objects:
        log.info("job folder is empty (object already gone): nothing to do")
        return Outcome(Action.IGNORED, job_id=job_id, reason="empty_folder")
    files, missing, problem = inspect_folder(objects, prefix)
    entries = file_entries(files)
    if problem is None and missing:
        deps.jobs.set_waiting(job_id, entries, missing, started, settings.ttl(started))
        log.info("waiting for files", extra={"missing": missing})
        return Outcome(Action.WAITING, job_id=job_id, reason=f"missing {', '.join(missing)}")

    fingerprint, input_seq = fingerprint_of(objects), input_seq_of(objects)
    held = claim(deps, settings, job_id=job_id, fingerprint=fingerprint, input_seq=input_seq, now=started,
                 deadline_at=started + remaining_s, files=entries, event_id=event_id)
    if held is None:
        log.info("run already claimed for these file versions: duplicate delivery skipped",
                 extra={"fingerprint": fingerprint})
        return Outcome(Action.DUPLICATE, job_id=job_id, fingerprint=fingerprint)
    run = Run(deps, settings, held)
    log.info("run claimed", extra={"fingerprint": fingerprint, "attempt": held.attempt, "run_id": run.run_id})
    return run.go(files, entries, problem)


def record_dead_event(bucket: str, key: str, deps: Deps, settings: Settings, event_id: str | None = None) -> str:
    """An event whose every attempt failed (Lambda's on-failure destination): make sure its job ends.

    Returns "done" when nothing is left to do for this event (the message can go): the folder is
    incomplete (waiting recorded), these versions were committed, or a run item exists: then the
    event's attempts are noted as spent on it (record_spent_event), and the sweeper's run pass ends
    the run once every event that claimed it is spent. Only when every attempt died before its
    claim does this record FAILED itself (job_run.record_final_failure) and return that run's
    Outcome.action.
    """
    parts = split_key(key, settings.upload_prefix) if bucket == settings.input_bucket else None
    if parts is None:
        return "done"
    job_id = parts[0]
    now = deps.clock()
    prefix = f"{settings.upload_prefix}{job_id}/"
    objects = listing(deps, bucket, prefix)
    files, missing, problem = inspect_folder(objects, prefix)
    entries = file_entries(files)
    if not objects or (problem is None and missing):
        if objects:
            deps.jobs.set_waiting(job_id, entries, missing, now, settings.ttl(now))
        return "done"
    fingerprint, input_seq = fingerprint_of(objects), input_seq_of(objects)
    status = deps.jobs.get_status(job_id) or {}
    if status.get("committed_fingerprint") == fingerprint:
        return "done"
    if deps.jobs.get_run(job_id, fingerprint):
        if event_id:
            deps.jobs.record_spent_event(job_id, fingerprint, event_id)
        return "done"
    outcome = record_final_failure(deps, settings, job_id=job_id, fingerprint=fingerprint, input_seq=input_seq,
                                   files=entries, error=FinalError.of(internal_error()), now=now)
    return "done" if outcome is None else outcome.action
