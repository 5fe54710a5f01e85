"""The S3 flow's HubSpot push on moto (in-process): a real job commits, its "Segmentation Job Succeeded"
event goes to the push handler (functions/hubspot_push/push_handler.py, environment from template.yaml),
which reads the token from Secrets Manager and pushes to the fake HubSpot over HTTP on 127.0.0.1."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

import local_aws
import memberseg.runner
from fake_hubspot import TOKEN, FakeHubSpot
from s3_world import EXAMPLES

MEMBERSHIPS = EXAMPLES / "memberships.xlsx"
ORDERS = EXAMPLES / "orders.xlsx"


@pytest.fixture
def portal():
    with FakeHubSpot() as fake:
        yield fake


@pytest.fixture
def pusher(world, portal, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    secret = world.session.client("secretsmanager").create_secret(Name="hubspot-token", SecretString=TOKEN)["ARN"]
    for name, value in world.local.stack.function_environment("HubSpotPushFunction").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HUBSPOT_TOKEN_SECRET_ARN", secret)
    monkeypatch.setenv("HUBSPOT_API_BASE", portal.url)
    monkeypatch.setenv("PUSH_WORK_DIR", str(tmp_path))
    import push_handler as app
    app.reload_env()
    app.dependencies().sleep = lambda seconds: None     # the fake's imports advance per poll, not per second
    yield app
    app.dependencies.cache_clear()


def run_job(world, job_id: str) -> dict:
    world.upload_and_deliver(f"uploads/{job_id}/memberships.xlsx", MEMBERSHIPS)
    assert world.upload_and_deliver(f"uploads/{job_id}/orders.xlsx", ORDERS)["action"] == "succeeded"
    succeeded = [e for e in world.job_events() if e["detail-type"] == "Segmentation Job Succeeded"]
    assert len(succeeded) == 1
    return succeeded[0]


def deliver(app, event: dict) -> dict:
    return app.handler(event, local_aws.LambdaContext(function_name="memberseg-hubspot-push", remaining_ms=300_000))


def test_a_committed_run_is_imported_once_with_its_result_beside_the_outputs(world, portal, pusher) -> None:
    event = run_job(world, "push-1")
    outcome = deliver(pusher, event)
    assert outcome["action"] == "pushed" and outcome["state"] == "DONE"

    rows = list(csv.DictReader(io.StringIO(world.s3.get_object(
        Bucket=world.output_bucket, Key=world.committed_prefix("push-1") + "hubspot_contacts.csv")["Body"]
        .read().decode("utf-8-sig"))))
    assert len(portal.imports) == 1
    assert set(portal.contacts) == {row["email"].lower() for row in rows}
    hubspot = world.status("push-1")["hubspot"]
    assert (hubspot["state"], hubspot["created"], hubspot["updated"], hubspot["errors"]) == ("DONE", len(rows), 0, 0)
    assert "hubspot_import.json" in world.committed("push-1")
    saved = world.read_committed("push-1", "hubspot_import.json")
    assert [entry["state"] for entry in saved["imports"]] == ["DONE"]
    events = world.job_events()
    assert [e["detail-type"] for e in events] == ["HubSpot Import Finished"]
    assert events[0]["detail"]["run_id"] == event["detail"]["run_id"]

    again = deliver(pusher, event)                      # EventBridge delivers at least once
    assert again["action"] == "duplicate"
    assert len(portal.imports) == 1 and world.job_events() == []
    posts = [r for r in portal.requests if r[0] == "POST" and r[1].startswith("/crm/v3/imports")]
    assert len(posts) == 1


def test_a_job_whose_rules_opt_out_is_not_pushed(world, portal, pusher) -> None:
    rules = (Path(memberseg.runner.__file__).parent / "default_rules.yaml").read_text()
    assert "  push: true" in rules
    world.put("uploads/quiet/rules.yaml", rules.replace("  push: true", "  push: false").encode())
    outcome = deliver(pusher, run_job(world, "quiet"))
    assert outcome["action"] == "skipped"
    assert world.status("quiet")["hubspot"]["state"] == "SKIPPED"
    assert portal.requests == [] and world.job_events() == []


def test_a_bad_token_fails_the_push_and_says_so(world, portal, pusher) -> None:
    portal.token = "another-token"       # noqa: S105 - the portal no longer accepts ours
    outcome = deliver(pusher, run_job(world, "denied"))
    assert outcome["state"] == "FAILED"
    hubspot = world.status("denied")["hubspot"]
    assert hubspot["error"]["code"] == "exit_2"
    assert "token" in hubspot["error"]["message"].lower() and TOKEN not in hubspot["error"]["message"]
    assert [e["detail-type"] for e in world.job_events()] == ["HubSpot Import Failed"]
    assert portal.imports == {}
