"""POST /jobs and GET /jobs/{id} over in-memory adapters."""

from __future__ import annotations

import pytest

from api_support import JOB_ID, RUN_PREFIX, SAMPLE_PROPERTIES, SAMPLE_REPORT, committed_item, fake_deps, settings

import api_core as core
import api_service as service


def test_create_job_records_the_job_and_presigns_one_post_per_file():
    deps = fake_deps(new_id=lambda: JOB_ID)
    s = settings(max_upload_bytes=1234)
    out = service.create_job(s, deps, {"memberships": "xlsx", "orders": "csv"})
    assert out["job_id"] == JOB_ID and out["expires_in"] == 900 and out["max_upload_bytes"] == 1234
    assert set(out["uploads"]) == {"memberships", "orders"}
    assert out["uploads"]["orders"]["fields"]["key"] == f"uploads/{JOB_ID}/orders.csv"
    posts = {p["key"]: p for p in deps.objects.posts}
    assert set(posts) == {f"uploads/{JOB_ID}/memberships.xlsx", f"uploads/{JOB_ID}/orders.csv"}
    assert all(p["bucket"] == "in-bucket" and p["expires_in"] == 900 for p in posts.values())
    assert ["content-length-range", 1, 1234] in posts[f"uploads/{JOB_ID}/orders.csv"]["conditions"]
    item = deps.jobs.items[JOB_ID]
    assert item["status"] == "WAITING_FOR_FILES" and item["missing"] == ["memberships", "orders"]
    assert item["expires_at"] == 1_800_000_000 + 30 * 86400


def test_create_job_never_reuses_an_existing_job():
    ids = iter(["a" * 32, "b" * 32])
    deps = fake_deps(new_id=lambda: next(ids))
    deps.jobs.items["a" * 32] = {"status": "SUCCEEDED"}
    assert service.create_job(settings(), deps, {"memberships": "xlsx", "orders": "xlsx"})["job_id"] == "b" * 32
    assert deps.jobs.items["a" * 32] == {"status": "SUCCEEDED"}


def test_bad_request_creates_nothing():
    deps = fake_deps()
    with pytest.raises(core.BadRequest):
        service.create_job(settings(), deps, {"memberships": "exe", "orders": "xlsx"})
    assert deps.jobs.items == {} and deps.objects.posts == []


def test_malformed_id_is_refused_before_any_lookup():
    deps = fake_deps()
    with pytest.raises(core.BadRequest):
        service.describe_job(settings(), deps, "../results/x")
    assert deps.jobs.lookups == [] and deps.objects.reads == []


def test_unknown_job_is_not_found():
    with pytest.raises(service.NotFound):
        service.describe_job(settings(), fake_deps(), JOB_ID)


def test_waiting_job_lists_the_files_received():
    deps = fake_deps()
    deps.jobs.items[JOB_ID] = {"status": "WAITING_FOR_FILES", "created_at": "t"}
    deps.objects.put("in-bucket", f"uploads/{JOB_ID}/memberships.xlsx", b"12345")
    view = service.describe_job(settings(), deps, JOB_ID)
    assert view["status"] == "WAITING_FOR_FILES"
    assert view["files"] == [{"role": "memberships", "name": "memberships.xlsx", "size": 5}]
    assert view["message"] == "Received the memberships file; waiting for the orders file."
    assert "summary" not in view and "downloads" not in view and "error" not in view


def test_files_without_a_status_item_still_make_a_job():
    deps = fake_deps()
    deps.objects.put("in-bucket", f"uploads/{JOB_ID}/orders.xlsx", b"1")
    assert service.describe_job(settings(), deps, JOB_ID)["status"] == "WAITING_FOR_FILES"


def test_succeeded_job_has_summary_and_short_lived_links():
    deps = fake_deps()
    deps.jobs.items[JOB_ID] = committed_item("SUCCEEDED")
    deps.objects.put("out-bucket", RUN_PREFIX + "report.json", SAMPLE_REPORT)
    deps.objects.put("out-bucket", RUN_PREFIX + "hubspot_properties.json", SAMPLE_PROPERTIES)
    view = service.describe_job(settings(), deps, JOB_ID)
    assert view["summary"]["customers"] == 182
    assert view["summary"]["segments"][0]["label"] == "Active Membership"
    assert [d["kind"] for d in view["downloads"]] == ["workbook", "hubspot_csv", "properties", "report"]
    assert all(RUN_PREFIX in d["url"] and "expires=300" in d["url"] for d in view["downloads"])
    assert view["downloads_expire_in"] == core.DOWNLOAD_URL_TTL_S == 300


def test_succeeded_without_a_committed_run_is_still_processing():
    """Only the run the status item names as committed is ever shown."""
    deps = fake_deps()
    deps.jobs.items[JOB_ID] = {"status": "SUCCEEDED"}
    deps.objects.put("out-bucket", f"results/{JOB_ID}/report.json", SAMPLE_REPORT)     # not a committed folder
    view = service.describe_job(settings(), deps, JOB_ID)
    assert view["status"] == "PROCESSING" and "downloads" not in view


@pytest.mark.parametrize("prefix", [f"results/{JOB_ID}/", f"results/{'b' * 32}/runs/1-0123456789abcdef-a1/",
                                    f"results/{JOB_ID}/runs/../../x/", "uploads/x/", None, 7])
def test_a_status_item_naming_a_foreign_folder_is_not_trusted(prefix):
    deps = fake_deps()
    deps.jobs.items[JOB_ID] = {"status": "SUCCEEDED", "output_prefix": prefix}
    view = service.describe_job(settings(), deps, JOB_ID)
    assert view["status"] == "PROCESSING" and deps.objects.reads == []


def test_failed_job_carries_the_error_from_error_json():
    deps = fake_deps()
    deps.jobs.items[JOB_ID] = committed_item("FAILED", error={"code": "old", "message": "old"})
    error = {"code": "not_a_workbook", "message": "memberships.xlsx is not a readable Excel workbook.",
             "file": "memberships.xlsx"}
    deps.objects.put("out-bucket", RUN_PREFIX + "error.json", {"error": error})
    view = service.describe_job(settings(), deps, JOB_ID)
    assert view["error"] == error and view["message"] == error["message"]
    assert "downloads" not in view
    deps.objects.objects.clear()                      # no error.json: fall back to the status item's copy
    assert service.describe_job(settings(), deps, JOB_ID)["error"]["code"] == "old"


def _succeeded_with(hubspot: dict | None):
    deps = fake_deps()
    item = committed_item("SUCCEEDED")
    if hubspot is not None:
        item["hubspot"] = {"run": item["committed_run"], **hubspot}
    deps.jobs.items[JOB_ID] = item
    deps.objects.put("out-bucket", RUN_PREFIX + "report.json", SAMPLE_REPORT)
    deps.objects.put("out-bucket", RUN_PREFIX + "hubspot_properties.json", SAMPLE_PROPERTIES)
    return service.describe_job(settings(), deps, JOB_ID)


def test_the_hubspot_push_result_is_shown_with_its_first_row_errors():
    view = _succeeded_with({"state": "ROW_ERRORS", "created": 170, "updated": 9, "errors": 2, "first_errors": [
        {"file": "hubspot_contacts.csv", "line": 14, "message": "Email bob@ cannot be imported"},
        {"file": "hubspot_contacts.csv", "line": 40, "message": "Email x@y cannot be imported"}]})
    h = view["hubspot"]
    assert (h["state"], h["created"], h["updated"], h["errors"]) == ("ROW_ERRORS", 170, 9, 2)
    assert [e["line"] for e in h["first_errors"]] == [14, 40]
    assert "refused some rows" in h["message"]


def test_no_push_no_hubspot_section():
    assert "hubspot" not in _succeeded_with(None)


def test_a_push_of_an_earlier_run_is_not_shown_for_the_committed_one():
    deps = fake_deps()
    deps.jobs.items[JOB_ID] = committed_item("SUCCEEDED", hubspot={"run": "older-run", "state": "DONE", "created": 5})
    deps.objects.put("out-bucket", RUN_PREFIX + "report.json", SAMPLE_REPORT)
    assert "hubspot" not in service.describe_job(settings(), deps, JOB_ID)


def test_a_failed_push_says_why():
    h = _succeeded_with({"state": "FAILED", "error": {"code": "exit_2", "message": "HubSpot refused the token"}})
    assert h["hubspot"]["error"] == "HubSpot refused the token"
    assert h["hubspot"]["message"] == "The contacts could not be sent to HubSpot."
