"""End to end over real HTTP: moto's server on 127.0.0.1 as the AWS, the fake HubSpot on 127.0.0.1 as the
portal. Upload -> the template's S3 rule -> the processing function -> "Segmentation Job Succeeded" -> the
template's push rule -> the push function (token from Secrets Manager) -> HubSpot -> the status, the result
file and the "HubSpot Import Finished" event; the API core's view of it (api_core.hubspot_view)."""

from __future__ import annotations

import json
import time
import urllib.request

import boto3
import pytest

import local_aws
from fake_hubspot import TOKEN, FakeHubSpot
from test_s3_flow import EXAMPLES, moto_server  # noqa: F401 - the fixture

pytestmark = [pytest.mark.e2e, pytest.mark.enable_socket]


def _queue_for_rule(session, rule_name: str, pattern: dict, queue: str) -> str:
    sqs, events = session.client("sqs"), session.client("events")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=rule_name, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=rule_name, Targets=[{"Id": "push", "Arn": arn}])
    return url


def test_a_succeeded_job_is_pushed_to_hubspot_once(moto_server, deploy_process_function,  # noqa: F811
                                                   monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    # moto's backends live in this process, shared by every server started in it: start from empty
    urllib.request.urlopen(urllib.request.Request(moto_server + "/moto-api/reset", method="POST"),  # noqa: S310
                           timeout=10).close()
    session = boto3.Session(region_name="us-east-1")
    local, process = deploy_process_function(session)
    monkeypatch.setenv("JOB_AS_OF", "2026-11-15")      # both runs below on one as-of date, whatever the clock
    process.reload_env()
    s3, sqs = session.client("s3"), session.client("sqs")
    rule_name, pattern = local.stack.trigger_rule("HubSpotPushFunction")
    push_queue = _queue_for_rule(session, rule_name, pattern, "hubspot-push-trigger")

    with FakeHubSpot() as portal:
        secret = session.client("secretsmanager").create_secret(Name="hubspot", SecretString=json.dumps(
            {"access_token": TOKEN}))["ARN"]
        for name, value in local.stack.function_environment("HubSpotPushFunction").items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("HUBSPOT_TOKEN_SECRET_ARN", secret)
        monkeypatch.setenv("HUBSPOT_API_BASE", portal.url)
        monkeypatch.setenv("PUSH_WORK_DIR", str(tmp_path))
        import push_handler
        push_handler.reload_env()
        push_handler.dependencies().sleep = lambda seconds: None   # the fake advances an import per poll

        job_id = "push-e2e"
        for name in ("memberships.xlsx", "orders.xlsx"):
            s3.upload_file(str(EXAMPLES / name), local.stack.input_bucket, f"uploads/{job_id}/{name}")
            for event in local_aws.drain(sqs, local.trigger_queue_url):
                process.handler(local_aws.as_delivered_by_aws(event), local_aws.LambdaContext())

        delivered = local_aws.drain(sqs, push_queue)        # only the Succeeded event matches the push rule
        assert [e["detail-type"] for e in delivered] == ["Segmentation Job Succeeded"]
        context = local_aws.LambdaContext(function_name="memberseg-hubspot-push", remaining_ms=300_000)
        outcomes = [push_handler.handler(delivered[0], context)["action"] for _ in range(2)]   # and a redelivery
        assert outcomes == ["pushed", "duplicate"]

        status = process.dependencies().jobs.get_status(job_id)
        hubspot = status["hubspot"]
        report = json.loads(s3.get_object(Bucket=local.stack.output_bucket,
                                          Key=status["output_prefix"] + "report.json")["Body"].read())
        assert len(portal.imports) == 1
        assert len(portal.contacts) == report["hubspot"]["rows"]
        assert (hubspot["state"], hubspot["created"], hubspot["updated"]) == ("DONE", report["hubspot"]["rows"], 0)
        saved = json.loads(s3.get_object(Bucket=local.stack.output_bucket,
                                         Key=status["output_prefix"] + "hubspot_import.json")["Body"].read())
        assert [entry["state"] for entry in saved["imports"]] == ["DONE"]
        events = [e["detail-type"] for e in local_aws.drain(sqs, local.job_events_queue_url)]
        assert events == ["Segmentation Job Succeeded", "HubSpot Import Finished"]
        assert local_aws.drain(sqs, push_queue) == []       # the push's own event triggers no second push
        assert status["hubspot_accepted"]["run"] == status["committed_run"]

        # The job's next run (the orders uploaded again, the same file): its push compares with the state the
        # first push made current, finds nothing changed and sends HubSpot nothing at all.
        requests = len(portal.requests)
        time.sleep(1.02 - time.time() % 1)                  # a newer input version: a later LastModified second
        s3.upload_file(str(EXAMPLES / "orders.xlsx"), local.stack.input_bucket, f"uploads/{job_id}/orders.xlsx")
        for event in local_aws.drain(sqs, local.trigger_queue_url):
            process.handler(local_aws.as_delivered_by_aws(event), local_aws.LambdaContext())
        delivered = local_aws.drain(sqs, push_queue)
        assert [e["detail-type"] for e in delivered] == ["Segmentation Job Succeeded"]
        assert push_handler.handler(delivered[0], context)["action"] == "pushed"
        second = process.dependencies().jobs.get_status(job_id)
        assert second["committed_run"] != status["committed_run"]
        assert second["hubspot"]["state"] == "DONE" and second["hubspot"]["sent"] == {
            "added": 0, "changed": 0, "unchanged": report["hubspot"]["rows"], "cleared": 0}
        assert second["hubspot_accepted"]["run"] == second["committed_run"]
        assert len(portal.requests) == requests and len(portal.imports) == 1
        push_handler.dependencies.cache_clear()

    import api_core
    view = api_core.hubspot_view(status)
    assert view is not None and (view["created"], view["errors"]) == (report["hubspot"]["rows"], 0)
