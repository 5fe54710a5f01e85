"""The analysis workbook opened by a real spreadsheet: LibreOffice Calc, headless.

LibreOffice (Debian's `libreoffice-calc-nogui`, binary `soffice`) converts every sheet of the
workbook memberseg wrote to CSV; each CSV must hold the same cells as the workbook read back with
openpyxl: same sheets, same rows and columns, text as the same text (formula-looking names are not
evaluated), numbers as the same numbers, dates as the same dates, booleans as TRUE/FALSE.
This test never skips: without `soffice` it fails and says what to install.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import openpyxl
import pytest

from builders import d, order, written_workbook
from office import convert
from memberseg.rules import load_rules

pytestmark = [pytest.mark.e2e]

# Every sheet, with its name in the file: "Text - txt - csv (StarCalc)" options; token 12 = -1 is all sheets.
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
HEADERS = ["Cust ID", "Customer Name", "Region", "Created Date", "Expiration Date", "Contact Email", "Membership"]
ROWS = [
    ["00777", "Acme Inc", "East", d("2025-01-10"), d("2026-01-10"), "acme@x.com", "Enrolled"],
    [2001, '=HYPERLINK("http://x","y")', "=SUM(1,2)", d("2026-01-01"), d("2026-12-01"), "hy@x.com", "Enrolled"],
    [3003, "+1+1", "Zürich, \"West\"", d("2026-02-01"), d("2027-06-01"), "plus@x.com", "Enrolled"],
    [4004, "-2", 12.5, d("2026-02-01"), d("2027-07-01"), "dup@x.com", "Enrolled"],
    [9009, "Plain Co", None, d("2026-02-01"), d("2027-11-01"), None, "Not Enrolled"],
    [7007, "Bad Dates", "West", "garbage", d("2027-01-01"), "bad@x.com", "Enrolled"],
    ["00777", "Acme Inc", "East", d("2024-01-10"), d("2025-01-10"), "acme@x.com", "Enrolled"],
    # the ends of the calendar: before 1900-03-01 a date is ISO text, 9999-12-31 is Excel's last date cell
    [5005, "Forever Co", "North", "0001-01-01", d("9999-12-31"), "forever@x.com", "Enrolled"],
]
ORDERS = [order(777, 1234.50, d("2025-03-01"), "Acme"), order(2001, -125.25, d("2026-01-05")),
          order("0999", 10, d("2026-01-01"), "Ghost"), order(None, 50, d("2026-01-01"), "Nobody")]


def _convert(workbook: Path, out: Path) -> dict[str, list[list[str]]]:
    """Sheet name -> its rows, as LibreOffice exported them."""
    convert(workbook, out, CSV_FILTER)
    sheets = {}
    for path in out.glob(f"{workbook.stem}-*.csv"):
        with open(path, newline="", encoding="utf-8") as handle:
            sheets[path.stem[len(workbook.stem) + 1:]] = list(csv.reader(handle))
    return sheets


def _same(value: object, text: str) -> bool:
    """Does LibreOffice's CSV text show this openpyxl cell value?"""
    if value is None:
        return text == ""
    if isinstance(value, bool):
        return text == ("TRUE" if value else "FALSE")
    if isinstance(value, dt.datetime):
        return text == value.strftime("%Y-%m-%d")
    if isinstance(value, (int, float)):
        try:
            return math.isclose(float(text), float(value), rel_tol=1e-12, abs_tol=1e-12)
        except ValueError:
            return False
    return text.replace("\r\n", "\n") == str(value).replace("\r\n", "\n")


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return written_workbook(tmp_path_factory.mktemp("libreoffice"), HEADERS, ROWS, ORDERS)


def test_libreoffice_shows_every_sheet_with_the_cells_memberseg_wrote(written: Path, tmp_path: Path) -> None:
    exported = _convert(written, tmp_path)
    book = openpyxl.load_workbook(written)
    assert sorted(exported) == sorted(book.sheetnames)
    for name in book.sheetnames:
        expected = [list(row) for row in book[name].iter_rows(values_only=True)]
        rows = exported[name]
        assert len(rows) == len(expected), name
        for number, (cells, texts) in enumerate(zip(expected, rows, strict=True), start=1):
            texts = texts + [""] * (len(cells) - len(texts))
            mismatches = [(col, cell, text) for col, (cell, text) in enumerate(zip(cells, texts, strict=True))
                          if not _same(cell, text)]
            assert not mismatches, f"{name} row {number}: {mismatches}"


def test_libreoffice_keeps_formula_looking_text_as_text_and_reads_typed_cells(written: Path, tmp_path: Path) -> None:
    members = _convert(written, tmp_path)["Members"]
    header = members[0]
    by_name = {row[header.index("Customer Name")]: row for row in members[1:]}
    assert '=HYPERLINK("http://x","y")' in by_name and "+1+1" in by_name and "-2" in by_name
    hyperlink = by_name['=HYPERLINK("http://x","y")']
    assert hyperlink[header.index("Region")] == "=SUM(1,2)"             # not evaluated to 3
    assert hyperlink[header.index("Total Order Value")] == "-125.25"
    assert hyperlink[header.index("Membership Status")] == "Expiring Soon"
    assert hyperlink[header.index("Expiration Date")] == "2026-12-01"
    assert by_name["Acme Inc"][header.index("Cust ID")] == "00777"      # an ID kept as text
    assert by_name["Plain Co"][header.index("Not Enrolled")] == "TRUE"
    forever = by_name["Forever Co"]
    assert forever[header.index("Created Date")] == forever[header.index("Member Since")] == "0001-01-01"
    assert forever[header.index("Expiration Date")] == "9999-12-31"
    labels = [seg.label for seg in load_rules().segments]
    segments = _convert(written, tmp_path / "again")["Segments"]
    assert [row[0] for row in segments[1:]] == labels
