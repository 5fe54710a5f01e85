"""The upload page in a real Chromium (Debian's /usr/bin/chromium driven by Playwright),
against the `make serve` stack: moto over HTTP on 127.0.0.1, the API handler behind the
local HTTP API, the processing function in-process."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serve_local

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.enable_socket]
EXAMPLES = ROOT / "examples"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
TOKEN = "browser-test-token-0123456789"


@pytest.fixture(scope="module")
def stack():
    with serve_local.LocalServe(port=0, as_of="2026-11-15") as serve:
        yield serve


@pytest.fixture(scope="module")
def browser_profile(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "install Debian's chromium: apt-get install -y chromium"
    with sync_playwright() as p:
        # a fresh --user-data-dir per run (launch_persistent_context owns it)
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
            headless=True, accept_downloads=True, viewport={"width": 1366, "height": 900})
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_profile):
    page = browser_profile.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page
    page.close()
    assert errors == [], f"the page logged errors: {errors}"


def _read_output(stack, job_id: str, name: str) -> bytes:
    s3 = stack.session.client("s3")
    prefix = stack.local_status(job_id)["output_prefix"]          # the committed run's folder
    return s3.get_object(Bucket=stack.local.stack.output_bucket, Key=prefix + name)["Body"].read()


def _job_id(page) -> str:
    """The job's id: the page shows its first characters, the whole id is in data-job-id and the title."""
    job_id = page.get_attribute("#job-id", "data-job-id")
    assert re.fullmatch(r"[0-9a-f]{32}", job_id) and page.get_attribute("#job-id", "title") == job_id
    return job_id


def _colour(page, selector: str, prop: str) -> str:
    return page.eval_on_selector(selector, f"el => getComputedStyle(el).{prop}")


def _choose_both(page, memberships: Path, orders: Path) -> None:
    page.set_input_files("#memberships-input", str(memberships))
    page.set_input_files("#orders-input", str(orders))


def test_upload_both_files_and_get_the_segments(stack, page, tmp_path, capsys):
    page.goto(stack.url)
    assert page.title().startswith("Membership segments")
    assert page.is_disabled("#start")
    _choose_both(page, EXAMPLES / "memberships.xlsx", EXAMPLES / "orders.xlsx")
    assert page.inner_text("#memberships-name") == "memberships.xlsx"
    page.click("#start")

    for role in ("memberships", "orders"):
        page.wait_for_selector(f"#{role}-progress[aria-valuenow='100']", timeout=30_000)
        assert page.inner_text(f"#{role}-pct") == "100 %"
    page.wait_for_selector("#result-panel:not([hidden])", timeout=60_000)
    job_id = _job_id(page)
    assert page.get_attribute("body", "data-job-status") == "SUCCEEDED"
    # the id is small print beside the result, not a heading: its first characters, the whole id on hover
    ref = "#job-ref-result code"
    assert page.inner_text(ref) == job_id[:8] + "…" and page.get_attribute(ref, "title") == job_id
    assert job_id not in page.inner_text("#result-panel")
    size = {sel: float(_colour(page, sel, "fontSize").removesuffix("px"))
            for sel in ("#job-ref-result", "#result-title")}
    assert size["#job-ref-result"] < size["#result-title"]

    # the summary shows report.json's numbers
    report = json.loads(_read_output(stack, job_id, "report.json"))
    shown = {el.get_attribute("data-stat"): int(el.inner_text().replace(",", ""))
             for el in page.query_selector_all("[data-stat]")}
    assert shown == {"customers": report["memberships"]["kept"], "consolidated": report["memberships"]["consolidated"],
                     "rejected": report["memberships"]["rejected"], "hubspot_rows": report["hubspot"]["rows"]}
    statuses = {li.get_attribute("data-status"): int(li.query_selector(".count").inner_text().replace(",", ""))
                for li in page.query_selector_all("#status-counts li")}
    assert statuses == report["status_counts"]
    # ... and which layout each file was read as, in plain words (first recognised headers, no internal title)
    assert [report["inputs"][role]["profile"]["name"] for role in ("memberships", "orders")] == ["standard"] * 2
    assert page.inner_text("#result-profiles li[data-role='memberships']") == \
        "memberships.xlsx · Read as: your own layout (columns Cust ID, Customer Name, …)"
    assert page.inner_text("#result-profiles li[data-role='orders']") == \
        "orders.xlsx · Read as: your own layout (columns Sold-To Party, Net Value)"
    assert report["inputs"]["memberships"]["profile"]["title"] not in page.inner_text("#result-panel")
    bars = {g.get_attribute("data-segment"): int(g.query_selector(".bar-value").text_content().replace(",", ""))
            for g in page.query_selector_all("#chart svg g[data-segment]")}
    assert bars == report["segment_counts"]
    widths = {g.get_attribute("data-segment"): float(g.query_selector("rect").get_attribute("width"))
              for g in page.query_selector_all("#chart svg g[data-segment]")}
    biggest = max(report["segment_counts"], key=report["segment_counts"].get)
    assert widths[biggest] == max(widths.values()) > 0
    # a segment that is one status has that status's colour (the status list's dot), the others one neutral colour
    fills = {g.get_attribute("data-segment"): g.query_selector("rect").evaluate("el => getComputedStyle(el).fill")
             for g in page.query_selector_all("#chart svg g[data-segment]")}
    dots = {status: _colour(page, f"#status-counts li[data-status='{status}'] .dot", "backgroundColor")
            for status in report["status_counts"]}
    assert fills["active_membership"] == dots["Active"] == "rgb(20, 128, 74)"
    assert fills["expiring_soon"] == dots["Expiring Soon"] and fills["expired_membership"] == dots["Expired"]
    assert len(set(dots.values())) == len(dots)
    status_segments = ("active_membership", "expiring_soon", "expired_membership")
    neutral = {fill for name, fill in fills.items() if name not in status_segments}
    assert len(neutral) == 1 and not neutral & set(dots.values())
    assert page.get_attribute("#chart g[data-segment='expired_membership']", "data-status") == "Expired"
    # rejected rows: where to find why, and what the user can do
    assert report["memberships"]["rejected"] and "Needs Attention" in page.inner_text("#rejected-advice")

    kinds = [a.get_attribute("data-kind") for a in page.query_selector_all("#downloads a")]
    assert {"workbook", "hubspot_csv", "properties"} <= set(kinds)
    with page.expect_download() as info:
        page.click("#downloads a[data-kind='hubspot_csv']")
    download = info.value
    assert download.suggested_filename == "hubspot_contacts.csv"
    saved = tmp_path / "hubspot_contacts.csv"
    download.save_as(saved)
    header = next(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert ",".join(header).startswith("email,company,cust_id,membership_status")
    assert saved.read_bytes() == _read_output(stack, job_id, "hubspot_contacts.csv")

    shot = tmp_path / "upload-success.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    with capsys.disabled():                         # shown in the normal (quiet) test output too
        print(f"\nscreenshot of the success state: {shot}")


def test_broken_workbook_shows_the_error_and_start_over(stack, page, tmp_path, capsys):
    broken = tmp_path / "garbage.xlsx"
    broken.write_bytes(bytes(range(256)) * 40)           # random bytes with a workbook's name
    page.goto(stack.url)
    _choose_both(page, broken, EXAMPLES / "orders.xlsx")
    page.click("#start")
    page.wait_for_selector("#error-panel:not([hidden])", timeout=60_000)
    message = page.inner_text("#error-text")
    job_id = _job_id(page)
    error = json.loads(_read_output(stack, job_id, "error.json"))["error"]
    assert message == error["message"] and "memberships" in message.lower()
    # the user's own file name, never the upload key's (issue 15 B, item 4)
    assert error["file"] == "garbage.xlsx" and "'garbage.xlsx'" in message and "memberships.xlsx" not in message
    assert page.inner_text("#error-file") == "File: garbage.xlsx"
    assert page.inner_text("#retry-file") == "Choose a corrected memberships file"   # the role, from the name
    assert not re.search(r"Traceback|Exception|Error:|\{", message)      # plain words, no internals
    assert page.get_attribute("body", "data-job-status") == "FAILED"
    assert page.is_hidden("#error-advice")        # the message says what to do: no advice beside it
    shot = tmp_path / "upload-failure.png"
    page.screenshot(path=str(shot), full_page=True)
    with capsys.disabled():
        print(f"\nscreenshot of the failure state: {shot}")

    page.click("#start-over")
    assert page.is_hidden("#error-panel") and page.is_visible("#upload-panel")
    assert page.is_disabled("#start") and page.is_hidden("#memberships-file")


def test_missing_column_shows_what_to_do_from_the_page(stack, page, tmp_path, capsys):
    """An error that says "add … in a rules file" comes with what the user can do here: rename the column.
    (A header row with one known header: too little to draft a profile from, so no questions are asked;
    with two or more, the page asks instead, see test_browser_mapping.py.)"""
    members = tmp_path / "Mitglieder März.csv"            # the user's own name, not ASCII
    members.write_text("Created Date,Firma,Läuft aus\n01/05/2025,Acme,01/05/2026\n", encoding="utf-8")
    page.goto(stack.url)
    _choose_both(page, members, EXAMPLES / "orders.xlsx")
    page.click("#start")
    page.wait_for_selector("#error-panel:not([hidden])", timeout=60_000)
    error = json.loads(_read_output(stack, _job_id(page), "error.json"))["error"]
    assert error["code"] == "missing_column" and "in a rules file" in error["message"]
    assert error["file"] == "Mitglieder März.csv" and page.inner_text("#error-file") == "File: Mitglieder März.csv"
    assert page.inner_text("#error-text") == error["message"]                  # the original message stays
    assert page.get_attribute("#error-advice", "data-code") == "missing_column"
    advice = page.inner_text("#error-advice")
    assert "What you can do now" in advice
    assert ("If your file has the customer id under another header, rename that column to one of "
            "“Cust ID”, “Customer ID”") in advice and "upload the file again" in advice
    assert "this page cannot yet" in advice
    job_id = _job_id(page)
    assert page.inner_text("#job-ref-error code") == job_id[:8] + "…"
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.url.rstrip("/"))
    page.click("#job-ref-error .copy-id")                      # the whole id, for support
    page.wait_for_selector("#job-ref-error .copy-id:text-is('Copied')")   # (wait_for_function would need eval)
    assert page.evaluate("navigator.clipboard.readText()") == job_id
    page.context.clear_permissions()
    shot = tmp_path / "upload-advice.png"
    page.screenshot(path=str(shot), full_page=True)
    with capsys.disabled():
        print(f"\nscreenshot of an error with advice: {shot}")
    # the way: choose the corrected memberships file, the orders file stays chosen
    assert page.inner_text("#retry-file") == "Choose a corrected memberships file"
    page.click("#retry-file")
    assert page.is_hidden("#error-panel") and page.is_visible("#upload-panel")
    assert page.is_hidden("#memberships-file") and page.inner_text("#orders-name") == "orders.xlsx"
    assert page.is_disabled("#start") and "Add the memberships file" in page.inner_text("#start-hint")


def test_wrong_type_and_keyboard_file_picker(stack, page, tmp_path):
    choosers = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))   # intercept the picker from the start
    page.goto(stack.url)
    notes = tmp_path / "notes.pdf"
    notes.write_bytes(b"%PDF-1.4 not a spreadsheet")
    page.set_input_files("#memberships-input", str(notes))
    assert "is not a spreadsheet" in page.inner_text("#memberships-error")
    empty = tmp_path / "orders.csv"
    empty.write_bytes(b"")
    page.set_input_files("#orders-input", str(empty))
    assert "is empty" in page.inner_text("#orders-error")
    assert page.is_disabled("#start")
    # the drop zones are keyboard controls that open the file picker
    for zone, key, path in (("#zone-orders", "Enter", EXAMPLES / "orders.xlsx"),
                            ("#zone-memberships", " ", EXAMPLES / "memberships.xlsx")):
        page.focus(zone)
        before = len(choosers)
        page.keyboard.press(key)
        for _ in range(50):
            if len(choosers) > before:
                break
            page.wait_for_timeout(100)
        assert len(choosers) == before + 1, f"{key!r} on {zone} did not open the file picker"
        choosers[-1].set_files(str(path))
    assert page.inner_text("#orders-error") == "" and page.inner_text("#orders-name") == "orders.xlsx"
    assert page.is_enabled("#start")


@pytest.fixture
def secured_serve():
    """`make serve` as a subprocess (its own moto), auth on; stopped with Ctrl-C (SIGINT)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["MEMBERSEG_TOKEN"] = TOKEN
    proc = subprocess.Popen([sys.executable, str(ROOT / "infra" / "serve_local.py"), "--port", "0",
                             "--as-of", "2026-11-15"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, cwd=ROOT)
    lines = []
    try:
        deadline = time.monotonic() + 60
        url = None
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"running at (http://127\.0\.0\.1:\d+/)", line)
            url = match.group(1) if match else None
        assert url, "make serve did not print its URL:\n" + "".join(lines)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, "".join(lines) + out
    assert "stopping" in out


def test_token_is_asked_once_and_kept_for_the_tab(browser_profile, secured_serve):
    page = browser_profile.new_page()
    try:
        page.goto(secured_serve)
        assert page.is_visible("#token-panel") and page.is_hidden("#upload-panel")
        page.fill("#token-input", "wrong-token-0123456789")
        page.click("#token-form button")
        _choose_both(page, EXAMPLES / "memberships.xlsx", EXAMPLES / "orders.xlsx")
        page.click("#start")
        page.wait_for_selector("#token-panel:not([hidden])")
        assert "not accepted" in page.inner_text("#token-error")
        page.fill("#token-input", TOKEN)
        page.click("#token-form button")
        page.click("#start")
        page.wait_for_selector("#result-panel:not([hidden])", timeout=60_000)
        assert page.evaluate("sessionStorage.getItem('memberseg.token')") == TOKEN
        page.reload()                                   # same tab: no second prompt
        assert page.is_hidden("#token-panel") and page.is_visible("#upload-panel")
    finally:
        page.close()
