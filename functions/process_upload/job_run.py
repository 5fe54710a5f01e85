"""One run: claim the set of versions, then begin, download, run the engine and hand the result
to the commit (job_commit.py), with every fault sorted into final (recorded FAILED) or transient
(Lambda retries; the last attempt records FAILED).

The same S3 event twice, or a retry: `claim` is the exactly-once gate. Only one delivery at a
time works on a set of versions, and a retry takes over only a run its predecessor handed back
or stopped renewing (storage.DynamoJobStore.claim_run, condition storage.CLAIM_CONDITION).
"""

from __future__ import annotations

import datetime as dt
import errno
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import job_rules
from job_answers import JobAnswers, read_answers, save_finished_profile
from job_commit import RunCommit, publish_outbox
from job_errors import FinalError, internal_error, no_room, raise_final_if_known, timeout, too_large
from job_folder import (
    chosen_as_of,
    guarded_upload_token,
    half_of_an_upload,
    replayed_upload,
    size_problem,
    with_original_names,
)
from job_ports import Action, Claim, Deps, ObjectInfo, Outcome, Runner, Settings
from job_profiles import fetch_profiles
from memberseg.job_protocol import (
    FINISHED_PROFILE_NAME,
    RERUN_ROLE,
    UPLOAD_TOKEN_ATTRIBUTE,
    ErrorCode,
    JobStatus,
    RunStatus,
)


def claim(deps: Deps, settings: Settings, *, job_id: str, fingerprint: str, input_seq: int, now: float,
          deadline_at: float, files: dict, event_id: str | None = None) -> Claim | None:
    """Claim the run item RUN#{fingerprint} for this delivery; None: another delivery owns it, or it is final.

    The claim succeeds (storage.CLAIM_CONDITION; tests/fakes.InMemoryJobStore.claim_run mirrors it) when
    - NEW_RUN: no delivery has claimed these versions yet (the run item does not exist);
    - RETRY_PENDING: the previous attempt failed transiently and handed the run back (RETRYING);
    - LEASE_EXPIRED: the holder is PROCESSING but stopped renewing its lease (it died).
    So a second delivery of the same event, while the first works or after it finished, gets None
    ("duplicate"). Each successful claim adds one attempt and writes a fresh claim_token; it also notes
    `event_id` (the delivered event's id, the same for each of Lambda's retries of it) for the sweeper. A claim
    whose response was lost and which botocore resent fails its own condition: finding our own
    token on the item, it counts as ours.
    """
    token, ttl = deps.new_token(), settings.ttl(now)
    attempt = deps.jobs.claim_run(job_id, fingerprint, token=token, now=now, lease_until=now + settings.lease_s,
                                  deadline_at=deadline_at, input_seq=input_seq, files=files, ttl=ttl,
                                  event_id=event_id)
    if attempt is None:
        run = deps.jobs.get_run(job_id, fingerprint) or {}
        if run.get("claim_token") != token:
            return None
        deps.logger.info("claim response was lost and resent: the claim is ours")   # the resend lost to itself
        attempt = int(run.get("attempts", 1))
    return Claim(job_id=job_id, fingerprint=fingerprint, input_seq=input_seq, attempt=attempt, token=token,
                 ttl=ttl, started=now, deadline_at=deadline_at)


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
    """The claimed attempt's work, from begin to its commit (or its recorded fault)."""

    def __init__(self, deps: Deps, settings: Settings, claim: Claim, *, check_current: bool = True):
        self.deps, self.settings, self.claim, self.log = deps, settings, claim, deps.logger
        self.run_id = claim.run_id
        self.commit = RunCommit(deps, settings, claim, check_current=check_current)

    # -- the whole run, with every bookkeeping write inside the failure handling
    def go(self, files: dict[str, ObjectInfo], file_entries: dict, problem: FinalError | None) -> Outcome:
        """`problem`: the folder's own (job_folder.inspect_folder), or the error a dead run records."""
        try:
            status = self.deps.jobs.get_status(self.claim.job_id) or {}
            earlier = self._committed_earlier(status)
            if earlier is not None:
                return earlier
            replay = replayed_upload(self.deps, self.settings.input_bucket, file_entries, status.get("files") or {},
                                     guarded_upload_token(status))
            if replay is not None:
                return self.commit.refused(replay)
            self.commit.guard_replays(status.get(UPLOAD_TOKEN_ATTRIBUTE), files)
            if not self.commit.begin(file_entries, self.deps.clock()):
                # refused: newer inputs hold the job, or these versions were committed since the read above
                return self._committed_earlier() or self.commit.superseded("a newer upload already claimed this job")
            with _Heartbeat(self._renew_lease, self.settings.heartbeat_s, self.log):
                if problem is None:
                    files = with_original_names(self.deps, self.settings.input_bucket, files)
                    if half_of_an_upload(files):          # the run of the whole pair follows: never commit a mix
                        self.deps.jobs.release(self.claim.job_id, run_id=self.run_id, now=self.deps.clock())
                        return self.commit.superseded("the other file of the same upload has not arrived yet")
                    problem = size_problem(files, job_rules.default_max_file_bytes())
                if problem is not None:
                    return self.commit.failed(problem.error)
                return self.execute(files)
        except FinalError as final:
            return self._final(final)
        except Exception as exc:
            self.on_fault(exc, internal_error())
            raise

    def _renew_lease(self) -> None:
        self.deps.jobs.heartbeat(self.claim.job_id, self.claim.fingerprint, token=self.claim.token,
                                 lease_until=self.deps.clock() + self.settings.lease_s)

    def _committed_earlier(self, status: dict | None = None) -> Outcome | None:
        """These versions are committed already: a retry of a run whose commit response, publish or marking
        was lost, or a late redelivery. Only the bookkeeping is left: the run item is marked and a pending
        outcome event sent (from the stored outbox, so it is the same event); nothing else touches the
        status item. DUPLICATE when there was no event left to send, else COMMITTED_EARLIER.
        `status`: the status item as just read (None: read it now)."""
        c = self.claim
        if status is None:
            status = self.deps.jobs.get_status(c.job_id) or {}
        if status.get("committed_fingerprint") != c.fingerprint:
            return None
        self.log.info("these file versions were already committed: finishing the bookkeeping only")
        published = True
        if status.get("outbox"):
            published = publish_outbox(self.deps, c.job_id, status, lease_s=self.settings.lease_s)
        final = RunStatus.SUCCEEDED if status.get("committed_status") == JobStatus.SUCCEEDED else RunStatus.FAILED
        self.deps.jobs.mark_run(c.job_id, c.fingerprint, token=c.token, run_status=final, now=self.deps.clock())
        action = Action.COMMITTED_EARLIER if status.get("outbox") else Action.DUPLICATE
        return Outcome(action, job_id=c.job_id, fingerprint=c.fingerprint, reason="already committed",
                       run_id=status.get("committed_run"), attempt=c.attempt, published=published)

    # -- main path
    def execute(self, files: dict[str, ObjectInfo]) -> Outcome:
        today = dt.datetime.fromtimestamp(self.deps.clock(), dt.UTC).date()
        as_of = chosen_as_of(files, today) or self.settings.as_of      # the page's choice, else JOB_AS_OF or today
        with tempfile.TemporaryDirectory(prefix="memberseg-job-", dir=self.settings.work_dir) as tmp:
            local = self._download(files, Path(tmp, "in"))
            profiles = fetch_profiles(self.deps, self.settings.input_bucket, Path(tmp, "profiles"))
            rules = None
            if "rules" in local or profiles:
                try:
                    rules = job_rules.prepare(local.get("rules"), Path(tmp), self._engine_budget(),
                                              [(profile.key, profile.path) for profile in profiles])
                except Exception as exc:
                    raise_final_if_known(exc, elapsed=0, budget=float("inf"))
                    raise
            answers = read_answers(local["answers"]) if "answers" in local else None
            out_dir = Path(tmp, "out")
            since = self.commit.previous_state(Path(tmp, "previous"))
            outcome = self._run_engine(local, rules, out_dir, as_of, answers, since)
            if not outcome.ok:       # needs_answers keeps proposal.json and proposal.yaml beside error.json
                return self.commit.failed(outcome.error, out_dir, outcome.files)
            if answers is not None and FINISHED_PROFILE_NAME in outcome.files:
                save_finished_profile(self.deps, self.settings.input_bucket, answers, out_dir / FINISHED_PROFILE_NAME)
            return self.commit.succeeded(out_dir, outcome, files,
                                         states_kept=_states_kept(rules.path if rules else None))

    def _download(self, files: dict[str, ObjectInfo], inputs: Path) -> dict[str, Path]:
        local: dict[str, Path] = {}
        for role, obj in sorted(files.items()):
            if role == RERUN_ROLE:                  # the rerun marker only makes a new set of versions
                continue
            role_dir = inputs / role                # one folder per role: names never collide
            role_dir.mkdir(parents=True)
            local[role] = role_dir / obj.name       # the user's own name: the engine's messages use it
            try:
                self.deps.objects.download(self.settings.input_bucket, obj.key, obj.version_id, local[role])
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise too_large(role, obj) from exc
                raise
        self.log.info("inputs downloaded", extra={"bytes": sum(o.size for o in files.values())})
        return local

    def _engine_budget(self) -> float:
        return self.claim.deadline_at - self.deps.clock() - self.settings.commit_margin_s

    def _run_engine(self, local: dict[str, Path], rules: job_rules.PreparedRules | None, out_dir: Path,
                    as_of: dt.date | None, answers: JobAnswers | None = None, since: Path | None = None) -> Any:
        run_job: Runner | None = self.deps.run_job
        if run_job is None:
            from memberseg import runner  # the layer's engine; imported on first use
            run_job = runner.run_job
        budget = self._engine_budget()
        if budget <= 1:
            raise timeout(0)
        began = time.monotonic()
        # answers: the engine completes its inferred profile and leaves the finished one (profile.yaml)
        answered: dict[str, Any] = {"answers": answers.answers, "keep_profile": True} if answers else {}
        try:
            # profile_sources: report.json names each profile's file, not the merged copy of the rules;
            # the job's previous committed state, when there is one: its runs form a series (memberseg.changes).
            series: dict[str, Any] = {"since": since} if since is not None else {}
            outcome = run_job(local["memberships"], local["orders"], out_dir,
                              rules_path=rules.path if rules else None, as_of=as_of,
                              deadline_s=budget, profile_sources=rules.profile_sources if rules else None,
                              progress=lambda stage: self.log.info("engine stage", extra={"stage": stage}),
                              **answered, **series)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise no_room() from exc
            raise
        except Exception as exc:
            raise_final_if_known(exc, elapsed=time.monotonic() - began, budget=budget)
            raise
        if not outcome.ok and not (outcome.exit_code == 2 and outcome.error):
            raise RuntimeError(f"engine returned exit code {outcome.exit_code} without an error")
        return outcome

    def _final(self, final: FinalError) -> Outcome:
        if final.error["error"]["code"] == ErrorCode.ENGINE_ERROR:     # a bug or an unhandled input: keep the trace
            self.log.error("the engine raised on these inputs: final failure", extra={"error": final.error["error"]},
                           exc_info=final)
        else:
            self.log.warning("final failure", extra={"error": final.error["error"]})
        try:
            return self.commit.failed(final.error)
        except Exception as exc:
            self.on_fault(exc, final.error)
            raise

    # -- transient faults
    def on_fault(self, exc: Exception, error: dict) -> None:
        """Let Lambda retry; on the last attempt record `error`. Never hides the original fault."""
        c = self.claim
        try:
            if c.attempt >= self.settings.max_attempts:
                self.log.exception("job failed on its last attempt", extra={"attempt": c.attempt})
                self.commit.failed(error)
            else:
                self.log.exception("transient fault: Lambda will retry", extra={"attempt": c.attempt})
                self.deps.jobs.mark_run(c.job_id, c.fingerprint, token=c.token,
                                        run_status=RunStatus.RETRYING, now=self.deps.clock())
        except Exception:  # noqa: BLE001 - the original fault is what Lambda must see; the sweeper finishes
            self.log.exception("could not record the fault (the lease expires; a retry or the sweeper takes over)")


def _states_kept(rules_path: Path | None) -> int:
    """The job's `changes.states_kept` (its rules file, already checked, or the defaults)."""
    from memberseg.rules import load_rules  # the layer's rules; imported on first use, like the engine

    return load_rules(rules_path).changes.states_kept


def record_final_failure(deps: Deps, settings: Settings, *, job_id: str, fingerprint: str, input_seq: int,
                         files: dict, error: FinalError, now: float, check_current: bool = True) -> Outcome | None:
    """Claim a run whose attempts all died (like a retry would) and commit `error` as its final FAILED:
    error.json, the status, the Failed event. None: a live attempt or a retry holds the claim.

    Serves the sweeper (a dead run item) and jobs.record_dead_event (attempts that died before their
    claim). Any fault while recording is not retried (max_attempts=0 records again, then raises).
    check_current=False: record it even if newer inputs arrived; a newer run that began holds the
    status, and the commit's condition refuses this one.
    """
    held = claim(deps, settings, job_id=job_id, fingerprint=fingerprint, input_seq=input_seq, now=now,
                 deadline_at=now + 60, files=files)
    if held is None:
        return None
    run = Run(deps, replace(settings, max_attempts=0), held, check_current=check_current)
    return run.go({}, files, error)
