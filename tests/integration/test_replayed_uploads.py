"""Single-use upload forms (docs/job-protocol.md, "Upload tokens: pairing and single-use forms"), on moto with
the real API and processing handlers and the real engine: a presigned POST replayed after a run of its files
began, or after a newer request (POST /jobs/{id}/uploads) replaced the job's token (a form is valid for
15 minutes), is refused by the processing function. The status item, the committed run, its files and its
event stay exactly as they were, whether the job had SUCCEEDED or was PROCESSING.

moto does not enforce POST policies (tests/unit/api/test_api_policy.py proves the token is pinned); the guard
proven here is the processing side's, which is the real one: a form's upload carries its request's token.
"""

from __future__ import annotations

import memberseg.runner
import pytest
from api_support import create_named_job, job_view
from memberseg.job_protocol import UPLOAD_TOKEN_FIELD
from s3_world import EXAMPLES

GARBAGE = b"PK\x03\x04 not a workbook at all" * 40


def create(api) -> dict:
    return create_named_job(api, "members.xlsx", "orders.xlsx")


view = job_view


def post(world, upload: dict, data: bytes) -> dict:
    """The form used (by the page, or by anyone holding it): the S3 event of the object version it made."""
    head, event = world.post_form(upload, data)
    assert head["Metadata"]["upload-token"] == upload["fields"][UPLOAD_TOKEN_FIELD]
    return event


def committed_bytes(world, job_id: str) -> dict[str, bytes]:
    prefix = world.committed_prefix(job_id)
    listing = world.s3.list_objects_v2(Bucket=world.output_bucket, Prefix=prefix)
    return {o["Key"]: world.s3.get_object(Bucket=world.output_bucket, Key=o["Key"])["Body"].read()
            for o in listing.get("Contents", [])}


def run_job(world, api) -> dict:
    job = create(api)
    uploads = job["uploads"]
    assert world.invoke(post(world, uploads["memberships"], (EXAMPLES / "memberships.xlsx").read_bytes()))[
        "action"] == "waiting"
    assert world.invoke(post(world, uploads["orders"], (EXAMPLES / "orders.xlsx").read_bytes()))[
        "action"] == "succeeded"
    return job


def replay_while_the_engine_runs(world, monkeypatch, job_id: str, upload: dict) -> dict:
    """From now on, the first engine run replays `upload` (other bytes) and delivers its event at once. Returns
    what it saw: the status item before and after, and the replay's outcome."""
    seen: dict = {}
    real = memberseg.runner.run_job

    def replay_meanwhile(memberships, orders, out_dir, **kwargs):
        if not seen:
            seen["before"] = world.status(job_id)
            world.next_second()
            seen["outcome"] = world.invoke(post(world, upload, GARBAGE))
            seen["after"] = world.status(job_id)
        return real(memberships, orders, out_dir, **kwargs)

    monkeypatch.setattr(memberseg.runner, "run_job", replay_meanwhile)
    return seen


@pytest.mark.parametrize("role", ["memberships", "orders"])
def test_a_replayed_form_into_a_succeeded_job_changes_nothing(world, api, role):
    job = run_job(world, api)
    job_id = job["job_id"]
    before, results, events = world.status(job_id), committed_bytes(world, job_id), world.job_events()
    assert before["status"] == "SUCCEEDED" and len(events) == 1

    for replayed in (GARBAGE, (EXAMPLES / f"{role}.xlsx").read_bytes()):     # other bytes, or the same again
        world.next_second()
        outcome = world.invoke(post(world, job["uploads"][role], replayed))
        assert outcome["action"] == "refused", outcome
        assert f"uploads/{job_id}/{role}.xlsx" in outcome["reason"]
        assert world.status(job_id) == before                  # not one attribute written
        assert committed_bytes(world, job_id) == results
        assert world.job_events() == []                       # no second event
        page = view(api, job_id)
        assert page["status"] == "SUCCEEDED" and page["summary"]["membership_rows"] == 352

    # the same event delivered again: a duplicate of the refused run, still nothing written
    world.next_second()
    event = post(world, job["uploads"][role], GARBAGE)
    assert world.invoke(event)["action"] == "refused"
    assert world.invoke(event)["action"] == "duplicate"
    assert world.status(job_id) == before


def test_a_replayed_form_while_the_job_is_processing_changes_nothing(world, api, monkeypatch):
    """The orders form is replayed while the job's run works (inside the engine), and its event is delivered at
    once: it is refused and the status item stays the running run's; the run is still current (a replay does
    not make it stale), commits the files the user uploaded, and sends one event."""
    job = create(api)
    job_id, uploads = job["job_id"], job["uploads"]
    seen = replay_while_the_engine_runs(world, monkeypatch, job_id, uploads["orders"])
    assert world.invoke(post(world, uploads["memberships"], (EXAMPLES / "memberships.xlsx").read_bytes()))[
        "action"] == "waiting"
    done = world.invoke(post(world, uploads["orders"], (EXAMPLES / "orders.xlsx").read_bytes()))

    assert seen["before"]["status"] == "PROCESSING"
    assert seen["outcome"]["action"] == "refused", seen["outcome"]
    assert seen["after"] == seen["before"]
    assert done["action"] == "succeeded", done
    status = world.status(job_id)
    assert status["status"] == "SUCCEEDED" and status["committed_run"] == done["run_id"]
    report = world.read_committed(job_id, "report.json")
    assert report["memberships"]["rows_in"] == 352 and report["orders"]["rows_in"] == 1494
    (event,) = world.job_events()
    assert event["detail"]["run_id"] == done["run_id"]


def test_a_form_used_again_before_the_first_run_began_is_an_upload_like_any(world, api):
    """Single-use per job state: while the job waits for its files, the form may be used again (the page's retry
    of a failed upload); the run that begins reads the latest version."""
    job = create(api)
    uploads = job["uploads"]
    assert world.invoke(post(world, uploads["memberships"], GARBAGE))["action"] == "waiting"
    world.next_second()
    assert world.invoke(post(world, uploads["memberships"], (EXAMPLES / "memberships.xlsx").read_bytes()))[
        "action"] == "waiting"
    assert world.invoke(post(world, uploads["orders"], (EXAMPLES / "orders.xlsx").read_bytes()))[
        "action"] == "succeeded"


def test_files_put_straight_into_the_bucket_still_run_the_job_again(world, api):
    """The nightly drop (no API, no form): a new version of a file runs the job again, in a job the API created
    too (an operator's upload carries no token), and in one it did not."""
    job = run_job(world, api)
    job_id = job["job_id"]
    first = world.status(job_id)["committed_run"]
    world.next_second()
    again = world.upload_and_deliver(f"uploads/{job_id}/orders.xlsx", EXAMPLES / "orders.xlsx")
    assert again["action"] == "succeeded" and again["run_id"] != first

    for night in range(2):
        if night:
            world.next_second()
        world.upload_and_deliver("uploads/nightly/memberships.xlsx", EXAMPLES / "memberships.xlsx")
        assert world.upload_and_deliver("uploads/nightly/orders.xlsx", EXAMPLES / "orders.xlsx")[
            "action"] == "succeeded"


def test_newer_files_through_another_request_run_and_every_used_or_replaced_form_is_refused(world, api):
    """POST /jobs/{id}/uploads into a SUCCEEDED job mints a fresh token, the job's current one: its forms' first
    use runs the job again (the half that lands first steps aside for the pair), while the first request's
    forms are spent from that moment; once the newer run has begun, the newer forms are spent too. Files put
    straight into the bucket still run the job."""
    job = run_job(world, api)
    job_id = job["job_id"]
    first = world.status(job_id)["committed_run"]
    world.job_events()
    again = create_named_job(api, "members.xlsx", "orders.xlsx", into=job_id)
    token = again["uploads"]["memberships"]["fields"][UPLOAD_TOKEN_FIELD]
    assert again["uploads"]["orders"]["fields"][UPLOAD_TOKEN_FIELD] == token       # one token pairs the two files
    assert token != job["uploads"]["orders"]["fields"][UPLOAD_TOKEN_FIELD]
    assert world.status(job_id)["upload_token"] == token

    # the newer request's forms, first use: not refused; the half that lands first steps aside for the pair
    world.next_second()
    half = world.invoke(post(world, again["uploads"]["memberships"], (EXAMPLES / "memberships.xlsx").read_bytes()))
    assert half["action"] == "superseded", half

    # the first request's orders form, replayed before the newer orders file lands: a form the job has replaced
    before = world.status(job_id)
    world.next_second()
    assert world.invoke(post(world, job["uploads"]["orders"], GARBAGE))["action"] == "refused"
    assert world.status(job_id) == before and world.job_events() == []

    # the newer orders file: the run of the whole pair commits
    world.next_second()
    done = world.invoke(post(world, again["uploads"]["orders"], (EXAMPLES / "orders.xlsx").read_bytes()))
    assert done["action"] == "succeeded" and done["run_id"] != first, done
    assert view(api, job_id)["run_id"] == done["run_id"]
    (event,) = world.job_events()
    assert event["detail"]["run_id"] == done["run_id"]

    # now every form of both requests is spent: each replay is refused and changes nothing
    before, results = world.status(job_id), committed_bytes(world, job_id)
    for request in (job, again):
        for role in ("memberships", "orders"):
            world.next_second()
            outcome = world.invoke(post(world, request["uploads"][role], GARBAGE))
            assert outcome["action"] == "refused", (request is again, role, outcome)
            assert world.status(job_id) == before
            assert committed_bytes(world, job_id) == results
            assert world.job_events() == []

    # the nightly drop: no token, never refused (while the other file's latest version is a refused replay, the
    # folder waits for that file too, as docs/job-protocol.md says; with both dropped the job runs)
    world.next_second()
    assert world.upload_and_deliver(f"uploads/{job_id}/memberships.xlsx", EXAMPLES / "memberships.xlsx")[
        "action"] == "refused"
    dropped = world.upload_and_deliver(f"uploads/{job_id}/orders.xlsx", EXAMPLES / "orders.xlsx")
    assert dropped["action"] == "succeeded" and dropped["run_id"] != done["run_id"], dropped


def test_a_newer_form_replayed_while_its_run_works_is_refused(world, api, monkeypatch):
    """The newer request's orders form is replayed while the run of its files works: refused, and the run still
    commits the user's newer files."""
    job = run_job(world, api)
    job_id = job["job_id"]
    again = create_named_job(api, "members.xlsx", "orders.xlsx", into=job_id)
    world.next_second()
    assert world.invoke(post(world, again["uploads"]["memberships"], (EXAMPLES / "memberships.xlsx").read_bytes()))[
        "action"] == "superseded"
    seen = replay_while_the_engine_runs(world, monkeypatch, job_id, again["uploads"]["orders"])
    done = world.invoke(post(world, again["uploads"]["orders"], (EXAMPLES / "orders.xlsx").read_bytes()))
    assert seen["outcome"]["action"] == "refused", seen["outcome"]
    assert seen["after"] == seen["before"] and seen["before"]["status"] == "PROCESSING"
    assert done["action"] == "succeeded", done
    assert world.read_committed(job_id, "report.json")["orders"]["rows_in"] == 1494
