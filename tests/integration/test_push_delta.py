"""`memberseg push` of only what changed (issue 18 §3) against the fake HubSpot (tests/fake_hubspot.py).

Two real runs on the same as-of date: the first has acme, beta (Expiring Soon), gamma (Expired) and delta;
the second, made with --since the first, has beta renewed, delta gone and epsilon new. So, by hand, the
second push sends beta (changed), epsilon (added) and delta's cleared flags, and never acme or gamma.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from builders import MEMBERSHIP_HEADERS, ORDER_HEADERS, d, membership, order, write_xlsx
from fake_hubspot import TOKEN, FakeHubSpot
from memberseg.cli import main
from memberseg.job_protocol import HUBSPOT_DELTA_FOLDER, HUBSPOT_IMPORT_NAME, STATE_NAME
from memberseg.push import HubSpotClient, PushError, PushSettings, push
from memberseg.push.client import HttpTransport

AS_OF = "2026-11-15"
FIRST = {
    "acme@x.com": membership(1001, "Acme Inc", d("2025-01-10"), d("2027-01-10"), "acme@x.com"),
    "beta@x.com": membership(1002, "Beta Co", d("2026-01-01"), d("2026-12-01"), "beta@x.com"),
    "gamma@x.com": membership(1003, "Gamma LLC", d("2024-01-01"), d("2025-01-01"), "gamma@x.com"),
    "delta@x.com": membership(1004, "Delta Ltd", d("2026-03-01"), d("2027-03-01"), "delta@x.com"),
}
SECOND = {
    "acme@x.com": FIRST["acme@x.com"],
    "beta@x.com": membership(1002, "Beta Co", d("2026-01-01"), d("2027-12-01"), "beta@x.com"),   # renewed
    "gamma@x.com": FIRST["gamma@x.com"],
    "epsilon@x.com": membership(1005, "Epsilon SA", d("2026-10-01"), d("2027-10-01"), "epsilon@x.com"),  # new
}
KILL_POINTS = 6   # the requests a delta push makes: group, properties, import, polls, errors
ORDERS = [order(1001, 12000, d("2025-02-01")), order(1002, 20, d("2026-02-01"))]


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Killed(BaseException):
    """The push process dies: nothing in the push catches it, as nothing catches a SIGKILL."""


class KillingTransport(HttpTransport):
    """Dies at request number `at` (1-based): before sending it, or after HubSpot applied it."""

    def __init__(self, at: int, after: bool) -> None:
        self.at, self.after, self.sent = at, after, 0

    def send(self, method, url, headers, body, timeout):
        self.sent += 1
        if self.sent == self.at and not self.after:
            raise Killed
        response = super().send(method, url, headers, body, timeout)
        if self.sent == self.at:
            raise Killed
        return response


def make_run(folder: Path, rows: dict, *, since: Path | None = None, as_of: str = AS_OF,
             rules: Path | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    memberships = write_xlsx(folder / "memberships.xlsx", MEMBERSHIP_HEADERS, list(rows.values()))
    orders = write_xlsx(folder / "orders.xlsx", ORDER_HEADERS, ORDERS)
    out = folder / "out"
    args = ["run", "--memberships", str(memberships), "--orders", str(orders), "--out", str(out), "--as-of", as_of]
    assert main(args + (["--since", str(since)] if since else []) + (["--rules", str(rules)] if rules else [])) == 0
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("series")
    first = make_run(base / "first", FIRST)
    return first, make_run(base / "second", SECOND, since=first)


@pytest.fixture
def series(runs: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """Fresh copies of both runs; the second's report names the first's copy as its --since folder."""
    first = Path(shutil.copytree(runs[0], tmp_path / "first"))
    second = Path(shutil.copytree(runs[1], tmp_path / "second"))
    report = json.loads((second / "report.json").read_text())
    report["since_folder"] = str(first)
    (second / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return first, second


@pytest.fixture
def portal():
    with FakeHubSpot() as fake:
        yield fake


def do_push(folder: Path, portal: FakeHubSpot, token: str = "t1", transport=None, **kwargs):
    fake_time = FakeTime()
    client = HubSpotClient(TOKEN, portal.url, timeout_seconds=5, sleep=fake_time.sleep, transport=transport)
    return push(folder, client, settings=PushSettings(push_token=token), clock=fake_time.clock,
                sleep=fake_time.sleep, **kwargs)


def saved(folder: Path) -> dict:
    return json.loads((folder / HUBSPOT_IMPORT_NAME).read_text())


def uploaded(upload: dict) -> list[dict]:
    return list(csv.DictReader(io.StringIO(upload["text"])))


def sent_emails(portal: FakeHubSpot, since: int = 0) -> Counter:
    return Counter(row["email"] for upload in portal.uploads[since:] for row in uploaded(upload))


def state_keys(folder: Path) -> dict[str, str]:
    with gzip.open(folder / STATE_NAME, "rt", encoding="utf-8", newline="") as text:
        return {row["email"]: row["customer_key"] for row in csv.DictReader(text)}


def test_the_second_push_sends_only_the_changed_new_and_gone(series, portal: FakeHubSpot) -> None:
    first, second = series
    assert do_push(first, portal).exit_code == 0
    assert sent_emails(portal) == Counter(list(FIRST)), "a first push sends everything, as before"
    acme_before = dict(portal.contacts["acme@x.com"])

    outcome = do_push(second, portal, token="t2")

    assert outcome.exit_code == 0
    assert sent_emails(portal, since=1) == Counter(["beta@x.com", "epsilon@x.com", "delta@x.com"])
    rows = {row["email"]: row for row in uploaded(portal.uploads[1])}
    assert rows["beta@x.com"]["membership_expiration_date"] == "2027-12-01"
    assert rows["delta@x.com"]["membership_status"] == ""       # a cleared row: the flags only
    assert portal.contacts["beta@x.com"]["membership_expiration_date"] == "2027-12-01"
    assert set(portal.contacts) == set(FIRST) | {"epsilon@x.com"}
    assert portal.contacts["acme@x.com"] == acme_before
    cleared = [key for key, value in rows["delta@x.com"].items() if value == "false"]
    assert cleared and all(portal.contacts["delta@x.com"][key] == "false" for key in cleared)
    result = saved(second)
    assert result["delta"]["since"] == str(first)
    assert result["delta"]["counts"] == {"added": 1, "changed": 1, "unchanged": 2, "cleared": 1}
    assert result["delta"]["files"] == ["hubspot_contacts.csv"] and result["delta"]["rows"] == {
        "hubspot_contacts.csv": 3}
    assert (second / HUBSPOT_DELTA_FOLDER / "hubspot_contacts.csv").is_file()
    assert result["accepted"]["not_accepted_keys"] == [] and result["accepted"]["not_accepted_files"] == []
    assert "1 added, 1 changed, 2 unchanged, 1 cleared" in "\n".join(outcome.messages)


def test_the_dry_run_counts_and_changes_nothing(series, portal: FakeHubSpot, monkeypatch, capsys) -> None:
    first, second = series
    do_push(first, portal)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_API_BASE", portal.url)
    writes = len(portal.writes())

    assert main(["push", str(second), "--dry-run"]) == 0

    out = capsys.readouterr().out
    assert "1 added, 1 changed, 2 unchanged, 1 cleared" in out
    assert "import 3 changed rows of hubspot_contacts.csv" in out
    assert len(portal.writes()) == writes
    assert not (second / HUBSPOT_IMPORT_NAME).exists() and not (second / HUBSPOT_DELTA_FOLDER).exists()


def test_full_sends_everything(series, portal: FakeHubSpot, monkeypatch, capsys) -> None:
    first, second = series
    do_push(first, portal)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_API_BASE", portal.url)

    assert main(["push", str(second), "--full"]) == 0

    assert sent_emails(portal, since=1) == Counter(list(SECOND)) + Counter(["delta@x.com"])
    assert "delta" not in saved(second)


def test_a_run_without_since_sends_everything(runs, tmp_path: Path, portal: FakeHubSpot) -> None:
    first = Path(shutil.copytree(runs[0], tmp_path / "first"))
    do_push(first, portal)
    again = make_run(tmp_path / "again", SECOND)       # the same inputs as the second run, no --since

    assert do_push(again, portal, token="t2").exit_code == 0
    assert sent_emails(portal, since=1) == Counter(list(SECOND))


def test_a_since_folder_never_pushed_sends_everything_and_says_who_is_not_cleared(series,
                                                                                   portal: FakeHubSpot) -> None:
    first, second = series                  # the first run was never pushed

    outcome = do_push(second, portal)

    assert outcome.exit_code == 0
    assert sent_emails(portal) == Counter(list(SECOND)) + Counter(["delta@x.com"])   # delta left at the second run
    said = "\n".join(outcome.messages)
    assert f"no finished push of {first}" in said and f"unless you push {first} first, then this run" in said


def test_row_errors_of_the_last_push_are_sent_again(series, portal: FakeHubSpot) -> None:
    first, second = series
    portal.blocked_emails = {"gamma@x.com"}
    assert do_push(first, portal).exit_code == 3
    assert saved(first)["accepted"]["not_accepted_keys"] == [state_keys(first)["gamma@x.com"]]
    portal.blocked_emails = set()

    assert do_push(second, portal, token="t2").exit_code == 0

    assert sent_emails(portal, since=1) == Counter(["beta@x.com", "gamma@x.com", "epsilon@x.com", "delta@x.com"])
    assert saved(second)["delta"]["counts"] == {"added": 2, "changed": 1, "unchanged": 1, "cleared": 1}
    assert "gamma@x.com" in portal.contacts


def test_an_import_that_failed_counts_as_not_accepted(series) -> None:
    first, second = series
    with FakeHubSpot(import_states=["STARTED", "FAILED"]) as portal:
        assert do_push(first, portal).exit_code == 3
        assert saved(first)["accepted"]["not_accepted_files"] == ["hubspot_contacts.csv"]
        portal.import_states = ["STARTED", "PROCESSING", "DONE"]

        assert do_push(second, portal, token="t2").exit_code == 0
        assert sent_emails(portal, since=1) == Counter(list(SECOND)) + Counter(["delta@x.com"])


@pytest.mark.parametrize("gone_customers", ["clear", "keep"])
def test_a_customer_gone_at_a_run_whose_push_failed_is_cleared_by_the_next_push(
        series, tmp_path: Path, gone_customers: str) -> None:
    """delta@x.com leaves at the second run, whose import fails: the third run (delta still absent, --since the
    second) no longer lists it, yet HubSpot holds its flags from the first push: cleared once, unless `keep`."""
    first, second = series
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"hubspot:\n  gone_customers: {gone_customers}\n")
    with FakeHubSpot(import_states=["STARTED", "FAILED"]) as portal:
        portal.import_states = ["STARTED", "PROCESSING", "DONE"]
        assert do_push(first, portal).exit_code == 0
        portal.import_states = ["STARTED", "FAILED"]
        assert do_push(second, portal, token="t2").exit_code == 3      # (the fake applies a failed import's rows)
        portal.import_states = ["STARTED", "PROCESSING", "DONE"]
        third = make_run(tmp_path / "third", SECOND, since=second, rules=rules)
        assert json.loads((third / "report.json").read_text())["hubspot"]["cleared"] == 0, "not gone since run 2"

        assert do_push(third, portal, token="t3").exit_code == 0
        fourth = make_run(tmp_path / "fourth", SECOND, since=third, rules=rules)
        assert do_push(fourth, portal, token="t4").exit_code == 0

        after_second = sent_emails(portal, since=2)
        if gone_customers == "clear":
            assert after_second["delta@x.com"] == 1, "cleared exactly once"
            assert saved(third)["delta"]["counts"]["cleared"] == 1
            assert all(value in ("", "false") for key, value in uploaded_row(portal, "delta@x.com").items()
                       if key != "email")
        else:
            assert "delta@x.com" not in after_second
            assert saved(third)["delta"]["counts"]["cleared"] == 0
        assert saved(fourth)["delta"]["counts"]["cleared"] == 0


def uploaded_row(portal: FakeHubSpot, email: str) -> dict:
    """The row of `email` the third push (upload 3) sent."""
    (row,) = [row for row in uploaded(portal.uploads[2]) if row["email"] == email]
    return row


def test_nothing_changed_pushes_nothing_and_the_chain_goes_on(series, tmp_path: Path, portal: FakeHubSpot) -> None:
    first, second = series
    do_push(first, portal)
    do_push(second, portal, token="t2")
    third = make_run(tmp_path / "third", SECOND, since=second)
    requests = len(portal.requests)

    outcome = do_push(third, portal, token="t3")

    assert outcome.exit_code == 0 and "nothing changed" in outcome.messages[0]
    assert len(portal.requests) == requests, "no request at all"
    assert saved(third)["delta"]["counts"] == {"added": 0, "changed": 0, "unchanged": 4, "cleared": 0}
    fourth = make_run(tmp_path / "fourth", SECOND | {"zeta@x.com": membership(
        1006, "Zeta", d("2026-09-01"), d("2027-09-01"), "zeta@x.com")}, since=third)
    assert do_push(fourth, portal, token="t4").exit_code == 0
    assert sent_emails(portal, since=2) == Counter(["zeta@x.com"])


def test_the_next_days_run_of_the_same_inputs_pushes_nothing(series, tmp_path: Path, portal: FakeHubSpot) -> None:
    """A day later no status or segment crosses a threshold (the nearest expiration is 55 days off, the newest
    start 46 days back), so no HubSpot value differs: nothing is sent (a days-until column would resend all)."""
    first, second = series
    do_push(first, portal)
    do_push(second, portal, token="t2")
    next_day = make_run(tmp_path / "next-day", SECOND, since=second, as_of="2026-11-16")
    requests = len(portal.requests)

    outcome = do_push(next_day, portal, token="t3")

    assert outcome.exit_code == 0 and "nothing changed" in outcome.messages[0]
    assert len(portal.requests) == requests
    assert saved(next_day)["delta"]["counts"] == {"added": 0, "changed": 0, "unchanged": 4, "cleared": 0}


def test_a_state_changed_after_its_push_is_not_trusted(series, portal: FakeHubSpot) -> None:
    first, second = series
    do_push(first, portal)
    (first / STATE_NAME).write_bytes((second / STATE_NAME).read_bytes())    # not the state that push recorded

    do_push(second, portal, token="t2")

    assert sent_emails(portal, since=1) == Counter(list(SECOND)) + Counter(["delta@x.com"])


# Every request of the delta push, killed before it is sent and after HubSpot applied it (a lost answer).
@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
@pytest.mark.parametrize("at", range(1, KILL_POINTS + 1))
def test_a_delta_push_killed_at_any_step_and_resumed_imports_each_contact_once(series, portal: FakeHubSpot,
                                                                               at: int, after: bool) -> None:
    first, second = series
    do_push(first, portal)

    with pytest.raises(Killed):
        do_push(second, portal, token="killed", transport=KillingTransport(at, after))
    outcome = do_push(second, portal, token="resumed")
    again = do_push(second, portal, token="third")

    assert outcome.exit_code == 0 and again.exit_code == 0
    assert sent_emails(portal, since=1) == Counter(["beta@x.com", "epsilon@x.com", "delta@x.com"]), \
        "each changed contact imported exactly once, none lost, none unchanged sent"
    assert portal.contacts["beta@x.com"]["membership_expiration_date"] == "2027-12-01"
    assert "epsilon@x.com" in portal.contacts
    assert saved(second)["accepted"]["not_accepted_keys"] == []
    assert [entry["state"] for entry in saved(second)["imports"]] == ["DONE"]


def test_the_kill_points_cover_every_request_of_the_delta_push(series, portal: FakeHubSpot) -> None:
    first, second = series
    do_push(first, portal)
    counting = KillingTransport(at=0, after=False)

    do_push(second, portal, token="t2", transport=counting)

    assert counting.sent == KILL_POINTS, "the test above kills the push at each of these requests"


def test_a_new_run_into_the_folder_removes_the_old_delta_files(series, tmp_path: Path, portal: FakeHubSpot) -> None:
    first, second = series
    do_push(first, portal)
    do_push(second, portal, token="t2")
    assert (second / HUBSPOT_DELTA_FOLDER / "hubspot_contacts.csv").is_file()
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    memberships = write_xlsx(inputs / "m.xlsx", MEMBERSHIP_HEADERS, list(SECOND.values()))
    orders = write_xlsx(inputs / "o.xlsx", ORDER_HEADERS, ORDERS)

    assert main(["run", "--memberships", str(memberships), "--orders", str(orders), "--out", str(second),
                 "--as-of", AS_OF]) == 0

    assert not (second / HUBSPOT_DELTA_FOLDER / "hubspot_contacts.csv").exists()
    assert not (second / HUBSPOT_IMPORT_NAME).exists()


def test_a_resumed_push_whose_delta_files_are_gone_chooses_the_same_rows_again(series, portal: FakeHubSpot) -> None:
    first, second = series
    do_push(first, portal)
    with pytest.raises(Killed):         # killed once the import POST applied (request 3 of the delta push)
        do_push(second, portal, token="killed", transport=KillingTransport(3, after=True))
    shutil.rmtree(second / HUBSPOT_DELTA_FOLDER)        # as in the S3 flow's retry: a fresh folder

    assert do_push(second, portal, token="resumed").exit_code == 0

    assert sent_emails(portal, since=1) == Counter(["beta@x.com", "epsilon@x.com", "delta@x.com"])
    assert (second / HUBSPOT_DELTA_FOLDER / "hubspot_contacts.csv").is_file()


def test_a_resumed_push_refuses_rows_chosen_differently(series, portal: FakeHubSpot) -> None:
    first, second = series
    do_push(first, portal)
    with pytest.raises(Killed):
        do_push(second, portal, token="killed", transport=KillingTransport(3, after=True))
    shutil.rmtree(second / HUBSPOT_DELTA_FOLDER)
    (first / HUBSPOT_IMPORT_NAME).unlink()              # what HubSpot took is no longer known

    with pytest.raises(PushError, match="cannot be chosen again"):
        do_push(second, portal, token="resumed")
    assert sent_emails(portal, since=1) == Counter(["beta@x.com", "epsilon@x.com", "delta@x.com"]), "no second import"
