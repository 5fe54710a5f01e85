"""The workbook writer on its own, read back with openpyxl and from the zip's XML.

Each test names one thing the analysis workbook needs from the writer (rustpy-xlsxwriter):
typed cells, formula-looking text kept as text, date and money formats, a frozen header and an
autofilter, continuing past the row limit, Excel's string limit, and NaN / None / inf.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd

from memberseg.workbook import EXCEL_MAX_STRING, Column, WorkbookWriter, column, raw_column
from memberseg.write import _date_column
from platform_files import SHOPIFY, WILD_APRICOT, run, write


def _write(tmp_path: Path, columns: list[Column], rows: int, **kwargs) -> openpyxl.Workbook:
    writer = WorkbookWriter(tmp_path / "w.xlsx", **kwargs)
    writer.table("Data", columns, rows)
    writer.close()
    return openpyxl.load_workbook(tmp_path / "w.xlsx")


def _sheet_xml(path: Path, number: int = 1) -> str:
    with zipfile.ZipFile(path) as zf:
        return zf.read(f"xl/worksheets/sheet{number}.xml").decode()


def test_each_kind_is_written_as_its_own_cell_type_and_format(tmp_path: Path) -> None:
    book = _write(tmp_path, [
        column("Name", "text", pd.Series(["Acme", "Bolt"])),
        column("Joined", "date", pd.Series(pd.to_datetime(["2024-02-29", "1999-12-31"]))),
        column("Paid", "money", pd.Series([1234.5, -0.25])),
        column("Orders", "integer", pd.Series([3, 0])),
        column("Share", "number", pd.Series([0.125, 2.0])),
        column("Active", "bool", pd.Series([True, False])),
    ], 2)
    ws = book["Data"]
    assert [c.value for c in ws[1]] == ["Name", "Joined", "Paid", "Orders", "Share", "Active"]
    row = ws[2]
    assert [c.data_type for c in row] == ["s", "d", "n", "n", "n", "b"]
    assert row[1].value == dt.datetime(2024, 2, 29) and row[1].number_format == "yyyy-mm-dd"
    assert ws["B3"].value == dt.datetime(1999, 12, 31)
    assert row[2].value == 1234.5 and row[2].number_format == "#,##0.00"
    assert ws["C3"].value == -0.25
    assert row[3].value == 3 and row[3].number_format == "0"
    assert row[4].value == 0.125
    assert row[5].value is True and ws["F3"].value is False


def test_formula_looking_text_stays_text(tmp_path: Path) -> None:
    texts = ['=HYPERLINK("http://x","y")', "+1+1", "-2", "@SUM(A1)", "=1/0", "\tTab"]
    book = _write(tmp_path, [column("Name", "text", pd.Series(texts))], len(texts))
    assert not re.search(r"<(\w+:)?f[ >/]", _sheet_xml(tmp_path / "w.xlsx")), "a formula element was written"
    cells = [c for (c,) in book["Data"].iter_rows(min_row=2)]
    assert [c.value for c in cells] == texts
    assert {c.data_type for c in cells} == {"s"}


def test_frozen_header_and_autofilter_over_the_data(tmp_path: Path) -> None:
    book = _write(tmp_path, [column("A", "text", pd.Series(["x", "y", "z"])),
                             column("B", "number", pd.Series([1, 2, 3]))], 3)
    ws = book["Data"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:B4"


def test_nan_none_and_inf(tmp_path: Path) -> None:
    book = _write(tmp_path, [
        column("Text", "text", pd.Series(["a", None, np.nan, "d"], dtype=object)),
        column("Money", "money", pd.Series([np.nan, 1.0, np.inf, -np.inf])),
        column("When", "date", pd.Series([pd.NaT, pd.Timestamp("2025-01-02"), None, pd.NaT])),
        raw_column("Raw", np.array([None, float("nan"), 7.5, ""], dtype=object)),
    ], 4)
    rows = [[c.value for c in row] for row in book["Data"].iter_rows(min_row=2, max_row=5)]
    # Blank stays blank; inf, which no cell can hold, is written as visible text, never as a blank.
    assert rows == [["a", None, None, None], [None, 1.0, dt.datetime(2025, 1, 2), None],
                    [None, "INF", None, 7.5], ["d", "-INF", None, None]]


def test_text_past_excels_cell_limit_is_cut_to_the_limit_and_counted(tmp_path: Path) -> None:
    long = "x" * (EXCEL_MAX_STRING + 100)
    writer = WorkbookWriter(tmp_path / "w.xlsx")
    writer.table("Data", [column("Notes", "text", pd.Series([long, "short", "y" * EXCEL_MAX_STRING]))], 3)
    writer.close()
    assert writer.truncated_cells == 1
    values = [c.value for (c,) in openpyxl.load_workbook(tmp_path / "w.xlsx")["Data"].iter_rows(min_row=2)]
    assert values == [long[:EXCEL_MAX_STRING], "short", "y" * EXCEL_MAX_STRING]


def test_a_sheet_past_the_row_limit_continues_on_numbered_sheets_right_after_it(tmp_path: Path) -> None:
    writer = WorkbookWriter(tmp_path / "w.xlsx", max_rows=3)
    names = writer.table("Data", [column("N", "number", pd.Series(range(7)))], 7)
    writer.table("After", [column("N", "number", pd.Series([1.0]))], 1)
    writer.close()
    assert names == ["Data", "Data (2)", "Data (3)"]
    book = openpyxl.load_workbook(tmp_path / "w.xlsx")
    assert book.sheetnames == ["Data", "Data (2)", "Data (3)", "After"]
    parts = [[c.value for (c,) in book[name].iter_rows()] for name in names]
    assert parts == [["N", 0, 1, 2], ["N", 3, 4, 5], ["N", 6]]   # every row lands once, header on each part
    assert all(book[name].freeze_panes == "A2" for name in names)


def test_raw_columns_keep_each_cells_type(tmp_path: Path) -> None:
    when = dt.datetime(2024, 5, 6)
    book = _write(tmp_path, [
        raw_column("Dates or text", np.array([when, "05/07/2024", None], dtype=object)),
        raw_column("Numbers or dates", np.array([12.5, when, 3], dtype=object)),
        raw_column("Anything", np.array([True, "=SUM(A1)", 4], dtype=object)),
    ], 3)
    ws = book["Data"]
    assert ws["A2"].value == when and ws["A2"].is_date and ws["A3"].value == "05/07/2024"
    # The writer would format the whole column as dates, so a date among numbers is written as ISO text
    # and the numbers stay plain numbers.
    assert [ws["B2"].value, ws["B3"].value, ws["B4"].value] == [12.5, when.isoformat(), 3]
    assert not ws["B2"].is_date and not ws["B4"].is_date
    assert [ws["C2"].value, ws["C3"].value, ws["C4"].value] == [True, "=SUM(A1)", 4]
    assert ws["C3"].data_type == "s"


def test_a_recognised_date_column_writes_parsed_dates_and_keeps_the_text_that_did_not_parse(tmp_path: Path) -> None:
    parsed = pd.to_datetime(pd.Series(["2024-02-29", None, "1999-12-31", None])).to_numpy()
    all_parsed = _date_column("Created", np.array(["29.02.2024", "", dt.date(1999, 12, 31), None], dtype=object), parsed)
    partly = _date_column("Expires", np.array(["29.02.2024", "N/A", "1999-12-31", None], dtype=object), parsed)
    blank = _date_column("Start", np.array(["", None, "", None], dtype=object), np.full(4, np.datetime64("NaT", "ns")))
    assert all_parsed.kind == "date"   # typed straight from the parsed values
    book = _write(tmp_path, [all_parsed, partly, blank], 4)
    rows = [[c.value for c in row] for row in book["Data"].iter_rows(min_row=2, max_row=5)]
    assert rows == [[dt.datetime(2024, 2, 29), dt.datetime(2024, 2, 29), None],
                    [None, "N/A", None],
                    [dt.datetime(1999, 12, 31), dt.datetime(1999, 12, 31), None],
                    [None, None, None]]
    ws = book["Data"]
    assert ws["A2"].number_format == "yyyy-mm-dd" and ws["B4"].is_date and ws["B3"].data_type == "s"


def test_repeated_headers_are_numbered_and_an_empty_table_keeps_its_header(tmp_path: Path) -> None:
    writer = WorkbookWriter(tmp_path / "w.xlsx")
    writer.table("Data", [column("Email", "text", pd.Series(["a@x"])), column("Email", "text", pd.Series(["b@x"]))], 1)
    writer.table("Empty", [column("Reason", "text", pd.Series([], dtype=object))], 0)
    writer.close()
    book = openpyxl.load_workbook(tmp_path / "w.xlsx")
    assert [[c.value for c in row] for row in book["Data"].iter_rows()] == [["Email", "Email (2)"], ["a@x", "b@x"]]
    assert [[c.value for c in row] for row in book["Empty"].iter_rows()] == [["Reason"]]


def test_the_file_is_a_valid_deflated_zip(tmp_path: Path) -> None:
    writer = WorkbookWriter(tmp_path / "w.xlsx")
    writer.table("Data", [column("Name", "text", pd.Series(["a" * 50] * 2000))], 2000)
    writer.close()
    with zipfile.ZipFile(tmp_path / "w.xlsx") as archive:
        assert archive.testzip() is None
        sheet = archive.getinfo("xl/worksheets/sheet1.xml")
        assert sheet.compress_type == zipfile.ZIP_DEFLATED and sheet.compress_size < sheet.file_size / 10


# --- The workbook: Excluded Rows, Platform Status and Plan, recognised dates as dates ----------------

def test_workbook_lists_excluded_rows_and_shows_platform_status_plan_and_dates(tmp_path):
    import datetime as dt

    import openpyxl

    from memberseg.write import write_outputs

    contacts = write(tmp_path / "contacts.csv", WILD_APRICOT, [
        {"User ID": 601, "First name": "Ivy", "Last name": "Ng", "Email": "ivy@example.com",
         "Membership level": "Business", "Membership status": "Active", "Member since": "2024-03-01",
         "Renewal due": "2027-03-01"},
        {"User ID": 602, "First name": "Lea", "Last name": "Po", "Email": "lea@example.com"},
    ])
    orders = write(tmp_path / "orders_export.csv", SHOPIFY, [
        {"Name": "#1", "Email": "ivy@example.com", "Financial Status": "voided", "Currency": "USD", "Total": "5.00",
         "Lineitem quantity": 1, "Lineitem name": "x", "Lineitem price": "5.00"},
    ])
    result, _ = run(tmp_path, contacts, orders)
    out = tmp_path / "out"
    out.mkdir()
    write_outputs(result, out)
    book = openpyxl.load_workbook(out / "membership_segments.xlsx")
    excluded = [[cell.value for cell in row] for row in book["Excluded Rows"].iter_rows()]
    assert excluded[0][0] == "Source" and len(excluded) == 3
    assert ("Memberships", 3, "not a member (Membership status '')") in {(r[0], r[3], r[6]) for r in excluded[1:]}
    assert ("Orders", 2, "order status 'voided' is not paid") in {(r[0], r[3], r[6]) for r in excluded[1:]}
    members = book["Members"]
    headers = [cell.value for cell in members[1]]
    assert "Platform Status" in headers and "Plan" in headers
    row = {h: c.value for h, c in zip(headers, members[2])}
    assert (row["Platform Status"], row["Plan"]) == ("Active", "Business")
    assert row["Member since"] == dt.datetime(2024, 3, 1)        # the CSV's text, as a real date cell
