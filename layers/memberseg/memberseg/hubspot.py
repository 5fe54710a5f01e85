"""The HubSpot outputs: the contacts CSV (split at HubSpot's limits) and property definitions.

HubSpot identifies contacts by email, so there is one row per valid, unique email,
in Members order; every customer left out is reported with a reason, an address that looks like
another (an invisible character, mixed scripts) included. Whatever the source held, no cell carries
a control character or more than HubSpot's 65,536 characters, and no number is inf or NaN; every
value changed on the way is listed.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .job_protocol import HUBSPOT_CSV_STEM
from .rules import (
    FORMULA_TRIGGERS,
    HUBSPOT_BASE_COLUMNS,
    HUBSPOT_CHANGE_COLUMNS,
    HUBSPOT_PERSON_COLUMNS,
    Rules,
    since_column,
)
from .values import email_problems, visible_text

# HubSpot's limit for one property value; counted in UTF-16 units (an emoji takes two), the safe reading.
HUBSPOT_MAX_VALUE_CHARS = 65_536
# Control characters (C0 and C1, NUL included) never reach the CSV: the line breaks str.splitlines knows and
# the tab become a space, so words stay apart; the others are dropped.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_BREAK = re.compile(r"[\t\n\x0b\x0c\r\x1c-\x1e\x85\u2028\u2029]")
_EMPTY_CHANGES = pd.DataFrame({"row": pd.Series(dtype="int64"), "customer_id": pd.Series(dtype=object),
                               "customer_name": pd.Series(dtype=object), "reason": pd.Series(dtype=object),
                               "column": pd.Series(dtype=object), "cleaned": pd.Series(dtype=bool),
                               "length": pd.Series(dtype="int64")})


@dataclass
class HubSpotExport:
    contacts: pd.DataFrame      # the Members rows that go to HubSpot, in Members order
    left_out: pd.DataFrame      # row, customer_id, customer_name, reason
    # One row per CSV cell changed on the way (row, customer_id, customer_name, reason, and the CSV column,
    # whether control characters were taken out, the length before a cut or 0).
    changed: pd.DataFrame = field(default_factory=_EMPTY_CHANGES.copy)
    # The emails of customers no longer in the export whose segment flags the CSV clears (hubspot.gone_customers).
    gone: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"email": pd.Series(dtype=object)}))

    @property
    def rows(self) -> int:
        return len(self.contacts)


def neutralize(text: pd.Series) -> pd.Series:
    """Prefix text that a spreadsheet would run as a formula with a single quote."""
    text = text.fillna("").astype(str)
    risky = text.str.startswith(FORMULA_TRIGGERS)
    return text.where(~risky, "'" + text)


@dataclass
class CsvText:
    cells: pd.Series        # what the CSV holds
    cleaned: pd.Series      # True where control characters were taken out
    cut_from: pd.Series     # the cell's length before it was cut to HubSpot's limit; 0 when it was not cut


def _unprintable(cells: np.ndarray) -> np.ndarray:
    """Which texts hold a character that is not printable; a control character is one. Most columns hold
    none, and their joined text says so in one call."""
    if "".join(cells).isprintable():
        return np.zeros(len(cells), dtype=bool)
    return ~np.fromiter(map(str.isprintable, cells), dtype=bool, count=len(cells))


def _without_controls(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """`text` without control characters, and where it had some (only unprintable cells are searched)."""
    cleaned = pd.Series(False, index=text.index)
    suspects = text[_unprintable(text.to_numpy(dtype=object))]
    found = suspects[suspects.str.contains(_CONTROL)]
    if found.empty:
        return text, cleaned
    cleaned[found.index] = True
    return text.mask(cleaned, found.str.replace(_BREAK, " ", regex=True).str.replace(_CONTROL, "", regex=True)), cleaned


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, limit: int) -> str:
    """The longest start of `text` within `limit` UTF-16 units (a character is never split in half)."""
    return text.encode("utf-16-le")[:2 * limit].decode("utf-16-le", errors="ignore")


def csv_text(values: pd.Series, limit: int = HUBSPOT_MAX_VALUE_CHARS) -> CsvText:
    """A text column's CSV cells: control characters taken out (a line break or tab becomes a space), a
    formula start prefixed with ' (as `neutralize`, judged on the text before and after the clean-up), and
    cut to `limit` characters, the prefix included."""
    text = values.fillna("").astype(str)
    clean, cleaned = _without_controls(text)
    cells = neutralize(clean)  # judged after the clean-up: "\x00=cmd" is a formula once the NUL is gone
    if cleaned.any():  # and one that started like a formula before it ("\t=cmd", now " =cmd") keeps its '
        lost = cleaned & text.str.startswith(FORMULA_TRIGGERS) & ~clean.str.startswith(FORMULA_TRIGGERS)
        cells = cells.mask(lost, "'" + clean)
    cut_from = pd.Series(0, index=text.index, dtype="int64")
    lengths = np.fromiter(map(len, cells.to_numpy(dtype=object)), dtype=np.int64, count=len(cells))
    candidates = cells[lengths > limit // 2]  # a character takes one or two UTF-16 units
    over = candidates[candidates.map(_utf16_length) > limit]
    if not over.empty:
        cut_from[over.index] = lengths[cells.index.get_indexer(over.index)]
        cells = cells.mask(cut_from.gt(0), over.map(lambda cell: _cut(cell, limit)))
    return CsvText(cells, cleaned, cut_from)


def money_text(values: pd.Series) -> pd.Series:
    """Two decimals, no separators; values are rounded already, and +0.0 turns -0.0 into 0.0."""
    numbers = values.to_numpy(dtype=float)
    if not np.isfinite(numbers).all():  # the orders' checks keep every total finite: this is a bug
        raise RuntimeError("a total that is not a finite number reached the HubSpot CSV")
    text = np.char.mod("%.2f", numbers + 0.0)
    return pd.Series(np.where(text == "-0.00", "0.00", text), index=values.index, dtype=object)


def date_text(values: pd.Series) -> pd.Series:
    """YYYY-MM-DD, the year always four digits (0001-01-01 to 9999-12-31); blank where missing."""
    days = values.to_numpy(dtype="datetime64[D]")
    text = np.datetime_as_string(days, unit="D").astype(object)
    text[np.isnat(days)] = ""
    return pd.Series(text, index=values.index, dtype=object)


def select_contacts(members: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Members with a valid, safe email not used by an earlier row; and the rest, with reasons."""
    email = members["email"]
    no_email = email.isna()
    problems = email_problems(email)
    unsafe = problems.ne("")
    # dropna=False: a blank email is a group too, so no row gets NaN and the row numbers stay integers.
    by_email = members.groupby("email", sort=False, dropna=False)
    first_row_of_email = by_email["row"].transform("first")
    first_id_of_email = by_email["customer_id"].transform("first")
    repeated = ~no_email & ~unsafe & email.duplicated()  # an unsafe address is unsafe in every row
    reason = pd.Series("", index=members.index, dtype=object)
    reason[no_email] = "no valid email, so the customer is not in the HubSpot file"
    if unsafe.any():
        shown = email[unsafe].map(visible_text).str.slice(0, 80)
        reason[unsafe] = "email '" + shown + "' " + problems[unsafe] + ", so the customer is not in the HubSpot file"
    reason[repeated] = ("email " + email[repeated] + " already belongs to customer "
                        + first_id_of_email[repeated].fillna("(no ID)").astype(str)
                        + " (memberships row " + first_row_of_email[repeated].astype(str)
                        + "), so this customer is not in the HubSpot file")
    left = no_email | unsafe | repeated
    left_out = members.loc[left, ["row", "customer_id", "customer_name"]].assign(reason=reason[left])
    return members.loc[~left], left_out.reset_index(drop=True)


def csv_columns(contacts: pd.DataFrame, rules: Rules) -> list[str]:
    """The CSV's columns: firstname and lastname follow email when the file holds person names; after the
    segments, what the runs saw change (memberseg.changes)."""
    base = list(HUBSPOT_BASE_COLUMNS)
    if "first_name" in contacts:
        base[1:1] = HUBSPOT_PERSON_COLUMNS
    return base + _later_columns(rules)


def _later_columns(rules: Rules) -> list[str]:
    """The columns after the fixed ones: the segments, the status change, each segment's `_since` date."""
    return ([seg.property for seg in rules.segments] + list(HUBSPOT_CHANGE_COLUMNS)
            + [since_column(seg.property) for seg in rules.segments])


def _text_sources(contacts: pd.DataFrame) -> dict[str, pd.Series]:
    """The CSV's text columns, by CSV name, from the contacts' columns."""
    company = contacts["company"] if "company" in contacts else contacts["customer_name"]
    sources = {"email": contacts["email"], "company": company, "cust_id": contacts["customer_id"],
               "membership_status": contacts["membership_status"],
               "order_value_tier": contacts["order_value_tier"]}
    if "first_name" in contacts:
        sources["firstname"], sources["lastname"] = contacts["first_name"], contacts["last_name"]
    return sources


def contacts_frame(contacts: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    text = {name: csv_text(values).cells for name, values in _text_sources(contacts).items()}
    columns = {
        "email": text["email"],
        "company": text["company"],
        "cust_id": text["cust_id"],
        "membership_status": text["membership_status"],
        "membership_start_date": date_text(contacts["start"]),
        "membership_expiration_date": date_text(contacts["expiration"]),
        "member_since": date_text(contacts["member_since"]),
        "renewal_count": contacts["renewal_count"].astype(str),
        "total_order_value": money_text(contacts["total_order_value"]),
        "order_count": contacts["order_count"].astype(str),
        "estimated_savings": money_text(contacts["estimated_savings"]),
        "order_value_tier": text["order_value_tier"],
    }
    if tuple(columns) != HUBSPOT_BASE_COLUMNS:  # the property definitions are built from the same tuple
        raise RuntimeError("HubSpot CSV columns drifted from HUBSPOT_BASE_COLUMNS")
    if "first_name" in contacts:
        columns["firstname"], columns["lastname"] = text["firstname"], text["lastname"]
    for seg in rules.segments:
        columns[seg.property] = np.where(contacts[seg.property].to_numpy(dtype=bool), "true", "false")
    columns["membership_status_changed_at"] = date_text(contacts["membership_status_changed_at"])
    columns["previous_membership_status"] = csv_text(contacts["previous_membership_status"]).cells
    for seg in rules.segments:
        columns[since_column(seg.property)] = date_text(contacts[since_column(seg.property)])
    frame = pd.DataFrame(columns, index=contacts.index).reset_index(drop=True)
    return frame[csv_columns(contacts, rules)]


def clearable(gone: pd.DataFrame, contacts: pd.DataFrame) -> pd.DataFrame:
    """The gone customers who get a CSV row: not those whose email a current contact now holds."""
    return gone[~gone["email"].isin(contacts["email"])].reset_index(drop=True)


def gone_rows(gone: pd.DataFrame, frame: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """The CSV rows of customers no longer in the export (see `clearable`): their email and every segment flag
    false, the rest blank (a blank cell never changes a HubSpot value)."""
    emails = gone["email"]
    rows = pd.DataFrame("", index=range(len(emails)), columns=frame.columns, dtype=object)
    rows["email"] = csv_text(emails).cells.to_numpy(dtype=object)
    for seg in rules.segments:
        rows[seg.property] = "false"
    return rows


def changed_values(contacts: pd.DataFrame) -> pd.DataFrame:
    """Every CSV cell that `csv_text` changes, in Members order then column order, with the reason."""
    parts = []
    for order, (name, values) in enumerate(_text_sources(contacts).items()):
        # where(), not fillna(""): a text column with no value at all is float, and fillna would upcast it
        cells = values.astype(object).where(values.notna(), "").astype(str).to_numpy(dtype=object)
        lengths = np.fromiter(map(len, cells), dtype=np.int64, count=len(cells))
        # Only an unprintable cell or one near the limit (with a ' prefix, in UTF-16) can change: only they
        # are fitted, so the run does not neutralise every cell twice.
        maybe = _unprintable(cells) | (lengths + 1 > HUBSPOT_MAX_VALUE_CHARS // 2)
        if not maybe.any():
            continue
        fitted = csv_text(values[maybe])
        changed = fitted.cleaned | fitted.cut_from.gt(0)
        if not changed.any():
            continue
        cleaned, cut_from = fitted.cleaned[changed], fitted.cut_from[changed]
        what = pd.Series("", index=cleaned.index, dtype=object)
        what[cleaned] = "control characters taken out (a line break or tab became a space)"
        cut = cut_from.gt(0)
        limit = f" to {HUBSPOT_MAX_VALUE_CHARS:,} characters, HubSpot's limit for a value"
        what[cut] = (what[cut] + "; cut from " + cut_from[cut].map("{:,}".format) + limit).str.removeprefix("; ")
        rows = contacts.loc[cleaned.index]
        parts.append(pd.DataFrame({
            "row": rows["row"], "customer_id": rows["customer_id"], "customer_name": rows["customer_name"],
            "reason": name + " in the HubSpot file: " + what, "column": name, "cleaned": cleaned,
            "length": cut_from, "position": contacts.index.get_indexer(rows.index), "order": order}))
    if not parts:
        return _EMPTY_CHANGES.copy()
    changed = pd.concat(parts).sort_values(["position", "order"], kind="mergesort")
    return changed.drop(columns=["position", "order"]).reset_index(drop=True)


def _render(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def split_csv(frame: pd.DataFrame, max_rows: int, max_bytes: int) -> list[bytes]:
    """Render the CSV, splitting into parts that respect HubSpot's row and byte limits."""
    parts: list[bytes] = []
    start = 0
    while True:
        size = max_rows
        while True:
            chunk = _render(frame.iloc[start:start + size])
            if len(chunk) <= max_bytes or size == 1:
                break
            size = max(1, min(size - 1, int(size * max_bytes / len(chunk) * 0.98)))
        parts.append(chunk)
        start += size
        if start >= len(frame):
            return parts


def export(members: pd.DataFrame, rules: Rules) -> HubSpotExport:
    contacts, left_out = select_contacts(members)
    return HubSpotExport(contacts=contacts, left_out=left_out, changed=changed_values(contacts))


def render_files(contacts: pd.DataFrame, rules: Rules, frame: pd.DataFrame | None = None) -> dict[str, bytes]:
    """File name -> CSV bytes: one file, or numbered parts past HubSpot's per-file limits. `frame` is the
    CSV's rows when the caller made them (`contacts_frame`, plus any `gone_rows`)."""
    frame = contacts_frame(contacts, rules) if frame is None else frame
    parts = split_csv(frame, rules.hubspot.max_rows_per_file, rules.hubspot.max_bytes_per_file)
    if len(parts) == 1:
        return {f"{HUBSPOT_CSV_STEM}.csv": parts[0]}
    return {f"{HUBSPOT_CSV_STEM}_{number}.csv": part for number, part in enumerate(parts, start=1)}


def _options(labels: list[str]) -> list[dict]:
    return [{"label": label, "value": label, "hidden": False, "displayOrder": order}
            for order, label in enumerate(labels)]


def property_definitions(rules: Rules, csv_names: list[str], columns: list[str] | None = None) -> dict:
    group = rules.hubspot.group_name

    def prop(name: str, label: str, type_: str, field_type: str, description: str, **extra) -> dict:
        return {"name": name, "label": label, "type": type_, "fieldType": field_type,
                "groupName": group, "description": description, **extra}

    status_labels = rules.status.labels
    tiers = [tier.label for tier in rules.orders.tiers] + [rules.orders.no_orders_label]
    inputs = [
        prop("cust_id", "Customer ID", "string", "text", "Customer ID from the membership file."),
        prop("membership_status", "Membership Status", "enumeration", "select",
             "Expired, Expiring Soon or Active on the as-of date; Inactive when the platform ended it.",
             options=_options(status_labels.all())),
        prop("membership_start_date", "Membership Start Date", "date", "date", "Start of the current membership."),
        prop("membership_expiration_date", "Membership Expiration Date", "date", "date",
             "Expiration of the current membership."),
        prop("member_since", "Member Since", "date", "date", "First created date of the current unbroken membership."),
        prop("renewal_count", "Renewal Count", "number", "number", "Renewals in the current unbroken membership."),
        prop("total_order_value", "Total Order Value", "number", "number", "Sum of the customer's orders.",
             showCurrencySymbol=True),
        prop("order_count", "Order Count", "number", "number", "Number of the customer's orders."),
        prop("estimated_savings", "Estimated Savings", "number", "number",
             f"Total order value x {rules.orders.savings_rate}.", showCurrencySymbol=True),
        prop("order_value_tier", "Order Value Tier", "enumeration", "select", "Tier by total order value.",
             options=_options(tiers)),
    ]
    for seg in rules.segments:
        inputs.append(prop(seg.property, seg.label, "bool", "booleancheckbox",
                           seg.description or f"memberseg segment: {seg.label}.",
                           options=[{"label": "Yes", "value": "true", "hidden": False, "displayOrder": 0},
                                    {"label": "No", "value": "false", "hidden": False, "displayOrder": 1}]))
    inputs += [
        prop("membership_status_changed_at", "Membership Status Changed At", "date", "date",
             "As-of date of the memberseg run that saw the membership status change (or first saw the member)."),
        prop("previous_membership_status", "Previous Membership Status", "enumeration", "select",
             "Membership status before its last change; blank until it changes.",
             options=_options(status_labels.all())),
    ]
    for seg in rules.segments:
        inputs.append(prop(since_column(seg.property), f"{seg.label} Since", "date", "date",
                           f"As-of date of the memberseg run that first saw the customer in {seg.label}, kept "
                           "while they stay in it. Read it with the segment's flag: an import never blanks a date."))
    columns = columns or list(HUBSPOT_BASE_COLUMNS) + _later_columns(rules)
    mappings = []
    for name in columns:
        mapping = {"columnObjectTypeId": "0-1", "columnName": name, "propertyName": name}
        if name == "email":
            mapping["columnType"] = "HUBSPOT_ALTERNATE_ID"
        mappings.append(mapping)
    imports = [{
        "name": f"memberseg {name}",
        "importOperations": {"0-1": "UPSERT"},
        "dateFormat": "YEAR_MONTH_DAY",
        "marketableContactImport": rules.hubspot.marketable_contact_import,
        "files": [{"fileName": name, "fileFormat": "CSV",
                   "fileImportPage": {"hasHeader": True, "columnMappings": mappings}}],
    } for name in csv_names]
    return {
        "_usage": ("POST 'group' to /crm/v3/properties/contacts/groups, then {'inputs': inputs} to "
                   "/crm/v3/properties/contacts/batch/create; import each CSV with its import_requests "
                   "entry as the importRequest part of POST /crm/v3/imports."),
        "group": {"name": group, "label": rules.hubspot.group_label},
        "inputs": inputs,
        "import_requests": imports,
    }
