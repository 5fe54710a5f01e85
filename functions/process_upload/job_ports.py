"""The job flow's ports and its value types: what jobs.py and its modules need from object storage,
the job table and the event bus (storage.py has the AWS adapters, tests/fakes.py in-memory ones),
the settings of one deployment, and the outcome of one delivery.

jobs.py re-exports every name here; the other job modules import them from this module so that
none of them imports jobs.py (the entry points) back.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from memberseg.job_protocol import format_run_id, user_file_name


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    version_id: str | None      # None on an unversioned bucket
    etag: str
    size: int
    last_modified: str          # ISO-8601
    original_name: str = ""     # the user's own name (its metadata, decoded); a listing leaves it ""
    as_of: str = ""             # the as-of date the page chose (its metadata, unchecked); a listing leaves it ""
    upload_token: str = ""      # the API request it came with (its metadata); "" for a plain drop or a listing

    @property
    def name(self) -> str:
        """The name every message, error.json and report.json give this file: the user's own, else the key's."""
        return user_file_name(self.original_name, self.key.rsplit("/", 1)[-1])

    @property
    def identity(self) -> str:
        """What makes this object version unique: the version id, else ETag + time."""
        return self.version_id or f"{self.etag}@{self.last_modified}"

    @property
    def modified_ms(self) -> int:
        return int(dt.datetime.fromisoformat(self.last_modified.replace("Z", "+00:00")).timestamp() * 1000)


class ObjectStore(Protocol):
    def list_latest(self, bucket: str, prefix: str) -> list[ObjectInfo]: ...
    def list_objects(self, bucket: str, prefix: str, limit: int) -> list[ObjectInfo]: ...   # one page, no versions
    def download(self, bucket: str, key: str, version_id: str | None, dest: Path) -> None: ...
    def metadata(self, bucket: str, key: str, version_id: str | None) -> dict[str, str]: ...
    def upload(self, bucket: str, key: str, src: Path, content_type: str) -> None: ...
    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None: ...
    def list_keys(self, bucket: str, prefix: str) -> list[str]: ...
    def delete(self, bucket: str, key: str) -> None: ...


class JobStore(Protocol):
    """The job table (storage.DynamoJobStore; tests/fakes.InMemoryJobStore). Conditions in docs/job-protocol.md."""
    def set_waiting(self, job_id: str, files: dict, missing: list[str], now: float, ttl: int) -> bool: ...
    def claim_run(self, job_id: str, fingerprint: str, *, token: str, now: float, lease_until: float,
                  deadline_at: float, input_seq: int, files: dict, ttl: int,
                  event_id: str | None = None) -> int | None: ...
    def get_run(self, job_id: str, fingerprint: str) -> dict | None: ...
    def record_spent_event(self, job_id: str, fingerprint: str, event_id: str) -> bool: ...
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
    # When Lambda may still start an attempt (template.yaml, the processing function): its last retry starts at
    # most max_event_age_s after it queued the event (EventInvokeConfig.MaximumEventAgeInSeconds) and runs until
    # its timeout (FunctionTimeoutSeconds). The sweeper reads them (SweeperFunction: MAX_EVENT_AGE_SECONDS,
    # FUNCTION_TIMEOUT_SECONDS).
    max_event_age_s: float = 3600.0
    function_timeout_s: float = 900.0
    clock_margin_s: float = 60.0       # Lambda's queue and our clock need not agree to the second
    work_dir: str | None = None        # parent of the per-job temp dir (/tmp in Lambda)
    as_of: dt.date | None = None       # pin "today" (demo, tests); None = today in the rules' timezone

    def ttl(self, now: float) -> int:
        """The items' expires_at for a write at `now`."""
        return int(now + self.retention_days * 86400)

    def retries_over_at(self, first_claimed_at: float) -> float:
        """When no attempt of the event whose first attempt claimed at `first_claimed_at` can still run: Lambda
        queued it before that claim, starts its last retry within max_event_age_s of queueing it, and that
        attempt ends by its timeout."""
        return first_claimed_at + self.max_event_age_s + self.function_timeout_s + self.clock_margin_s


@dataclass
class Deps:
    objects: ObjectStore
    jobs: JobStore
    events: EventPublisher
    run_job: Runner | None = None    # defaults to memberseg.runner.run_job (imported lazily)
    clock: Callable[[], float] = time.time
    logger: logging.Logger | Any = field(default_factory=lambda: logging.getLogger("memberseg.jobs"))
    new_token: Callable[[], str] = lambda: uuid.uuid4().hex


@dataclass(frozen=True)
class Claim:
    """One attempt's hold on the run item RUN#{fingerprint} (job_run.claim): which versions, which
    attempt, the token that proves the hold, and the attempt's clock (started, deadline_at)."""
    job_id: str
    fingerprint: str
    input_seq: int
    attempt: int
    token: str
    ttl: int                # expires_at of every item this attempt writes
    started: float
    deadline_at: float

    @property
    def run_id(self) -> str:
        return format_run_id(self.input_seq, self.fingerprint, self.attempt)


class Action(StrEnum):
    """What one delivery of an event did (Outcome.action; the handler's metrics and log key on it)."""
    IGNORED = "ignored"                        # not a job folder's object, or the folder is empty
    WAITING = "waiting"                        # a file is missing: WAITING_FOR_FILES
    DUPLICATE = "duplicate"                    # another delivery holds the claim, or these versions are committed
    SUPERSEDED = "superseded"                  # newer inputs took the job; this run never commits
    REFUSED = "refused"                        # a replayed upload form's file: never begins, the status untouched
    SUCCEEDED = "succeeded"                    # committed with outputs
    FAILED = "failed"                          # committed with error.json
    COMMITTED_EARLIER = "committed_earlier"    # a retry of a committed run: it sent the pending event


@dataclass
class Outcome:
    action: Action
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
