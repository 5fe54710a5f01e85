"""In-memory fakes for the job flow's ports (job_ports.ObjectStore, JobStore, EventPublisher), a
controlled clock and a fast stand-in engine, so the state machine is unit-tested without moto.

InMemoryJobStore applies the same conditions as storage.DynamoJobStore (docs/job-protocol.md);
tests/integration/test_job_faults.py runs the same flow against moto's DynamoDB.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import jobs
from memberseg.errors import InputError
from memberseg.job_protocol import STATUS_SK, JobStatus, RunStatus, from_item_value, run_sk, to_item_value


def stored(value):
    """A value as DynamoDB gives it back (storage.DynamoJobStore): None left out of maps, numbers as int/float."""
    return from_item_value(to_item_value(copy.deepcopy(value)))


class FakeClock:
    def __init__(self, start: float = 1_900_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class InMemoryObjects:
    """Versioned buckets: (bucket, key) -> [(version_id, data, last_modified_iso)], newest last."""

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.versions: dict[tuple[str, str], list[tuple[str, bytes, float]]] = {}
        self.content_types: dict[tuple[str, str], str] = {}
        self.user_metadata: dict[tuple[str, str, str], dict[str, str]] = {}     # (bucket, key, version)
        self.downloads: list[str] = []
        self.heads: list[tuple[str, str | None]] = []                           # (key, version_id)
        self._ids = itertools.count(1)

    def put(self, bucket: str, key: str, data: bytes, metadata: dict[str, str] | None = None) -> str:
        version = f"v{next(self._ids)}"
        self.versions.setdefault((bucket, key), []).append((version, data, self.clock()))
        self.user_metadata[(bucket, key, version)] = dict(metadata or {})
        return version

    def read(self, bucket: str, key: str) -> bytes:
        return self.versions[(bucket, key)][-1][1]

    def remove(self, bucket: str, key: str) -> None:
        self.versions.pop((bucket, key), None)

    # -- the port
    def list_latest(self, bucket: str, prefix: str) -> list[jobs.ObjectInfo]:
        out = []
        for (b, key), versions in sorted(self.versions.items()):
            if b == bucket and key.startswith(prefix) and versions:
                vid, data, ts = versions[-1]
                out.append(jobs.ObjectInfo(key=key, version_id=vid, etag=hashlib.md5(data).hexdigest(),  # noqa: S324
                                           size=len(data), last_modified=jobs.iso(ts)))
        return out

    def list_objects(self, bucket: str, prefix: str, limit: int) -> list[jobs.ObjectInfo]:
        return self.list_latest(bucket, prefix)[:limit]

    def download(self, bucket: str, key: str, version_id: str | None, dest: Path) -> None:
        self.downloads.append(key)
        versions = self.versions[(bucket, key)]
        data = versions[-1][1] if version_id is None else next(d for v, d, _ in versions if v == version_id)
        dest.write_bytes(data)

    def metadata(self, bucket: str, key: str, version_id: str | None) -> dict[str, str]:
        self.heads.append((key, version_id))
        versions = self.versions[(bucket, key)]
        version = versions[-1][0] if version_id is None else next(v for v, _, _ in versions if v == version_id)
        return dict(self.user_metadata[(bucket, key, version)])

    def upload(self, bucket: str, key: str, src: Path, content_type: str) -> None:
        self.put(bucket, key, src.read_bytes())
        self.content_types[(bucket, key)] = content_type

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        self.put(bucket, key, data)
        self.content_types[(bucket, key)] = content_type

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        return sorted(k for (b, k), v in self.versions.items() if b == bucket and k.startswith(prefix) and v)

    def delete(self, bucket: str, key: str) -> None:
        self.versions.pop((bucket, key), None)


class InMemoryJobStore:
    """The job table, with DynamoDB's per-item atomic conditional writes (one lock)."""

    def __init__(self):
        self.items: dict[tuple[str, str], dict] = {}
        self.lock = threading.RLock()
        self.status_writes: list[tuple[str, str, str | None]] = []     # (job_id, write, status after it)

    def _wrote_status(self, job_id: str, write: str) -> None:
        self.status_writes.append((job_id, write, self.items[(job_id, STATUS_SK)].get("status")))

    def statuses(self, job_id: str) -> list[str | None]:
        """The status after each write to the job's status item, in order."""
        return [status for j, _, status in self.status_writes if j == job_id]

    def _item(self, job_id: str, sk: str) -> dict:
        return self.items.setdefault((job_id, sk), {"job_id": job_id, "sk": sk})

    def _exists(self, job_id: str, sk: str) -> bool:
        return (job_id, sk) in self.items

    def set_waiting(self, job_id, files, missing, now, ttl):
        with self.lock:
            item = self.items.get((job_id, STATUS_SK), {})
            if item.get("status") not in (None, JobStatus.WAITING_FOR_FILES):
                return False
            item = self._item(job_id, STATUS_SK)
            item.setdefault("created_at", jobs.iso(now))
            item.update(status=JobStatus.WAITING_FOR_FILES.value, files=copy.deepcopy(files), missing=list(missing),
                        updated_at=jobs.iso(now), expires_at=ttl)
            self._wrote_status(job_id, "set_waiting")
            return True

    def claim_run(self, job_id, fingerprint, *, token, now, lease_until, deadline_at, input_seq, files, ttl,
                  event_id=None):
        with self.lock:
            sk = run_sk(fingerprint)
            item = self.items.get((job_id, sk))
            # storage.CLAIM_CONDITION: NEW_RUN or RETRY_PENDING or LEASE_EXPIRED
            free = (item is None or item["run_status"] == RunStatus.RETRYING
                    or (item["run_status"] == RunStatus.PROCESSING and item["lease_expires_at"] < now))
            if not free:
                return None
            item = self._item(job_id, sk)
            item.update(run_status=RunStatus.PROCESSING.value, lease_expires_at=lease_until, deadline_at=deadline_at,
                        claimed_at=jobs.iso(now), claim_token=token, input_seq=input_seq, fingerprint=fingerprint,
                        files=copy.deepcopy(files), expires_at=ttl, attempts=item.get("attempts", 0) + 1)
            item.setdefault("first_claimed_at", now)
            if event_id:
                item["claim_events"] = item.get("claim_events", set()) | {event_id}
            return item["attempts"]

    def record_spent_event(self, job_id, fingerprint, event_id):
        with self.lock:
            item = self.items.get((job_id, run_sk(fingerprint)))
            if item is None:
                return False
            item["spent_events"] = item.get("spent_events", set()) | {event_id}
            return True

    def get_run(self, job_id, fingerprint):
        with self.lock:
            item = self.items.get((job_id, run_sk(fingerprint)))
            return copy.deepcopy(item) if item else None

    def heartbeat(self, job_id, fingerprint, *, token, lease_until):
        with self.lock:
            item = self.items.get((job_id, run_sk(fingerprint)))
            if not item or item.get("claim_token") != token or item["run_status"] != RunStatus.PROCESSING:
                return False
            item["lease_expires_at"] = lease_until
            return True

    def mark_run(self, job_id, fingerprint, *, token, run_status, now):
        with self.lock:
            item = self.items.get((job_id, run_sk(fingerprint)))
            if token and (not item or item.get("claim_token") != token):
                return False
            item = self._item(job_id, run_sk(fingerprint))
            item.update(run_status=str(run_status), finished_at=jobs.iso(now))
            return True

    def begin(self, job_id, *, run_id, fingerprint, input_seq, attempt, files, now, output_bucket, ttl):
        with self.lock:
            item = self.items.get((job_id, STATUS_SK), {})
            # storage.BEGIN_CONDITION: (NO_RUN_BEGUN or NOT_OLDER_INPUTS) and NOT_COMMITTED_YET
            if "input_seq" in item and item["input_seq"] > input_seq:
                return False
            if item.get("committed_fingerprint") == fingerprint:
                return False
            item = self._item(job_id, STATUS_SK)
            item.setdefault("created_at", jobs.iso(now))
            item.update(status=JobStatus.PROCESSING.value, run_id=run_id, fingerprint=fingerprint,
                        input_seq=input_seq, attempt=attempt, started_at=jobs.iso(now), updated_at=jobs.iso(now),
                        output_bucket=output_bucket, expires_at=ttl)
            if files:
                item["files"] = copy.deepcopy(files)
            item.pop("missing", None)
            self._wrote_status(job_id, "begin")
            return True

    def commit(self, job_id, *, run_id, fingerprint, input_seq, status, fields, outbox, now, publish_lease_until, ttl):
        with self.lock:
            item = self.items.get((job_id, STATUS_SK), {})
            if item.get("run_id") != run_id:
                return False
            item.pop("counts" if status == JobStatus.FAILED else "error", None)
            item.update(status=status, committed_status=status, committed_run=run_id,
                        committed_fingerprint=fingerprint, committed_seq=input_seq, finished_at=jobs.iso(now),
                        updated_at=jobs.iso(now), outbox=stored(outbox), outbox_lease_until=publish_lease_until,
                        expires_at=ttl, **copy.deepcopy(fields))
            self._wrote_status(job_id, "commit")
            return True

    def release(self, job_id, *, run_id, now):
        with self.lock:
            item = self.items.get((job_id, STATUS_SK), {})
            if item.get("run_id") != run_id:
                return False
            if item.get("committed_run"):
                item.update(status=item.get("committed_status", JobStatus.SUCCEEDED.value),
                            run_id=item["committed_run"], fingerprint=item["committed_fingerprint"])
            else:
                item.pop("run_id")
            item["updated_at"] = jobs.iso(now)
            self._wrote_status(job_id, "release")
            return True

    def take_outbox(self, job_id, *, run_id, now, lease_until):
        with self.lock:
            item = self.items.get((job_id, STATUS_SK), {})
            if item.get("committed_run") != run_id or "outbox" not in item:
                return False
            if item.get("outbox_lease_until", 0) >= now:
                return False
            item["outbox_lease_until"] = lease_until
            self._wrote_status(job_id, "take_outbox")
            return True

    def clear_outbox(self, job_id, *, run_id, now):
        with self.lock:
            item = self.items.get((job_id, STATUS_SK), {})
            if item.get("committed_run") != run_id:
                return False
            item.pop("outbox", None)
            item.pop("outbox_lease_until", None)
            item.update(published_run=run_id, published_at=jobs.iso(now))
            self._wrote_status(job_id, "clear_outbox")
            return True

    def get_status(self, job_id):
        with self.lock:
            item = self.items.get((job_id, STATUS_SK))
            return copy.deepcopy(item) if item else None

    def sweep_candidates(self):
        with self.lock:
            return [copy.deepcopy(i) for i in self.items.values()
                    if i.get("run_status") in (RunStatus.PROCESSING, RunStatus.RETRYING) or "outbox" in i]


@dataclass
class RecordingEvents:
    sent: list[tuple[str, dict]] = field(default_factory=list)
    fail_next: int = 0

    def publish(self, detail_type: str, detail: dict) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("EventBridge unreachable")
        self.sent.append((detail_type, json.loads(json.dumps(detail))))

    def of(self, job_id: str) -> list[tuple[str, dict]]:
        return [(t, d) for t, d in self.sent if d.get("job_id") == job_id]


# ------------------------------------------------------------------ a fast stand-in for memberseg.runner.run_job
@dataclass
class EngineOutcome:
    ok: bool
    exit_code: int
    report: dict | None = None
    error: dict | None = None
    files: list[str] = field(default_factory=list)


ENGINE_OUTPUTS = ["membership_segments.xlsx", "hubspot_contacts.csv", "hubspot_properties.json", "customer_state.csv.gz",
                  "report.json"]


def input_digest(memberships: bytes, orders: bytes) -> str:
    return hashlib.sha256(memberships + b"\0" + orders).hexdigest()[:16]


def fake_engine(memberships: Path, orders: Path, out_dir: Path, **kwargs) -> EngineOutcome:
    """Every output names the digest of the exact inputs it came from, so a mixed set is visible."""
    m, o = Path(memberships).read_bytes(), Path(orders).read_bytes()
    if b"BAD" in m:
        raise InputError("missing_column", "memberships has no Customer ID column.", file=Path(memberships).name)
    digest = input_digest(m, o)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ENGINE_OUTPUTS[:-1]:
        (out_dir / name).write_text(f"{digest}\n")
    report = {"inputs_digest": digest, "memberships": {"rows_in": len(m), "kept": 1}, "orders": {"rows_in": len(o)}}
    (out_dir / "report.json").write_text(json.dumps(report))
    return EngineOutcome(ok=True, exit_code=0, report=report, files=list(ENGINE_OUTPUTS))


# ------------------------------------------------------------------ the HubSpot push's status port
class InMemoryPushStore:
    """push_storage.DynamoPushStore's conditions over plain status items (one lock per write)."""

    def __init__(self, items: dict[str, dict] | None = None):
        self.items = items or {}
        self.lock = threading.RLock()
        self.claims: list[tuple[str, int]] = []

    def get_status(self, job_id):
        with self.lock:
            item = self.items.get(job_id)
            return copy.deepcopy(item) if item else None

    def claim_push(self, job_id, *, run_id, attempt, now, lease_until):
        with self.lock:
            item = self.items.get(job_id)
            if not item or item.get("status") != JobStatus.SUCCEEDED or item.get("committed_run") != run_id:
                return False
            h = item.get("hubspot")
            if h and h.get("run") == run_id and not (h.get("state") == "RETRYING" or (
                    h.get("state") == "PUSHING" and h.get("lease_until", 0) < now)):
                return False
            item["hubspot"] = {"run": run_id, "state": "PUSHING", "attempt": attempt, "lease_until": lease_until}
            self.claims.append((run_id, attempt))
            return True

    def record_push(self, job_id, *, run_id, attempt, hubspot, accepted=None):
        with self.lock:
            h = (self.items.get(job_id) or {}).get("hubspot") or {}
            if h.get("run") != run_id or h.get("attempt") != attempt or h.get("state") != "PUSHING":
                return False
            self.items[job_id]["hubspot"] = {**copy.deepcopy(hubspot), "run": run_id, "attempt": attempt}
            if accepted is not None:
                self.items[job_id]["hubspot_accepted"] = copy.deepcopy(accepted)
            return True

    def mark_published(self, job_id, *, run_id):
        with self.lock:
            h = (self.items.get(job_id) or {}).get("hubspot") or {}
            if h.get("run") != run_id:
                return False
            h["published"] = True
            return True
