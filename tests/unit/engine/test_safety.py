"""The pre-parse safety gate: every check, on real files built by tests/hostile.py.

Hostile files are never opened with calamine or openpyxl here (calamine aborts the process).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import hostile
import pytest

from memberseg.errors import InputError
from memberseg.rules import Limits, load_rules
from memberseg.safety import inspect_file

LIMITS = load_rules().limits   # the defaults, from default_rules.yaml


def limits_with(**changes: float) -> Limits:
    """The default limits with some replaced."""
    return Limits.model_validate(LIMITS.model_dump() | changes)


def reject(path: Path, code: str, *words: str, limits: Limits = LIMITS, role: str = "memberships") -> InputError:
    with pytest.raises(InputError) as info:   # how fast: scripts/gate_check.py and scripts/refusal_bench.py
        inspect_file(path, limits, role=role)
    err = info.value
    assert err.code == code, err.message
    assert err.file == path.name
    assert path.name in err.message
    assert f"The {role} file" in err.message
    for word in words:
        assert word.lower() in err.message.lower(), err.message
    return err


# --- valid inputs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "kind"),
    [
        (hostile.valid_memberships_xlsx, "xlsx"),
        (hostile.valid_memberships_xlsm, "xlsx"),
        (hostile.valid_memberships_xls, "xls"),
        (hostile.empty_workbook_xlsx, "xlsx"),
        (hostile.title_rows_xlsx, "xlsx"),
        (hostile.second_sheet_xlsx, "xlsx"),
        (hostile.formula_injection_memberships_xlsx, "xlsx"),
    ],
)
def test_valid_workbooks_pass(tmp_path, factory, kind):
    assert inspect_file(factory(tmp_path), LIMITS, role="memberships") == kind


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_valid_csv_passes(tmp_path, encoding):
    path = hostile.valid_memberships_csv(tmp_path, encoding=encoding)
    assert inspect_file(path, LIMITS, role="orders") == "csv"


def test_extension_is_case_insensitive(tmp_path):
    path = hostile.valid_memberships_xlsx(tmp_path, name="MEMBERS.XLSX")
    assert inspect_file(path, LIMITS, role="memberships") == "xlsx"


def test_larger_valid_sheet_passes(tmp_path):   # its speed: scripts/gate_check.py --big-valid
    path = hostile.valid_memberships_xlsx(tmp_path, rows=5000)
    assert inspect_file(path, LIMITS, role="memberships") == "xlsx"


# --- file-level checks ------------------------------------------------------------------


def test_missing_file(tmp_path):
    reject(tmp_path / "nope.xlsx", "file_not_found", "not found")


def test_empty_file(tmp_path):
    reject(hostile.empty_file(tmp_path), "empty_file", "empty")


def test_file_too_large(tmp_path):
    path = hostile.valid_memberships_csv(tmp_path, rows=50)
    reject(path, "file_too_large", "MB", limits=limits_with(max_file_bytes=100))


@pytest.mark.parametrize("name", ["members.txt", "members.ods", "members", "members.xlsb"])
def test_unsupported_extension(tmp_path, name):
    path = tmp_path / name
    path.write_text("a,b\n1,2\n")
    reject(path, "unsupported_format", ".xlsx", ".csv")


# --- format detection ---------------------------------------------------------------------


def test_csv_renamed_xlsx(tmp_path):
    reject(hostile.csv_renamed_xlsx(tmp_path), "format_mismatch", "named .xlsx", "CSV text", ".csv")


def test_zip_renamed_xls(tmp_path):
    reject(hostile.zip_renamed_xls(tmp_path), "format_mismatch", "named .xls", "Rename it to .xlsx")


def test_zip_renamed_csv(tmp_path):
    reject(hostile.zip_renamed_csv(tmp_path), "format_mismatch", "named .csv", ".xlsx")


def test_xls_renamed_csv(tmp_path):
    reject(hostile.xls_renamed_csv(tmp_path), "format_mismatch", "named .csv", ".xls")


def test_ole_not_encrypted_named_xlsx(tmp_path):
    reject(hostile.ole_not_encrypted_xlsx(tmp_path), "format_mismatch", "old-style", ".xls")


def test_encrypted_xlsx(tmp_path):
    reject(hostile.encrypted_xlsx(tmp_path), "encrypted_file", "password", "Encrypt with Password")


def test_encrypted_workbook_named_xls(tmp_path):
    path = hostile.encrypted_xlsx(tmp_path)
    renamed = path.with_name("encrypted.xls")
    path.rename(renamed)
    reject(renamed, "encrypted_file", "password")


def test_garbage_bytes(tmp_path):
    reject(hostile.garbage_xlsx(tmp_path), "not_a_spreadsheet", "not an Excel workbook")


def test_csv_with_nul(tmp_path):
    reject(hostile.csv_with_nul(tmp_path), "not_a_spreadsheet", "not a text file")


def test_csv_too_many_rows(tmp_path):
    path = hostile.csv_too_many_rows(tmp_path, lines=102)
    reject(path, "too_many_rows", "102", limits=limits_with(max_rows=100))
    ok = hostile.csv_too_many_rows(tmp_path, lines=101)
    assert inspect_file(ok, limits_with(max_rows=100), role="orders") == "csv"


def test_an_orders_file_past_a_limit_is_never_advised_to_be_split(tmp_path):
    """A run reads one orders file: split parts would give each customer a partial total, with no error."""
    path = hostile.csv_too_many_rows(tmp_path, lines=102)
    err = reject(path, "too_many_rows", "do not split", "limits.max_rows", limits=limits_with(max_rows=100),
                 role="orders")
    assert "smaller files" not in err.message and "split it" not in err.message
    path.write_text("Customer ID,Total Value\n" + "c1,5\n" * 500, encoding="utf-8")
    large = reject(path, "file_too_large", "do not split", "limits.max_file_bytes",
                   limits=limits_with(max_file_bytes=1024), role="orders")
    assert "or split it" not in large.message
    assert "Split it into smaller files" in reject(path, "too_many_rows", limits=limits_with(max_rows=100)).message


# --- zip structure ---------------------------------------------------------------------------


def test_truncated_xlsx(tmp_path):
    reject(hostile.truncated_xlsx(tmp_path), "corrupt_file", "damaged")


def test_zip_without_workbook(tmp_path):
    reject(hostile.no_workbook_zip_xlsx(tmp_path), "corrupt_file", "not an Excel workbook")


def test_too_many_entries(tmp_path):
    reject(hostile.too_many_entries_xlsx(tmp_path, entries=60), "unsafe_file", "internal parts",
           limits=limits_with(max_zip_entries=50))


def test_zip_bomb_ratio(tmp_path):
    path = hostile.zip_bomb_xlsx(tmp_path)
    assert path.stat().st_size < 5_000_000
    reject(path, "unsafe_file", "zip bomb", "xl/worksheets/sheet1.xml")


def test_total_uncompressed_size(tmp_path):
    path = hostile.zip_bomb_xlsx(tmp_path, megabytes=20)
    reject(path, "unsafe_file", "would unpack to",
           limits=limits_with(max_compression_ratio=10_000, max_uncompressed_bytes=10_000_000))


@pytest.mark.parametrize(("part", "utf16"), [("sharedStrings", False), ("sheet", False), ("sheet", True)])
def test_doctype_entity_bomb(tmp_path, part, utf16):
    reject(hostile.doctype_xlsx(tmp_path, part, utf16=utf16), "unsafe_file", "document type declaration")


# --- worksheet bounds --------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["dimension", "no_dimension", "lying_dimension"])
def test_far_cell(tmp_path, variant):
    path = hostile.far_cell_xlsx(tmp_path, variant)
    assert path.stat().st_size < 5000
    err = reject(path, "sheet_too_large", "XFD1048576", "Sheet1")
    assert err.sheet == "Sheet1"


def test_far_row_only(tmp_path):
    reject(hostile.far_cell_xlsx(tmp_path, "no_dimension", ref="A2000000"), "sheet_too_large", "A2000000")


def test_lying_dimension_alone(tmp_path):
    reject(hostile.far_dimension_xlsx(tmp_path), "sheet_too_large", "A1:XFD1048576")


def test_far_cell_in_odd_syntax(tmp_path):
    reject(hostile.odd_syntax_far_cell_xlsx(tmp_path), "sheet_too_large", "XFD1048576")


def test_cells_without_r_attribute(tmp_path):
    reject(hostile.rless_wide_xlsx(tmp_path), "sheet_too_large", "column")


def test_too_many_cells(tmp_path):
    path = hostile.valid_memberships_xlsx(tmp_path, rows=200)
    reject(path, "sheet_too_large", "cells", limits=limits_with(max_cells=600))


def test_too_many_rows_in_sheet(tmp_path):
    path = hostile.valid_memberships_xlsx(tmp_path, rows=200)
    reject(path, "sheet_too_large", "row", limits=limits_with(max_rows=100))


def test_too_many_columns_in_sheet(tmp_path):
    path = hostile.valid_memberships_xlsx(tmp_path, rows=3)
    reject(path, "sheet_too_large", "column", limits=limits_with(max_columns=4))


@pytest.mark.parametrize("ref", ["XFD1048576", "C5", "ALM10", "A1048577", "A100000", "c7", "$Z$9"])
def test_far_cell_hidden_mid_sheet(tmp_path, ref):
    # 3000 ordinary rows of two columns; one extra cell in row 1500 is the only thing out of line.
    path = hostile.hidden_far_cell_xlsx(tmp_path, ref)
    limits = limits_with(max_columns=2, max_rows=3000)
    reject(path, "sheet_too_large", limits=limits)


@pytest.mark.parametrize("entries", [60, 70_000])  # 70,000 > 65,535: the count is in the zip64 end record
def test_the_entry_count_is_read_from_the_end_record_before_the_directory(tmp_path, entries):
    from memberseg.safety.container import declared_entries

    path = hostile.too_many_entries_xlsx(tmp_path, entries=entries)
    with zipfile.ZipFile(path) as archive:
        assert declared_entries(path) == len(archive.infolist()) > entries


def test_an_understated_end_record_is_still_caught_by_the_directory(tmp_path):
    path = hostile.too_many_entries_xlsx(tmp_path, entries=60)
    data = bytearray(path.read_bytes())
    at = data.rfind(b"PK\x05\x06")
    data[at + 8:at + 12] = (3).to_bytes(2, "little") * 2   # claims 3 entries
    path.write_bytes(bytes(data))
    reject(path, "unsafe_file", "internal parts", limits=limits_with(max_zip_entries=50))
