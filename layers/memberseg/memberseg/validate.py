"""Turn the memberships file's raw cells into typed columns, read what each row means, and reject rows that
break the rules; plus what both files' validation shares (each file's locale, reasons, the split into
valid, rejected and excluded rows).

Every input row ends up valid, rejected (bad data, with a reason) or excluded (a contact that is
no member, with a reason); nothing is dropped silently. Valid rows carry their Excel row number
and file order. What a status text means comes from the file's profile (memberseg/profiles/).
The orders file's money rules (paid, refunded, currencies, line items) are in `memberseg.orders`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import InputError
from .read import RawTable
from .rules import RenewalTest, RoleSpec, Rules
from .values import (
    date_order_votes,
    decimal_separator_votes,
    ids_with_keys,
    is_blank,
    names_with_keys,
    to_dates,
    to_money,
    to_text,
    valid_email,
)

# Far enough ahead for the renewal-chain logic, inside pandas' datetime range; never shown.
OPEN_ENDED = pd.Timestamp("2200-01-01")
DATE_FIELDS = ("created_date", "expiration_date", "start_date", "order_date")
AMOUNT_FIELDS = ("order_value", "refunded_value")


@dataclass
class Validated:
    valid: pd.DataFrame      # typed columns, one row per valid input row
    rejected: pd.DataFrame   # row, customer_id, customer_name, reason
    excluded: pd.DataFrame = field(default_factory=lambda: _no_rows())  # row, customer_id, customer_name, reason
    facts: dict = field(default_factory=dict)  # what report.json says about the file's meaning (join key, currency)
    locale: dict = field(default_factory=dict)  # the file's date order (and decimal separator), with the evidence


def _no_rows() -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(dtype=np.int64), "customer_id": pd.Series(dtype=object),
                         "customer_name": pd.Series(dtype=object), "reason": pd.Series(dtype=object)})


def empty_text(index: pd.Index) -> pd.Series:
    return pd.Series(pd.NA, index=index, dtype=object)


Reason = str | Callable[[pd.Series], pd.Series]


def reasons(checks: list[tuple[pd.Series, Reason]], index: pd.Index) -> pd.Series:
    """Join the reasons of every failed check into one "; "-separated text per row.

    A reason is a fixed text, or a function building the texts for just the failed rows.
    """
    reason = pd.Series("", index=index, dtype=object)
    for failed, text in checks:
        failed = failed.fillna(False).astype(bool)
        if not failed.any():
            continue
        piece = text if isinstance(text, str) else text(failed)
        joined = (reason[failed] + "; " + piece).str.removeprefix("; ")
        reason[failed] = joined
    return reason


def quoting(raw: pd.Series, before: str, after: str) -> Callable[[pd.Series], pd.Series]:
    """Reason texts that quote the offending cell, built only for the failed rows."""
    return lambda failed: before + " '" + raw[failed].astype(str).str.slice(0, 40) + "' " + after


def _date_checks(raw: pd.Series | None, parsed: pd.Series, label: str,
                 blank_ok: pd.Series | None = None) -> list[tuple[pd.Series, Reason]]:
    if raw is None:
        return []
    blank = is_blank(raw)
    unparsed = ~blank & parsed.isna()
    if blank_ok is not None:  # open-ended: blank or "N/A" means no expiry
        blank, unparsed = blank & ~blank_ok, unparsed & ~blank_ok
    return [(blank, f"{label} is missing"), (unparsed, quoting(raw, label, "is not a date"))]


# --- Locale: each file's date order and decimal separator, decided from its own values ---

def _setting(rules: Rules, role: str, key: str) -> str:
    own = getattr(getattr(rules.inputs, role), key)
    return own if own != "inherit" else getattr(rules.inputs, key)


def _decide(table: RawTable, rules: Rules, key: str, fields: tuple[str, ...],
            votes_of: Callable[[pd.Series], dict[str, str]], what: str) -> dict:
    setting = _setting(rules, table.role, key)
    if setting != "auto":
        return {"value": setting, "decided_by": "rules setting", "evidence": []}
    evidence: dict[str, tuple[str, str]] = {}   # choice -> (column header, example value)
    for name in fields:
        raw = table.column(name)
        if raw is None:
            continue
        header = table.headers[table.fields[name]]
        votes = votes_of(raw)
        if len(votes) > 1:
            examples = " and ".join(f"'{example}' ({choice})" for choice, example in votes.items())
            raise InputError("contradictory_values", f"The {table.role} file '{table.file}' column '{header}' "
                             f"holds {what} that contradict each other: {examples}. Fix the column, or set "
                             f"inputs.{table.role}.{key} in a rules file.", file=table.file, sheet=table.sheet,
                             column=header)
        for choice, example in votes.items():
            evidence.setdefault(choice, (header, example))
    if len(evidence) > 1:
        (one, (h1, e1)), (two, (h2, e2)) = list(evidence.items())[:2]
        raise InputError("contradictory_values", f"The {table.role} file '{table.file}' holds {what} that "
                         f"contradict each other: '{e1}' in column '{h1}' reads {one}, '{e2}' in column '{h2}' "
                         f"reads {two}. Set inputs.{table.role}.{key} in a rules file.", file=table.file,
                         sheet=table.sheet, column=h2)
    if evidence:
        choice, (header, example) = next(iter(evidence.items()))
        return {"value": choice, "decided_by": "values",
                "evidence": [f"'{example}' in column '{header}' can only be read as {choice}"]}
    assert table.spec is not None  # noqa: S101 - set by read_table
    profile_default = getattr(table.spec, f"{key}_default")
    if profile_default is not None:
        return {"value": profile_default, "decided_by": "profile default",
                "evidence": ["no value decides; the profile's default applies"]}
    return {"value": getattr(rules.inputs, f"{key}_default"), "decided_by": "rules default",
            "evidence": [f"no value decides; inputs.{key}_default applies"]}


def decide_locale(table: RawTable, rules: Rules) -> dict:
    """date_order (and for orders decimal_separator) for this file, with the evidence, for the report."""
    dates = _decide(table, rules, "date_order", DATE_FIELDS, date_order_votes, "dates")
    locale = {"date_order": dates["value"], "date_order_decided_by": dates["decided_by"],
              "date_order_evidence": dates["evidence"]}
    if table.role == "orders":
        decimals = _decide(table, rules, "decimal_separator", AMOUNT_FIELDS, decimal_separator_votes, "amounts")
        locale.update({"decimal_separator": decimals["value"], "decimal_separator_decided_by": decimals["decided_by"],
                       "decimal_separator_evidence": decimals["evidence"]})
    return locale


# --- Shared with memberseg.orders ---

def spec_of(table: RawTable) -> RoleSpec:
    assert table.spec is not None  # noqa: S101 - set by read_table
    return table.spec


def text_of(table: RawTable, name: str) -> pd.Series:
    raw = table.column(name)
    return to_text(raw) if raw is not None else empty_text(table.frame.index)


def ids_of(table: RawTable) -> pd.DataFrame:
    """Each row's customer ID as the file shows it ("text") and its match key ("key")."""
    raw = table.column("customer_id")
    if raw is None:
        index = table.frame.index
        return pd.DataFrame({"text": empty_text(index), "key": empty_text(index)})
    return ids_with_keys(raw)


def names_of(table: RawTable) -> tuple[pd.Series, pd.Series, pd.Series]:
    """customer_name (or first + last name), first name, last name."""
    first, last = text_of(table, "first_name"), text_of(table, "last_name")
    raw = table.column("customer_name")
    has_parts = table.column("first_name") is not None or table.column("last_name") is not None
    if has_parts:
        composed = (first.fillna("") + " " + last.fillna("")).str.strip()
        composed = composed.where(composed.ne(""), pd.NA)
    else:  # nothing to compose from: skip a million empty concatenations
        composed = empty_text(table.frame.index)
    if raw is None:
        return composed, first, last
    names = to_text(raw)
    if has_parts:
        names = names.fillna(composed)
    return names, first, last


def status_classes(table: RawTable, classes: dict[str, str]) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(platform status text, its class or NA when the profile does not know it, unknown mask)."""
    text = text_of(table, "status")
    if table.column("status") is None:
        return text, pd.Series(pd.NA, index=text.index, dtype=object), pd.Series(False, index=text.index)
    lookup = {key.strip().casefold(): value for key, value in classes.items()}
    klass = text.fillna("").str.casefold().map(lookup)
    return text, klass, klass.isna()


def unknown_status(table: RawTable, text: pd.Series) -> Callable[[pd.Series], pd.Series]:
    assert table.profile is not None  # noqa: S101
    where = f"profiles.{table.profile.name}.{table.role}.statuses"
    return lambda failed: ("status '" + text[failed].fillna("").astype(str).str.slice(0, 40)
                           + f"' is not one the profile knows (add it under {where})")


def split_rows(frame: pd.DataFrame, reason: pd.Series, excluded_reason: pd.Series) -> Validated:
    """Valid, rejected and excluded rows; a row with both reasons is rejected."""
    bad = reason.ne("")
    out = excluded_reason.ne("") & ~bad
    columns = ["row", "customer_id", "customer_name"]
    rejected = frame.loc[bad, columns].assign(reason=reason[bad])
    excluded = frame.loc[out, columns].assign(reason=excluded_reason[out])
    kept = ~bad & ~out
    return Validated(valid=frame if kept.all() else frame.loc[kept], rejected=rejected.reset_index(drop=True),
                     excluded=excluded.reset_index(drop=True))


# --- Memberships ---

def _renewing(table: RawTable, tests: list[RenewalTest]) -> pd.Series:
    result = pd.Series(bool(tests), index=table.frame.index)
    for test in tests:
        raw = table.column(test.field)
        if raw is None:  # the file lacks the column the test needs: nothing renews by itself
            return pd.Series(False, index=table.frame.index)
        text = to_text(raw).fillna("").str.casefold()
        if test.op == "is_blank":
            result &= text.eq("") | text.isin(["none", "null", "false", "0"])
        elif test.op == "not_blank":
            result &= ~(text.eq("") | text.isin(["none", "null", "false", "0"]))
        elif test.op == "positive":
            result &= to_money(raw).fillna(0).gt(0)
        else:
            values = test.value if isinstance(test.value, list) else [test.value]
            folded = [str(value).casefold() for value in values]
            hit = text.isin(folded)
            result &= hit if test.op in ("eq", "in") else ~hit
    return result


def _open_ended(table: RawTable, spec: RoleSpec) -> pd.Series:
    raw = table.column("expiration_date")
    index = table.frame.index
    if raw is None or spec.open_ended is None:
        return pd.Series(False, index=index)
    words = {word.strip().casefold() for word in spec.open_ended}
    blank = is_blank(raw)
    text = to_text(raw).fillna("").str.casefold()
    return (blank & ("" in words)) | (~blank & text.isin(words - {""}))


def validate_memberships(table: RawTable, rules: Rules) -> Validated:
    index = table.frame.index
    spec = spec_of(table)
    locale = decide_locale(table, rules)
    date_order = locale["date_order"]
    id_parts = ids_of(table)
    names, first, last = names_of(table)
    name_parts = names_with_keys(names)
    ids = id_parts["text"]
    created_raw, expiration_raw = table.column("created_date"), table.column("expiration_date")
    created = to_dates(created_raw, date_order)
    open_ended = _open_ended(table, spec)
    expiration = (to_dates(expiration_raw, date_order) if expiration_raw is not None
                  else pd.Series(pd.NaT, index=index, dtype="datetime64[ns]"))
    expiration = expiration.mask(open_ended, OPEN_ENDED)
    start_raw = table.column("start_date")
    start = to_dates(start_raw, date_order) if start_raw is not None else created.copy()
    start = start.fillna(created)  # blank or unparseable start falls back to created
    email_text = text_of(table, "email")
    email = valid_email(email_text.fillna(""))
    status_text, klass, unknown = status_classes(table, spec.statuses)
    klass = klass.fillna("current") if table.column("status") is None else klass
    klass = klass.mask(klass.eq("current") & _renewing(table, spec.renewing_when), "renewing")
    not_member = klass.eq("not_member")

    reason = reasons(
        [(_no_identity(spec, ids, name_parts["key"], email), _identity_text(spec))]
        + [(unknown, unknown_status(table, status_text))]
        + _date_checks(created_raw, created, "created date")
        + _date_checks(expiration_raw, expiration, "expiration date", blank_ok=open_ended)
        + [(expiration < created, "expiration date is before created date")],
        index,
    )
    reason = reason.where(~not_member, "")  # a contact that is no member is excluded, not judged
    excluded_reason = pd.Series("", index=index, dtype=object)
    if not_member.any():
        label = table.headers[table.fields["status"]]
        excluded_reason[not_member] = ("not a member (" + label + " '" + status_text[not_member].fillna("")
                                       + "')")
    plan = text_of(table, "plan")
    names_are_people = spec.names == "person"
    if names_are_people and table.column("first_name") is None and table.column("last_name") is None:
        split = names.str.split(n=1, expand=True).reindex(columns=[0, 1])
        first, last = split[0], split[1]
    frame = pd.DataFrame({
        "row": table.rows,
        "order": np.arange(len(index)),
        "customer_id": ids,
        "id_key": id_parts["key"],
        "customer_name": names,
        "name_key": name_parts["key"],
        "created": created,
        "expiration": expiration,
        "start": start,
        "email": email,
        "enrollment": text_of(table, "enrollment"),
        "open_ended": open_ended.to_numpy(dtype=bool),
        "status_class": klass.fillna("current"),
        "platform_status": status_text,
        "plan": plan,
        "plan_key": plan.fillna("").str.casefold(),
        "company": text_of(table, "company") if names_are_people else names,
    }, index=index)
    if names_are_people:  # HubSpot gets firstname and lastname; a person's name is never the company
        frame["first_name"], frame["last_name"] = first, last
    validated = split_rows(frame, reason, excluded_reason)
    validated.facts = {"names": spec.names, "has_plan": table.column("plan") is not None,
                       "has_status": table.column("status") is not None}
    validated.locale = locale
    return validated


def _no_identity(spec: RoleSpec, ids: pd.Series, name_keys: pd.Series, email: pd.Series) -> pd.Series:
    present = {"customer_id": ids.notna(), "customer_name": name_keys.notna(), "email": email.notna()}
    found = pd.Series(False, index=ids.index)
    for name in spec.identity:
        found |= present[name]
    return ~found


def _identity_text(spec: RoleSpec) -> str:
    words = {"customer_id": "no customer ID", "customer_name": "no customer name", "email": "no valid email"}
    parts = [words[name] for name in spec.identity]
    return " and ".join(parts) if len(parts) < 3 else f"{parts[0]}, {parts[1]} and {parts[2]}"
