"""How a claimed run ends: it becomes the job's active run (begin), uploads its outputs and
commits them with the outcome event in an outbox (one conditional write on the status item), then
publishes the outbox and cleans up; or it gives way to newer inputs (superseded) and never commits.

Only the commit makes a run visible. Everything after it is idempotent and never re-runs or deletes
the committed run; a lost publish is redone by the sweeper (sweep.py, through publish_outbox).
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

import job_rules
from job_errors import FinalError
from job_folder import classify, file_entry, fingerprint_of, listing, replayed_upload
from job_ports import Action, Claim, Deps, ObjectInfo, Outcome, Settings
from memberseg.job_protocol import (
    ERROR_NAME,
    FAILED_DETAIL_TYPE,
    PROPOSAL_JSON,
    PROPOSAL_YAML,
    REPORT_NAME,
    ROLES,
    RUNS_FOLDER,
    STATE_NAME,
    STATE_SUFFIX,
    STATES_FOLDER,
    SUCCEEDED_DETAIL_TYPE,
    UPLOAD_TOKEN_ATTRIBUTE,
    ErrorCode,
    JobStatus,
    RunStatus,
    from_item_value,
    job_results_prefix,
    parse_run_id,
    run_results_prefix,
    state_key,
    to_item_value,
)

CONTENT_TYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".gz": "application/gzip",          # customer_state.csv.gz: stored compressed, never Content-Encoding
    ".yaml": "application/yaml; charset=utf-8",
}
# The CSV parts, plus the workbook, the property definitions, the customer state, a finished profile and report.json.
MAX_OUTPUT_FILES = job_rules.MAX_CSV_PARTS + 5
CLEAR_OUTBOX_TRIES = 3


def counts_from_report(report: dict) -> dict:
    """The report's headline numbers, as the status item and the Succeeded event carry them."""
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


class RunCommit:
    """One claimed run's writes to the status item and its own folder results/{job_id}/runs/{run_id}/."""

    def __init__(self, deps: Deps, settings: Settings, claim: Claim, *, check_current: bool = True):
        self.deps, self.settings, self.claim, self.log = deps, settings, claim, deps.logger
        self.run_id = claim.run_id
        self.prefix = run_results_prefix(claim.job_id, self.run_id, settings.results_prefix)
        self.check_current = check_current     # False: record the run's failure even if the inputs changed
        self.states: list[str] = []            # the job's kept states, oldest first (the status item's `states`)
        self.upload_token = ""                  # the job's when this run began ("": no forms, no replays)
        self.claimed: dict[str, ObjectInfo] = {}   # the files this run begins with: a replay never makes it stale

    def guard_replays(self, upload_token: str | None, files: dict[str, ObjectInfo]) -> None:
        """This run begins with `files`, the job's current upload token being `upload_token`: from now on a file
        that comes through a spent upload form (a replay, refused by its own event) does not make this run
        stale."""
        self.upload_token, self.claimed = str(upload_token or ""), dict(files)

    def begin(self, files: dict, now: float) -> bool:
        """This attempt becomes the job's active run, unless strictly newer inputs were claimed."""
        c = self.claim
        return self.deps.jobs.begin(c.job_id, run_id=self.run_id, fingerprint=c.fingerprint,
                                    input_seq=c.input_seq, attempt=c.attempt, files=files, now=now,
                                    output_bucket=self.settings.output_bucket, ttl=c.ttl)

    def previous_state(self, folder: Path) -> Path | None:
        """The state of the job's last committed run that had one, downloaded into `folder` (the engine's
        `since`); None for a job's first run, or when that state is gone (its run then counts as a first run)."""
        status = self.deps.jobs.get_status(self.claim.job_id) or {}
        self.states = [str(key) for key in from_item_value(status.get("states") or [])]
        if not self.states:
            return None
        latest = self.states[-1]
        if latest not in self.deps.objects.list_keys(self.settings.output_bucket, latest):
            self.log.warning("the previous run's state is gone: this run compares with none", extra={"key": latest})
            return None
        folder.mkdir(parents=True, exist_ok=True)
        self.deps.objects.download(self.settings.output_bucket, latest, None, folder / STATE_NAME)
        return folder

    def succeeded(self, out_dir: Path, outcome: Any, files: dict[str, ObjectInfo], states_kept: int = 1) -> Outcome:
        names = [n for n in outcome.files if n != REPORT_NAME] + [REPORT_NAME]
        if len(names) > MAX_OUTPUT_FILES:
            raise FinalError(ErrorCode.INTERNAL_ERROR, f"The job produced {len(names)} files; at most "
                             f"{MAX_OUTPUT_FILES} are allowed.")
        state_fields = {}
        if STATE_NAME in names:      # a copy the job keeps: older run folders go, the last N states stay
            key = state_key(self.claim.job_id, self.run_id, self.settings.results_prefix)
            self.deps.objects.upload(self.settings.output_bucket, key, out_dir / STATE_NAME, _content_type(STATE_NAME))
            self.states = ([k for k in self.states if k != key] + [key])[-states_kept:]
            state_fields = {"states": self.states}
        keys = [self.prefix + n for n in names]
        for name, key in zip(names, keys, strict=True):      # report.json last: a complete set in the run folder
            self.deps.objects.upload(self.settings.output_bucket, key, out_dir / name, _content_type(name))
        counts = counts_from_report(outcome.report or {})
        detail = {
            "job_id": self.claim.job_id, "status": JobStatus.SUCCEEDED.value, "run_id": self.run_id,
            "fingerprint": self.claim.fingerprint, "input_bucket": self.settings.input_bucket,
            "inputs": {role: (files[role].key if role in files else None) for role in (*ROLES, "rules")},
            "output_bucket": self.settings.output_bucket, "output_prefix": self.prefix, "output_keys": keys,
            "report_key": keys[-1], "counts": counts,
        }
        return self._commit(JobStatus.SUCCEEDED, {"output_keys": keys, "counts": counts, **state_fields},
                            SUCCEEDED_DETAIL_TYPE, detail)

    def failed(self, error: dict | None, out_dir: Path | None = None, files: list[str] | None = None) -> Outcome:
        """Final failure: error.json in this run's folder, status FAILED, a Failed event carrying the error
        (its code: automation can tell a needs_answers stop apart). A run that stopped to ask keeps the
        engine's proposal.json and proposal.yaml beside error.json (`out_dir`, `files`), for the API."""
        error = error or {"error": {"code": ErrorCode.INTERNAL_ERROR.value, "message": "The job failed."}}
        keys = self._keep_proposal(out_dir, files or []) if out_dir is not None else []
        key = self.prefix + ERROR_NAME
        self.deps.objects.put_bytes(self.settings.output_bucket, key,
                                    (json.dumps(error, indent=2, ensure_ascii=False) + "\n").encode(),
                                    CONTENT_TYPES[".json"])
        body = error.get("error", error)
        detail = {"job_id": self.claim.job_id, "status": JobStatus.FAILED.value, "run_id": self.run_id,
                  "fingerprint": self.claim.fingerprint, "error": body, "output_bucket": self.settings.output_bucket,
                  "output_prefix": self.prefix, "output_keys": [*keys, key], "error_key": key}
        return self._commit(JobStatus.FAILED, {"output_keys": [*keys, key], "error": body}, FAILED_DETAIL_TYPE,
                            detail)

    def _keep_proposal(self, out_dir: Path, files: list[str]) -> list[str]:
        keys = []
        for name in (PROPOSAL_JSON, PROPOSAL_YAML):
            if name in files:
                keys.append(self.prefix + name)
                self.deps.objects.upload(self.settings.output_bucket, keys[-1], out_dir / name, _content_type(name))
        return keys

    def refused(self, key: str) -> Outcome:
        """A data file came through a spent upload form (a replayed presigned POST: used already, or replaced by a
        newer request's): this run never begins; the status item, the committed run and its event are left as
        they are."""
        c = self.claim
        self.log.warning("refused: a file came through a spent upload form", extra={"key": key})
        self.deps.jobs.mark_run(c.job_id, c.fingerprint, token=c.token, run_status=RunStatus.REFUSED,
                                now=self.deps.clock())
        return Outcome(Action.REFUSED, job_id=c.job_id, fingerprint=c.fingerprint, attempt=c.attempt,
                       reason=f"{key} came through a spent upload form of this job (a replay)")

    def superseded(self, why: str, *, cleanup: bool = False) -> Outcome:
        """Newer inputs own the job: this run never commits (and, with cleanup, its folder goes)."""
        c = self.claim
        self.log.info(f"run superseded: {why}")
        self.deps.jobs.mark_run(c.job_id, c.fingerprint, token=c.token, run_status=RunStatus.SUPERSEDED,
                                now=self.deps.clock())
        if cleanup:
            _delete_prefix(self.deps, self.settings.output_bucket, self.prefix)
        return Outcome(Action.SUPERSEDED, job_id=c.job_id, fingerprint=c.fingerprint, run_id=self.run_id,
                       attempt=c.attempt, reason=why)

    def _commit(self, status: JobStatus, fields: dict, detail_type: str, detail: dict) -> Outcome:
        c = self.claim
        if self.check_current and not self._still_current():
            self.deps.jobs.release(c.job_id, run_id=self.run_id, now=self.deps.clock())
            return self.superseded("a newer upload arrived while this run worked", cleanup=True)
        now = self.deps.clock()
        duration_ms = int((now - c.started) * 1000)
        fields = {**fields, "duration_ms": duration_ms, "output_prefix": self.prefix}
        # The event is a function of the committed run alone (no attempt's timing), in the form the job table
        # gives back (no None in maps): the first send and a resend from the stored outbox are identical.
        outbox = from_item_value(to_item_value({"detail_type": detail_type, "detail": detail}))
        if not self._commit_write(status, fields, outbox, now):
            return self.superseded("a newer upload took the job before this run could commit", cleanup=True)
        self.log.info("run committed", extra={"status": str(status), "run_id": self.run_id})
        published = publish_outbox(self.deps, c.job_id, {"committed_run": self.run_id, "outbox": outbox},
                                   lease_s=self.settings.lease_s, already_leased=True)
        self._after_commit(status)
        action = Action.SUCCEEDED if status == JobStatus.SUCCEEDED else Action.FAILED
        return Outcome(action, job_id=c.job_id, fingerprint=c.fingerprint, run_id=self.run_id,
                       attempt=c.attempt, output_keys=fields["output_keys"], counts=fields.get("counts", {}),
                       error=fields.get("error"), duration_ms=duration_ms, published=published)

    def _commit_write(self, status: JobStatus, fields: dict, outbox: dict, now: float) -> bool:
        c = self.claim

        def commit() -> bool:
            return self.deps.jobs.commit(c.job_id, run_id=self.run_id, fingerprint=c.fingerprint,
                                         input_seq=c.input_seq, status=str(status), fields=fields, outbox=outbox,
                                         now=now, publish_lease_until=now + 2 * self.settings.lease_s, ttl=c.ttl)

        if commit():
            return True
        current = self.deps.jobs.get_status(c.job_id) or {}
        if current.get("committed_run") == self.run_id:      # our applied commit, resent
            return True
        # A run with the same input_seq (same-second uploads) took the slot: we just re-listed and are current,
        # so take it back once; a strictly newer run keeps it (begin's condition refuses us).
        if int(current.get("input_seq", -1)) == c.input_seq and self.begin({}, now):
            return commit()
        return False

    def _still_current(self) -> bool:
        prefix = f"{self.settings.upload_prefix}{self.claim.job_id}/"
        objects = listing(self.deps, self.settings.input_bucket, prefix)
        if fingerprint_of(objects) == self.claim.fingerprint:
            return True
        # changed: unless only replays changed it (a job with forms: against its current token, read again since
        # POST /jobs/{id}/uploads may have replaced it meanwhile)
        if not self.upload_token:
            return False
        token = str((self.deps.jobs.get_status(self.claim.job_id) or {}).get(UPLOAD_TOKEN_ATTRIBUTE) or "")
        return bool(token) and fingerprint_of(
            [self._unless_replayed(obj, prefix, token) for obj in objects]) == self.claim.fingerprint

    def _unless_replayed(self, obj: ObjectInfo, prefix: str, current_token: str) -> ObjectInfo:
        """`obj`, or the version this run read when `obj` came through a spent upload form."""
        role = classify(obj.key[len(prefix):])
        mine = self.claimed.get(role or "")
        if role not in ROLES or mine is None:
            return obj
        bound = {role: file_entry(mine)}
        replayed = replayed_upload(self.deps, self.settings.input_bucket, {role: file_entry(obj)}, bound,
                                   current_token)
        return mine if replayed else obj

    def _after_commit(self, status: JobStatus) -> None:
        """Idempotent bookkeeping; a fault here never touches the committed run."""
        c = self.claim
        final = RunStatus.SUCCEEDED if status == JobStatus.SUCCEEDED else RunStatus.FAILED
        try:
            self.deps.jobs.mark_run(c.job_id, c.fingerprint, token=c.token, run_status=final, now=self.deps.clock())
            remove_older_runs(self.deps, self.settings, c.job_id, self.run_id)
            if status == JobStatus.SUCCEEDED:
                remove_older_states(self.deps, self.settings, c.job_id, self.run_id, keep=self.states)
        except Exception:  # noqa: BLE001 - committed; leftovers are cleaned by the next commit and the lifecycle
            self.log.warning("bookkeeping after the commit failed (the result stands)", exc_info=True)


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


def _superseded_by(run: str, committed_run: str) -> bool:
    """Whether `run` (a run id) has older inputs than the committed run, or is another attempt of it; never
    one with the same or newer inputs (a newer upload may be working there), nor a name that is not a run id."""
    committed, other = parse_run_id(committed_run), parse_run_id(run)
    if committed is None:
        raise ValueError(f"not a run id: {committed_run!r}")
    if run == committed_run or other is None:
        return False
    return other.input_seq < committed.input_seq or (other.input_seq == committed.input_seq
                                                     and other.fingerprint == committed.fingerprint)


def remove_older_runs(deps: Deps, settings: Settings, job_id: str, committed_run: str) -> None:
    """Delete the folders of runs with older inputs and of this run's other attempts (`_superseded_by`)."""
    base = job_results_prefix(job_id, settings.results_prefix) + RUNS_FOLDER
    for key in sorted(deps.objects.list_keys(settings.output_bucket, base)):
        if _superseded_by(key[len(base):].split("/", 1)[0], committed_run):
            deps.objects.delete(settings.output_bucket, key)


def remove_older_states(deps: Deps, settings: Settings, job_id: str, committed_run: str, *, keep: list[str]) -> None:
    """Delete the kept states the committed status item no longer lists (`changes.states_kept`), of older runs."""
    base = job_results_prefix(job_id, settings.results_prefix) + STATES_FOLDER
    for key in sorted(deps.objects.list_keys(settings.output_bucket, base)):
        if key not in keep and _superseded_by(key[len(base):].removesuffix(STATE_SUFFIX), committed_run):
            deps.objects.delete(settings.output_bucket, key)


def _delete_prefix(deps: Deps, bucket: str, prefix: str) -> None:
    try:
        for key in deps.objects.list_keys(bucket, prefix):
            deps.objects.delete(bucket, key)
    except Exception:  # noqa: BLE001 - an abandoned run folder is never read; the next commit removes it
        deps.logger.warning("could not remove an abandoned run folder", exc_info=True)


def _content_type(name: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")
