"""Write the outputs: the workbook, the HubSpot CSV(s), the property definitions, the customer state
(what the next run compares with) and report.json.

`write_outputs` writes them into a fresh staging folder, report.json last (it marks a complete set).
The HubSpot files and the state (which hashes the CSV rows) are rendered in a forked child while this
process writes the workbook.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .changes import Changes, hubspot_hashes, state_bytes, state_frame
from .headers import how_chosen
from .hubspot import HubSpotExport, contacts_frame, csv_columns, gone_rows, property_definitions, render_files
from .isolation import Forked
from .job_protocol import GONE_CUSTOMERS_KEY, PROPERTIES_NAME, REPORT_NAME, STATE_NAME, WORKBOOK_NAME
from .read import RawTable
from .result import Result
from .rules import MEMBER_COLUMNS, Rules
from .rules.ruleset import PACKAGED
from .timing import Progress, no_progress, timed
from .validate import Validated
from .workbook import EXCEL_MAX_STRING, Column, WorkbookWriter, column, excel_serials, raw_column

SHEETS = ("Members", "Summary", "Segments", "Duplicates Removed", "Needs Attention", "Excluded Rows",
          "Orders Without Membership", "Changes")
# The file's date columns that memberseg recognised are written as date cells, from the parsed values.
DATE_FIELDS = {"created_date": "created", "expiration_date": "expiration", "start_date": "start"}


def _original_columns(table: RawTable, sources: np.ndarray, ids: pd.Series,
                      typed: pd.DataFrame | None = None) -> list[Column]:
    """The file's own columns for the given source rows, raw; the ID column as its text; the recognised
    date columns as dates where they parsed (a text that is no date, like "N/A", stays as it was)."""
    columns = []
    id_position = table.fields.get("customer_id")  # a file keyed by email or name has no ID column
    dates = {table.fields[name]: parsed for name, parsed in DATE_FIELDS.items()
             if name in table.fields and typed is not None}
    for position, header in enumerate(table.headers):
        cells = table.frame[position].to_numpy()[sources]
        if position == id_position:
            columns.append(column(header, "text", ids.reset_index(drop=True)))
        elif position in dates and typed is not None:
            columns.append(_date_column(header, cells, typed[dates[position]].to_numpy()))
        else:
            columns.append(raw_column(header, cells))
    return columns


def _date_column(header: str, cells: np.ndarray, parsed: np.ndarray) -> Column:
    """A recognised date column: the parsed dates where the file had a cell, the file's own cell elsewhere."""
    present = pd.notna(cells) & (cells != "")
    usable = present & ~pd.isna(parsed)
    if usable.any() and not (present & ~usable).any() and parsed.dtype.kind == "M":
        # Every cell the file holds parsed: a plain date column, straight from the parsed values (what
        # raw_column makes of the same dates as objects, without building a Timestamp per cell).
        return Column(header, "date", np.where(usable, excel_serials(parsed), np.nan))
    return raw_column(header, np.where(usable, pd.Series(parsed).astype(object), cells))


def _member_columns(result: Result) -> list[Column]:
    members = result.members
    sources = members["source"].to_numpy()
    columns = _original_columns(result.memberships, sources, members["customer_id"], members)
    spec = result.memberships.spec
    has = set(result.memberships.fields) | ({"term"} if spec is not None and spec.term is not None else set())
    for added in MEMBER_COLUMNS:
        if added.needs is None or added.needs in has:
            columns.append(column(added.header, added.kind, members[added.name]))
    for seg in result.rules.segments:
        columns.append(column(seg.label, "bool", members[seg.property]))
    return columns


def _duplicate_columns(memberships: RawTable, validation: Validated, duplicates: pd.DataFrame) -> list[Column]:
    sources = duplicates["source"].to_numpy()
    ids = validation.valid.loc[sources, "customer_id"]
    columns = _original_columns(memberships, sources, ids, validation.valid.loc[sources])
    columns += [column("Customer Key", "text", duplicates["customer_key"]),
                column("Kept Row", "integer", duplicates["kept_row"]),
                column("Reason", "text", duplicates["reason"])]
    return columns


def needs_attention(result: Result) -> pd.DataFrame:
    parts = []
    for source, table, rejected in (
        ("Memberships", result.memberships, result.member_validation.rejected),
        ("Orders", result.orders, result.orders_rejected),
        ("HubSpot export", result.memberships, result.hubspot.left_out),
        ("HubSpot export", result.memberships, result.hubspot.changed[["row", "customer_id", "customer_name",
                                                                       "reason"]]),
    ):
        parts.append(rejected.assign(source=source, file=table.file, sheet=table.sheet or ""))
    return pd.concat(parts, ignore_index=True)


def excluded_rows(result: Result) -> pd.DataFrame:
    """Rows that are not memberships or paid orders (a contact with no membership, an unpaid order, a
    currency without a rate), each with its reason."""
    parts = [result.member_validation.excluded.assign(source="Memberships", file=result.memberships.file,
                                                      sheet=result.memberships.sheet or "")]
    if result.orders_excluded is not None:
        parts.append(result.orders_excluded.assign(source="Orders", file=result.orders.file,
                                                   sheet=result.orders.sheet or ""))
    return pd.concat(parts, ignore_index=True)


def _attention_columns(attention: pd.DataFrame) -> list[Column]:
    return [column("Source", "text", attention["source"]), column("File", "text", attention["file"]),
            column("Sheet", "text", attention["sheet"]), column("Row", "integer", attention["row"]),
            column("Customer ID", "text", attention["customer_id"]),
            column("Customer Name", "text", attention["customer_name"]),
            column("Reason", "text", attention["reason"])]


def _counts(result: Result) -> tuple[dict, dict, dict]:
    members, rules = result.members, result.rules
    labels = rules.status.labels
    status = members["membership_status"].value_counts()
    status_counts = {label: int(status.get(label, 0)) for label in labels.all()}
    segment_counts = {seg.property: int(members[seg.property].sum()) for seg in rules.segments}
    tier = members["order_value_tier"].value_counts()
    tier_labels = [t.label for t in rules.orders.tiers] + [rules.orders.no_orders_label]
    tier_counts = {label: int(tier.get(label, 0)) for label in tier_labels}
    return status_counts, segment_counts, tier_counts


def build_report(result: Result) -> dict:
    """Everything report.json says but the output file names and the timings, added when known."""
    status_counts, segment_counts, tier_counts = _counts(result)
    rows_in = result.memberships.rows_in
    kept = len(result.members)
    consolidated = len(result.duplicates)
    rejected = len(result.member_validation.rejected)
    excluded = len(result.member_validation.excluded)
    orders_in = result.orders.rows_in
    match = result.order_match
    orders_excluded = 0 if result.orders_excluded is None else len(result.orders_excluded)
    # Every input row ends in exactly one place; a broken count is a bug, never a silent loss.
    if rows_in != kept + consolidated + rejected + excluded:
        raise RuntimeError(f"membership rows do not add up: {rows_in} != {kept} + {consolidated} + {rejected} + "
                           f"{excluded}")
    if orders_in != match.matched_rows + match.unmatched_rows + len(result.orders_rejected) + orders_excluded:
        raise RuntimeError(f"order rows do not add up: {orders_in} rows in")

    return {
        "tool": {"name": "memberseg", "version": __version__},
        "as_of": result.as_of.isoformat(),
        "rules_digest": result.rules.digest,
        "inputs": {**_with_origins({"memberships": result.memberships.facts(result.member_validation.locale).describe(),
                                    "orders": result.orders.describe()}, result.rules),
                   **_swap_facts(result.swapped)},
        "memberships": {"rows_in": rows_in, "kept": kept, "consolidated": consolidated, "rejected": rejected,
                        "excluded": excluded, **_term_facts(result)},
        "orders": {"rows_in": orders_in, "matched": match.matched_rows, "unmatched": match.unmatched_rows,
                   "rejected": len(result.orders_rejected), "excluded": orders_excluded,
                   "unmatched_customers": len(match.unmatched), "unmatched_total": match.unmatched_total,
                   "orders_in": result.orders_facts.get("orders_in", orders_in),
                   "join_key": {"key": match.join_key, "rows_matched": {match.join_key: match.matched_rows}},
                   "currency": result.orders_facts.get("currency", {}),
                   **{name: result.orders_facts[name] for name in ("row_types", "amount_unit")
                      if name in result.orders_facts}},
        "status_counts": status_counts,
        "segment_counts": segment_counts,
        "tier_counts": tier_counts,
        "hubspot": {"rows": result.hubspot.rows, "left_out": len(result.hubspot.left_out),
                    "push": result.rules.hubspot.push, "cleared": len(result.hubspot.gone),
                    GONE_CUSTOMERS_KEY: result.rules.hubspot.gone_customers,
                    **_changed_values(result.hubspot.changed)},
        "changes": _changes(result).counts,
        "changes_summary": _changes(result).words,
    }


def _term_facts(result: Result) -> dict:
    """With a profile's `term`: how many kept rows took their term's year from the plan text, how many
    from the payment date."""
    terms = result.member_validation.facts.get("terms")
    return {} if terms is None else {"terms": dict(terms)}


def _with_origins(inputs: dict, rules: Rules) -> dict:
    """Each input's profile with where it came from: "packaged", a rules file, or the organisation's
    profile file ("input bucket profiles/acme.yaml")."""
    for info in inputs.values():
        info["profile"]["origin"] = rules.profile_origin(info["profile"]["name"])
    return inputs


def _swap_facts(reason: str | None) -> dict:
    """report.json inputs.swapped (and why) when the two files were read in each other's place; nothing else."""
    return {"swapped": True, "swapped_reason": reason} if reason else {}


def _changes(result: Result) -> Changes:
    if result.changes is None:
        raise RuntimeError("the run was not compared with a previous state (memberseg.changes.carry_over)")
    return result.changes


def _changed_values(changed: pd.DataFrame) -> dict:
    """The CSV cells changed on the way to HubSpot: how many, how many lost control characters, and each cut."""
    cut = changed[changed["length"].gt(0)]
    ids = cut["customer_id"].astype(object).where(cut["customer_id"].notna(), None)
    return {"changed_values": len(changed), "cleaned_values": int(changed["cleaned"].sum()),
            "cut_values": [{"row": int(row), "customer_id": customer_id, "column": name, "length": int(length)}
                           for row, customer_id, name, length in zip(cut["row"], ids, cut["column"], cut["length"],
                                                                     strict=True)]}


def _summary_sections(result: Result, report: dict) -> list[tuple[str, list[tuple[str, object]]]]:
    labels = {seg.property: seg.label for seg in result.rules.segments}
    m, o = report["memberships"], report["orders"]
    return [
        ("Run", [("As-of date", report["as_of"]), ("Memberships file", result.memberships.file),
                 ("Memberships profile", _profile_text(report["inputs"]["memberships"])),
                 ("Orders file", result.orders.file),
                 ("Orders profile", _profile_text(report["inputs"]["orders"]))]
         + ([("Files swapped", report["inputs"]["swapped_reason"])] if report["inputs"].get("swapped") else [])),
        ("Memberships", [("Rows in", m["rows_in"]), ("Customers (kept)", m["kept"]),
                         ("Consolidated (duplicates and renewals)", m["consolidated"]),
                         ("Rejected (see Needs Attention)", m["rejected"])]),
        ("Membership status", list(report["status_counts"].items())),
        ("Segments", [(labels[name], count) for name, count in report["segment_counts"].items()]),
        ("Order value tier", list(report["tier_counts"].items())),
        ("Orders", [("Rows in", o["rows_in"]), ("Matched", o["matched"]), ("Without membership", o["unmatched"]),
                    ("Rejected", o["rejected"]), ("Total without membership", o["unmatched_total"])]),
        ("HubSpot", [("Contacts exported", report["hubspot"]["rows"]),
                     ("Left out (see Needs Attention)", report["hubspot"]["left_out"])]
         + _if_any("Values changed for HubSpot (see Needs Attention)", report["hubspot"]["changed_values"])),
        ("Changes (see the Changes sheet)", _change_lines(report["changes"], report["changes_summary"], labels)),
    ]


def _change_lines(changes: dict, words: str, labels: dict[str, str]) -> list[tuple[str, object]]:
    """The Summary's Changes section: the sentence, then the counts report.json holds."""
    lines: list[tuple[str, object]] = [("Since", changes["since"] or "first run (no previous state)"),
                                       ("In words", words), ("New", changes["new"]),
                                       ("No longer in the export", changes["gone"]),
                                       ("Status changed", changes["status_changed"])]
    lines += [(f"Entered {labels[name]}", count) for name, count in changes["entered"].items() if count]
    lines += [(f"Left {labels[name]}", count) for name, count in changes["left"].items() if count]
    return lines


def _change_columns(rows: pd.DataFrame) -> list[Column]:
    return [column("Change", "text", rows["change"]), column("What Changed", "text", rows["what"]),
            column("Customer ID", "text", rows["customer_id"]), column("Customer Name", "text", rows["customer_name"]),
            column("Email", "text", rows["email"]),
            column("Status Before", "text", rows["status_before"]),
            column("Status After", "text", rows["status_after"]),
            column("Segments Entered", "text", rows["entered"]), column("Segments Left", "text", rows["left"]),
            column("Tier Before", "text", rows["tier_before"]), column("Tier After", "text", rows["tier_after"]),
            column("Total Before", "money", pd.to_numeric(rows["total_before"], errors="coerce")),
            column("Total After", "money", pd.to_numeric(rows["total_after"], errors="coerce")),
            column("Expiration Before", "date", rows["expiration_before"]),
            column("Expiration After", "date", rows["expiration_after"]),
            column("As-of Before", "text", rows["as_of_before"]), column("As-of After", "text", rows["as_of_after"])]


def _if_any(label: str, count: int) -> list[tuple[str, object]]:
    """A Summary line that only a run with something to say shows."""
    return [(label, count)] if count else []


CUTS_SHOWN = 5   # the Summary names the first few cut cells; report.json lists them all


def _cut_cells_section(cut_cells: list[dict]) -> list[tuple[str, list[tuple[str, object]]]]:
    """A Summary section naming the cells cut to Excel's 32,767 characters, when there are any."""
    if not cut_cells:
        return []
    items: list[tuple[str, object]] = [(f"Cells cut to {EXCEL_MAX_STRING:,} characters (Excel's limit)",
                                        len(cut_cells))]
    items += [(f"{cell['sheet']}, row {cell['row']}, {cell['column']}", f"{cell['length']:,} characters")
              for cell in cut_cells[:CUTS_SHOWN]]
    if len(cut_cells) > CUTS_SHOWN:
        items.append(("The rest", "listed in report.json (workbook.cut_cells)"))
    return [("Workbook", items)]


def _profile_text(info: dict) -> str:
    profile = info["profile"]
    origin = profile.get("origin", PACKAGED)
    source = "" if origin == PACKAGED else "; from " + origin
    return f"{profile['name']} ({how_chosen(profile, 'recognised by ')}{source})"


def write_workbook(result: Result, report: dict, path: Path) -> dict:
    """Write the analysis workbook; return what report.json says about it."""
    workbook = WorkbookWriter(path)
    members = workbook.table("Members", _member_columns(result), len(result.members))
    labels = {seg.property: seg.label for seg in result.rules.segments}
    workbook.bar_chart("Segments", "Segment", "Customers",
                       [(labels[name], count) for name, count in report["segment_counts"].items()],
                       title="Customers per segment")
    duplicates = result.duplicates
    workbook.table("Duplicates Removed", _duplicate_columns(result.memberships, result.member_validation, duplicates),
                   len(duplicates))
    attention = needs_attention(result)
    workbook.table("Needs Attention", _attention_columns(attention), len(attention))
    excluded = excluded_rows(result)
    workbook.table("Excluded Rows", _attention_columns(excluded), len(excluded))
    unmatched = result.order_match.unmatched
    workbook.table("Orders Without Membership", [
        column("Customer ID", "text", unmatched["customer_id"]),
        column("Customer Name", "text", unmatched["customer_name"]),
        column("Order Count", "integer", unmatched["order_count"]),
        column("Total Order Value", "money", unmatched["total"]),
    ], len(unmatched))
    changes = _changes(result).rows
    workbook.table("Changes", _change_columns(changes), len(changes))
    # The Summary is made last, when every other sheet's cut cells are known, and goes right after Members.
    workbook.summary("Summary", _summary_sections(result, report) + _cut_cells_section(workbook.cut_cells),
                     at=len(members))
    workbook.close()
    return {"members_sheets": members, "truncated_cells": workbook.truncated_cells, "cut_cells": workbook.cut_cells}


def output_names(csv_names: list[str]) -> list[str]:
    """The outputs in the order they are published: report.json last, as the commit marker."""
    return [WORKBOOK_NAME, *csv_names, PROPERTIES_NAME, STATE_NAME, REPORT_NAME]


def write_hubspot_files(export: HubSpotExport, members: pd.DataFrame, rules: Rules, as_of: dt.date, out_dir: Path,
                        _progress: Progress = no_progress) -> list[str]:
    """Write the HubSpot CSV(s), the property definitions and the customer state; return the CSV names."""
    contacts = export.contacts
    frame = contacts_frame(contacts, rules)
    hashes = pd.Series(hubspot_hashes(frame), index=contacts.index, dtype=object)
    cleared = gone_rows(export.gone, frame, rules)
    files = render_files(contacts, rules, pd.concat([frame, cleared], ignore_index=True) if len(cleared) else frame)
    for name, data in files.items():
        (out_dir / name).write_bytes(data)
    properties = property_definitions(rules, list(files), csv_columns(contacts, rules))
    (out_dir / PROPERTIES_NAME).write_text(json.dumps(properties, indent=2) + "\n", encoding="utf-8")
    (out_dir / STATE_NAME).write_bytes(state_bytes(state_frame(members, hashes, rules, as_of)))
    return list(files)


def write_outputs(result: Result, out_dir: Path, progress: Progress = no_progress) -> list[str]:
    """Write every output into `out_dir` (a fresh staging folder); return the names, report.json last."""
    out_dir = Path(out_dir)
    with timed(result.timings, "writing", progress):
        report = build_report(result)
        # The HubSpot files are rendered on the second core while the workbook is written.
        hubspot_job = Forked(write_hubspot_files, result.hubspot, result.members, result.rules, result.as_of, out_dir)
        try:
            report["workbook"] = write_workbook(result, report, out_dir / WORKBOOK_NAME)
            csv_names = hubspot_job.result()
        finally:
            hubspot_job.cancel()
    report["hubspot"]["files"] = csv_names
    report["outputs"] = output_names(csv_names)
    report["timings_seconds"] = dict(result.timings)
    (out_dir / REPORT_NAME).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report["outputs"]
