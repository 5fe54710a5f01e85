"""A job whose files no profile fits, in the S3 flow (moto, handlers in-process): it ends FAILED with
needs_answers (final, its Failed event carrying the code, proposal.json kept beside error.json); the API
serves the questions and takes the answers (uploads/{job}/answers.json), which re-runs the job; the engine
completes the profile, the job saves it as profiles/NAME.yaml and succeeds with the right numbers."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from api_support import Context, http_event
from mapping_fixture import ANSWERS, MEMBERSHIPS, ORDERS, TOTALS
from s3_world import make_event
import serve_local

def call(module, method, path, body=None):
    response = module.handler(http_event(method, path, body), Context())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def asked(world, job_id: str) -> dict:
    world.upload_and_deliver(f"uploads/{job_id}/memberships.csv", MEMBERSHIPS)
    return world.upload_and_deliver(f"uploads/{job_id}/orders.csv", ORDERS)


def deliver_answers(world, job_id: str) -> dict:
    key = f"uploads/{job_id}/answers.json"
    head = world.s3.head_object(Bucket=world.input_bucket, Key=key)
    return world.invoke(make_event(world.input_bucket, key, version_id=head.get("VersionId"),
                                   etag=head["ETag"].strip('"')))


def totals(world, job_id: str) -> dict[str, Decimal]:
    prefix = world.committed_prefix(job_id)
    text = world.s3.get_object(Bucket=world.output_bucket, Key=prefix + "hubspot_contacts.csv")["Body"].read()
    return {row["email"]: Decimal(row["total_order_value"]) for row in csv.DictReader(io.StringIO(text.decode()))}


def test_a_new_layout_ends_failed_needs_answers_final_with_its_proposal_kept(world, api):
    job_id = "a" * 32
    outcome = asked(world, job_id)
    assert outcome["action"] == "failed"
    assert world.committed(job_id) == ["error.json", "proposal.json", "proposal.yaml"]
    status = world.status(job_id)
    assert status["status"] == "FAILED" and status["error"]["code"] == "needs_answers"
    proposal = world.read_committed(job_id, "proposal.json")
    assert sorted(q["id"] for q in proposal["questions"]) == sorted(ANSWERS)
    failed = [e for e in world.job_events() if e["detail-type"] == "Segmentation Job Failed"]
    assert len(failed) == 1 and failed[0]["detail"]["error"]["code"] == "needs_answers"
    assert failed[0]["detail"]["output_keys"][-1].endswith("/error.json")
    # final: a redelivery does not run it again
    again = world.invoke(make_event(world.input_bucket, f"uploads/{job_id}/orders.csv"))
    assert again["action"] == "duplicate"

    # the API shows the questions, with sample values, a default profile name and the run that asked
    code, view = call(api, "GET", f"/jobs/{job_id}")
    assert code == 200 and view["status"] == "FAILED" and view["error"]["code"] == "needs_answers"
    mapping = view["mapping"]
    assert [q["id"] for q in mapping["questions"]] == [q["id"] for q in proposal["questions"]]
    expiry = next(q for q in mapping["questions"] if q["id"] == "memberships.field.expiration_date")
    assert {c["column"]: c["samples"] for c in expiry["candidates"]}["Next Charge Date"][:1] == \
        ["2026-12-01 09:00:00.000000"]
    assert mapping["profile_name"] == "memberships"
    assert world.committed_prefix(job_id).endswith(mapping["run_id"] + "/")


@pytest.mark.parametrize("body, message", [
    ({"profile_name": "Bad Name", "answers": ANSWERS}, "profile_name"),
    ({"profile_name": "patreon_kofi", "answers": {**ANSWERS, "nope": 1}}, "no question"),
    ({"profile_name": "patreon_kofi", "answers": {k: v for k, v in ANSWERS.items() if k != "memberships.names"}},
     "not answered"),
    ({"profile_name": "patreon_kofi", "answers": {**ANSWERS, "memberships.names": "robots"}}, "not one of"),
])
def test_answers_that_cannot_fit_are_refused_before_anything_runs(world, api, body, message):
    job_id = "b" * 32
    asked(world, job_id)
    code, answer = call(api, "POST", f"/jobs/{job_id}/answers", body)
    assert code == 400 and message in answer["message"]
    listing = world.s3.list_objects_v2(Bucket=world.input_bucket, Prefix=f"uploads/{job_id}/")
    assert [o["Key"].rsplit("/", 1)[-1] for o in listing["Contents"]] == ["memberships.csv", "orders.csv"]


def test_answers_only_for_a_job_that_asks(world, api):
    code, _ = call(api, "POST", f"/jobs/{'c' * 32}/answers", {"profile_name": "x", "answers": {}})
    assert code == 404
    job_id = "d" * 32
    world.upload_and_deliver(f"uploads/{job_id}/memberships.xlsx", serve_local.ROOT / "examples" / "memberships.xlsx")
    assert world.upload_and_deliver(f"uploads/{job_id}/orders.xlsx",
                                    serve_local.ROOT / "examples" / "orders.xlsx")["action"] == "succeeded"
    code, answer = call(api, "POST", f"/jobs/{job_id}/answers", {"profile_name": "x", "answers": {}})
    assert code == 409 and "not waiting for answers" in answer["message"]


def test_answering_reruns_the_job_saves_the_profile_and_gets_the_right_numbers(world, api):
    job_id = "e" * 32
    asked(world, job_id)
    world.job_events()
    world.next_second()
    code, accepted = call(api, "POST", f"/jobs/{job_id}/answers", {"profile_name": "patreon_kofi", "answers": ANSWERS})
    assert code == 202 and accepted == {"job_id": job_id, "status": "PROCESSING",
                                        "profile_key": "profiles/patreon_kofi.yaml"}
    stored = json.loads(world.s3.get_object(Bucket=world.input_bucket,
                                            Key=f"uploads/{job_id}/answers.json")["Body"].read())
    assert stored == {"profile_name": "patreon_kofi", "answers": ANSWERS}

    assert deliver_answers(world, job_id)["action"] == "succeeded"
    assert totals(world, job_id) == TOTALS
    # the finished profile is saved where every later job reads it, and kept with the run's results
    saved = world.s3.get_object(Bucket=world.input_bucket, Key="profiles/patreon_kofi.yaml")["Body"].read().decode()
    assert "Next Charge Date" in saved and "TransactionId" in saved
    assert "profile.yaml" in world.committed(job_id)
    report = world.read_committed(job_id, "report.json")
    assert report["memberships"]["kept"] == 3 and report["memberships"]["rejected"] == 2
    code, view = call(api, "GET", f"/jobs/{job_id}")
    assert view["status"] == "SUCCEEDED" and "mapping" not in view
    assert [e["detail-type"] for e in world.job_events()] == ["Segmentation Job Succeeded"]

    # the next upload of the same layout is read with the saved profile: no question, the same numbers
    again = "9" * 32
    assert asked(world, again)["action"] == "succeeded"
    assert totals(world, again) == TOTALS
    inputs = world.read_committed(again, "report.json")["inputs"]
    assert {inputs[role]["profile"]["name"] for role in ("memberships", "orders")} == {"patreon_kofi"}
    assert inputs["memberships"]["profile"]["origin"] == "input bucket profiles/patreon_kofi.yaml"


def test_a_packaged_profile_name_is_refused_by_the_job(world, api):
    job_id = "f" * 32
    asked(world, job_id)
    world.next_second()
    code, _ = call(api, "POST", f"/jobs/{job_id}/answers", {"profile_name": "stripe_payments", "answers": ANSWERS})
    assert code == 202
    assert deliver_answers(world, job_id)["action"] == "failed"
    status = world.status(job_id)
    assert status["error"]["code"] == "invalid_answers" and "stripe_payments" in status["error"]["message"]
    listing = world.s3.list_objects_v2(Bucket=world.input_bucket, Prefix="profiles/")
    assert listing.get("KeyCount", 0) == 0
