"""End to end over real HTTP: moto's server on 127.0.0.1, resources from template.yaml,
S3 -> EventBridge (the template's rule) -> function -> output bucket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

import local_aws

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.enable_socket]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch, fake_aws_credentials):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    assert host == "127.0.0.1"
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_upload_triggers_the_function_and_outputs_land_in_the_output_bucket(moto_server, deploy_process_function):
    session = boto3.Session(region_name="us-east-1")
    local, app = deploy_process_function(session)
    s3, sqs = session.client("s3"), session.client("sqs")
    # EventBridge on for the output bucket too: the rule must still ignore its objects
    s3.put_bucket_notification_configuration(Bucket=local.stack.output_bucket,
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})

    job_id = "Q4 Kündigungen"
    actions = []
    for path, name in ((EXAMPLES / "orders.xlsx", "Orders Q4.xlsx"),
                       (EXAMPLES / "memberships.xlsx", "Memberships Q4.xlsx")):
        s3.upload_file(str(path), local.stack.input_bucket, f"uploads/{job_id}/{name}")
        delivered = local_aws.drain(sqs, local.trigger_queue_url)
        assert [e["detail"]["object"]["key"] for e in delivered] == [f"uploads/{job_id}/{name}"]
        for event in delivered:
            actions.append(app.handler(local_aws.as_delivered_by_aws(event), local_aws.LambdaContext())["action"])
    assert actions == ["waiting", "succeeded"]

    committed = app.dependencies().jobs.get_status(job_id)["output_prefix"]
    assert committed.startswith(f"results/{job_id}/runs/")
    listing = s3.list_objects_v2(Bucket=local.stack.output_bucket, Prefix=f"results/{job_id}/")
    run_id = committed.rstrip("/").rsplit("/", 1)[-1]
    assert sorted(o["Key"] for o in listing["Contents"]) == [committed + name for name in (
        "customer_state.csv.gz", "hubspot_contacts.csv", "hubspot_properties.json", "membership_segments.xlsx",
        "report.json")] + [f"results/{job_id}/states/{run_id}.csv.gz"]   # the job's kept copy of the state
    head = s3.head_object(Bucket=local.stack.output_bucket, Key=committed + "hubspot_contacts.csv")
    assert head["ContentType"].startswith("text/csv")
    report = json.loads(s3.get_object(Bucket=local.stack.output_bucket,
                                      Key=committed + "report.json")["Body"].read())
    assert report["memberships"]["rows_in"] == 352

    # the function's writes to the output bucket went through EventBridge and started nothing
    assert local_aws.drain(sqs, local.trigger_queue_url) == []
    (event,) = local_aws.drain(sqs, local.job_events_queue_url)
    assert event["detail-type"] == "Segmentation Job Succeeded"
    assert event["detail"]["job_id"] == job_id
    assert event["detail"]["counts"]["rows_in"] == 352
    status = app.dependencies().jobs.get_status(job_id)
    assert status["status"] == "SUCCEEDED"


def test_demo_s3_runs_the_real_flow_and_writes_out(tmp_path):
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo_local.py"), "--out", str(out),
                             "--as-of", "2026-11-15", "--job-id", "demo-test"],
                            capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "job demo-test: SUCCEEDED" in result.stdout
    assert "-> waiting (missing orders)" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "customer_state.csv.gz", "hubspot_contacts.csv", "hubspot_properties.json", "membership_segments.xlsx",
        "report.json"]
    report = json.loads((out / "report.json").read_text())
    assert report["as_of"] == "2026-11-15"
