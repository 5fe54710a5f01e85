"""The analysis workbook as a user reads and prints it: LibreOffice Calc (headless) prints it to PDF, poppler
turns the PDF into text and PNG.

A workbook that reads well: every column as wide as its widest cell as shown (within the cap), with room for
its header (which may wrap onto a taller header row); the tables print landscape, one page wide, with the
header row on every page; the Summary wraps its long texts; the Segments sheet prints on one page, its chart
and every category label whole. Row numbers are whole numbers, in the cells and in the messages.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
from pathlib import Path

import openpyxl
import pytest

from builders import d, order, written_workbook
from office import convert, poppler
from memberseg.rules import load_rules
from memberseg.workbook import LINE_HEIGHT, WIDTH_CAP

pytestmark = [pytest.mark.e2e]

HEADERS = ["Cust ID", "Customer Name", "Region", "Created Date", "Expiration Date", "Contact Email", "Membership"]
LONG_NAME = "Northwestern Regional Veterinary Clinic Holdings Inc."
LONG_EMAIL = "accounts.payable.department@northwesternregionalvet.com"
TOO_LONG = "A region note far longer than any column may grow: " + "and so on " * 8
ROWS = [                                                      # sheet rows 2..7
    [1001, LONG_NAME, "North", d("2025-01-10"), d("2027-01-10"), LONG_EMAIL, "Enrolled"],
    [1002, "Acme Inc", TOO_LONG, d("2026-02-01"), d("2027-02-01"), "acme@x.com", "Enrolled"],
    [1003, "Bolt Co", "East", d("2026-03-01"), d("2027-03-01"), "acme@x.com", "Enrolled"],    # Acme's email
    [1004, "Blank Co", "West", d("2026-03-01"), None, "blank@x.com", "Enrolled"],            # rejected
    [1005, "No Mail Ltd", "West", d("2026-04-01"), d("2026-12-01"), None, "Not Enrolled"],   # no email
    [1001, LONG_NAME, "North", d("2024-01-10"), d("2025-01-10"), LONG_EMAIL, "Enrolled"],    # a renewal
]
ORDERS = [order(1001, 1234567.5, d("2026-03-01")), order(1002, -125.25, d("2026-01-05")),
          order(9009, 10, d("2026-01-01"), "Ghost Trading Company of the Far North")]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return written_workbook(tmp_path_factory.mktemp("layout"), HEADERS, ROWS, ORDERS)


@pytest.fixture(scope="module")
def book(written: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(written)


@pytest.fixture(scope="module")
def printed(written: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("printed")
    convert(written, out, "pdf")
    return out / f"{written.stem}.pdf"


@pytest.fixture(scope="module")
def pages(printed: Path) -> list[str]:
    count = int(re.search(r"^Pages:\s+(\d+)", poppler("pdfinfo", str(printed)), re.M).group(1))
    return [poppler("pdftotext", "-layout", "-f", str(n), "-l", str(n), str(printed), "-") for n in range(1, count + 1)]


def _widths(ws) -> dict[int, float]:
    """Column number -> width; openpyxl keeps adjacent columns of one width as one range."""
    widths = {}
    for dim in ws.column_dimensions.values():
        for number in range(dim.min, dim.max + 1):
            widths[number] = dim.width
    return widths


def _shown(cell) -> str:
    """The cell's text as a spreadsheet shows it, in the cell's number format."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, (int, float)):
        return {"#,##0.00": f"{value:,.2f}", "0": f"{value:.0f}"}.get(cell.number_format, f"{value:.10g}")
    return str(value)


def _first_line(page: str) -> str:
    return next((line.strip() for line in page.splitlines() if line.strip()), "")


def _png_size(path: Path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])     # the PNG's IHDR: width, height


@pytest.mark.parametrize("sheet", ["Members", "Summary", "Segments", "Duplicates Removed", "Needs Attention",
                                   "Excluded Rows", "Orders Without Membership"])
def test_each_column_is_as_wide_as_its_widest_cell_within_the_cap(book, sheet: str) -> None:
    ws = book[sheet]
    widths = _widths(ws)
    header_height = ws.row_dimensions[1].height or LINE_HEIGHT
    for number, cells in enumerate(ws.iter_cols(min_row=1), start=1):
        header, texts = str(cells[0].value), [_shown(cell) for cell in cells[1:]]
        width = widths.get(number)
        assert width is not None and width <= WIDTH_CAP + 1, (sheet, header, width)
        for text in texts:
            assert width >= min(len(text), WIDTH_CAP), (sheet, header, text, width)
        # the header fits on one line, or wraps (every word whole) onto a header row tall enough for it
        assert width >= max(len(word) for word in header.split()), (sheet, header, width)
        assert width >= len(header) + 2 or header_height >= 2 * LINE_HEIGHT, (sheet, header, width)


def test_a_column_of_long_text_stops_at_the_cap(book) -> None:
    widths = _widths(book["Members"])
    assert widths[HEADERS.index("Region") + 1] == pytest.approx(WIDTH_CAP, abs=1)
    assert widths[HEADERS.index("Customer Name") + 1] < WIDTH_CAP


@pytest.mark.parametrize("sheet", ["Members", "Duplicates Removed", "Needs Attention", "Excluded Rows",
                                   "Orders Without Membership"])
def test_tables_print_landscape_one_page_wide_with_the_header_on_every_page(book, sheet: str) -> None:
    ws = book[sheet]
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert (ws.page_setup.fitToWidth or 1) == 1 and ws.page_setup.fitToHeight == 0   # 0: as many pages long
    assert ws.print_title_rows == "$1:$1"


def test_summary_wraps_its_long_texts_on_rows_tall_enough(book) -> None:
    ws = book["Summary"]
    width = _widths(ws)[2]
    long_rows = [cell for (cell,) in ws.iter_rows(min_row=2, min_col=2, max_col=2)
                 if isinstance(cell.value, str) and len(cell.value) > width]
    assert long_rows, "the profile texts are longer than the column"
    for cell in long_rows:
        assert cell.alignment.wrap_text, cell.value
        assert ws.row_dimensions[cell.row].height >= 2 * LINE_HEIGHT, cell.value


def test_row_numbers_are_whole_numbers_in_cells_and_messages(book) -> None:
    ws = book["Needs Attention"]
    headers = [c.value for c in ws[1]]
    rows = [dict(zip(headers, values, strict=True)) for values in ws.iter_rows(min_row=2, values_only=True)]
    assert {(r["Customer ID"], r["Row"]) for r in rows} >= {("1004", 5), ("1003", 4), ("1005", 6)}
    for (cell,) in ws.iter_rows(min_row=2, min_col=4, max_col=4):
        assert cell.value is None or (float(cell.value).is_integer() and cell.number_format == "0"), cell.value
    taken = next(r["Reason"] for r in rows if r["Customer ID"] == "1003")
    assert "already belongs to customer 1002 (memberships row 3)," in taken, taken
    kept = [r[-2] for r in book["Duplicates Removed"].iter_rows(min_row=2, values_only=True)]
    assert kept == [2]


def test_members_print_one_page_wide_with_long_names_and_emails_whole(book, pages: list[str]) -> None:
    summary = next(n for n, page in enumerate(pages) if "As-of date" in page)
    members = pages[:summary]
    assert len(members) == 1, "a few members print on one page, every column on it"
    words = {word for header in (c.value for c in book["Members"][1]) for word in header.split()}
    assert words <= set(members[0].split()), words - set(members[0].split())
    assert LONG_NAME in members[0] and LONG_EMAIL in members[0]      # a cut cell prints cut


def test_segments_print_on_one_page_with_every_chart_label_whole(pages: list[str]) -> None:
    first = next(n for n, page in enumerate(pages) if _first_line(page).startswith("Segment "))
    after = next(n for n in range(first + 1, len(pages)) if _first_line(pages[n]).startswith("Cust ID"))
    assert after - first == 1, "the Segments sheet and its chart run over more than one page"
    page = pages[first]
    assert "Customers per segment" in page
    for seg in load_rules().segments:
        assert page.count(seg.label) >= 2, seg.label          # in the table and on the chart's axis


def test_members_and_segments_render_landscape(printed: Path, pages: list[str], tmp_path: Path) -> None:
    segments = next(n for n, page in enumerate(pages) if _first_line(page).startswith("Segment ")) + 1
    for number in (1, segments):
        poppler("pdftoppm", "-png", "-r", "40", "-f", str(number), "-l", str(number), str(printed),
                str(tmp_path / f"page{number}"))
        (image,) = tmp_path.glob(f"page{number}*.png")
        width, height = _png_size(image)
        assert width > height, (number, width, height)
