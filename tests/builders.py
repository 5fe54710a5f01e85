"""Small input files built by the tests themselves (xlsx via xlsxwriter, or CSV)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any, Iterable, Sequence

import xlsxwriter

MEMBERSHIP_HEADERS = ["Cust ID", "Customer Name", "Created Date", "Expiration Date", "Contact Email", "Membership"]
ORDER_HEADERS = ["Sold-To Party", "Customer Name", "Order Date", "Net Value"]


def write_xlsx(path: Path, headers: Sequence[str], rows: Iterable[Sequence[Any]], *,
               sheet: str = "Sheet1", title_rows: Sequence[str] = (), sheets_before: Sequence[str] = ()) -> Path:
    """Write one data sheet (optionally after other sheets and under title rows); dates as real dates."""
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    for name in sheets_before:
        book.add_worksheet(name).write_string(0, 0, "Notes: nothing to see here")
    sheet_ = book.add_worksheet(sheet)
    row_number = 0
    for title in title_rows:
        sheet_.write_string(row_number, 0, title)
        row_number += 1
    for col, header in enumerate(headers):
        sheet_.write_string(row_number, col, header)
    for row in rows:
        row_number += 1
        for col, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, (dt.date, dt.datetime)):
                sheet_.write_datetime(row_number, col, value, date_format)
            elif isinstance(value, bool):
                sheet_.write_boolean(row_number, col, value)
            elif isinstance(value, (int, float)):
                sheet_.write_number(row_number, col, value)
            else:
                sheet_.write_string(row_number, col, str(value))
    book.close()
    return path


def write_csv(path: Path, headers: Sequence[str], rows: Iterable[Sequence[Any]], *, delimiter: str = ",",
              encoding: str = "utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(headers)
        for row in rows:
            writer.writerow(["" if value is None else value for value in row])
    return path


def membership(cust_id: Any, name: str | None, created: Any, expires: Any, email: str | None = None,
               enrollment: str | None = "Enrolled") -> list[Any]:
    return [cust_id, name, created, expires, email, enrollment]


def order(cust_id: Any, value: Any, date: Any = None, name: str | None = None) -> list[Any]:
    return [cust_id, name, date, value]


def d(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def run_rows(tmp_path: Path, memberships: Sequence[Sequence[Any]], orders: Sequence[Sequence[Any]] = (), *,
             rules=None, as_of: dt.date = dt.date(2026, 11, 15), membership_headers=MEMBERSHIP_HEADERS,
             order_headers=ORDER_HEADERS):
    """Run the in-process pipeline on rows written to two small workbooks; return the Result."""
    from memberseg.pipeline import run_pipeline
    from memberseg.rules import load_rules

    mpath = write_xlsx(tmp_path / "memberships.xlsx", membership_headers, memberships)
    opath = write_xlsx(tmp_path / "orders.xlsx", order_headers, orders)
    return run_pipeline(mpath, opath, rules or load_rules(), as_of)


def rules_with(changes: dict):
    """The default rules with some keys replaced, e.g. {"consolidation": {"dedupe_key": "email"}}."""
    import yaml
    from importlib import resources

    from memberseg.rules import Rules

    data = yaml.safe_load(resources.files("memberseg").joinpath("default_rules.yaml").read_text())

    def merge(target: dict, patch: dict) -> None:
        for key, value in patch.items():
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                merge(target[key], value)
            else:
                target[key] = value

    merge(data, changes)
    return Rules.model_validate(data)


def written_workbook(root: Path, membership_headers: Sequence[str], memberships: Sequence[Sequence[Any]],
                     orders: Sequence[Sequence[Any]], as_of: dt.date = dt.date(2026, 11, 15)) -> Path:
    """Run the whole job (as the CLI does, in this process) on rows written to two small workbooks; return
    the analysis workbook it wrote."""
    from memberseg.runner import run_job

    members = write_xlsx(root / "members.xlsx", membership_headers, memberships, sheet="Members")
    orders_file = write_xlsx(root / "orders.xlsx", ORDER_HEADERS, orders, sheet="Orders")
    outcome = run_job(members, orders_file, root / "out", as_of=as_of, isolate=False)
    assert outcome.ok, outcome.error
    return root / "out" / "membership_segments.xlsx"


# A complete user profile (what profiles.acme_members holds), for the job flow's and the API's profile tests.
ACME_PROFILE = """\
title: Acme members
platform: Acme
export: Acme > Members > Export
source: a test
memberships:
  signature: [acme_member_no, acme_plan]
  names: person
  fields:
    email: {aliases: [mail]}
    created_date: {required: true, aliases: [joined]}
    expiration_date: {required: true, aliases: [until]}
"""
