"""`memberseg push` against a fake HubSpot portal over real HTTP on 127.0.0.1 (tests/fake_hubspot.py).

Each scenario starts from one real `memberseg run` output folder (copied per test) and checks what
the portal ends up holding, which requests it saw, hubspot_import.json and the exit code.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from builders import MEMBERSHIP_HEADERS, ORDER_HEADERS, d, membership, order, write_xlsx
from fake_hubspot import TOKEN, FakeHubSpot
from memberseg.cli import main
from memberseg.job_protocol import HUBSPOT_IMPORT_NAME
from memberseg.push import HubSpotClient, HubSpotConfigError, HubSpotUnavailable, PushError, PushSettings, push
from memberseg.push.client import RetryPolicy
from memberseg.push.steps import row_error_summary

EMAILS = ["acme@x.com", "beta@x.com", "gamma@x.com"]


class FakeTime:
    """A clock that moves only when the code under test sleeps, so polling and backoff take no real time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    memberships = write_xlsx(folder / "memberships.xlsx", MEMBERSHIP_HEADERS, [
        membership(1001, "Acme Inc", d("2025-01-10"), d("2027-01-10"), EMAILS[0]),
        membership(1002, "Beta Co", d("2026-01-01"), d("2026-12-01"), EMAILS[1]),
        membership(1003, "Gamma LLC", d("2024-01-01"), d("2025-01-01"), EMAILS[2]),
    ])
    orders = write_xlsx(folder / "orders.xlsx", ORDER_HEADERS, [
        order(1001, 12000, d("2025-02-01")), order(1002, 20, d("2026-02-01")),
    ])
    out = folder / "out"
    assert main(["run", "--memberships", str(memberships), "--orders", str(orders), "--out", str(out),
                 "--as-of", "2026-11-15"]) == 0
    return out


@pytest.fixture
def run_dir(finished_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(finished_run, tmp_path / "out"))


@pytest.fixture
def portal():
    with FakeHubSpot() as fake:
        yield fake


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def client_for(portal: FakeHubSpot, fake_time: FakeTime, token: str = TOKEN) -> HubSpotClient:
    return HubSpotClient(token, portal.url, timeout_seconds=5, sleep=fake_time.sleep)


def do_push(run_dir: Path, portal: FakeHubSpot, fake_time: FakeTime, **kwargs):
    token = kwargs.pop("token", TOKEN)
    settings = kwargs.pop("settings", PushSettings(push_token="t1"))
    return push(run_dir, client_for(portal, fake_time, token), settings=settings, clock=fake_time.clock,
                sleep=fake_time.sleep, **kwargs)


def wanted(run_dir: Path) -> dict:
    return json.loads((run_dir / "hubspot_properties.json").read_text())


def saved(run_dir: Path) -> dict:
    return json.loads((run_dir / HUBSPOT_IMPORT_NAME).read_text())


def csv_rows(run_dir: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO((run_dir / "hubspot_contacts.csv").read_text())))


def test_empty_portal_gets_group_properties_and_contacts(run_dir: Path, portal: FakeHubSpot,
                                                         fake_time: FakeTime) -> None:
    outcome = do_push(run_dir, portal, fake_time)

    assert outcome.exit_code == 0
    definitions = wanted(run_dir)
    assert portal.groups[definitions["group"]["name"]]["label"] == definitions["group"]["label"]
    for prop in definitions["inputs"]:
        held = portal.properties[prop["name"]]
        assert (held["type"], held["fieldType"], held.get("options", [])) == \
            (prop["type"], prop["fieldType"], prop.get("options", []))
    # Every CSV row is now a contact, keyed by email, holding exactly the CSV's non-blank values.
    assert set(portal.contacts) == set(EMAILS)
    for row in csv_rows(run_dir):
        expected = {key: value for key, value in row.items() if value != ""}
        assert portal.contacts[row["email"]] == expected
    result = saved(run_dir)
    assert result["group"] == "created"
    assert sorted(result["properties"]["created"]) == sorted(p["name"] for p in definitions["inputs"])
    assert result["properties"]["updated"] == [] and result["properties"]["unchanged"] == []
    [entry] = result["imports"]
    assert entry["file"] == "hubspot_contacts.csv" and entry["state"] == "DONE" and entry["errors"] == []
    assert entry["import_id"] in portal.imports
    assert entry["counters"] == {"TOTAL_ROWS": 3, "CREATED_OBJECTS": 3, "UPDATED_OBJECTS": 0, "ERRORS": 0}
    # The request HubSpot saw: the right parts, the filename equal to fileName, a run-specific name,
    # marketing-contact status set explicitly, and polling with growing waits.
    [upload] = portal.uploads
    assert upload["file_name"] == upload["request"]["files"][0]["fileName"] == "hubspot_contacts.csv"
    assert upload["bytes"] == (run_dir / "hubspot_contacts.csv").stat().st_size
    assert upload["request"]["marketableContactImport"] is False
    assert result["run_id"] in upload["request"]["name"] and "2026-11-15" in upload["request"]["name"]
    assert fake_time.sleeps == sorted(fake_time.sleeps) and len(fake_time.sleeps) >= 2


def test_second_push_starts_no_import(run_dir: Path, portal: FakeHubSpot, fake_time: FakeTime) -> None:
    assert do_push(run_dir, portal, fake_time).exit_code == 0
    first = saved(run_dir)
    before = len(portal.requests)

    again = do_push(run_dir, portal, fake_time)

    assert again.exit_code == 0
    assert len(portal.imports) == 1
    assert portal.requests[before:] == [], "a DONE run needs no request at all"
    assert saved(run_dir) == first
    assert "imported already" in again.messages[0]


def test_force_imports_again_and_upserts_the_same_contacts(run_dir: Path, portal: FakeHubSpot,
                                                           fake_time: FakeTime) -> None:
    do_push(run_dir, portal, fake_time)
    outcome = do_push(run_dir, portal, fake_time, force=True, settings=PushSettings(push_token="t2"))

    assert outcome.exit_code == 0
    assert len(portal.imports) == 2
    assert set(portal.contacts) == set(EMAILS), "upsert by email: no duplicate contacts"
    assert saved(run_dir)["imports"][0]["counters"]["UPDATED_OBJECTS"] == 3
    assert saved(run_dir)["properties"]["created"] == []


def test_a_new_run_into_the_folder_forgets_the_old_import(run_dir: Path, portal: FakeHubSpot,
                                                          fake_time: FakeTime, finished_run: Path) -> None:
    do_push(run_dir, portal, fake_time)
    report = json.loads((run_dir / "report.json").read_text())
    report["as_of"] = "2026-11-16"    # as a new run would: another report, so another run identity
    (run_dir / "report.json").write_text(json.dumps(report))

    assert do_push(run_dir, portal, fake_time).exit_code == 0
    assert len(portal.imports) == 2


def test_existing_properties_are_left_and_missing_options_added(run_dir: Path, portal: FakeHubSpot,
                                                                fake_time: FakeTime) -> None:
    definitions = wanted(run_dir)
    portal.groups[definitions["group"]["name"]] = dict(definitions["group"])
    by_name = {prop["name"]: prop for prop in definitions["inputs"]}
    for prop in definitions["inputs"]:
        portal.properties[prop["name"]] = json.loads(json.dumps(prop))
    # The tier dropdown predates the Platinum tier, and a user added an option of their own.
    tiers = portal.properties["order_value_tier"]
    tiers["options"] = [o for o in tiers["options"] if o["value"] != "Platinum"] + \
        [{"label": "Legacy", "value": "Legacy", "hidden": False, "displayOrder": 9}]

    outcome = do_push(run_dir, portal, fake_time)

    assert outcome.exit_code == 0, outcome.messages
    result = saved(run_dir)
    assert result["group"] == "exists"
    assert result["properties"] == {"created": [], "updated": ["order_value_tier"],
                                    "unchanged": [n for n in by_name if n != "order_value_tier"]}
    values = [o["value"] for o in portal.properties["order_value_tier"]["options"]]
    assert set(values) == {o["value"] for o in by_name["order_value_tier"]["options"]} | {"Legacy"}
    assert portal.contacts["acme@x.com"]["order_value_tier"] == "Platinum"
    assert not any(method == "POST" and "properties" in path for method, path, _ in portal.requests)


def test_type_conflict_stops_before_any_write(run_dir: Path, portal: FakeHubSpot, fake_time: FakeTime,
                                              monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    portal.properties["renewal_count"] = {"name": "renewal_count", "label": "Renewals", "type": "string",
                                          "fieldType": "text", "groupName": "contactinformation"}
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_API_BASE", portal.url)

    code = main(["push", str(run_dir)])

    assert code == 2
    err = capsys.readouterr().err
    assert "renewal_count" in err and "string/text" in err and "number/number" in err
    assert portal.writes() == []
    assert not (run_dir / HUBSPOT_IMPORT_NAME).exists()


def test_bad_token_exits_2_naming_the_variable(run_dir: Path, portal: FakeHubSpot, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-wrong")
    monkeypatch.setenv("HUBSPOT_API_BASE", portal.url)

    assert main(["push", str(run_dir)]) == 2

    err = capsys.readouterr().err
    assert "401" in err and "HUBSPOT_ACCESS_TOKEN" in err
    assert "pat-na1-wrong" not in err, "the token is never printed"
    assert [status for _, _, status in portal.requests] == [401]


def test_no_token_exits_2_before_any_request(run_dir: Path, portal: FakeHubSpot, monkeypatch, capsys) -> None:
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("HUBSPOT_API_BASE", portal.url)
    assert main(["push", str(run_dir)]) == 2
    assert "HUBSPOT_ACCESS_TOKEN" in capsys.readouterr().err
    assert portal.requests == []


def test_missing_scope_is_named(run_dir: Path, fake_time: FakeTime) -> None:
    with FakeHubSpot(scopes={"crm.schemas.contacts.read", "crm.schemas.contacts.write"}) as portal:
        with pytest.raises(HubSpotConfigError) as raised:
            do_push(run_dir, portal, fake_time)
        assert raised.value.exit_code == 2 and raised.value.status == 403
        assert "lacks the scope crm.import" in str(raised.value)
        assert portal.imports == {}


def test_rate_limit_is_waited_out_with_retry_after(run_dir: Path, portal: FakeHubSpot,
                                                   fake_time: FakeTime) -> None:
    portal.fail("GET", "/crm/v3/properties/contacts", 429, times=2, headers={"Retry-After": "3"})
    portal.fail("POST", "/crm/v3/imports", 429, times=1)    # refused: safe to send again

    outcome = do_push(run_dir, portal, fake_time)

    assert outcome.exit_code == 0
    assert len(portal.imports) == 1
    assert fake_time.sleeps[:2] == [3.0, 3.0]
    assert 10.0 in fake_time.sleeps, "without Retry-After it waits out HubSpot's 10-second window"
    assert [status for m, _, status in portal.import_posts()] == [429, 200]


def test_503_after_the_import_was_created_makes_exactly_one_import(run_dir: Path, portal: FakeHubSpot,
                                                                   fake_time: FakeTime) -> None:
    portal.fail("POST", "/crm/v3/imports", 503, apply_first=True)

    outcome = do_push(run_dir, portal, fake_time)

    assert outcome.exit_code == 0
    assert len(portal.imports) == 1, "the lost answer must not turn into a second import"
    assert [status for _, _, status in portal.import_posts()] == [503]
    [entry] = saved(run_dir)["imports"]
    assert entry["import_id"] in portal.imports and entry["state"] == "DONE"
    assert set(portal.contacts) == set(EMAILS)


def test_503_before_the_import_was_created_sends_it_again(run_dir: Path, portal: FakeHubSpot,
                                                          fake_time: FakeTime) -> None:
    portal.fail("POST", "/crm/v3/imports", 503)

    assert do_push(run_dir, portal, fake_time).exit_code == 0

    assert len(portal.imports) == 1
    assert [status for _, _, status in portal.import_posts()] == [503, 200]
    assert any(m == "GET" and p == "/crm/v3/imports/" for m, p, _ in portal.requests), "it looked first"


def test_persistent_5xx_exits_1(run_dir: Path, portal: FakeHubSpot, fake_time: FakeTime) -> None:
    portal.fail("GET", "/crm/v3/properties/contacts/groups", 502, times=10)
    with pytest.raises(HubSpotUnavailable) as raised:
        do_push(run_dir, portal, fake_time)
    assert raised.value.exit_code == 1
    assert len(portal.requests) == RetryPolicy().attempts


def test_row_errors_exit_3_and_are_listed(run_dir: Path, portal: FakeHubSpot, monkeypatch, capsys) -> None:
    portal.blocked_emails = {"beta@x.com"}
    # A hand edit after the run: a tier that has no dropdown option.
    path = run_dir / "hubspot_contacts.csv"
    path.write_text(path.read_text().replace(",Platinum,", ",Platnum,"))
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_API_BASE", portal.url)

    assert main(["push", str(run_dir)]) == 3

    lines = {row["email"]: number for number, row in enumerate(csv_rows(run_dir), start=2)}
    [entry] = saved(run_dir)["imports"]
    assert entry["state"] == "DONE"
    assert sorted((e["line"], e["errorType"]) for e in entry["errors"]) == sorted(
        [(lines["beta@x.com"], "GDPR_BLACKLISTED_EMAIL"), (lines["acme@x.com"], "INVALID_ENUMERATION_OPTION")])
    assert all(e["errorMessage"] for e in entry["errors"])
    assert {e["errorType"]: (e["invalidValue"], e["column"]) for e in entry["errors"]} == {
        "GDPR_BLACKLISTED_EMAIL": ("beta@x.com", "email"), "INVALID_ENUMERATION_OPTION": ("Platnum", "order_value_tier")}
    err = capsys.readouterr().err
    assert "GDPR_BLACKLISTED_EMAIL" in err and "INVALID_ENUMERATION_OPTION" in err and HUBSPOT_IMPORT_NAME in err
    assert "2 rows not fully imported (2 row errors)" in err
    assert "beta@x.com" not in portal.contacts


def test_row_errors_are_paged(run_dir: Path, portal: FakeHubSpot, fake_time: FakeTime) -> None:
    path = run_dir / "hubspot_contacts.csv"
    path.write_text(path.read_text().replace("2026-11-15", "15/11/2026").replace("-01,", "/01,"))
    outcome = do_push(run_dir, portal, fake_time,
                      settings=PushSettings(push_token="t1", errors_page_size=2))
    [entry] = saved(run_dir)["imports"]
    total = portal.imports[entry["import_id"]].counters["ERRORS"]
    assert outcome.exit_code == 3 and total > 2
    assert len(entry["errors"]) == total
    pages = [p for m, p, _ in portal.requests if p.endswith("/errors")]
    assert len(pages) == -(-total // 2)


def test_dry_run_makes_only_get_requests(run_dir: Path, portal: FakeHubSpot, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_API_BASE", portal.url)

    assert main(["push", str(run_dir), "--dry-run"]) == 0

    assert portal.requests and portal.writes() == []
    out = capsys.readouterr().out
    assert "create it" in out and "create property active_membership (bool/booleancheckbox)" in out
    assert "import hubspot_contacts.csv" in out and "marketableContactImport=False" in out
    assert not (run_dir / HUBSPOT_IMPORT_NAME).exists()
    assert portal.properties.keys() == {"email", "company", "firstname"}


def test_deadline_leaves_a_resumable_state(run_dir: Path, fake_time: FakeTime) -> None:
    with FakeHubSpot(import_states=["STARTED"] + ["PROCESSING"] * 50 + ["DONE"]) as portal:
        with pytest.raises(PushError) as raised:
            do_push(run_dir, portal, fake_time, settings=PushSettings(push_token="t1", deadline_seconds=60))
        assert raised.value.exit_code == 1 and "deadline" in raised.value.message
        [entry] = saved(run_dir)["imports"]
        assert entry["state"] == "PROCESSING"

        outcome = do_push(run_dir, portal, fake_time, settings=PushSettings(push_token="t2"))

        assert outcome.exit_code == 0
        assert len(portal.imports) == 1, "pushing again waits for the running import"
        assert saved(run_dir)["imports"][0]["state"] == "DONE"


def test_a_push_that_died_mid_post_is_found_by_name(run_dir: Path, portal: FakeHubSpot,
                                                    fake_time: FakeTime) -> None:
    portal.fail("POST", "/crm/v3/imports", 503, apply_first=True)
    portal.fail("GET", "/crm/v3/imports/", 503, times=RetryPolicy().attempts * 20)
    with pytest.raises(HubSpotUnavailable):
        do_push(run_dir, portal, fake_time)
    assert saved(run_dir)["imports"][0]["state"] == "SUBMITTING"
    portal.faults.clear()

    assert do_push(run_dir, portal, fake_time, settings=PushSettings(push_token="t2")).exit_code == 0
    assert len(portal.imports) == 1


def test_folder_without_outputs_exits_2(tmp_path: Path, portal: FakeHubSpot, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_API_BASE", portal.url)
    assert main(["push", str(tmp_path)]) == 2
    assert "report.json is missing" in capsys.readouterr().err
    assert portal.requests == []


def test_run_with_push(tmp_path: Path, portal: FakeHubSpot, monkeypatch, capsys) -> None:
    memberships = write_xlsx(tmp_path / "m.xlsx", MEMBERSHIP_HEADERS,
                             [membership(7, "Seven", d("2026-01-01"), d("2027-01-01"), "seven@x.com")])
    orders = write_xlsx(tmp_path / "o.xlsx", ORDER_HEADERS, [order(7, 10, d("2026-02-01"))])
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_API_BASE", portal.url)
    portal.import_states = ["STARTED", "DONE"]

    code = main(["run", "--memberships", str(memberships), "--orders", str(orders), "--out",
                 str(tmp_path / "out"), "--as-of", "2026-11-15", "--push"])

    assert code == 0, capsys.readouterr().err
    assert set(portal.contacts) == {"seven@x.com"}
    assert saved(tmp_path / "out")["imports"][0]["state"] == "DONE"


def test_run_with_push_and_no_token_fails_before_running(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    code = main(["run", "--memberships", str(tmp_path / "m.xlsx"), "--orders", str(tmp_path / "o.xlsx"),
                 "--out", str(tmp_path / "out"), "--push"])
    assert code == 2
    assert "HUBSPOT_ACCESS_TOKEN" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_new_run_into_a_pushed_folder_removes_the_old_import_record(finished_run: Path, run_dir: Path,
                                                                      portal: FakeHubSpot,
                                                                      fake_time: FakeTime) -> None:
    do_push(run_dir, portal, fake_time)
    assert (run_dir / HUBSPOT_IMPORT_NAME).is_file()
    inputs = finished_run.parent
    assert main(["run", "--memberships", str(inputs / "memberships.xlsx"), "--orders", str(inputs / "orders.xlsx"),
                 "--out", str(run_dir), "--as-of", "2026-11-15"]) == 0
    assert not (run_dir / HUBSPOT_IMPORT_NAME).exists(), "a new run's outputs must not inherit the old push's DONE"


def test_an_import_that_ends_failed_exits_3(run_dir: Path, fake_time: FakeTime) -> None:
    with FakeHubSpot(import_states=["STARTED", "DEFERRED", "PROCESSING", "FAILED"]) as portal:
        outcome = do_push(run_dir, portal, fake_time)
    assert outcome.exit_code == 3
    assert saved(run_dir)["imports"][0]["state"] == "FAILED"


def test_group_created_meanwhile_is_taken_as_existing(run_dir: Path, portal: FakeHubSpot,
                                                      fake_time: FakeTime) -> None:
    group = wanted(run_dir)["group"]
    portal.groups[group["name"]] = dict(group)
    portal.fail("GET", f"/crm/v3/properties/contacts/groups/{group['name']}", 404)
    assert do_push(run_dir, portal, fake_time).exit_code == 0
    assert saved(run_dir)["group"] == "exists"
    assert ("POST", "/crm/v3/properties/contacts/groups", 409) in portal.requests


def test_an_archived_property_of_the_same_name_is_named(run_dir: Path, portal: FakeHubSpot,
                                                        fake_time: FakeTime) -> None:
    portal.archived = {"renewal_count"}
    with pytest.raises(PushError) as raised:
        do_push(run_dir, portal, fake_time)
    assert raised.value.exit_code == 2
    assert "renewal_count" in raised.value.message and "archived" in raised.value.message
    assert portal.imports == {}, "no import while a property is missing"


def test_a_property_created_meanwhile_with_the_same_type_is_fine(run_dir: Path, portal: FakeHubSpot,
                                                                 fake_time: FakeTime) -> None:
    prop = next(p for p in wanted(run_dir)["inputs"] if p["name"] == "renewal_count")
    # The listing predates it (another push created it in between); batch/create then answers 207.
    real_get = portal._properties

    def stale_listing(method, rest, body):
        status, payload, headers = real_get(method, rest, body)
        if method == "GET" and not rest:
            payload = {"results": [p for p in payload["results"] if p["name"] != "renewal_count"]}
        return status, payload, headers

    portal._properties = stale_listing
    portal.properties["renewal_count"] = dict(prop)
    assert do_push(run_dir, portal, fake_time).exit_code == 0
    assert ("POST", "/crm/v3/properties/contacts/batch/create", 207) in portal.requests
    assert "renewal_count" not in saved(run_dir)["properties"]["created"]


def test_progress_names_each_step_and_the_polled_state(run_dir: Path, portal: FakeHubSpot,
                                                       fake_time: FakeTime) -> None:
    lines: list[str] = []
    do_push(run_dir, portal, fake_time, progress=lines.append)
    import_id = saved(run_dir)["imports"][0]["import_id"]
    expected = ["checking the property group membership_segments", "reading the portal's contact properties",
                # 10 fixed properties (no days_until_expiration) and 9 segments, then the status change's 2 and 9
                # `<segment>_since` (issue 18)
                "creating the property group membership_segments", "creating 30 properties",
                f"import {import_id} (hubspot_contacts.csv): PROCESSING",
                f"import {import_id} (hubspot_contacts.csv): DONE"]
    found = [next(i for i, line in enumerate(lines) if line.startswith(step)) for step in expected]
    assert found == sorted(found), lines


def test_a_run_without_contacts_has_nothing_to_push(run_dir: Path, portal: FakeHubSpot,
                                                    fake_time: FakeTime) -> None:
    report = json.loads((run_dir / "report.json").read_text())
    report["hubspot"]["rows"] = 0
    (run_dir / "report.json").write_text(json.dumps(report))
    with pytest.raises(PushError) as raised:
        do_push(run_dir, portal, fake_time)
    assert raised.value.exit_code == 2 and "no contact with a valid email" in raised.value.message
    assert portal.requests == []


@pytest.fixture(scope="module")
def two_part_run(finished_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same inputs, with the HubSpot CSV split after two rows: hubspot_contacts_1.csv and _2.csv."""
    folder = tmp_path_factory.mktemp("two-parts")
    rules = folder / "rules.yaml"
    rules.write_text("hubspot:\n  max_rows_per_file: 2\n")
    inputs = finished_run.parent
    out = folder / "out"
    assert main(["run", "--memberships", str(inputs / "memberships.xlsx"), "--orders", str(inputs / "orders.xlsx"),
                 "--out", str(out), "--as-of", "2026-11-15", "--rules", str(rules)]) == 0
    return out


def test_the_report_keeps_hubspots_errors_verbatim_and_totals_them_over_both_parts(
        two_part_run: Path, tmp_path: Path, portal: FakeHubSpot, monkeypatch, capsys) -> None:
    run_dir = Path(shutil.copytree(two_part_run, tmp_path / "out"))
    parts = json.loads((run_dir / "report.json").read_text())["hubspot"]["files"]
    assert parts == ["hubspot_contacts_1.csv", "hubspot_contacts_2.csv"]
    rows = {name: list(csv.DictReader(io.StringIO((run_dir / name).read_text()))) for name in parts}
    header = list(rows[parts[0]][0])
    # Part 1: one contact GDPR-blocked, the other with a tier that has no option; part 2: a bad number.
    blocked = rows[parts[0]][0]["email"]
    portal.blocked_emails = {blocked}
    first, second = (run_dir / name for name in parts)
    tier = rows[parts[0]][1]["order_value_tier"]
    first.write_text(first.read_text().replace(f",{tier},", ",Platnum,"))
    count = rows[parts[1]][0]["renewal_count"]
    second.write_text(second.read_text().replace(f",{count},", ",3 ½,", 1))
    odd = "Ungültiger Wert «Platnum»:  nicht in der Liste\n(order_value_tier) — 値が無効です "
    portal.error_messages = {"INVALID_ENUMERATION_OPTION": odd}
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_API_BASE", portal.url)

    assert main(["push", str(run_dir)]) == 3

    result = saved(run_dir)
    by_file = {entry["file"]: entry["errors"] for entry in result["imports"]}
    assert by_file[parts[0]] == [
        {"line": 2, "errorType": "GDPR_BLACKLISTED_EMAIL", "errorMessage": f"Email {blocked} cannot be imported",
         "invalidValue": blocked, "column": "email", "knownColumnNumber": 0},
        {"line": 3, "errorType": "INVALID_ENUMERATION_OPTION", "errorMessage": odd, "invalidValue": "Platnum",
         "column": "order_value_tier", "knownColumnNumber": header.index("order_value_tier")},
    ]
    assert by_file[parts[1]] == [
        {"line": 2, "errorType": "COULD_NOT_PARSE_NUMBER", "errorMessage": "'3 ½' is not a valid value for "
         "renewal_count", "invalidValue": "3 ½", "column": "renewal_count",
         "knownColumnNumber": header.index("renewal_count")},
    ]
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"memberseg push: 3 rows not fully imported (3 row errors): "
                   f"{parts[0]} line 2 GDPR_BLACKLISTED_EMAIL {blocked!r} in email; "
                   f"{parts[0]} line 3 INVALID_ENUMERATION_OPTION 'Platnum' in order_value_tier; "
                   f"{parts[1]} line 2 COULD_NOT_PARSE_NUMBER '3 ½' in renewal_count; "
                   f"see {run_dir / HUBSPOT_IMPORT_NAME}"]


def test_errors_beyond_the_cap_are_fetched_over_pages_and_totalled_as_at_least(
        run_dir: Path, portal: FakeHubSpot, fake_time: FakeTime) -> None:
    path = run_dir / "hubspot_contacts.csv"
    path.write_text(path.read_text().replace("2026-11-15", "15/11/2026").replace("-01,", "/01,"))

    outcome = do_push(run_dir, portal, fake_time,
                      settings=PushSettings(push_token="t1", errors_page_size=2, max_errors_per_import=3))

    [entry] = saved(run_dir)["imports"]
    total = portal.imports[entry["import_id"]].counters["ERRORS"]
    assert outcome.exit_code == 3 and total > 3
    assert len(entry["errors"]) == 3 and entry["errors_truncated"] is True
    assert [p for m, p, _ in portal.requests if p.endswith("/errors")] == [f"/crm/v3/imports/{entry['import_id']}"
                                                                           "/errors"] * 2
    rows = len({e["line"] for e in entry["errors"]})
    assert row_error_summary(outcome.result, run_dir).startswith(
        f"memberseg push: at least {rows} row{'s' if rows > 1 else ''} not fully imported "
        f"(3 of at least {total} row errors listed): line ")
