"""Fault injection over the whole job: moto (mock_aws), the real handler and adapters, a
controlled clock, Lambda's async retry schedule, the sweeper.

Every AWS call a normal job makes is made to fail in turn, three ways:
- `error`:   the service answers 503 (not applied);
- `timeout`: the read times out before an answer (not applied);
- `lost`:    applied, but the response is lost and botocore resends the same request
             (the resend's answer is what the caller gets);
and it hangs (`hang`): applied, but no answer comes before Lambda's timeout stops the attempt at
its deadline, on attempt 1 and on attempts 1 and 2. While it hangs the sweeper runs, and the
attempt's heartbeat renews its lease (the suite's stand-in heartbeat, driven by the controlled
clock). The attempt is also killed (a BaseException no handler catches: OOM,
crash, Lambda's timeout) before each of the job's port calls, a re-upload lands before each of
them, and the same event is delivered again before each of them once its lease has lapsed.

The sweeper runs just before each of Lambda's retries (+60 s, +120 s after an attempt ends),
then twice more (+10 min each), with the sweeper function's own environment (its view of
Lambda's retry schedule comes from the template). The job must be SUCCEEDED with one complete
set from the current versions, or FAILED with error.json alone and a Failed event; never
PROCESSING, never a mixed set; a committed status never goes back (every write to the status
item is recorded); one outcome event per committed run (two identical ones only when
PutEvents went out and the attempt lost its answer: EventBridge has no idempotency key;
docs/job-protocol.md, failure table).

The engine is a fast stand-in (tests/fakes.fake_engine) whose every output names the digest
of its exact inputs; tests/integration/test_process_upload.py runs the real engine.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import botocore.client
import job_run
import jobs
import local_aws
import pytest
import storage
import sweep
from botocore.exceptions import ClientError, ReadTimeoutError
from fakes import FakeClock, fake_engine
from moto import mock_aws
from process_env import JobEnv
from s3_world import make_event

MODES = ("error", "timeout", "lost")
RETRY_DELAYS = (60, 120)          # Lambda async: a retry ~1 min after a failure, another ~2 min later
SWEEP_AFTER = 600
HEARTBEAT_BEFORE_DEADLINE = 5     # a hung attempt's last heartbeat, this long before Lambda stops it
_real_call = botocore.client.BaseClient._make_api_call


class Killed(BaseException):
    """The sandbox died: no except clause runs (finally blocks do, as a dead thread's would not matter)."""


@dataclass
class Injector:
    """Wraps every botocore call; while armed, counts them and breaks call number `at`."""
    armed: bool = False
    at: int | None = None
    mode: str | None = None
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    status_writes: list[tuple[str, str]] = field(default_factory=list)   # (job_id, status) of every applied write

    def statuses(self, job_id: str) -> list[str]:
        return [status for j, status in self.status_writes if j == job_id]

    def call(self, client: Any, operation: str, params: dict) -> Any:
        """The real call, recording the status each applied UpdateItem of a status item writes."""
        response = _real_call(client, operation, params)
        if operation == "UpdateItem" and params["Key"]["sk"] == {"S": "STATUS"}:
            status = params.get("ExpressionAttributeValues", {}).get(":s_status")
            if status is not None:
                self.status_writes.append((params["Key"]["job_id"]["S"], status["S"]))
        return response

    frozen: bool = False                         # the attempt hung until Lambda stopped it: nothing more of it runs
    on_hang: Any = None                          # what happens meanwhile (Stack.hang_until_the_deadline)

    def arm(self, at: int | None = None, mode: str | None = None) -> None:
        self.armed, self.at, self.mode, self.calls, self.frozen = True, at, mode, [], False

    def disarm(self) -> None:
        self.armed = self.frozen = False

    @staticmethod
    def stopped(operation: str) -> BaseException:
        """The sandbox is stopped: the handler's thread dies; an s3transfer thread's call fails, so that the
        handler's thread, waiting on it, is the one that dies at its next call."""
        if threading.current_thread() is threading.main_thread():
            return Killed(f"Lambda's timeout during {operation}")
        return ReadTimeoutError(endpoint_url=f"https://stopped/{operation}")

    def __call__(self, client: Any, operation: str, params: dict) -> Any:
        if not self.armed:
            return self.call(client, operation, params)
        if self.frozen:
            raise self.stopped(operation)
        with self.lock:
            index = len(self.calls)
            self.calls.append(operation)
        if index != self.at:
            return self.call(client, operation, params)
        if self.mode == "error":
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "injected"},
                               "ResponseMetadata": {"HTTPStatusCode": 503}}, operation)
        if self.mode == "timeout":
            raise ReadTimeoutError(endpoint_url=f"https://injected/{operation}")
        if self.mode == "hang":
            self.call(client, operation, params)                 # applied; the answer never comes
            self.armed = False
            self.on_hang()                                       # the world goes on until the deadline
            self.armed = self.frozen = True
            raise self.stopped(operation)
        self.call(client, operation, params)                     # applied; the response is lost
        body = params.get("Body")
        if hasattr(body, "seek"):
            body.seek(0)                                         # botocore rewinds the body before a resend
        return self.call(client, operation, params)              # botocore's resend


class PortKiller:
    """Wraps a port (objects, jobs, events): kills the attempt before its k-th call across all ports."""

    def __init__(self, target: Any, counter: list, at: int | None, on_call=None):
        self._target, self._counter, self._at, self._on_call = target, counter, at, on_call

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            index = len(self._counter)
            self._counter.append(name)
            if index == self._at:
                if self._on_call is None:
                    raise Killed(name)
                self._on_call()
            return attr(*args, **kwargs)
        return call


class Env:
    """The deployed handler's environment with the heartbeat thread off (its beats would be timing-dependent;
    tests/unit/jobs/test_job_state_machine.py covers the heartbeat)."""

    def __init__(self, real: Any):
        self._real = real

    def settings(self) -> jobs.Settings:
        return replace(self._real.settings(), heartbeat_s=3600)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class StandInHeartbeat:
    """job_run._Heartbeat driven by the controlled clock: while a run works, Stack.hang_until_the_deadline
    renews its lease as the real thread would every few seconds (tests/unit/jobs covers the real one)."""
    beating: list = []

    def __init__(self, renew, interval, logger):
        self.renew = renew

    def __enter__(self):
        StandInHeartbeat.beating.append(self.renew)
        return self

    def __exit__(self, *exc):
        StandInHeartbeat.beating.remove(self.renew)


@pytest.fixture(scope="module")
def stack():
    injector = Injector()
    with pytest.MonkeyPatch.context() as mp, mock_aws():
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                            "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true",
                            "POWERTOOLS_LOG_LEVEL": "CRITICAL"}.items():
            mp.setenv(name, value)
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        session = boto3.Session(region_name="us-east-1")
        local = local_aws.deploy(session)
        for name, value in local.stack.function_environment().items():
            mp.setenv(name, value)
        import process_upload_handler as app
        app.reload_env()
        mp.setattr(app, "ENV", Env(app.ENV))
        mp.setattr(job_run, "_Heartbeat", StandInHeartbeat)
        mp.setattr(botocore.client.BaseClient, "_make_api_call",
                   lambda client, op, params: injector(client, op, params))
        deps = app.dependencies()
        clock = FakeClock()
        deps.clock, deps.run_job = clock, fake_engine
        sweeper = JobEnv.load(local.stack.function_environment("SweeperFunction")).settings()
        stack = Stack(session, local, app, deps, clock, injector, sweeper)
        injector.on_hang = stack.hang_until_the_deadline
        yield stack
        app.dependencies.cache_clear()


@dataclass
class Stack:
    session: Any
    local: Any
    app: Any
    deps: jobs.Deps
    clock: FakeClock
    injector: Injector
    sweeper: jobs.Settings                        # the sweeper function's settings, from the template
    counter: int = 0
    deadline: float = 0.0                         # the running attempt's: when Lambda's timeout stops it

    def __post_init__(self):
        self.s3 = self.session.client("s3")
        self.sqs = self.session.client("sqs")
        self.events_seen: list[dict] = []

    def new_job(self) -> str:
        self.counter += 1
        return f"fault-{self.counter}"

    def put(self, key: str, data: bytes) -> dict:
        return self.s3.put_object(Bucket=self.local.stack.input_bucket, Key=key, Body=data)

    def event_for(self, key: str, response: dict) -> dict:
        return make_event(self.local.stack.input_bucket, key, version_id=response["VersionId"])

    def invoke(self, event: dict) -> dict:
        timeout = self.sweeper.function_timeout_s
        self.deadline = self.clock() + timeout
        return self.app.handler(event, local_aws.LambdaContext(remaining_ms=int(timeout * 1000)))

    def hang_until_the_deadline(self) -> None:
        """An AWS call of the attempt gives no answer until the deadline, when Lambda stops the attempt
        (Injector.stopped). Meanwhile the attempt's heartbeat keeps renewing its lease, and the sweeper runs
        (once, late in the hang: a lease that was not renewed lapsed long before; lambda_async runs it again
        just before the retry)."""
        self.clock.now = self.deadline - HEARTBEAT_BEFORE_DEADLINE
        self.beat()
        self.sweep_once()
        self.clock.now = self.deadline

    @staticmethod
    def beat() -> None:
        for renew in list(StandInHeartbeat.beating):
            renew()

    def sweep_once(self) -> None:
        sweep.sweep(self.deps, self.sweeper, dead_letters=storage.SqsDeadLetters(self.local.queues["FailureQueue"]))

    def lambda_async(self, event: dict, first_attempt, later_attempts=None) -> list[str]:
        """Attempt 1 under `first_attempt` (a context), then Lambda's retries, as Lambda schedules them;
        after the last failed attempt, Lambda's on-failure destination record lands in the failure queue."""
        actions = []
        for attempt, delay in enumerate((0, *RETRY_DELAYS)):
            if delay:
                self.clock.advance(delay - 1)
                self.sweep_once()                     # the sweeper may run just before Lambda's retry
                self.clock.advance(1)
            context = first_attempt if attempt == 0 else (later_attempts or Armed(None))
            try:
                with context():
                    actions.append(self.invoke(event)["action"])
                return actions
            except (Exception, Killed) as exc:  # noqa: BLE001 - Lambda records the failed attempt and retries
                actions.append(f"raised {type(exc).__name__}")
        self.sqs.send_message(QueueUrl=self.local.queues["FailureQueue"], MessageBody=json.dumps({
            "version": "1.0", "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": event, "responsePayload": {"errorMessage": actions[-1]}}))
        return actions

    def sweep_twice(self) -> None:
        for _ in range(2):
            self.clock.advance(SWEEP_AFTER)
            self.sweep_once()

    def status(self, job_id: str) -> dict:
        return self.deps.jobs.get_status(job_id) or {}

    def forget(self, job_id: str) -> None:
        """A checked job's items leave the table, so that every sweep does not scan all the suite's jobs."""
        dynamodb = self.session.client("dynamodb")
        table = self.local.stack.table_name
        items = dynamodb.query(TableName=table, KeyConditionExpression="job_id = :j",
                               ExpressionAttributeValues={":j": {"S": job_id}}, ProjectionExpression="job_id, sk")
        for key in items["Items"]:
            dynamodb.delete_item(TableName=table, Key=key)

    def outcome_events(self, job_id: str) -> list[dict]:
        self.events_seen += local_aws.drain(self.sqs, self.local.job_events_queue_url)
        return [e for e in self.events_seen if e["detail"]["job_id"] == job_id]

    def body(self, bucket: str, key: str) -> bytes:
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def current_digest(self, job_id: str) -> str:
        bucket = self.local.stack.input_bucket
        m = self.body(bucket, f"uploads/{job_id}/memberships.xlsx")
        o = self.body(bucket, f"uploads/{job_id}/orders.xlsx")
        return hashlib.sha256(m + b"\0" + o).hexdigest()[:16]

    def committed_files(self, job_id: str) -> dict[str, bytes]:
        prefix = self.status(job_id)["output_prefix"]
        listing = self.s3.list_objects_v2(Bucket=self.local.stack.output_bucket, Prefix=prefix)
        return {o["Key"][len(prefix):]: self.body(self.local.stack.output_bucket, o["Key"])
                for o in listing.get("Contents", [])}


def start_job(stack: Stack, job_id: str) -> tuple[dict, str]:
    response = stack.put(f"uploads/{job_id}/memberships.xlsx", b"members " + job_id.encode())
    assert stack.invoke(stack.event_for(f"uploads/{job_id}/memberships.xlsx", response))["action"] == "waiting"
    stack.clock.advance(1)
    key = f"uploads/{job_id}/orders.xlsx"
    return stack.event_for(key, stack.put(key, b"orders v1 " + job_id.encode())), key


def check(stack: Stack, job_id: str, *, allow_two_events: bool = False,
          failure_codes: tuple[str, ...] = ("internal_error", "timeout")) -> dict:
    """The promises, whatever happened."""
    status = stack.status(job_id)
    assert status.get("status") in ("SUCCEEDED", "FAILED"), f"left {status.get('status')}"
    written = stack.injector.statuses(job_id)
    final = next((i for i, w in enumerate(written) if w in ("SUCCEEDED", "FAILED")), len(written))
    assert set(written[final:]) <= {status["status"]}, f"the committed status went back: {written}"
    files = stack.committed_files(job_id)
    events = stack.outcome_events(job_id)
    run_ids = [e["detail"]["run_id"] for e in events]
    assert set(run_ids) == {status["committed_run"]}, f"events for {run_ids}, committed {status['committed_run']}"
    assert len(run_ids) == 1 or (allow_two_events and len(run_ids) == 2), f"{len(run_ids)} outcome events"
    assert all(e["detail"] == events[0]["detail"] for e in events), \
        f"a resent event differs from the first: {[e['detail'] for e in events]}"
    assert "outbox" not in status, "the outcome event was never sent"
    if status["status"] == "SUCCEEDED":
        assert sorted(files) == sorted(k.rsplit("/", 1)[-1] for k in status["output_keys"])
        digest = stack.current_digest(job_id)
        report = json.loads(files.pop("report.json"))
        assert report["inputs_digest"] == digest, "results from old inputs"
        assert set(files.values()) == {f"{digest}\n".encode()}, "a mixed result set"
        assert events[0]["detail-type"] == "Segmentation Job Succeeded"
    else:
        assert list(files) == ["error.json"], f"FAILED with {sorted(files)}"
        assert json.loads(files["error.json"])["error"]["code"] in failure_codes
        assert events[0]["detail-type"] == "Segmentation Job Failed"
    stack.forget(job_id)
    return status


class Armed:
    def __init__(self, injector: Injector, at: int | None = None, mode: str | None = None):
        self.injector, self.at, self.mode = injector, at, mode

    def __call__(self):
        return self

    def __enter__(self):
        if self.injector is not None:
            self.injector.arm(self.at, self.mode)

    def __exit__(self, *exc):
        if self.injector is not None:
            self.injector.disarm()


def normal_job_calls(stack: Stack) -> list[str]:
    job_id = stack.new_job()
    event, _ = start_job(stack, job_id)
    armed = Armed(stack.injector)
    assert stack.lambda_async(event, armed) == ["succeeded"]
    calls = list(stack.injector.calls)
    check(stack, job_id)
    return calls


def test_a_normal_job_makes_a_known_sequence_of_aws_calls(stack):
    calls = normal_job_calls(stack)
    # the orders event's invocation (the memberships one made ListObjectVersions + UpdateItem: waiting)
    assert calls == [
        "ListObjectVersions",                    # the folder
        "UpdateItem",                            # claim RUN#{fingerprint}
        "GetItem",                               # committed earlier? (a retry after a lost commit response)
        "UpdateItem",                            # begin: STATUS.run_id := this attempt, if no newer inputs
        "HeadObject", "HeadObject",              # the user's own file names (metadata), by version id
        "HeadObject", "GetObject", "HeadObject", "GetObject",        # download both by version id
        "ListObjectsV2",                         # the organisation's profiles/ (none here)
        "GetItem",                               # the job's last state (none: a first run)
        "PutObject",                             # the job's copy of the run's state (results/{job}/states/)
        "PutObject", "PutObject", "PutObject", "PutObject", "PutObject",   # into the run's own folder, report last
        "ListObjectVersions",                    # still current?
        "UpdateItem",                            # THE commit (status, keys, outbox)
        "PutEvents",                             # the outcome event
        "UpdateItem",                            # clear the outbox
        "UpdateItem",                            # run item SUCCEEDED
        "ListObjectsV2",                         # older run folders to remove (none)
        "ListObjectsV2",                         # states no longer kept to remove (none)
    ]
    print(f"\nAWS calls in a normal job: {len(calls) + 2} ({len(calls)} for the completing event)")


@pytest.mark.parametrize("mode", MODES)
def test_every_aws_call_failing_once(stack, mode):
    calls = normal_job_calls(stack)
    for index, operation in enumerate(calls):
        job_id = stack.new_job()
        event, _ = start_job(stack, job_id)
        actions = stack.lambda_async(event, Armed(stack.injector, index, mode))
        stack.sweep_twice()
        try:
            status = check(stack, job_id, allow_two_events=(mode == "lost" and operation == "PutEvents"))
            assert status["status"] == "SUCCEEDED", "one transient fault must not fail the job"
        except AssertionError as exc:
            raise AssertionError(f"call {index} {operation} {mode}: {exc} (attempts: {actions})") from exc


def port_calls_of_a_normal_job(stack: Stack) -> list[str]:
    counter: list[str] = []
    job_id = stack.new_job()
    event, _ = start_job(stack, job_id)
    with wrapped_ports(stack, counter, None):
        assert stack.invoke(event)["action"] == "succeeded"
    check(stack, job_id)
    return counter


class wrapped_ports:  # noqa: N801 - a context manager used like a function
    def __init__(self, stack: Stack, counter: list, at: int | None, on_call=None):
        self.stack, self.counter, self.at, self.on_call = stack, counter, at, on_call

    def __call__(self):
        return self

    def __enter__(self):
        deps = self.stack.deps
        self.saved = (deps.objects, deps.jobs, deps.events)
        deps.objects, deps.jobs, deps.events = (PortKiller(p, self.counter, self.at, self.on_call)
                                                for p in self.saved)

    def __exit__(self, *exc):
        self.stack.deps.objects, self.stack.deps.jobs, self.stack.deps.events = self.saved


def test_the_attempt_killed_at_each_stage(stack):
    stages = port_calls_of_a_normal_job(stack)
    for index, stage in enumerate(stages):
        job_id = stack.new_job()
        event, _ = start_job(stack, job_id)
        actions = stack.lambda_async(event, wrapped_ports(stack, [], index))
        stack.sweep_twice()
        try:
            assert actions[0] == "raised Killed"
            # killed between PutEvents and the outbox flag: the event may go out twice (same run_id)
            assert check(stack, job_id, allow_two_events=(stage == "clear_outbox"))["status"] == "SUCCEEDED"
        except AssertionError as exc:
            raise AssertionError(f"killed before {index} {stage}: {exc} (attempts: {actions})") from exc


def test_every_attempt_killed_at_the_same_stage_ends_through_the_sweeper(stack):
    """Lambda's three attempts all die at the same step (a persistent OOM, say): the sweeper ends the job,
    from the run item, or from the failure queue when no attempt got as far as its claim."""
    stages = port_calls_of_a_normal_job(stack)
    outcomes = {}
    for index, stage in enumerate(stages):
        job_id = stack.new_job()
        event, _ = start_job(stack, job_id)
        killed: list[str] = []
        counters = [[], [], []]
        contexts = iter(wrapped_ports(stack, c, index) for c in counters)
        actions = stack.lambda_async(event, next(contexts), later_attempts=lambda: next(contexts))
        killed = [c[-1] for c, a in zip(counters, actions, strict=False) if a == "raised Killed"]
        stack.sweep_twice()
        try:
            status = check(stack, job_id, allow_two_events="clear_outbox" in killed)
        except AssertionError as exc:
            raise AssertionError(f"every attempt killed before {index} {stage}: {exc} ({actions})") from exc
        outcomes[stage if stage not in outcomes else f"{stage}#{index}"] = status["status"]
    # the kills before the commit leave FAILED (internal_error); after it, the committed SUCCEEDED stands
    assert outcomes["list_latest"] == outcomes["claim_run"] == outcomes["begin"] == "FAILED"
    assert outcomes["commit"] == "FAILED" and outcomes["publish"] == "SUCCEEDED"


def test_a_reupload_at_each_step_of_a_run(stack):
    stages = port_calls_of_a_normal_job(stack)
    for index, stage in enumerate(stages):
        job_id = stack.new_job()
        event, key = start_job(stack, job_id)
        second = {}

        def reupload(job_id=job_id, key=key, second=second):
            stack.clock.advance(1)
            with pytest.MonkeyPatch.context():
                stack.injector.disarm()
                second["response"] = stack.put(key, b"orders v2 " + job_id.encode())

        first_actions = stack.lambda_async(event, wrapped_ports(stack, [], index, on_call=reupload))
        # the re-upload's own event arrives after (EventBridge delivers it to another invocation)
        second_actions = stack.lambda_async(stack.event_for(key, second["response"]), Armed(stack.injector))
        stack.sweep_twice()
        try:
            status = check_newest(stack, job_id)
            assert status["status"] == "SUCCEEDED"
        except AssertionError as exc:
            raise AssertionError(f"re-upload before {index} {stage}: {exc} ({first_actions}, {second_actions})") \
                from exc


def test_a_redelivery_at_each_step_of_a_run_whose_lease_lapsed(stack):
    """The same event delivered again while the first delivery works but no longer renews its lease (its
    heartbeat stalled): the redelivery claims the run at each step of the first one's. Whichever of them
    commits, the job commits once, its status never goes back after the commit, one event goes out."""
    stages = port_calls_of_a_normal_job(stack)
    for index, stage in enumerate(stages):
        job_id = stack.new_job()
        event, _ = start_job(stack, job_id)
        second: list[str] = []

        def redeliver(event=event, second=second):
            stack.clock.advance(31)                          # past the 30 s lease
            second.append(stack.invoke(event)["action"])

        actions = stack.lambda_async(event, wrapped_ports(stack, [], index, on_call=redeliver))
        stack.sweep_twice()
        try:
            assert check(stack, job_id)["status"] == "SUCCEEDED"
        except AssertionError as exc:
            raise AssertionError(f"redelivered before {index} {stage}: {exc} ({actions}, {second})") from exc


def test_a_late_redelivery_after_the_commit_leaves_the_status_alone(stack):
    """The committing attempt died right before marking its run item, so the run is still claimable; the
    same event arrives again an hour later: it ends as a duplicate and writes nothing to the status item."""
    stages = port_calls_of_a_normal_job(stack)
    job_id = stack.new_job()
    event, _ = start_job(stack, job_id)
    with pytest.raises(Killed), wrapped_ports(stack, [], stages.index("mark_run")):
        stack.invoke(event)
    assert stack.deps.jobs.get_run(job_id, stack.status(job_id)["fingerprint"])["run_status"] == "PROCESSING"
    settled = list(stack.injector.statuses(job_id))
    stack.clock.advance(3600)
    assert stack.invoke(event)["action"] == "duplicate"
    assert stack.injector.statuses(job_id) == settled
    assert check(stack, job_id)["status"] == "SUCCEEDED"


def start_api_job(stack: Stack, job_id: str, token: str) -> tuple[dict, str, bytes, bytes]:
    """A job the upload API created: its status item holds the upload token, and each form's upload carries it
    (job_protocol.UPLOAD_TOKEN_METADATA), as the presigned POST pins it."""
    stack.session.client("dynamodb").put_item(TableName=stack.local.stack.table_name, Item={
        "job_id": {"S": job_id}, "sk": {"S": "STATUS"}, "status": {"S": "WAITING_FOR_FILES"},
        "created_by": {"S": "api"}, "upload_token": {"S": token}})
    members, orders = b"members " + job_id.encode(), b"orders v1 " + job_id.encode()
    key = f"uploads/{job_id}/memberships.xlsx"
    response = stack.s3.put_object(Bucket=stack.local.stack.input_bucket, Key=key, Body=members,
                                   Metadata={"upload-token": token})
    assert stack.invoke(stack.event_for(key, response))["action"] == "waiting"
    stack.clock.advance(1)
    key = f"uploads/{job_id}/orders.xlsx"
    response = stack.s3.put_object(Bucket=stack.local.stack.input_bucket, Key=key, Body=orders,
                                   Metadata={"upload-token": token})
    return stack.event_for(key, response), key, members, orders


def test_a_replayed_upload_form_at_each_step_of_a_run(stack):
    """The orders form of a job the API created is used again (a replayed presigned POST, other bytes) before
    each step of the run of the user's files; its own event comes afterwards. Once the run has begun, the replay
    never counts: the run stays current and commits the user's files, the replay's event is refused (or a
    duplicate) and writes nothing to the status item, one event goes out. Only a replay that lands before the
    run listed the folder is read, as the user's own second upload would be (the form is unused until then)."""
    stages = port_calls_of_a_normal_job(stack)
    for index, stage in enumerate(stages):
        job_id = stack.new_job()
        token = hashlib.sha256(job_id.encode()).hexdigest()[:32]
        event, key, members, orders = start_api_job(stack, job_id, token)
        replay = b"orders replayed " + job_id.encode()
        second = {}

        def replay_form(key=key, second=second, replay=replay, token=token):
            stack.clock.advance(1)
            with pytest.MonkeyPatch.context():
                stack.injector.disarm()
                second["response"] = stack.s3.put_object(Bucket=stack.local.stack.input_bucket, Key=key, Body=replay,
                                                         Metadata={"upload-token": token})

        first_actions = stack.lambda_async(event, wrapped_ports(stack, [], index, on_call=replay_form))
        settled = (stack.status(job_id), list(stack.injector.statuses(job_id)))
        second_actions = stack.lambda_async(stack.event_for(key, second["response"]), Armed(stack.injector))
        stack.sweep_twice()
        try:
            assert first_actions == ["succeeded"]
            assert second_actions in (["refused"], ["duplicate"])
            assert (stack.status(job_id), stack.injector.statuses(job_id)) == settled, "the replay wrote the status"
            read = replay if stage == "list_latest" and index == 0 else orders
            digest = hashlib.sha256(members + b"\0" + read).hexdigest()[:16]
            files = stack.committed_files(job_id)
            assert json.loads(files.pop("report.json"))["inputs_digest"] == digest, "not the user's files"
            assert set(files.values()) == {f"{digest}\n".encode()}
            assert [e["detail"]["run_id"] for e in stack.outcome_events(job_id)] == [settled[0]["committed_run"]]
        except AssertionError as exc:
            raise AssertionError(f"replayed before {index} {stage}: {exc} ({first_actions}, {second_actions})") \
                from exc
        stack.forget(job_id)


def check_newest(stack: Stack, job_id: str) -> dict:
    """With two input sets, either run may have committed in turn; the last commit is the current one."""
    status = stack.status(job_id)
    assert status.get("status") in ("SUCCEEDED", "FAILED"), f"left {status.get('status')}"
    events = stack.outcome_events(job_id)
    run_ids = [e["detail"]["run_id"] for e in events]
    assert len(run_ids) == len(set(run_ids)), f"an outcome event twice: {run_ids}"
    assert run_ids and run_ids[-1] == status["committed_run"], f"events {run_ids}, committed {status['committed_run']}"
    files = stack.committed_files(job_id)
    digest = stack.current_digest(job_id)
    report = json.loads(files.pop("report.json"))
    assert report["inputs_digest"] == digest, "the committed set is not from the current inputs"
    assert set(files.values()) == {f"{digest}\n".encode()}, "a mixed result set"
    stack.forget(job_id)
    return status


def engine_raising_in_its_worker(exception: BaseException):
    """The real runner and its forked worker, the engine's own code raising `exception` while consolidating."""
    from memberseg import runner

    def job(memberships, orders, staging, rules, as_of, answers, previous, report):   # runner._job's signature
        report("consolidating", {})
        raise exception

    def run_job(*args, **kwargs):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(runner, "_job", job)
            return runner.run_job(*args, **kwargs)
    return run_job


def test_an_engine_crash_on_the_input_is_final_on_the_first_attempt(stack):
    """An exception in the engine's own parsing or computing fails the same way every time: FAILED
    engine_error at once, with error.json and one Failed event; Lambda is not asked to retry it."""
    job_id = stack.new_job()
    event, _ = start_job(stack, job_id)
    stack.deps.run_job = engine_raising_in_its_worker(OverflowError("date value out of range"))
    try:
        actions = stack.lambda_async(event, Armed(stack.injector))
    finally:
        stack.deps.run_job = fake_engine
    stack.sweep_twice()
    assert actions == ["failed"]
    status = check(stack, job_id, failure_codes=("engine_error",))
    assert status["status"] == "FAILED" and "OverflowError while consolidating" in status["error"]["message"]


@pytest.mark.parametrize("hung_attempts", [1, 2])
def test_a_hang_until_the_deadline_at_each_aws_call(stack, hung_attempts):
    """One call of the attempt gets no answer until Lambda's timeout stops it (on attempt 1, or on attempts
    1 and 2). The sweeper, running meanwhile and just before each retry, leaves the run to
    Lambda's next retry, which takes it over and finishes it: SUCCEEDED, never FAILED for a slow call."""
    calls = normal_job_calls(stack)
    for index, operation in enumerate(calls):
        job_id = stack.new_job()
        event, _ = start_job(stack, job_id)
        contexts = iter([Armed(stack.injector, index, "hang")] * hung_attempts + [Armed(stack.injector)])
        actions = stack.lambda_async(event, next(contexts), later_attempts=lambda contexts=contexts: next(contexts))
        stack.sweep_twice()
        try:
            # (after a hang at the commit or later, the retry finds the commit and makes fewer calls)
            assert actions[0] == "raised Killed" and actions[-1] != "raised Killed"
            # PutEvents went out but its answer never came: the sweeper resends the stored event
            status = check(stack, job_id, allow_two_events=(operation == "PutEvents"))
            assert status["status"] == "SUCCEEDED", "a hang that Lambda's retry can finish must not fail the job"
        except AssertionError as exc:
            raise AssertionError(f"call {index} {operation} hung on {hung_attempts} attempt(s): {exc} "
                                 f"(attempts: {actions})") from exc


def test_a_botocore_fault_is_still_retried(stack):
    calls = normal_job_calls(stack)
    job_id = stack.new_job()
    event, _ = start_job(stack, job_id)
    actions = stack.lambda_async(event, Armed(stack.injector, calls.index("GetObject"), "error"))
    assert actions == ["raised ClientError", "succeeded"]
    assert check(stack, job_id)["status"] == "SUCCEEDED"


def test_the_failure_table_lists_every_step(stack):
    """docs/job-protocol.md's failure table names exactly the calls and steps this suite breaks."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "job-protocol.md").read_text()
    section = doc[doc.index("### Failure table"):doc.index("### Events")]
    rows = re.findall(r"^\| (\d+) \| (\w+) \|", section, flags=re.M)
    calls = normal_job_calls(stack)
    stages = port_calls_of_a_normal_job(stack)
    assert rows == [(str(i), c) for i, c in enumerate(calls)] + [(str(i), s) for i, s in enumerate(stages)]
    assert f"A normal job makes **{len(calls) + 2} AWS calls**" in section
    assert f"the job's {len(stages)} port calls" in section
