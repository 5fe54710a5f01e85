"""Turn the memberships file's raw cells into typed columns, read what each row means, and reject rows that
break the rules; plus what both files' validation shares (each date column's order and each file's
decimal separator, reasons, the split into valid, rejected and excluded rows).

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
from .terms import derive_terms, holds, plan_keys
from .values import (
    date_order_votes,
    decimal_separator_votes,
    ids_with_keys,
    is_blank,
    names_with_keys,
    no_dates,
    to_dates,
    to_text,
    valid_email,
)

# Status classes whose rows are no membership: excluded (Excluded Rows), with these words and the status.
EXCLUDED_MEMBERSHIP_CLASSES = {
    "not_member": "not a member",
    "no_term": "the payment did not complete, so it bought no term",
}
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


def quoting(raw: pd.Series, before: str, after: str,
            source: pd.Series | None = None) -> Callable[[pd.Series], pd.Series]:
    """Reason texts that quote the offending cell, built only for the failed rows; `source` (a field's
    `RawTable.source_headers`) names the fallback column a value came from."""
    def texts(failed: pd.Series) -> pd.Series:
        text = before + " '" + raw[failed].astype(str).str.slice(0, 40) + "' " + after
        if source is None:
            return text
        came_from = source[failed]
        return text + (" (from column '" + came_from + "')").fillna("")
    return texts


def _date_checks(column: DateColumn | None, parsed: pd.Series, label: str,
                 blank_ok: pd.Series | None = None) -> list[tuple[pd.Series, Reason]]:
    if column is None:
        return []
    raw = column.raw
    blank = is_blank(raw)
    unparsed = ~blank & parsed.isna() & ~column.either_way
    if blank_ok is not None:  # open-ended: blank or "N/A" means no expiry
        blank, unparsed = blank & ~blank_ok, unparsed & ~blank_ok
    checks: list[tuple[pd.Series, Reason]] = [(blank, f"{label} is missing"),
                                              (unparsed, quoting(raw, label, "is not a date", column.source))]
    return checks + read_either_way(column)


# --- Locale: each date column's order and each file's decimal separator, decided from their own values ---

MIXED = "mixed"   # a date column (or a file's columns) that uses both orders


@dataclass(frozen=True)
class ColumnOrder:
    """How one date column is read: "DMY", "MDY" or MIXED (each row in its own order), and why."""

    header: str
    order: str
    decided_by: str            # values, other columns, profile default, rules default, rules setting
    evidence: list[str]
    votes: dict[str, str] = field(default_factory=dict)   # order -> a value that can only be read that way

    def describe(self) -> dict:
        return {"order": self.order, "decided_by": self.decided_by, "evidence": list(self.evidence)}


def _setting(rules: Rules, role: str, key: str) -> str:
    own = getattr(getattr(rules.inputs, role), key)
    return own if own != "inherit" else getattr(rules.inputs, key)


def _default(table: RawTable, rules: Rules, key: str) -> tuple[str, str, str]:
    """(value, decided_by, evidence) when no value decides: the profile's default, then the rules'."""
    profile_default = getattr(spec_of(table), f"{key}_default")
    if profile_default is not None:
        return profile_default, "profile default", "no value decides; the profile's default applies"
    return getattr(rules.inputs, f"{key}_default"), "rules default", f"no value decides; inputs.{key}_default applies"


def _decide(table: RawTable, rules: Rules, key: str, fields: tuple[str, ...],
            votes_of: Callable[[pd.Series], dict[str, str]], what: str) -> dict:
    """One value for the whole file (the decimal separator): its columns must agree."""
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
    value, decided_by, because = _default(table, rules, key)
    return {"value": value, "decided_by": decided_by, "evidence": [because]}


def _date_orders(table: RawTable, rules: Rules) -> dict[str, ColumnOrder]:
    """Each date column's order, from its own values.

    A column none of whose values decides follows the file's other date columns when every one that
    decided agrees; otherwise the profile's default, then inputs.date_order_default.
    """
    present = {name: table.headers[table.fields[name]] for name in DATE_FIELDS if table.column(name) is not None}
    setting = _setting(rules, table.role, "date_order")
    if setting != "auto":
        return {name: ColumnOrder(header, setting, "rules setting", []) for name, header in present.items()}
    decided: dict[str, ColumnOrder] = {}
    for name, header in present.items():
        column = table.column(name)
        assert column is not None  # noqa: S101 - present
        votes = date_order_votes(column)
        evidence = [f"'{example}' can only be read as {choice}" for choice, example in votes.items()]
        if len(votes) > 1:
            evidence.append("each such value is read in its own order; one that reads both ways is rejected")
        if votes:
            decided[name] = ColumnOrder(header, next(iter(votes)) if len(votes) == 1 else MIXED, "values",
                                        evidence, votes)
    agreed = {choice for column in decided.values() for choice in column.votes}
    orders = dict(decided)
    for name, header in present.items():
        if name in decided:
            continue
        if len(agreed) == 1:
            (choice,) = agreed
            witness = next(iter(decided.values()))
            orders[name] = ColumnOrder(header, choice, "other columns", [
                f"no value decides; column '{witness.header}' reads {choice} ('{witness.votes[choice]}')"])
        else:
            value, decided_by, because = _default(table, rules, "date_order")
            if agreed:
                because += " (the other date columns disagree)"
            orders[name] = ColumnOrder(header, value, decided_by, [because])
    return {name: orders[name] for name in present}


def _file_date_order(table: RawTable, rules: Rules, columns: dict[str, ColumnOrder]) -> dict:
    """The file's date_order for report.json: the order every column uses, or MIXED."""
    if not columns:
        setting = _setting(rules, table.role, "date_order")
        if setting != "auto":
            return {"date_order": setting, "date_order_decided_by": "rules setting", "date_order_evidence": []}
        value, decided_by, because = _default(table, rules, "date_order")
        return {"date_order": value, "date_order_decided_by": decided_by, "date_order_evidence": [because]}
    used = {column.order for column in columns.values()}
    by_values = [column for column in columns.values() if column.decided_by == "values"]
    evidence = [f"'{example}' in column '{column.header}' can only be read as {choice}"
                for column in by_values for choice, example in column.votes.items()]
    if len(used) == 1 and MIXED not in used:
        first = next(iter(columns.values()))
        if by_values:
            return {"date_order": first.order, "date_order_decided_by": "values", "date_order_evidence": evidence[:1]}
        return {"date_order": first.order, "date_order_decided_by": first.decided_by,
                "date_order_evidence": list(first.evidence)}
    return {"date_order": MIXED, "date_order_decided_by": "values", "date_order_evidence": evidence}


def decide_locale(table: RawTable, rules: Rules) -> tuple[dict, dict[str, ColumnOrder]]:
    """The file's locale for the report (date_order, for orders decimal_separator, with the evidence, and
    each date column's order under date_orders), and each date field's ColumnOrder."""
    columns = _date_orders(table, rules)
    locale = _file_date_order(table, rules, columns)
    locale["date_orders"] = {column.header: column.describe() for column in columns.values()}
    if table.role == "orders":
        decimals = _decide(table, rules, "decimal_separator", AMOUNT_FIELDS, decimal_separator_votes, "amounts")
        locale.update({"decimal_separator": decimals["value"], "decimal_separator_decided_by": decimals["decided_by"],
                       "decimal_separator_evidence": decimals["evidence"]})
    return locale, columns


@dataclass
class DateColumn:
    """A date column read in its order: the dates, and the rows whose value reads two ways in a MIXED column."""

    raw: pd.Series
    dates: pd.Series
    either_way: pd.Series
    reason: Reason
    source: pd.Series | None = None   # per row, the fallback column the value came from (RawTable.source_headers)


def read_dates(table: RawTable, name: str, columns: dict[str, ColumnOrder]) -> DateColumn | None:
    """The field's dates; in a MIXED column each value in the one order it can be read in.

    A value of a MIXED column that reads as two different dates is never guessed: it stays NaT and
    `either_way` marks it, with its reason. A MIXED column none of whose values can be read refuses the file.
    """
    raw = table.column(name)
    if raw is None:
        return None
    column = columns[name]
    source = table.source_headers(name)
    if column.order != MIXED:
        return DateColumn(raw, to_dates(raw, column.order), pd.Series(False, index=raw.index), "", source)
    day_first, month_first = to_dates(raw, "DMY"), to_dates(raw, "MDY")
    either_way = day_first.notna() & month_first.notna() & day_first.ne(month_first)
    dates = day_first.fillna(month_first).mask(either_way)
    if not dates.notna().any():
        examples = " and ".join(f"'{example}' ({choice})" for choice, example in column.votes.items())
        raise InputError("contradictory_values", f"The {table.role} file '{table.file}' column '{column.header}' "
                         f"holds dates that contradict each other: {examples}, and no value of the column can be "
                         f"read. Fix the column, or set inputs.{table.role}.date_order in a rules file.",
                         file=table.file, sheet=table.sheet, column=column.header)

    def reason(failed: pd.Series) -> pd.Series:
        def spoken(dates: pd.Series) -> pd.Series:
            return dates[failed].dt.day.astype(str) + " " + dates[failed].dt.month_name()
        return (column.header + " '" + raw[failed].astype(str).str.strip().str.slice(0, 40) + "' could be "
                + spoken(day_first) + " or " + spoken(month_first) + ": the column uses both orders")
    return DateColumn(raw, dates, either_way, reason, source)


def read_either_way(column: DateColumn | None) -> list[tuple[pd.Series, Reason]]:
    """The check that rejects the rows of a MIXED date column whose value reads as two dates."""
    return [] if column is None else [(column.either_way, column.reason)]


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


def status_classes(table: RawTable, classes: dict[str, str], name: str = "status") -> tuple[pd.Series, pd.Series,
                                                                                           pd.Series]:
    """(platform status text, its class or NA when the profile does not know it, unknown mask); `name`: the
    field whose texts `classes` maps (an orders file's row_type is read the same way)."""
    text = text_of(table, name)
    if table.column(name) is None:
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
        held = holds(table, test)
        if held is None:  # the file lacks the column the test needs: nothing renews by itself
            return pd.Series(False, index=table.frame.index)
        result &= held
    return result


def _open_ended(table: RawTable, spec: RoleSpec, expiration: pd.Series) -> pd.Series:
    """The rows whose expiration means no expiry: a text of `open_ended`, or a date of `open_ended_dates`
    (however the cell writes it)."""
    raw = table.column("expiration_date")
    index = table.frame.index
    if raw is None or (spec.open_ended is None and not spec.open_ended_dates):
        return pd.Series(False, index=index)
    sentinel = expiration.isin(pd.to_datetime(spec.open_ended_dates).astype(expiration.dtype))
    if spec.open_ended is None:
        return sentinel
    words = {word.strip().casefold() for word in spec.open_ended}
    blank = is_blank(raw)
    text = to_text(raw).fillna("").str.casefold()
    return sentinel | (blank & ("" in words)) | (~blank & text.isin(words - {""}))


# Status classes that hold a membership now: with status_alone, open-ended when no end date is given.
CURRENT_CLASSES = ("current", "renewing", "comp", "gift")


def validate_memberships(table: RawTable, rules: Rules) -> Validated:
    index = table.frame.index
    spec = spec_of(table)
    locale, date_columns = decide_locale(table, rules)
    id_parts = ids_of(table)
    names, first, last = names_of(table)
    name_parts = names_with_keys(names)
    ids = id_parts["text"]
    created_column = read_dates(table, "created_date", date_columns)
    expiration_column = read_dates(table, "expiration_date", date_columns)
    start_column = read_dates(table, "start_date", date_columns)
    assert created_column is not None or spec.status_alone  # noqa: S101 - a required field otherwise
    created = created_column.dates if created_column is not None else no_dates(index)
    expiration = expiration_column.dates if expiration_column is not None else no_dates(index)
    open_ended = _open_ended(table, spec, expiration)
    expiration = expiration.mask(open_ended)   # no expiry: no date (the open_ended column says why)
    email_text = text_of(table, "email")
    email = valid_email(email_text.fillna(""))
    status_text, klass, unknown = status_classes(table, spec.statuses)
    klass = klass.fillna("current") if table.column("status") is None else klass
    klass = klass.mask(klass.eq("current") & _renewing(table, spec.renewing_when), "renewing")
    not_member = klass.isin(list(EXCLUDED_MEMBERSHIP_CLASSES))
    excluded_reason = pd.Series("", index=index, dtype=object)
    if not_member.any():
        label = table.headers[table.fields["status"]]
        why = klass[not_member].map(EXCLUDED_MEMBERSHIP_CLASSES)
        excluded_reason[not_member] = why + " (" + label + " '" + status_text[not_member].fillna("") + "')"

    blank_created_ok = blank_expiration_ok = None
    term_checks: list[tuple[pd.Series, Reason]] = []
    term_start = None
    facts: dict = {}
    if spec.status_alone:   # no dates: a current membership is open-ended, an ended one expired
        blank_created_ok = blank_expiration_ok = pd.Series(True, index=index)
        open_ended = open_ended | (klass.isin(CURRENT_CLASSES) & expiration.isna())
    elif spec.term is not None:   # each paid row buys a term; the file's own expiration wins where it has one
        assert table.profile is not None  # noqa: S101 - set by read_table
        terms = derive_terms(table, spec.term, created, f"profiles.{table.profile.name}.memberships")
        raw = table.column("expiration_date")
        from_term = is_blank(raw) if raw is not None else pd.Series(True, index=index)
        from_term &= terms.buys & ~open_ended
        expiration = expiration.where(~from_term, terms.end)
        blank_expiration_ok = open_ended | terms.buys
        term_checks = list(terms.rejected)
        term_start = terms.start.where(from_term, created)
        bought_none = ~terms.buys & ~not_member
        excluded_reason[bought_none] = terms.not_bought[bought_none]
        not_member = not_member | bought_none
        facts["terms"] = {"from_named_year": from_term & terms.named, "from_payment_date": from_term & ~terms.named}
    start = start_column.dates if start_column is not None else (term_start if term_start is not None
                                                                  else created.copy())
    start = start.fillna(created)  # blank or unparseable start falls back to created

    reason = reasons(
        [(_no_identity(spec, ids, name_parts["key"], email), _identity_text(spec))]
        + [(unknown, unknown_status(table, status_text))]
        + _date_checks(created_column, created, "created date", blank_ok=blank_created_ok)
        + _date_checks(expiration_column, expiration, "expiration date", blank_ok=_either(open_ended,
                                                                                           blank_expiration_ok))
        + read_either_way(start_column)
        + term_checks
        + [(expiration < created, "expiration date is before created date")],
        index,
    )
    reason = reason.where(~not_member, "")  # a contact that is no member is excluded, not judged
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
        "plan_key": plan.fillna("").str.casefold() if spec.term is None else plan_keys(plan),
        "company": text_of(table, "company") if names_are_people else names,
    }, index=index)
    if names_are_people:  # HubSpot gets firstname and lastname; a person's name is never the company
        frame["first_name"], frame["last_name"] = first, last
    if term_start is not None:   # a calendar year or season renews from its first day, not the payment's
        frame["term_start"] = term_start
    if spec.status_alone:        # an ended membership without dates is Expired (classify)
        frame["status_alone"] = True
    validated = split_rows(frame, reason, excluded_reason)
    validated.facts = {"names": spec.names, "has_plan": table.column("plan") is not None,
                       "has_status": table.column("status") is not None}
    if "terms" in facts:   # how many kept rows took their year from the plan text, how many from the payment
        kept = validated.valid.index
        validated.facts["terms"] = {key: int(rows.loc[kept].sum()) for key, rows in facts["terms"].items()}
    validated.locale = locale
    return validated


def _either(first: pd.Series, second: pd.Series | None) -> pd.Series:
    return first if second is None else first | second


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
