"""Job coordination for S3 uploads: which files make a job, which run may publish results,
and how every job ends SUCCEEDED or FAILED under faults, races and retries.

The state machine (docs/job-protocol.md has the prose, the failure table and a timeline):

    list folder ─ missing file ──> WAITING_FOR_FILES
        │ complete
    claim run item RUN#{fingerprint}   short lease, renewed by a heartbeat while the run works
        │ won                                         (lost -> "duplicate")
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

This module never imports boto3: object storage, the job table and the event bus are
injected (storage.py has the AWS adapters, tests/fakes.py in-memory ones).
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import job_rules
from memberseg.job_protocol import (
    DATA_EXTENSIONS,
    ERROR_NAME,
    FAILED_DETAIL_TYPE,
    REPORT_NAME,
    ROLES,
    SUCCEEDED_DETAIL_TYPE,
    ErrorCode,
    JobStatus,
    RunStatus,
    file_role,
    iso_utc,
    job_results_prefix,
    run_results_prefix,
)

CONTENT_TYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
}
MAX_OUTPUT_FILES = job_rules.MAX_CSV_PARTS + 3
CLEAR_OUTBOX_TRIES = 3


# ----------------------------------------------------------------- adapters (ports)
@dataclass(frozen=True)
class ObjectInfo:
    key: str
    version_id: str | None      # None on an unversioned bucket
    etag: str
    size: int
    last_modified: str          # ISO-8601

    @property
    def identity(self) -> str:
        """What makes this object version unique: the version id, else ETag + time."""
        return self.version_id or f"{self.etag}@{self.last_modified}"

    @property
    def modified_ms(self) -> int:
        return int(dt.datetime.fromisoformat(self.last_modified.replace("Z", "+00:00")).timestamp() * 1000)


class ObjectStore(Protocol):
    def list_latest(self, bucket: str, prefix: str) -> list[ObjectInfo]: ...
    def download(self, bucket: str, key: str, version_id: str | None, dest: Path) -> None: ...
    def upload(self, bucket: str, key: str, src: Path, content_type: str) -> None: ...
    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None: ...
    def list_keys(self, bucket: str, prefix: str) -> list[str]: ...
    def delete(self, bucket: str, key: str) -> None: ...


class JobStore(Protocol):
    """The job table (storage.DynamoJobStore; tests/fakes.InMemoryJobStore). Conditions in docs/job-protocol.md."""
    def set_waiting(self, job_id: str, files: dict, missing: list[str], now: float, ttl: int) -> bool: ...
    def claim_run(self, job_id: str, fingerprint: str, *, token: str, now: float, lease_until: float,
                  deadline_at: float, input_seq: int, files: dict, ttl: int) -> int | None: ...
    def get_run(self, job_id: str, fingerprint: str) -> dict | None: ...
    def heartbeat(self, job_id: str, fingerprint: str, *, token: str, lease_until: float) -> bool: ...
    def mark_run(self, job_id: str, fingerprint: str, *, token: str | None, run_status: str, now: float) -> bool: ...
    def begin(self, job_id: str, *, run_id: str, fingerprint: str, input_seq: int, attempt: int, files: dict,
              now: float, output_bucket: str, ttl: int) -> bool: ...
    def commit(self, job_id: str, *, run_id: str, fingerprint: str, input_seq: int, status: str, fields: dict,
               outbox: dict, now: float, publish_lease_until: float, ttl: int) -> bool: ...
    def release(self, job_id: str, *, run_id: str, now: float) -> bool: ...
    def take_outbox(self, job_id: str, *, run_id: str, now: float, lease_until: float) -> bool: ...
    def clear_outbox(self, job_id: str, *, run_id: str, now: float) -> bool: ...
    def get_status(self, job_id: str) -> dict | None: ...
    def sweep_candidates(self) -> list[dict]: ...


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict) -> None: ...


Runner = Callable[..., Any]   # memberseg.runner.run_job


@dataclass
class Settings:
    input_bucket: str
    output_bucket: str
    upload_prefix: str = "uploads/"
    results_prefix: str = "results/"
    retention_days: int = 30
    max_attempts: int = 3
    lease_s: float = 30.0              # a dead attempt's claim is free after this (< Lambda's 60 s retry delay)
    heartbeat_s: float = 10.0          # the live attempt renews its lease this often
    commit_margin_s: float = 45.0      # time kept back from the engine to upload, commit and publish
    work_dir: str | None = None        # parent of the per-job temp dir (/tmp in Lambda)
    as_of: dt.date | None = None       # pin "today" (demo, tests); None = today in the rules' timezone


@dataclass
class Deps:
    objects: ObjectStore
    jobs: JobStore
    events: EventPublisher
    run_job: Runner | None = None    # defaults to memberseg.runner.run_job (imported lazily)
    clock: Callable[[], float] = time.time
    logger: logging.Logger | Any = field(default_factory=lambda: logging.getLogger("memberseg.jobs"))
    new_token: Callable[[], str] = lambda: uuid.uuid4().hex


@dataclass
class Outcome:
    action: str     # ignored | waiting | duplicate | superseded | succeeded | failed | committed_earlier
    job_id: str | None = None
    reason: str | None = None
    fingerprint: str | None = None
    run_id: str | None = None
    attempt: int | None = None
    output_keys: list[str] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    error: dict | None = None
    duration_ms: int | None = None
    published: bool | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [], {})}


class FinalError(Exception):
    """A deterministic failure of this job: recorded as FAILED with error.json, never retried."""

    def __init__(self, code: str, message: str, file: str | None = None):
        super().__init__(message)
        self.error = {"error": {"code": str(code), "message": message, "file": file}}


# ----------------------------------------------------------------- naming protocol
def split_key(key: str, upload_prefix: str = "uploads/") -> tuple[str, str] | None:
    """`uploads/{job_id}/{name}` -> (job_id, name); None for keys outside any job folder."""
    if not key.startswith(upload_prefix):
        return None
    rest = key[len(upload_prefix):]
    job_id, sep, name = rest.partition("/")
    if not sep or not job_id.strip():
        return None
    return job_id, name


classify = file_role     # the contract's rule (the API uses the same one)


def fingerprint_of(objects: list[ObjectInfo]) -> str:
    digest = hashlib.sha256()
    for obj in sorted(objects, key=lambda o: o.key):
        digest.update(f"{obj.key}\0{obj.identity}\n".encode())
    return digest.hexdigest()[:32]


def input_seq_of(objects: list[ObjectInfo]) -> int:
    """Runs are ordered by their inputs: the newest LastModified (ms) of the set's objects."""
    return max(obj.modified_ms for obj in objects)


def run_id_of(input_seq: int, fingerprint: str, attempt: int) -> str:
    return f"{input_seq:015d}-{fingerprint[:16]}-a{attempt}"


def _file_entry(obj: ObjectInfo) -> dict:
    return {"key": obj.key, "version_id": obj.version_id or "", "size": obj.size}


def _inspect_folder(objects: list[ObjectInfo],
                    prefix: str) -> tuple[dict[str, ObjectInfo], list[str], FinalError | None]:
    """Map roles to objects; report the first folder problem (unknown or ambiguous file)."""
    by_role: dict[str, list[ObjectInfo]] = {}
    unknown: list[str] = []
    for obj in objects:
        name = obj.key[len(prefix):]
        role = classify(name)
        if role is None:
            unknown.append(name)
        else:
            by_role.setdefault(role, []).append(obj)
    files = {role: objs[0] for role, objs in by_role.items()}
    missing = [role for role in ROLES if role not in by_role]
    if unknown:
        name = sorted(unknown)[0]
        others = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        return files, missing, FinalError(
            ErrorCode.UNRECOGNISED_FILE,
            f"'{name}'{others} is not part of the job protocol: a job folder holds one file whose name "
            f"starts with 'memberships' and one starting with 'orders' ({', '.join(DATA_EXTENSIONS)}), "
            "plus an optional rules.yaml or rules.toml. Remove it and upload the job again.",
            file=name)
    for role, objs in sorted(by_role.items()):
        if len(objs) > 1:
            names = sorted(o.key[len(prefix):] for o in objs)
            return files, missing, FinalError(
                ErrorCode.AMBIGUOUS_FILE,
                f"The job folder holds more than one {role} file ({', '.join(names)}); keep exactly one and "
                "upload again.", file=names[0])
    return files, missing, None


def size_problem(files: dict[str, ObjectInfo], max_file_bytes: int) -> FinalError | None:
    """Refuse from the listing, before any download: a rules file over 64 KB, a data file over the limit."""
    rules = files.get("rules")
    if rules is not None and rules.size > job_rules.RULES_MAX_BYTES:
        err = job_rules.rules_too_large(rules.key.rsplit("/", 1)[-1], rules.size)
        return FinalError(err.code, err.message, err.file)
    for role in ROLES:
        obj = files.get(role)
        if obj is not None and obj.size > max_file_bytes:
            name = obj.key.rsplit("/", 1)[-1]
            return FinalError(ErrorCode.FILE_TOO_LARGE,
                              f"The {role} file {name} is {obj.size / 1e6:,.1f} MB; the limit is "
                              f"{max_file_bytes / 1e6:,.0f} MB. Export fewer rows or columns and upload again.",
                              file=name)
    return None


# ----------------------------------------------------------------- report -> counts
def counts_from_report(report: dict) -> dict:
    m = report.get("memberships", {}) or {}
    o = report.get("orders", {}) or {}
    h = report.get("hubspot", {}) or {}
    counts = {
        "rows_in": m.get("rows_in"),
        "customers_out": m.get("kept"),
        "consolidated": m.get("consolidated"),
        "rejected": m.get("rejected"),
        "orders_rows_in": o.get("rows_in"),
        "orders_matched": o.get("matched"),
        "orders_unmatched": o.get("unmatched"),
        "hubspot_rows": h.get("rows"),
        "hubspot_left_out": h.get("left_out"),
        "status_counts": report.get("status_counts"),
        "segment_counts": report.get("segment_counts"),
    }
    return {k: v for k, v in counts.items() if v is not None}


# ----------------------------------------------------------------- the entry point
def handle_object_created(bucket: str, key: str, deps: Deps, settings: Settings, *,
                          request_id: str = "local", remaining_s: float = 900.0) -> Outcome:
    """React to one S3 Object Created notification (key already URL-decoded)."""
    log = deps.logger
    if bucket != settings.input_bucket:
        # defence in depth: the EventBridge rule already filters on the bucket
        log.warning("event for a bucket that is not the input bucket: ignored", extra={"bucket": bucket})
        return Outcome("ignored", reason="not_input_bucket")
    parts = split_key(key, settings.upload_prefix)
    if parts is None:
        log.warning("key outside uploads/{job_id}/: ignored", extra={"key": key})
        return Outcome("ignored", reason="not_in_job_folder")
    job_id, _ = parts
    started = deps.clock()
    prefix = f"{settings.upload_prefix}{job_id}/"
    ttl = int(started + settings.retention_days * 86400)

    objects = _listing(deps, bucket, prefix)
    if not objects:
        log.info("job folder is empty (object already gone): nothing to do")
        return Outcome("ignored", job_id=job_id, reason="empty_folder")
    files, missing, problem = _inspect_folder(objects, prefix)
    file_entries = {role: _file_entry(obj) for role, obj in files.items()}
    if problem is None and missing:
        deps.jobs.set_waiting(job_id, file_entries, missing, started, ttl)
        log.info("waiting for files", extra={"missing": missing})
        return Outcome("waiting", job_id=job_id, reason=f"missing {', '.join(missing)}")

    fingerprint, input_seq = fingerprint_of(objects), input_seq_of(objects)
    token = deps.new_token()
    deadline_at = started + remaining_s
    attempt = claim(deps, settings, job_id, fingerprint, input_seq, token, started, deadline_at, file_entries, ttl)
    if attempt is None:
        log.info("run already claimed for these file versions: duplicate delivery skipped",
                 extra={"fingerprint": fingerprint})
        return Outcome("duplicate", job_id=job_id, fingerprint=fingerprint)
    run = Run(deps, settings, job_id, fingerprint, input_seq, attempt, token, ttl, started, deadline_at)
    log.info("run claimed", extra={"fingerprint": fingerprint, "attempt": attempt, "run_id": run.run_id})
    return run.go(files, file_entries, problem or size_problem(files, job_rules.default_max_file_bytes()))


def record_dead_event(bucket: str, key: str, deps: Deps, settings: Settings) -> str:
    """An event whose every attempt failed (Lambda's on-failure destination): make sure its job ends.

    Returns "done" when nothing is left to do for this event (the message can go): the folder is
    incomplete (waiting recorded), these versions were committed, or a run item exists (the sweeper's
    run pass owns it). Only when every attempt died before its claim does this record FAILED itself.
    """
    parts = split_key(key, settings.upload_prefix) if bucket == settings.input_bucket else None
    if parts is None:
        return "done"
    job_id = parts[0]
    now = deps.clock()
    ttl = int(now + settings.retention_days * 86400)
    prefix = f"{settings.upload_prefix}{job_id}/"
    objects = _listing(deps, bucket, prefix)
    files, missing, problem = _inspect_folder(objects, prefix)
    entries = {role: _file_entry(obj) for role, obj in files.items()}
    if not objects or (problem is None and missing):
        if objects:
            deps.jobs.set_waiting(job_id, entries, missing, now, ttl)
        return "done"
    fingerprint, input_seq = fingerprint_of(objects), input_seq_of(objects)
    status = deps.jobs.get_status(job_id) or {}
    if status.get("committed_fingerprint") == fingerprint or deps.jobs.get_run(job_id, fingerprint):
        return "done"
    token = deps.new_token()
    attempt = claim(deps, settings, job_id, fingerprint, input_seq, token, now, now + 60, entries, ttl)
    if attempt is None:
        return "done"
    run = Run(deps, replace(settings, max_attempts=0), job_id, fingerprint, input_seq, attempt, token, ttl, now,
              now + 60)
    error = internal_error()["error"]
    return run.go({}, entries, FinalError(error["code"], error["message"])).action


def _listing(deps: Deps, bucket: str, prefix: str) -> list[ObjectInfo]:
    return [o for o in deps.objects.list_latest(bucket, prefix) if not o.key.endswith("/")]


def claim(deps: Deps, settings: Settings, job_id: str, fingerprint: str, input_seq: int, token: str, now: float,
          deadline_at: float, files: dict, ttl: int) -> int | None:
    """The exactly-once gate per set of versions. A resent write that already won counts as ours."""
    attempt = deps.jobs.claim_run(job_id, fingerprint, token=token, now=now, lease_until=now + settings.lease_s,
                                  deadline_at=deadline_at, input_seq=input_seq, files=files, ttl=ttl)
    if attempt is not None:
        return attempt
    run = deps.jobs.get_run(job_id, fingerprint) or {}
    if run.get("claim_token") == token:        # botocore resent our applied claim; the resend lost to itself
        deps.logger.info("claim response was lost and resent: the claim is ours")
        return int(run.get("attempts", 1))
    return None


class _Heartbeat:
    """Renews the run item's lease every `interval` seconds while the run works (a thread)."""

    def __init__(self, renew: Callable[[], Any], interval: float, logger: Any):
        self._renew, self._interval, self._log = renew, interval, logger
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease-heartbeat", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._renew()
            except Exception:  # noqa: BLE001 - a missed beat only shortens the lease; the next one may work
                self._log.warning("lease heartbeat failed", exc_info=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class Run:
    def __init__(self, deps: Deps, settings: Settings, job_id: str, fingerprint: str, input_seq: int, attempt: int,
                 token: str, ttl: int, started: float, deadline_at: float):
        self.deps, self.settings, self.log = deps, settings, deps.logger
        self.job_id, self.fingerprint, self.input_seq, self.attempt = job_id, fingerprint, input_seq, attempt
        self.token, self.ttl, self.started, self.deadline_at = token, ttl, started, deadline_at
        self.run_id = run_id_of(input_seq, fingerprint, attempt)
        self.prefix = run_results_prefix(job_id, self.run_id, settings.results_prefix)
        self.check_current = True          # the sweeper records a dead run's failure even if inputs changed

    # -- the whole run, with every bookkeeping write inside the failure handling
    def go(self, files: dict[str, ObjectInfo], file_entries: dict, problem: FinalError | None) -> Outcome:
        try:
            earlier = self._committed_earlier()
            if earlier is not None:
                return earlier
            if not self.deps.jobs.begin(self.job_id, run_id=self.run_id, fingerprint=self.fingerprint,
                                        input_seq=self.input_seq, attempt=self.attempt, files=file_entries,
                                        now=self.deps.clock(), output_bucket=self.settings.output_bucket,
                                        ttl=self.ttl):
                return self._superseded("a newer upload already claimed this job")
            with _Heartbeat(self._renew_lease, self.settings.heartbeat_s, self.log):
                if problem is not None:
                    return self.finish_failed(problem.error)
                return self.execute(files)
        except FinalError as final:
            return self._final(final)
        except Exception as exc:
            self.on_fault(exc, internal_error())
            raise

    def _renew_lease(self) -> None:
        self.deps.jobs.heartbeat(self.job_id, self.fingerprint, token=self.token,
                                 lease_until=self.deps.clock() + self.settings.lease_s)

    def _committed_earlier(self) -> Outcome | None:
        """A retry of a run that had already committed (its response or its marking was lost)."""
        status = self.deps.jobs.get_status(self.job_id) or {}
        if status.get("committed_fingerprint") != self.fingerprint:
            return None
        self.log.info("these file versions were already committed: finishing the bookkeeping only")
        published = True
        if status.get("outbox"):
            published = publish_outbox(self.deps, self.job_id, status, lease_s=self.settings.lease_s)
        final = RunStatus.SUCCEEDED if status.get("status") == JobStatus.SUCCEEDED else RunStatus.FAILED
        self.deps.jobs.mark_run(self.job_id, self.fingerprint, token=self.token, run_status=final,
                                now=self.deps.clock())
        return Outcome("committed_earlier", job_id=self.job_id, fingerprint=self.fingerprint,
                       run_id=status.get("committed_run"), attempt=self.attempt, published=published)

    # -- main path
    def execute(self, files: dict[str, ObjectInfo]) -> Outcome:
        with tempfile.TemporaryDirectory(prefix="memberseg-job-", dir=self.settings.work_dir) as tmp:
            local = self._download(files, Path(tmp, "in"))
            rules_path = None
            if "rules" in local:
                try:
                    rules_path = job_rules.prepare(local["rules"], Path(tmp), self._engine_budget())
                except Exception as exc:
                    _raise_final_if_known(exc, elapsed=0, budget=float("inf"))
                    raise
            outcome = self._run_engine(local, rules_path, Path(tmp, "out"))
            if not outcome.ok:
                return self.finish_failed(outcome.error)
            return self.finish_succeeded(Path(tmp, "out"), outcome, files)

    def _download(self, files: dict[str, ObjectInfo], inputs: Path) -> dict[str, Path]:
        local: dict[str, Path] = {}
        for role, obj in sorted(files.items()):
            role_dir = inputs / role                # one folder per role: names never collide
            role_dir.mkdir(parents=True)
            local[role] = role_dir / obj.key.rsplit("/", 1)[-1]
            try:
                self.deps.objects.download(self.settings.input_bucket, obj.key, obj.version_id, local[role])
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise _too_large(role, obj) from exc
                raise
        self.log.info("inputs downloaded", extra={"bytes": sum(o.size for o in files.values())})
        return local

    def _engine_budget(self) -> float:
        return self.deadline_at - self.deps.clock() - self.settings.commit_margin_s

    def _run_engine(self, local: dict[str, Path], rules_path: Path | None, out_dir: Path) -> Any:
        run_job: Runner | None = self.deps.run_job
        if run_job is None:
            from memberseg import runner  # the layer's engine; imported on first use
            run_job = runner.run_job
        budget = self._engine_budget()
        if budget <= 1:
            raise _timeout(0)
        began = time.monotonic()
        try:
            outcome = run_job(local["memberships"], local["orders"], out_dir, rules_path=rules_path,
                              as_of=self.settings.as_of, deadline_s=budget,
                              progress=lambda stage: self.log.info("engine stage", extra={"stage": stage}))
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise FinalError(ErrorCode.FILE_TOO_LARGE, "The job's files and outputs do not fit in the "
                                 "function's temporary storage. Upload smaller files.") from exc
            raise
        except Exception as exc:
            _raise_final_if_known(exc, elapsed=time.monotonic() - began, budget=budget)
            raise
        if not outcome.ok and not (outcome.exit_code == 2 and outcome.error):
            raise RuntimeError(f"engine returned exit code {outcome.exit_code} without an error")
        return outcome

    # -- the commit
    def finish_succeeded(self, out_dir: Path, outcome: Any, files: dict[str, ObjectInfo]) -> Outcome:
        names = [n for n in outcome.files if n != REPORT_NAME] + [REPORT_NAME]
        if len(names) > MAX_OUTPUT_FILES:
            raise FinalError(ErrorCode.INTERNAL_ERROR, f"The job produced {len(names)} files; at most "
                             f"{MAX_OUTPUT_FILES} are allowed.")
        keys = [self.prefix + n for n in names]
        for name, key in zip(names, keys, strict=True):      # report.json last: a complete set in the run folder
            self.deps.objects.upload(self.settings.output_bucket, key, out_dir / name, _content_type(name))
        counts = counts_from_report(outcome.report or {})
        detail = {
            "job_id": self.job_id, "status": JobStatus.SUCCEEDED.value, "run_id": self.run_id,
            "fingerprint": self.fingerprint, "input_bucket": self.settings.input_bucket,
            "inputs": {role: (files[role].key if role in files else None) for role in (*ROLES, "rules")},
            "output_bucket": self.settings.output_bucket, "output_prefix": self.prefix, "output_keys": keys,
            "report_key": keys[-1], "counts": counts,
        }
        return self._commit(JobStatus.SUCCEEDED, {"output_keys": keys, "counts": counts},
                            SUCCEEDED_DETAIL_TYPE, detail)

    def finish_failed(self, error: dict | None) -> Outcome:
        """Final failure: error.json alone in this run's folder, status FAILED, a Failed event."""
        error = error or {"error": {"code": ErrorCode.INTERNAL_ERROR.value, "message": "The job failed."}}
        key = self.prefix + ERROR_NAME
        self.deps.objects.put_bytes(self.settings.output_bucket, key,
                                    (json.dumps(error, indent=2, ensure_ascii=False) + "\n").encode(),
                                    CONTENT_TYPES[".json"])
        body = error.get("error", error)
        detail = {"job_id": self.job_id, "status": JobStatus.FAILED.value, "run_id": self.run_id,
                  "fingerprint": self.fingerprint, "error": body, "output_bucket": self.settings.output_bucket,
                  "output_prefix": self.prefix, "output_keys": [key], "error_key": key}
        return self._commit(JobStatus.FAILED, {"output_keys": [key], "error": body}, FAILED_DETAIL_TYPE, detail)

    def _commit(self, status: JobStatus, fields: dict, detail_type: str, detail: dict) -> Outcome:
        if self.check_current and not self._still_current():
            self.deps.jobs.release(self.job_id, run_id=self.run_id, now=self.deps.clock())
            return self._superseded("a newer upload arrived while this run worked", cleanup=True)
        now = self.deps.clock()
        duration_ms = int((now - self.started) * 1000)
        detail = {**detail, "duration_ms": duration_ms}
        fields = {**fields, "duration_ms": duration_ms, "output_prefix": self.prefix}
        outbox = {"detail_type": detail_type, "detail": detail}
        if not self._commit_write(status, fields, outbox, now):
            return self._superseded("a newer upload took the job before this run could commit", cleanup=True)
        self.log.info("run committed", extra={"status": str(status), "run_id": self.run_id})
        published = publish_outbox(self.deps, self.job_id, {"committed_run": self.run_id, "outbox": outbox},
                                   lease_s=self.settings.lease_s, already_leased=True)
        self._after_commit(status)
        action = "succeeded" if status == JobStatus.SUCCEEDED else "failed"
        return Outcome(action, job_id=self.job_id, fingerprint=self.fingerprint, run_id=self.run_id,
                       attempt=self.attempt, output_keys=fields["output_keys"], counts=fields.get("counts", {}),
                       error=fields.get("error"), duration_ms=duration_ms, published=published)

    def _commit_write(self, status: JobStatus, fields: dict, outbox: dict, now: float) -> bool:
        def commit() -> bool:
            return self.deps.jobs.commit(self.job_id, run_id=self.run_id, fingerprint=self.fingerprint,
                                         input_seq=self.input_seq, status=str(status), fields=fields, outbox=outbox,
                                         now=now, publish_lease_until=now + 2 * self.settings.lease_s, ttl=self.ttl)

        if commit():
            return True
        current = self.deps.jobs.get_status(self.job_id) or {}
        if current.get("committed_run") == self.run_id:      # our applied commit, resent
            return True
        # A run with the same input_seq (same-second uploads) took the slot: we just re-listed and are current,
        # so take it back once; a strictly newer run keeps it (begin's condition refuses us).
        if int(current.get("input_seq", -1)) == self.input_seq and self._rebegin(now):
            return commit()
        return False

    def _rebegin(self, now: float) -> bool:
        return self.deps.jobs.begin(self.job_id, run_id=self.run_id, fingerprint=self.fingerprint,
                                    input_seq=self.input_seq, attempt=self.attempt, files={}, now=now,
                                    output_bucket=self.settings.output_bucket, ttl=self.ttl)

    def _still_current(self) -> bool:
        prefix = f"{self.settings.upload_prefix}{self.job_id}/"
        return fingerprint_of(_listing(self.deps, self.settings.input_bucket, prefix)) == self.fingerprint

    def _after_commit(self, status: JobStatus) -> None:
        """Idempotent bookkeeping; a fault here never touches the committed run."""
        final = RunStatus.SUCCEEDED if status == JobStatus.SUCCEEDED else RunStatus.FAILED
        try:
            self.deps.jobs.mark_run(self.job_id, self.fingerprint, token=self.token, run_status=final,
                                    now=self.deps.clock())
            remove_older_runs(self.deps, self.settings, self.job_id, self.run_id)
        except Exception:  # noqa: BLE001 - committed; leftovers are cleaned by the next commit and the lifecycle
            self.log.warning("bookkeeping after the commit failed (the result stands)", exc_info=True)

    def _superseded(self, why: str, *, cleanup: bool = False) -> Outcome:
        self.log.info(f"run superseded: {why}")
        self.deps.jobs.mark_run(self.job_id, self.fingerprint, token=self.token, run_status=RunStatus.SUPERSEDED,
                                now=self.deps.clock())
        if cleanup:
            _delete_prefix(self.deps, self.settings.output_bucket, self.prefix)
        return Outcome("superseded", job_id=self.job_id, fingerprint=self.fingerprint, run_id=self.run_id,
                       attempt=self.attempt, reason=why)

    def _final(self, final: FinalError) -> Outcome:
        self.log.warning("final failure", extra={"error": final.error["error"]})
        try:
            return self.finish_failed(final.error)
        except Exception as exc:
            self.on_fault(exc, final.error)
            raise

    # -- transient faults
    def on_fault(self, exc: Exception, error: dict) -> None:
        """Let Lambda retry; on the last attempt record `error`. Never hides the original fault."""
        try:
            if self.attempt >= self.settings.max_attempts:
                self.log.exception("job failed on its last attempt", extra={"attempt": self.attempt})
                self.finish_failed(error)
            else:
                self.log.exception("transient fault: Lambda will retry", extra={"attempt": self.attempt})
                self.deps.jobs.mark_run(self.job_id, self.fingerprint, token=self.token,
                                        run_status=RunStatus.RETRYING, now=self.deps.clock())
        except Exception:  # noqa: BLE001 - the original fault is what Lambda must see; the sweeper finishes
            self.log.exception("could not record the fault (the lease expires; a retry or the sweeper takes over)")


# ----------------------------------------------------------------- shared with the sweeper
def internal_error() -> dict:
    return {"error": {"code": ErrorCode.INTERNAL_ERROR.value,
                      "message": "The job could not be completed because of an internal fault; it was retried "
                                 "and then given up. Upload the files again to retry.", "file": None}}


def timeout_error(limit_s: float | None = None) -> dict:
    limit = f" ({limit_s:,.0f} s)" if limit_s else ""
    return {"error": {"code": ErrorCode.TIMEOUT.value,
                      "message": f"The job took longer than its time limit{limit} and was stopped. "
                                 "Split the export into smaller files, or ask for a longer limit.", "file": None}}


def _timeout(limit_s: float) -> FinalError:
    return FinalError(ErrorCode.TIMEOUT, timeout_error(limit_s)["error"]["message"])


def _too_large(role: str, obj: ObjectInfo) -> FinalError:
    name = obj.key.rsplit("/", 1)[-1]
    return FinalError(ErrorCode.FILE_TOO_LARGE, f"The {role} file {name} ({obj.size / 1e6:,.1f} MB) does not fit "
                      "in the function's temporary storage. Upload a smaller file.", file=name)


def _raise_final_if_known(exc: Exception, *, elapsed: float, budget: float) -> None:
    """The engine's own timeout and input errors it raised are final; anything else may be transient."""
    from memberseg.errors import InputError
    from memberseg.isolation import WorkerDied

    if isinstance(exc, InputError):
        error = exc.to_dict()["error"]
        raise FinalError(error["code"], error["message"], error.get("file")) from exc
    if isinstance(exc, WorkerDied) and ("did not finish within" in str(exc) or elapsed >= budget - 0.5):
        raise _timeout(budget) from exc
    if "[Errno 28]" in str(exc) or "No space left on device" in str(exc):     # ENOSPC inside the worker
        raise FinalError(ErrorCode.FILE_TOO_LARGE, "The job's files and outputs do not fit in the function's "
                         "temporary storage. Upload smaller files.") from exc


def publish_outbox(deps: Deps, job_id: str, status: dict, *, lease_s: float, already_leased: bool = False) -> bool:
    """Send the committed run's outcome event once, then clear the outbox. False: left for the sweeper."""
    run_id, outbox = status.get("committed_run"), status.get("outbox")
    if not run_id or not outbox:
        return True
    now = deps.clock()
    try:
        if not already_leased and not deps.jobs.take_outbox(job_id, run_id=run_id, now=now, lease_until=now + lease_s):
            return False
        deps.events.publish(outbox["detail_type"], outbox["detail"])
    except Exception:  # noqa: BLE001 - committed: the event is retried by the sweeper, never by re-running
        deps.logger.warning("publishing the outcome event failed; the sweeper will retry it", exc_info=True)
        return False
    for _ in range(CLEAR_OUTBOX_TRIES):     # the event went out: a lost flag would mean a second one
        try:
            deps.jobs.clear_outbox(job_id, run_id=run_id, now=deps.clock())
            return True
        except Exception:  # noqa: BLE001 - retried; the worst case is a second event with the same run_id
            deps.logger.warning("the event was sent but the outbox could not be cleared", exc_info=True)
    return True


def remove_older_runs(deps: Deps, settings: Settings, job_id: str, committed_run: str) -> None:
    """Delete the folders of runs with older inputs and of this run's other attempts; never touch a
    folder with the same or newer inputs (a newer upload may be working there)."""
    base = job_results_prefix(job_id, settings.results_prefix) + "runs/"
    seq, fingerprint, _ = committed_run.split("-", 2)
    for key in sorted(deps.objects.list_keys(settings.output_bucket, base)):
        run = key[len(base):].split("/", 1)[0]
        other = run.split("-", 2)
        if run == committed_run or len(other) != 3:
            continue
        if other[0] < seq or (other[0] == seq and other[1] == fingerprint):
            deps.objects.delete(settings.output_bucket, key)


def _delete_prefix(deps: Deps, bucket: str, prefix: str) -> None:
    try:
        for key in deps.objects.list_keys(bucket, prefix):
            deps.objects.delete(bucket, key)
    except Exception:  # noqa: BLE001 - an abandoned run folder is never read; the next commit removes it
        deps.logger.warning("could not remove an abandoned run folder", exc_info=True)


def _content_type(name: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")


iso = iso_utc
