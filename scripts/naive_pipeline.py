#!/usr/bin/env python3
"""The seed-style reference pipeline that `scripts/bench.py` times memberseg against.

    python scripts/naive_pipeline.py --memberships M.xlsx --orders O.xlsx --out DIR --as-of 2026-11-15

It does the same job the way the project's first version did, so the benchmark's ratio means
something: openpyxl reads both workbooks cell by cell, memberships are consolidated in a Python
loop per customer group, orders are summed with `iterrows`, the classification and the segments
are computed row by row, and openpyxl writes the same sheets (Members, Summary with a bar chart,
Duplicates Removed, Needs Attention, Orders Without Membership) plus the HubSpot CSV.
It reads the thresholds, tiers and segments from memberseg's default rules, so both pipelines
apply the same rules. It is a benchmark reference, not a product: no safety gate, no isolation.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import re
import sys
from collections import defaultdict
from pathlib import Path

import openpyxl
import pandas as pd
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font

from memberseg.rules import Rules, load_rules, normalize_header

MONEY = re.compile(r"^\(?-?\$?[\d,]*\.?\d+\)?$")


def read_sheet(path: Path) -> pd.DataFrame:
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    book.close()
    header = [str(h).strip() if h is not None else f"Column {i + 1}" for i, h in enumerate(rows[0])]
    return pd.DataFrame(rows[1:], columns=header)


def find(frame: pd.DataFrame, aliases: list[str]) -> str | None:
    by_normal = {normalize_header(c): c for c in frame.columns}
    for alias in aliases:
        if normalize_header(alias) in by_normal:
            return by_normal[normalize_header(alias)]
    return None


def to_date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return dt.datetime.strptime(value.strip(), "%m/%d/%Y").date()
        except ValueError:
            return None
    return None


def to_id(value) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip().lstrip("0")
    return text or None


def to_money(value) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and MONEY.match(value.strip()):
        text = value.strip()
        negative = text.startswith("(") or text.startswith("-")
        number = float(text.strip("()-").replace("$", "").replace(",", ""))
        return -number if negative else number
    return None


def consolidate(frame: pd.DataFrame, cols: dict, grace: int) -> tuple[list[dict], list[dict], list[dict]]:
    """One Python loop per customer group: walk its records by created date."""
    groups: dict[str, list[dict]] = defaultdict(list)
    rejected = []
    for number, (_, row) in enumerate(frame.iterrows(), start=2):
        record = row.to_dict()
        record["_row"] = number
        record["_id"] = to_id(row[cols["customer_id"]])
        record["_created"] = to_date(row[cols["created_date"]])
        record["_expiration"] = to_date(row[cols["expiration_date"]])
        record["_start"] = to_date(row[cols["start_date"]]) if cols.get("start_date") else record["_created"]
        if record["_id"] is None or record["_created"] is None or record["_expiration"] is None:
            rejected.append({"row": record["_row"], "customer_id": record["_id"], "reason": "missing ID or dates"})
            continue
        groups[record["_id"]].append(record)
    customers, duplicates = [], []
    for key, records in groups.items():
        records.sort(key=lambda r: (r["_created"], r["_expiration"]))
        kept = records[0]
        renewals = lapses = 0
        first_joined = kept["_start"] or kept["_created"]
        for record in records[1:]:
            if record["_created"] == kept["_created"] and record["_expiration"] == kept["_expiration"]:
                reason = "duplicate"
            elif (record["_created"] - kept["_expiration"]).days <= grace:
                reason = "renewal"
                renewals += 1
            else:
                reason = "lapse"
                lapses += 1
            duplicates.append({**kept, "_key": key, "_kept_row": record["_row"], "_reason": reason})
            kept = record
        kept = dict(kept)
        kept.update(_key=key, _renewals=renewals, _lapses=lapses, _merged=len(records), _first=first_joined)
        customers.append(kept)
    return customers, duplicates, rejected


def sum_orders(frame: pd.DataFrame, cols: dict) -> tuple[dict, list[dict]]:
    totals: dict[str, dict] = {}
    rejected = []
    for number, (_, row) in enumerate(frame.iterrows(), start=2):
        key = to_id(row[cols["customer_id"]])
        value = to_money(row[cols["order_value"]])
        if key is None or value is None:
            rejected.append({"row": number, "customer_id": key, "reason": "missing ID or value"})
            continue
        entry = totals.setdefault(key, {"total": 0.0, "count": 0, "last": None, "name": None})
        entry["total"] += value
        entry["count"] += 1
        when = to_date(row[cols["order_date"]]) if cols.get("order_date") else None
        if when and (entry["last"] is None or when > entry["last"]):
            entry["last"] = when
        if cols.get("customer_name") and entry["name"] is None:
            entry["name"] = row[cols["customer_name"]]
    return totals, rejected


def tier_of(total: float, count: int, rules: Rules) -> str:
    if count == 0:
        return rules.orders.no_orders_label
    for tier in rules.orders.tiers:
        if total > tier.min or (total == tier.min and getattr(tier, "inclusive", True)):
            return tier.label
    return rules.orders.no_orders_label


def matches(condition, row: dict, rules: Rules) -> bool:
    value = rules.resolve(condition.value)
    cell = row[condition.field]
    if isinstance(cell, str) or cell is None:
        cell = (cell or "").casefold()
        value = [str(v).casefold() for v in value] if isinstance(value, list) else str(value).casefold()
    ops = {"eq": lambda: cell == value, "ne": lambda: cell != value, "gt": lambda: cell > value,
           "ge": lambda: cell >= value, "lt": lambda: cell < value, "le": lambda: cell <= value,
           "between": lambda: value[0] <= cell <= value[1], "in": lambda: cell in value,
           "not_in": lambda: cell not in value, "contains": lambda: str(value) in cell,
           "not_contains": lambda: str(value) not in cell}
    return ops[condition.op]()


def enrich_classify_segment(customers: list[dict], totals: dict, rules: Rules, as_of: dt.date,
                            enrollment_col: str | None) -> list[dict]:
    labels = rules.status.labels
    out = []
    for customer in customers:
        order = totals.get(customer["_key"], {"total": 0.0, "count": 0, "last": None})
        days = (customer["_expiration"] - as_of).days
        status = (labels.expired if days < 0 else labels.expiring_soon if days <= rules.status.expiring_soon_days
                  else labels.active)
        row = dict(customer)
        savings = round(order["total"] * rules.orders.savings_rate, 2)
        row.update(total_order_value=round(order["total"], 2), order_count=order["count"],
                   last_order_date=order["last"], estimated_savings=savings,
                   order_value_tier=tier_of(order["total"], order["count"], rules), membership_status=status,
                   days_until_expiration=days, days_since_start=(as_of - (customer["_start"] or as_of)).days,
                   renewal_count=customer["_renewals"], lapse_count=customer["_lapses"],
                   enrollment=str(customer.get(enrollment_col) or "") if enrollment_col else "")
        for seg in rules.segments:
            flag = all(matches(c, row, rules) for c in seg.all)
            if seg.any:
                flag = flag and any(matches(c, row, rules) for c in seg.any)
            row[seg.property] = flag
        out.append(row)
    rank = {labels.expired: 0, labels.expiring_soon: 1, labels.active: 2}
    out.sort(key=lambda r: (rank[r["membership_status"]], r["_expiration"], str(r.get("_name", "")).casefold()))
    return out


def write_workbook(path: Path, originals: list[str], members: list[dict], duplicates: list[dict],
                   attention: list[dict], unmatched: list[dict], rules: Rules) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Members"
    added = ["Member Since", "First Joined", "Renewal Count", "Lapse Count", "Records Merged", "Total Order Value",
             "Order Count", "Last Order Date", "Estimated Savings", "Order Value Tier", "Membership Status",
             "Days Until Expiration"]
    ws.append(originals + added + [seg.label for seg in rules.segments])
    for row in members:
        ws.append([row.get(c) for c in originals] + [
            row["_start"], row["_first"], row["renewal_count"], row["lapse_count"], row["_merged"],
            row["total_order_value"], row["order_count"], row["last_order_date"], row["estimated_savings"],
            row["order_value_tier"], row["membership_status"], row["days_until_expiration"]]
            + [row[seg.property] for seg in rules.segments])
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    summary = book.create_sheet("Summary")
    summary.append(["Segment", "Customers"])
    for seg in rules.segments:
        summary.append([seg.label, sum(1 for r in members if r[seg.property])])
    for label in (rules.status.labels.expired, rules.status.labels.expiring_soon, rules.status.labels.active):
        summary.append([label, sum(1 for r in members if r["membership_status"] == label)])
    summary["A1"].font = Font(bold=True)
    chart = BarChart()
    chart.add_data(Reference(summary, min_col=2, min_row=1, max_row=len(rules.segments) + 1), titles_from_data=True)
    chart.set_categories(Reference(summary, min_col=1, min_row=2, max_row=len(rules.segments) + 1))
    summary.add_chart(chart, "D2")
    dup = book.create_sheet("Duplicates Removed")
    dup.append(originals + ["Customer Key", "Kept Row", "Reason"])
    for row in duplicates:
        dup.append([row.get(c) for c in originals] + [row["_key"], row["_kept_row"], row["_reason"]])
    needs = book.create_sheet("Needs Attention")
    needs.append(["Source", "Row", "Customer ID", "Reason"])
    for row in attention:
        needs.append([row["source"], row["row"], row["customer_id"], row["reason"]])
    orphans = book.create_sheet("Orders Without Membership")
    orphans.append(["Customer ID", "Customer Name", "Order Count", "Total Order Value"])
    for row in unmatched:
        orphans.append([row["customer_id"], row["name"], row["count"], row["total"]])
    book.save(path)


def write_hubspot(path: Path, members: list[dict], cols: dict, rules: Rules) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "company", "cust_id", "membership_status", "total_order_value"]
                        + [seg.property for seg in rules.segments])
        for row in members:
            email = row.get(cols["email"]) if cols.get("email") else None
            if not email:
                continue
            flags = ["true" if row[s.property] else "false" for s in rules.segments]
            writer.writerow([email, row.get(cols["customer_name"]), row["_key"], row["membership_status"],
                             row["total_order_value"], *flags])


def run(memberships: Path, orders: Path, out: Path, as_of: dt.date) -> None:
    rules = load_rules()
    out.mkdir(parents=True, exist_ok=True)
    mframe = read_sheet(memberships)
    oframe = read_sheet(orders)
    mcols = {field: find(mframe, spec.aliases) for field, spec in rules.inputs.memberships.fields.items()}
    ocols = {field: find(oframe, spec.aliases) for field, spec in rules.inputs.orders.fields.items()}
    customers, duplicates, member_rejects = consolidate(mframe, mcols, rules.consolidation.renewal_grace_days)
    totals, order_rejects = sum_orders(oframe, ocols)
    members = enrich_classify_segment(customers, totals, rules, as_of, mcols.get("enrollment"))
    known = {c["_key"] for c in customers}
    unmatched = [{"customer_id": k, **v} for k, v in totals.items() if k not in known]
    attention = ([{"source": "Memberships", **r} for r in member_rejects]
                 + [{"source": "Orders", **r} for r in order_rejects])
    write_workbook(out / "membership_segments.xlsx", list(mframe.columns), members, duplicates, attention,
                   unmatched, rules)
    write_hubspot(out / "hubspot_contacts.csv", members, mcols, rules)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memberships", type=Path, required=True)
    ap.add_argument("--orders", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 15))
    a = ap.parse_args(argv)
    run(a.memberships, a.orders, a.out, a.as_of)
    return 0


if __name__ == "__main__":
    sys.exit(main())
