"""The user's own file names through the whole S3 flow (moto mock_aws): POST /jobs with the
names, the presigned POST forms as the page sends them, the real processing handler and engine,
then error.json, report.json and GET /jobs name each file as the user did."""

from __future__ import annotations

from api_support import create_named_job, job_view
from memberseg.job_protocol import ORIGINAL_NAME_FIELD
from s3_world import EXAMPLES


create = create_named_job
view = job_view


def post_and_deliver(world, upload: dict, data: bytes) -> dict:
    """The page's upload: every field of the presigned POST, then the file; then the S3 event."""
    head, event = world.post_form(upload, data)
    assert head["Metadata"]["original-name"] == upload["fields"][ORIGINAL_NAME_FIELD]
    return world.invoke(event)


def test_a_garbage_file_is_named_garbage_xlsx_in_error_json_and_on_the_page(world, api):
    job = create(api, "garbage.xlsx", "orders.xlsx")
    uploads = job["uploads"]
    assert uploads["memberships"]["fields"]["key"].endswith("/memberships.xlsx")     # the key stays fixed
    post_and_deliver(world, uploads["orders"], (EXAMPLES / "orders.xlsx").read_bytes())
    done = post_and_deliver(world, uploads["memberships"], bytes(range(256)) * 40)
    assert done["action"] == "failed"
    error = world.read_committed(job["job_id"], "error.json")["error"]
    assert error["file"] == "garbage.xlsx"
    assert "'garbage.xlsx'" in error["message"] and "memberships.xlsx" not in error["message"]
    page = view(api, job["job_id"])
    assert page["status"] == "FAILED" and page["error"]["file"] == "garbage.xlsx"
    assert page["message"] == error["message"]


def test_the_report_names_the_users_files_even_non_ascii_ones(world, api):
    job = create(api, "Mitglieder März 2026.xlsx", "C:\\fakepath\\Bestellungen Q4.xlsx")
    uploads = job["uploads"]
    assert uploads["memberships"]["fields"][ORIGINAL_NAME_FIELD] == "Mitglieder%20M%C3%A4rz%202026.xlsx"
    post_and_deliver(world, uploads["memberships"], (EXAMPLES / "memberships.xlsx").read_bytes())
    assert post_and_deliver(world, uploads["orders"], (EXAMPLES / "orders.xlsx").read_bytes())["action"] == "succeeded"
    report = world.read_committed(job["job_id"], "report.json")
    assert report["inputs"]["memberships"]["file"] == "Mitglieder März 2026.xlsx"
    assert report["inputs"]["orders"]["file"] == "Bestellungen Q4.xlsx"
    inputs = view(api, job["job_id"])["summary"]["inputs"]
    assert inputs["memberships"]["file"] == "Mitglieder März 2026.xlsx"
    assert inputs["orders"]["file"] == "Bestellungen Q4.xlsx"
