"""Which contacts a push of only what changed sends (memberseg.push.delta), on small hand-made folders.

The folder's state has four customers: k1 a@x.com, k2 b@x.com, k3 (no valid email: no hash, not in the
CSV) and k4 d@x.com; its CSV has a, b and d, then the cleared row of g@x.com, a gone customer.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from memberseg.job_protocol import HUBSPOT_IMPORT_NAME, STATE_NAME
from memberseg.push.delta import (
    AcceptedState,
    accepted_record,
    file_sha256,
    plan_delta,
    portable_accepted,
    previous_accepted,
    write_delta,
)
from memberseg.push.steps import errors_incomplete
from memberseg.state_file import HASH_COLUMN, STATE_COLUMNS, gzip_bytes

STATE = [("k1", "a@x.com", "h1"), ("k2", "b@x.com", "h2"), ("k3", "", ""), ("k4", "d@x.com", "h4")]
CSV = "email,membership_status,active_membership\na@x.com,Active,true\nb@x.com,Expired,false\n" \
      "d@x.com,Active,true\ng@x.com,,false\n"


def write_state(folder: Path, rows=STATE, segments: tuple[str, ...] = ()) -> None:
    """A state whose segments' flags (false) and _since dates (blank) come before the hash."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*STATE_COLUMNS, *(name for seg in segments for name in (seg, f"{seg}_since")), HASH_COLUMN])
    for key, email, digest in rows:
        cells = dict.fromkeys(STATE_COLUMNS, "") | {"as_of": "2026-11-15", "customer_key": key, "email": email}
        writer.writerow([*cells.values(), *(value for _ in segments for value in ("false", "")), digest])
    (folder / STATE_NAME).write_bytes(gzip_bytes(buffer.getvalue().encode()))


@pytest.fixture
def run(tmp_path: Path) -> Path:
    write_state(tmp_path)
    (tmp_path / "hubspot_contacts.csv").write_text(CSV)
    return tmp_path


def emails(table: list[list[str]]) -> list[str]:
    return [row[0] for row in table[1:]]


def test_only_changed_and_new_contacts_and_the_cleared_rows_go(run: Path) -> None:
    plan = plan_delta(run, [run / "hubspot_contacts.csv"], Path("/prev"),
                      AcceptedState({"k1": "h1", "k2": "old", "k9": "h9"}))

    assert plan is not None
    assert emails(plan.parts["hubspot_contacts.csv"]) == ["b@x.com", "d@x.com", "g@x.com"]
    assert plan.counts == {"added": 1, "changed": 1, "unchanged": 1, "cleared": 1}
    assert plan.record()["rows"] == {"hubspot_contacts.csv": 3}
    [path] = write_delta(run, plan)
    assert path.read_text() == "email,membership_status,active_membership\nb@x.com,Expired,false\n" \
                               "d@x.com,Active,true\ng@x.com,,false\n"


def test_nothing_accepted_sends_every_row_as_added(run: Path) -> None:
    plan = plan_delta(run, [run / "hubspot_contacts.csv"], Path("/prev"), AcceptedState({}))
    assert plan is not None and plan.counts == {"added": 3, "changed": 0, "unchanged": 0, "cleared": 1}


def test_all_unchanged_leaves_no_part(run: Path) -> None:
    (run / "hubspot_contacts.csv").write_text(CSV.rsplit("g@x.com", 1)[0])
    plan = plan_delta(run, [run / "hubspot_contacts.csv"], Path("/prev"),
                      AcceptedState({"k1": "h1", "k2": "h2", "k4": "h4"}))
    assert plan is not None and plan.parts == {} and plan.counts["unchanged"] == 3


def test_a_csv_that_does_not_follow_the_state_is_no_plan(run: Path) -> None:
    (run / "hubspot_contacts.csv").write_text(CSV.replace("a@x.com", "z@x.com"))
    assert plan_delta(run, [run / "hubspot_contacts.csv"], Path("/prev"), AcceptedState({})) is None


def done(file: str, lines: list, **extra) -> dict:
    return {"file": file, "state": "DONE", "counters": {"ERRORS": len(lines)},
            "errors": [{"line": line, "errorType": "INVALID_EMAIL"} for line in lines], **extra}


def test_the_accepted_record_names_the_keys_of_refused_lines(run: Path) -> None:
    record = accepted_record(run, [done("hubspot_contacts.csv", [3, 5])], delta=False,
                             errors_incomplete=errors_incomplete)
    # line 3 is b@x.com (k2); line 5 is g@x.com, a gone customer with no key in this state
    assert record == {"state": STATE_NAME, "state_sha256": file_sha256(run / STATE_NAME),
                      "not_accepted_keys": ["k2"], "not_accepted_cleared": ["g@x.com"], "not_accepted_files": []}


@pytest.mark.parametrize("entry", [
    {"file": "hubspot_contacts.csv", "state": "FAILED", "errors": []},
    done("hubspot_contacts.csv", [None]),
    done("hubspot_contacts.csv", [2], errors_truncated=True),
], ids=["failed", "error-without-line", "errors-not-all-listed"])
def test_a_file_not_taken_whole_is_not_accepted(run: Path, entry: dict) -> None:
    record = accepted_record(run, [entry], delta=True, errors_incomplete=errors_incomplete)
    assert record is not None and record["not_accepted_files"] == ["hubspot_delta/hubspot_contacts.csv"]


def test_the_previous_accepted_state_leaves_out_what_hubspot_refused(run: Path) -> None:
    (run / "hubspot_delta").mkdir()
    (run / "hubspot_delta" / "hubspot_contacts.csv").write_text("email\nd@x.com\n")
    record = {"state": STATE_NAME, "state_sha256": file_sha256(run / STATE_NAME), "not_accepted_keys": ["k1"],
              "not_accepted_files": ["hubspot_delta/hubspot_contacts.csv"]}
    (run / HUBSPOT_IMPORT_NAME).write_text(json.dumps({"accepted": record}))

    accepted = previous_accepted(run)
    assert accepted is not None and accepted.hashes == {"k2": "h2"}
    assert accepted.held == {"b@x.com": "k2"}


def test_no_record_or_another_state_is_no_accepted_state(run: Path) -> None:
    assert previous_accepted(run) is None
    record = {"state": STATE_NAME, "state_sha256": file_sha256(run / STATE_NAME)}
    (run / HUBSPOT_IMPORT_NAME).write_text(json.dumps({"imports": [], "accepted": record}))
    accepted = previous_accepted(run)
    assert accepted is not None and accepted.hashes == {"k1": "h1", "k2": "h2", "k4": "h4"}
    write_state(run, STATE[:2])
    assert previous_accepted(run) is None


def test_a_portable_record_names_the_keys_of_a_file_not_taken_whole_and_needs_only_the_state(
        run: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    (run / "hubspot_delta").mkdir()
    (run / "hubspot_delta" / "hubspot_contacts.csv").write_text("email\nd@x.com\ng@x.com\n")
    record = {"state": STATE_NAME, "state_sha256": file_sha256(run / STATE_NAME), "not_accepted_keys": ["k1"],
              "not_accepted_files": ["hubspot_delta/hubspot_contacts.csv"]}

    portable = portable_accepted(run, record)

    assert portable == {**record, "not_accepted_keys": ["k1", "k4"], "not_accepted_cleared": ["g@x.com"],
                        "not_accepted_files": []}
    kept = tmp_path_factory.mktemp("kept")             # the S3 flow keeps the state and the record alone
    (kept / STATE_NAME).write_bytes((run / STATE_NAME).read_bytes())
    (kept / HUBSPOT_IMPORT_NAME).write_text(json.dumps({"accepted": portable}))
    (run / HUBSPOT_IMPORT_NAME).write_text(json.dumps({"accepted": record}))
    assert previous_accepted(kept) == previous_accepted(run) == AcceptedState({"k2": "h2"},
                                                                              {"b@x.com": "k2", "g@x.com": ""})


# ------------------------------------------------------------------ what HubSpot holds of customers now gone
CURRENT = STATE[:2] + [("k3", "", "")]      # d@x.com (k4) has left the export; g@x.com's row is the run's own
FLAGGED = "email,membership_status,active_membership,gold\na@x.com,Active,true,false\nb@x.com,Expired,false,false\n" \
          "g@x.com,,false,false\n"


@pytest.fixture
def later(tmp_path: Path) -> Path:
    write_state(tmp_path, CURRENT, ("active_membership", "gold"))
    (tmp_path / "hubspot_contacts.csv").write_text(FLAGGED)
    return tmp_path


HELD = AcceptedState({"k1": "h1", "k2": "h2", "k4": "h4"},
                     {"a@x.com": "k1", "b@x.com": "k2", "d@x.com": "k4", "g@x.com": "", "z@x.com": "", "y@x.com": "k3"})


def test_a_customer_hubspot_holds_who_left_the_export_gets_a_cleared_row(later: Path) -> None:
    plan = plan_delta(later, [later / "hubspot_contacts.csv"], Path("/prev"), HELD, clear_gone=True)

    assert plan is not None
    # d@x.com (k4, gone) and z@x.com (a cleared row HubSpot refused) are cleared; g@x.com is cleared by the run
    # itself, a@ and b@ are contacts, y@x.com's customer k3 is still in the export
    assert plan.parts["hubspot_contacts.csv"][1:] == [["g@x.com", "", "false", "false"],
                                                       ["d@x.com", "", "false", "false"],
                                                       ["z@x.com", "", "false", "false"]]
    assert plan.counts == {"added": 0, "changed": 0, "unchanged": 2, "cleared": 3}


def test_keep_sends_no_cleared_row_for_what_hubspot_holds(later: Path) -> None:
    plan = plan_delta(later, [later / "hubspot_contacts.csv"], Path("/prev"), HELD, clear_gone=False)
    assert plan is not None and plan.counts["cleared"] == 1
    assert [row[0] for row in plan.parts["hubspot_contacts.csv"][1:]] == ["g@x.com"]


def test_cleared_rows_fill_the_room_each_part_left(later: Path) -> None:
    (later / "hubspot_contacts_1.csv").write_text(FLAGGED.split("b@x.com")[0])
    (later / "hubspot_contacts_2.csv").write_text("email,membership_status,active_membership,gold\n"
                                                 "b@x.com,Expired,false,false\ng@x.com,,false,false\n")
    files = [later / "hubspot_contacts_1.csv", later / "hubspot_contacts_2.csv"]
    held = AcceptedState({"k1": "h1", "k2": "old"}, {"d@x.com": "k4", "z@x.com": "", "x@x.com": ""})

    plan = plan_delta(later, files, Path("/prev"), held, clear_gone=True)

    assert plan is not None
    assert emails(plan.parts["hubspot_contacts_1.csv"]) == ["d@x.com"]      # a@ unchanged: room for one
    assert emails(plan.parts["hubspot_contacts_2.csv"]) == ["b@x.com", "g@x.com", "z@x.com", "x@x.com"]
    assert plan.counts == {"added": 0, "changed": 1, "unchanged": 1, "cleared": 4}
