"""Issue 16 §6: messages that lead somewhere. A date the export simply lacks is not met with "add an alias";
two files uploaded in each other's place are swapped (both surely the other's role) or refused as
swapped_files (one surely is)."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from builders import MEMBERSHIP_HEADERS, ORDER_HEADERS, d, membership, order, write_csv, write_xlsx
from memberseg.cli import main
from memberseg.errors import InputError
from memberseg.header_check import check_headers
from memberseg.pipeline import run_pipeline
from memberseg.rules import load_rules

AS_OF = "2026-11-15"


def _problem(tmp_path: Path, header: str) -> InputError:
    path = tmp_path / "members.csv"
    path.write_text(header + "\nC-1,Acme,01/05/2025,01/05/2026\n", encoding="utf-8")
    problem = check_headers(path, "csv", "memberships", load_rules()).problem
    assert problem is not None and problem.code == "missing_column"
    return problem


def test_an_end_date_the_export_lacks_is_met_with_what_can_stand_in_not_an_alias(tmp_path):
    problem = _problem(tmp_path, "Cust ID,Customer Name,Created Date,Plan")
    assert problem.column == "expiration_date"
    assert "None of them looks like an expiration date, so the export seems to lack one." in problem.message
    assert ("What can stand in for it: a term rule (memberships derived from payments: term in docs/rules.md), or "
            "status alone (status_alone) when the export has no dates at all.") in problem.message
    assert "To accept another header, add it to" not in problem.message
    assert problem.details["stand_ins"] == ["term", "status_alone"]


def test_a_created_date_the_export_lacks_names_the_first_payment_too(tmp_path):
    problem = _problem(tmp_path, "Cust ID,Customer Name,Plan,Expiration Date")
    assert problem.column == "created_date"
    assert "created_from: first_payment" in problem.message and "status_alone" in problem.message
    assert problem.details["stand_ins"] == ["term", "created_from", "status_alone"]


def test_a_close_header_keeps_the_alias_advice(tmp_path):
    problem = _problem(tmp_path, "Cust ID,Customer Name,Created Date,Expiry Dt")
    assert ("The closest header is 'Expiry Dt'. To accept another header, add it to "
            "inputs.memberships.fields.expiration_date.aliases in a rules file.") in problem.message
    assert "stand_ins" not in problem.details and "stand in" not in problem.message


def _files(folder: Path) -> tuple[Path, Path]:
    members = write_xlsx(folder / "members.xlsx", MEMBERSHIP_HEADERS, [
        membership(1001, "Acme Inc", d("2026-01-10"), d("2027-01-10"), "acme@x.com"),
        membership(1002, "Beta Co", d("2026-01-01"), d("2027-01-01"), "beta@x.com"),
    ])
    orders = write_xlsx(folder / "sales.xlsx", ORDER_HEADERS, [order(1001, 1500, d("2026-02-01")), order(1002, 20)])
    return members, orders


def _run(memberships: Path, orders: Path, out: Path, capsys) -> tuple[int, str]:
    code = main(["run", "--memberships", str(memberships), "--orders", str(orders), "--out", str(out),
                 "--as-of", AS_OF])
    return code, capsys.readouterr().out


def test_two_files_in_each_others_place_are_swapped_and_said_so(tmp_path, capsys):
    members, orders = _files(tmp_path)
    code, _ = _run(members, orders, tmp_path / "right", capsys)
    assert code == 0
    code, summary = _run(orders, members, tmp_path / "swapped", capsys)     # each in the other's slot
    assert code == 0
    report = json.loads((tmp_path / "swapped" / "report.json").read_text(encoding="utf-8"))
    inputs = report["inputs"]
    assert inputs["swapped"] is True and inputs["memberships"]["file"] == "members.xlsx"
    assert inputs["orders"]["file"] == "sales.xlsx"
    assert inputs["swapped_reason"] == (
        "the memberships file 'sales.xlsx' is an orders export (its headers fit the profile standard as orders); "
        "the orders file 'members.xlsx' is a memberships export (its headers fit the profile standard as "
        "memberships). memberseg read each file in the other's place.")
    assert f"  swapped:     {inputs['swapped_reason']}" in summary
    right = (tmp_path / "right" / "hubspot_contacts.csv").read_bytes()
    assert (tmp_path / "swapped" / "hubspot_contacts.csv").read_bytes() == right
    summary_sheet = openpyxl.load_workbook(tmp_path / "swapped" / "membership_segments.xlsx")["Summary"]
    rows = {row[0]: row[1] for row in summary_sheet.iter_rows(values_only=True) if row and row[0]}
    assert rows["Files swapped"] == inputs["swapped_reason"] and rows["Memberships file"] == "members.xlsx"
    unswapped = json.loads((tmp_path / "right" / "report.json").read_text(encoding="utf-8"))["inputs"]
    assert "swapped" not in unswapped and "swapped_reason" not in unswapped


def test_an_orders_export_beside_a_file_that_fits_neither_looks_swapped(tmp_path):
    _, orders = _files(tmp_path)
    unknown = write_csv(tmp_path / "export.csv", ["Foo", "Bar"], [["1", "2"]])
    with pytest.raises(InputError) as raised:
        run_pipeline(orders, unknown, load_rules(), d("2026-11-15").date(), parallel=False)
    error = raised.value
    assert error.code == "swapped_files" and error.message.startswith(
        "These look swapped: the memberships file 'sales.xlsx' is an orders export (its headers fit the profile "
        "standard as orders). Upload the memberships export as the memberships file and the orders export as the "
        "orders file, then run again. Read in the other's place, the other file does not fit either: The "
        "memberships file 'export.csv' has no customer_id column")
    assert [problem["file"] for problem in error.details["problems"]] == ["sales.xlsx", "export.csv"]


def test_two_orders_files_are_not_a_swap(tmp_path):
    _, orders = _files(tmp_path)
    other = write_xlsx(tmp_path / "more.xlsx", ORDER_HEADERS, [order(1001, 5)])
    with pytest.raises(InputError) as raised:
        run_pipeline(orders, other, load_rules(), d("2026-11-15").date(), parallel=False)
    assert raised.value.code == "missing_column" and raised.value.file == "sales.xlsx"
