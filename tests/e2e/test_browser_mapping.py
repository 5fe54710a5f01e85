"""The page's mapping step in a real Chromium (Debian's /usr/bin/chromium driven by Playwright), against the
`make serve` stack (moto over HTTP, the API handler behind the local HTTP API, the processing function
in-process): two files laid out like exports no packaged profile fits stop the job to ask; the page shows
the questions (the job opened at ?job=<id> too), the answers are saved as a profile and the job runs again
to the hand-computed numbers; the same layout uploaded again is read without a question."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import serve_local
from mapping_fixture import ANSWERS, MEMBERSHIPS, ORDERS, TOTALS
from test_browser_upload import browser_profile, page  # noqa: F401 - the same Chromium fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.enable_socket]


@pytest.fixture(scope="module")
def stack():
    with serve_local.LocalServe(port=0, as_of="2026-11-30") as serve:
        yield serve


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    """The two files under the names a user's downloads would have."""
    folder = tmp_path_factory.mktemp("exports")
    files = {"memberships": folder / "patreon_members.csv", "orders": folder / "kofi_payments.csv"}
    shutil.copy(MEMBERSHIPS, files["memberships"])
    shutil.copy(ORDERS, files["orders"])
    return files


def _upload(page, stack, exports) -> None:
    page.goto(stack.url)
    page.set_input_files("#memberships-input", str(exports["memberships"]))
    page.set_input_files("#orders-input", str(exports["orders"]))
    page.click("#start")


def _proposal(stack, job_id: str) -> dict:
    s3 = stack.session.client("s3")
    prefix = stack.local_status(job_id)["output_prefix"]
    return json.loads(s3.get_object(Bucket=stack.local.stack.output_bucket, Key=prefix + "proposal.json")["Body"].read())


def _downloaded_totals(page, tmp_path: Path) -> dict[str, Decimal]:
    with page.expect_download() as info:
        page.click("#downloads a[data-kind='hubspot_csv']")
    saved = tmp_path / "hubspot_contacts.csv"
    info.value.save_as(saved)
    rows = csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8")))
    return {row["email"]: Decimal(row["total_order_value"]) for row in rows}


def test_answer_the_questions_in_the_page_then_the_same_layout_is_read_without_asking(
        stack, page, browser_profile, exports, tmp_path):
    _upload(page, stack, exports)
    page.wait_for_selector("#mapping-panel:not([hidden])", timeout=60_000)
    assert page.get_attribute("body", "data-job-status") == "NEEDS_ANSWERS"
    assert page.is_hidden("#error-panel")                    # a mapping step, not an error
    job_id = page.get_attribute("#job-id", "data-job-id")
    questions = _proposal(stack, job_id)["questions"]
    assert sorted(q["id"] for q in questions) == sorted(ANSWERS)

    # opened at ?job=<id> (a link from the Failed event's automation), the page shows the same questions
    other = browser_profile.new_page()
    try:
        other.goto(stack.url + "?job=" + job_id)
        other.wait_for_selector("#mapping-panel:not([hidden])", timeout=30_000)
        assert [el.get_attribute("data-question") for el in other.query_selector_all("#mapping-questions fieldset")] \
            == [q["id"] for q in questions]
    finally:
        other.close()

    # each question: its choices in plain words, a candidate column with (up to) three sample values, the
    # suggestion preselected, a label per radio
    expiry = "[data-question='memberships.field.expiration_date']"
    text = page.inner_text(expiry)
    assert "the column “Next Charge Date”" in text and "for example “2026-12-01 09:00:00.000000”" in text
    assert page.is_checked("[data-question='memberships.field.renewal_marker'] input[value='0']")   # suggested
    for radio in page.query_selector_all("#mapping-questions input[type=radio]"):
        assert page.query_selector(f"label[for='{radio.get_attribute('id')}']") is not None
    names = "[data-question='memberships.names']"
    assert "people's names" in page.inner_text(names) and "company names" in page.inner_text(names)
    assert page.input_value("#mapping-name") == "patreon_members"          # from the file's name
    shot = tmp_path / "mapping-step.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"mapping step screenshot: {shot}")

    # "Save and run" before answering everything says which question is open
    page.click("#mapping-save")
    assert "Please answer question" in page.inner_text("#mapping-error")

    # answer with the keyboard: focus each chosen radio and press Space
    for question in questions:
        index = question["choices"].index(ANSWERS[question["id"]])
        radio = f"[data-question='{question['id']}'] input[value='{index}']"
        page.focus(radio)
        page.keyboard.press("Space")
        assert page.is_checked(radio)
    page.focus("#mapping-save")
    page.keyboard.press("Enter")

    page.wait_for_selector("#result-panel:not([hidden])", timeout=90_000)
    assert page.get_attribute("body", "data-job-status") == "SUCCEEDED"
    assert page.get_attribute("#job-id", "data-job-id") == job_id              # the same job, run again
    assert _downloaded_totals(page, tmp_path) == TOTALS
    saved = stack.session.client("s3").get_object(Bucket=stack.local.stack.input_bucket,
                                                  Key="profiles/patreon_members.yaml")["Body"].read().decode()
    assert "Next Charge Date" in saved

    # the same layout again: no question, the same numbers, read with the saved profile
    page.click("#again")
    page.set_input_files("#memberships-input", str(exports["memberships"]))
    page.set_input_files("#orders-input", str(exports["orders"]))
    page.click("#start")
    page.wait_for_selector("#result-panel:not([hidden]), #mapping-panel:not([hidden]), #error-panel:not([hidden])",
                           timeout=90_000)
    assert page.is_visible("#result-panel"), page.inner_text("main")
    second = page.get_attribute("#job-id", "data-job-id")
    assert second != job_id
    assert _downloaded_totals(page, tmp_path) == TOTALS
    report = json.loads(stack.session.client("s3").get_object(
        Bucket=stack.local.stack.output_bucket, Key=stack.local_status(second)["output_prefix"] + "report.json"
    )["Body"].read())
    assert {report["inputs"][role]["profile"]["name"] for role in ("memberships", "orders")} == {"patreon_members"}


SQUARE = Path(__file__).resolve().parents[1] / "fixtures" / "exports" / "square_members" / "memberships.csv"


def test_a_payments_only_export_asks_what_each_payment_buys_in_plain_words(stack, page, tmp_path):
    """Square's item export (no end date, memberships beside T-shirts): the page asks which payments are
    memberships (the suggestion preselected) and what each covers, the season's first day editable with the
    keyboard; the answers run to the hand-checked counts of test_memberships_language.py."""
    members = tmp_path / "square_items.csv"
    shutil.copy(SQUARE, members)
    orders = tmp_path / "club_orders.csv"
    orders.write_text("Customer ID,Amount\nnobody,5.00\n", encoding="utf-8")
    page.goto(stack.url)
    page.set_input_files("#memberships-input", str(members))
    page.set_input_files("#orders-input", str(orders))
    page.click("#start")
    page.wait_for_selector("#mapping-panel:not([hidden])", timeout=60_000)
    term = "[data-question='memberships.term']"
    assert "Each “Club Membership 2025/26” payment in “square_items.csv” covers:" in page.inner_text(term + " legend")
    text = page.inner_text(term)
    assert "12 months from the payment" in text and "the calendar year" in text and "a season starting" in text
    season = term + " input[value='3']"
    assert page.is_checked(season)                                         # suggested: the items name seasons
    assert page.input_value(term + " .season-day-day") == "1" and page.input_value(term + " .season-day-month") == "9"
    assert page.get_attribute(term + " .season-day-month", "aria-label")
    buys = "[data-question='memberships.term.buys']"
    assert "Which payments in “square_items.csv” are memberships?" in page.inner_text(buys + " legend")
    assert "starts with “Club Membership” or “Junior Membership”" in page.inner_text(buys)
    assert page.is_checked(buys + " input[value='0']")                     # the suggestion, preselected
    tests = page.eval_on_selector_all(buys + " .custom-test option", "options => options.map(o => o.value)")
    assert tests == ["starts_with", "contains"]                           # "other": either test, a typed text

    # the season starts on 1 October: the month select, with the keyboard
    page.focus(term + " .season-day-month")
    page.keyboard.press("ArrowDown")
    assert page.input_value(term + " .season-day-month") == "10" and page.is_checked(season)
    first = {"memberships.field.customer_id": "Customer ID", "memberships.field.created_date": "Date",
             "memberships.names": "person", "memberships.column.Event Type": "status"}
    second = {"memberships.value.status.Payment": "current", "memberships.value.status.Refund": "no_term"}
    for answers in (first, second):       # Event Type is the status: its values are the second round
        assert page.is_visible("#mapping-panel"), page.inner_text("main")
        job_id = page.get_attribute("#job-id", "data-job-id")
        for question in _proposal(stack, job_id)["questions"]:
            if question["id"] in answers:
                radio = f"[data-question='{question['id']}'] input[value='{question['choices'].index(answers[question['id']])}']"
                page.check(radio)
        page.fill("#mapping-name", "square_club")
        page.click("#mapping-save")
        page.wait_for_selector("#mapping-panel", state="hidden", timeout=30_000)   # the answers were accepted
        page.wait_for_selector("#result-panel:not([hidden]), #mapping-panel:not([hidden])", timeout=90_000)
    page.wait_for_selector("#result-panel:not([hidden])", timeout=90_000)
    s3 = stack.session.client("s3")
    saved = s3.get_object(Bucket=stack.local.stack.input_bucket, Key="profiles/square_club.yaml")["Body"].read().decode()
    assert re.search(r"season_start: ['\"]?10-01\b", saved), saved     # the day chosen in the page
    report = json.loads(s3.get_object(Bucket=stack.local.stack.output_bucket,
                                      Key=stack.local_status(job_id)["output_prefix"] + "report.json")["Body"].read())
    m = report["memberships"]   # by hand: T-Shirt, Court hire and the refund buy nothing; Fay's "2025-2027" is rejected
    assert (m["rows_in"], m["kept"], m["consolidated"], m["rejected"], m["excluded"]) == (11, 5, 2, 1, 3)
    assert "Read as:" in page.inner_text("#result-profiles")
