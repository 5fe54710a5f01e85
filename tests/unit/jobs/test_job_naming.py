"""The job folder protocol's pure parts: key parsing, file roles, fingerprints, counts."""

from __future__ import annotations

from pathlib import Path

import job_commit
import job_folder
import jobs
import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("key,expected", [
    ("uploads/j1/memberships.xlsx", ("j1", "memberships.xlsx")),
    ("uploads/Q4 März/Orders Übersicht.xlsx", ("Q4 März", "Orders Übersicht.xlsx")),
    ("uploads/j1/sub/orders.csv", ("j1", "sub/orders.csv")),
    ("uploads/memberships.xlsx", None),
    ("uploads//orders.xlsx", None),
    ("results/j1/report.json", None),
])
def test_split_key(key, expected):
    assert job_folder.split_key(key) == expected


@pytest.mark.parametrize("name,role", [
    ("memberships.xlsx", "memberships"), ("MEMBERSHIPS-2026.XLSM", "memberships"),
    ("Memberships export.xls", "memberships"), ("memberships.csv", "memberships"),
    ("orders.xlsx", "orders"), ("Orders Q4 (final).CSV", "orders"),
    ("rules.yaml", "rules"), ("Rules.YML", "rules"), ("rules.toml", "rules"),
    ("memberships.pdf", None), ("my memberships.xlsx", None), ("customers.xlsx", None),
    ("rules-old.yaml", None), ("sub/orders.xlsx", None), ("", None),
])
def test_classify(name, role):
    assert job_folder.classify(name) == role


def obj(key, version, etag="e"):
    return jobs.ObjectInfo(key=key, version_id=version, etag=etag, size=1, last_modified="2026-11-15T00:00:00+00:00")


def test_fingerprint_depends_on_versions_not_on_listing_order():
    a, b = obj("uploads/j/memberships.xlsx", "v1"), obj("uploads/j/orders.xlsx", "v1")
    assert job_folder.fingerprint_of([a, b]) == job_folder.fingerprint_of([b, a])
    assert job_folder.fingerprint_of([a, b]) != job_folder.fingerprint_of([a, obj("uploads/j/orders.xlsx", "v2")])
    assert job_folder.fingerprint_of([a, b]) != job_folder.fingerprint_of([a, b, obj("uploads/j/rules.yaml", "v1")])
    # unversioned buckets fall back to ETag + time
    u1, u2 = obj("uploads/j/orders.xlsx", None, "e1"), obj("uploads/j/orders.xlsx", None, "e2")
    assert job_folder.fingerprint_of([a, u1]) != job_folder.fingerprint_of([a, u2])


def test_folder_inspection_reports_unknown_and_ambiguous_files():
    prefix = "uploads/j/"
    files, missing, problem = job_folder.inspect_folder([obj(prefix + "memberships.xlsx", "1")], prefix)
    assert missing == ["orders"] and problem is None
    _, _, problem = job_folder.inspect_folder([obj(prefix + "memberships.xlsx", "1"), obj(prefix + "notes.txt", "1")],
                                              prefix)
    assert problem.error["error"]["code"] == "unrecognised_file"
    assert problem.error["error"]["file"] == "notes.txt"
    _, _, problem = job_folder.inspect_folder([obj(prefix + "orders.xlsx", "1"), obj(prefix + "orders.csv", "1"),
                                               obj(prefix + "memberships.xlsx", "1")], prefix)
    assert problem.error["error"]["code"] == "ambiguous_file"


def test_counts_from_report():
    report = {"memberships": {"rows_in": 10, "kept": 7, "consolidated": 2, "rejected": 1},
              "orders": {"rows_in": 5, "matched": 4, "unmatched": 1, "rejected": 0},
              "hubspot": {"rows": 6, "left_out": 1}, "segment_counts": {"expired_membership": 2}}
    counts = job_commit.counts_from_report(report)
    assert counts["rows_in"] == 10 and counts["customers_out"] == 7 and counts["hubspot_rows"] == 6
    assert counts["segment_counts"] == {"expired_membership": 2}


def test_events_for_other_buckets_or_outside_job_folders_do_nothing():
    class Boom:
        def __getattr__(self, name):
            raise AssertionError(f"{name} must not be called")

    deps = jobs.Deps(objects=Boom(), jobs=Boom(), events=Boom())
    settings = jobs.Settings(input_bucket="in", output_bucket="out")
    assert jobs.handle_object_created("out", "uploads/j/orders.xlsx", deps, settings).reason == "not_input_bucket"
    assert jobs.handle_object_created("in", "results/j/report.json", deps, settings).reason == "not_in_job_folder"


def test_the_core_never_imports_boto3():
    core = [*sorted((ROOT / "functions" / "process_upload").glob("job*.py")),
            ROOT / "functions" / "process_upload" / "sweep.py"]
    assert {path.name for path in core} >= {"jobs.py", "job_ports.py", "job_folder.py", "job_errors.py",
                                            "job_run.py", "job_commit.py", "job_rules.py", "sweep.py"}
    for path in core:
        source = path.read_text().replace("never imports boto3", "").replace("never import boto3", "")
        assert "boto3" not in source, path.name
    for path in (ROOT / "layers" / "memberseg" / "memberseg").glob("*.py"):
        assert "import boto3" not in path.read_text(), path.name
