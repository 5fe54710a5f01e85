"""Every date a spreadsheet or a CSV can hold, 0001-01-01 to 9999-12-31, is read, and comes out as itself.

Dates were datetime64[ns] once, which ends in 1677 and 2262: 9999-12-31 (the usual "never expires"),
0001-01-01 or 3000-01-01 crashed the job. The expected values here are computed from the calendar and
Excel's documented serial numbers, never from the engine.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import (
    MEMBERSHIP_HEADERS,
    ORDER_HEADERS,
    membership,
    order,
    rules_with,
    run_rows,
    write_csv,
    write_xlsx,
)
from memberseg.cli import main
from memberseg.hubspot import date_text
from memberseg.values import to_dates
from memberseg.workbook import excel_serials
from memberseg.write import write_workbook
from platform_files import csv_rows, run

AS_OF = dt.date(2026, 11, 15)
FIRST, LAST = dt.date(1, 1, 1), dt.date(9999, 12, 31)
FIRST_CELL_DAY = dt.date(1900, 1, 1)      # an Excel date cell or serial holds no earlier day
FIRST_SERIAL_DAY = dt.date(1900, 3, 1)    # Excel counts a 29 February 1900 before it, LibreOffice does not


def excel_serial(day: dt.date) -> int:
    """Excel's serial number of a day (1900 date system, with its phantom 1900-02-29 as serial 60)."""
    if day >= FIRST_SERIAL_DAY:
        return (day - dt.date(1899, 12, 30)).days
    return (day - dt.date(1899, 12, 31)).days


def written_cell(day: dt.date) -> Any:
    """What openpyxl reads back from a date column of the workbook: a date cell, or ISO text before 1900-03-01."""
    return dt.datetime.combine(day, dt.time()) if day >= FIRST_SERIAL_DAY else day.isoformat()


# --- the issue's cases, through the command line ---

def test_the_issue_dates_run_through_the_command_line(tmp_path: Path) -> None:
    rows = [
        membership("1", "Forever Cell", dt.datetime(2020, 1, 1), dt.datetime(9999, 12, 31), "a@example.com"),
        membership("2", "Forever Text", dt.datetime(2020, 1, 1), "9999-12-31", "b@example.com"),
        membership("3", "Forever MDY", dt.datetime(2020, 1, 1), "12/31/9999", "c@example.com"),
        membership("4", "Year One", "0001-01-01", dt.datetime(2027, 1, 1), "d@example.com"),
        membership("5", "Far Future", dt.datetime(2020, 1, 1), "3000-01-01", "e@example.com"),
        membership("6", "Max Serial", dt.datetime(2020, 1, 1), 2958465, "f@example.com"),
    ]
    members = write_xlsx(tmp_path / "m.xlsx", MEMBERSHIP_HEADERS, rows)
    orders = write_xlsx(tmp_path / "o.xlsx", ORDER_HEADERS, [order("1", 10, "9999-12-31"), order("4", 5, "01/01/0001")])
    out = tmp_path / "out"
    assert main(["run", "--memberships", str(members), "--orders", str(orders), "--out", str(out),
                 "--as-of", AS_OF.isoformat()]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["memberships"]["rejected"] == 0 and report["orders"]["rejected"] == 0
    with open(out / "hubspot_contacts.csv", newline="") as handle:
        by_id = {row["cust_id"]: row for row in csv.DictReader(handle)}
    for cust_id in "1236":
        assert by_id[cust_id]["membership_expiration_date"] == "9999-12-31"
        assert "days_until_expiration" not in by_id[cust_id]     # the workbook's column only
        assert by_id[cust_id]["membership_status"] == "Active"
    assert by_id["4"]["membership_start_date"] == by_id["4"]["member_since"] == "0001-01-01"
    assert by_id["5"]["membership_expiration_date"] == "3000-01-01"
    sheet = openpyxl.load_workbook(out / "membership_segments.xlsx")["Members"]
    header = [cell.value for cell in sheet[1]]
    days = {str(row[header.index("Cust ID")]): row[header.index("Days Until Expiration")]
            for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert [days[cust_id] for cust_id in "1236"] == [(LAST - AS_OF).days] * 4


# --- the parsers and writers, at the ends of the range ---

@pytest.mark.parametrize("raw, expected", [
    ("0001-01-01", FIRST), ("9999-12-31", LAST), ("12/31/9999", LAST), ("01/01/0001", FIRST),
    ("Dec 31, 9999", LAST), ("3000-01-01", dt.date(3000, 1, 1)), ("1600-02-29", dt.date(1600, 2, 29)),
    (dt.datetime(9999, 12, 31, 23, 59), LAST), (dt.date(1, 1, 1), FIRST), (pd.Timestamp("2500-06-01"), dt.date(2500, 6, 1)),
    (1, dt.date(1900, 1, 1)), (59, dt.date(1900, 2, 28)), (60, dt.date(1900, 2, 28)), (61, dt.date(1900, 3, 1)),
    (2958465, LAST), ("2958465", LAST), (2958465.75, LAST),
])
def test_dates_across_the_whole_range(raw: Any, expected: dt.date) -> None:
    parsed = to_dates(pd.Series([raw], dtype=object))
    assert parsed.dtype == "datetime64[s]"
    assert parsed.iloc[0] == pd.Timestamp(expected)


@pytest.mark.parametrize("raw", ["0000-01-01", "9999-02-29", "1900-02-29", "10000-01-01", 0, 2958466, -1])
def test_what_is_no_day_stays_no_date(raw: Any) -> None:
    assert pd.isna(to_dates(pd.Series([raw], dtype=object)).iloc[0])


def test_hubspot_date_text_has_four_digit_years() -> None:
    days = pd.Series(np.array(["0001-01-01", "0999-03-04", "9999-12-31", "NaT"], dtype="datetime64[s]"))
    assert date_text(days).tolist() == ["0001-01-01", "0999-03-04", "9999-12-31", ""]


def test_workbook_serials_and_the_days_before_them() -> None:
    days = pd.Series(np.array(["1899-12-31", "1900-02-28", "1900-03-01", "9999-12-31", "NaT"], dtype="datetime64[s]"))
    cells = excel_serials(days)
    assert cells[:2].tolist() == ["1899-12-31", "1900-02-28"]
    assert cells[2:4].tolist() == [61.0, 2958465.0]
    assert cells[4] is None


# --- the sentinel: open-ended only when the profile says so ---

def _sentinel_rows() -> list[list[Any]]:
    return [membership("1", "Cell", dt.datetime(2020, 1, 1), dt.datetime(9999, 12, 31), "a@example.com"),
            membership("2", "Text", dt.datetime(2020, 1, 1), "9999-12-31", "b@example.com"),
            membership("3", "MDY", dt.datetime(2020, 1, 1), "12/31/9999", "c@example.com"),
            membership("4", "Serial", dt.datetime(2020, 1, 1), 2958465, "d@example.com")]


def test_without_the_setting_9999_12_31_is_a_far_future_date(tmp_path: Path) -> None:
    result = run_rows(tmp_path, _sentinel_rows())
    members = result.members
    assert (members["expiration"] == pd.Timestamp(LAST)).all()
    assert members["days_until_expiration"].tolist() == [(LAST - AS_OF).days] * 4


def test_open_ended_dates_make_the_sentinel_no_expiry_however_it_is_written(tmp_path: Path) -> None:
    rules = rules_with({"profiles": {"standard": {"memberships": {"open_ended_dates": ["9999-12-31"]}}}})
    result = run_rows(tmp_path, _sentinel_rows(), rules=rules)
    members = result.members
    assert members["expiration"].isna().all()
    assert members["days_until_expiration"].isna().all()
    assert set(members["membership_status"]) == {"Active"}
    assert {row["membership_expiration_date"] for row in csv_rows(result)} == {""}


def test_an_open_ended_record_outlasts_any_date(tmp_path: Path) -> None:
    """An open-ended record ends after 3000-01-01 (and after 9999-12-31): it is the customer's current one."""
    rules = rules_with({"profiles": {"standard": {"memberships": {"open_ended": ["N/A"]}}}})
    rows = [membership("1", "Acme", dt.datetime(2020, 1, 1), "N/A", "a@example.com"),
            membership("1", "Acme", dt.datetime(2021, 1, 1), "3000-01-01", "a@example.com"),
            membership("1", "Acme", dt.datetime(2022, 1, 1), "9999-12-31", "a@example.com")]
    result = run_rows(tmp_path, rows, rules=rules)
    (kept,) = result.members.to_dict("records")
    assert kept["row"] == 2 and pd.isna(kept["expiration"]) and kept["records_merged"] == 3
    assert kept["renewal_count"] == 2 and kept["lapse_count"] == 0
    assert sorted(result.duplicates["reason"]) == ["renewal", "renewal"]


def test_an_open_ended_duplicate_keeps_its_own_cell_in_the_workbook(tmp_path: Path) -> None:
    rules = rules_with({"profiles": {"standard": {"memberships": {"open_ended": ["N/A"]}}}})
    rows = [membership("1", "Acme", dt.datetime(2020, 1, 1), "N/A", "a@example.com"),
            membership("1", "Acme", dt.datetime(2021, 1, 1), "N/A", "a@example.com")]
    members = write_xlsx(tmp_path / "m.xlsx", MEMBERSHIP_HEADERS, rows)
    orders = write_xlsx(tmp_path / "o.xlsx", ORDER_HEADERS, [])
    result, report = run(tmp_path, members, orders, rules=rules)
    write_workbook(result, report, tmp_path / "book.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "book.xlsx")["Duplicates Removed"]
    header = [cell.value for cell in sheet[1]]
    assert sheet.cell(2, header.index("Expiration Date") + 1).value == "N/A"


# --- the property: any day, any way a file writes it ---

def _xlsx_cell(day: dt.date, form: str) -> Any:
    if form == "cell":
        return dt.datetime.combine(day, dt.time())
    if form == "serial":
        return excel_serial(day)
    return _text_cell(day, form)


def _text_cell(day: dt.date, form: str) -> str:
    if form == "mdy":
        return f"{day.month:02d}/{day.day:02d}/{day.year:04d}"
    if form == "serial":
        return str(excel_serial(day))
    return day.isoformat()


@st.composite
def dated_cell(draw, xlsx: bool, low: dt.date = FIRST, high: dt.date = LAST) -> tuple[dt.date, Any]:
    day = draw(st.dates(min_value=low, max_value=high))
    forms = ["iso", "mdy"]
    if day >= FIRST_CELL_DAY:    # Excel holds no date cell or serial before 1900
        forms += ["cell", "serial"] if xlsx else ["serial"]
    form = draw(st.sampled_from(forms))
    return day, _xlsx_cell(day, form) if xlsx else _text_cell(day, form)


@st.composite
def one_customer(draw, xlsx: bool) -> tuple[dt.date, dt.date, dt.date, list[Any], list[Any]]:
    """A customer created on one day and expiring on a later one (or the same), with one order."""
    created, created_cell = draw(dated_cell(xlsx))
    expires, expires_cell = draw(dated_cell(xlsx, low=created))
    ordered, ordered_cell = draw(dated_cell(xlsx))
    return (created, expires, ordered, membership("7", "Acme", created_cell, expires_cell, "a@example.com"),
            order("7", 12.5, ordered_cell))


def _check_every_output(root: Path, xlsx: bool, case: tuple) -> None:
    created, expires, ordered, member_row, order_row = case
    if xlsx:
        members = write_xlsx(root / "m.xlsx", MEMBERSHIP_HEADERS, [member_row])
        orders = write_xlsx(root / "o.xlsx", ORDER_HEADERS, [order_row])
    else:
        members = write_csv(root / "m.csv", MEMBERSHIP_HEADERS, [member_row])
        orders = write_csv(root / "o.csv", ORDER_HEADERS, [order_row])
    result, report = run(root, members, orders, as_of=AS_OF)
    assert report["memberships"]["rejected"] == 0 and report["orders"]["rejected"] == 0, result.member_validation

    (contact,) = csv_rows(result)
    assert contact["membership_start_date"] == contact["member_since"] == created.isoformat()
    assert contact["membership_expiration_date"] == expires.isoformat()
    assert "days_until_expiration" not in contact
    assert result.members["days_until_expiration"].tolist() == [(expires - AS_OF).days]

    write_workbook(result, report, root / "book.xlsx")
    sheet = openpyxl.load_workbook(root / "book.xlsx")["Members"]
    row = {header.value: cell.value for header, cell in zip(sheet[1], sheet[2], strict=True)}
    assert row["Created Date"] == row["Member Since"] == row["First Joined"] == written_cell(created)
    assert row["Expiration Date"] == written_cell(expires)
    assert row["Last Order Date"] == written_cell(ordered)


@settings(max_examples=30, deadline=None)
@given(case=one_customer(xlsx=True))
def test_any_date_in_a_workbook_is_read_and_written_as_itself(case) -> None:
    with tempfile.TemporaryDirectory() as folder:
        _check_every_output(Path(folder), True, case)


@settings(max_examples=30, deadline=None)
@given(case=one_customer(xlsx=False))
def test_any_date_in_a_csv_is_read_and_written_as_itself(case) -> None:
    with tempfile.TemporaryDirectory() as folder:
        _check_every_output(Path(folder), False, case)
