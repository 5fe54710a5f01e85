"""The upload API over real HTTP on 127.0.0.1 (the `make serve` stack): presigned POSTs to
moto's server with the browser's CORS origin, the job followed to the end, the
presigned GET links fetched from moto's server, and a silent client dropped."""

from __future__ import annotations

import csv
import io
import json
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

import serve_local

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.enable_socket]
EXAMPLES = ROOT / "examples"
REQUEST_TIMEOUT_S = 3.0         # short, so the silent-client test is quick; the default is 30 s


@pytest.fixture(scope="module")
def stack():
    with serve_local.LocalServe(port=0, as_of="2026-11-15", request_timeout_s=REQUEST_TIMEOUT_S) as serve:
        yield serve


def wait_for(url: str, until=("SUCCEEDED", "FAILED"), timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = requests.get(url, timeout=10).json()
        if view["status"] in until:
            return view
        time.sleep(0.3)
    raise AssertionError(f"job did not finish: {view}")


def test_bucket_cors_allows_exactly_the_page_origin(stack):
    s3 = stack.session.client("s3")
    rules = s3.get_bucket_cors(Bucket=stack.local.stack.input_bucket)["CORSRules"]
    # The deployed page's own origin (the HTTP API's URL) plus the local page that `make serve` adds.
    assert [r["AllowedOrigins"] for r in rules] == [
        ["https://HttpApi.execute-api.us-east-1.amazonaws.com", stack.url.rstrip("/")]]
    assert "POST" in rules[0]["AllowedMethods"]


def test_upload_with_presigned_posts_and_download_the_outputs(stack):
    origin = stack.url.rstrip("/")
    page = requests.get(stack.url, timeout=10)
    assert page.status_code == 200 and f"connect-src 'self' {stack.endpoint};" \
        in page.headers["Content-Security-Policy"]
    job = requests.post(stack.url + "jobs", json={"memberships": "xlsx", "orders": "xlsx"}, timeout=10)
    assert job.status_code == 201
    job = job.json()
    for role in ("memberships", "orders"):
        target = job["uploads"][role]
        assert target["url"].startswith(stack.endpoint)
        response = requests.post(target["url"], data=target["fields"], headers={"Origin": origin}, timeout=30,
                                 files={"file": (f"{role}.xlsx", (EXAMPLES / f"{role}.xlsx").read_bytes())})
        assert response.status_code == 204, response.text
        assert response.headers["Access-Control-Allow-Origin"] == origin
    view = wait_for(stack.url + "jobs/" + job["job_id"])
    assert view["status"] == "SUCCEEDED", view
    s3 = stack.session.client("s3")
    prefix = stack.local_status(job["job_id"])["output_prefix"]      # the committed run's folder
    assert prefix.startswith(f"results/{job['job_id']}/runs/")
    report = json.loads(s3.get_object(Bucket=stack.local.stack.output_bucket, Key=prefix + "report.json")["Body"].read())
    assert view["summary"]["customers"] == report["memberships"]["kept"]
    for download in view["downloads"]:
        response = requests.get(download["url"], timeout=10)
        assert response.status_code == 200, download["name"]
        assert response.headers["Content-Disposition"] == f'attachment; filename="{download["name"]}"'
        stored = s3.get_object(Bucket=stack.local.stack.output_bucket, Key=prefix + download["name"])["Body"].read()
        assert response.content == stored
    csv_link = next(d["url"] for d in view["downloads"] if d["kind"] == "hubspot_csv")
    header = next(csv.reader(io.StringIO(requests.get(csv_link, timeout=10).text)))
    assert header[:4] == ["email", "company", "cust_id", "membership_status"]


def test_a_browser_preflight_from_another_origin_is_refused(stack):
    job = requests.post(stack.url + "jobs", json={"memberships": "csv", "orders": "csv"}, timeout=10).json()
    url = job["uploads"]["memberships"]["url"]
    ok = requests.options(url, headers={"Origin": stack.url.rstrip("/"), "Access-Control-Request-Method": "POST"})
    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] == stack.url.rstrip("/")
    evil = requests.options(url, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert evil.status_code == 403


def test_status_of_unknown_and_malformed_jobs(stack):
    assert requests.get(stack.url + "jobs/" + "0" * 32, timeout=10).status_code == 404
    assert requests.get(stack.url + "jobs/..%2F..%2Fetc", timeout=10).status_code in (400, 404)
    assert requests.get(stack.url + "jobs/xyz", timeout=10).status_code == 400


def address(stack) -> tuple[str, int]:
    parts = urlsplit(stack.url)
    return parts.hostname, parts.port


def test_a_silent_client_is_dropped_and_others_are_served_meanwhile(stack):
    host, port = address(stack)
    with socket.create_connection((host, port), timeout=REQUEST_TIMEOUT_S + 10) as silent:
        opened = time.monotonic()
        assert requests.get(stack.url, timeout=10).status_code == 200       # served while the socket idles
        assert silent.recv(1024) == b""                                      # the server closed it
        assert time.monotonic() - opened < REQUEST_TIMEOUT_S + 5


def test_a_client_that_stops_mid_body_is_dropped(stack):
    host, port = address(stack)
    with socket.create_connection((host, port), timeout=REQUEST_TIMEOUT_S + 10) as slow:
        slow.sendall(b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{")
        opened = time.monotonic()
        assert slow.recv(1024) == b""
        assert time.monotonic() - opened < REQUEST_TIMEOUT_S + 5


def test_a_body_above_api_gateways_limit_is_refused_unread(stack):
    host, port = address(stack)
    with socket.create_connection((host, port), timeout=10) as client:
        client.sendall(b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                       % (serve_local.MAX_BODY_BYTES + 1))
        answer = client.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in answer
