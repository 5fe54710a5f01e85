"""The S3 flow's HubSpot push coordination (functions/hubspot_push/push_flow.py) with in-memory ports.

`memberseg.push.push` is replaced by a stand-in that behaves like a portal with one import per name
(its own behaviour is tested against the fake HubSpot in tests/integration/test_push.py); what is
tested here is the claim, the exactly-once rules, the result file, the status and the events.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import push_flow
from fakes import FakeClock, InMemoryObjects, InMemoryPushStore, RecordingEvents
from memberseg.push import HubSpotConfigError, HubSpotUnavailable, PushOutcome, load_outputs

BUCKET = "out-bucket"
RUN = "001900000000000-0123456789abcdef-a1"
PREFIX = f"results/job-1/runs/{RUN}/"
TOKEN = "pat-na1-secret-token-value"     # noqa: S105 - a test value


class Portal:
    """Stands in for push(): one import per import name, like HubSpot with our lookup-before-post."""

    def __init__(self) -> None:
        self.imports: dict[str, dict] = {}
        self.calls: list[dict] = []
        self.fail_with: Exception | None = None
        self.row_errors: list[dict] = []

    def push(self, directory: Path, client, *, settings, progress, sleep, **kwargs) -> PushOutcome:
        seen = directory / "hubspot_import.json"
        previous = json.loads(seen.read_text()) if seen.is_file() else None
        self.calls.append({"token": settings.push_token, "previous": previous, "client": client})
        outputs = load_outputs(directory)
        name = f"memberseg {outputs.as_of} run {outputs.run_id} hubspot_contacts.csv push {settings.push_token}"
        if previous and previous["imports"][0]["state"] == "SUBMITTING":
            assert previous["imports"][0]["name"] == name    # the retry looks up the same name
        self.imports.setdefault(name, {"id": str(len(self.imports) + 1)})
        entry = {"file": "hubspot_contacts.csv", "name": name, "import_id": self.imports[name]["id"],
                 "state": "PROCESSING", "counters": {}, "errors": []}
        result = {"run_id": outputs.run_id, "group": "created", "imports": [entry]}
        seen.write_text(json.dumps(result))
        if self.fail_with is not None:
            raise self.fail_with
        entry.update(state="DONE", counters={"CREATED_OBJECTS": 2, "UPDATED_OBJECTS": 1,
                                             "ERRORS": len(self.row_errors)}, errors=list(self.row_errors))
        seen.write_text(json.dumps(result))
        return PushOutcome(3 if self.row_errors else 0, result, [])


class Logs:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def _log(self, message, *args, **kwargs) -> None:
        self.lines.append(f"{message} {kwargs}")

    info = debug = warning = exception = _log


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    clock = FakeClock()
    objects = InMemoryObjects(clock)
    report = {"as_of": "2026-11-15", "hubspot": {"rows": 3, "files": ["hubspot_contacts.csv"], "push": True}}
    objects.put(BUCKET, PREFIX + "report.json", json.dumps(report).encode())
    objects.put(BUCKET, PREFIX + "hubspot_properties.json", json.dumps({
        "group": {"name": "membership_segments"}, "inputs": [],
        "import_requests": [{"files": [{"fileName": "hubspot_contacts.csv"}]}]}).encode())
    objects.put(BUCKET, PREFIX + "hubspot_contacts.csv", b"Email\na@x.com\n")
    objects.put(BUCKET, PREFIX + "membership_segments.xlsx", b"not needed by the push")
    store = InMemoryPushStore({"job-1": {"job_id": "job-1", "status": "SUCCEEDED", "committed_run": RUN,
                                         "output_bucket": BUCKET, "output_prefix": PREFIX}})
    portal = Portal()
    monkeypatch.setattr(push_flow, "push", portal.push)
    events, logs, tokens = RecordingEvents(), Logs(), []

    def client(token: str, base: str):
        tokens.append(token)
        return f"client for {base}"

    deps = push_flow.Deps(objects=objects, jobs=store, events=events, token=lambda: TOKEN, client=client,
                          logger=logs, clock=clock, sleep=lambda s: None)
    settings = push_flow.Settings(output_bucket=BUCKET, work_dir=str(tmp_path))

    class World:
        pass

    w = World()
    w.__dict__.update(clock=clock, objects=objects, store=store, portal=portal, events=events, logs=logs,
                      deps=deps, settings=settings, tokens=tokens, report=report)
    w.deliver = lambda run=RUN, remaining=300.0: push_flow.handle_job_succeeded(
        {"job_id": "job-1", "run_id": run}, deps, settings, remaining_s=remaining)
    return w


def status(world) -> dict:
    return world.store.items["job-1"]["hubspot"]


def test_the_committed_run_is_pushed_once_and_its_result_recorded(world) -> None:
    outcome = world.deliver()
    assert outcome.action == "pushed"
    saved = json.loads(world.objects.read(BUCKET, PREFIX + "hubspot_import.json"))
    assert saved["imports"][0]["state"] == "DONE"
    h = status(world)
    assert (h["state"], h["created"], h["updated"], h["errors"], h["run"]) == ("DONE", 2, 1, 0, RUN)
    assert h["result_key"] == PREFIX + "hubspot_import.json" and h["published"] is True
    assert [t for t, _ in world.events.sent] == ["HubSpot Import Finished"]
    detail = world.events.sent[0][1]
    assert (detail["job_id"], detail["run_id"], detail["created"], detail["updated"]) == ("job-1", RUN, 2, 1)
    assert world.portal.calls[0]["token"] == push_flow.push_token(RUN)
    assert world.tokens == [TOKEN]
    assert PREFIX + "membership_segments.xlsx" not in world.objects.downloads


def test_a_redelivered_event_starts_no_second_import(world) -> None:
    world.deliver()
    again = world.deliver()
    assert again.action == "duplicate"
    assert len(world.portal.calls) == 1 and len(world.portal.imports) == 1
    assert len(world.events.sent) == 1


def test_a_redelivery_while_the_push_runs_does_nothing(world) -> None:
    world.store.items["job-1"]["hubspot"] = {"run": RUN, "state": "PUSHING", "attempt": 1,
                                             "lease_until": world.clock() + 200}
    assert world.deliver().action == "duplicate"
    assert world.portal.calls == [] and world.events.sent == []


def test_an_older_runs_late_event_pushes_nothing(world) -> None:
    assert world.deliver(run="000000000000001-aaaaaaaaaaaaaaaa-a1").action == "not_committed"
    assert world.portal.calls == [] and "hubspot" not in world.store.items["job-1"]


def test_a_job_that_opts_out_is_skipped_without_a_request(world) -> None:
    world.report["hubspot"]["push"] = False
    world.objects.put(BUCKET, PREFIX + "report.json", json.dumps(world.report).encode())
    outcome = world.deliver()
    assert outcome.action == "skipped" and status(world)["state"] == "SKIPPED"
    assert world.portal.calls == [] and world.tokens == [] and world.events.sent == []


def test_a_transient_fault_hands_the_claim_back_and_the_retry_resumes_the_same_import(world) -> None:
    world.portal.fail_with = HubSpotUnavailable("HubSpot answered 503 five times")
    with pytest.raises(push_flow.PushRetry):
        world.deliver()
    assert status(world)["state"] == "RETRYING"
    assert json.loads(world.objects.read(BUCKET, PREFIX + "hubspot_import.json"))["imports"][0]["import_id"] == "1"
    world.portal.fail_with = None
    assert world.deliver().action == "pushed"
    second = world.portal.calls[1]
    assert second["previous"]["imports"][0]["import_id"] == "1"      # it had the first attempt's record
    assert second["token"] == world.portal.calls[0]["token"]
    assert len(world.portal.imports) == 1 and status(world)["attempt"] == 2
    assert [t for t, _ in world.events.sent] == ["HubSpot Import Finished"]


def test_after_a_crash_the_retry_looks_up_the_import_by_its_name_first(world) -> None:
    # attempt 1 died (no except clause ran): its claim's lease ran out, hubspot_import.json never reached S3
    world.store.items["job-1"]["hubspot"] = {"run": RUN, "state": "PUSHING", "attempt": 1,
                                             "lease_until": world.clock() - 1}
    assert world.deliver().action == "pushed"
    seeded = world.portal.calls[0]["previous"]
    assert seeded["imports"][0]["state"] == "SUBMITTING"
    assert seeded["imports"][0]["name"].endswith("push " + push_flow.push_token(RUN))


def test_a_configuration_error_fails_the_push_with_one_failed_event(world) -> None:
    world.portal.fail_with = HubSpotConfigError("HubSpot refused the token (401)")
    outcome = world.deliver()
    assert outcome.state == "FAILED"
    assert status(world)["error"] == {"code": "exit_2", "message": "HubSpot refused the token (401)"}
    assert [t for t, _ in world.events.sent] == ["HubSpot Import Failed"]


def test_the_last_attempt_of_a_transient_fault_fails_instead_of_retrying(world) -> None:
    world.store.items["job-1"]["hubspot"] = {"run": RUN, "state": "RETRYING", "attempt": 2}
    world.portal.fail_with = HubSpotUnavailable("HubSpot answered 503 five times")
    assert world.deliver().state == "FAILED"
    assert status(world)["attempt"] == 3
    assert [t for t, _ in world.events.sent] == ["HubSpot Import Failed"]


def test_row_errors_are_counted_and_their_first_lines_kept(world) -> None:
    world.portal.row_errors = [{"line": n, "errorType": "INVALID_EMAIL", "message": f"bad email {n}"}
                               for n in range(2, 16)]
    outcome = world.deliver()
    h = status(world)
    assert outcome.state == "ROW_ERRORS" and h["errors"] == 14
    assert [e["line"] for e in h["first_errors"]] == list(range(2, 12))
    assert h["first_errors"][0] == {"file": "hubspot_contacts.csv", "line": 2, "message": "bad email 2"}


def test_first_row_errors_on_the_page_carry_hubspots_message_value_and_column(world) -> None:
    world.portal.row_errors = [{"line": 4, "errorType": "INVALID_EMAIL", "errorMessage": "Adresse «bad@» ungültig",
                                "invalidValue": "bad@", "column": "email", "knownColumnNumber": 0},
                               {"line": 5, "errorType": "MANY_ERRORS_IN_ROW", "errorMessage": None,
                                "invalidValue": None, "column": None, "knownColumnNumber": None}]
    world.deliver()
    h = status(world)
    assert h["errors"] == 2
    assert h["first_errors"] == [
        {"file": "hubspot_contacts.csv", "line": 4,
         "message": "Adresse «bad@» ungültig (INVALID_EMAIL, value 'bad@', column email)"},
        {"file": "hubspot_contacts.csv", "line": 5, "message": "MANY_ERRORS_IN_ROW"}]


def test_an_unsent_event_goes_out_on_the_next_delivery(world) -> None:
    world.events.fail_next = 1
    with pytest.raises(ConnectionError):
        world.deliver()
    assert status(world)["state"] == "DONE" and not status(world)["published"]
    assert world.deliver().action == "duplicate"
    assert [t for t, _ in world.events.sent] == ["HubSpot Import Finished"] and status(world)["published"]
    assert len(world.portal.calls) == 1


def test_the_token_is_never_logged(world) -> None:
    world.portal.fail_with = HubSpotConfigError("HubSpot refused the token (401)")
    world.deliver()
    assert world.logs.lines and not any(TOKEN in line for line in world.logs.lines)
    assert TOKEN not in json.dumps(world.store.items) + json.dumps(world.events.sent)


def test_a_run_without_a_single_contact_is_skipped_not_failed(world) -> None:
    world.report["hubspot"]["rows"] = 0
    world.objects.put(BUCKET, PREFIX + "report.json", json.dumps(world.report).encode())
    assert world.deliver().action == "skipped"
    assert "usable email" in status(world)["message"] and world.portal.calls == []
