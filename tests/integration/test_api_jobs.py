"""The upload API against moto (mock_aws) with resources from the template, next to the real
processing handler: the job table and folders it reads are the ones the function writes."""

from __future__ import annotations

import json

import pytest

from api_support import Context, JOB_ID, api_app, authorizer, http_event
import serve_local

EXAMPLES = serve_local.ROOT / "examples"
TOKEN = "integration-token-0123456789abcdef"


def call(module, method, path, body=None, headers=None):
    response = module.handler(http_event(method, path, body, headers), Context())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def create(module, memberships="xlsx", orders="xlsx") -> dict:
    status, body = call(module, "POST", "/jobs", {"memberships": memberships, "orders": orders})
    assert status == 201, body
    return body


def test_job_flow_from_creation_to_results(world, api):
    job = create(api)
    job_id = job["job_id"]
    assert world.status(job_id)["status"] == "WAITING_FOR_FILES"
    status, view = call(api, "GET", f"/jobs/{job_id}")
    assert status == 200 and view["status"] == "WAITING_FOR_FILES" and view["files"] == []
    assert view["message"] == "Waiting for the memberships and orders files."

    keys = {role: u["fields"]["key"] for role, u in job["uploads"].items()}
    assert keys == {"memberships": f"uploads/{job_id}/memberships.xlsx", "orders": f"uploads/{job_id}/orders.xlsx"}
    assert world.upload_and_deliver(keys["memberships"], EXAMPLES / "memberships.xlsx")["action"] == "waiting"
    _, view = call(api, "GET", f"/jobs/{job_id}")
    assert view["status"] == "WAITING_FOR_FILES"
    assert [f["name"] for f in view["files"]] == ["memberships.xlsx"]
    assert "waiting for the orders file" in view["message"]

    assert world.upload_and_deliver(keys["orders"], EXAMPLES / "orders.xlsx")["action"] == "succeeded"
    _, view = call(api, "GET", f"/jobs/{job_id}")
    report = world.read_committed(job_id, "report.json")
    assert view["status"] == "SUCCEEDED"
    assert [f["role"] for f in view["files"]] == ["memberships", "orders"]
    summary = view["summary"]
    assert summary["customers"] == report["memberships"]["kept"]
    assert summary["consolidated"] == report["memberships"]["consolidated"]
    assert summary["rejected"] == report["memberships"]["rejected"]
    assert summary["status_counts"] == report["status_counts"]
    assert {s["name"]: s["count"] for s in summary["segments"]} == report["segment_counts"]
    labels = {p["name"]: p["label"] for p in world.read_committed(job_id, "hubspot_properties.json")["inputs"]}
    assert all(s["label"] == labels[s["name"]] for s in summary["segments"])
    assert sorted(d["name"] for d in view["downloads"]) == sorted(report["outputs"])
    assert {d["kind"] for d in view["downloads"]} == {"workbook", "hubspot_csv", "properties", "state", "report"}
    # the function only updates the STATUS item: what the API wrote survives
    assert world.status(job_id)["created_by"] == "api"


def test_the_job_shows_what_changed_since_its_previous_run(world, api):
    """Runs of one job folder form a series: GET /jobs gives the committed run's changes (report.json), the
    sentence and the counts; the first run's are since nothing, the next run's since the first's as-of date."""
    job = create(api)
    job_id = job["job_id"]
    keys = {role: u["fields"]["key"] for role, u in job["uploads"].items()}
    world.upload_and_deliver(keys["memberships"], EXAMPLES / "memberships.xlsx")
    assert world.upload_and_deliver(keys["orders"], EXAMPLES / "orders.xlsx")["action"] == "succeeded"
    first = call(api, "GET", f"/jobs/{job_id}")[1]["summary"]
    report = world.read_committed(job_id, "report.json")
    assert first["changes"]["since"] is None and first["changes"]["new"] == report["memberships"]["kept"]
    assert first["changes"]["summary"] == report["changes_summary"] and first["changes"]["summary"].startswith("first run")

    world.next_second()
    assert world.upload_and_deliver(keys["orders"], EXAMPLES / "orders.xlsx")["action"] == "succeeded"
    again = call(api, "GET", f"/jobs/{job_id}")[1]["summary"]
    report = world.read_committed(job_id, "report.json")
    assert again["changes"]["since"] == first["as_of"] == report["changes"]["since"]
    assert again["changes"] == {"since": first["as_of"], "summary": report["changes_summary"], "new": 0, "gone": 0,
                                "status_changed": 0, "entered": report["changes"]["entered"],
                                "left": report["changes"]["left"]}
    assert again["changes"]["summary"] == f"since {first['as_of']}: no changes"


def post_form_and_deliver(world, upload: dict, path) -> dict:
    """The page's upload: every field of the presigned POST, then the file; then the S3 event."""
    return world.invoke(world.post_form(upload, path.read_bytes())[1])


def test_the_chosen_as_of_reaches_the_run_and_newer_files_show_the_changes_since(world, api):
    """POST /jobs with an as-of date: each presigned form carries it, the run uses it (report.json, GET /jobs).
    POST /jobs/{id}/uploads: newer files into the same job with a later date; the run compares with the first."""
    files = {"files": {"memberships": {"name": "Members.xlsx"}, "orders": {"name": "Orders.xlsx"}}}
    status, job = call(api, "POST", "/jobs", {**files, "as_of": "2026-11-01"})
    assert status == 201 and job["as_of"] == "2026-11-01"
    job_id = job["job_id"]
    post_form_and_deliver(world, job["uploads"]["memberships"], EXAMPLES / "memberships.xlsx")
    assert post_form_and_deliver(world, job["uploads"]["orders"], EXAMPLES / "orders.xlsx")["action"] == "succeeded"
    assert world.read_committed(job_id, "report.json")["as_of"] == "2026-11-01"
    first = call(api, "GET", f"/jobs/{job_id}")[1]["summary"]
    assert first["as_of"] == "2026-11-01" and first["changes"]["since"] is None

    assert call(api, "POST", f"/jobs/{job_id}/uploads", {**files, "as_of": "2026-11-31"})[0] == 400
    status, again = call(api, "POST", f"/jobs/{job_id}/uploads", {**files, "as_of": "2026-11-15"})
    assert status == 201 and again["job_id"] == job_id and again["as_of"] == "2026-11-15"
    assert {r: u["key"] for r, u in again["uploads"].items()} == {r: u["key"] for r, u in job["uploads"].items()}
    world.next_second()
    first_run = call(api, "GET", f"/jobs/{job_id}")[1]["run_id"]
    # half of the new pair never commits: the run of both new files compares with the first run, not a mix
    half = post_form_and_deliver(world, again["uploads"]["memberships"], EXAMPLES / "memberships.xlsx")
    assert half["action"] == "superseded"
    assert call(api, "GET", f"/jobs/{job_id}")[1]["run_id"] == first_run
    assert post_form_and_deliver(world, again["uploads"]["orders"], EXAMPLES / "orders.xlsx")["action"] == "succeeded"
    report = world.read_committed(job_id, "report.json")
    view = call(api, "GET", f"/jobs/{job_id}")[1]
    assert view["run_id"] != first_run
    assert report["as_of"] == view["summary"]["as_of"] == "2026-11-15"
    assert report["changes"]["since"] == view["summary"]["changes"]["since"] == "2026-11-01"
    assert view["summary"]["changes"]["summary"] == report["changes_summary"]
    assert report["changes_summary"].startswith("since 2026-11-01: ")
    assert report["changes"]["status_changed"] > 0           # two weeks on, some memberships expired or expire soon
    assert call(api, "POST", f"/jobs/{'0' * 32}/uploads", files)[0] == 404


def test_failed_job_shows_the_error_json_message(world, api):
    job = create(api)
    job_id = job["job_id"]
    world.upload_and_deliver(job["uploads"]["orders"]["fields"]["key"], EXAMPLES / "orders.xlsx")
    world.upload_and_deliver(job["uploads"]["memberships"]["fields"]["key"], b"PK\x03\x04 not really a zip" * 50)
    _, view = call(api, "GET", f"/jobs/{job_id}")
    error = world.read_committed(job_id, "error.json")["error"]
    assert view["status"] == "FAILED"
    assert view["error"] == error and view["message"] == error["message"]
    assert "downloads" not in view and "summary" not in view


def test_extension_is_kept_in_the_key(world, api):
    job = create(api, memberships=".CSV", orders="xls")
    assert job["uploads"]["memberships"]["fields"]["key"].endswith("/memberships.csv")
    assert job["uploads"]["memberships"]["fields"]["Content-Type"] == "text/csv"
    assert job["uploads"]["orders"]["fields"]["key"].endswith("/orders.xls")


def test_bad_and_unknown_ids(world, api):
    assert call(api, "GET", "/jobs/not-a-job")[0] == 400
    assert call(api, "GET", "/jobs/" + "A" * 32)[0] == 400
    assert call(api, "GET", f"/jobs/{JOB_ID}")[0] == 404
    assert call(api, "POST", "/jobs", {"memberships": "docx", "orders": "xlsx"})[0] == 400


def test_uploads_without_a_created_job_are_still_reported(world, api):
    """A job started by a plain S3 upload (docs/job-protocol.md) is visible too."""
    world.upload_and_deliver(f"uploads/{JOB_ID}/memberships.xlsx", EXAMPLES / "memberships.xlsx")
    status, view = call(api, "GET", f"/jobs/{JOB_ID}")
    assert status == 200 and view["status"] == "WAITING_FOR_FILES"


@pytest.fixture
def gateway(world, api, monkeypatch):
    """API Gateway's order: the identity source (401 without the header), the authorizer (with the token in
    Secrets Manager), then the API, as the template deploys them."""
    stack = serve_local.api_stack({"AuthEnabled": "true"})
    env = stack.function_environment(serve_local.AUTHORIZER_FUNCTION)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    arn = world.session.client("secretsmanager").create_secret(Name="memberseg-api-token", SecretString=TOKEN)["ARN"]
    monkeypatch.setenv("TOKEN_SECRET_ARN", arn)
    module = authorizer()
    from aws_lambda_powertools.utilities import parameters
    parameters.clear_caches()
    yield serve_local.ApiGateway(api, module, serve_local.job_route_identity(stack) or ())
    parameters.clear_caches()


def test_auth_on_requires_the_token(gateway, monkeypatch):
    assert gateway.handle("POST", "/jobs", {}, b'{"memberships":"xlsx","orders":"xlsx"}')[0] == 401   # no header
    assert gateway.handle("POST", "/jobs", {"Authorization": "Bearer wrong-token-0123456789abcdef"},
                          b'{"memberships":"xlsx","orders":"xlsx"}')[0] == 403
    assert gateway.handle("GET", f"/jobs/{JOB_ID}", {"Authorization": "Bearer " + TOKEN[:-1]}, b"")[0] == 403
    status, _, body = gateway.handle("POST", "/jobs", {"Authorization": f"Bearer {TOKEN}"},
                                     b'{"memberships":"xlsx","orders":"xlsx"}')
    assert status == 201 and json.loads(body)["job_id"]
    assert gateway.handle("GET", f"/jobs/{JOB_ID}", {"Authorization": f"Bearer {TOKEN}"}, b"")[0] == 404
    # the page itself is public (it asks for the token)
    status, _, body = gateway.handle("GET", "/", {}, b"")
    assert status == 200 and b'data-auth="on"' in body
    assert gateway.handle("GET", "/static/app.js", {}, b"")[0] == 200


def test_auth_off_needs_no_token(api, monkeypatch):
    monkeypatch.setenv("AUTH_ENABLED", "false")
    api.settings.cache_clear()
    assert serve_local.job_route_identity(serve_local.api_stack({"AuthEnabled": "false"})) is None
    gateway = serve_local.ApiGateway(api, None)        # the template deploys no authorizer on the job routes
    assert gateway.handle("POST", "/jobs", {}, b'{"memberships":"xlsx","orders":"xlsx"}')[0] == 201
    assert b'data-auth="off"' in gateway.handle("GET", "/", {}, b"")[2]
