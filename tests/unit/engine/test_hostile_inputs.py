"""Hostile and careless inputs past the safety gate: CSV lines and encodings, control characters,
and the reader's budget across a workbook's sheets (issue 17, Deliver 4 and 5)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
import python_calamine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hostile
from memberseg.cli import main
from memberseg.errors import InputError
from memberseg.header_check import check_headers
from memberseg.pipeline import check_file, read_input
from memberseg.read import read_table
from memberseg.rules import load_rules
from memberseg.safety import inspect_file

ORDERS = """Cust ID,Total Value
1000,12.50
"""


def _read(path: Path):
    return read_input(path, "memberships", load_rules())


def _refusal(path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        _read(path)
    return caught.value


def _cli_error(tmp_path: Path, memberships: Path, capsys) -> dict:
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS)
    out = tmp_path / "out"
    code = main(["run", "--memberships", str(memberships), "--orders", str(orders), "--out", str(out),
                 "--as-of", "2026-11-15"])
    capsys.readouterr()
    assert code == 2
    assert not (out / "hubspot_contacts.csv").exists()
    return json.loads((out / "error.json").read_text())["error"]


# ------------------------------------------------------------------ what a line is


def test_a_form_feed_in_a_title_line_loses_no_row(tmp_path: Path) -> None:
    table = _read(hostile.form_feed_title_csv(tmp_path, rows=3))
    assert table.header_row == 2
    assert table.rows.tolist() == [3, 4, 5]
    assert table.rows_in == 3
    assert table.column("customer_id").tolist() == ["1000", "1001", "1002"]


def test_the_header_check_agrees_with_the_reader_on_a_form_feed(tmp_path: Path) -> None:
    check = check_headers(hostile.form_feed_title_csv(tmp_path), "csv", "memberships", load_rules())
    assert (check.problem, check.row) == (None, 2)


LINE_BREAKS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]   # str.splitlines breaks at these
ENDINGS = ["\r\n", "\n", "\r"]
_word = st.text(alphabet="abcXYZ 01", min_size=1, max_size=6)
_odd_text = st.lists(st.one_of(_word, st.sampled_from(LINE_BREAKS)), min_size=1, max_size=6).map("".join)


@st.composite
def _titled_csv(draw) -> tuple[str, int, list[list[str]]]:
    """(CSV text, the header's index, the data records) with title lines full of Unicode line breaks."""
    ending = draw(st.sampled_from(ENDINGS))
    titles = []
    for _ in range(draw(st.integers(0, 4))):
        title = draw(_odd_text) + "".join(LINE_BREAKS)
        if draw(st.booleans()):  # a quoted title field that holds every record separator
            title = f'"{title}\r\n{draw(_odd_text)}\n{draw(_odd_text)}\r{title}",{draw(_word)}'
        titles.append(title)
    rows = []
    for i in range(draw(st.integers(1, 6))):
        if draw(st.integers(0, 5)) == 0:
            rows.append([])   # a blank line: not counted
            continue
        name = draw(st.one_of(_word, st.sampled_from(["x\u2028y", "x\x85y", "p\u2029q"])))
        quoted = draw(st.sampled_from(["", "\n", "\r\n", "\r"]))
        rows.append([str(1000 + i), f"{name}{quoted}{name}", "2024-01-01", "2025-01-01", f"m{i}@example.com",
                     "Gold"])

    def line(cells: list[str]) -> str:
        return ",".join(f'"{cell}"' if any(c in cell for c in '\r\n",') else cell for cell in cells)

    lines = titles + [",".join(hostile.MEMBERSHIP_HEADERS)] + [line(row) for row in rows]
    trailing = draw(st.sampled_from(["", ending]))
    return ending.join(lines) + trailing, len(titles), rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_titled_csv())
def test_the_header_search_and_the_parser_agree_on_what_a_line_is(case: tuple[str, int, list[list[str]]]) -> None:
    text, title_records, rows = case
    records = list(csv.reader(io.StringIO(text, newline="")))
    assert records[title_records] == hostile.MEMBERSHIP_HEADERS  # the generator's own check
    rules = load_rules()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.csv"
        path.write_bytes(text.encode("utf-8"))
        check = check_headers(path, "csv", "memberships", rules)
        table = _read(path)
    assert (check.problem, check.row) == (None, title_records + 1)
    assert table.header_row == title_records + 1
    # every data record is accounted for, with the row number a spreadsheet shows
    data = [(title_records + 2 + i, row) for i, row in enumerate(rows) if row]
    assert table.rows.tolist() == [number for number, _ in data]
    assert table.rows_in == len(data)
    assert table.column("customer_id").tolist() == [row[0] for _, row in data]
    assert table.column("customer_name").tolist() == [row[1] for _, row in data]


# ------------------------------------------------------------------ one file, one encoding


def test_a_windows_1252_byte_in_a_utf8_file_is_refused_naming_row_and_byte(tmp_path: Path) -> None:
    path = hostile.mixed_encoding_csv(tmp_path)
    offset = path.read_bytes().index(b"Ren\xe9e") + 3
    error = _refusal(path)
    assert (error.code, error.file, error.row) == ("mixed_encoding", "mixed_encoding.csv", 4)
    assert error.details == {"byte_offset": offset, "byte": "0xE9"}
    assert f"byte {offset:,} (0xE9, in row 4)" in error.message
    assert "'mixed_encoding.csv'" in error.message and "Re-save the file as UTF-8" in error.message


def test_the_header_check_refuses_a_mixed_start_before_pandas(tmp_path: Path) -> None:
    problem = check_headers(hostile.mixed_encoding_csv(tmp_path), "csv", "memberships", load_rules()).problem
    assert problem is not None and (problem.code, problem.row) == ("mixed_encoding", 4)


def test_a_mixed_encoding_is_refused_by_the_cli_with_exit_2(tmp_path: Path, capsys) -> None:
    error = _cli_error(tmp_path, hostile.mixed_encoding_csv(tmp_path), capsys)
    assert (error["code"], error["file"], error["row"]) == ("mixed_encoding", "mixed_encoding.csv", 4)


def test_a_windows_1252_file_still_reads_whole(tmp_path: Path) -> None:
    table = _read(hostile.valid_memberships_csv(tmp_path, encoding="cp1252"))
    assert table.column("customer_name").tolist()[0] == "Zoë Müller"


def test_utf8_with_and_without_bom_reads_the_same(tmp_path: Path) -> None:
    plain = _read(hostile.valid_memberships_csv(tmp_path, encoding="utf-8"))
    bom = _read(hostile.valid_memberships_csv(tmp_path, encoding="utf-8-sig"))
    assert plain.column("customer_name").tolist() == bom.column("customer_name").tolist()
    assert plain.column("customer_name").tolist()[0] == "Zoë Müller"


def test_a_byte_in_neither_encoding_is_refused(tmp_path: Path) -> None:
    path = hostile.undefined_cp1252_csv(tmp_path)
    error = _refusal(path)
    assert (error.code, error.file, error.row) == ("unknown_encoding", "undefined_byte.csv", 3)
    assert error.details == {"byte_offset": path.read_bytes().index(b"\x81"), "byte": "0x81"}


def test_a_late_mixed_byte_is_refused_by_the_full_read(tmp_path: Path) -> None:
    """The header check sees the first 256 KB only; the full read decides for the whole file."""
    path = tmp_path / "late.csv"
    lines = ["Cust ID,Customer Name,Created Date,Expiration Date"]
    lines += [f"{i},Zoë {i},2024-01-01,2025-01-01" for i in range(20000)]
    data = ("\n".join(lines) + "\n").encode("utf-8") + b"99,Ren\xe9e,2024-01-01,2025-01-01\n"
    path.write_bytes(data)
    assert check_headers(path, "csv", "memberships", load_rules()).problem is None
    error = _refusal(path)
    assert (error.code, error.row, error.details["byte_offset"]) == ("mixed_encoding", 20002, data.index(b"\xe9"))


# ------------------------------------------------------------------ control characters


def test_a_nul_past_the_gates_head_is_refused_naming_row_and_byte(tmp_path: Path) -> None:
    path = hostile.late_nul_csv(tmp_path, rows=2000)
    offset = path.read_bytes().index(b"\x00")
    assert offset > 64 * 1024
    error = _refusal(path)
    assert (error.code, error.file, error.row) == ("control_character", "late_nul.csv", 2001)
    assert error.details == {"byte_offset": offset, "byte": "0x00"}
    assert f"(0x00, NUL) in row 2,001, at byte {offset:,}" in error.message.replace("row 2001", "row 2,001")


def test_a_nul_never_reaches_the_hubspot_csv(tmp_path: Path, capsys) -> None:
    error = _cli_error(tmp_path, hostile.late_nul_csv(tmp_path), capsys)
    assert (error["code"], error["file"], error["row"]) == ("control_character", "late_nul.csv", 2001)


def test_a_control_character_in_a_quoted_cell_names_its_row(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text('Title\n' + ",".join(hostile.MEMBERSHIP_HEADERS) + '\n1,"two\nlines",2024-01-01,2025-01-01,,\n'
                    '2,"tab\tand\x0bVT",2024-01-01,2025-01-01,,\n', encoding="utf-8", newline="")
    error = _refusal(path)
    assert (error.code, error.row, error.details["byte"]) == ("control_character", 4, "0x0B")
    assert "vertical tab" in error.message


def test_control_characters_in_title_lines_are_not_read(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("Export\x0c\x1c\x1d\x1e\x0b\n" + ",".join(hostile.MEMBERSHIP_HEADERS) + "\n1,Ann\ttab,2024-01-01,"
                    "2025-01-01,,\n", encoding="utf-8", newline="")
    table = _read(path)
    assert table.column("customer_name").tolist() == ["Ann\ttab"]


# ------------------------------------------------------------------ a budget per workbook


def _rules(**overlay):
    return load_rules(overlay=overlay)


def _refusal_by_gate_or_read(path: Path, rules=None) -> InputError:
    with pytest.raises(InputError) as caught:
        read_input(path, "memberships", rules or load_rules())
    return caught.value


def test_decoy_sheets_are_refused_by_the_gate_before_any_parse(tmp_path: Path) -> None:
    path = hostile.decoy_sheets_xlsx(tmp_path, decoys=8)
    assert path.stat().st_size < 10_000
    with pytest.raises(InputError) as caught:
        inspect_file(path, load_rules().limits, role="memberships")
    error = caught.value
    assert (error.code, error.file, error.sheet) == ("workbook_too_large", "decoy_sheets.xlsx", "Decoy 3")
    assert error.details["cells"] == 3 * 24 * 1_041_666 and error.details["limit"] == "limits.max_workbook_cells"
    assert "limits.max_workbook_cells" in error.message and "'decoy_sheets.xlsx'" in error.message


def test_decoy_sheets_exit_2_through_the_cli(tmp_path: Path, capsys) -> None:
    error = _cli_error(tmp_path, hostile.decoy_sheets_xlsx(tmp_path), capsys)
    assert (error["code"], error["file"], error["sheet"]) == ("workbook_too_large", "decoy_sheets.xlsx", "Decoy 3")


def test_the_workbook_cell_limit_is_a_rules_key(tmp_path: Path) -> None:
    path = hostile.many_sheets_xlsx(tmp_path, sheets=3)
    assert inspect_file(path, load_rules().limits, role="memberships") == "xlsx"
    inspect_file(path, _rules(limits={"max_workbook_cells": 27}).limits, role="memberships")
    with pytest.raises(InputError) as caught:   # three sheets of one cell, then the data's 6 x 4 cells
        inspect_file(path, _rules(limits={"max_workbook_cells": 26}).limits, role="memberships")
    assert (caught.value.code, caught.value.sheet, caught.value.details["cells"]) == ("workbook_too_large", "Data", 27)


def _spy_on_parses(monkeypatch, allowed: set[str] | None = None) -> list[str]:
    """The names of the sheets calamine parses in full from now on; a sheet outside `allowed` fails the test."""
    parsed: list[str] = []
    real = python_calamine.CalamineWorkbook

    class Spy:
        def __init__(self, book) -> None:
            self.book = book

        @classmethod
        def from_path(cls, where: str) -> Spy:
            return cls(real.from_path(where))

        def get_sheet_by_name(self, name: str):
            parsed.append(name)
            if allowed is not None and name not in allowed:
                raise AssertionError(f"sheet {name!r} parsed")
            return self.book.get_sheet_by_name(name)

        def __getattr__(self, name: str):
            return getattr(self.book, name)

    monkeypatch.setattr(python_calamine, "CalamineWorkbook", Spy)
    return parsed


def test_sheets_before_the_headers_sheet_are_not_parsed(tmp_path: Path, monkeypatch) -> None:
    """Within the workbook limit, two decoys (each at the per-sheet limit) and the data: the header check
    finds the data's sheet from the first rows and the reader parses only that sheet."""
    path = hostile.decoy_sheets_xlsx(tmp_path, decoys=2)
    rules = load_rules()
    parsed = _spy_on_parses(monkeypatch, {"Data"})
    checked = check_file(path, "memberships", rules)
    assert (checked.problem, checked.sheet) == (None, "Data")
    table = read_input(path, "memberships", rules, checked=checked)
    assert parsed == ["Data"]
    assert (table.sheet, table.header_row, table.rows_in) == ("Data", 1, 3)


def test_without_the_header_checks_preview_decoys_are_still_not_parsed(tmp_path: Path, monkeypatch) -> None:
    """The reader's own search (the header check's preview of the whole workbook could not run): each sheet's
    first rows are read cheaply, and a decoy whose first rows hold no header is never parsed in full (each
    would cost calamine about 800 MB)."""
    path = hostile.decoy_sheets_xlsx(tmp_path, decoys=2)
    parsed = _spy_on_parses(monkeypatch, {"Data"})
    table = read_table(path, "xlsx", role="memberships", rules=load_rules())
    assert parsed == ["Data"]
    assert (table.sheet, table.header_row, table.rows_in) == ("Data", 1, 3)


def test_a_sheet_whose_first_rows_cannot_be_previewed_is_parsed_as_before(tmp_path: Path, monkeypatch) -> None:
    import memberseg.header_check

    path = hostile.many_sheets_xlsx(tmp_path, sheets=2)
    monkeypatch.setattr(memberseg.header_check, "MAX_PREVIEW_XML_BYTES", 10)   # no sheet can be previewed
    parsed = _spy_on_parses(monkeypatch)
    table = read_table(path, "xlsx", role="memberships", rules=load_rules())
    assert parsed == ["Sheet 1", "Sheet 2", "Data"]
    assert (table.sheet, table.rows_in) == ("Data", 3)


def test_more_sheets_than_the_budget_without_a_header_are_refused(tmp_path: Path) -> None:
    path = hostile.many_sheets_xlsx(tmp_path, sheets=5000)
    problem = check_headers(path, "xlsx", "memberships", load_rules()).problem
    assert problem is not None and (problem.code, problem.file) == ("too_many_sheets", "many_sheets.xlsx")
    assert problem.details == {"sheets": 5001, "limit": "limits.max_sheets", "max_sheets": 50}
    assert "limits.max_sheets" in problem.message and "inputs.memberships.sheet" in problem.message


def test_the_reader_keeps_the_sheet_budget_without_the_header_check(tmp_path: Path) -> None:
    path = hostile.many_sheets_xlsx(tmp_path, sheets=60)
    with pytest.raises(InputError) as caught:
        read_table(path, "xlsx", role="memberships", rules=_rules(limits={"max_sheets": 5}))
    assert (caught.value.code, caught.value.details["max_sheets"]) == ("too_many_sheets", 5)
    assert "limits.max_sheets" in caught.value.message


def test_many_sheets_read_when_the_data_comes_first_or_is_named(tmp_path: Path) -> None:
    first = hostile.many_sheets_xlsx(tmp_path, sheets=5000, data_at=0)
    assert check_headers(first, "xlsx", "memberships", load_rules()).sheet == "Data"
    assert _read(first).rows_in == 3
    last = hostile.many_sheets_xlsx(tmp_path, sheets=5000)
    named = _rules(inputs={"memberships": {"sheet": "Data"}})
    assert check_headers(last, "xlsx", "memberships", named).sheet == "Data"
    assert read_input(last, "memberships", named).rows_in == 3


def test_the_header_search_has_a_time_budget(tmp_path: Path) -> None:
    path = hostile.many_sheets_xlsx(tmp_path, sheets=3)
    rules = _rules(limits={"max_header_search_seconds": 1e-9})
    problem = check_headers(path, "xlsx", "memberships", rules).problem
    assert problem is not None and (problem.code, problem.file, problem.sheet) == (
        "header_search_too_slow", "many_sheets.xlsx", "Sheet 1")
    assert "limits.max_header_search_seconds" in problem.message and "inputs.memberships.sheet" in problem.message
    with pytest.raises(InputError) as caught:   # the reader's own search, as when the preview cannot run
        read_table(path, "xlsx", role="memberships", rules=rules)
    assert (caught.value.code, caught.value.details["limit"]) == ("header_search_too_slow",
                                                                  "limits.max_header_search_seconds")


@pytest.mark.parametrize("by", ["header check", "reader"])
def test_a_hidden_sheet_is_never_the_data_unless_named(tmp_path: Path, by: str) -> None:
    path = hostile.hidden_data_sheet_xlsx(tmp_path)
    if by == "header check":
        error = check_headers(path, "xlsx", "memberships", load_rules()).problem
    else:
        with pytest.raises(InputError) as caught:
            read_table(path, "xlsx", role="memberships", rules=load_rules())
        error = caught.value
    assert error is not None
    assert (error.code, error.file, error.sheet, error.column) == ("missing_column", "hidden_data.xlsx", "Summary",
                                                                   "expiration_date")
    assert error.details["hidden_sheet"] == "Data"
    assert "The hidden sheet 'Data' has the columns" in error.message
    assert "set inputs.memberships.sheet to 'Data'" in error.message


def test_a_named_hidden_sheet_is_read(tmp_path: Path) -> None:
    table = read_input(hostile.hidden_data_sheet_xlsx(tmp_path), "memberships",
                       _rules(inputs={"memberships": {"sheet": "Data"}}))
    assert (table.sheet, table.rows_in) == ("Data", 4)


def test_a_visible_sheet_with_the_columns_wins_over_an_earlier_hidden_one(tmp_path: Path) -> None:
    path = hostile.hidden_data_sheet_xlsx(tmp_path, visible_has_all=True)
    assert check_headers(path, "xlsx", "memberships", load_rules()).sheet == "Summary"
    assert (_read(path).sheet, read_table(path, "xlsx", role="memberships", rules=load_rules()).sheet) == (
        "Summary", "Summary")
