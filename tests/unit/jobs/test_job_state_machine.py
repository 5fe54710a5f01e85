"""The job state machine over in-memory ports and a controlled clock (no moto, sockets off):
waiting, claim, heartbeat, supersede, retry, final failure, sweep, outbox."""

from __future__ import annotations

import errno
import json
import os
import threading
import time
from dataclasses import replace

import job_folder
import job_rules
import jobs
import pytest
import sweep
from fakes import FakeClock, InMemoryJobStore, InMemoryObjects, RecordingEvents, fake_engine, input_digest
from memberseg.job_protocol import FAILED_DETAIL_TYPE, STATUS_SK, SUCCEEDED_DETAIL_TYPE, RunStatus, run_sk

IN, OUT = "in-bucket", "out-bucket"


class Killed(BaseException):
    """The sandbox died (OOM, crash, timeout): no Python handler runs."""


class World:
    def __init__(self, engine=fake_engine, **settings):
        self.clock = FakeClock()
        self.objects = InMemoryObjects(self.clock)
        self.store = InMemoryJobStore()
        self.events = RecordingEvents()
        self.engine_runs = 0
        self.engine = engine

        def counting_engine(*args, **kwargs):
            self.engine_runs += 1
            return self.engine(*args, **kwargs)

        self.deps = jobs.Deps(objects=self.objects, jobs=self.store, events=self.events, run_job=counting_engine,
                              clock=self.clock)
        self.settings = jobs.Settings(input_bucket=IN, output_bucket=OUT, heartbeat_s=3600, **settings)

    def upload(self, job: str, name: str, data: bytes) -> None:
        self.clock.advance(1.5)                    # LastModified moves on, as it does between real uploads
        self.objects.put(IN, f"uploads/{job}/{name}", data)

    def deliver(self, job: str, name: str = "orders.xlsx", remaining_s: float = 900) -> jobs.Outcome:
        """One attempt of the upload event of `name` (Lambda's retries of it carry the same event id)."""
        return jobs.handle_object_created(IN, f"uploads/{job}/{name}", self.deps, self.settings,
                                          remaining_s=remaining_s, event_id=event_id(job, name))

    def status(self, job: str) -> dict:
        return self.store.get_status(job) or {}

    def run_item(self, job: str) -> dict:
        return self.store.items[(job, run_sk(self.status(job)["fingerprint"]))]

    def committed(self, job: str) -> dict[str, bytes]:
        prefix = self.status(job)["output_prefix"]
        return {k[len(prefix):]: self.objects.read(OUT, k) for k in self.objects.list_keys(OUT, prefix)}

    def current_digest(self, job: str) -> str:
        return input_digest(self.objects.read(IN, f"uploads/{job}/memberships.xlsx"),
                            self.objects.read(IN, f"uploads/{job}/orders.xlsx"))

    def sweep(self, **kwargs) -> sweep.SweepReport:
        return sweep.sweep(self.deps, self.settings, **kwargs)


def event_id(job: str, name: str) -> str:
    return f"event-{job}-{name}"


def both(world: World, job: str = "j", orders: bytes = b"orders v1") -> jobs.Outcome:
    world.upload(job, "memberships.xlsx", b"members v1")
    world.upload(job, "orders.xlsx", orders)
    return world.deliver(job)


def dies_calling(world: World, method: str) -> None:
    """Both files arrive and the completing delivery dies (its sandbox is gone) as it calls the job store's
    `method`."""
    real = getattr(world.store, method)
    setattr(world.store, method, lambda *a, **k: (_ for _ in ()).throw(Killed()))
    try:
        with pytest.raises(Killed):
            both(world)
    finally:
        setattr(world.store, method, real)


def assert_one_complete_set_from_the_current_inputs(world: World, job: str) -> None:
    status = world.status(job)
    assert status["status"] == "SUCCEEDED"
    files = world.committed(job)
    assert sorted(files) == sorted(k[len(status["output_prefix"]):] for k in status["output_keys"])
    assert status["output_keys"][-1].endswith("/report.json")
    digest = world.current_digest(job)
    assert json.loads(files.pop("report.json"))["inputs_digest"] == digest
    assert set(files.values()) == {f"{digest}\n".encode()}                       # never a mixed set


# ------------------------------------------------------------------ waiting, claim, commit
def test_one_file_waits_then_both_commit_once_with_one_event():
    world = World()
    world.upload("j", "memberships.xlsx", b"members v1")
    assert world.deliver("j", "memberships.xlsx").action == "waiting"
    assert world.status("j")["status"] == "WAITING_FOR_FILES" and world.status("j")["missing"] == ["orders"]
    world.upload("j", "orders.xlsx", b"orders v1")
    done = world.deliver("j")
    assert done.action == "succeeded" and done.published is True
    assert_one_complete_set_from_the_current_inputs(world, "j")
    status = world.status("j")
    assert status["committed_run"] == done.run_id and "outbox" not in status and status["published_run"] == done.run_id
    assert [t for t, _ in world.events.of("j")] == [SUCCEEDED_DETAIL_TYPE]
    assert world.events.of("j")[0][1]["output_prefix"] == status["output_prefix"] == f"results/j/runs/{done.run_id}/"
    assert world.run_item("j")["run_status"] == RunStatus.SUCCEEDED
    # duplicates of either event change nothing
    assert world.deliver("j").action == "duplicate" and world.deliver("j", "memberships.xlsx").action == "duplicate"
    assert world.engine_runs == 1 and len(world.events.of("j")) == 1


def test_a_claim_whose_response_was_lost_and_resent_is_recognised_as_ours():
    world = World()
    real = world.store.claim_run

    def applied_then_resent(*args, **kwargs):
        real(*args, **kwargs)            # the first request was applied; its response never came back
        return real(*args, **kwargs)     # botocore's resend fails its own condition

    world.store.claim_run = applied_then_resent
    assert both(world).action == "succeeded"
    assert world.engine_runs == 1 and world.run_item("j")["attempts"] == 1


def test_the_heartbeat_renews_the_lease_while_the_engine_works():
    def slow_engine(*args, **kwargs):
        for _ in range(6):
            world.clock.advance(25)                # 150 s of engine time, past five 30 s leases
            time.sleep(0.05)
        lease = world.run_item("j")["lease_expires_at"]
        assert lease > world.clock() - 5, "the lease must follow the running attempt"
        return fake_engine(*args, **kwargs)

    world = World(engine=slow_engine)
    world.settings = replace(world.settings, heartbeat_s=0.02)
    assert both(world).action == "succeeded"


# ------------------------------------------------------------------ ordering by inputs
def test_a_reupload_during_a_run_supersedes_it_and_the_newer_run_commits():
    world = World()

    def engine_then_reupload(*args, **kwargs):
        world.engine = fake_engine
        outcome = fake_engine(*args, **kwargs)
        world.upload("j", "orders.xlsx", b"orders v2")     # arrives while the first run works
        return outcome

    world.engine = engine_then_reupload
    first = both(world)
    assert first.action == "superseded"
    assert "committed_run" not in world.status("j") and world.events.of("j") == []
    assert world.objects.list_keys(OUT, f"results/j/runs/{first.run_id}/") == []      # its folder is gone
    second = world.deliver("j")
    assert second.action == "succeeded"
    assert_one_complete_set_from_the_current_inputs(world, "j")
    assert [d["run_id"] for _, d in world.events.of("j")] == [second.run_id]


def test_a_redelivery_that_claims_while_the_holder_commits_never_takes_the_committed_job_back():
    """The holder's lease lapses (its heartbeat stalled), a redelivery claims the run and reads the status,
    the holder commits, then the redelivery would begin: it must end as a duplicate, never setting the
    committed job back to PROCESSING, never committing or sending a second, different event."""
    engine_entered, engine_go = threading.Event(), threading.Event()

    def first_call_waits(*args, **kwargs):
        if world.engine_runs == 1:
            engine_entered.set()
            assert engine_go.wait(10)
        return fake_engine(*args, **kwargs)

    world = World(engine=first_call_waits)
    world.upload("j", "memberships.xlsx", b"m")
    world.upload("j", "orders.xlsx", b"o")
    holder: list[jobs.Outcome] = []
    thread = threading.Thread(target=lambda: holder.append(world.deliver("j")))
    thread.start()
    assert engine_entered.wait(10)
    world.clock.advance(60)                                     # the holder's 30 s lease lapsed
    real_begin = world.store.begin

    def the_holder_commits_first(*args, **kwargs):
        engine_go.set()
        thread.join(10)
        return real_begin(*args, **kwargs)

    world.store.begin = the_holder_commits_first
    redelivery = world.deliver("j")
    assert holder[0].action == "succeeded" and redelivery.action == "duplicate", (redelivery, world.store.statuses("j"))
    statuses = world.store.statuses("j")
    assert statuses[statuses.index("SUCCEEDED"):] == ["SUCCEEDED"] * len(statuses[statuses.index("SUCCEEDED"):])
    assert world.status("j")["committed_run"] == holder[0].run_id and world.engine_runs == 1
    assert [d["run_id"] for _, d in world.events.of("j")] == [holder[0].run_id]
    assert_one_complete_set_from_the_current_inputs(world, "j")


def test_a_late_redelivery_of_committed_inputs_ends_as_a_duplicate_without_writing_the_status():
    """The commit's run item was never marked (the attempt died right after publishing), so a late
    redelivery can claim it: it reads the commit, marks the run item and leaves the status item alone."""
    world = World()
    dies_calling(world, "mark_run")
    writes = len(world.store.status_writes)
    world.clock.advance(3600)
    outcome = world.deliver("j")
    assert outcome.action == "duplicate" and world.store.status_writes[writes:] == []
    assert world.run_item("j")["run_status"] == RunStatus.SUCCEEDED
    assert len(world.events.of("j")) == 1 and world.engine_runs == 1


def test_a_stale_invocation_that_listed_before_a_reupload_never_takes_the_job_back():
    world = World()
    world.upload("j", "memberships.xlsx", b"members v1")
    world.upload("j", "orders.xlsx", b"orders v1")
    stale_listing = world.objects.list_latest(IN, "uploads/j/")
    world.upload("j", "orders.xlsx", b"orders v2")
    newer = world.deliver("j")
    assert newer.action == "succeeded"
    # the slow invocation reaches the claim now, with its old listing (its first list call)
    real_list = world.objects.list_latest
    listings = [stale_listing]
    world.objects.list_latest = lambda bucket, prefix: listings.pop() if listings else real_list(bucket, prefix)
    late = world.deliver("j")
    assert late.action == "superseded"
    assert world.status("j")["committed_run"] == newer.run_id
    assert_one_complete_set_from_the_current_inputs(world, "j")
    # and a still newer upload can always be claimed
    world.objects.list_latest = real_list
    world.upload("j", "orders.xlsx", b"orders v3")
    assert world.deliver("j").action == "succeeded"
    assert_one_complete_set_from_the_current_inputs(world, "j")


# ------------------------------------------------------------------ faults, retries, final failures
def test_a_transient_fault_is_retried_by_lambda_and_the_retry_succeeds():
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk hiccup")
        return fake_engine(*args, **kwargs)

    world = World(engine=flaky)
    with pytest.raises(OSError):
        both(world)
    assert world.run_item("j")["run_status"] == RunStatus.RETRYING
    assert world.status("j")["status"] == "PROCESSING"
    world.clock.advance(60)
    retry = world.deliver("j")
    assert retry.action == "succeeded" and retry.attempt == 2
    assert_one_complete_set_from_the_current_inputs(world, "j")


def test_set_processing_failing_is_inside_the_failure_handling():
    world = World()
    real_begin = world.store.begin
    world.store.begin = lambda *a, **k: (_ for _ in ()).throw(ConnectionError("DynamoDB unreachable"))
    with pytest.raises(ConnectionError):
        both(world)
    assert world.store.items[("j", run_sk(job_folder.fingerprint_of(world.objects.list_latest(IN, "uploads/j/"))))][
        "run_status"] == RunStatus.RETRYING
    world.store.begin = real_begin
    world.clock.advance(60)
    assert world.deliver("j").action == "succeeded"


def test_three_faults_end_failed_with_error_json_and_one_failed_event():
    def broken(*args, **kwargs):
        raise RuntimeError("engine exploded")

    world = World(engine=broken)
    world.upload("j", "memberships.xlsx", b"m")
    world.upload("j", "orders.xlsx", b"o")
    for delay in (0, 60, 120):
        world.clock.advance(delay)
        with pytest.raises(RuntimeError):
            world.deliver("j")
    status = world.status("j")
    assert status["status"] == "FAILED" and status["error"]["code"] == "internal_error"
    assert list(world.committed("j")) == ["error.json"]
    assert [t for t, _ in world.events.of("j")] == [FAILED_DETAIL_TYPE]
    assert world.deliver("j").action == "duplicate"


def test_the_engines_own_timeout_is_final_with_no_retry():
    from memberseg.isolation import WorkerDied

    seen = {}

    def too_slow(*args, deadline_s, **kwargs):
        seen["deadline_s"] = deadline_s
        raise WorkerDied(f"did not finish within {deadline_s:g} s", {"stage": "segmenting"})

    world = World(engine=too_slow)
    world.upload("j", "memberships.xlsx", b"m")
    world.upload("j", "orders.xlsx", b"o")
    outcome = world.deliver("j", remaining_s=300)               # a short Lambda timeout
    assert outcome.action == "failed" and outcome.error["code"] == "timeout"
    assert seen["deadline_s"] == pytest.approx(300 - world.settings.commit_margin_s, abs=1)
    assert world.engine_runs == 1 and "time limit" in world.status("j")["error"]["message"]


def worker_raising(exception: BaseException, stage: dict):
    """A stand-in engine whose forked worker (memberseg.isolation, as the runner uses it) raises `exception`
    in `stage`: the engine's own code failing on the input."""
    from memberseg.isolation import Forked

    def job(report):
        report(stage.pop("stage"), stage)
        raise exception

    def run_job(*args, **kwargs):
        return Forked(job).result(timeout=30)

    return run_job


@pytest.mark.parametrize("stage, where", [
    ({"stage": "consolidating"}, "OverflowError while consolidating."),
    ({"stage": "parsing", "role": "orders", "file": "Orders 2026.xlsx"},
     "OverflowError while reading the orders file Orders 2026.xlsx."),
])
def test_an_exception_in_the_engines_worker_is_a_final_engine_error_never_retried(stage, where):
    world = World(engine=worker_raising(OverflowError("date value out of range"), dict(stage)))
    outcome = both(world)
    assert outcome.action == "failed" and outcome.attempt == 1 and world.engine_runs == 1
    error = world.status("j")["error"]
    assert error["code"] == "engine_error" and where in error["message"]
    assert "will not help" in error["message"] and "Traceback" not in error["message"]
    assert error["file"] == stage.get("file")
    assert json.loads(world.committed("j")["error.json"])["error"] == error
    assert [t for t, _ in world.events.of("j")] == [FAILED_DETAIL_TYPE]
    world.clock.advance(60)
    assert world.deliver("j").action == "duplicate"                # Lambda has nothing to retry


@pytest.mark.parametrize("exception", [OSError(errno.EIO, "I/O error"), ConnectionResetError("reset by peer")])
def test_a_storage_fault_inside_the_worker_stays_transient(exception):
    from memberseg.isolation import WorkerRaised

    world = World(engine=worker_raising(exception, {"stage": "writing"}))
    with pytest.raises(WorkerRaised, match=type(exception).__name__):
        both(world)
    assert world.run_item("j")["run_status"] == RunStatus.RETRYING and world.status("j")["status"] == "PROCESSING"


def test_an_engine_killed_by_a_signal_stays_transient():
    from memberseg.isolation import WorkerDied

    def killed(*args, **kwargs):
        raise WorkerDied("was stopped by signal SIGKILL", {"stage": "segmenting"})

    world = World(engine=killed)
    with pytest.raises(WorkerDied):
        both(world)
    assert world.run_item("j")["run_status"] == RunStatus.RETRYING


def test_an_engine_killed_for_memory_is_final_too_large_for_memory_never_retried(monkeypatch):
    """Lambda's out-of-memory killer stops the worker reading a file: the same files in the same memory would
    be killed again, so the job fails at once with too_large_for_memory, the file and the function's memory."""
    import itertools
    import signal

    import memberseg.isolation
    from memberseg.isolation import Forked, WorkerDied, crash_error

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008")
    counter = itertools.count()
    monkeypatch.setattr(memberseg.isolation, "oom_kill_count", lambda: next(counter))  # the kernel's OOM kills

    def job(report):
        report("parsing", {"role": "orders", "file": "Orders 2026.csv", "bytes": 2_400_000_000})
        os.kill(os.getpid(), signal.SIGKILL)

    def run_job(*args, **kwargs):      # as memberseg.runner does with its worker
        try:
            return Forked(job).result(timeout=30)
        except WorkerDied as died:
            raise crash_error(died) or died

    world = World(engine=run_job)
    outcome = both(world)
    assert outcome.action == "failed" and outcome.attempt == 1 and world.engine_runs == 1
    error = world.status("j")["error"]
    assert error["code"] == "too_large_for_memory" and error["file"] == "Orders 2026.csv"
    assert "'Orders 2026.csv' (2,400.0 MB)" in error["message"] and "3,008 MB" in error["message"]
    world.clock.advance(60)
    assert world.deliver("j").action == "duplicate"                # Lambda has nothing to retry


def test_enospc_while_downloading_is_a_final_too_large_error():
    world = World()
    real = world.objects.download

    def full_disk(bucket, key, version_id, dest):
        if key.endswith("orders.xlsx"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(bucket, key, version_id, dest)

    world.objects.download = full_disk
    outcome = both(world)
    assert outcome.action == "failed" and outcome.error["code"] == "file_too_large"
    assert outcome.error["file"] == "orders.xlsx" and world.engine_runs == 0


def test_bad_input_is_final():
    world = World()
    world.upload("j", "memberships.xlsx", b"BAD")
    world.upload("j", "orders.xlsx", b"o")
    outcome = world.deliver("j")
    assert outcome.action == "failed" and outcome.error["code"] == "missing_column"
    assert list(world.committed("j")) == ["error.json"]


# ------------------------------------------------------------------ hostile job folders (from the listing)
def test_a_rules_file_over_64_kb_is_refused_from_its_listed_size_before_download():
    world = World()
    world.upload("j", "rules.yaml", b"#" * (job_rules.RULES_MAX_BYTES + 1))
    outcome = both(world)
    assert outcome.action == "failed" and outcome.error["code"] == "rules_too_large"
    assert world.objects.downloads == [] and world.engine_runs == 0


def test_an_input_over_max_file_bytes_is_refused_from_the_listing(monkeypatch):
    monkeypatch.setattr(job_rules, "default_max_file_bytes", lambda: 100)
    world = World()
    outcome = both(world, orders=b"x" * 101)
    assert outcome.action == "failed" and outcome.error["code"] == "file_too_large"
    assert outcome.error["file"] == "orders.xlsx" and world.objects.downloads == []


# ------------------------------------------------------------------ the outbox and the sweeper
def test_a_failed_publish_never_reruns_or_deletes_the_committed_run_and_the_sweeper_sends_it_once():
    world = World()
    world.events.fail_next = 1
    outcome = both(world)
    assert outcome.action == "succeeded" and outcome.published is False
    assert_one_complete_set_from_the_current_inputs(world, "j")
    assert "outbox" in world.status("j") and world.events.of("j") == []
    assert world.sweep().published == []                    # the committing attempt's publish lease holds
    world.clock.advance(120)
    assert world.sweep().published == ["j"]
    assert world.sweep().published == []                    # exactly once
    assert [d["run_id"] for _, d in world.events.of("j")] == [outcome.run_id]
    assert world.engine_runs == 1
    assert_one_complete_set_from_the_current_inputs(world, "j")


def test_an_event_resent_after_the_attempt_died_right_after_putevents_is_the_same_event():
    """Killed between PutEvents and clearing the outbox: the retry sends the stored outbox again, and the
    copy is identical (same run_id, same detail, no per-attempt field), so a consumer can drop it."""
    world = World()
    dies_calling(world, "clear_outbox")
    world.clock.advance(61)                                   # Lambda's retry, after the publish lease
    assert world.deliver("j").action == "committed_earlier"
    (first_type, first), (second_type, second) = world.events.of("j")
    assert (first_type, first) == (second_type, second)
    assert not {"duration_ms", "attempt", "published_at", "started_at"} & set(first)
    assert first["run_id"] == world.status("j")["committed_run"] and world.engine_runs == 1


def kill_engine(*args, **kwargs):
    raise Killed()


def test_a_killed_attempt_is_taken_over_by_lambdas_retry_one_minute_later():
    world = World(engine=kill_engine)
    with pytest.raises(Killed):
        both(world)
    assert world.status("j")["status"] == "PROCESSING"
    world.engine = fake_engine
    world.clock.advance(60)                                   # the 30 s lease is long gone
    assert world.deliver("j").action == "succeeded"
    assert_one_complete_set_from_the_current_inputs(world, "j")


def test_the_sweeper_waits_for_retries_then_fails_jobs_whose_attempts_all_died():
    world = World(engine=kill_engine)
    world.upload("j", "memberships.xlsx", b"m")
    world.upload("j", "orders.xlsx", b"o")
    with pytest.raises(Killed):
        world.deliver("j")
    world.clock.advance(60)
    assert world.sweep().waiting == 1                         # Lambda will still retry: hands off
    for delay in (0, 120):
        world.clock.advance(delay)
        with pytest.raises(Killed):
            world.deliver("j")
    world.clock.advance(60)
    assert world.sweep().waiting == 1                         # no on-failure record yet: a retry may still come
    report = world.sweep(dead_letters=Queue([dead_letter("j")]))     # Lambda's record: every attempt is spent
    assert report.failed == ["j"] and report.stuck == 1
    status = world.status("j")
    assert status["status"] == "FAILED" and status["error"]["code"] == "internal_error"
    assert list(world.committed("j")) == ["error.json"]
    assert [t for t, _ in world.events.of("j")] == [FAILED_DETAIL_TYPE]
    assert world.sweep().failed == [] and len(world.events.of("j")) == 1
    assert world.deliver("j").action == "duplicate"


def kill_at_begin(world: World):
    """The attempt hangs right after its claim until Lambda's timeout kills it: no heartbeat has started, so
    its 30 s lease lapses long before Lambda's retry (deadline + 1 minute)."""
    real_begin = world.store.begin

    def hang(*args, **kwargs):
        for _ in range(3):                                    # the sweeper runs every 5 minutes meanwhile
            world.clock.advance(300)
            assert world.sweep().failed == []
        raise Killed()

    world.store.begin = hang
    return lambda: setattr(world.store, "begin", real_begin)


def test_a_timed_out_attempt_is_finished_by_lambdas_retry_never_ended_by_the_sweeper_before_it():
    world = World()
    restore = kill_at_begin(world)
    with pytest.raises(Killed):
        both(world)
    restore()
    world.clock.advance(59)
    assert world.sweep().waiting == 1
    world.clock.advance(1)                                    # Lambda's retry, a minute after the timeout
    retry = world.deliver("j")
    assert retry.action == "succeeded" and retry.attempt == 2
    assert_one_complete_set_from_the_current_inputs(world, "j")
    assert [t for t, _ in world.events.of("j")] == [SUCCEEDED_DETAIL_TYPE]


def test_without_lambdas_record_the_sweeper_waits_for_the_last_possible_retrys_deadline():
    """Three attempts died and the on-failure record was lost: the run ends once Lambda can no longer start
    a retry (first claim + the event's maximum age) and that retry's timeout has passed."""
    world = World(engine=kill_engine)
    world.upload("j", "memberships.xlsx", b"m")
    world.upload("j", "orders.xlsx", b"o")
    first_claim = world.clock()
    for delay in (0, 60, 120):
        world.clock.advance(delay)
        with pytest.raises(Killed):
            world.deliver("j")
    assert world.settings.retries_over_at(first_claim) == first_claim + 3600 + 900 + 60
    world.clock.now = world.settings.retries_over_at(first_claim)
    assert world.sweep().waiting == 1
    world.clock.advance(1)
    assert world.sweep().failed == ["j"] and world.status("j")["error"]["code"] == "internal_error"


def test_a_run_claimed_by_two_events_ends_only_when_both_are_spent():
    """Both files' events claimed the run (the memberships event arrived late, after the orders event's
    attempt died): the orders event's record alone does not end it, the memberships event may still retry."""
    world = World(engine=kill_engine)
    world.upload("j", "memberships.xlsx", b"m")
    world.upload("j", "orders.xlsx", b"o")
    with pytest.raises(Killed):
        world.deliver("j", "orders.xlsx")
    world.clock.advance(60)
    with pytest.raises(Killed):
        world.deliver("j", "memberships.xlsx")
    world.clock.advance(60)
    assert world.run_item("j")["claim_events"] == {event_id("j", "orders.xlsx"), event_id("j", "memberships.xlsx")}
    assert world.sweep(dead_letters=Queue([dead_letter("j", "orders.xlsx")])).waiting == 1
    assert world.sweep(dead_letters=Queue([dead_letter("j", "memberships.xlsx")])).failed == ["j"]


def test_an_attempt_alive_until_its_deadline_is_swept_as_a_timeout():
    world = World()
    world.upload("j", "memberships.xlsx", b"m")
    world.upload("j", "orders.xlsx", b"o")
    fingerprint = job_folder.fingerprint_of(world.objects.list_latest(IN, "uploads/j/"))
    now = world.clock()
    # what three attempts leave when each one heartbeats until Lambda kills it at its deadline
    world.store.claim_run("j", fingerprint, token="t", now=now, lease_until=now + 900 + 25, deadline_at=now + 900,
                          input_seq=1, files={}, ttl=0)
    world.store.items[("j", run_sk(fingerprint))]["attempts"] = 3
    world.store.begin("j", run_id="000000000000001-x-a3", fingerprint=fingerprint, input_seq=1, attempt=3, files={},
                      now=now, output_bucket=OUT, ttl=0)
    world.clock.advance(1000)
    assert world.sweep().waiting == 1                         # neither Lambda's record nor its last deadline yet
    world.clock.now = world.settings.retries_over_at(now) + 1
    assert world.sweep().failed == ["j"]
    assert world.status("j")["error"]["code"] == "timeout"


def test_the_status_item_is_never_left_processing_by_a_swept_job_without_events():
    world = World(engine=kill_engine)
    both_outcome = None
    with pytest.raises(Killed):
        both_outcome = both(world)
    assert both_outcome is None
    world.clock.now = world.settings.retries_over_at(world.clock()) + 1
    world.sweep()
    assert world.status("j")["status"] == "FAILED"
    assert world.store.items[("j", STATUS_SK)].get("outbox") is None


# ------------------------------------------------------------------ the failure queue
EVENTS = __import__("pathlib").Path(__file__).resolve().parents[3] / "events"


def test_failure_queue_messages_name_the_object_in_both_shapes():
    record = (EVENTS / "failure_destination_record.json").read_text()       # Lambda's on-failure destination
    assert sweep.s3_object_of(record) == ("memberseg-input-123456789012-us-east-1", "uploads/Q4 Kündigungen/orders.xlsx")
    raw = (EVENTS / "object_created_orders.json").read_text()                # the trigger rule's dead-letter queue
    assert sweep.s3_object_of(raw) == ("memberseg-input-123456789012-us-east-1", "uploads/job-2026-11-15/orders.xlsx")
    assert sweep.s3_object_of("not json") is None and sweep.s3_object_of('{"detail": "x"}') is None


class Queue:
    def __init__(self, bodies):
        self.messages = {str(i): b for i, b in enumerate(bodies)}

    def receive(self, limit):
        return list(self.messages.items())[:limit]

    def delete(self, receipt):
        del self.messages[receipt]


def dead_letter(job: str, name: str = "orders.xlsx") -> str:
    """Lambda's on-failure record of the upload event of `name` (all its attempts failed)."""
    return json.dumps({"requestPayload": {"id": event_id(job, name), "detail": {
        "bucket": {"name": IN}, "object": {"key": f"uploads/{job}/{name}"}}}})


def test_every_attempt_dying_before_its_claim_is_failed_from_the_failure_queue():
    world = World()
    world.upload("j", "memberships.xlsx", b"m")
    world.upload("j", "orders.xlsx", b"o")           # three attempts died before claiming: no run item, no status
    queue = Queue([dead_letter("j"), "garbage"])
    report = world.sweep(dead_letters=queue)
    assert report.failed == ["j"] and report.dead_events == 2 and queue.messages == {}
    assert world.status("j")["status"] == "FAILED" and world.status("j")["error"]["code"] == "internal_error"
    assert [t for t, _ in world.events.of("j")] == [FAILED_DETAIL_TYPE]


def test_a_failure_queue_message_for_a_job_that_ended_anyway_is_just_dropped():
    world = World()
    assert both(world).action == "succeeded"
    queue = Queue([dead_letter("j")])
    assert world.sweep(dead_letters=queue).failed == [] and queue.messages == {}
    assert world.status("j")["status"] == "SUCCEEDED" and len(world.events.of("j")) == 1
    world.upload("k", "memberships.xlsx", b"m")     # incomplete folder: waiting is the right answer
    queue = Queue([dead_letter("k", "memberships.xlsx")])
    world.sweep(dead_letters=queue)
    assert world.status("k")["status"] == "WAITING_FOR_FILES" and queue.messages == {}


def test_the_rerun_marker_runs_a_failed_job_again_from_the_same_files_without_reading_the_marker():
    world = World(engine=fake_engine_failing)          # e.g. needs_answers: a layout no profile fits yet
    first = both(world)
    assert first.action == "failed"
    world.engine = fake_engine
    world.upload("j", "rerun.json", b'{"rerun_at": "2026-12-07T21:00:00Z"}')
    again = world.deliver("j", "rerun.json")
    assert again.action == "succeeded" and again.run_id != first.run_id
    assert world.status("j")["status"] == "SUCCEEDED" and world.engine_runs == 2
    assert "uploads/j/rerun.json" not in world.objects.downloads
    assert world.status("j")["files"]["rerun"]["key"] == "uploads/j/rerun.json"     # part of the set of versions
    assert world.deliver("j", "rerun.json").action == "duplicate"


def fake_engine_failing(memberships, orders, out_dir, **kwargs):
    from fakes import EngineOutcome

    return EngineOutcome(ok=False, exit_code=2, error={"error": {"code": "missing_column", "message": "no Cust ID"}})
