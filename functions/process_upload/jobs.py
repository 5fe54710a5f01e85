"""Job coordination for S3 uploads: which files make a job, when it runs (exactly
once per set of file versions), where outputs go, and what status/events say.

This module never imports boto3: object storage, the job table and the event bus
are injected (see storage.py for the AWS adapters, tests for in-memory fakes).
The protocol is documented in docs/job-protocol.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

SUPPORTED_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".csv")
RULES_NAMES = ("rules.yaml", "rules.yml", "rules.toml")
ROLES = ("memberships", "orders")
REPORT_NAME = "report.json"
ERROR_NAME = "error.json"
EVENT_SOURCE = "memberseg.jobs"
SUCCEEDED_DETAIL_TYPE = "Segmentation Job Succeeded"
FAILED_DETAIL_TYPE = "Segmentation Job Failed"

# job / run states
WAITING_FOR_FILES = "WAITING_FOR_FILES"
PROCESSING = "PROCESSING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
RETRYING = "RETRYING"
SUPERSEDED = "SUPERSEDED"

CONTENT_TYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
}


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


class ObjectStore(Protocol):
    def list_latest(self, bucket: str, prefix: str) -> list[ObjectInfo]: ...
    def download(self, bucket: str, key: str, version_id: str | None, dest: Path) -> None: ...
    def upload(self, bucket: str, key: str, src: Path, content_type: str) -> None: ...
    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None: ...
    def list_keys(self, bucket: str, prefix: str) -> list[str]: ...
    def delete(self, bucket: str, key: str) -> None: ...


class JobStore(Protocol):
    def set_waiting(self, job_id: str, files: dict, missing: list[str], now: float, ttl: int) -> bool: ...
    def claim_run(self, job_id: str, fingerprint: str, *, now: float, lease_until: float,
                  request_id: str, files: dict, ttl: int) -> int | None: ...
    def set_processing(self, job_id: str, fingerprint: str, *, attempt: int, files: dict, claim_seq: int,
                       now: float, output_bucket: str, output_prefix: str, ttl: int) -> bool: ...
    def finish(self, job_id: str, fingerprint: str, *, status: str, now: float, fields: dict, ttl: int) -> bool: ...
    def current_fingerprint(self, job_id: str) -> str | None: ...
    def mark_run(self, job_id: str, fingerprint: str, run_status: str, now: float) -> None: ...


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
    lease_margin_s: float = 15.0
    work_dir: str | None = None      # parent of the per-job temp dir (/tmp in Lambda)
    as_of: dt.date | None = None     # pin "today" (demo, tests); None = today in the rules' timezone


@dataclass
class Deps:
    objects: ObjectStore
    jobs: JobStore
    events: EventPublisher
    run_job: Runner | None = None    # defaults to memberseg.runner.run_job (imported lazily)
    clock: Callable[[], float] = time.time
    logger: logging.Logger | Any = field(default_factory=lambda: logging.getLogger("memberseg.jobs"))


@dataclass
class Outcome:
    action: str                       # ignored | waiting | duplicate | superseded | succeeded | failed
    job_id: str | None = None
    reason: str | None = None
    fingerprint: str | None = None
    attempt: int | None = None
    output_keys: list[str] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    error: dict | None = None
    duration_ms: int | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [], {})}


class JobInputProblem(Exception):
    """A problem with the job folder itself (unknown file name, two orders files)."""

    def __init__(self, code: str, message: str, file: str | None = None):
        super().__init__(message)
        self.error = {"error": {"code": code, "message": message, "file": file}}


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


def classify(name: str) -> str | None:
    """The role of a file name inside a job folder: memberships, orders, rules, or None."""
    if not name or "/" in name:
        return None
    folded = name.casefold()
    if folded in RULES_NAMES:
        return "rules"
    suffix = PurePosixPath(folded).suffix
    for role in ROLES:
        if folded.startswith(role) and suffix in SUPPORTED_EXTENSIONS:
            return role
    return None


def fingerprint_of(objects: list[ObjectInfo]) -> str:
    digest = hashlib.sha256()
    for obj in sorted(objects, key=lambda o: o.key):
        digest.update(f"{obj.key}\0{obj.identity}\n".encode())
    return digest.hexdigest()[:32]


def _file_entry(obj: ObjectInfo) -> dict:
    return {"key": obj.key, "version_id": obj.version_id or "", "size": obj.size}


def _inspect_folder(objects: list[ObjectInfo],
                    prefix: str) -> tuple[dict[str, ObjectInfo], list[str], JobInputProblem | None]:
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
        return files, missing, JobInputProblem(
            "unrecognised_file",
            f"'{name}'{others} is not part of the job protocol: a job folder holds one file whose name "
            f"starts with 'memberships' and one starting with 'orders' ({', '.join(SUPPORTED_EXTENSIONS)}), "
            "plus an optional rules.yaml or rules.toml. Remove it and upload the job again.",
            file=name)
    for role, objs in sorted(by_role.items()):
        if len(objs) > 1:
            names = ", ".join(sorted(o.key[len(prefix):] for o in objs))
            return files, missing, JobInputProblem(
                "ambiguous_file",
                f"The job folder holds more than one {role} file ({names}); keep exactly one and upload again.",
                file=sorted(o.key[len(prefix):] for o in objs)[0])
    return files, missing, None


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


# ----------------------------------------------------------------- the core
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
    prefix = f"{settings.upload_prefix}{job_id}/"
    now = deps.clock()
    ttl = int(now + settings.retention_days * 86400)

    objects = [o for o in deps.objects.list_latest(bucket, prefix) if not o.key.endswith("/")]
    if not objects:
        log.info("job folder is empty (object already gone): nothing to do")
        return Outcome("ignored", job_id=job_id, reason="empty_folder")
    files, missing, problem = _inspect_folder(objects, prefix)
    file_entries = {role: _file_entry(obj) for role, obj in files.items()}

    if problem is None and missing:
        deps.jobs.set_waiting(job_id, file_entries, missing, now, ttl)
        log.info("waiting for files", extra={"missing": missing})
        return Outcome("waiting", job_id=job_id, reason=f"missing {', '.join(missing)}")

    fingerprint = fingerprint_of(objects)
    lease_until = now + remaining_s + settings.lease_margin_s
    attempt = deps.jobs.claim_run(job_id, fingerprint, now=now, lease_until=lease_until,
                                  request_id=request_id, files=file_entries, ttl=ttl)
    if attempt is None:
        log.info("run already claimed for these file versions: duplicate delivery skipped",
                 extra={"fingerprint": fingerprint})
        return Outcome("duplicate", job_id=job_id, fingerprint=fingerprint)
    output_prefix = f"{settings.results_prefix}{job_id}/"
    run = _Run(deps, settings, job_id, fingerprint, attempt, output_prefix, ttl)
    if not deps.jobs.set_processing(job_id, fingerprint, attempt=attempt, files=file_entries,
                                    claim_seq=time.time_ns(), now=now, output_bucket=settings.output_bucket,
                                    output_prefix=output_prefix, ttl=ttl):
        deps.jobs.mark_run(job_id, fingerprint, SUPERSEDED, now)
        log.info("a newer upload already claimed this job: run superseded")
        return Outcome("superseded", job_id=job_id, fingerprint=fingerprint, attempt=attempt)
    log.info("run claimed", extra={"fingerprint": fingerprint, "attempt": attempt, "files": file_entries})

    try:
        if problem is not None:
            return run.fail(problem.error, started=now)
        return run.execute(files, started=now)
    except Exception as exc:
        run.on_fault(exc)
        raise


class _Run:
    def __init__(self, deps: Deps, settings: Settings, job_id: str, fingerprint: str, attempt: int,
                 output_prefix: str, ttl: int):
        self.deps, self.settings = deps, settings
        self.job_id, self.fingerprint, self.attempt = job_id, fingerprint, attempt
        self.output_prefix, self.ttl = output_prefix, ttl
        self.log = deps.logger

    # -- main path
    def execute(self, files: dict[str, ObjectInfo], started: float) -> Outcome:
        run_job = self.deps.run_job
        if run_job is None:
            from memberseg.runner import run_job as engine  # the layer's engine; imported on first use
            run_job = engine
        with tempfile.TemporaryDirectory(prefix="memberseg-job-", dir=self.settings.work_dir) as tmp:
            inputs, out_dir = Path(tmp, "in"), Path(tmp, "out")
            local: dict[str, Path] = {}
            for role, obj in sorted(files.items()):
                name = obj.key.rsplit("/", 1)[-1]
                role_dir = inputs / role          # one folder per role: names never collide
                role_dir.mkdir(parents=True)
                local[role] = role_dir / name
                self.deps.objects.download(self.settings.input_bucket, obj.key, obj.version_id, local[role])
            self.log.info("inputs downloaded", extra={"bytes": sum(o.size for o in files.values())})
            try:
                outcome = run_job(local["memberships"], local["orders"], out_dir,
                                  rules_path=local.get("rules"), as_of=self.settings.as_of,
                                  progress=lambda stage: self.log.info("engine stage", extra={"stage": stage}))
            except Exception as exc:
                error = _input_error_dict(exc)
                if error is None:
                    raise
                return self.fail(error, started)
            if not outcome.ok:
                if outcome.exit_code == 2 and outcome.error:
                    return self.fail(outcome.error, started)
                raise RuntimeError(f"engine returned exit code {outcome.exit_code} without an error")
            return self.succeed(out_dir, outcome, files, started)

    def succeed(self, out_dir: Path, outcome: Any, files: dict[str, ObjectInfo], started: float) -> Outcome:
        if self._superseded():
            return Outcome("superseded", job_id=self.job_id, fingerprint=self.fingerprint, attempt=self.attempt)
        objects, bucket = self.deps.objects, self.settings.output_bucket
        names = list(outcome.files)
        if REPORT_NAME in names:               # the commit marker always goes last
            names = [n for n in names if n != REPORT_NAME] + [REPORT_NAME]
        keys = [self.output_prefix + n for n in names]
        existing = set(objects.list_keys(bucket, self.output_prefix))
        report_key = self.output_prefix + REPORT_NAME
        if report_key in existing:             # readers must never pair an old marker with new files
            objects.delete(bucket, report_key)
        for name, key in zip(names[:-1], keys[:-1], strict=True):
            objects.upload(bucket, key, out_dir / name, _content_type(name))
        for stale in sorted(existing - set(keys) - {report_key}):
            objects.delete(bucket, stale)
        objects.upload(bucket, keys[-1], out_dir / names[-1], _content_type(names[-1]))

        counts = counts_from_report(outcome.report or {})
        duration_ms = int((self.deps.clock() - started) * 1000)
        now = self.deps.clock()
        self.deps.jobs.finish(self.job_id, self.fingerprint, status=SUCCEEDED, now=now, ttl=self.ttl,
                              fields={"output_keys": keys, "counts": counts, "duration_ms": duration_ms})
        detail = {
            "job_id": self.job_id, "status": SUCCEEDED, "fingerprint": self.fingerprint,
            "input_bucket": self.settings.input_bucket,
            "inputs": {role: (files[role].key if role in files else None) for role in (*ROLES, "rules")},
            "output_bucket": bucket, "output_prefix": self.output_prefix, "output_keys": keys,
            "report_key": report_key, "counts": counts, "duration_ms": duration_ms,
        }
        self.deps.events.publish(SUCCEEDED_DETAIL_TYPE, detail)
        self.deps.jobs.mark_run(self.job_id, self.fingerprint, SUCCEEDED, now)
        self.log.info("job succeeded", extra={"counts": counts, "duration_ms": duration_ms})
        return Outcome("succeeded", job_id=self.job_id, fingerprint=self.fingerprint, attempt=self.attempt,
                       output_keys=keys, counts=counts, duration_ms=duration_ms)

    def fail(self, error: dict, started: float, *, final_status: str = FAILED) -> Outcome:
        """Bad input (final): only error.json in results/{job_id}/, status FAILED, a Failed event."""
        if self._superseded():
            return Outcome("superseded", job_id=self.job_id, fingerprint=self.fingerprint, attempt=self.attempt)
        objects, bucket = self.deps.objects, self.settings.output_bucket
        error_key = self.output_prefix + ERROR_NAME
        existing = objects.list_keys(bucket, self.output_prefix)
        report_key = self.output_prefix + REPORT_NAME
        for key in sorted(existing, key=lambda k: k != report_key):   # the marker goes first
            if key != error_key:
                objects.delete(bucket, key)
        objects.put_bytes(bucket, error_key, (json.dumps(error, indent=2, ensure_ascii=False) + "\n").encode(),
                          CONTENT_TYPES[".json"])
        duration_ms = int((self.deps.clock() - started) * 1000)
        now = self.deps.clock()
        body = error.get("error", error)
        self.deps.jobs.finish(self.job_id, self.fingerprint, status=FAILED, now=now, ttl=self.ttl,
                              fields={"output_keys": [error_key], "error": body, "duration_ms": duration_ms})
        self.deps.events.publish(FAILED_DETAIL_TYPE, {
            "job_id": self.job_id, "status": FAILED, "fingerprint": self.fingerprint, "error": body,
            "output_bucket": bucket, "output_keys": [error_key], "error_key": error_key,
        })
        self.deps.jobs.mark_run(self.job_id, self.fingerprint, final_status, now)
        self.log.warning("job failed", extra={"error": body})
        return Outcome("failed", job_id=self.job_id, fingerprint=self.fingerprint, attempt=self.attempt,
                       output_keys=[error_key], error=body, duration_ms=duration_ms)

    # -- transient faults
    def on_fault(self, exc: Exception) -> None:
        """Let Lambda retry; on the last attempt record the failure before raising."""
        now = self.deps.clock()
        try:
            if self.attempt >= self.settings.max_attempts:
                self.log.exception("job failed on its last attempt", extra={"attempt": self.attempt})
                self.fail({"error": {"code": "internal_error",
                                     "message": "The job could not be completed because of an internal fault; "
                                                "it was retried and then sent to the failure queue. "
                                                "Upload the files again to retry.",
                                     "file": None}}, now)
            else:
                self.log.exception("transient fault: Lambda will retry", extra={"attempt": self.attempt})
                self.deps.jobs.mark_run(self.job_id, self.fingerprint, RETRYING, now)
        except Exception:  # noqa: BLE001 - the original fault is what Lambda must see
            self.log.exception("could not record the fault")

    def _superseded(self) -> bool:
        current = self.deps.jobs.current_fingerprint(self.job_id)
        if current is not None and current != self.fingerprint:
            self.log.info("a newer upload claimed the job while this run worked: outputs not written",
                          extra={"newer_fingerprint": current})
            self.deps.jobs.mark_run(self.job_id, self.fingerprint, SUPERSEDED, self.deps.clock())
            return True
        return False


def _content_type(name: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")


def _input_error_dict(exc: Exception) -> dict | None:
    """The engine's InputError (bad rules file, bad input raised instead of returned)."""
    try:
        from memberseg.errors import InputError
    except ImportError:  # pragma: no cover - the layer always ships memberseg
        return None
    return exc.to_dict() if isinstance(exc, InputError) else None


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")
