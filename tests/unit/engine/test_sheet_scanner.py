"""The pure sheet scanner: its fast path must give exactly what its exact mode gives."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memberseg.safety.scanner import SheetBounds, col_letters, col_number, scan_sheet, scan_sheet_exactly_if_needed

CELL_FORMS = ('<c r="{ref}" t="s"><v>1</v></c>', '<c r="{ref}"/>', '<c r="{ref}"><v>2.5</v></c>',
              "<c r='{ref}' s=\"1\"/>", '<x:c r="{ref}"/>', '<c s="2" r="{ref}"/>')
UNREFERENCED_CELL = "<c><v>3</v></c>"


@st.composite
def sheets(draw, *, allow_unreferenced: bool = False) -> tuple[bytes, list[int]]:
    """A worksheet XML and the chunk sizes to feed it in."""
    dimension = col_letters(draw(st.integers(1, 18_000))) + str(draw(st.integers(1, 2_000_000)))
    parts = [f'<?xml version="1.0"?><worksheet><dimension ref="A1:{dimension}"/><sheetData>']
    for _ in range(draw(st.integers(0, 12))):
        row = draw(st.integers(1, 2_000_000))
        parts.append(f'<row r="{row}">' if draw(st.booleans()) or not allow_unreferenced else "<row>")
        for _ in range(draw(st.integers(0, 6))):
            if allow_unreferenced and draw(st.integers(0, 4)) == 0:
                parts.append(UNREFERENCED_CELL)
                continue
            column = draw(st.integers(1, 18_000))
            cell_row = row if draw(st.integers(0, 5)) else draw(st.integers(1, 2_000_000))
            parts.append(draw(st.sampled_from(CELL_FORMS)).format(ref=f"{col_letters(column)}{cell_row}"))
        parts.append("</row>")
    parts.append("</sheetData></worksheet>")
    xml = "".join(parts).encode()
    sizes = draw(st.lists(st.integers(1, 200), min_size=1, max_size=40))
    return xml, sizes


def chunked(xml: bytes, sizes: list[int]) -> list[bytes]:
    chunks, at, i = [], 0, 0
    while at < len(xml):
        size = sizes[i % len(sizes)]
        chunks.append(xml[at:at + size])
        at, i = at + size, i + 1
    return chunks


bounds_strategy = st.builds(SheetBounds, max_rows=st.sampled_from([10, 1000, 1_048_576]),
                            max_columns=st.sampled_from([5, 1000, 16_384]),
                            max_cells=st.sampled_from([8, 25_000_000]))


@settings(max_examples=400, deadline=None)
@given(sheet=sheets(), bounds=bounds_strategy)
def test_fast_path_equals_exact_mode(sheet, bounds):
    xml, sizes = sheet
    fast = scan_sheet(chunked(xml, sizes), bounds)
    exact = scan_sheet(chunked(xml, sizes), bounds, exact=True)
    assert not fast.needs_exact
    assert dataclasses.asdict(fast) == dataclasses.asdict(exact)


@settings(max_examples=200, deadline=None)
@given(sheet=sheets(allow_unreferenced=True), bounds=bounds_strategy)
def test_cells_without_references_fall_back_to_exact_mode(sheet, bounds):
    xml, sizes = sheet
    scan = scan_sheet_exactly_if_needed(lambda: iter(chunked(xml, sizes)), bounds)
    exact = scan_sheet(chunked(xml, sizes), bounds, exact=True)
    assert dataclasses.asdict(scan) == dataclasses.asdict(exact)


def test_exact_mode_places_cells_without_references_by_position():
    xml = b'<sheetData><row r="7"><c/><c/><c r="E7"/><c/></row><row><c/></row></sheetData>'
    scan = scan_sheet([xml], SheetBounds(100, 100, 100), exact=True)
    assert (scan.max_row, scan.max_col, scan.n_cells, scan.n_rows) == (8, 6, 5, 2)


def test_a_far_cell_stops_the_scan_and_names_the_cell():
    xml = b'<sheetData><row r="1"><c r="A1"/></row><row r="1048576"><c r="XFD1048576"/></row></sheetData>'
    scan = scan_sheet([xml], SheetBounds(1_048_576, 1000, 25_000_000))
    assert scan.stopped and scan.bad_ref == "XFD1048576"


@given(st.integers(1, 18_278))
def test_column_letters_round_trip(number):
    assert col_number(col_letters(number)) == number


def test_columns_longer_than_three_letters_are_past_any_sheet():
    assert col_number("AAAA") > 16_384 and col_number(b"xfd") == 16_384


def test_repeated_row_numbers_do_not_force_exact_mode():
    xml = b'<dimension ref="A1:A1"/><sheetData><row r="1"></row><row r="2"></row><row r="1"></row></sheetData>'
    scan = scan_sheet([xml], SheetBounds(100, 100, 100))
    assert not scan.needs_exact and scan.max_row == 2 and scan.n_rows == 3


@st.composite
def written_sheets(draw) -> tuple[bytes, list[int]]:
    """A sheet as writers emit it (rising rows, <c r="B7">), perhaps with one odd or far tag hidden in it,
    and chunk sizes from a few bytes to several rows, so that the fast path's row bounds are exercised."""
    width = draw(st.integers(1, 30))
    start = draw(st.sampled_from([1, 95, 990, 4_095, 9_990, 99_990, 500_095, 1_000_095, 1_048_500]))
    n_rows = draw(st.integers(0, 60))
    step = draw(st.sampled_from([1, 1, 1, 3, 17]))
    rows = [start + i * step for i in range(n_rows)]
    parts = ['<worksheet><dimension ref="A1"/><sheetData>']
    for row in rows:
        parts.append(f'<row r="{row}">' + "".join(f'<c r="{col_letters(c)}{row}"><v>1</v></c>'
                                                   for c in range(1, draw(st.integers(1, width)) + 1)) + "</row>")
    if n_rows and draw(st.booleans()):
        at = draw(st.integers(0, len(parts)))
        last = rows[-1]
        odd = draw(st.sampled_from([
            f'<c r="A{last + draw(st.integers(1, 120))}"/>', f'<c r="{col_letters(width + 1)}{start}"/>',
            f'<row r="{last + draw(st.integers(1, 1200))}"/>', f'<c r="A0{last}"/>', f'<c r="{last}"/>', '<c r=""/>',
            '<row r=""/>', f'<c r="a{start}"/>', f'<c s="1" r="B{start}"/>', "<c/>", f'<x:c r="A{last + 1}"/>',
            f'<row r="{last + 5}"><c r="A{last + 5}"/></row><row r="{last + 1}"/>', f'<c r="A{10 * last}"/>']))
        parts.insert(at, odd)
    parts.append("</sheetData></worksheet>")
    xml = "".join(parts).encode()
    sizes = draw(st.lists(st.integers(1, 4000), min_size=1, max_size=10))
    return xml, sizes


@settings(max_examples=600, deadline=None)
@given(sheet=written_sheets(), bounds=bounds_strategy)
def test_fast_path_equals_exact_mode_on_written_sheets(sheet, bounds):
    xml, sizes = sheet
    scan = scan_sheet_exactly_if_needed(lambda: iter(chunked(xml, sizes)), bounds)
    exact = scan_sheet(chunked(xml, sizes), bounds, exact=True)
    assert dataclasses.asdict(scan) == dataclasses.asdict(exact)


@pytest.mark.parametrize("hidden", ['<c r="A1000150"/>', '<row r="1000150"/>'])
def test_a_row_number_beyond_the_last_row_but_within_its_prefix_bound_is_found(hidden):
    # Rows 1,000,095 to 1,000,103 share the prefix 1000 then [0-1]: the cheap check bounds them by 1,000,199.
    rows = [f'<row r="{r}"><c r="A{r}"/></row>' for r in range(1_000_095, 1_000_104)]
    xml = ("<sheetData>" + "".join(rows[:4]) + hidden + "".join(rows[4:]) + "</sheetData>").encode()
    bounds = SheetBounds(1_048_576, 16_384, 25_000_000)
    scan = scan_sheet([xml[:60], xml[60:]], bounds)
    exact = scan_sheet([xml[:60], xml[60:]], bounds, exact=True)
    assert scan.max_row == 1_000_150 and dataclasses.asdict(scan) == dataclasses.asdict(exact)
