"""The API handler's routes (Powertools resolver) with in-memory adapters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import pytest_socket
import yaml

from api_support import Context, JOB_ID, RUN_PREFIX, SAMPLE_PROPERTIES, SAMPLE_REPORT, api_app, committed_item, event, fake_deps, http_event

import api_core as core

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def api(monkeypatch):
    monkeypatch.setenv("INPUT_BUCKET", "in-bucket")
    monkeypatch.setenv("OUTPUT_BUCKET", "out-bucket")
    monkeypatch.setenv("JOB_TABLE", "jobs")
    monkeypatch.setenv("AUTH_ENABLED", "true")
    monkeypatch.setenv("MAX_UPLOAD_MB", "50")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Memberseg")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # the X-Ray SDK opens (never uses, tracing is disabled) a UDP socket when Tracer() is first built
    pytest_socket.enable_socket()
    try:
        module = api_app()
    finally:
        pytest_socket.disable_socket()
    module.settings.cache_clear()
    deps = fake_deps(new_id=lambda: JOB_ID)
    monkeypatch.setattr(module, "dependencies", lambda: deps)
    yield module, deps
    module.settings.cache_clear()


def call(module, e):
    response = module.handler(e, Context())
    return response["statusCode"], response["headers"], response.get("body") or ""


def test_page_is_served_with_the_same_limits_and_a_strict_csp(api):
    module, _ = api
    status, headers, body = call(module, event("api_get_page.json"))
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert 'data-max-upload-bytes="52428800"' in body and 'data-auth="on"' in body
    assert f'data-extensions="{",".join(core.EXTENSIONS)}"' in body
    assert "{{" not in body
    assert 'src="static/app.js"' in body and 'href="static/app.css"' in body
    assert "http://" not in body.replace("http://www.w3.org", "") and "https://" not in body   # no CDN
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    # exactly this origin and the two buckets' origins (no wildcard over every S3 bucket)
    assert "connect-src 'self' https://in-bucket.s3.amazonaws.com https://out-bucket.s3.amazonaws.com;" in csp
    assert "*" not in csp
    assert "frame-ancestors 'none'" in csp


def test_page_reports_auth_off(api, monkeypatch):
    module, _ = api
    monkeypatch.setenv("AUTH_ENABLED", "false")
    module.settings.cache_clear()
    assert 'data-auth="off"' in call(module, event("api_get_page.json"))[2]


@pytest.mark.parametrize("name, kind", [("app.js", "text/javascript"), ("app.css", "text/css")])
def test_assets_are_served(api, name, kind):
    status, headers, body = call(api[0], http_event("GET", f"/static/{name}"))
    assert status == 200 and headers["Content-Type"].startswith(kind) and len(body) > 500


@pytest.mark.parametrize("path", ["/static/index.html", "/static/..%2Fapp.py", "/static/app.py", "/nothing"])
def test_other_paths_are_404(api, path):
    assert call(api[0], http_event("GET", path))[0] == 404


def test_post_jobs(api):
    module, deps = api
    status, _, body = call(module, event("api_post_jobs.json"))
    assert status == 201
    data = json.loads(body)
    assert data["job_id"] == JOB_ID and data["expires_in"] == 900
    assert set(data["uploads"]) == {"memberships", "orders"}
    assert {"url", "fields"} <= set(data["uploads"]["memberships"])
    assert data["uploads"]["orders"]["fields"]["key"] == f"uploads/{JOB_ID}/orders.csv"
    assert JOB_ID in deps.jobs.items


@pytest.mark.parametrize("body", ["not json", json.dumps({"memberships": "exe", "orders": "xlsx"}), json.dumps([1])])
def test_post_jobs_bad_body_is_400(api, body):
    status, _, text = call(api[0], http_event("POST", "/jobs", body))
    assert status == 400 and json.loads(text)["message"]
    assert api[1].jobs.items == {}


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000,
                                  "\ud800", "\x00", "1e999999"])
def test_post_jobs_any_body_that_does_not_parse_is_400_never_500(api, body):
    """A body nested thousands deep raises RecursionError in json.loads: still the client's fault."""
    status, _, text = call(api[0], http_event("POST", "/jobs", body))
    assert status == 400 and json.loads(text)["message"]
    assert api[1].jobs.items == {}


def test_a_400_never_echoes_a_large_value_whole(api):
    huge = "x" * 200_000
    status, _, text = call(api[0], http_event("POST", "/jobs", json.dumps({"memberships": huge, "orders": "xlsx"})))
    message = json.loads(text)["message"]
    assert status == 400 and len(message) < 200 and "…" in message and "memberships" in message


def test_get_job_routes(api):
    module, deps = api
    status, _, body = call(module, http_event("GET", "/jobs/NOT-A-JOB"))
    assert status == 400 and "job id" in json.loads(body)["message"]
    assert deps.jobs.lookups == []
    assert call(module, event("api_get_job.json"))[0] == 404
    deps.jobs.items[JOB_ID] = committed_item("SUCCEEDED")
    deps.objects.put("out-bucket", RUN_PREFIX + "report.json", SAMPLE_REPORT)
    deps.objects.put("out-bucket", RUN_PREFIX + "hubspot_properties.json", SAMPLE_PROPERTIES)
    status, headers, body = call(module, event("api_get_job.json"))
    data = json.loads(body)
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert data["status"] == "SUCCEEDED" and data["summary"]["customers"] == 182 and len(data["downloads"]) == 4


APP_JS = (ROOT / "functions" / "api" / "static" / "app.js").read_text(encoding="utf-8")
ENGINE = ROOT / "layers" / "memberseg" / "memberseg"


def _js_table(name: str) -> str:
    start = APP_JS.index(f"const {name} = {{")
    return APP_JS[start:APP_JS.index("};", start)]


def test_page_advice_is_only_for_error_codes_the_engine_raises():
    """app.js's ADVICE table (what to do, by error.json code) names no invented code."""
    codes = re.findall(r"^    ([a-z_]+): ", _js_table("ADVICE"), re.M)
    engine = "".join(path.read_text(encoding="utf-8") for path in ENGINE.rglob("*.py"))
    assert {"missing_column", "contradictory_values"} <= set(codes)
    assert [code for code in codes if f'"{code}"' not in engine] == []


def test_segments_coloured_as_a_status_are_exactly_that_status():
    """app.js's SEGMENT_STATUS: a bar takes a status colour only when its segment is that status."""
    pairs = dict(re.findall(r'([a-z_]+): "([A-Za-z ]+)"', _js_table("SEGMENT_STATUS")))
    rules = [yaml.safe_load((ENGINE / "default_rules.yaml").read_text(encoding="utf-8"))]
    rules += [yaml.safe_load(path.read_text(encoding="utf-8")) for path in (ENGINE / "profiles").glob("*.yaml")]
    segments = {s["property"]: s for r in rules for s in r.get("segments") or []}
    assert set(pairs) == {"active_membership", "expiring_soon", "expired_membership", "inactive_membership"}
    for name, status in pairs.items():
        assert segments[name].get("all") == [{"field": "membership_status", "op": "eq", "value": status}], name
        assert f'"{status}": "' in _js_table("STATUS_TONES")


def test_the_mapping_step_words_every_term_answer_and_offers_each_text_test_the_engine_takes():
    """The term questions' plain answers (status alone, every payment, the calendar year) have words in
    app.js, and its "other" row offers exactly the item tests the buys question takes (starts with, contains)."""
    from memberseg.infer import EVERY_PAYMENT, STATUS_ALONE
    from memberseg.rules import MEMBERSHIP_CLASSES, ORDER_CLASSES, ROW_TYPE_CLASSES

    words = set(re.findall(r"(?:^\s+|, )([a-z_]+): \"", _js_table("CHOICE_WORDS"), re.M))
    assert {STATUS_ALONE, EVERY_PAYMENT, "calendar_year"} <= words
    assert set(MEMBERSHIP_CLASSES) | set(ORDER_CLASSES) | set(ROW_TYPE_CLASSES) <= words   # every value's meaning
    tests = re.search(r"const TEXT_TESTS = \[([^\]]*)\]", APP_JS)
    assert tests is not None and re.findall(r'"([a-z_]+)"', tests[1]) == ["starts_with", "contains"]
    engine = (ENGINE / "infer.py").read_text(encoding="utf-8")
    assert '{"starts_with": "text", "contains": "text"}' in engine
