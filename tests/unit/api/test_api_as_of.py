"""The as-of date the page chose: POST /jobs and POST /jobs/{id}/uploads take `as_of`, refuse a bad one with a
400 naming the field, and pin it on each file's presigned POST (x-amz-meta-as-of), like the file's name."""

from __future__ import annotations

import base64
import datetime as dt
import json

import api_core as core
import api_service as service
import api_storage
import pytest
import pytest_socket
from api_support import JOB_ID, RUN_PREFIX, Context, committed_item, api_app, fake_deps, http_event, settings
from memberseg.job_protocol import (
    AS_OF_FIELD,
    AS_OF_MAX_DAYS,
    AS_OF_PARAM,
    UPLOAD_TOKEN_ATTRIBUTE,
    UPLOAD_TOKEN_FIELD,
    parse_as_of,
)

FILES = {"files": {"memberships": {"name": "Members.xlsx"}, "orders": {"name": "orders.csv"}}}
TODAY = dt.date(2027, 1, 15)          # fake_deps' clock, 1_800_000_000 s


class _Jobs:
    def create(self, *args, **kwargs):
        return True


def _policy(post: dict) -> dict:
    return json.loads(base64.b64decode(post["fields"]["policy"]))


@pytest.mark.parametrize("value", [
    "2026-02-30", "2026-13-01", "15.11.2026", "2026-11-15T00:00:00", " 2026-11-15", "２０２６-11-15", "", 20261115,
    ["2026-11-15"], {"y": 2026}, True, (TODAY + dt.timedelta(days=AS_OF_MAX_DAYS + 1)).isoformat(),
    (TODAY - dt.timedelta(days=AS_OF_MAX_DAYS + 1)).isoformat(), "0001-01-01", "9999-12-31",
])
def test_a_bad_as_of_is_a_400_naming_the_field_and_creates_nothing(value):
    deps = fake_deps(new_id=lambda: JOB_ID)
    with pytest.raises(core.BadRequest, match=f"^{AS_OF_PARAM} "):
        service.create_job(settings(), deps, {**FILES, "as_of": value})
    assert deps.jobs.items == {} and deps.objects.posts == []


@pytest.mark.parametrize("value", [
    "2026-11-15", "2024-02-29", (TODAY + dt.timedelta(days=AS_OF_MAX_DAYS)).isoformat(),
    (TODAY - dt.timedelta(days=AS_OF_MAX_DAYS)).isoformat(),
])
def test_a_real_date_within_five_years_is_taken(value):
    assert core.chosen_as_of({"as_of": value}, TODAY) == value == parse_as_of(value, TODAY).isoformat()


def test_no_as_of_leaves_the_date_to_the_processing_function():
    ids = iter(["a" * 32, "b" * 32])
    deps = fake_deps(new_id=lambda: next(ids))
    for body in (FILES, {**FILES, "as_of": None}):
        out = service.create_job(settings(), deps, body)
        assert out["as_of"] is None
    assert all(AS_OF_FIELD not in post["fields"] for post in deps.objects.posts)
    assert not any(isinstance(c, dict) and AS_OF_FIELD in c for post in deps.objects.posts for c in post["conditions"])


def test_the_signed_policy_of_each_file_pins_the_chosen_date():
    deps = service.Deps(objects=api_storage.S3Objects(), jobs=_Jobs(), new_id=lambda: JOB_ID)
    out = service.create_job(settings(), deps, {**FILES, "as_of": "2026-11-15"})
    assert out["as_of"] == "2026-11-15"
    for role in ("memberships", "orders"):
        post = out["uploads"][role]
        assert post["fields"][AS_OF_FIELD] == "2026-11-15"
        conditions = _policy(post)["conditions"]
        assert {AS_OF_FIELD: "2026-11-15"} in conditions                       # exact, not starts-with
        assert not any(isinstance(c, list) and str(c[1]).lower() == "$" + AS_OF_FIELD for c in conditions)


def test_newer_files_into_an_existing_job_get_the_same_keys_and_their_own_date():
    deps = fake_deps()
    deps.jobs.items[JOB_ID] = {"job_id": JOB_ID, "status": "SUCCEEDED"}
    deps.objects.put("in-bucket", f"uploads/{JOB_ID}/memberships.xlsx", b"x")
    deps.objects.put("in-bucket", f"uploads/{JOB_ID}/orders.csv", b"x")
    out = service.upload_again(settings(), deps, JOB_ID, {**FILES, "as_of": "2026-12-01"})
    assert out["job_id"] == JOB_ID and out["as_of"] == "2026-12-01"
    assert {role: u["key"] for role, u in out["uploads"].items()} == {
        "memberships": f"uploads/{JOB_ID}/memberships.xlsx", "orders": f"uploads/{JOB_ID}/orders.csv"}
    assert all(post["fields"][AS_OF_FIELD] == "2026-12-01" for post in deps.objects.posts)
    token = deps.jobs.items[JOB_ID].pop(UPLOAD_TOKEN_ATTRIBUTE)          # the request's token is the job's current
    assert all(post["fields"][UPLOAD_TOKEN_FIELD] == token for post in deps.objects.posts)
    assert deps.jobs.items[JOB_ID] == {"job_id": JOB_ID, "status": "SUCCEEDED"}        # the job itself is untouched


def test_newer_files_may_not_go_back_before_the_jobs_last_run():
    deps = fake_deps()
    deps.jobs.items[JOB_ID] = committed_item("SUCCEEDED")
    deps.objects.put("out-bucket", RUN_PREFIX + "report.json", {"as_of": "2026-11-01"})
    with pytest.raises(core.BadRequest, match=r"^as_of 2026-10-31 is before this job's last run \(as of 2026-11-01\)"):
        service.upload_again(settings(), deps, JOB_ID, {**FILES, "as_of": "2026-10-31"})
    assert deps.objects.posts == []
    for same_or_later in ("2026-11-01", "2026-11-02"):
        assert service.upload_again(settings(), deps, JOB_ID, {**FILES, "as_of": same_or_later})["as_of"] == same_or_later
    deps.jobs.items[JOB_ID] = committed_item("FAILED")      # no report to read: the engine checks it (since_state_later)
    assert service.upload_again(settings(), deps, JOB_ID, {**FILES, "as_of": "2026-10-31"})["as_of"] == "2026-10-31"


def test_newer_files_need_a_job_and_the_kind_of_file_it_holds():
    deps = fake_deps()
    with pytest.raises(service.NotFound):
        service.upload_again(settings(), deps, JOB_ID, FILES)
    with pytest.raises(core.BadRequest):
        service.upload_again(settings(), deps, "not-a-job", FILES)
    deps.objects.put("in-bucket", f"uploads/{JOB_ID}/orders.xlsx", b"x")      # a job started by a plain upload
    with pytest.raises(core.Conflict, match="orders file is orders.xlsx: upload a .xlsx file"):
        service.upload_again(settings(), deps, JOB_ID, FILES)
    with pytest.raises(core.BadRequest, match="^as_of "):
        service.upload_again(settings(), deps, JOB_ID, {"memberships": "xlsx", "orders": "xlsx", "as_of": "soon"})
    assert deps.objects.posts == []
    assert service.upload_again(settings(), deps, JOB_ID, {"memberships": "csv", "orders": "xlsx"})["as_of"] is None


def test_the_routes_answer_400_naming_as_of(monkeypatch):
    for name, value in {"INPUT_BUCKET": "in-bucket", "OUTPUT_BUCKET": "out-bucket", "JOB_TABLE": "jobs",
                        "AUTH_ENABLED": "false", "POWERTOOLS_TRACE_DISABLED": "true",
                        "POWERTOOLS_METRICS_NAMESPACE": "Memberseg"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    pytest_socket.enable_socket()       # the X-Ray SDK opens (never uses) a UDP socket when Tracer() is first built
    try:
        app = api_app()
    finally:
        pytest_socket.disable_socket()
    app.settings.cache_clear()
    deps = fake_deps(new_id=lambda: "a" * 32)
    deps.jobs.items[JOB_ID] = {"job_id": JOB_ID, "status": "SUCCEEDED"}
    monkeypatch.setattr(app, "dependencies", lambda: deps)
    try:
        for path in ("/jobs", f"/jobs/{JOB_ID}/uploads"):
            response = app.handler(http_event("POST", path, {**FILES, "as_of": "2026-02-30"}), Context())
            assert response["statusCode"] == 400
            assert json.loads(response["body"])["message"].startswith("as_of must be a real date")
            response = app.handler(http_event("POST", path, {**FILES, "as_of": "2026-11-15"}), Context())
            assert response["statusCode"] == 201 and json.loads(response["body"])["as_of"] == "2026-11-15"
        response = app.handler(http_event("POST", f"/jobs/{JOB_ID}/uploads", "{not json"), Context())
        assert response["statusCode"] == 400 and json.loads(response["body"]) == {"message": "the request body must be JSON"}
    finally:
        app.settings.cache_clear()


def test_the_pages_picker_starts_at_the_servers_date_else_the_browsers_today():
    import api_page

    assert 'data-as-of="2026-11-15"' in api_page.index_html(settings(page_as_of="2026-11-15"))
    assert 'data-as-of=""' in api_page.index_html(settings())
    base = {"INPUT_BUCKET": "in-bucket", "OUTPUT_BUCKET": "out-bucket", "JOB_TABLE": "jobs"}
    assert core.Settings.from_env(base | {"PAGE_AS_OF": "2026-11-15"}).page_as_of == "2026-11-15"
    assert core.Settings.from_env(base | {"PAGE_AS_OF": ""}).page_as_of == core.Settings.from_env(base).page_as_of == ""
    with pytest.raises(ValueError, match="PAGE_AS_OF"):
        core.Settings.from_env(base | {"PAGE_AS_OF": "15.11.2026"})
    page = api_page.index_html(settings())
    assert 'id="as-of" type="date" required' in page and 'id="newer"' in page
