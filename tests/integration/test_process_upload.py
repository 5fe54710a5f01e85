"""The S3-triggered job protocol, end to end inside moto's mock_aws, with the real engine."""

from __future__ import annotations

import csv
import io
import json
import threading
from pathlib import Path

import pytest

import memberseg.runner
from memberseg.job_protocol import AS_OF_METADATA
from s3_world import EXAMPLES, load_event, make_event

MEMBERSHIPS = EXAMPLES / "memberships.xlsx"
ORDERS = EXAMPLES / "orders.xlsx"
FOUR_OUTPUTS = ["customer_state.csv.gz", "hubspot_contacts.csv", "hubspot_properties.json", "membership_segments.xlsx",
                "report.json"]


@pytest.fixture
def engine_calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Count real engine runs (the handler imports memberseg.runner.run_job at call time)."""
    calls: list[Path] = []
    real = memberseg.runner.run_job

    def counting(memberships, orders, out_dir, **kwargs):
        calls.append(Path(memberships))
        return real(memberships, orders, out_dir, **kwargs)

    monkeypatch.setattr(memberseg.runner, "run_job", counting)
    return calls


def report_versions(world, job_id: str) -> int:
    """How many report.json were ever written for the job (one per engine run that uploaded)."""
    listing = world.s3.list_object_versions(Bucket=world.output_bucket, Prefix=f"results/{job_id}/")
    return len([v for v in listing.get("Versions", []) if v["Key"].endswith("/report.json")])


def names(keys: list[str]) -> list[str]:
    return sorted(k.rsplit("/", 1)[-1] for k in keys)


# ------------------------------------------------------------------ the happy path, both orders
@pytest.mark.parametrize("first,second", [("memberships", "orders"), ("orders", "memberships")])
def test_job_runs_once_both_files_present_whatever_the_arrival_order(world, engine_calls, first, second):
    files = {"memberships": ("uploads/acme/memberships.xlsx", MEMBERSHIPS),
             "orders": ("uploads/acme/Orders-Q4.XLSX", ORDERS)}

    waiting = world.upload_and_deliver(*files[first])
    assert waiting["action"] == "waiting"
    status = world.status("acme")
    assert status["status"] == "WAITING_FOR_FILES"
    assert status["missing"] == [second]
    assert world.results("acme") == []

    done = world.upload_and_deliver(*files[second])
    assert done["action"] == "succeeded"
    assert len(engine_calls) == 1
    assert world.committed("acme") == FOUR_OUTPUTS
    assert world.run_folders("acme") == [done["run_id"]]               # the committed run's folder alone

    status = world.status("acme")
    assert status["status"] == "SUCCEEDED"
    assert status["output_prefix"] == f"results/acme/runs/{done['run_id']}/"
    assert status["output_keys"][-1] == status["output_prefix"] + "report.json"       # written last
    report = world.read_committed("acme", "report.json")
    assert status["counts"]["rows_in"] == report["memberships"]["rows_in"] == 352
    assert status["counts"]["customers_out"] == report["memberships"]["kept"]
    assert status["counts"]["hubspot_rows"] == report["hubspot"]["rows"]

    (event,) = world.job_events()
    assert event["source"] == "memberseg.jobs"
    assert event["detail-type"] == "Segmentation Job Succeeded"
    assert event["detail"]["job_id"] == "acme"
    assert event["detail"]["output_keys"] == status["output_keys"]
    assert event["detail"]["counts"]["customers_out"] == report["memberships"]["kept"]


def test_outputs_are_uploaded_with_report_json_last(world, monkeypatch):
    order: list[str] = []
    deps = world.app.dependencies()
    real_upload = deps.objects.upload

    kept: list[str] = []

    def spy(bucket, key, src, content_type):
        (kept if "/states/" in key else order).append(key.rsplit("/", 1)[-1])
        return real_upload(bucket, key, src, content_type)

    monkeypatch.setattr(deps.objects, "upload", spy)
    world.upload_and_deliver("uploads/j1/memberships.xlsx", MEMBERSHIPS)
    result = world.upload_and_deliver("uploads/j1/orders.xlsx", ORDERS)
    assert order[-1] == "report.json"
    assert sorted(order) == FOUR_OUTPUTS
    assert kept == [f"{result['run_id']}.csv.gz"]           # the job's copy of the state (tests/integration/test_job_series.py)


# ------------------------------------------------------------------ exactly once
def test_duplicate_delivery_does_not_run_the_job_again(world, engine_calls):
    world.upload_and_deliver("uploads/dup/memberships.xlsx", MEMBERSHIPS)
    response = world.put("uploads/dup/orders.xlsx", ORDERS)
    event = make_event(world.input_bucket, "uploads/dup/orders.xlsx", version_id=response["VersionId"])

    assert world.invoke(event)["action"] == "succeeded"
    assert world.invoke(event)["action"] == "duplicate"
    # a late duplicate of the *first* file's event is a duplicate too
    assert world.invoke(make_event(world.input_bucket, "uploads/dup/memberships.xlsx"))["action"] == "duplicate"

    assert len(engine_calls) == 1
    assert report_versions(world, "dup") == 1
    assert [e["detail-type"] for e in world.job_events()] == ["Segmentation Job Succeeded"]


def test_eight_concurrent_deliveries_are_processed_exactly_once(world, engine_calls, dynamodb_atomic):
    world.put("uploads/burst/memberships.xlsx", MEMBERSHIPS)
    world.put("uploads/burst/orders.xlsx", ORDERS)
    events = [make_event(world.input_bucket, f"uploads/burst/{'orders' if i % 2 else 'memberships'}.xlsx")
              for i in range(8)]
    world.app.dependencies()              # create the clients before the threads race
    barrier = threading.Barrier(len(events))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def deliver(event):
        try:
            barrier.wait(timeout=10)
            outcomes.append(world.invoke(event)["action"])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(e,)) for e in events]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    assert sorted(outcomes) == ["duplicate"] * 7 + ["succeeded"]
    assert len(engine_calls) == 1
    assert report_versions(world, "burst") == 1
    assert [e["detail-type"] for e in world.job_events()] == ["Segmentation Job Succeeded"]
    assert world.status("burst")["status"] == "SUCCEEDED"


def test_reupload_of_either_file_runs_the_job_again(world, engine_calls):
    world.upload_and_deliver("uploads/again/memberships.xlsx", MEMBERSHIPS)
    first = world.upload_and_deliver("uploads/again/orders.xlsx", ORDERS)
    # the same bytes again: a new object version, so a new run (with newer inputs: a later second)
    world.next_second()
    second = world.upload_and_deliver("uploads/again/orders.xlsx", ORDERS)
    world.next_second()
    third = world.upload_and_deliver("uploads/again/memberships.xlsx", MEMBERSHIPS)

    assert [first["action"], second["action"], third["action"]] == ["succeeded"] * 3
    assert len({first["fingerprint"], second["fingerprint"], third["fingerprint"]}) == 3
    assert len(engine_calls) == 3
    assert report_versions(world, "again") == 3
    assert world.status("again")["committed_fingerprint"] == third["fingerprint"]
    assert world.run_folders("again") == [third["run_id"]]             # older runs' folders are removed


# ------------------------------------------------------------------ bad input
def test_bad_input_fails_with_error_json_only_and_leaves_inputs_untouched(world, engine_calls):
    world.upload_and_deliver("uploads/bad/memberships.xlsx", MEMBERSHIPS)
    assert world.upload_and_deliver("uploads/bad/orders.xlsx", ORDERS)["action"] == "succeeded"
    assert world.committed("bad") == FOUR_OUTPUTS

    # replace the orders with a file that lacks the required columns, and has too few for a draft profile
    # (a file memberseg can draft a profile from stops to ask instead: test_needs_answers_flow.py)
    bad = b"Region\nNorth\n"
    world.s3.delete_object(Bucket=world.input_bucket, Key="uploads/bad/orders.xlsx")
    world.next_second()                 # newer inputs than the committed run's, so its folder goes
    outcome = world.upload_and_deliver("uploads/bad/orders.csv", bad)
    before = world.s3.list_object_versions(Bucket=world.input_bucket, Prefix="uploads/bad/")

    assert outcome["action"] == "failed"
    assert world.committed("bad") == ["error.json"]        # and no other outputs
    assert len(world.run_folders("bad")) == 1
    error = world.read_committed("bad", "error.json")["error"]
    assert error["code"] and error["message"]
    assert error["file"] == "orders.csv"
    status = world.status("bad")
    assert status["status"] == "FAILED"
    assert status["error"]["code"] == error["code"]
    assert [e["detail-type"] for e in world.job_events()] == ["Segmentation Job Succeeded", "Segmentation Job Failed"]

    # input errors are final: a redelivery does not run the job again
    assert world.invoke(make_event(world.input_bucket, "uploads/bad/orders.csv"))["action"] == "duplicate"
    assert len(engine_calls) == 2
    after = world.s3.list_object_versions(Bucket=world.input_bucket, Prefix="uploads/bad/")
    assert [(v["Key"], v["VersionId"], v["ETag"]) for v in after["Versions"]] == \
           [(v["Key"], v["VersionId"], v["ETag"]) for v in before["Versions"]]
    got = world.s3.get_object(Bucket=world.input_bucket, Key="uploads/bad/orders.csv")["Body"].read()
    assert got == bad


def test_files_uploaded_in_each_others_place_are_swapped_by_the_engine(world, engine_calls):
    """Issue 16 §6: the S3 flow passes files by name; the engine swaps them, as the CLI does."""
    world.upload_and_deliver("uploads/right/memberships.xlsx", MEMBERSHIPS)
    assert world.upload_and_deliver("uploads/right/orders.xlsx", ORDERS)["action"] == "succeeded"
    world.upload_and_deliver("uploads/swap/memberships.xlsx", ORDERS)
    assert world.upload_and_deliver("uploads/swap/orders.xlsx", MEMBERSHIPS)["action"] == "succeeded"
    inputs = world.read_committed("swap", "report.json")["inputs"]
    assert inputs["swapped"] is True and "memberseg read each file in the other's place" in inputs["swapped_reason"]
    assert world.read_committed("swap", "report.json")["memberships"] == \
        world.read_committed("right", "report.json")["memberships"]
    csv = [world.s3.get_object(Bucket=world.output_bucket, Key=world.committed_prefix(job) + "hubspot_contacts.csv")
           ["Body"].read() for job in ("right", "swap")]
    assert csv[0] == csv[1]


def test_an_unread_meaningful_column_stops_the_job_to_ask_about_it(world, engine_calls):
    """Issue 16 §4: a column of refund words the packaged standard layout does not read, under a header no
    vocabulary knows, is no fit: the job ends FAILED needs_answers (final), asking what the column means,
    as in the CLI; nothing is summed."""
    payments = b"Customer ID,Amount,Buchungsart\n103346,499.00,charge\n103346,499.00,refund\n"
    world.upload_and_deliver("uploads/refunds/memberships.xlsx", MEMBERSHIPS)
    assert world.upload_and_deliver("uploads/refunds/orders.csv", payments)["action"] == "failed"
    error = world.read_committed("refunds", "error.json")["error"]
    assert (error["code"], error["file"]) == ("needs_answers", "orders.csv")
    assert "orders.column.Buchungsart" in error["details"]["questions"]
    assert world.status("refunds")["error"]["code"] == "needs_answers"


def test_a_known_row_type_column_is_read_by_the_inferred_profile_and_the_refund_subtracted(world, engine_calls):
    """The same payments under the row-type header Type, every word known (charge, refund): the draft is
    certain, the job runs with it, and 499 paid, 499 refunded is 0.00 (not 998.00)."""
    payments = b"Customer ID,Amount,Type\n103346,499.00,charge\n103346,499.00,refund\n"
    world.upload_and_deliver("uploads/typed/memberships.xlsx", MEMBERSHIPS)
    assert world.upload_and_deliver("uploads/typed/orders.csv", payments)["action"] == "succeeded"
    report = world.read_committed("typed", "report.json")
    assert report["inputs"]["orders"]["profile"]["chosen_by"] == "inferred"
    key = world.committed_prefix("typed") + "hubspot_contacts.csv"
    rows = csv.DictReader(io.StringIO(world.s3.get_object(Bucket=world.output_bucket, Key=key)["Body"].read().decode()))
    assert next(row for row in rows if row["email"] == "mgarcia@heartlandveterinary.us")["total_order_value"] == "0.00"


def test_invalid_rules_file_is_a_bad_input_failure(world, engine_calls):
    world.put("uploads/rules/rules.yaml", b"version: 1\nstatus:\n  expiring_soon_days: soon\n")
    world.upload_and_deliver("uploads/rules/memberships.xlsx", MEMBERSHIPS)
    outcome = world.upload_and_deliver("uploads/rules/orders.xlsx", ORDERS)
    assert outcome["action"] == "failed"
    assert world.committed("rules") == ["error.json"]
    assert "expiring_soon_days" in world.read_committed("rules", "error.json")["error"]["message"]


def test_rules_file_in_the_folder_overrides_the_defaults(world, engine_calls):
    rules = (Path(memberseg.runner.__file__).parent / "default_rules.yaml").read_text()
    rules = rules.replace("savings_rate: 0.08", "savings_rate: 0.5")
    world.put("uploads/custom/rules.yaml", rules.encode())
    world.upload_and_deliver("uploads/custom/memberships.xlsx", MEMBERSHIPS)
    assert world.upload_and_deliver("uploads/custom/orders.xlsx", ORDERS)["action"] == "succeeded"
    default = world.upload_and_deliver("uploads/plain/memberships.xlsx", MEMBERSHIPS)
    default = world.upload_and_deliver("uploads/plain/orders.xlsx", ORDERS)
    assert default["action"] == "succeeded"
    custom_digest = world.read_committed("custom", "report.json")
    plain_digest = world.read_committed("plain", "report.json")
    assert json.dumps(custom_digest.get("rules_digest") or custom_digest.get("rules")) != \
           json.dumps(plain_digest.get("rules_digest") or plain_digest.get("rules"))


def test_unrecognised_file_name_is_a_clear_job_error(world, engine_calls):
    event = load_event("object_created_unrecognised.json")          # uploads/job-2026-11-15/customer list.pdf
    world.put("uploads/job-2026-11-15/memberships.xlsx", MEMBERSHIPS)
    world.put("uploads/job-2026-11-15/customer list.pdf", b"%PDF-1.7")
    outcome = world.invoke(event)

    assert outcome["action"] == "failed"
    assert engine_calls == []
    error = world.read_committed("job-2026-11-15", "error.json")["error"]
    assert error["code"] == "unrecognised_file"
    assert error["file"] == "customer list.pdf"
    assert "memberships" in error["message"] and "orders" in error["message"]
    assert world.status("job-2026-11-15")["status"] == "FAILED"


def test_two_orders_files_are_ambiguous(world, engine_calls):
    world.put("uploads/amb/memberships.xlsx", MEMBERSHIPS)
    world.put("uploads/amb/orders.xlsx", ORDERS)
    outcome = world.upload_and_deliver("uploads/amb/orders-old.csv", b"SAP ID,Total Value\n1,2\n")
    assert outcome["action"] == "failed"
    assert world.read_committed("amb", "error.json")["error"]["code"] == "ambiguous_file"
    assert engine_calls == []


# ------------------------------------------------------------------ keys
def test_keys_with_spaces_and_unicode_arrive_encoded_and_are_decoded(world, engine_calls):
    event = load_event("object_created_unicode_key.json")
    job_id = "Jahresabschluss März 2026"
    assert "%C3%A4" in event["detail"]["object"]["key"]          # as AWS delivers it
    world.upload_and_deliver(f"uploads/{job_id}/MEMBERSHIPS – Übersicht.XLSX", MEMBERSHIPS)
    world.put(f"uploads/{job_id}/Orders Übersicht (final).xlsx", ORDERS)

    outcome = world.invoke(event)
    assert outcome["action"] == "succeeded"
    assert outcome["job_id"] == job_id
    assert world.committed(job_id) == FOUR_OUTPUTS
    assert world.status(job_id)["files"]["orders"]["key"] == f"uploads/{job_id}/Orders Übersicht (final).xlsx"


def test_plus_sign_in_a_key_survives_decoding(world, engine_calls):
    world.upload_and_deliver("uploads/a+b/memberships+2026.xlsx", MEMBERSHIPS)
    outcome = world.upload_and_deliver("uploads/a+b/orders.xlsx", ORDERS)
    assert outcome["action"] == "succeeded"
    assert outcome["job_id"] == "a+b"


# ------------------------------------------------------------------ no recursion
def test_writing_to_the_output_bucket_never_starts_a_job(world, engine_calls):
    # Even with EventBridge notifications switched on for the output bucket (the template
    # leaves them off), the template's rule must not match its objects.
    world.s3.put_bucket_notification_configuration(
        Bucket=world.output_bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    world.put("uploads/loop/memberships.xlsx", MEMBERSHIPS)
    world.put("uploads/loop/orders.xlsx", ORDERS)
    world.put("results/loop/report.json", b"{}")          # wrong prefix in the input bucket
    world.put("elsewhere/orders.xlsx", ORDERS)

    delivered = world.trigger_events()
    assert sorted(e["detail"]["object"]["key"] for e in delivered) == \
           ["uploads/loop/memberships.xlsx", "uploads/loop/orders.xlsx"]
    for event in delivered:                                # run what EventBridge delivered
        world.invoke(local_event(event))
    assert world.committed("loop") == FOUR_OUTPUTS
    assert len(engine_calls) == 1

    # the function's own writes reached EventBridge but matched nothing
    assert world.trigger_events() == []

    # and the handler itself refuses output-bucket events (defence in depth)
    outcome = world.invoke(load_event("object_created_output_bucket.json"))
    assert outcome == {"action": "ignored", "reason": "not_input_bucket"}
    assert len(engine_calls) == 1


def local_event(event: dict) -> dict:
    import local_aws
    return local_aws.as_delivered_by_aws(event)


def test_key_outside_a_job_folder_is_ignored(world, engine_calls):
    world.put("uploads/memberships.xlsx", MEMBERSHIPS)
    outcome = world.invoke(make_event(world.input_bucket, "uploads/memberships.xlsx"))
    assert outcome["action"] == "ignored"
    assert engine_calls == []


# ------------------------------------------------------------------ transient faults
def test_transient_fault_is_raised_then_retried(world, monkeypatch, engine_calls):
    real = memberseg.runner.run_job
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk hiccup")
        return real(*args, **kwargs)

    monkeypatch.setattr(memberseg.runner, "run_job", flaky)
    world.upload_and_deliver("uploads/flaky/memberships.xlsx", MEMBERSHIPS)
    event = make_event(world.input_bucket, "uploads/flaky/orders.xlsx",
                       version_id=world.put("uploads/flaky/orders.xlsx", ORDERS)["VersionId"])
    with pytest.raises(OSError):
        world.invoke(event)                      # Lambda sees the fault and retries
    assert world.status("flaky")["status"] == "PROCESSING"
    retry = world.invoke(event)
    assert retry["action"] == "succeeded"
    assert retry["attempt"] == 2
    assert calls["n"] == 2


def test_fault_on_the_last_attempt_marks_the_job_failed(world, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(memberseg.runner, "run_job", broken)
    world.upload_and_deliver("uploads/doomed/memberships.xlsx", MEMBERSHIPS)
    event = make_event(world.input_bucket, "uploads/doomed/orders.xlsx",
                       version_id=world.put("uploads/doomed/orders.xlsx", ORDERS)["VersionId"])
    for _ in range(3):                           # the first try and Lambda's two retries (+60 s, +120 s)
        with pytest.raises(RuntimeError):
            world.invoke(event)
    status = world.status("doomed")
    assert status["status"] == "FAILED"
    assert status["error"]["code"] == "internal_error"
    assert world.committed("doomed") == ["error.json"]
    assert [e["detail-type"] for e in world.job_events()] == ["Segmentation Job Failed"]
    assert world.invoke(event)["action"] == "duplicate"     # no fourth run


# ------------------------------------------------------------------ observability
def test_every_log_line_carries_the_job_id_and_metrics_are_emitted(world, capsys):
    log_stream = io.StringIO()
    handler = world.app.logger.registered_handler      # Powertools' JSON handler, bound at import
    previous = handler.setStream(log_stream)
    try:
        capsys.readouterr()
        world.upload_and_deliver("uploads/logs/memberships.xlsx", MEMBERSHIPS)
        world.upload_and_deliver("uploads/logs/orders.xlsx", ORDERS)
    finally:
        handler.setStream(previous)
    logs = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(logs) >= 6
    assert {line.get("job_id") for line in logs} == {"logs"}
    assert any(line["message"] == "engine stage" for line in logs)
    emitted = {m["Name"] for line in metrics for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"JobsSucceeded", "RowsIn", "CustomersOut", "JobDuration"} <= emitted
    (succeeded,) = [line for line in metrics if "JobsSucceeded" in line]
    assert succeeded["RowsIn"] in (352, [352], 352.0, [352.0])


# ------------------------------------------------------------------ the mocks are the template
def test_local_resources_follow_the_template(world):
    s3 = world.s3
    for bucket in (world.input_bucket, world.output_bucket):
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
    rules = s3.get_bucket_lifecycle_configuration(Bucket=world.input_bucket)["Rules"]
    assert {"Days": 7} in [r.get("Expiration") for r in rules]
    table = world.session.client("dynamodb").describe_table(TableName=world.local.stack.table_name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["job_id", "sk"]


# ------------------------------------------------------------------ the as-of date the page chose
def _put_with_as_of(world, key: str, path: Path, as_of: str | None) -> dict:
    metadata = {AS_OF_METADATA: as_of} if as_of is not None else {}
    response = world.s3.put_object(Bucket=world.input_bucket, Key=key, Body=path.read_bytes(), Metadata=metadata)
    return world.invoke(make_event(world.input_bucket, key, version_id=response.get("VersionId"),
                                   etag=response["ETag"].strip('"')))


def test_the_as_of_chosen_with_the_files_is_the_runs_in_preference_to_the_default(world, monkeypatch):
    monkeypatch.setenv("JOB_AS_OF", "2026-11-15")
    world.app.reload_env()
    _put_with_as_of(world, "uploads/dated/memberships.xlsx", MEMBERSHIPS, "2026-10-01")
    assert _put_with_as_of(world, "uploads/dated/orders.xlsx", ORDERS, "2026-09-01")["action"] == "succeeded"
    assert world.read_committed("dated", "report.json")["as_of"] == "2026-10-01"       # the memberships file's

    _put_with_as_of(world, "uploads/plain/memberships.xlsx", MEMBERSHIPS, None)       # a plain drop: no choice
    assert _put_with_as_of(world, "uploads/plain/orders.xlsx", ORDERS, "2026-09-01")["action"] == "succeeded"
    assert world.read_committed("plain", "report.json")["as_of"] == "2026-09-01"      # else the orders file's

    world.upload_and_deliver("uploads/neither/memberships.xlsx", MEMBERSHIPS)
    assert world.upload_and_deliver("uploads/neither/orders.xlsx", ORDERS)["action"] == "succeeded"
    assert world.read_committed("neither", "report.json")["as_of"] == "2026-11-15"    # else JOB_AS_OF


@pytest.mark.parametrize("value", ["2026-02-30", "next week", "1999-01-01"])
def test_a_file_carrying_an_unusable_as_of_fails_the_job_naming_it(world, value):
    _put_with_as_of(world, "uploads/baddate/memberships.xlsx", MEMBERSHIPS, value)
    assert _put_with_as_of(world, "uploads/baddate/orders.xlsx", ORDERS, None)["action"] == "failed"
    error = world.read_committed("baddate", "error.json")["error"]
    assert error["code"] == "invalid_as_of" and error["file"] == "memberships.xlsx"
    assert "as_of" in error["message"] and value in error["message"]
