"""Both files' headers are checked from their first rows, before either is parsed in full.

The preview reader (`memberseg.header_check`) must see the header search window exactly as calamine,
the full reader, does; and a header problem in either file must be reported, for both files at
once, without the full read starting.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
import python_calamine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memberseg.header_check
import memberseg.read
from builders import MEMBERSHIP_HEADERS, ORDER_HEADERS, membership, order, write_csv, write_xlsx
from memberseg.errors import InputError
from memberseg.header_check import check_headers, first_rows
from memberseg.pipeline import run_pipeline
from memberseg.rules import load_rules
from platform_files import WOO_MEMBERS, run, woo_members, woo_orders, write

AS_OF = dt.date(2026, 11, 15)
RULES = load_rules()


def _calamine_rows(path: Path, rows: int) -> list:
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    return [(name, book.get_sheet_by_name(name).to_python(skip_empty_area=False)[:rows]) for name in book.sheet_names]


def _trim(sheets: list) -> list:
    """Rows without trailing blanks, and no trailing blank rows: calamine pads to the used range."""
    trimmed = []
    for name, grid in sheets:
        rows = []
        for row in grid:
            row = list(row)
            while row and row[-1] == "":
                row.pop()
            rows.append(row)
        while rows and not rows[-1]:
            rows.pop()
        trimmed.append((name, rows))
    return trimmed


text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
cell = st.one_of(st.none(), text, st.booleans(), st.integers(-10**6, 10**6).map(float),
                 st.floats(allow_nan=False, allow_infinity=False, width=32).map(float))
grid = st.lists(st.lists(cell, max_size=6), min_size=1, max_size=8)


def _write_openpyxl(path: Path, rows: list, title_rows: int) -> Path:
    """openpyxl writes shared strings and explicit cell references (xlsxwriter: inline strings in tests)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    for r, row in enumerate(rows, start=1 + title_rows):
        for c, value in enumerate(row, start=1):
            if value is not None and value != "":
                sheet.cell(row=r, column=c, value=value)
    book.create_sheet("Notes").cell(row=2, column=2, value="see Data")
    book.save(path)
    return path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=grid, title_rows=st.integers(0, 3), window=st.integers(1, 12), writer=st.sampled_from(["openpyxl",
                                                                                                  "xlsxwriter"]))
def test_the_preview_sees_the_first_rows_as_calamine_does(tmp_path_factory, rows, title_rows, window, writer):
    path = tmp_path_factory.mktemp("preview") / "file.xlsx"
    if writer == "openpyxl":
        _write_openpyxl(path, rows, title_rows)
    else:
        write_xlsx(path, [], rows, sheet="Data", title_rows=["Title"] * title_rows, sheets_before=["Notes"])
    preview = first_rows(path, "xlsx", "memberships", sheet=None, rows=window)
    assert preview is not None
    assert _trim(preview) == _trim(_calamine_rows(path, window))


def test_the_preview_of_a_csv_is_its_first_lines(tmp_path):
    path = write_csv(tmp_path / "m.csv", MEMBERSHIP_HEADERS, [membership("1", "Müller GmbH", "2026-01-01",
                                                                         "2027-01-01")], delimiter=";")
    [(sheet, rows)] = first_rows(path, "csv", "memberships", sheet=None, rows=20)
    assert sheet is None and rows[0] == MEMBERSHIP_HEADERS and rows[1][1] == "Müller GmbH"


def test_a_named_sheet_that_is_missing_is_a_header_problem(tmp_path):
    path = write_xlsx(tmp_path / "m.xlsx", MEMBERSHIP_HEADERS, [], sheet="Members")
    rules = load_rules(overlay={"inputs": {"memberships": {"sheet": "Export"}}})
    problem = check_headers(path, "xlsx", "memberships", rules).problem
    assert problem is not None and problem.code == "sheet_not_found" and "Members" in problem.message


def test_first_rows_too_large_to_preview_leave_the_check_to_the_full_read(tmp_path, monkeypatch):
    path = write_xlsx(tmp_path / "m.xlsx", ["Cust ID", "Customer Name"], [["1", "A"]])
    monkeypatch.setattr(memberseg.header_check, "MAX_PREVIEW_XML_BYTES", 16)
    assert first_rows(path, "xlsx", "memberships", sheet=None, rows=20) is None
    assert check_headers(path, "xlsx", "memberships", RULES).problem is None
    with pytest.raises(InputError) as caught:   # the full read still finds the problem
        run_pipeline(path, write_xlsx(tmp_path / "o.xlsx", ORDER_HEADERS, [order("1", 5, dt.date(2026, 1, 1), "A")]),
                     RULES, AS_OF, parallel=False)
    assert caught.value.code == "missing_column" and "expiration_date" in caught.value.message


@pytest.fixture
def no_full_read(monkeypatch):
    """Fail the test if either file is parsed in full (forked children inherit the patch)."""
    def parsed_in_full(path, *args, **kwargs):
        raise AssertionError(f"{Path(path).name} was parsed in full before the header check failed")
    monkeypatch.setattr(memberseg.read, "read_table", parsed_in_full)


def _bad_members(tmp_path: Path, suffix: str) -> Path:
    headers, rows = ["Cust ID", "Customer Name", "Created Date"], [["1", "A", "2026-01-01"]] * 50
    writer = write_xlsx if suffix == ".xlsx" else write_csv
    return writer(tmp_path / f"members{suffix}", headers, rows)


def _bad_orders(tmp_path: Path, suffix: str) -> Path:
    writer = write_xlsx if suffix == ".xlsx" else write_csv
    return writer(tmp_path / f"orders{suffix}", ["Sold-To Party", "Totl"], [["1", "5"]] * 50)


@pytest.mark.parametrize("parallel", [True, False], ids=["orders-in-a-child", "in-process"])
@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_both_files_header_problems_come_in_one_error_before_any_full_parse(tmp_path, no_full_read, parallel,
                                                                            suffix):
    members, orders = _bad_members(tmp_path, suffix), _bad_orders(tmp_path, suffix)
    with pytest.raises(InputError) as caught:
        run_pipeline(members, orders, RULES, AS_OF, parallel=parallel)
    problems = caught.value.details["problems"]
    assert [p["file"] for p in problems] == [members.name, orders.name]
    assert "expiration_date" in problems[0]["message"] and "order_value" in problems[1]["message"]
    assert "closest header" not in problems[1]["message"]  # 'Totl' shares no word stem with the aliases
    assert "inputs.orders.fields.order_value.aliases" in problems[1]["message"]


@pytest.mark.parametrize("parallel", [True, False], ids=["orders-in-a-child", "in-process"])
def test_an_orders_header_problem_is_reported_before_the_memberships_are_read(tmp_path, no_full_read, parallel):
    members = write_xlsx(tmp_path / "members.xlsx", MEMBERSHIP_HEADERS,
                         [membership("1", "A", dt.date(2026, 1, 1), dt.date(2027, 1, 1))])
    orders = _bad_orders(tmp_path, ".xlsx")
    with pytest.raises(InputError) as caught:
        run_pipeline(members, orders, RULES, AS_OF, parallel=parallel)
    assert caught.value.file == orders.name and caught.value.code == "missing_column"
    assert "problems" not in caught.value.details


def test_the_check_names_the_sheet_that_holds_the_header(tmp_path):
    path = write_xlsx(tmp_path / "m.xlsx", MEMBERSHIP_HEADERS, [membership("1", "A", dt.date(2026, 1, 1),
                                                                          dt.date(2027, 1, 1))],
                      sheet="Members", title_rows=["Export"], sheets_before=["Notes"])
    check = check_headers(path, "xlsx", "memberships", RULES)
    assert check.problem is None and check.sheet == "Members"


def test_good_headers_go_on_to_the_full_read(tmp_path):
    members = write_xlsx(tmp_path / "members.xlsx", MEMBERSHIP_HEADERS,
                         [membership("1", "A", dt.date(2026, 1, 1), dt.date(2027, 1, 1))])
    orders = write_xlsx(tmp_path / "orders.xlsx", ORDER_HEADERS, [order("1", 5, dt.date(2026, 2, 1), "A")])
    result = run_pipeline(members, orders, RULES, AS_OF)
    assert len(result.members) == 1 and result.members["order_count"].tolist() == [1]


def _same_table(a, b) -> bool:
    return (a.sheet, a.header_row, a.headers, a.fields) == (b.sheet, b.header_row, b.headers, b.fields) and \
        a.frame.equals(b.frame) and (a.rows == b.rows).all()


@pytest.mark.parametrize("early_sheet", ["Members", "Notes"], ids=["the-header-sheet", "another-sheet"])
def test_a_sheet_parsed_ahead_reads_as_the_plain_read(tmp_path, early_sheet):
    from memberseg.header_check import SheetParse
    from memberseg.read import read_table

    path = write_xlsx(tmp_path / "m.xlsx", MEMBERSHIP_HEADERS,
                      [membership(str(n), f"N{n}", dt.date(2026, 1, 1), dt.date(2027, 1, 1)) for n in range(30)],
                      sheet="Members", sheets_before=["Notes"])
    plain = read_table(path, "xlsx", role="memberships", rules=RULES)
    ahead = read_table(path, "xlsx", role="memberships", rules=RULES, early=SheetParse(path, early_sheet))
    assert plain.sheet == "Members" and _same_table(plain, ahead)


def test_a_corrupt_sheet_parsed_ahead_is_an_unreadable_file(tmp_path):
    from memberseg.header_check import SheetParse
    from memberseg.read import read_table

    path = tmp_path / "m.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(InputError) as caught:
        read_table(path, "xlsx", role="memberships", rules=RULES, early=SheetParse(path, "Members"))
    assert caught.value.code == "unreadable_file" and "m.xlsx" in caught.value.message


def test_sheet_names_with_markup_characters_read_as_calamine_reads_them(tmp_path):
    path = write_xlsx(tmp_path / "m.xlsx", MEMBERSHIP_HEADERS, [], sheet="R&D <'members'>",
                      sheets_before=["Q&amp;A"])
    preview = first_rows(path, "xlsx", "memberships", sheet=None, rows=5)
    assert [name for name, _ in preview] == python_calamine.CalamineWorkbook.from_path(str(path)).sheet_names
    assert check_headers(path, "xlsx", "memberships", RULES).sheet == "R&D <'members'>"


# --- Detection, forcing and errors ------------------------------------------------------------------

def test_forced_profile_and_an_unknown_profile(tmp_path):
    members = woo_members(tmp_path / "members.csv")
    orders = woo_orders(tmp_path / "orders.csv")
    rules = load_rules(overlay={"inputs": {"memberships": {"profile": "woocommerce_memberships"}}})
    _, report = run(tmp_path, members, orders, rules)
    assert report["inputs"]["memberships"]["profile"]["chosen_by"] == "forced"
    with pytest.raises(InputError, match="unknown profile 'nope'"):
        load_rules(overlay={"inputs": {"orders": {"profile": "nope"}}})
    rules = load_rules(overlay={"inputs": {"memberships": {"profile": "stripe_subscriptions"}}})
    with pytest.raises(InputError) as caught:
        run(tmp_path, members, orders, rules)
    assert caught.value.code == "missing_column"


def test_a_file_that_fits_no_profile_names_the_closest_and_the_rules_key(tmp_path):
    headers = [h for h in WOO_MEMBERS if h != "membership_status"]
    members = write(tmp_path / "members.csv", headers, [])
    orders = woo_orders(tmp_path / "orders.csv")
    with pytest.raises(InputError) as caught:
        run(tmp_path, members, orders)
    message = caught.value.message
    assert "closest profile is 'woocommerce_memberships'" in message
    assert "membership_status" in message.split("closest profile")[1]
    assert "inputs.memberships.fields." in message
    assert caught.value.details["closest_profile"]["name"] == "woocommerce_memberships"


def test_closest_header_is_never_taken_and_shares_a_word(tmp_path):
    from memberseg.headers import closest_header

    headers = ["Cust ID", "Customer Name", "Created Date", "Expiry Dt", "Zip"]
    taken = {"Cust ID", "Customer Name", "Created Date"}
    assert closest_header("expiration_date", ["Expiration Date", "Expiry Date"], headers, taken) == "Expiry Dt"
    # "Created Date" is the most similar text to "Expiration Date" but another field took it.
    assert closest_header("expiration_date", ["Expiration Date"], ["Created Date", "Zip"], {"Created Date"}) is None
    assert closest_header("order_value", ["Total Value"], ["Zip", "Shipping Date"], set()) is None


def test_aliases_are_a_priority_list(tmp_path):
    from memberseg.headers import match_header_row

    rules = load_rules()
    spec = rules.spec_for(rules.catalog["standard"], "memberships")
    found = match_header_row(["Company", "Cust ID", "Customer Name", "Created", "Expires"], spec)
    assert found["customer_name"] == 2   # "Customer Name" comes first among the aliases, though not leftmost


def test_one_error_lists_both_files_problems(tmp_path):
    members = write(tmp_path / "members.csv", ["Cust ID", "Customer Name", "Created Date"], [["1", "A", "2026-01-01"]])
    orders = write(tmp_path / "orders.csv", ["Cust ID", "Totl"], [["1", "5"]])
    with pytest.raises(InputError) as caught:
        run(tmp_path, members, orders)
    message = caught.value.message
    assert "members.csv" in message and "orders.csv" in message
    assert "expiration_date" in message and "order_value" in message
    assert [p["file"] for p in caught.value.details["problems"]] == ["members.csv", "orders.csv"]
