"""The sweeper's Lambda handler with the template's environment, on moto: a job whose three
attempts all died (Lambda's on-failure record says so) is marked FAILED with error.json and a
Failed event, and StuckJobs is emitted."""

from __future__ import annotations

import json

import pytest
from s3_world import EXAMPLES, load_event, make_event

import local_aws


JOB = "d1e2a3d4" * 4          # an id the upload API would mint, so its view can be checked too


class Killed(BaseException):
    pass


@pytest.fixture
def sweeper(world, monkeypatch):
    for name, value in world.local.stack.function_environment("SweeperFunction").items():
        monkeypatch.setenv(name, value)
    import sweeper_handler
    sweeper_handler.reload_env()
    yield sweeper_handler
    sweeper_handler.dependencies.cache_clear()
    sweeper_handler.dead_letters.cache_clear()


def test_the_sweeper_fails_a_job_whose_attempts_all_died_and_reports_it(world, sweeper, monkeypatch, capsys):
    import memberseg.runner

    def oom(*args, **kwargs):
        raise Killed()

    monkeypatch.setattr(memberseg.runner, "run_job", oom)
    world.upload_and_deliver(f"uploads/{JOB}/memberships.xlsx", EXAMPLES / "memberships.xlsx")
    event = make_event(world.input_bucket, f"uploads/{JOB}/orders.xlsx",
                       version_id=world.put(f"uploads/{JOB}/orders.xlsx", EXAMPLES / "orders.xlsx")["VersionId"])
    clock = [2_000_000_000.0]
    for deps in (world.app.dependencies(), sweeper.dependencies()):
        monkeypatch.setattr(deps, "clock", lambda: clock[0])
    for delay in (0, 60, 120):                      # Lambda's three attempts, each killed
        clock[0] += delay
        with pytest.raises(Killed):
            world.invoke(event)
    assert world.status(JOB)["status"] == "PROCESSING"
    clock[0] += 60
    # no on-failure record yet: Lambda may still hold a retry, so the sweeper leaves the run alone
    assert sweeper.handler({}, local_aws.LambdaContext("memberseg-sweeper", 512))["waiting_for_retry"] == 1
    assert world.status(JOB)["status"] == "PROCESSING"
    record = json.loads((local_aws.ROOT / "events" / "failure_destination_record.json").read_text())
    record["requestPayload"] = event                # Lambda's record after the third attempt: all are spent
    world.sqs.send_message(QueueUrl=world.local.queues["FailureQueue"], MessageBody=json.dumps(record))
    capsys.readouterr()
    result = sweeper.handler(load_event("sweeper_schedule.json"), local_aws.LambdaContext("memberseg-sweeper", 512))
    assert result["failed"] == [JOB]
    status = world.status(JOB)
    assert status["status"] == "FAILED" and status["error"]["code"] == "internal_error"
    assert world.committed(JOB) == ["error.json"]
    assert [e["detail-type"] for e in world.job_events()] == ["Segmentation Job Failed"]
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (emf,) = [m for m in metrics if "StuckJobs" in m]
    assert emf["StuckJobs"] in (1, [1], 1.0, [1.0]) and emf["service"] == "memberseg-sweeper"
    # the page shows it in plain words, from the committed run's error.json
    import api_core
    import api_service
    import api_storage

    settings = api_core.Settings(input_bucket=world.input_bucket, output_bucket=world.output_bucket,
                                 table_name=world.local.stack.table_name)
    view = api_service.describe_job(settings, api_service.Deps(objects=api_storage.S3Objects(),
                                                               jobs=api_storage.JobTable(settings.table_name)), JOB)
    assert view["status"] == "FAILED" and view["error"]["code"] == "internal_error"
    assert view["message"].startswith("The job could not be completed because of an internal fault")
    # nothing is left for the next sweep
    assert sweeper.handler({}, local_aws.LambdaContext("memberseg-sweeper", 512))["failed"] == []


def test_the_sweeper_reads_the_failure_queue_the_template_names(world, sweeper):
    queue_url = world.local.queues["FailureQueue"]
    world.put("uploads/never/memberships.xlsx", b"m")
    world.put("uploads/never/orders.xlsx", b"o")            # no attempt ever got as far as its claim
    record = json.loads((local_aws.ROOT / "events" / "failure_destination_record.json").read_text())
    record["requestPayload"]["detail"]["bucket"]["name"] = world.input_bucket
    record["requestPayload"]["detail"]["object"]["key"] = "uploads/never/orders.xlsx"
    world.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))
    result = sweeper.handler({}, local_aws.LambdaContext("memberseg-sweeper", 512))
    assert result["failed"] == ["never"] and result["dead_events"] == 1
    assert world.status("never")["status"] == "FAILED"
    assert world.sqs.receive_message(QueueUrl=queue_url).get("Messages") is None
