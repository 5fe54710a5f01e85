"""The push's pure parts with no network: the HTTP client's retry rules through a scripted
transport, the multipart body, the property plan and the exit codes; and the rules that keep
HubSpot's dropdowns matchable; and what importing the push costs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from builders import rules_with
from fake_hubspot import parse_multipart
from memberseg.errors import InputError
from memberseg.hubspot import property_definitions
from memberseg.push.client import (
    HubSpotClient,
    HubSpotConfigError,
    HubSpotUnavailable,
    Multipart,
    OutcomeUnknown,
    Response,
    RetryPolicy,
)
from memberseg.push.steps import exit_code_for, plan_properties
from memberseg.rules import default_rules_data, load_rules, parse_rules

SECRET = "pat-na1-secret-value"


class Scripted:
    """A transport that answers from a script: a Response, or an exception to raise."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent: list[dict] = []

    def send(self, method, url, headers, body, timeout):
        self.sent.append({"method": method, "url": url, "headers": headers, "timeout": timeout})
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def ok(payload=None, status=200):
    return Response(status, {}, json.dumps(payload or {}).encode())


def refused(status, payload=None, **headers):
    return Response(status, {k.lower().replace("_", "-"): v for k, v in headers.items()},
                    json.dumps(payload or {"status": "error", "message": "no"}).encode())


def client(transport, waits):
    return HubSpotClient(SECRET, "https://api.example.test/", transport=transport, timeout_seconds=7,
                         sleep=waits.append)


def test_every_request_has_the_token_and_a_timeout_and_the_token_is_never_shown() -> None:
    transport, waits = Scripted(ok({"results": []})), []
    hub = client(transport, waits)
    hub.get("/crm/v3/properties/contacts")
    [sent] = transport.sent
    assert sent["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert sent["timeout"] == 7
    assert sent["url"] == "https://api.example.test/crm/v3/properties/contacts"
    assert SECRET not in repr(hub)


def test_429_waits_for_retry_after_then_succeeds() -> None:
    transport, waits = Scripted(refused(429, Retry_After="4"), refused(429, Retry_After="1.5"), ok()), []
    assert client(transport, waits).request("POST", "/x", json_body={}, repeatable=False).status == 200
    assert waits == [4.0, 1.5]
    assert len(transport.sent) == 3


def test_429_without_retry_after_waits_out_the_ten_second_window() -> None:
    transport, waits = Scripted(refused(429), ok()), []
    client(transport, waits).get("/x")
    assert waits == [RetryPolicy().rate_limit_wait_seconds] == [10.0]


def test_daily_limit_is_not_waited_for() -> None:
    transport, waits = Scripted(refused(429, {"status": "error", "message": "daily", "policyName": "DAILY"})), []
    with pytest.raises(HubSpotUnavailable) as raised:
        client(transport, waits).get("/x")
    assert raised.value.exit_code == 1 and "DAILY" in str(raised.value)
    assert waits == []


def test_5xx_on_a_get_is_retried_with_growing_backoff_then_gives_up() -> None:
    attempts = RetryPolicy().attempts
    transport, waits = Scripted(*[refused(503)] * attempts), []
    with pytest.raises(HubSpotUnavailable) as raised:
        client(transport, waits).get("/x")
    assert raised.value.exit_code == 1
    assert len(transport.sent) == attempts and len(waits) == attempts - 1
    assert waits[-1] > waits[0]


def test_5xx_or_timeout_on_the_import_post_is_never_resent() -> None:
    for answer in (refused(503), TimeoutError("timed out")):
        transport, waits = Scripted(answer, ok()), []
        with pytest.raises(OutcomeUnknown):
            client(transport, waits).request("POST", "/crm/v3/imports/", body=b"x", repeatable=False)
        assert len(transport.sent) == 1


def test_a_timeout_on_a_get_is_retried() -> None:
    transport, waits = Scripted(TimeoutError("timed out"), ConnectionResetError("reset"), ok({"a": 1})), []
    assert client(transport, waits).get("/x").json() == {"a": 1}
    assert len(waits) == 2


@pytest.mark.parametrize("key", ["requiredGranularScopes", "requiredScopes"])
def test_403_names_the_missing_scope(key: str) -> None:
    body = {"status": "error", "category": "MISSING_SCOPES", "message": "This app hasn't been granted all required "
            "scopes", "errors": [{"message": "One or more", "context": {key: ["crm.import"]}}]}
    transport, waits = Scripted(refused(403, body)), []
    with pytest.raises(HubSpotConfigError) as raised:
        client(transport, waits).get("/crm/v3/imports/")
    assert raised.value.exit_code == 2
    assert "lacks the scope crm.import" in str(raised.value)


def test_401_is_a_configuration_error_without_the_token() -> None:
    transport, waits = Scripted(refused(401, {"status": "error", "message": "Authentication credentials not found.",
                                              "category": "INVALID_AUTHENTICATION"})), []
    with pytest.raises(HubSpotConfigError) as raised:
        client(transport, waits).get("/x")
    assert raised.value.exit_code == 2 and SECRET not in str(raised.value)
    assert len(transport.sent) == 1, "a 401 is not retried"


def test_multipart_body_streams_the_file_and_declares_its_length(tmp_path: Path) -> None:
    path = tmp_path / "hubspot_contacts.csv"
    path.write_bytes(b"email,company\r\na@x.com,\xc3\x9cml\xc3\xa4ut GmbH\n" * 5000)
    body = Multipart({"importRequest": json.dumps({"name": "n", "files": [{"fileName": path.name}]})}, "files",
                     path, path.name)
    chunks = list(body.chunks())
    assert len(chunks) >= 3 and len(b"".join(chunks)) == len(body)
    fields, files = parse_multipart(body.content_type, b"".join(chunks))
    assert json.loads(fields["importRequest"])["name"] == "n"
    assert files["files"] == (path.name, path.read_bytes())


WANTED = [
    {"name": "tier", "type": "enumeration", "fieldType": "select",
     "options": [{"label": "Gold", "value": "Gold", "hidden": False, "displayOrder": 0},
                 {"label": "Silver", "value": "Silver", "hidden": False, "displayOrder": 1}]},
    {"name": "flag", "type": "bool", "fieldType": "booleancheckbox",
     "options": [{"label": "Yes", "value": "true", "hidden": False, "displayOrder": 0}]},
    {"name": "count", "type": "number", "fieldType": "number"},
]


def test_plan_creates_missing_properties() -> None:
    plan = plan_properties(WANTED, {})
    assert [p["name"] for p in plan.create] == ["tier", "flag", "count"]
    assert plan.patch == {} and plan.unchanged == [] and plan.conflicts == []


def test_plan_adds_missing_options_keeping_the_users_own() -> None:
    user = {"label": "Legacy", "value": "Legacy", "hidden": False, "displayOrder": 0}
    existing = {"tier": {"name": "tier", "type": "enumeration", "fieldType": "select",
                         "options": [user, WANTED[0]["options"][1]]},
                "flag": {"name": "flag", "type": "bool", "fieldType": "booleancheckbox", "options": []},
                "count": {"name": "count", "type": "number", "fieldType": "number"}}
    plan = plan_properties(WANTED, existing)
    assert plan.create == [] and plan.conflicts == []
    assert [o["value"] for o in plan.patch["tier"]] == ["Legacy", "Silver", "Gold"]
    assert plan.added_options == {"tier": ["Gold"]}
    assert plan.unchanged == ["flag", "count"], "a single checkbox takes true/false without options"


def test_plan_reports_every_type_conflict_by_name() -> None:
    existing = {"tier": {"type": "string", "fieldType": "text"}, "count": {"type": "number", "fieldType": "text"}}
    plan = plan_properties(WANTED, existing)
    assert len(plan.conflicts) == 2
    assert plan.conflicts[0].startswith("tier exists in HubSpot as type string/text")
    assert "count" in plan.conflicts[1] and "number/number" in plan.conflicts[1]


def test_exit_codes() -> None:
    assert exit_code_for([{"state": "DONE", "errors": []}, {"state": "DONE"}]) == 0
    assert exit_code_for([{"state": "DONE", "errors": [{"line": 2}]}]) == 3
    assert exit_code_for([{"state": "DONE", "errors": []}, {"state": "FAILED", "errors": []}]) == 3


@pytest.mark.parametrize("label", ["=Gold", "+Gold", "-Gold", "@Gold", "\tGold", "Gold;Silver"])
@pytest.mark.parametrize("where", [
    {"status": {"labels": {"active": "LABEL"}}},
    {"status": {"labels": {"expired": "LABEL"}}},
    {"status": {"labels": {"expiring_soon": "LABEL"}}},
    {"orders": {"no_orders_label": "LABEL"}},
])
def test_labels_hubspot_could_not_match_are_refused(label: str, where: dict) -> None:
    text = json.dumps(where).replace("LABEL", label.replace("\t", "\\t"))
    with pytest.raises(ValueError, match="label"):
        rules_with(json.loads(text))


def test_tier_label_refused_with_its_key() -> None:
    text = load_rules().model_dump(mode="json")
    text["orders"]["tiers"][1]["label"] = "=Gold"
    with pytest.raises(InputError) as raised:
        parse_rules(json.dumps(text), source="rules.yaml")
    assert "orders.tiers.1.label" in raised.value.message and "=Gold" in raised.value.message


def test_ordinary_labels_still_pass() -> None:
    rules = rules_with({"status": {"labels": {"active": "Active (paid) – 2026"}}})
    assert rules.status.labels.active == "Active (paid) – 2026"


def test_file_size_limit_reads_512_mb_as_decimal() -> None:
    assert load_rules().hubspot.max_bytes_per_file == 512_000_000
    assert default_rules_data()["hubspot"]["max_bytes_per_file"] == 512_000_000   # the one place it is set


def test_marketable_contacts_are_set_explicitly_from_the_rules() -> None:
    default = property_definitions(load_rules(), ["a.csv"])["import_requests"][0]
    assert default["marketableContactImport"] is False
    marketing = property_definitions(rules_with({"hubspot": {"marketable_contact_import": True}}), ["a.csv"])
    assert marketing["import_requests"][0]["marketableContactImport"] is True


def _modules_after(statement: str, *packages: str) -> list[str]:
    """The modules of `packages` that a fresh interpreter holds after running `statement`."""
    code = f"import sys; {statement}; print(sorted(m for m in sys.modules if m.startswith({packages!r})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.replace("'", '"'))


def test_the_cli_imports_the_push_and_its_http_client_only_when_a_push_is_asked_for() -> None:
    assert _modules_after("import memberseg.cli", "memberseg.push") == []


def test_the_push_never_imports_pandas_or_numpy() -> None:
    assert _modules_after("import memberseg.push, memberseg.push.command", "pandas", "numpy") == []
