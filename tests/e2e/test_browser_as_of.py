"""The as-of date and the changes since the job's previous run, in a real Chromium (Debian's /usr/bin/chromium
driven by Playwright) against the `make serve` stack: the picker starts at the server's date (make serve's, as
make demo), the user picks another, uploads, sees that date and a first run; then uploads newer files into the
same job with a later date and sees what changed since the first."""

from __future__ import annotations

import json

import pytest
import serve_local
from test_browser_upload import EXAMPLES, browser_profile, page  # noqa: F401 - the same Chromium fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.enable_socket]
SERVE_AS_OF = "2026-11-15"


@pytest.fixture(scope="module")
def stack():
    with serve_local.LocalServe(port=0, as_of=SERVE_AS_OF) as serve:
        yield serve


def _report(stack, job_id: str) -> dict:
    prefix = stack.local_status(job_id)["output_prefix"]          # the committed run's folder
    s3 = stack.session.client("s3")
    return json.loads(s3.get_object(Bucket=stack.local.stack.output_bucket, Key=prefix + "report.json")["Body"].read())


def _upload(page, as_of: str) -> None:
    page.fill("#as-of", as_of)
    page.set_input_files("#memberships-input", str(EXAMPLES / "memberships.xlsx"))
    page.set_input_files("#orders-input", str(EXAMPLES / "orders.xlsx"))
    page.click("#start")


def test_pick_the_as_of_date_then_upload_newer_files_and_see_what_changed_since(stack, page, tmp_path, capsys):
    page.goto(stack.url)
    assert page.input_value("#as-of") == SERVE_AS_OF                 # make serve's date, as make demo's
    assert page.get_attribute("#as-of", "type") == "date"
    assert page.inner_text("label[for='as-of']") == "Statuses as of"

    page.fill("#as-of", "")                                          # no date: the page asks for one, sends nothing
    page.set_input_files("#memberships-input", str(EXAMPLES / "memberships.xlsx"))
    page.set_input_files("#orders-input", str(EXAMPLES / "orders.xlsx"))
    page.click("#start")
    assert page.inner_text("#as-of-error") == "Pick the day the membership statuses are for."
    assert page.evaluate("document.activeElement.id") == "as-of" and page.is_hidden("#status-box")

    _upload(page, "2026-11-01")
    page.wait_for_selector("#result-panel:not([hidden])", timeout=90_000)
    job_id = page.get_attribute("#job-id", "data-job-id")
    first = _report(stack, job_id)
    assert first["as_of"] == "2026-11-01"                            # the picked date, not the server's default
    assert page.inner_text("#result-sub") == "Statuses as of 2026-11-01"
    assert page.inner_text("#changes-title") == "First run of this job"
    assert page.get_attribute("#changes-panel", "data-since") == ""
    assert page.inner_text("#changes-summary") == "F" + first["changes_summary"][1:] + "."
    assert page.inner_text("#changes-counts li[data-change='new'] .count") == f"{first['changes']['new']:,}"

    # newer files into the same job, two weeks on: the page waits for the new run and says what changed since
    page.click("#newer")
    assert page.inner_text("#upload-title") == "Newer files for this job" and page.is_hidden("#result-panel")
    assert page.input_value("#as-of") == SERVE_AS_OF
    _upload(page, "2026-11-15")
    page.wait_for_selector("#changes-panel[data-since='2026-11-01']", timeout=90_000)
    assert page.get_attribute("#job-id", "data-job-id") == job_id     # the same job
    second = _report(stack, job_id)
    assert second["as_of"] == "2026-11-15" and second["changes"]["since"] == "2026-11-01"
    assert page.inner_text("#result-sub") == "Statuses as of 2026-11-15"
    assert page.inner_text("#changes-title") == "Changes since the run as of 2026-11-01"
    summary = page.inner_text("#changes-summary")
    assert summary == "S" + second["changes_summary"][1:] + "." and summary.startswith("Since 2026-11-01: ")
    counts = {li.get_attribute("data-change"): int(li.query_selector(".count").inner_text().replace(",", ""))
              for li in page.query_selector_all("#changes-counts li")}
    assert counts["status_changed"] == second["changes"]["status_changed"] > 0
    assert counts["new"] == second["changes"]["new"] and counts["gone"] == second["changes"]["gone"]
    entered = {k.split(":", 1)[1]: n for k, n in counts.items() if k.startswith("entered:")}
    assert entered == {k: n for k, n in second["changes"]["entered"].items() if n}
    # the run that compared is the second: its statuses are the 15 November ones (as make demo's numbers)
    statuses = {li.get_attribute("data-status"): int(li.query_selector(".count").inner_text().replace(",", ""))
                for li in page.query_selector_all("#status-counts li")}
    assert statuses == second["status_counts"]
    shot = tmp_path / "as-of-changes.png"
    page.screenshot(path=str(shot), full_page=True)
    with capsys.disabled():
        print(f"\n  screenshot: {shot}")
