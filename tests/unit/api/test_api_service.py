"""POST /jobs and GET /jobs/{id} over in-memory adapters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders import ACME_PROFILE
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
    assert "changes" not in view["summary"]             # SAMPLE_REPORT predates the series of runs


def test_succeeded_job_shows_the_changes_since_its_previous_run():
    deps = fake_deps()
    deps.jobs.items[JOB_ID] = committed_item("SUCCEEDED")
    report = dict(SAMPLE_REPORT, changes={"since": "2026-11-01", "new": 5, "gone": 0, "status_changed": 2,
                                          "entered": {"expiring_soon": 2}, "left": {}},
                  changes_summary="since 2026-11-01: 2 became Expiring Soon, 5 new members")
    deps.objects.put("out-bucket", RUN_PREFIX + "report.json", report)
    changes = service.describe_job(settings(), deps, JOB_ID)["summary"]["changes"]
    assert changes["since"] == "2026-11-01" and changes["summary"] == report["changes_summary"]
    assert (changes["new"], changes["status_changed"], changes["entered"]) == (5, 2, {"expiring_soon": 2})


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


# ------------------------------------------------------------------ PUT /profiles/{name}, POST /jobs/{id}/rerun
PROFILE_RULES = "profiles:\n  acme_members:\n" + "".join(f"    {line}\n" for line in ACME_PROFILE.splitlines())


def test_a_saved_profile_is_what_profiles_name_held_and_a_second_save_needs_replace():
    import yaml

    deps = fake_deps()
    saved = service.save_profile(settings(), deps, "acme_members", PROFILE_RULES)
    assert saved["key"] == "profiles/acme_members.yaml" and saved["replaced"] is False
    stored = yaml.safe_load(deps.objects.objects[("in-bucket", "profiles/acme_members.yaml")])
    assert stored == yaml.safe_load(PROFILE_RULES)["profiles"]["acme_members"]
    with pytest.raises(core.Conflict, match="replace=true"):
        service.save_profile(settings(), deps, "acme_members", PROFILE_RULES)
    deps.objects.put("in-bucket", "profiles/acme_members.yml", b"{}")        # a twin of another suffix
    assert service.save_profile(settings(), deps, "acme_members", PROFILE_RULES, replace=True)["replaced"]
    assert ("in-bucket", "profiles/acme_members.yml") not in deps.objects.objects


def test_no_profile_past_the_job_flows_cap_is_saved():
    from memberseg.job_protocol import MAX_PROFILE_FILES

    deps = fake_deps()
    for index in range(MAX_PROFILE_FILES):
        deps.objects.put("in-bucket", f"profiles/p{index}.yaml", b"{}")
    with pytest.raises(core.Conflict, match=f"a job reads at most {MAX_PROFILE_FILES}"):
        service.save_profile(settings(), deps, "acme_members", PROFILE_RULES)


def test_the_replace_flag_is_true_or_false():
    assert core.replace_flag({"replace": "true"}) and not core.replace_flag(None)
    with pytest.raises(core.BadRequest):
        core.replace_flag({"replace": "yes please"})


def test_a_rerun_writes_the_marker_only_for_a_failed_job_with_both_files():
    deps = fake_deps()
    deps.jobs.items[JOB_ID] = {"job_id": JOB_ID, "status": "FAILED", "committed_run": "r1"}
    with pytest.raises(core.Conflict, match="file is gone"):
        service.rerun_job(settings(), deps, JOB_ID)
    for name in ("memberships.xlsx", "orders.csv"):
        deps.objects.put("in-bucket", f"uploads/{JOB_ID}/{name}", b"x")
    assert service.rerun_job(settings(), deps, JOB_ID)["status"] == "PROCESSING"
    marker = json.loads(deps.objects.objects[("in-bucket", f"uploads/{JOB_ID}/rerun.json")])
    assert marker["after_run"] == "r1"
    view = service.describe_job(settings(), deps, JOB_ID)
    assert [f["name"] for f in view["files"]] == ["memberships.xlsx", "orders.csv"]
    deps.jobs.items[JOB_ID]["status"] = "SUCCEEDED"
    with pytest.raises(core.Conflict, match="this one is SUCCEEDED"):
        service.rerun_job(settings(), deps, JOB_ID)


def test_saving_a_profile_imports_the_rules_language_but_never_pandas():
    import subprocess
    import sys

    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('pandas', 'numpy', 'python_calamine', 'xlsxwriter'):\n"
            "            raise ImportError('the API function must not import ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import api_service, api_support\n"
            f"api_service.save_profile(api_support.settings(), api_support.fake_deps(), 'acme_members', "
            f"{PROFILE_RULES!r})\n"
            "print(sorted(m for m in sys.modules if m.startswith('memberseg.')))\n")
    root = Path(__file__).resolve().parents[3]
    paths = [str(root / "functions" / "api"), str(root / "layers" / "memberseg"), str(root / "tests"), str(root / "infra")]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": ":".join(paths), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    shipped = {"memberseg.job_protocol", "memberseg.errors", "memberseg.isolation", "memberseg.memory",
               "memberseg.timing", "memberseg.rules"}     # what functions/api/Makefile copies
    imported = set(eval(done.stdout.strip().splitlines()[-1]))   # noqa: S307 - our own subprocess's list
    assert {name if not name.startswith("memberseg.rules.") else "memberseg.rules" for name in imported} <= shipped


def test_the_api_functions_own_copy_of_the_rules_language_saves_a_profile(tmp_path: Path):
    """The deployed function holds only what functions/api/Makefile copies from the engine package (not the
    package itself): those files alone must check and save a profile. A data file the rules language reads
    and the Makefile does not copy (members_columns.yaml once) is a crash in AWS that no other test sees."""
    import re
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    package = root / "layers" / "memberseg" / "memberseg"
    makefile = (root / "functions" / "api" / "Makefile").read_text()
    patterns = re.findall(r"\.\./\.\./layers/memberseg/memberseg/([^\s\"\\]+)", makefile)
    assert "rules/*.py" in patterns
    for pattern in patterns:
        for source in package.glob(pattern):
            target = tmp_path / "memberseg" / source.relative_to(package)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for source in (root / "functions" / "api").glob("*.py"):
        shutil.copy2(source, tmp_path / source.name)
    code = ("import sys\n"
            "import api_service, api_support, memberseg\n"
            f"assert memberseg.__file__.startswith({str(tmp_path)!r}), memberseg.__file__\n"
            f"saved = api_service.save_profile(api_support.settings(), api_support.fake_deps(), 'acme_members', "
            f"{PROFILE_RULES!r})\n"
            "print(saved['key'])\n")
    paths = [str(tmp_path), str(root / "tests"), str(root / "infra")]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": ":".join(paths), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "profiles/acme_members.yaml"
