"""State and changes (issue 18 §1-2): what a run carries over from the previous one, the Changes it lists,
the state file it leaves, and `--since` on the command line.

The expectations are worked out by hand from the issue's rules:
- `<segment>_since` is the as-of date of the run that first saw the customer in the segment, kept while
  they stay in it, blank when not in it; a first run: its as-of date;
- `membership_status_changed_at` / `previous_membership_status`: the run that saw the status change and the
  status before; a new customer: this run's as-of date and no previous status;
- renewed: the expiration date moved later.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import MEMBERSHIP_HEADERS, ORDER_HEADERS, d, membership, order, write_xlsx
from memberseg.changes import PreviousState, carry_over, read_state, state_bytes, state_frame
from memberseg.cli import main
from memberseg.errors import InputError
from memberseg.hubspot import property_definitions
from memberseg.pipeline import run_pipeline
from memberseg.rules import load_rules
from memberseg.state_file import check_previous, read_previous, segment_flags
from memberseg.write import write_outputs

RULES = load_rules()
SEGMENTS = [seg.property for seg in RULES.segments]
NOV15, DEC20, JAN10 = dt.date(2026, 11, 15), dt.date(2026, 12, 20), dt.date(2027, 1, 10)


def members(rows: list[dict]) -> pd.DataFrame:
    """A members frame as the pipeline hands it over: each row names its key, status, expiration, tier,
    total and the segments it is in (every other segment false)."""
    frame = pd.DataFrame({
        "customer_key": [f"id:{r['id']}" for r in rows], "customer_id": [str(r["id"]) for r in rows],
        "customer_name": [r.get("name", f"Customer {r['id']}") for r in rows],
        "email": [r.get("email", f"c{r['id']}@x.com") for r in rows],
        "membership_status": [r["status"] for r in rows],
        "expiration": pd.Series([r.get("expires") for r in rows], dtype="datetime64[s]"),
        "order_value_tier": [r.get("tier", "Silver") for r in rows],
        "total_order_value": [float(r.get("total", 1500.0)) for r in rows],
    }, index=pd.RangeIndex(len(rows)))
    for name in SEGMENTS:
        frame[name] = [name in r.get("in", ()) for r in rows]
    return frame


def state_of(frame: pd.DataFrame, as_of: dt.date) -> PreviousState:
    """The state a run leaves, read back as the next run reads it (every customer in HubSpot)."""
    hashes = pd.Series([f"h{i}" for i in range(len(frame))], index=frame.index, dtype=object)
    data = state_bytes(state_frame(frame, hashes, RULES, as_of))
    return read_state(data, "previous-run")


def _text(value) -> str:
    return "" if pd.isna(value) else pd.Timestamp(value).date().isoformat()


def by_id(frame: pd.DataFrame, column: str) -> dict[str, object]:
    values = frame[column]
    if values.dtype.kind == "M":
        return {cid: _text(v) for cid, v in zip(frame["customer_id"], values, strict=True)}
    return dict(zip(frame["customer_id"], values, strict=True))


FIRST = [  # as of 2026-11-15
    {"id": 1, "status": "Active", "expires": "2026-12-31", "in": ["active_membership", "high_value_customer"]},
    {"id": 2, "status": "Active", "expires": "2026-12-30", "in": ["active_membership"]},
    {"id": 3, "status": "Active", "expires": "2027-06-01", "in": ["active_membership"]},
    {"id": 5, "status": "Expired", "expires": "2026-01-01", "in": ["expired_membership"], "total": 200},
]
SECOND = [  # as of 2026-12-20: 1 now expiring soon, 2 renewed (a year later), 3 unchanged, 4 new, 5 gone
    {"id": 1, "status": "Expiring Soon", "expires": "2026-12-31", "in": ["expiring_soon", "high_value_customer"]},
    {"id": 2, "status": "Active", "expires": "2027-12-30", "in": ["active_membership"]},
    {"id": 3, "status": "Active", "expires": "2027-06-01", "in": ["active_membership"]},
    {"id": 4, "status": "Active", "expires": "2027-12-01", "in": ["active_membership"], "tier": "Bronze", "total": 50},
]


def test_a_first_run_makes_everyone_new_and_dates_everything_with_its_as_of_date() -> None:
    carried, changes = carry_over(members(FIRST), None, RULES, NOV15)
    assert by_id(carried, "active_membership_since") == {"1": "2026-11-15", "2": "2026-11-15", "3": "2026-11-15",
                                                         "5": ""}
    assert by_id(carried, "expired_membership_since") == {"1": "", "2": "", "3": "", "5": "2026-11-15"}
    assert by_id(carried, "membership_status_changed_at") == dict.fromkeys("1235", "2026-11-15")
    assert by_id(carried, "previous_membership_status") == dict.fromkeys("1235", "")
    assert changes.counts["since"] is None
    assert (changes.counts["new"], changes.counts["gone"], changes.counts["status_changed"]) == (4, 0, 0)
    assert changes.counts["entered"]["active_membership"] == 3
    assert changes.counts["entered"]["expired_membership"] == 1
    assert changes.words == "first run: 4 new members"
    assert list(changes.rows["change"]) == ["new"] * 4


def test_a_second_run_lists_the_changed_the_new_and_the_gone_and_keeps_the_entry_dates() -> None:
    first, _ = carry_over(members(FIRST), None, RULES, NOV15)
    carried, changes = carry_over(members(SECOND), state_of(first, NOV15), RULES, DEC20)

    # 1 entered Expiring Soon on Dec 20 and left Active; 2 and 3 stay Active since Nov 15; 4 is new.
    assert by_id(carried, "expiring_soon_since") == {"1": "2026-12-20", "2": "", "3": "", "4": ""}
    assert by_id(carried, "active_membership_since") == {"1": "", "2": "2026-11-15", "3": "2026-11-15",
                                                         "4": "2026-12-20"}
    assert by_id(carried, "high_value_customer_since") == {"1": "2026-11-15", "2": "", "3": "", "4": ""}
    assert by_id(carried, "membership_status_changed_at") == {"1": "2026-12-20", "2": "2026-11-15",
                                                              "3": "2026-11-15", "4": "2026-12-20"}
    assert by_id(carried, "previous_membership_status") == {"1": "Active", "2": "", "3": "", "4": ""}

    rows = changes.rows.set_index("customer_id")
    assert list(changes.rows["customer_id"]) == ["1", "2", "4", "5"]        # 3 did not change
    assert dict(rows["change"]) == {"1": "changed", "2": "changed", "4": "new", "5": "gone"}
    assert rows.loc["1", "what"] == "status, segments entered, segments left"
    assert rows.loc["2", "what"] == "renewed"
    assert (rows.loc["1", "status_before"], rows.loc["1", "status_after"]) == ("Active", "Expiring Soon")
    assert (rows.loc["1", "entered"], rows.loc["1", "left"]) == ("Expiring Soon", "Active Membership")
    assert rows.loc["5", "left"] == "Expired"
    assert (rows.loc["5", "status_before"], rows.loc["5", "status_after"]) == ("Expired", "")
    assert (rows.loc["2", "as_of_before"], rows.loc["2", "as_of_after"]) == ("2026-11-15", "2026-12-20")
    assert (rows.loc["4", "as_of_before"], rows.loc["4", "tier_after"], rows.loc["4", "total_after"]) == \
        ("", "Bronze", "50.00")

    assert changes.counts == {
        "since": "2026-11-15", "new": 1, "gone": 1, "status_changed": 1,
        "entered": {**dict.fromkeys(SEGMENTS, 0), "expiring_soon": 1, "active_membership": 1},
        "left": {**dict.fromkeys(SEGMENTS, 0), "active_membership": 1, "expired_membership": 1},
    }
    assert changes.words == "since 2026-11-15: 1 became Expiring Soon, 1 renewed, 1 new member, " \
                            "1 no longer in the export"
    assert list(changes.gone["email"]) == ["c5@x.com"]


def test_a_third_run_records_the_status_before_the_latest_change() -> None:
    first, _ = carry_over(members(FIRST), None, RULES, NOV15)
    second, _ = carry_over(members(SECOND), state_of(first, NOV15), RULES, DEC20)
    third_rows = [dict(SECOND[0], status="Active", expires="2027-12-31", **{"in": ["active_membership"]}),
                  *SECOND[1:]]
    third, changes = carry_over(members(third_rows), state_of(second, DEC20), RULES, JAN10)
    assert by_id(third, "previous_membership_status")["1"] == "Expiring Soon"
    assert by_id(third, "membership_status_changed_at")["1"] == "2027-01-10"
    assert by_id(third, "active_membership_since")["1"] == "2027-01-10"   # re-entered: a new date
    assert by_id(third, "active_membership_since")["4"] == "2026-12-20"
    assert changes.words == "since 2026-12-20: 1 renewed, 1 became Active"


def test_a_tier_or_total_change_alone_is_a_change() -> None:
    first, _ = carry_over(members(FIRST), None, RULES, NOV15)
    later = [dict(FIRST[0], total=1500.01), dict(FIRST[1], tier="Gold"), *FIRST[2:]]
    _, changes = carry_over(members(later), state_of(first, NOV15), RULES, NOV15)
    assert dict(zip(changes.rows["customer_id"], changes.rows["what"], strict=True)) == {"1": "total", "2": "tier"}
    assert changes.words == "since 2026-11-15: no changes"


def test_the_state_file_has_one_row_per_customer_and_fixed_bytes() -> None:
    first, _ = carry_over(members(FIRST), None, RULES, NOV15)
    hashes = pd.Series(["aa", "", "cc", "dd"], index=first.index, dtype=object)
    data = state_bytes(state_frame(first, hashes, RULES, NOV15))
    assert data == state_bytes(state_frame(first, hashes, RULES, NOV15))
    assert data[4:8] == b"\0\0\0\0"             # gzip MTIME: no time stamp
    assert not data[3] & 0x08                   # no FNAME: no file name in the header
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(data).decode("utf-8"))))
    header = list(rows[0])
    assert header[:11] == ["as_of", "customer_key", "customer_id", "customer_name", "email", "membership_status",
                           "membership_status_changed_at", "previous_membership_status",
                           "membership_expiration_date", "order_value_tier", "total_order_value"]
    assert header[11:-1] == [name for seg in SEGMENTS for name in (seg, f"{seg}_since")]
    assert header[-1] == "hubspot_hash"
    assert rows[0]["customer_key"] == "id:1" and rows[0]["as_of"] == "2026-11-15"
    assert (rows[0]["active_membership"], rows[0]["active_membership_since"]) == ("true", "2026-11-15")
    assert (rows[0]["expiring_soon"], rows[0]["expiring_soon_since"]) == ("false", "")
    assert (rows[0]["total_order_value"], rows[3]["total_order_value"]) == ("1500.00", "200.00")
    assert [row["hubspot_hash"] for row in rows] == ["aa", "", "cc", "dd"]


@pytest.mark.parametrize(("data", "code"), [
    (b"not gzip at all", "since_state_invalid"),
    (gzip.compress(b"a,b\n1,2\n"), "since_state_invalid"),
])
def test_a_state_that_is_not_one_is_refused_naming_where_it_came_from(data: bytes, code: str) -> None:
    with pytest.raises(InputError) as caught:
        read_state(data, "/runs/last")
    assert caught.value.code == code and "/runs/last" in caught.value.message


def test_a_state_with_a_broken_date_or_flag_is_refused() -> None:
    first, _ = carry_over(members(FIRST), None, RULES, NOV15)
    text = gzip.decompress(state_bytes(state_frame(first, pd.Series(dtype=object), RULES, NOV15))).decode()
    for broken in (text.replace(",true,2026-11-15,", ",yes,2026-11-15,", 1),
                   text.replace(",true,2026-11-15,", ",true,15/11/2026,", 1)):
        with pytest.raises(InputError, match="cannot be read"):
            read_state(gzip.compress(broken.encode()), "old")


def test_a_state_whose_segment_columns_are_not_flag_and_since_pairs_is_refused() -> None:
    """The push reads a state's segment flags by position (memberseg.state_file.segment_flags): every flag is
    followed by its _since date, or the state is not one."""
    first, _ = carry_over(members(FIRST), None, RULES, NOV15)
    text = gzip.decompress(state_bytes(state_frame(first, pd.Series(dtype=object), RULES, NOV15))).decode()
    header, rest = text.split("\n", 1)
    assert segment_flags(header.split(",")) == SEGMENTS
    renamed = header.replace("active_membership_since", "active_membership_from", 1)
    with pytest.raises(InputError, match="not pairs of a flag and its _since date"):
        read_state(gzip.compress(f"{renamed}\n{rest}".encode()), "old")


def test_a_state_from_a_later_as_of_date_is_refused(tmp_path: Path) -> None:
    first, _ = carry_over(members(FIRST), None, RULES, DEC20)
    data = state_bytes(state_frame(first, pd.Series(dtype=object), RULES, DEC20))
    with pytest.raises(InputError) as caught:
        check_previous(data, NOV15, "old-run")
    assert caught.value.code == "since_state_later" and "2026-12-20" in caught.value.message
    assert check_previous(data, DEC20, "old-run") == DEC20
    with pytest.raises(InputError) as missing:
        read_previous(tmp_path)
    assert missing.value.code == "since_state_missing" and str(tmp_path) in missing.value.message


def test_the_property_definitions_describe_the_change_columns_as_dates_and_a_status_dropdown() -> None:
    inputs = {prop["name"]: prop for prop in property_definitions(RULES, ["x.csv"])["inputs"]}
    assert (inputs["membership_status_changed_at"]["type"], inputs["membership_status_changed_at"]["fieldType"]) == \
        ("date", "date")
    previous = inputs["previous_membership_status"]
    assert (previous["type"], previous["fieldType"]) == ("enumeration", "select")
    assert [o["value"] for o in previous["options"]] == ["Expired", "Expiring Soon", "Active", "Inactive"]
    for seg in SEGMENTS:
        assert (inputs[f"{seg}_since"]["type"], inputs[f"{seg}_since"]["fieldType"]) == ("date", "date")
    mapping = property_definitions(RULES, ["x.csv"])["import_requests"][0]["files"][0]["fileImportPage"]
    assert [m["columnName"] for m in mapping["columnMappings"]][-len(SEGMENTS) - 2:] == \
        ["membership_status_changed_at", "previous_membership_status", *[f"{seg}_since" for seg in SEGMENTS]]


def test_rules_validate_gone_customers_and_since_names() -> None:
    assert RULES.hubspot.gone_customers == "clear"
    with pytest.raises(InputError, match="gone_customers"):
        load_rules(overlay={"hubspot": {"gone_customers": "forget"}})
    segment = {"property": "vip", "label": "VIP", "all": [{"field": "total_order_value", "op": "gt", "value": 1}]}
    with pytest.raises(InputError, match="vip_since"):
        load_rules(overlay={"segments": [segment, dict(segment, property="vip_since", label="VIP Since")]})
    with pytest.raises(InputError, match="too long"):
        load_rules(overlay={"segments": [dict(segment, property="v" * 95)]})


# ------------------------------------------------------------------ through the whole run
def _inputs(folder: Path, rows: list[list]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return (write_xlsx(folder / "memberships.xlsx", MEMBERSHIP_HEADERS, rows),
            write_xlsx(folder / "orders.xlsx", ORDER_HEADERS, [order(1001, 1500, d("2026-02-01"))]))


RUN_ONE = [membership(1001, "Acme Inc", d("2026-01-10"), d("2027-01-10"), "acme@x.com"),
           membership(1002, "Beta Co", d("2026-01-01"), d("2027-05-01"), "beta@x.com"),
           membership(1003, "Gamma Co", d("2026-01-01"), d("2027-05-01"), "gamma@x.com")]
RUN_TWO = [membership(1001, "Acme Inc", d("2026-01-10"), d("2027-01-10"), "acme@x.com"),
           membership(1002, "Beta Co", d("2026-01-01"), d("2027-05-01"), "beta@x.com")]   # Gamma is gone


def _csv_rows(out: Path) -> list[dict]:
    with open(out / "hubspot_contacts.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _run(tmp_path: Path, name: str, rows: list[list], as_of: str, *extra: str) -> int:
    memberships, orders = _inputs(tmp_path / f"in-{name}", rows)
    return main(["run", "--memberships", str(memberships), "--orders", str(orders), "--out", str(tmp_path / name),
                 "--as-of", as_of, *extra])


def test_the_cli_compares_with_since_and_clears_the_gone_customers_flags(tmp_path: Path, capsys) -> None:
    assert _run(tmp_path, "one", RUN_ONE, "2026-11-15") == 0
    assert "changes:     first run: 3 new members" in capsys.readouterr().out
    assert _run(tmp_path, "two", RUN_TWO, "2026-12-20", "--since", str(tmp_path / "one")) == 0
    out = capsys.readouterr().out
    # Acme (expires 2027-01-10) is 21 days from expiring on Dec 20: Expiring Soon; Gamma is gone.
    assert "changes:     since 2026-11-15: 1 became Expiring Soon, 1 no longer in the export" in out
    rows = _csv_rows(tmp_path / "two")
    assert [row["email"] for row in rows] == ["acme@x.com", "beta@x.com", "gamma@x.com"]
    acme, beta, gamma = rows
    assert (acme["membership_status"], acme["previous_membership_status"]) == ("Expiring Soon", "Active")
    assert (acme["membership_status_changed_at"], acme["expiring_soon_since"]) == ("2026-12-20", "2026-12-20")
    assert (acme["active_membership"], acme["active_membership_since"]) == ("false", "")
    assert (beta["active_membership_since"], beta["membership_status_changed_at"]) == ("2026-11-15", "2026-11-15")
    assert all(gamma[seg] == "false" for seg in SEGMENTS)
    assert all(value == "" for name, value in gamma.items() if name not in ("email", *SEGMENTS))

    report = json.loads((tmp_path / "two" / "report.json").read_text())
    assert report["changes"]["since"] == "2026-11-15"
    assert (report["changes"]["new"], report["changes"]["gone"], report["changes"]["status_changed"]) == (0, 1, 1)
    assert report["hubspot"]["cleared"] == 1 and report["hubspot"]["rows"] == 2
    assert "customer_state.csv.gz" in report["outputs"] and report["outputs"][-1] == "report.json"

    sheet = openpyxl.load_workbook(tmp_path / "two" / "membership_segments.xlsx", read_only=True)["Changes"]
    table = list(sheet.values)
    assert table[0][:2] == ("Change", "What Changed")
    assert [(row[0], row[3]) for row in table[1:]] == [("changed", "Acme Inc"), ("gone", "Gamma Co")]
    assert len(table) - 1 == report["changes"]["status_changed"] + report["changes"]["gone"]


def test_gone_customers_keep_leaves_them_out_of_the_csv(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("hubspot:\n  gone_customers: keep\n", encoding="utf-8")
    assert _run(tmp_path, "one", RUN_ONE, "2026-11-15") == 0
    assert _run(tmp_path, "two", RUN_TWO, "2026-12-20", "--since", str(tmp_path / "one"), "--rules", str(rules)) == 0
    assert [row["email"] for row in _csv_rows(tmp_path / "two")] == ["acme@x.com", "beta@x.com"]
    assert json.loads((tmp_path / "two" / "report.json").read_text())["changes"]["gone"] == 1


def test_since_may_be_the_output_folder_itself(tmp_path: Path) -> None:
    assert _run(tmp_path, "out", RUN_ONE, "2026-11-15") == 0
    assert _run(tmp_path, "out", RUN_TWO, "2026-12-20", "--since", str(tmp_path / "out")) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (report["changes"]["since"], report["changes"]["gone"]) == ("2026-11-15", 1)


def test_a_bad_since_folder_exits_2_naming_it_and_leaves_only_error_json(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert _run(tmp_path, "out", RUN_ONE, "2026-11-15", "--since", str(tmp_path / "empty")) == 2
    assert str(tmp_path / "empty") in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["error.json"]
    assert json.loads((tmp_path / "out" / "error.json").read_text())["error"]["code"] == "since_state_missing"
    (tmp_path / "empty" / "customer_state.csv.gz").write_bytes(b"\x1f\x8b broken")
    assert _run(tmp_path, "out", RUN_ONE, "2026-11-15", "--since", str(tmp_path / "empty")) == 2
    assert json.loads((tmp_path / "out" / "error.json").read_text())["error"]["code"] == "since_state_invalid"
    assert _run(tmp_path, "later", RUN_ONE, "2026-12-20") == 0
    assert _run(tmp_path, "out", RUN_ONE, "2026-11-15", "--since", str(tmp_path / "later")) == 2
    assert "after this run's as-of date 2026-11-15" in capsys.readouterr().err


def test_a_run_compared_with_itself_changes_nothing_and_leaves_the_same_state(tmp_path: Path) -> None:
    memberships, orders = _inputs(tmp_path / "in", RUN_ONE)
    first = run_pipeline(memberships, orders, RULES, NOV15, parallel=False)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_outputs(first, tmp_path / "a")
    data = (tmp_path / "a" / "customer_state.csv.gz").read_bytes()
    from memberseg.state_file import PreviousFile

    again = run_pipeline(memberships, orders, RULES, NOV15, parallel=False, previous=PreviousFile(data, "a"))
    write_outputs(again, tmp_path / "b")
    assert again.changes is not None and again.changes.rows.empty
    assert again.changes.words == "since 2026-11-15: no changes"
    assert (tmp_path / "b" / "customer_state.csv.gz").read_bytes() == data
    state = read_state(data, "a").frame
    assert list(state["hubspot_hash"].str.len()) == [32, 32, 32]
    assert np.all(state["as_of"] == "2026-11-15")


# ------------------------------------------------------------------ the as-of date alone changes no HubSpot value
def _hubspot_run(folder: Path, memberships: Path, orders: Path, as_of: dt.date, previous: bytes | None):
    from memberseg.state_file import PreviousFile
    from memberseg.write import write_hubspot_files

    result = run_pipeline(memberships, orders, RULES, as_of, parallel=False,
                          previous=PreviousFile(previous, "previous") if previous is not None else None)
    folder.mkdir()
    write_hubspot_files(result.hubspot, result.members, RULES, as_of, folder)
    return read_state((folder / "customer_state.csv.gz").read_bytes(), str(folder)).frame


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(customers=st.lists(st.tuples(st.integers(0, 900), st.one_of(st.none(), st.integers(-400, 500)),
                                    st.integers(0, 30000)), min_size=1, max_size=8),
       day=st.dates(dt.date(2025, 1, 1), dt.date(2028, 12, 30)))
def test_the_next_day_with_the_same_inputs_sends_hubspot_nothing_new_unless_a_status_or_flag_changed(
        customers: list[tuple[int, int | None, int]], day: dt.date) -> None:
    """Each contact whose status and segment flags are the same a day later has the same HubSpot row (hash):
    no CSV column moves with the as-of date alone (a "days until expiration" would, every day)."""
    import tempfile

    from builders import write_csv

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        rows = [membership(1000 + n, f"Customer {n}", day - dt.timedelta(days=started),
                           None if ends is None else day + dt.timedelta(days=ends), f"c{n}@x.com")
                for n, (started, ends, _) in enumerate(customers)]
        memberships = write_csv(root / "m.csv", MEMBERSHIP_HEADERS, [
            [value.isoformat() if isinstance(value, dt.date) else value for value in row] for row in rows])
        orders = write_csv(root / "o.csv", ORDER_HEADERS,
                           [order(1000 + n, total, (day - dt.timedelta(days=1)).isoformat())
                            for n, (_, _, total) in enumerate(customers) if total])
        first = _hubspot_run(root / "a", memberships, orders, day, None)
        second = _hubspot_run(root / "b", memberships, orders, day + dt.timedelta(days=1),
                              (root / "a" / "customer_state.csv.gz").read_bytes())
    assert set(first.index) == set(second.index)
    same = second.loc[first.index]
    steady = (first["membership_status"] == same["membership_status"]) & \
        (first[SEGMENTS] == same[SEGMENTS]).all(axis=1)
    assert (first.loc[steady, "hubspot_hash"] == same.loc[steady, "hubspot_hash"]).all(), \
        first.loc[steady & (first["hubspot_hash"] != same["hubspot_hash"]), "customer_id"].tolist()


def test_no_hubspot_column_counts_days_from_the_as_of_date() -> None:
    """days_until_expiration stays in the workbook only: in HubSpot it is stale the day after any import (a
    workflow reads membership_expiration_date with a relative date filter). It may not come back."""
    from memberseg.hubspot import contacts_frame
    from memberseg.rules import HUBSPOT_BASE_COLUMNS, MEMBER_COLUMNS

    assert "days_until_expiration" not in HUBSPOT_BASE_COLUMNS
    assert "Days Until Expiration" in [column.header for column in MEMBER_COLUMNS]     # the workbook keeps it
    frame = members([{"id": 1, "status": "Active", "expires": "2027-01-10", "in": ["active_membership"]}])
    carried, _ = carry_over(frame.assign(start=pd.Timestamp("2026-01-10"), member_since=pd.Timestamp("2026-01-10"),
                                         renewal_count=0, order_count=1, estimated_savings=120.0,
                                         days_until_expiration=56), None, RULES, NOV15)
    columns = list(contacts_frame(carried, RULES).columns)
    assert not [name for name in columns if "days" in name], columns
    definitions = property_definitions(RULES, ["hubspot_contacts.csv"], columns)
    assert not [prop["name"] for prop in definitions["inputs"] if "days" in prop["name"]]
    segment = {"property": "days_until_expiration", "label": "Soon",
               "all": [{"field": "days_until_expiration", "op": "lt", "value": 10}]}
    with pytest.raises(InputError, match="earlier versions"):
        load_rules(overlay={"segments": [segment]})
