"""The workbook's layout, read back with openpyxl: column widths fitted to the cells as shown (within a floor
and a cap), headers that wrap on a taller header row, print setup per sheet, the Summary's wrapped texts, and
booleans shown as TRUE/FALSE by LibreOffice too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from memberseg.workbook import (
    CELL_PADDING, LINE_HEIGHT, WIDTH_CAP, WIDTH_FLOOR, Column, WorkbookWriter, column, content_chars,
    fitted_width, raw_column,
)


def _write(tmp_path: Path, columns: list[Column], rows: int) -> openpyxl.Workbook:
    writer = WorkbookWriter(tmp_path / "w.xlsx")
    writer.table("Data", columns, rows)
    writer.close()
    return openpyxl.load_workbook(tmp_path / "w.xlsx")


def _widths(ws) -> dict[str, float]:
    """Header -> the column's width as the file holds it (rust_xlsxwriter adds Excel's 0.71 of padding)."""
    by_number = {n: dim.width for dim in ws.column_dimensions.values() for n in range(dim.min, dim.max + 1)}
    return {cell.value: by_number[cell.column] for cell in ws[1]}


@pytest.mark.parametrize(("kind", "values", "shown"), [
    ("money", [1234567.5, -0.25], "1,234,567.50"),
    ("money", [-1234.5, 2.0], "-1,234.50"),
    ("integer", [-784, 12, np.nan], "-784"),
    ("number", [12.5, 3.0, 1000.0], "1000.0"),           # General: 12.5 needs one decimal, so 1000.0 at most
    ("number", [0.125, 7.0], "0.125"),
    ("number", [1 / 3], "0.333333333"),                   # General stops at 11 characters
    ("date", pd.to_datetime(["2024-02-29", None]), "yyyy-mm-dd"),
    ("bool", [True, False], "FALSE"),
    ("money", [np.inf, 1.0], "-INF"),
])
def test_a_number_column_is_as_wide_as_its_widest_value_in_its_format(kind, values, shown) -> None:
    col = column("H", kind, pd.Series(values))
    assert content_chars(kind, col.values) == len(shown)


def test_text_counts_by_its_length_and_a_mixed_column_by_its_widest_kind() -> None:
    assert content_chars("text", pd.Series(["ab", None, "abcdef"]), np.array([2, 0, 6])) == 6
    mixed = raw_column("Raw", np.array(["ab", 3.25, None], dtype=object))
    assert content_chars("raw", mixed.values, np.array([2, 0, 0])) == 11      # a General number at most


def test_the_width_rule_pads_caps_floors_and_leaves_room_for_the_header() -> None:
    assert fitted_width("Name", 30) == 30 + CELL_PADDING
    assert fitted_width("Name", 500) == WIDTH_CAP
    assert fitted_width("X", 0, table=False) == WIDTH_FLOOR
    # a header wraps onto two lines, at the space that makes the longer line shortest ("Days Until"/"Expiration")
    narrow = fitted_width("Days Until Expiration", 4)
    assert len("Expiration") < narrow < len("Days Until Expiration")
    assert fitted_width("Days Until Expiration", 4, table=False) < narrow     # no filter button to make room for


def test_columns_are_fitted_to_their_cells(tmp_path: Path) -> None:
    name = "Northwestern Regional Veterinary Clinic Holdings Inc."
    ws = _write(tmp_path, [
        column("Customer Name", "text", pd.Series([name, "Acme"])),
        column("Email", "text", pd.Series(["a@x.com", None])),
        column("Notes", "text", pd.Series(["n" * 200, "short"])),
        column("Total Order Value", "money", pd.Series([1234567.5, 0.0])),
        column("Joined", "date", pd.Series(pd.to_datetime(["2024-02-29", None]))),
        column("High-Value At Risk", "bool", pd.Series([True, False])),
    ], 2)["Data"]
    widths = _widths(ws)
    assert len(name) + CELL_PADDING <= widths["Customer Name"] < len(name) + CELL_PADDING + 1
    assert widths["Email"] < 16                                    # no longer than it needs, and no wider
    assert widths["Notes"] == pytest.approx(WIDTH_CAP, abs=1)      # the cap holds for a long text
    assert widths["Total Order Value"] >= len("1,234,567.50") + CELL_PADDING
    assert widths["Joined"] >= len("2024-02-29") + CELL_PADDING
    assert widths["High-Value At Risk"] < len("High-Value At Risk")     # the header wraps instead...
    assert ws.row_dimensions[1].height == 2 * LINE_HEIGHT                # ...on a header row two lines tall


def test_a_header_row_that_fits_keeps_the_default_height(tmp_path: Path) -> None:
    ws = _write(tmp_path, [column("Name", "text", pd.Series(["Acme Incorporated"]))], 1)["Data"]
    assert ws.row_dimensions[1].height is None


def test_a_long_sheet_is_fitted_without_reading_it_cell_by_cell(tmp_path: Path) -> None:
    rows = 200_000
    names = pd.Series(np.where(np.arange(rows) % 1000 == 0, "x" * 40, "short name"), dtype=object)
    writer = WorkbookWriter(tmp_path / "w.xlsx")
    frame, _, widths = writer._frame([column("Name", "text", names),
                                      column("Value", "money", pd.Series(np.arange(rows) * 1.5))], 0, rows)
    assert widths == [40 + CELL_PADDING, fitted_width("Value", len("299,998.50"))]


def test_print_setup_per_sheet(tmp_path: Path) -> None:
    writer = WorkbookWriter(tmp_path / "w.xlsx")
    writer.table("Members", [column("Name", "text", pd.Series(["Acme"]))], 1)
    profile = "standard (recognised by Cust ID, Customer Name, Created Date, Expiration Date)"
    writer.summary("Summary", [("Run", [("Profile", profile), ("Rows in", 12)])])
    writer.bar_chart("Segments", "Segment", "Customers", [("Active Membership", 3), ("Expired", 1)], title="T")
    writer.close()
    book = openpyxl.load_workbook(tmp_path / "w.xlsx")
    members, summary, segments = book["Members"], book["Summary"], book["Segments"]
    assert members.page_setup.orientation == "landscape" and members.sheet_properties.pageSetUpPr.fitToPage
    assert (members.page_setup.fitToWidth or 1) == 1 and members.page_setup.fitToHeight == 0
    assert members.print_title_rows == "$1:$1"
    assert segments.page_setup.orientation == "landscape" and segments.sheet_properties.pageSetUpPr.fitToPage
    assert (segments.page_setup.fitToWidth or 1) == 1 and (segments.page_setup.fitToHeight or 1) == 1
    assert summary.sheet_properties.pageSetUpPr.fitToPage and summary.page_setup.fitToHeight == 0
    assert summary["B3"].value == profile and len(profile) > WIDTH_CAP
    assert summary["B3"].alignment.wrap_text and summary.row_dimensions[3].height == 2 * LINE_HEIGHT
    assert summary["B4"].value == 12 and summary.row_dimensions[4].height is None


def test_booleans_carry_a_format_that_shows_true_and_false(tmp_path: Path) -> None:
    ws = _write(tmp_path, [column("Active", "bool", pd.Series([True, False]))], 2)["Data"]
    assert ws["A2"].value is True and ws["A3"].value is False
    assert ws["A2"].number_format == '"TRUE";"TRUE";"FALSE"'
