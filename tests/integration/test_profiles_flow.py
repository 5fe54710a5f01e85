"""The organisation's profiles in the S3 flow (issue 16 §1): `profiles/*.yaml` in the input bucket is
read by every job, inside moto's mock_aws with the real handler and the real engine.

The layout is Steady's members export (no packaged profile fits it), the worked example of
docs/rules.md and tests/unit/rules/test_user_profiles.py; the orders are a Shopify export.
"""

from __future__ import annotations

import csv
import io

import pytest
from memberseg.job_protocol import MAX_PROFILE_FILES
from memberseg.rules.bounded import RULES_MAX_BYTES
from s3_world import make_event
from steady_profile import STEADY, steady_profile_file

from test_process_upload import engine_calls  # noqa: F401 - the fixture

# what profiles.steady_members holds in docs/rules.md, as a file of its own: profiles/steady_members.yaml
STEADY_PROFILE = steady_profile_file()
SHOPIFY = ["Name", "Email", "Financial Status", "Paid at", "Currency", "Total", "Created at", "Lineitem quantity",
           "Lineitem name", "Lineitem price", "Id"]


def csv_bytes(headers: list[str], rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=headers, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


MEMBERS = csv_bytes(STEADY, [
    {"first_name": "Ana", "last_name": "Ruiz", "email": "ana@example.com", "plan_name": "Supporter",
     "plan_monthly_amount_cents": 500, "gifted": "FALSE", "subscription_period": "monthly",
     "subscription_state": "active", "subscribed_at": "2025-03-01", "expires_at": "2099-12-01"},
    {"first_name": "Cy", "last_name": "Om", "email": "cy@example.com", "plan_name": "Patron",
     "plan_monthly_amount_cents": 1500, "gifted": "FALSE", "subscription_period": "monthly",
     "subscription_state": "cancelled", "subscribed_at": "2024-01-10", "expires_at": "2025-06-10"},
    {"first_name": "Di", "last_name": "Fu", "email": "di@example.com", "plan_name": "Supporter",
     "plan_monthly_amount_cents": 500, "gifted": "FALSE", "subscription_period": "monthly",
     "subscription_state": "in_trial", "subscribed_at": "2026-11-01", "expires_at": "2099-03-01"},
])
ORDERS = csv_bytes(SHOPIFY, [
    {"Name": "#1", "Email": "ana@example.com", "Financial Status": "paid", "Currency": "EUR", "Total": "60.00",
     "Created at": "2026-05-01 10:00:00 +0200", "Lineitem quantity": 1, "Lineitem name": "Mug",
     "Lineitem price": "60.00", "Id": "1001"},
])


def run_job(world, job_id: str) -> dict:
    world.upload_and_deliver(f"uploads/{job_id}/memberships.csv", MEMBERS)
    return world.upload_and_deliver(f"uploads/{job_id}/orders.csv", ORDERS)


def failure(world, job_id: str) -> dict:
    assert world.status(job_id)["status"] == "FAILED"
    assert world.committed(job_id) == ["error.json"]
    return world.read_committed(job_id, "error.json")["error"]


def test_a_profile_placed_once_is_recognised_in_every_later_upload(world, engine_calls):
    # without it, Steady's export is no layout memberseg knows: the job fails
    assert run_job(world, "before")["action"] == "failed"

    world.put("profiles/steady_members.yaml", STEADY_PROFILE.encode())
    for job_id in ("first", "second"):
        outcome = run_job(world, job_id)
        assert outcome["action"] == "succeeded", outcome
        report = world.read_committed(job_id, "report.json")
        profile = report["inputs"]["memberships"]["profile"]
        assert profile["name"] == "steady_members"
        assert profile["origin"] == "input bucket profiles/steady_members.yaml"     # where the layout came from
        assert report["inputs"]["orders"]["profile"]["origin"] == "packaged"
        m, o = report["memberships"], report["orders"]
        assert (m["rows_in"], m["kept"], m["rejected"]) == (3, 3, 0)
        assert (o["rows_in"], o["matched"]) == (1, 1)
        assert report["status_counts"]["Inactive"] == 1                             # Cy: cancelled, ended
        assert report["status_counts"]["Active"] == 2                               # Ana (renewing), Di (trial)


def test_a_job_folders_rules_file_still_applies_over_the_profile(world, engine_calls):
    world.put("profiles/steady_members.yaml", STEADY_PROFILE.encode())
    world.put("uploads/own/rules.yaml", b"profiles: {steady_members: {memberships: {statuses: {in_trial: ended}}}}\n")
    assert run_job(world, "own")["action"] == "succeeded"
    report = world.read_committed("own", "report.json")
    assert report["inputs"]["memberships"]["profile"]["origin"] == \
        "input bucket profiles/steady_members.yaml, changed by rules file rules.yaml"
    assert report["status_counts"]["Inactive"] == 2                                 # Di's trial now ended


def test_a_broken_profile_fails_the_job_final_naming_the_file(world, engine_calls, monkeypatch):
    world.put("profiles/steady_members.yaml", STEADY_PROFILE.encode())
    world.put("profiles/acme.yaml", b"title: Acme\nmemberships:\n  fields: {email: {aliases: [Mail]}}\n")
    outcome = run_job(world, "broken")
    assert outcome["action"] == "failed"                   # final: recorded on the first attempt, not retried
    assert outcome["attempt"] == 1
    error = failure(world, "broken")
    assert error["code"] == "invalid_rules"
    assert error["file"] == "profiles/acme.yaml"
    assert "profiles/acme.yaml is invalid" in error["message"] and "a new profile needs" in error["message"]
    assert "correct or remove profiles/acme.yaml" in error["message"]
    assert engine_calls == []
    (event,) = [e for e in world.job_events() if e["detail"]["job_id"] == "broken"]
    assert event["detail-type"] == "Segmentation Job Failed" and event["detail"]["error"]["code"] == "invalid_rules"


def test_a_profile_file_that_is_not_yaml_or_limits_loosening_is_refused(world, engine_calls):
    world.put("profiles/steady_members.yaml", STEADY_PROFILE.encode() + b"limits: {max_rows: 999999999}\n")
    assert run_job(world, "loose")["action"] == "failed"
    error = failure(world, "loose")
    assert error["file"] == "profiles/steady_members.yaml" and "limits" in error["message"]

    world.put("profiles/steady_members.yaml", b"memberships: [unclosed\n")
    assert run_job(world, "notyaml")["action"] == "failed"
    assert "not valid YAML" in failure(world, "notyaml")["message"]


def test_a_profile_file_over_the_size_cap_is_refused_before_its_download(world, engine_calls, monkeypatch):
    downloads: list[str] = []
    real = world.app.dependencies().objects.download

    def recording(bucket, key, version_id, dest):
        downloads.append(key)
        return real(bucket, key, version_id, dest)

    monkeypatch.setattr(world.app.dependencies().objects, "download", recording)
    big = STEADY_PROFILE.encode() + b"#" * RULES_MAX_BYTES
    world.put("profiles/steady_members.yaml", big)
    assert run_job(world, "big")["action"] == "failed"
    error = failure(world, "big")
    assert error["code"] == "rules_too_large" and error["file"] == "profiles/steady_members.yaml"
    assert f"{len(big):,} bytes" in error["message"] and "64 KB" in error["message"]
    assert "profiles/steady_members.yaml" not in downloads


def test_too_many_profile_files_are_refused(world, engine_calls):
    for index in range(MAX_PROFILE_FILES + 1):
        world.put(f"profiles/p{index:02d}.yaml", b"{}\n")
    assert run_job(world, "many")["action"] == "failed"
    error = failure(world, "many")
    assert error["code"] == "invalid_rules" and error["file"] == "profiles/"
    assert f"holds {MAX_PROFILE_FILES + 1} profile files; a job reads at most {MAX_PROFILE_FILES}" in error["message"]


def test_one_profile_in_two_files_is_refused(world, engine_calls):
    world.put("profiles/steady_members.yaml", STEADY_PROFILE.encode())
    world.put("profiles/steady_members.yml", STEADY_PROFILE.encode())
    assert run_job(world, "twice")["action"] == "failed"
    assert "both define the profile 'steady_members'" in failure(world, "twice")["message"]


def test_other_objects_under_profiles_are_left_alone(world, engine_calls):
    world.put("profiles/README.txt", b"our profiles")
    world.put("profiles/old/steady_members.yaml", b"not: [read")
    world.put("profiles/steady_members.yaml", STEADY_PROFILE.encode())
    assert run_job(world, "others")["action"] == "succeeded"


def test_an_upload_into_profiles_starts_nothing(world, engine_calls):
    world.put("profiles/steady_members.yaml", STEADY_PROFILE.encode())
    assert world.trigger_events() == []                     # the template's rule matches uploads/ only
    outcome = world.invoke(make_event(world.input_bucket, "profiles/steady_members.yaml"))
    assert outcome == {"action": "ignored", "reason": "not_in_job_folder"}       # and the handler's own check
    assert engine_calls == [] and world.results("profiles") == []


def test_a_fault_while_listing_the_profiles_is_transient(world, engine_calls, monkeypatch):
    objects = world.app.dependencies().objects

    def broken(bucket, prefix, limit):
        raise OSError("connection reset")

    monkeypatch.setattr(objects, "list_objects", broken)
    world.upload_and_deliver("uploads/blip/memberships.csv", MEMBERS)
    with pytest.raises(OSError):
        world.upload_and_deliver("uploads/blip/orders.csv", ORDERS)
    assert world.status("blip")["status"] == "PROCESSING"   # Lambda retries it
