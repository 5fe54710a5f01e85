"""One contract: the job protocol's names are defined once (memberseg.job_protocol) and every
deployable uses them; the API function can import it without the engine or pandas."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import api_core
import job_folder
import jobs
import memberseg.job_protocol as protocol
import pytest
from memberseg import hubspot, runner, write

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "layers" / "memberseg" / "memberseg"


def test_the_api_functions_copy_of_the_contract_imports_with_the_standard_library_alone(tmp_path):
    """functions/api/Makefile ships memberseg/__init__.py + job_protocol.py; nothing else may be needed."""
    makefile = (ROOT / "functions" / "api" / "Makefile").read_text()
    assert "memberseg/__init__.py" in makefile and "memberseg/job_protocol.py" in makefile
    (tmp_path / "memberseg").mkdir()
    for name in ("__init__.py", "job_protocol.py"):
        shutil.copy(PACKAGE / name, tmp_path / "memberseg" / name)
    code = (f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import memberseg.job_protocol as p; "
            "assert p.file_role('Orders Q4.CSV') == 'orders'; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'numpy', 'pydantic', 'yaml')))")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_api_never_imports_the_engine_or_pandas():
    blocker = ("import sys\n"
               "class Block:\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name.split('.')[0] in ('pandas', 'numpy', 'python_calamine', 'xlsxwriter') or \\\n"
               "           (name.startswith('memberseg.') and name != 'memberseg.job_protocol'):\n"
               "            raise ImportError('the API function must not import ' + name)\n"
               "sys.meta_path.insert(0, Block())\n"
               "import os; os.environ.update(INPUT_BUCKET='in-bucket', OUTPUT_BUCKET='out-bucket', JOB_TABLE='jobs',\n"
               "    POWERTOOLS_TRACE_DISABLED='true', AWS_DEFAULT_REGION='us-east-1')\n"
               "import api_handler, authorizer, api_service\n")
    paths = [str(ROOT / "functions" / "api"), str(ROOT / "layers" / "memberseg")]
    done = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": ":".join(paths), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_engine_and_the_functions_use_the_contracts_names():
    assert write.WORKBOOK_NAME == protocol.WORKBOOK_NAME
    assert write.PROPERTIES_NAME == protocol.PROPERTIES_NAME
    assert write.REPORT_NAME == protocol.REPORT_NAME
    assert hubspot.HUBSPOT_CSV_STEM == protocol.HUBSPOT_CSV_STEM
    assert runner.ERROR_NAME == protocol.ERROR_NAME
    assert api_core.ROLES == protocol.ROLES
    assert set(api_core.EXTENSIONS) == set(protocol.DATA_EXTENSIONS)
    assert api_core.SUCCEEDED == protocol.JobStatus.SUCCEEDED == "SUCCEEDED"


@pytest.mark.parametrize("name", ["memberships.xlsx", "MEMBERSHIPS-2026.XLSM", "Memberships export.xls",
                                  "orders.csv", "Orders Q4 (final).CSV", "rules.yaml", "memberships.pdf",
                                  "my memberships.xlsx", "orders", "orders.txt", "sub/orders.csv", "rules-old.yaml"])
def test_the_function_and_the_api_recognise_a_file_by_the_same_rule(name):
    settings = api_core.Settings(input_bucket="in-bucket", output_bucket="out-bucket", table_name="jobs")
    job = "a" * 32
    (seen,) = api_core.received_files(settings, job, [(f"uploads/{job}/{name}", 1)])
    expected = job_folder.classify(name)
    assert seen["role"] == (expected if expected in protocol.ROLES else None)


def test_the_rerun_marker_is_a_role_of_the_job_folder_and_never_a_file_of_the_users():
    assert job_folder.classify("rerun.json") == protocol.RERUN_ROLE == "rerun"
    assert job_folder.classify("sub/rerun.json") is None and job_folder.classify("rerun.yaml") is None
    settings = api_core.Settings(input_bucket="in-bucket", output_bucket="out-bucket", table_name="jobs")
    job = "a" * 32
    assert api_core.received_files(settings, job, [(f"uploads/{job}/{protocol.RERUN_NAME}", 1)]) == []


def test_one_timestamp_format_for_every_writer():
    ts = dt.datetime(2026, 11, 15, 8, 30, tzinfo=dt.UTC).timestamp()
    assert protocol.iso_utc(ts) == "2026-11-15T08:30:00Z"
    assert jobs.iso(ts) == protocol.iso_utc(ts)
    import api_service
    assert api_service.iso_utc is protocol.iso_utc


def test_job_table_values_round_trip_through_decimal():
    from decimal import Decimal

    from memberseg.job_protocol import JobStatus, from_item_value, to_item_value

    stored = to_item_value({"rate": 0.25, "rows": 3, "state": JobStatus.SUCCEEDED, "gone": None,
                            "nested": [{"x": 1.5, "y": None}], "ok": True})
    assert stored == {"rate": Decimal("0.25"), "rows": 3, "state": "SUCCEEDED",
                      "nested": [{"x": Decimal("1.5")}], "ok": True}
    assert type(stored["state"]) is str
    assert from_item_value({"n": Decimal("4"), "f": Decimal("0.25"), "l": [Decimal("2")]}) == {"n": 4, "f": 0.25,
                                                                                              "l": [2]}


def test_one_run_id_format_written_by_the_function_and_read_by_the_api():
    fingerprint = "5c47394a26eb1224" + "0" * 16
    run_id = protocol.format_run_id(1_763_195_400_000, fingerprint, 2)
    assert run_id == "001763195400000-5c47394a26eb1224-a2"
    assert protocol.parse_run_id(run_id) == protocol.RunId(1_763_195_400_000, "5c47394a26eb1224", 2)
    settings = api_core.Settings(input_bucket="in-bucket", output_bucket="out-bucket", table_name="jobs")
    job = "a" * 32
    folder = f"results/{job}/runs/{run_id}/"
    assert api_core.committed_prefix(settings, job, {"output_prefix": folder}) == folder
    for other in ("latest", "1-2-3", "001763195400000-5C47394A26EB1224-a1", "001763195400000-5c47394a26eb1224-a",
                  "001763195400000-5c47394a26eb1224-a1\n", "../x-5c47394a26eb1224-a1"):
        assert protocol.parse_run_id(other) is None, other
        assert api_core.committed_prefix(settings, job, {"output_prefix": f"results/{job}/runs/{other}/"}) is None


def test_a_commit_removes_older_runs_and_its_other_attempts_only():
    from fakes import FakeClock, InMemoryObjects, RecordingEvents
    from job_commit import remove_older_runs

    clock = FakeClock()
    objects = InMemoryObjects(clock)
    deps = jobs.Deps(objects=objects, jobs=None, events=RecordingEvents(), clock=clock)  # type: ignore[arg-type]
    settings = jobs.Settings(input_bucket="in", output_bucket="out")
    mine, theirs = "a" * 16, "b" * 16
    committed = protocol.format_run_id(200, mine, 2)
    folders = {protocol.format_run_id(100, theirs, 1): "gone",     # older inputs
               protocol.format_run_id(200, mine, 1): "gone",       # this run's other attempt
               committed: "kept",
               protocol.format_run_id(200, theirs, 1): "kept",     # same input_seq, other versions
               protocol.format_run_id(300, theirs, 1): "kept",     # newer inputs
               "not-a-run": "kept"}
    for folder in folders:
        objects.put("out", f"results/j/runs/{folder}/report.json", b"{}")
    remove_older_runs(deps, settings, "j", committed)
    left = {key.split("/")[3] for key in objects.list_keys("out", "results/j/runs/")}
    assert left == {folder for folder, fate in folders.items() if fate == "kept"}
