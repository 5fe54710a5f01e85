"""The S3 flow's HubSpot push on moto (in-process): a real job commits, its "Segmentation Job Succeeded"
event goes to the push handler (functions/hubspot_push/push_handler.py, environment from template.yaml),
which reads the token from Secrets Manager and pushes to the fake HubSpot over HTTP on 127.0.0.1."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

import local_aws
import memberseg.runner
from builders import MEMBERSHIP_HEADERS, ORDER_HEADERS, write_xlsx
from fake_hubspot import TOKEN, FakeHubSpot
from memberseg.job_protocol import state_key
from memberseg.push import HubSpotClient
from memberseg.rules import load_rules
from s3_world import EXAMPLES
from test_push_delta import AS_OF as DELTA_AS_OF
from test_push_delta import FIRST, KILL_POINTS, SECOND, Killed, KillingTransport
from test_push_delta import ORDERS as DELTA_ORDERS

MEMBERSHIPS = EXAMPLES / "memberships.xlsx"
ORDERS = EXAMPLES / "orders.xlsx"
SEGMENT_FLAGS = {seg.property for seg in load_rules().segments}


@pytest.fixture
def portal():
    with FakeHubSpot() as fake:
        yield fake


@pytest.fixture
def pusher(world, portal, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    secret = world.session.client("secretsmanager").create_secret(Name="hubspot-token", SecretString=TOKEN)["ARN"]
    for name, value in world.local.stack.function_environment("HubSpotPushFunction").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HUBSPOT_TOKEN_SECRET_ARN", secret)
    monkeypatch.setenv("HUBSPOT_API_BASE", portal.url)
    monkeypatch.setenv("PUSH_WORK_DIR", str(tmp_path))
    import push_handler as app
    app.reload_env()
    app.dependencies().sleep = lambda seconds: None     # the fake's imports advance per poll, not per second
    yield app
    app.dependencies.cache_clear()


def run_job(world, job_id: str) -> dict:
    world.upload_and_deliver(f"uploads/{job_id}/memberships.xlsx", MEMBERSHIPS)
    assert world.upload_and_deliver(f"uploads/{job_id}/orders.xlsx", ORDERS)["action"] == "succeeded"
    succeeded = [e for e in world.job_events() if e["detail-type"] == "Segmentation Job Succeeded"]
    assert len(succeeded) == 1
    return succeeded[0]


def deliver(app, event: dict) -> dict:
    return app.handler(event, local_aws.LambdaContext(function_name="memberseg-hubspot-push", remaining_ms=300_000))


def test_a_committed_run_is_imported_once_with_its_result_beside_the_outputs(world, portal, pusher) -> None:
    event = run_job(world, "push-1")
    outcome = deliver(pusher, event)
    assert outcome["action"] == "pushed" and outcome["state"] == "DONE"

    rows = list(csv.DictReader(io.StringIO(world.s3.get_object(
        Bucket=world.output_bucket, Key=world.committed_prefix("push-1") + "hubspot_contacts.csv")["Body"]
        .read().decode("utf-8-sig"))))
    assert len(portal.imports) == 1
    assert set(portal.contacts) == {row["email"].lower() for row in rows}
    hubspot = world.status("push-1")["hubspot"]
    assert (hubspot["state"], hubspot["created"], hubspot["updated"], hubspot["errors"]) == ("DONE", len(rows), 0, 0)
    assert "hubspot_import.json" in world.committed("push-1")
    saved = world.read_committed("push-1", "hubspot_import.json")
    assert [entry["state"] for entry in saved["imports"]] == ["DONE"]
    events = world.job_events()
    assert [e["detail-type"] for e in events] == ["HubSpot Import Finished"]
    assert events[0]["detail"]["run_id"] == event["detail"]["run_id"]

    again = deliver(pusher, event)                      # EventBridge delivers at least once
    assert again["action"] == "duplicate"
    assert len(portal.imports) == 1 and world.job_events() == []
    posts = [r for r in portal.requests if r[0] == "POST" and r[1].startswith("/crm/v3/imports")]
    assert len(posts) == 1


def test_a_job_whose_rules_opt_out_is_not_pushed(world, portal, pusher) -> None:
    rules = (Path(memberseg.runner.__file__).parent / "default_rules.yaml").read_text()
    assert "  push: true" in rules
    world.put("uploads/quiet/rules.yaml", rules.replace("  push: true", "  push: false").encode())
    outcome = deliver(pusher, run_job(world, "quiet"))
    assert outcome["action"] == "skipped"
    assert world.status("quiet")["hubspot"]["state"] == "SKIPPED"
    assert portal.requests == [] and world.job_events() == []


def test_a_bad_token_fails_the_push_and_says_so(world, portal, pusher) -> None:
    portal.token = "another-token"       # noqa: S105 - the portal no longer accepts ours
    outcome = deliver(pusher, run_job(world, "denied"))
    assert outcome["state"] == "FAILED"
    hubspot = world.status("denied")["hubspot"]
    assert hubspot["error"]["code"] == "exit_2"
    assert "token" in hubspot["error"]["message"].lower() and TOKEN not in hubspot["error"]["message"]
    assert [e["detail-type"] for e in world.job_events()] == ["HubSpot Import Failed"]
    assert portal.imports == {}


# ------------------------------------------------------------------ a job's series: only what changed is pushed
def sent(portal: FakeHubSpot, since: int = 0) -> Counter:
    """Each email's rows over the import files posted since upload number `since`."""
    return Counter(row["email"] for upload in portal.uploads[since:]
                   for row in csv.DictReader(io.StringIO(upload["text"])))


def next_run(world, job_id: str, memberships: Path, orders: Path | None = None) -> dict:
    """Upload a new version of the job's files and run it; its "Segmentation Job Succeeded" event."""
    world.next_second()
    if orders is not None:
        world.upload_and_deliver(f"uploads/{job_id}/orders.xlsx", orders)
    assert world.upload_and_deliver(f"uploads/{job_id}/memberships.xlsx", memberships)["action"] == "succeeded"
    (event,) = [e for e in world.job_events() if e["detail-type"] == "Segmentation Job Succeeded"]
    return event


def small_inputs(folder: Path, rows: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_xlsx(folder / "memberships.xlsx", MEMBERSHIP_HEADERS, list(rows.values()))


@pytest.fixture
def pinned(world, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("JOB_AS_OF", DELTA_AS_OF)
    world.app.reload_env()
    return world


@pytest.fixture
def pinned_samples(world, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("JOB_AS_OF", SAMPLE_AS_OF.isoformat())
    world.app.reload_env()
    return world


def test_the_next_run_of_a_job_pushes_only_the_changed_new_and_gone(pinned, portal, pusher, tmp_path: Path) -> None:
    world = pinned
    orders = write_xlsx(tmp_path / "orders.xlsx", ORDER_HEADERS, DELTA_ORDERS)
    first = next_run(world, "delta", small_inputs(tmp_path / "one", FIRST), orders)
    assert deliver(pusher, first)["state"] == "DONE"
    assert sent(portal) == Counter(list(FIRST))
    status = world.status("delta")
    assert status["hubspot_accepted"]["run"] == first["detail"]["run_id"]
    assert status["hubspot_accepted"]["state_key"] == state_key("delta", first["detail"]["run_id"])
    record = world.read_json(status["hubspot_accepted"]["record_key"])["accepted"]
    assert (record["not_accepted_keys"], record["not_accepted_files"]) == ([], [])

    second = next_run(world, "delta", small_inputs(tmp_path / "two", SECOND))
    assert deliver(pusher, second)["state"] == "DONE"

    assert sent(portal, since=1) == Counter(["beta@x.com", "epsilon@x.com", "delta@x.com"])
    hubspot = world.status("delta")["hubspot"]
    assert hubspot["sent"] == {"added": 1, "changed": 1, "unchanged": 2, "cleared": 1}
    assert world.status("delta")["hubspot_accepted"]["run"] == second["detail"]["run_id"]
    assert portal.contacts["beta@x.com"]["membership_expiration_date"] == "2027-12-01"
    assert all(value == "false" for key, value in portal.contacts["delta@x.com"].items() if key in SEGMENT_FLAGS)


def test_row_errors_and_a_failed_push_are_sent_again(pinned, portal, pusher, tmp_path: Path) -> None:
    world = pinned
    orders = write_xlsx(tmp_path / "orders.xlsx", ORDER_HEADERS, DELTA_ORDERS)
    portal.blocked_emails = {"gamma@x.com"}
    first = next_run(world, "again", small_inputs(tmp_path / "one", FIRST), orders)
    assert deliver(pusher, first)["state"] == "ROW_ERRORS"
    record = world.read_json(world.status("again")["hubspot_accepted"]["record_key"])["accepted"]
    assert len(record["not_accepted_keys"]) == 1
    portal.blocked_emails = set()
    portal.token = "another-token"       # noqa: S105 - the second push fails: the accepted state stays the first's
    second = next_run(world, "again", small_inputs(tmp_path / "two", SECOND))
    assert deliver(pusher, second)["state"] == "FAILED"
    assert world.status("again")["hubspot_accepted"]["run"] == first["detail"]["run_id"]
    portal.token = TOKEN
    third = next_run(world, "again", small_inputs(tmp_path / "three", SECOND))

    assert deliver(pusher, third)["state"] == "DONE"
    # compared with the first push: gamma's refused row again, beta changed, epsilon new; and delta, gone at
    # the second run, whose push failed: the third run no longer lists it, but HubSpot still holds its flags
    assert sent(portal, since=1) == Counter(["gamma@x.com", "beta@x.com", "epsilon@x.com", "delta@x.com"])
    assert world.status("again")["hubspot"]["sent"] == {"added": 2, "changed": 1, "unchanged": 1, "cleared": 1}
    assert all(value == "false" for key, value in portal.contacts["delta@x.com"].items() if key in SEGMENT_FLAGS)
    fourth = next_run(world, "again", small_inputs(tmp_path / "four", SECOND))
    assert deliver(pusher, fourth)["state"] == "DONE"
    assert sent(portal, since=1)["delta@x.com"] == 1, "cleared once: the third push's state is HubSpot's now"


def test_a_job_that_keeps_gone_customers_sends_no_cleared_row_after_a_failed_push(pinned, portal, pusher,
                                                                                 tmp_path: Path) -> None:
    world = pinned
    orders = write_xlsx(tmp_path / "orders.xlsx", ORDER_HEADERS, DELTA_ORDERS)
    first = next_run(world, "keeps", small_inputs(tmp_path / "one", FIRST), orders)
    assert deliver(pusher, first)["state"] == "DONE"
    portal.token = "another-token"       # noqa: S105 - the second push fails: the accepted state stays the first's
    assert deliver(pusher, next_run(world, "keeps", small_inputs(tmp_path / "two", SECOND)))["state"] == "FAILED"
    portal.token = TOKEN
    rules = (Path(memberseg.runner.__file__).parent / "default_rules.yaml").read_text()
    assert "  gone_customers: clear" in rules
    world.put("uploads/keeps/rules.yaml", rules.replace("  gone_customers: clear", "  gone_customers: keep").encode())

    assert deliver(pusher, next_run(world, "keeps", small_inputs(tmp_path / "three", SECOND)))["state"] == "DONE"

    assert sent(portal, since=1) == Counter(["beta@x.com", "epsilon@x.com"])
    assert world.read_committed("keeps", "report.json")["hubspot"]["gone_customers"] == "keep"
    assert portal.contacts["delta@x.com"]["active_membership"] == "true", "kept as HubSpot had it"


class KillingClient:
    """deps.client: the real client over a transport that dies at request `at` (before or after it applied)."""

    def __init__(self, at: int, after: bool) -> None:
        self.transport = KillingTransport(at, after)

    def __call__(self, token: str, api_base: str) -> HubSpotClient:
        return HubSpotClient(token, api_base, timeout_seconds=5, sleep=lambda seconds: None, transport=self.transport)


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
@pytest.mark.parametrize("at", range(1, KILL_POINTS + 1))
def test_a_delta_push_killed_at_any_step_is_resumed_by_the_retry_each_contact_once(
        pinned, portal, pusher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at: int, after: bool) -> None:
    world = pinned
    orders = write_xlsx(tmp_path / "orders.xlsx", ORDER_HEADERS, DELTA_ORDERS)
    assert deliver(pusher, next_run(world, "kill", small_inputs(tmp_path / "one", FIRST), orders))["state"] == "DONE"
    second = next_run(world, "kill", small_inputs(tmp_path / "two", SECOND))
    deps = pusher.dependencies()
    monkeypatch.setattr(deps, "client", KillingClient(at, after))

    with pytest.raises(Killed):         # the sandbox dies: no handler runs, hubspot_import.json is not saved
        deliver(pusher, second)
    monkeypatch.setattr(deps, "client", pusher.make_client)
    monkeypatch.setattr(deps, "clock", lambda: time.time() + 600)     # Lambda's retry, once the lease lapsed
    outcome = deliver(pusher, second)

    assert outcome["action"] == "pushed" and outcome["state"] == "DONE"
    assert sent(portal, since=1) == Counter(["beta@x.com", "epsilon@x.com", "delta@x.com"]), \
        "each changed contact imported exactly once, none lost, no unchanged one sent"
    assert world.status("kill")["hubspot"]["sent"] == {"added": 1, "changed": 1, "unchanged": 2, "cleared": 1}
    assert world.status("kill")["hubspot_accepted"]["run"] == second["detail"]["run_id"]
    assert deliver(pusher, second)["action"] == "duplicate"


# ------------------------------------------------------------------ three runs of the bundled samples
SAMPLE_AS_OF = dt.date(2026, 11, 15)
NEWCOMER = "newcomer@example.com"


def edited_samples(folder: Path, committed_csv: str) -> tuple[Path, dict[str, str]]:
    """The bundled memberships with four edits, on customers of a single record whose email is in the first
    run's HubSpot file: one Expiring Soon renews (a record created 2 days before the expiration, a year
    long), one Active expires (its expiration moved to 2026-11-01), one Active leaves the export, and a new
    member joins. Returns the file and the email of each edit."""
    in_csv = {row["email"]: row for row in csv.DictReader(io.StringIO(committed_csv))}
    book = openpyxl.load_workbook(MEMBERSHIPS)
    sheet = book.active
    header = [cell.value for cell in sheet[3]]
    column = {name: header.index(name) for name in header}
    rows = list(sheet.iter_rows(min_row=4, values_only=True))
    records = Counter(row[column["Cust ID"]] for row in rows)
    emails = Counter(str(row[column["Contact Email"]] or "").strip().lower() for row in rows)
    single = [(number, row) for number, row in enumerate(rows, start=4)
              if records[row[column["Cust ID"]]] == 1 and emails[str(row[column["Contact Email"]] or "").lower()] == 1
              and str(row[column["Contact Email"]] or "").lower() in in_csv
              and isinstance(row[column["Expiration Date"]], dt.datetime)]

    def status(row) -> str:
        return in_csv[str(row[column["Contact Email"]]).lower()]["membership_status"]

    renew = next((n, r) for n, r in single if status(r) == "Expiring Soon")
    active = [(n, r) for n, r in single if status(r) == "Active"
              and r[column["Expiration Date"]].date() > SAMPLE_AS_OF + dt.timedelta(days=60)]
    expire, leave = active[0], active[1]
    ends = renew[1][column["Expiration Date"]]
    renewal = list(renew[1])
    renewal[column["Start Date"]], renewal[column["Created Date"]] = ends, ends - dt.timedelta(days=2)
    renewal[column["Expiration Date"]] = ends + dt.timedelta(days=365)
    sheet.cell(row=expire[0], column=column["Expiration Date"] + 1).value = dt.datetime(2026, 11, 1)
    newcomer = [None] * len(header)
    for name, value in (("Cust ID", 999001), ("Customer Name", "Newcomer Ltd"), ("Contact Email", NEWCOMER),
                        ("Membership", "Enrolled"), ("Start Date", dt.datetime(2026, 11, 1)),
                        ("Created Date", dt.datetime(2026, 11, 1)), ("Expiration Date", dt.datetime(2027, 11, 1))):
        newcomer[column[name]] = value
    sheet.delete_rows(leave[0])
    sheet.append(renewal)
    sheet.append(newcomer)
    folder.mkdir(parents=True, exist_ok=True)
    book.save(folder / "memberships.xlsx")
    email = {name: str(row[column["Contact Email"]]).lower()
             for name, (_, row) in (("renewed", renew), ("expired", expire), ("gone", leave))}
    return folder / "memberships.xlsx", {**email, "new": NEWCOMER}


def test_three_runs_of_the_samples_push_all_then_the_changes_then_nothing(pinned_samples, portal, pusher,
                                                                          tmp_path: Path) -> None:
    world = pinned_samples
    first = next_run(world, "samples", MEMBERSHIPS, ORDERS)
    assert deliver(pusher, first)["state"] == "DONE"
    committed_csv = world.s3.get_object(Bucket=world.output_bucket, Key=world.committed_prefix("samples")
                                        + "hubspot_contacts.csv")["Body"].read().decode("utf-8")
    everyone = Counter(row["email"] for row in csv.DictReader(io.StringIO(committed_csv)))
    assert sent(portal) == everyone and max(everyone.values()) == 1, "the first push sends every contact once"

    edited, who = edited_samples(tmp_path / "edited", committed_csv)
    second = next_run(world, "samples", edited)
    report = world.read_committed("samples", "report.json")
    assert (report["changes"]["new"], report["changes"]["gone"], report["hubspot"]["cleared"]) == (1, 1, 1)
    assert deliver(pusher, second)["state"] == "DONE"

    assert sent(portal, since=1) == Counter(who.values()), "only the renewed, expired, new and the gone one's flags"
    contacts = portal.contacts
    assert contacts[who["renewed"]]["membership_status"] == "Active"
    assert contacts[who["renewed"]]["previous_membership_status"] == "Expiring Soon"
    assert contacts[who["expired"]]["membership_status"] == "Expired"
    assert contacts[who["new"]]["membership_status"] == "Active"
    assert all(contacts[who["gone"]][flag] == "false" for flag in SEGMENT_FLAGS)
    assert world.status("samples")["hubspot"]["sent"] == {"added": 1, "changed": 2,
                                                          "unchanged": len(everyone) - 3, "cleared": 1}

    requests = len(portal.requests)
    third = next_run(world, "samples", edited)                        # the same files again: a new version
    assert deliver(pusher, third)["state"] == "DONE"
    assert len(portal.requests) == requests and len(portal.uploads) == 2, "the third push sends nothing"
    status = world.status("samples")
    assert status["hubspot"]["sent"] == {"added": 0, "changed": 0, "unchanged": len(everyone), "cleared": 0}  # -1 +1
    assert status["hubspot_accepted"]["run"] == third["detail"]["run_id"]
