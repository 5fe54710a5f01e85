"""Stage 2: turn raw cells into typed columns, read what each row means, and reject rows that break the rules.

Every input row ends up valid, rejected (bad data, with a reason) or excluded (a row that
is not a membership or a paid order, with a reason); nothing is dropped silently. Valid
rows carry their Excel row number and file order. What a status text means, which amount
counts and how orders are keyed all come from the file's profile (memberseg/profiles/).
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
    ZERO_DECIMAL_CURRENCIES,
    cell_kinds,
    currency_codes_in_text,
    date_order_votes,
    decimal_separator_votes,
    ids_with_keys,
    is_blank,
    last_amount,
    names_with_keys,
    to_dates,
    to_money,
    to_text,
    valid_email,
    zero_decimal_amounts,
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


def _no_rows() -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(dtype=np.int64), "customer_id": pd.Series(dtype=object),
                         "customer_name": pd.Series(dtype=object), "reason": pd.Series(dtype=object)})


def _empty_text(index: pd.Index) -> pd.Series:
    return pd.Series(pd.NA, index=index, dtype=object)


Reason = str | Callable[[pd.Series], pd.Series]


def _reasons(checks: list[tuple[pd.Series, Reason]], index: pd.Index) -> pd.Series:
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


def _quoting(raw: pd.Series, before: str, after: str) -> Callable[[pd.Series], pd.Series]:
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
    return [(blank, f"{label} is missing"), (unparsed, _quoting(raw, label, "is not a date"))]


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
    """date_order and decimal_separator for this file, with the evidence; stored on the table for the report."""
    dates = _decide(table, rules, "date_order", DATE_FIELDS, date_order_votes, "dates")
    locale = {"date_order": dates["value"], "date_order_decided_by": dates["decided_by"],
              "date_order_evidence": dates["evidence"]}
    if table.role == "orders":
        decimals = _decide(table, rules, "decimal_separator", AMOUNT_FIELDS, decimal_separator_votes, "amounts")
        locale.update({"decimal_separator": decimals["value"], "decimal_separator_decided_by": decimals["decided_by"],
                       "decimal_separator_evidence": decimals["evidence"]})
    table.locale = locale
    return locale


# --- Shared pieces ---

def _spec(table: RawTable) -> RoleSpec:
    assert table.spec is not None  # noqa: S101 - set by read_table
    return table.spec


def _text_of(table: RawTable, name: str) -> pd.Series:
    raw = table.column(name)
    return to_text(raw) if raw is not None else _empty_text(table.frame.index)


def _names(table: RawTable) -> tuple[pd.Series, pd.Series, pd.Series]:
    """customer_name (or first + last name), first name, last name."""
    first, last = _text_of(table, "first_name"), _text_of(table, "last_name")
    raw = table.column("customer_name")
    has_parts = table.column("first_name") is not None or table.column("last_name") is not None
    if has_parts:
        composed = (first.fillna("") + " " + last.fillna("")).str.strip()
        composed = composed.where(composed.ne(""), pd.NA)
    else:  # nothing to compose from: skip a million empty concatenations
        composed = _empty_text(table.frame.index)
    if raw is None:
        return composed, first, last
    names = to_text(raw)
    if has_parts:
        names = names.fillna(composed)
    return names, first, last


def _classes(table: RawTable, classes: dict[str, str]) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(platform status text, its class or NA when the profile does not know it, unknown mask)."""
    text = _text_of(table, "status")
    if table.column("status") is None:
        return text, pd.Series(pd.NA, index=text.index, dtype=object), pd.Series(False, index=text.index)
    lookup = {key.strip().casefold(): value for key, value in classes.items()}
    klass = text.fillna("").str.casefold().map(lookup)
    return text, klass, klass.isna()


def _unknown_status(table: RawTable, text: pd.Series) -> Callable[[pd.Series], pd.Series]:
    assert table.profile is not None  # noqa: S101
    where = f"profiles.{table.profile.name}.{table.role}.statuses"
    return lambda failed: ("status '" + text[failed].fillna("").astype(str).str.slice(0, 40)
                           + f"' is not one the profile knows (add it under {where})")


def _split(frame: pd.DataFrame, reason: pd.Series, excluded_reason: pd.Series) -> Validated:
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
    spec = _spec(table)
    date_order = decide_locale(table, rules)["date_order"]
    id_parts = ids_with_keys(table.column("customer_id")) if table.column("customer_id") is not None else \
        pd.DataFrame({"text": _empty_text(index), "key": _empty_text(index)})
    names, first, last = _names(table)
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
    email_text = _text_of(table, "email")
    email = valid_email(email_text.fillna(""))
    status_text, klass, unknown = _classes(table, spec.statuses)
    klass = klass.fillna("current") if table.column("status") is None else klass
    klass = klass.mask(klass.eq("current") & _renewing(table, spec.renewing_when), "renewing")
    not_member = klass.eq("not_member")

    reason = _reasons(
        [(_no_identity(spec, ids, name_parts["key"], email), _identity_text(spec))]
        + [(unknown, _unknown_status(table, status_text))]
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
    plan = _text_of(table, "plan")
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
        "enrollment": _text_of(table, "enrollment"),
        "open_ended": open_ended.to_numpy(dtype=bool),
        "status_class": klass.fillna("current"),
        "platform_status": status_text,
        "plan": plan,
        "plan_key": plan.fillna("").str.casefold(),
        "company": _text_of(table, "company") if names_are_people else names,
    }, index=index)
    if names_are_people:  # HubSpot gets firstname and lastname; a person's name is never the company
        frame["first_name"], frame["last_name"] = first, last
    validated = _split(frame, reason, excluded_reason)
    validated.facts = {"names": spec.names, "has_plan": table.column("plan") is not None,
                       "has_status": table.column("status") is not None}
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


# --- Orders ---

JOIN_KEYS = ("customer_id", "email", "customer_name")


def join_key_of(table: RawTable) -> str:
    """Orders join on customer ID; without that column on email; without either on the customer's name."""
    if table.column("customer_id") is not None:
        return "customer_id"
    if table.column("email") is not None:
        return "email"
    return "customer_name"


def _order_level(table: RawTable) -> None:
    """Line-item exports: give every row of an order the order-level cells of its first row that has them."""
    order_raw = table.column("order_id")
    if order_raw is None:
        return
    order = to_text(order_raw)
    key = order.fillna("row:" + pd.Series(table.rows, index=order.index).astype(str))
    for name in ("order_value", "refunded_value", "status", "currency", "order_date", "customer_id", "email",
                 "customer_name", "first_name", "last_name"):
        position = table.fields.get(name)
        if position is None:
            continue
        raw = table.frame[position]
        present = raw.where(~is_blank(raw))
        table.frame[position] = present.groupby(key, sort=False).transform("first").astype(object)
    table.frame["__order_head"] = ~key.duplicated()


@dataclass
class _Amounts:
    value: pd.Series      # amount before refunds
    raw: pd.Series        # its raw cells
    kinds: pd.Series      # cell_kinds of `raw`, computed once for every parser of the column
    refunded: pd.Series   # refunded amount


def _amounts(table: RawTable, spec: RoleSpec, decimal: str) -> _Amounts:
    """The order amounts and refunds, with their raw cells."""
    value_raw = table.column("order_value")
    assert value_raw is not None  # noqa: S101 - a required field
    if spec.last_amount_wins:
        value_raw = last_amount(value_raw)
    kinds = cell_kinds(value_raw)
    value = to_money(value_raw, decimal, kinds)
    refunded_raw = table.column("refunded_value")
    refunded = (to_money(refunded_raw, decimal).fillna(0.0) if refunded_raw is not None
                else pd.Series(0.0, index=value.index))
    return _Amounts(value, value_raw, kinds, refunded)


def _currencies(table: RawTable, amounts: _Amounts) -> pd.Series:
    in_text = currency_codes_in_text(amounts.raw, amounts.kinds)
    column = table.column("currency")
    return to_text(column).str.upper().fillna(in_text) if column is not None else in_text


def _convert(currency: pd.Series, amounts: pd.Series, rules: Rules, index: pd.Index) -> tuple[pd.Series, pd.Series,
                                                                                               dict]:
    """Amounts in the base currency, and the exclusion reason of orders in a currency without a rate."""
    reason = pd.Series("", index=index, dtype=object)
    present = currency.dropna()
    if present.empty:
        return amounts, reason, {}
    counts = present.value_counts()
    most_common = sorted(counts[counts == counts.max()].index)[0]
    base = rules.orders.base_currency if rules.orders.base_currency != "auto" else most_common
    rates = {**rules.orders.currency_rates, base: 1.0}
    rate = currency.fillna(base).map(rates)
    missing = rate.isna()
    reason[missing] = "currency " + currency[missing].astype(str) + " has no rate in the rules (orders.currency_rates)"
    facts = {"base": base, "chosen_by": "rules" if rules.orders.base_currency != "auto" else "most common in file",
             "rows_by_currency": {str(code): int(count) for code, count in counts.sort_index().items()},
             "rows_without_currency_read_as_base": int(currency.isna().sum())}
    return amounts * rate.fillna(0.0), reason, facts


def _join_values(join: str, id_parts: pd.DataFrame, names: pd.Series, table: RawTable) -> pd.Series:
    """Each row's value of the join key (only the one key is computed: orders files are the large ones)."""
    if join == "customer_id":
        return id_parts["key"]
    if join == "email":
        return valid_email(_text_of(table, "email").fillna(""))
    return names_with_keys(names)["key"]


def validate_orders(table: RawTable, rules: Rules) -> Validated:
    index = table.frame.index
    spec = _spec(table)
    locale = decide_locale(table, rules)
    _order_level(table)
    join = join_key_of(table)
    id_parts = ids_with_keys(table.column("customer_id")) if table.column("customer_id") is not None else \
        pd.DataFrame({"text": _empty_text(index), "key": _empty_text(index)})
    names, _, _ = _names(table)
    amounts = _amounts(table, spec, locale["decimal_separator"])
    value, value_raw, refunded = amounts.value, amounts.raw, amounts.refunded
    currency = _currencies(table, amounts)
    zero_decimal = currency.isin(ZERO_DECIMAL_CURRENCIES)
    if zero_decimal.any():  # zero-decimal currencies' "1.000" is a thousand
        grouped = zero_decimal_amounts(value_raw)
        value = value.mask(zero_decimal & grouped.notna(), grouped)
    value_blank = is_blank(value_raw, amounts.kinds)
    date_raw = table.column("order_date")
    order_date = (to_dates(date_raw, locale["date_order"]) if date_raw is not None
                  else pd.Series(pd.NaT, index=index, dtype="datetime64[ns]"))
    status_text, klass, unknown = _classes(table, spec.statuses)
    klass = klass.fillna("paid") if table.column("status") is None else klass
    key = _join_values(join, id_parts, names, table)
    missing_key = {"customer_id": "no customer ID", "email": "no valid email",
                   "customer_name": "no customer name"}[join]
    reason = _reasons([
        (key.isna(), missing_key),
        (unknown, _unknown_status(table, status_text)),
        (value_blank, "order value is blank"),
        (~value_blank & value.isna(), _quoting(value_raw, "order value", "is not a number")),
    ], index)
    net = value - refunded
    if table.column("refunded_value") is not None:  # refunded in full (or more) counts 0
        net = net.where(~(net < 0), 0.0)
    net = net.where(klass.ne("refunded"), 0.0)
    # Only amounts that read as numbers have a currency (a rejected row does not choose the base).
    converted, currency_reason, currency_facts = _convert(currency.where(value.notna()), net, rules, index)
    excluded_reason = currency_reason.copy()
    unpaid = klass.eq("unpaid")
    excluded_reason[unpaid] = "order status '" + status_text[unpaid].fillna("").astype(str) + "' is not paid"
    head = table.frame.get("__order_head", pd.Series(True, index=index)).astype(bool)
    frame = pd.DataFrame({
        "row": table.rows,
        "customer_id": id_parts["text"] if join == "customer_id" else (key if join == "email" else names),
        "id_key": key,
        "customer_name": names,
        "value": converted.where(head, 0.0),
        "is_order": head.to_numpy(dtype=bool),
        "order_date": order_date,
    }, index=index)
    validated = _split(frame, reason, excluded_reason)
    validated.facts = {"join_key": join, "currency": currency_facts,
                       "line_items": table.column("order_id") is not None,
                       "orders_in": int(head.sum())}
    return validated
