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
    job_id = page.inner_text("#job-id")
    assert re.fullmatch(r"[0-9a-f]{32}", job_id)
    assert page.get_attribute("body", "data-job-status") == "SUCCEEDED"

    # the summary shows report.json's numbers
    report = json.loads(_read_output(stack, job_id, "report.json"))
    shown = {el.get_attribute("data-stat"): int(el.inner_text().replace(",", ""))
             for el in page.query_selector_all("[data-stat]")}
    assert shown == {"customers": report["memberships"]["kept"], "consolidated": report["memberships"]["consolidated"],
                     "rejected": report["memberships"]["rejected"], "hubspot_rows": report["hubspot"]["rows"]}
    statuses = {li.get_attribute("data-status"): int(li.query_selector(".count").inner_text().replace(",", ""))
                for li in page.query_selector_all("#status-counts li")}
    assert statuses == report["status_counts"]
    # ... and which profile read each file, with the headers that decided it
    profiles = page.inner_text("#result-profiles")
    for role in ("memberships", "orders"):
        profile = report["inputs"][role]["profile"]
        assert report["inputs"][role]["file"] in profiles and profile["title"] in profiles
        assert all(header in profiles for header in profile["deciding_headers"])
    bars = {g.get_attribute("data-segment"): int(g.query_selector(".bar-value").text_content().replace(",", ""))
            for g in page.query_selector_all("#chart svg g[data-segment]")}
    assert bars == report["segment_counts"]
    widths = {g.get_attribute("data-segment"): float(g.query_selector("rect").get_attribute("width"))
              for g in page.query_selector_all("#chart svg g[data-segment]")}
    biggest = max(report["segment_counts"], key=report["segment_counts"].get)
    assert widths[biggest] == max(widths.values()) > 0

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
    broken = tmp_path / "memberships.xlsx"
    broken.write_bytes(bytes(range(256)) * 40)           # random bytes with a workbook's name
    page.goto(stack.url)
    _choose_both(page, broken, EXAMPLES / "orders.xlsx")
    page.click("#start")
    page.wait_for_selector("#error-panel:not([hidden])", timeout=60_000)
    message = page.inner_text("#error-text")
    job_id = page.inner_text("#job-id")
    error = json.loads(_read_output(stack, job_id, "error.json"))["error"]
    assert message == error["message"] and "memberships" in message.lower()
    assert not re.search(r"Traceback|Exception|Error:|\{", message)      # plain words, no internals
    assert page.get_attribute("body", "data-job-status") == "FAILED"
    shot = tmp_path / "upload-failure.png"
    page.screenshot(path=str(shot), full_page=True)
    with capsys.disabled():
        print(f"\nscreenshot of the failure state: {shot}")

    page.click("#start-over")
    assert page.is_hidden("#error-panel") and page.is_visible("#upload-panel")
    assert page.is_disabled("#start") and page.is_hidden("#memberships-file")


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
