"""The upload API's pure rules: ids, keys, request parsing, what a job looks like."""

from __future__ import annotations


import pytest

from api_support import JOB_ID, SAMPLE_PROPERTIES, SAMPLE_REPORT, settings

import api_core as core


@pytest.mark.parametrize("job_id", [JOB_ID, "0" * 32, "abcdef0123456789abcdef0123456789"])
def test_job_ids_the_api_mints_are_valid(job_id):
    assert core.validate_job_id(job_id) == job_id


def test_new_job_ids_are_uuid4_hex_and_valid():
    import uuid
    ids = {core.new_job_id() for _ in range(50)}
    assert len(ids) == 50
    for job_id in ids:
        assert core.validate_job_id(job_id) == job_id
        assert uuid.UUID(hex=job_id).version == 4


@pytest.mark.parametrize("job_id", [
    "", "x", "0" * 31, "0" * 33, JOB_ID.upper(), "3b671b23-4aed-48ba-84dc-72ad23c02e90", "../" + "0" * 29,
    "0" * 31 + "/", "0" * 16 + "%2F" + "0" * 13, "0" * 31 + "\n", None, 123, ["0" * 32],
])
def test_malformed_job_ids_are_refused(job_id):
    with pytest.raises(core.BadRequest):
        core.validate_job_id(job_id)


def test_keys_are_only_built_from_valid_ids():
    s = settings()
    assert core.upload_key(s, JOB_ID, "memberships", ".xlsx") == f"uploads/{JOB_ID}/memberships.xlsx"
    assert core.job_prefix(s, JOB_ID) == f"uploads/{JOB_ID}/"
    assert core.results_prefix(s, JOB_ID) == f"results/{JOB_ID}/"
    for build in (lambda: core.upload_key(s, "../etc", "memberships", ".xlsx"),
                  lambda: core.job_prefix(s, "a/b"), lambda: core.results_prefix(s, "")):
        with pytest.raises(core.BadRequest):
            build()
    with pytest.raises(core.BadRequest):
        core.upload_key(s, JOB_ID, "rules", ".xlsx")


@pytest.mark.parametrize("body, expected", [
    ({"memberships": "xlsx", "orders": "csv"}, {"memberships": ".xlsx", "orders": ".csv"}),
    ({"memberships": ".XLSX", "orders": " .Xls "}, {"memberships": ".xlsx", "orders": ".xls"}),
    ({"files": {"memberships": {"name": "Members Q4.xlsm"}, "orders": {"name": "orders.2026.csv"}}},
     {"memberships": ".xlsm", "orders": ".csv"}),
])
def test_create_request_gives_each_files_extension(body, expected):
    assert core.parse_create_request(body) == expected


@pytest.mark.parametrize("body, needle", [
    ([], "JSON object"), ("xlsx", "JSON object"), ({"memberships": "xlsx"}, "'orders' is missing"),
    ({"memberships": "pdf", "orders": "xlsx"}, "not accepted"), ({"memberships": "xlsx", "orders": 5}, "'orders'"),
    ({"memberships": "xlsx/../../x", "orders": "xlsx"}, "not accepted"),
    ({"files": {"memberships": {"name": "noext"}, "orders": {"name": "o.xlsx"}}}, "not accepted"),
])
def test_bad_create_requests_are_refused_with_a_reason(body, needle):
    with pytest.raises(core.BadRequest, match=needle):
        core.parse_create_request(body)


def test_upload_plan_pins_one_content_type_and_the_size_range():
    s = settings(max_upload_bytes=7 * 1024 * 1024)
    plans = core.plan_uploads(s, JOB_ID, {"memberships": ".xlsx", "orders": ".csv"})
    assert [(p.role, p.key, p.content_type) for p in plans] == [
        ("memberships", f"uploads/{JOB_ID}/memberships.xlsx", core.CONTENT_TYPES[".xlsx"]),
        ("orders", f"uploads/{JOB_ID}/orders.csv", "text/csv")]
    assert plans[0].conditions(s) == [{"Content-Type": core.CONTENT_TYPES[".xlsx"]},
                                      ["content-length-range", 1, 7 * 1024 * 1024]]
    assert plans[0].fields() == {"Content-Type": core.CONTENT_TYPES[".xlsx"]}


ENV = {"INPUT_BUCKET": "in-bucket", "OUTPUT_BUCKET": "out-bucket", "JOB_TABLE": "memberseg-jobs"}


@pytest.mark.parametrize("value", ["false", "FALSE", " 0 ", "no", "Off"])
def test_only_an_explicit_false_turns_auth_off(value):
    assert core.Settings.from_env(ENV | {"AUTH_ENABLED": value}).auth_enabled is False


@pytest.mark.parametrize("value", ["true", "1", "yes", "on", "", " TRUE "])
def test_auth_stays_on_when_unset_empty_or_true(value):
    assert core.Settings.from_env(ENV | {"AUTH_ENABLED": value}).auth_enabled is True
    assert core.Settings.from_env(ENV).auth_enabled is True


@pytest.mark.parametrize("value", ["flase", "disabled", "2", "nope", "f"])
def test_an_unclear_auth_switch_refuses_to_start(value):
    with pytest.raises(ValueError, match="AUTH_ENABLED"):
        core.Settings.from_env(ENV | {"AUTH_ENABLED": value})


@pytest.mark.parametrize("change", [{"INPUT_BUCKET": ""}, {"MAX_UPLOAD_MB": "lots"}, {"UPLOAD_PREFIX": "uploads"},
                                    {"RESULT_RETENTION_DAYS": "0"}])
def test_a_malformed_environment_fails_at_cold_start_naming_the_variable(change):
    with pytest.raises(ValueError, match=next(iter(change))):
        core.Settings.from_env(ENV | change)
    missing = dict(ENV)
    del missing["JOB_TABLE"]
    with pytest.raises(ValueError, match="JOB_TABLE"):
        core.Settings.from_env(missing)


def test_limits_come_from_one_place():
    assert core.UPLOAD_URL_TTL_S == 900
    assert core.Settings.from_env(ENV).max_upload_bytes == core.DEFAULT_MAX_UPLOAD_MB * 1024 * 1024 == 50 * 1024 * 1024
    s = core.Settings.from_env(ENV | {"MAX_UPLOAD_MB": "3", "AUTH_ENABLED": "false"})
    assert s.max_upload_bytes == 3 * 1024 * 1024 and s.auth_enabled is False
    assert core.Settings.from_env(ENV).auth_enabled is True
    # the processing function accepts exactly the extensions the API hands out keys for
    assert set(core.EXTENSIONS) == {".xlsx", ".xlsm", ".xls", ".csv"}


def test_received_files_name_their_role():
    s = settings()
    files = core.received_files(s, JOB_ID, [(f"uploads/{JOB_ID}/orders.csv", 10),
                                            (f"uploads/{JOB_ID}/memberships.xlsx", 20),
                                            (f"uploads/{JOB_ID}/notes.txt", 3)])
    assert files == [{"role": "memberships", "name": "memberships.xlsx", "size": 20},
                     {"role": None, "name": "notes.txt", "size": 3},
                     {"role": "orders", "name": "orders.csv", "size": 10}]


def test_report_summary_uses_report_numbers_and_property_labels():
    summary = core.summarise_report(SAMPLE_REPORT, core.property_labels(SAMPLE_PROPERTIES))
    assert summary["customers"] == 182 and summary["membership_rows"] == 352
    assert summary["consolidated"] == 168 and summary["rejected"] == 2
    assert summary["status_counts"] == {"Expired": 52, "Expiring Soon": 24, "Active": 106}
    assert summary["segments"] == [
        {"name": "active_membership", "label": "Active Membership", "count": 106},
        {"name": "expiring_soon", "label": "Expiring soon", "count": 24},          # no label: readable fallback
        {"name": "high_value_at_risk", "label": "High-Value At Risk", "count": 49}]
    assert summary["hubspot_rows"] == 171 and summary["hubspot_left_out"] == 11
    assert core.summarise_report({})["segments"] == []


def test_summary_names_the_profile_that_read_each_file():
    report = dict(SAMPLE_REPORT, inputs={"memberships": {"file": "members.csv", "profile": {
        "name": "woocommerce_memberships", "title": "WooCommerce Memberships", "chosen_by": "headers",
        "plain_name": "WooCommerce Memberships members export",
        "deciding_headers": ["membership_status", "member_since"]}}, "orders": {"file": "o.csv"}})
    inputs = core.summarise_report(report)["inputs"]
    assert inputs == {"memberships": {"file": "members.csv", "profile": "woocommerce_memberships",
                                      "title": "WooCommerce Memberships",
                                      "deciding_headers": ["membership_status", "member_since"],
                                      "read_as": "WooCommerce Memberships members export"}}


STANDARD_TITLE = "memberseg standard layout (hand-kept sheets, SAP-style order lists)"


@pytest.mark.parametrize("profile, headers, expected", [
    ({"name": "standard", "title": STANDARD_TITLE, "plain_name": None},
     ["Cust ID", "Customer Name", "Created Date", "Expiration Date"],
     "your own layout (columns Cust ID, Customer Name, …)"),
    ({"name": "standard", "title": STANDARD_TITLE, "plain_name": None}, ["Sold-To Party", "Net Value"],
     "your own layout (columns Sold-To Party, Net Value)"),
    ({"name": "standard", "title": "", "plain_name": None}, [], "your own layout"),   # chosen by the rules
    ({"name": "members_sheet", "title": "A hand-kept members sheet keyed by email (e.g. beside Shopify orders)",
      "plain_name": None}, ["Email", "Start Date", "End Date"], "your own layout (columns Email, Start Date, …)"),
    ({"name": "stripe_subscriptions", "title": "Stripe Dashboard subscriptions export",
      "plain_name": "Stripe subscriptions export"}, ["Customer ID", "Plan"], "Stripe subscriptions export"),
    # a report written before profiles had plain names: the title without its bracketed aside
    ({"name": "acme_export", "title": "Acme CRM members CSV (one row per seat)"}, ["Seat"], "Acme CRM members CSV"),
    ({"name": "standard", "title": STANDARD_TITLE}, ["Cust ID"], "your own layout (columns Cust ID)"),
])
def test_read_as_says_the_layout_in_plain_words(profile, headers, expected):
    assert core.read_as(profile, headers) == expected


def test_every_packaged_profile_reads_in_plain_words_from_its_own_file():
    from memberseg.rules import load_rules

    for profile in load_rules().catalog.values():
        words = core.read_as(profile.model_dump(mode="json"), ["Col A", "Col B", "Col C"])
        assert words and "(" not in words.replace("(columns", "")
        # only the layouts users keep themselves are named by their headers
        assert words.startswith("your own layout") == (profile.platform == "Spreadsheet")


def test_missing_column_error_carries_what_the_page_advice_needs():
    message = ("The memberships file 'memberships.csv' has no expiration_date column (also missing: email). "
               "Accepted headers: Expiration Date, Expiry Date, Current Period End (UTC). Headers found in row 1: "
               "Cust ID, Valid Until. To accept another header, add it to "
               "inputs.memberships.fields.expiration_date.aliases in a rules file.")
    error = core.plain_error({"code": "missing_column", "message": message, "file": "memberships.csv", "row": 1,
                              "column": "expiration_date", "details": {"missing": ["expiration_date", "email"],
                                                                       "found": ["Cust ID", "Valid Until"]}})
    assert error == {"code": "missing_column", "message": message, "file": "memberships.csv",
                     "column": "expiration_date", "missing": ["expiration_date", "email"],
                     "accepted": ["Expiration Date", "Expiry Date", "Current Period End (UTC)"]}
    # other codes pass no accepted headers, and a bare error is still plain
    other = core.plain_error({"code": "contradictory_values", "message": "Accepted headers: x. Headers found",
                              "column": "Created Date", "details": "not a mapping"})
    assert other == {"code": "contradictory_values", "message": "Accepted headers: x. Headers found", "file": None,
                     "column": "Created Date"}


def test_an_error_about_both_files_names_both():
    """headers.both_files_error: the page offers no one-file retry when both files need correcting."""
    problems = [{"code": "missing_column", "message": "m", "file": "memberships.xlsx"},
                {"code": "missing_column", "message": "o", "file": "orders.csv"}]
    error = core.plain_error({"code": "missing_column", "message": "m Also: o", "file": "memberships.xlsx",
                              "details": {"problems": problems}})
    assert error["file"] == "memberships.xlsx" and error["files"] == ["memberships.xlsx", "orders.csv"]


def test_downloads_come_from_report_outputs_and_drop_unsafe_names():
    report = dict(SAMPLE_REPORT, outputs=["membership_segments.xlsx", "hubspot_contacts_1.csv", "hubspot_contacts_2.csv",
                                          "hubspot_properties.json", "customer_state.csv.gz", "report.json", "../../secret",
                                          "x/y.csv", "other.txt"])
    downloads = core.output_downloads(report)
    assert [(d["kind"], d["name"]) for d in downloads] == [
        ("workbook", "membership_segments.xlsx"), ("hubspot_csv", "hubspot_contacts_1.csv"),
        ("hubspot_csv", "hubspot_contacts_2.csv"), ("properties", "hubspot_properties.json"),
        ("state", "customer_state.csv.gz"), ("report", "report.json")]
    assert downloads[1]["label"].endswith("part 1")


def test_status_messages_are_plain_words():
    mem = [{"role": "memberships", "name": "memberships.xlsx", "size": 1}]
    both = mem + [{"role": "orders", "name": "orders.xlsx", "size": 1}]
    assert core.status_message("WAITING_FOR_FILES", []) == "Waiting for the memberships and orders files."
    assert core.status_message("WAITING_FOR_FILES", mem) == "Received the memberships file; waiting for the orders file."
    assert "Starting" in core.status_message("WAITING_FOR_FILES", both)
    assert "Segmenting" in core.status_message("PROCESSING", both)
    assert core.status_message("FAILED", both, {"message": "The orders file has no Email column."}) \
        == "The orders file has no Email column."
    assert core.plain_error(None)["message"]


def test_a_date_the_export_lacks_passes_its_stand_ins_to_the_page():
    """headers.missing_column_error's details.stand_ins: the page's advice names the profile keys."""
    error = core.plain_error({"code": "missing_column", "message": "m", "file": "m.csv", "column": "expiration_date",
                              "details": {"missing": ["expiration_date"], "stand_ins": ["term", "status_alone"]}})
    assert error["stand_ins"] == ["term", "status_alone"]
    assert "stand_ins" not in core.plain_error({"code": "missing_column", "message": "m", "details": {}})


def test_a_swap_the_engine_made_reaches_the_page_and_nothing_else_does():
    swapped = dict(SAMPLE_REPORT, inputs={**SAMPLE_REPORT.get("inputs", {}), "swapped": True,
                                          "swapped_reason": "the memberships file 'o.csv' is an orders export"})
    summary = core.summarise_report(swapped)
    assert summary["swapped"] == "the memberships file 'o.csv' is an orders export"
    assert "swapped" not in summary["inputs"]
    assert "swapped" not in core.summarise_report(SAMPLE_REPORT)


def test_needs_answers_error_carries_the_open_questions_for_the_page():
    view = core.plain_error({"code": "needs_answers", "message": "No profile fits 'o.csv'.", "file": "o.csv",
                        "details": {"questions": ["orders.value.status.Bounced"]}})
    assert view["questions"] == ["orders.value.status.Bounced"] and view["code"] == "needs_answers"


def test_an_inferred_layout_reads_as_worked_out_from_the_file_with_its_evidence():
    evidence = [{"key": "fields.email", "value": "Email", "certain": True,
                 "evidence": "header 'Email' is a known email header and its values are email addresses"},
                {"key": "statuses.active", "value": "current", "certain": True,
                 "evidence": "'active' (3 rows in Status) is a known status"}]
    report = dict(SAMPLE_REPORT, inputs={"memberships": {"file": "members.csv", "profile": {
        "name": "inferred_memberships", "title": "Inferred from members.csv", "chosen_by": "inferred",
        "deciding_headers": [], "evidence": evidence}}})
    [(role, view)] = core.summarise_report(report)["inputs"].items()
    assert role == "memberships"
    assert view["read_as"] == "a layout memberseg worked out from the file's headers and values"
    assert view["evidence"] == [item["evidence"] for item in evidence]
    headers = dict(SAMPLE_REPORT, inputs={"memberships": {"file": "m.csv", "profile": {
        "name": "stripe_subscriptions", "chosen_by": "headers", "plain_name": "Stripe subscriptions export"}}})
    assert "evidence" not in core.summarise_report(headers)["inputs"]["memberships"]


def test_summary_carries_the_changes_since_the_jobs_previous_run():
    report = dict(SAMPLE_REPORT, changes={"since": "2026-11-01", "new": 5, "gone": 1, "status_changed": 17,
                                          "entered": {"expiring_soon": 14, "active_membership": 0},
                                          "left": {"active_membership": 14}},
                  changes_summary="since 2026-11-01: 14 became Expiring Soon, 3 expired, 5 new members")
    changes = core.summarise_report(report)["changes"]
    assert changes == {"since": "2026-11-01", "summary": "since 2026-11-01: 14 became Expiring Soon, 3 expired, "
                       "5 new members", "new": 5, "gone": 1, "status_changed": 17,
                       "entered": {"expiring_soon": 14, "active_membership": 0}, "left": {"active_membership": 14}}
    first = dict(report, changes={**report["changes"], "since": None}, changes_summary="first run: 5 new members")
    assert core.summarise_report(first)["changes"]["since"] is None
    assert "changes" not in core.summarise_report(SAMPLE_REPORT)          # a report from before runs formed a series
    broken = dict(report, changes={"since": 7, "new": "x", "entered": ["not", "a", "map"]})
    assert core.summarise_report(broken)["changes"] == {"since": None, "summary": report["changes_summary"], "new": 0,
                                                        "gone": 0, "status_changed": 0, "entered": {}, "left": {}}
