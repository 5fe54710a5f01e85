"""Saving a profile from the page and re-running a failed job (issue 16 §5, the API's part), against moto
with the real API handler and the real processing handler and engine: PUT /profiles/{name} checks the
profile with the engine's rules and saves it as profiles/<name>.yaml; POST /jobs/{job_id}/rerun runs a
FAILED job again from the same files; the next upload of that layout needs neither."""

from __future__ import annotations

import json

import pytest

from api_support import Context, http_event
from s3_world import make_event
from test_profiles_flow import MEMBERS, ORDERS, STEADY_PROFILE

JOB = "0123456789abcdef0123456789abcdef"
NEXT = "fedcba9876543210fedcba9876543210"
RULES = "profiles:\n  steady_members:\n" + "".join(f"    {line}\n" for line in STEADY_PROFILE.splitlines())


def call(module, method, path, body=None, query=None):
    event = http_event(method, path, body)
    if query:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    response = module.handler(event, Context())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def upload_job(world, job_id: str) -> dict:
    world.upload_and_deliver(f"uploads/{job_id}/memberships.csv", MEMBERS)
    return world.upload_and_deliver(f"uploads/{job_id}/orders.csv", ORDERS)


def test_save_a_profile_then_rerun_the_failed_job_and_the_next_upload_needs_nothing(world, api):
    assert upload_job(world, JOB)["action"] == "failed"               # a layout no profile fits
    assert call(api, "GET", f"/jobs/{JOB}")[1]["status"] == "FAILED"

    status, saved = call(api, "PUT", "/profiles/steady_members", RULES)
    assert status == 201, saved
    assert saved == {"name": "steady_members", "key": "profiles/steady_members.yaml", "replaced": False,
                     "bytes": saved["bytes"], "origin": "input bucket profiles/steady_members.yaml"}
    stored = world.s3.get_object(Bucket=world.input_bucket, Key="profiles/steady_members.yaml")
    assert stored["ContentType"] == "application/yaml; charset=utf-8"
    assert "subscription_state" in stored["Body"].read().decode()
    delivered = [e["detail"]["object"]["key"] for e in world.trigger_events()]
    assert delivered and all(key.startswith(f"uploads/{JOB}/") for key in delivered)   # the save started nothing

    status, rerun = call(api, "POST", f"/jobs/{JOB}/rerun")
    assert status == 202 and rerun["job_id"] == JOB
    marker = world.s3.head_object(Bucket=world.input_bucket, Key=f"uploads/{JOB}/rerun.json")
    outcome = world.invoke(make_event(world.input_bucket, f"uploads/{JOB}/rerun.json",
                                      version_id=marker.get("VersionId"), etag=marker["ETag"].strip('"')))
    assert outcome["action"] == "succeeded", outcome
    status, view = call(api, "GET", f"/jobs/{JOB}")
    assert view["status"] == "SUCCEEDED"
    assert [f["name"] for f in view["files"]] == ["memberships.csv", "orders.csv"]   # the marker is no file of theirs
    assert view["summary"]["inputs"]["memberships"]["profile"] == "steady_members"
    assert view["summary"]["customers"] == 3

    # a finished job is not run again; a redelivery of the marker's event is a duplicate
    assert call(api, "POST", f"/jobs/{JOB}/rerun")[0] == 409
    assert world.invoke(make_event(world.input_bucket, f"uploads/{JOB}/rerun.json"))["action"] == "duplicate"

    assert upload_job(world, NEXT)["action"] == "succeeded"            # the same layout again: recognised


def test_a_saved_profile_is_replaced_only_when_asked(world, api):
    assert call(api, "PUT", "/profiles/steady_members", RULES)[0] == 201
    status, body = call(api, "PUT", "/profiles/steady_members", RULES)
    assert status == 409 and "replace=true" in body["message"]
    status, body = call(api, "PUT", "/profiles/steady_members", RULES.replace("cancelled: ended", "cancelled: ended\n"
                                                                              "        paused: ended"),
                        query={"replace": "true"})
    assert status == 200 and body["replaced"] is True
    stored = world.s3.get_object(Bucket=world.input_bucket, Key="profiles/steady_members.yaml")["Body"].read()
    assert b"paused: ended" in stored


@pytest.mark.parametrize("name, text, words", [
    ("shopify_orders", RULES.replace("steady_members", "shopify_orders"), "is a packaged profile"),
    ("Steady-Members", RULES, "lowercase letters"),
    ("steady_members", "profiles:\n  steady_members:\n    title: Steady\n", "a new profile needs"),
    ("steady_members", RULES + "status: {expiring_soon_days: 45}\n", "and nothing else (it also holds status)"),
    ("steady_members", RULES.replace("steady_members", "other_members"), "also holds profiles.other_members"),
    ("steady_members", "profiles: [unclosed\n", "not valid YAML"),
    ("steady_members", RULES + "#" * 70_000 + "\n", "at most 64 KB"),
])
def test_a_profile_the_engine_would_refuse_is_not_saved(world, api, name, text, words):
    status, body = call(api, "PUT", f"/profiles/{name}", text)
    assert status == 400 and words in body["message"], body
    assert world.s3.list_objects_v2(Bucket=world.input_bucket, Prefix="profiles/").get("KeyCount", 0) == 0


def test_a_profile_is_checked_beside_the_saved_ones(world, api):
    assert call(api, "PUT", "/profiles/steady_members", RULES)[0] == 201
    twin = RULES.replace("steady_members", "steady_copy")
    status, body = call(api, "PUT", "/profiles/steady_copy", twin)
    assert status == 400 and "the same headers as the profile 'steady_members'" in body["message"]


def test_only_a_failed_job_with_its_files_is_rerun(world, api):
    assert call(api, "POST", f"/jobs/{JOB}/rerun")[0] == 404
    world.upload_and_deliver(f"uploads/{JOB}/memberships.csv", MEMBERS)
    status, body = call(api, "POST", f"/jobs/{JOB}/rerun")
    assert status == 409 and "WAITING_FOR_FILES" in body["message"]
    assert call(api, "POST", "/jobs/not-a-job/rerun")[0] == 400
