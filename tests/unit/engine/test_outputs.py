"""The four outputs, read back independently (openpyxl, the zip's XML, csv, json).

One small hand-built input whose expected outputs follow from the spec (as-of 2026-11-15):

memberships (xlsx; Excel rows)
  r2  "00777"  Acme Inc          2025-01-10 -> 2026-01-10  acme@x.com   Expired (current record of a renewal chain)
  r3  2001     =HYPERLINK(...)   2026-01-01 -> 2026-12-01  hy@x.com     Expiring Soon
  r4  3003     +1+1              2026-02-01 -> 2027-06-01  plus@x.com   Active
  r5  4004     -2                2026-02-01 -> 2027-07-01  dup@x.com    Active
  r6  5005     @SUM(A1)          2026-02-01 -> 2027-08-01  dup@x.com    Active, left out of HubSpot (email taken)
  r7  6006     \\tTab            2026-02-01 -> 2027-09-01  tab@x.com    Active
  r8  8008     \\rCR Corp        2026-02-01 -> 2027-10-01  cr@x.com     Active
  r9  9009     Plain Co          2026-02-01 -> 2027-11-01  (none)       Active, Not Enrolled, left out (no email)
  r10 7007     Bad Dates         garbage                               rejected
  r11 "00777"  Acme Inc          2024-01-10 -> 2025-01-10              renewal -> Duplicates Removed
orders (xlsx)
  r2 777 1234.50 (2025-03-01) | r3 2001 -125 | r4 3003 -0.001 | r5 "0999" Ghost 10 | r6 999 Ghost Two 5.5
  r7 (no id) 50 -> rejected | r8 4004 "abc" -> rejected
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import openpyxl
import pytest
import yaml

import memberseg
from builders import ORDER_HEADERS, d, order, write_xlsx
from memberseg.pipeline import run_pipeline
from memberseg.write import write_outputs
from memberseg.rules import load_rules

AS_OF = dt.date(2026, 11, 15)
HEADERS = ["Cust ID", "Customer Name", "Region", "Created Date", "Expiration Date", "Contact Email", "Membership"]
HYPERLINK = '=HYPERLINK("http://x","y")'
ADDED = ["Member Since", "First Joined", "Renewal Count", "Lapse Count", "Records Merged", "Total Order Value",
         "Order Count", "Last Order Date", "Estimated Savings", "Order Value Tier", "Membership Status",
         "Days Until Expiration"]
SEGMENTS = [  # (property, label) in the spec's order
    ("active_membership", "Active Membership"), ("expiring_soon", "Expiring Soon"),
    ("expired_membership", "Expired"), ("recently_renewed", "Recently Renewed"), ("new_member", "New Member"),
    ("not_enrolled", "Not Enrolled"), ("high_value_customer", "High-Value Customer"),
    ("high_value_at_risk", "High-Value At Risk"), ("low_value_at_risk", "Low-Value At Risk"),
]
CSV_HEADER = ["email", "company", "cust_id", "membership_status", "membership_start_date",
              "membership_expiration_date", "member_since", "renewal_count",
              "total_order_value", "order_count", "estimated_savings", "order_value_tier"] + [p for p, _ in SEGMENTS] \
    + ["membership_status_changed_at", "previous_membership_status"] + [f"{p}_since" for p, _ in SEGMENTS]
SHEETS = ["Members", "Summary", "Segments", "Duplicates Removed", "Needs Attention", "Excluded Rows",
          "Orders Without Membership", "Changes"]
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}

MEMBER_ROWS = [
    ["00777", "Acme Inc", "East", d("2025-01-10"), d("2026-01-10"), "acme@x.com", "Enrolled"],
    [2001, HYPERLINK, "=SUM(1,2)", d("2026-01-01"), d("2026-12-01"), "hy@x.com", "Enrolled"],
    [3003, "+1+1", "West", d("2026-02-01"), d("2027-06-01"), "plus@x.com", "Enrolled"],
    [4004, "-2", "West", d("2026-02-01"), d("2027-07-01"), "dup@x.com", "Enrolled"],
    [5005, "@SUM(A1)", "West", d("2026-02-01"), d("2027-08-01"), "dup@x.com", "Enrolled"],
    [6006, "\tTab", "West", d("2026-02-01"), d("2027-09-01"), "tab@x.com", "Enrolled"],
    [8008, "\rCR Corp", "West", d("2026-02-01"), d("2027-10-01"), "cr@x.com", "Enrolled"],
    [9009, "Plain Co", "-North", d("2026-02-01"), d("2027-11-01"), None, "Not Enrolled"],
    [7007, "Bad Dates", "West", "garbage", d("2027-01-01"), "bad@x.com", "Enrolled"],
    ["00777", "Acme Inc", "East", d("2024-01-10"), d("2025-01-10"), "acme@x.com", "Enrolled"],
]
ORDER_ROWS = [
    order(777, 1234.50, d("2025-03-01"), "Acme"),
    order(2001, -125, d("2026-01-05")),
    order(3003, -0.001),
    order("0999", 10, d("2026-01-01"), "Ghost"),
    order(999, 5.5, d("2026-02-01"), "Ghost Two"),
    order(None, 50, d("2026-01-01"), "Nobody"),
    order(4004, "abc", d("2026-01-01")),
]


def _inputs(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return (write_xlsx(folder / "members.xlsx", HEADERS, MEMBER_ROWS, sheet="Members"),
            write_xlsx(folder / "orders.xlsx", ORDER_HEADERS, ORDER_ROWS, sheet="Orders"))


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("outputs")
    mpath, opath = _inputs(root / "in")
    out = root / "out"
    out.mkdir()
    write_outputs(run_pipeline(mpath, opath, load_rules(), AS_OF), out)
    return out


@pytest.fixture(scope="module")
def book(out: Path):
    return openpyxl.load_workbook(out / "membership_segments.xlsx")


@pytest.fixture(scope="module")
def csv_rows(out: Path) -> list[list[str]]:
    with open(out / "hubspot_contacts.csv", newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _records(ws) -> tuple[list, list[dict]]:
    rows = list(ws.iter_rows(values_only=True))
    headers = list(rows[0])
    return headers, [dict(zip(headers, row)) for row in rows[1:]]


def _sheet_parts(path: Path) -> dict[str, str]:
    """Sheet name -> its XML part inside the zip."""
    with zipfile.ZipFile(path) as zf:
        workbook = ET.fromstring(zf.read("xl/workbook.xml"))
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    targets = {rel.get("Id"): rel.get("Target") for rel in rels}
    rid = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    parts = {}
    for sheet in workbook.find("m:sheets", NS):
        target = targets[sheet.get(rid)].lstrip("/")
        parts[sheet.get("name")] = target if target.startswith("xl/") else "xl/" + target
    return parts


# --- workbook ---------------------------------------------------------------------------------

def test_sheet_names_and_order(book) -> None:
    assert book.sheetnames == SHEETS


def test_members_columns_original_then_added_then_segments(book) -> None:
    headers = [c.value for c in book["Members"][1]]
    assert headers == HEADERS + ADDED + [label for _, label in SEGMENTS]


def test_members_rows_in_status_order_with_expected_values(book) -> None:
    _, rows = _records(book["Members"])
    ids = [str(row["Cust ID"]) for row in rows]
    # Expired, Expiring Soon, then Active by expiration ascending.
    assert ids == ["00777", "2001", "3003", "4004", "5005", "6006", "8008", "9009"]
    acme = rows[0]
    assert acme["Membership Status"] == "Expired"
    assert acme["Renewal Count"] == 1 and acme["Lapse Count"] == 0 and acme["Records Merged"] == 2
    assert acme["Member Since"].date() == dt.date(2024, 1, 10)
    assert acme["First Joined"].date() == dt.date(2024, 1, 10)
    assert acme["Total Order Value"] == pytest.approx(1234.50)
    assert acme["Order Count"] == 1
    assert acme["Last Order Date"].date() == dt.date(2025, 3, 1)
    assert acme["Estimated Savings"] == pytest.approx(98.76)
    assert acme["Order Value Tier"] == "Silver"
    assert acme["Days Until Expiration"] == (dt.date(2026, 1, 10) - AS_OF).days
    assert rows[1]["Membership Status"] == "Expiring Soon"
    assert rows[1]["Order Value Tier"] == "No Orders"  # a total below 0 is "No Orders"
    assert all(row["Membership Status"] == "Active" for row in rows[2:])
    # Original columns keep the raw values: the region text, the real dates.
    assert acme["Region"] == "East"
    assert acme["Created Date"].date() == dt.date(2025, 1, 10)


def test_id_column_shows_file_text(book) -> None:
    ws = book["Members"]
    assert ws["A2"].value == "00777"
    assert str(ws["A3"].value) == "2001"


def test_segment_cells_are_real_booleans(book) -> None:
    ws = book["Members"]
    headers = [c.value for c in ws[1]]
    for _, label in SEGMENTS:
        col = headers.index(label) + 1
        for row in range(2, ws.max_row + 1):
            cell = ws.cell(row, col)
            assert cell.data_type == "b" and isinstance(cell.value, bool), (label, row, cell.value)
    # A value check, so that "all cells boolean" cannot pass with wrong values.
    row_of = {str(ws.cell(r, 1).value): r for r in range(2, ws.max_row + 1)}
    assert ws.cell(row_of["00777"], headers.index("Expired") + 1).value is True
    assert ws.cell(row_of["00777"], headers.index("Active Membership") + 1).value is False
    assert ws.cell(row_of["9009"], headers.index("Not Enrolled") + 1).value is True
    assert ws.cell(row_of["00777"], headers.index("High-Value At Risk") + 1).value is True
    assert ws.cell(row_of["2001"], headers.index("Low-Value At Risk") + 1).value is True


def test_date_and_money_cells(book) -> None:
    ws = book["Members"]
    headers = [c.value for c in ws[1]]
    for label in ("Member Since", "First Joined"):
        cell = ws.cell(2, headers.index(label) + 1)
        assert cell.is_date and isinstance(cell.value, dt.datetime), label
    last = ws.cell(2, headers.index("Last Order Date") + 1)
    assert last.is_date
    for label in ("Total Order Value", "Estimated Savings"):
        for row in range(2, ws.max_row + 1):
            cell = ws.cell(row, headers.index(label) + 1)
            assert cell.data_type == "n" and isinstance(cell.value, (int, float)), (label, row)
            assert re.search(r"0\.00(?![0#])", cell.number_format), (label, cell.number_format)


@pytest.mark.parametrize("sheet", ["Members", "Duplicates Removed", "Needs Attention", "Orders Without Membership"])
def test_header_frozen_with_autofilter(book, sheet: str) -> None:
    ws = book[sheet]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:")


def test_segments_sheet_has_a_native_bar_chart_of_exactly_its_rows(out: Path, book) -> None:
    path = out / "membership_segments.xlsx"
    part = _sheet_parts(path)["Segments"]
    with zipfile.ZipFile(path) as zf:
        charts = [n for n in zf.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)]
        assert len(charts) == 1
        assert b"<drawing" in zf.read(part)
        rels = part.replace("worksheets/", "worksheets/_rels/") + ".rels"
        drawing = re.search(rb'Target="\.\./drawings/(drawing\d+\.xml)"', zf.read(rels)).group(1).decode()
        assert b"../charts/chart" in zf.read(f"xl/drawings/_rels/{drawing}.rels")
        chart = zf.read(charts[0]).decode()
    assert "<c:barChart>" in chart
    last = len(SEGMENTS) + 1   # header row + one row per segment
    assert re.findall(r"<c:f>([^<]*)</c:f>", chart)[-2:] == [f"Segments!$A$2:$A${last}", f"Segments!$B$2:$B${last}"]
    rows = list(book["Segments"].iter_rows(values_only=True))
    assert rows[0] == ("Segment", "Customers")
    assert [r[0] for r in rows[1:]] == [label for _, label in SEGMENTS]
    assert dict(rows[1:])["Not Enrolled"] == 1


def test_summary_counts(book) -> None:
    values = {row[0]: row[1] for row in book["Summary"].iter_rows(min_col=1, max_col=2, values_only=True) if row[0]}
    assert values.get("Expired") == 1 and values.get("Active") == 6
    assert values.get("Silver") == 1 and values.get("No Orders") == 7
    assert values.get("Not Enrolled") == 1


def test_formula_like_text_is_stored_as_text(out: Path, book) -> None:
    path = out / "membership_segments.xlsx"
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = zf.read(name).decode()
                assert not re.search(r"<(\w+:)?f[ >/]", xml), f"formula element in {name}"
    ws = book["Members"]
    names = {ws.cell(r, 2).value: ws.cell(r, 2) for r in range(2, ws.max_row + 1)}
    for text in (HYPERLINK, "+1+1", "-2", "@SUM(A1)", "\tTab"):
        assert text in names, text
        assert names[text].data_type == "s"
    regions = [ws.cell(r, 3).value for r in range(2, ws.max_row + 1)]
    assert "=SUM(1,2)" in regions and "-North" in regions


def test_duplicates_removed(book) -> None:
    headers, rows = _records(book["Duplicates Removed"])
    assert headers[:len(HEADERS)] == HEADERS
    assert len(rows) == 1
    row = rows[0]
    assert row["Cust ID"] == "00777"
    assert row["Created Date"].date() == dt.date(2024, 1, 10)
    assert "renewal" in [str(v) for v in row.values()]


def test_needs_attention_one_row_per_problem(book) -> None:
    headers, rows = _records(book["Needs Attention"])
    assert {"Row", "Reason"} <= set(headers)
    source = next(h for h in headers if str(h).lower() == "source")
    found = sorted((str(row[source]).lower(), int(row["Row"])) for row in rows)
    kinds = {}
    for kind, row in found:
        key = "hubspot" if "hubspot" in kind else "order" if "order" in kind else "member" if "member" in kind else kind
        kinds.setdefault(key, []).append(row)
    assert kinds == {"member": [10], "order": [7, 8], "hubspot": [6, 9]}
    assert all(row["Reason"] for row in rows)


def test_orders_without_membership_grouped_by_match_key(book) -> None:
    headers, rows = _records(book["Orders Without Membership"])
    assert len(rows) == 1, "0999 and 999 share the match key 999"
    row = list(rows[0].values())
    assert row[0] == "0999"  # first-seen ID text
    assert "Ghost" in row
    assert 2 in row
    assert pytest.approx(15.5) in row


# --- CSV --------------------------------------------------------------------------------------

def test_csv_header_and_rows(csv_rows) -> None:
    assert csv_rows[0] == CSV_HEADER
    body = [dict(zip(CSV_HEADER, row)) for row in csv_rows[1:]]
    assert [r["cust_id"] for r in body] == ["00777", "2001", "3003", "4004", "6006", "8008"]
    acme, hyper, plus, minus, tab, cr = body
    assert acme["email"] == "acme@x.com"
    assert acme["membership_status"] == "Expired" and hyper["membership_status"] == "Expiring Soon"
    assert acme["total_order_value"] == "1234.50" and acme["estimated_savings"] == "98.76"
    assert hyper["total_order_value"] == "-125.00" and hyper["estimated_savings"] == "-10.00"
    assert plus["total_order_value"] == "0.00" and plus["estimated_savings"] == "0.00"
    assert minus["total_order_value"] == "0.00" and minus["order_count"] == "0"
    assert acme["order_value_tier"] == "Silver" and hyper["order_value_tier"] == "No Orders"
    assert acme["membership_start_date"] == "2025-01-10"
    assert acme["membership_expiration_date"] == "2026-01-10"
    assert acme["member_since"] == "2024-01-10"
    assert acme["renewal_count"] == "1" and acme["order_count"] == "1"
    # The days until expiration stay in the workbook only: in HubSpot the number is stale a day after the import.
    assert "days_until_expiration" not in acme
    for row in body:
        for prop, _ in SEGMENTS:
            assert row[prop] in ("true", "false")
        for name in ("membership_start_date", "membership_expiration_date", "member_since"):
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row[name])
        assert "-0.00" not in (row["total_order_value"], row["estimated_savings"])
    assert acme["expired_membership"] == "true" and acme["active_membership"] == "false"
    assert acme["high_value_customer"] == "true" and hyper["low_value_at_risk"] == "true"
    # A first run: every status and segment dates from its as-of date; no previous status.
    assert acme["membership_status_changed_at"] == "2026-11-15" and acme["previous_membership_status"] == ""
    assert acme["expired_membership_since"] == "2026-11-15" and acme["active_membership_since"] == ""
    assert hyper["expiring_soon_since"] == "2026-11-15" and hyper["low_value_at_risk_since"] == "2026-11-15"


def test_csv_neutralises_formula_text_but_not_numbers(csv_rows) -> None:
    body = [dict(zip(CSV_HEADER, row)) for row in csv_rows[1:]]
    companies = [r["company"] for r in body]
    assert companies[:4] == ["Acme Inc", "'" + HYPERLINK, "'+1+1", "'-2"]
    # Names are trimmed on reading; either way no cell may begin with a raw tab or CR.
    assert companies[4] in ("Tab", "'\tTab")
    assert companies[5] in ("CR Corp", "'\rCR Corp")
    for row in body:
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), value
            if value.startswith("-"):
                assert re.fullmatch(r"-\d+(\.\d+)?", value), value  # only numbers may start with "-"
    assert body[1]["total_order_value"] == "-125.00" and body[1]["estimated_savings"] == "-10.00"  # no quote


@pytest.mark.parametrize("text", ["=1+2", "+1", "-x", "@SUM(A1)", "\tTab", "\rCR"])
def test_neutralize_prefixes_every_trigger(text: str) -> None:
    import pandas as pd

    from memberseg.hubspot import neutralize
    assert neutralize(pd.Series([text, "plain"])).tolist() == ["'" + text, "plain"]


def test_csv_bytes_utf8_comma_separated(out: Path) -> None:
    raw = (out / "hubspot_contacts.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") or raw[3:].startswith(b"email,")
    assert raw.lstrip(b"\xef\xbb\xbf").startswith(b"email,company,cust_id,")
    raw.decode("utf-8")


# --- properties and report --------------------------------------------------------------------

def test_hubspot_properties(out: Path) -> None:
    spec = json.loads((out / "hubspot_properties.json").read_text())
    found = {}

    def walk(node):
        if isinstance(node, dict):
            if "name" in node and "type" in node and "fieldType" in node:
                found[node["name"]] = node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(spec)
    for prop, label in SEGMENTS:
        p = found[prop]
        assert (p["type"], p["fieldType"]) == ("bool", "booleancheckbox")
        assert {o["value"] for o in p["options"]} == {"true", "false"}
        assert p["label"] == label
    for prop in ("membership_start_date", "membership_expiration_date", "member_since"):
        assert found[prop]["type"] == "date"
    for prop in ("renewal_count", "total_order_value", "order_count", "estimated_savings"):
        assert found[prop]["type"] == "number"
    assert "days_until_expiration" not in found
    tier = found["order_value_tier"]
    assert tier["type"] == "enumeration"
    assert {o["value"] for o in tier["options"]} == {"Platinum", "Gold", "Silver", "Bronze", "No Orders"}
    assert found["cust_id"]["type"] == "string"
    assert all(p["groupName"] == "membership_segments" for p in found.values())
    assert "membership_segments" in json.dumps(spec.get("group", spec))


def test_report(out: Path) -> None:
    report = json.loads((out / "report.json").read_text())
    assert report["as_of"] == "2026-11-15"
    assert report["rules_digest"]
    assert report["inputs"]["memberships"]["file"] == "members.xlsx"
    assert report["inputs"]["memberships"]["sheet"] == "Members"
    assert report["inputs"]["memberships"]["header_row"] == 1
    assert report["inputs"]["orders"]["sheet"] == "Orders"
    m = report["memberships"]
    assert m == {"rows_in": 10, "kept": 8, "consolidated": 1, "rejected": 1, "excluded": 0}
    assert m["rows_in"] == m["kept"] + m["consolidated"] + m["rejected"]
    o = report["orders"]
    assert (o["rows_in"], o["matched"], o["unmatched"], o["rejected"]) == (7, 3, 2, 2)
    assert o["rows_in"] == o["matched"] + o["unmatched"] + o["rejected"]
    assert o["unmatched_total"] == pytest.approx(15.5)
    assert report["status_counts"] == {"Expired": 1, "Expiring Soon": 1, "Active": 6, "Inactive": 0}
    assert report["segment_counts"] == {
        "active_membership": 6, "expiring_soon": 1, "expired_membership": 1, "recently_renewed": 0,
        "new_member": 0, "not_enrolled": 1, "high_value_customer": 1, "high_value_at_risk": 1,
        "low_value_at_risk": 1}
    assert report["tier_counts"] == {"Platinum": 0, "Gold": 0, "Silver": 1, "Bronze": 0, "No Orders": 7}
    assert report["hubspot"]["rows"] == 6 and report["hubspot"]["left_out"] == 2
    assert set(report["timings_seconds"]) >= {"reading", "consolidating", "writing"}
    assert report["workbook"] == {"members_sheets": ["Members"], "truncated_cells": 0, "cut_cells": []}


def test_csv_split_when_rows_exceed_custom_limit(tmp_path: Path) -> None:
    data = yaml.safe_load((Path(memberseg.__file__).parent / "default_rules.yaml").read_text())
    data["hubspot"]["max_rows_per_file"] = 2
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(yaml.safe_dump(data))
    mpath, opath = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    write_outputs(run_pipeline(mpath, opath, load_rules(rules_path), AS_OF), out)
    assert not (out / "hubspot_contacts.csv").exists()
    parts = sorted(out.glob("hubspot_contacts_*.csv"))
    assert [p.name for p in parts] == ["hubspot_contacts_1.csv", "hubspot_contacts_2.csv", "hubspot_contacts_3.csv"]
    all_rows = []
    for part in parts:
        with open(part, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == CSV_HEADER
        assert 1 <= len(rows) - 1 <= 2
        all_rows += rows[1:]
    assert [r[2] for r in all_rows] == ["00777", "2001", "3003", "4004", "6006", "8008"]
    report = json.loads((out / "report.json").read_text())
    assert report["hubspot"]["rows"] == 6
