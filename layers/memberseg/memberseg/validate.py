"""Stage 2: turn raw cells into typed columns and reject rows that break the rules.

Every input row ends up either valid or in `rejected` with a reason; nothing is
dropped silently. Valid rows carry their Excel row number and file order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .read import RawTable
from .rules import Rules
from .values import ids_with_keys, is_blank, names_with_keys, to_dates, to_money, to_text, valid_email


@dataclass
class Validated:
    valid: pd.DataFrame      # typed columns, one row per valid input row
    rejected: pd.DataFrame   # row, customer_id, customer_name, reason


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


def _date_checks(raw: pd.Series | None, parsed: pd.Series, label: str) -> list[tuple[pd.Series, Reason]]:
    if raw is None:
        return []
    blank = is_blank(raw)
    return [(blank, f"{label} is missing"),
            (~blank & parsed.isna(), _quoting(raw, label, "is not a date"))]


def validate_memberships(table: RawTable, rules: Rules) -> Validated:
    index = table.frame.index
    date_order = rules.inputs.date_order
    id_parts = ids_with_keys(table.column("customer_id"))
    name_parts = names_with_keys(table.column("customer_name"))
    ids, names = id_parts["text"], name_parts["text"]
    created_raw, expiration_raw = table.column("created_date"), table.column("expiration_date")
    created = to_dates(created_raw, date_order)
    expiration = to_dates(expiration_raw, date_order)
    start_raw = table.column("start_date")
    start = to_dates(start_raw, date_order) if start_raw is not None else created.copy()
    start = start.fillna(created)  # blank or unparseable start falls back to created
    email_raw = table.column("email")
    email_text = to_text(email_raw) if email_raw is not None else _empty_text(index)
    enrollment_raw = table.column("enrollment")
    enrollment = to_text(enrollment_raw) if enrollment_raw is not None else _empty_text(index)

    reason = _reasons(
        [(ids.isna() & names.isna(), "no customer ID and no customer name")]
        + _date_checks(created_raw, created, "created date")
        + _date_checks(expiration_raw, expiration, "expiration date")
        + [(expiration < created, "expiration date is before created date")],
        index,
    )
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
        "email": valid_email(email_text.fillna("")),
        "enrollment": enrollment,
    }, index=index)
    bad = reason.ne("")
    rejected = frame.loc[bad, ["row", "customer_id", "customer_name"]].assign(reason=reason[bad])
    return Validated(valid=frame.loc[~bad], rejected=rejected.reset_index(drop=True))


def validate_orders(table: RawTable, rules: Rules) -> Validated:
    index = table.frame.index
    id_parts = ids_with_keys(table.column("customer_id"))
    ids = id_parts["text"]
    value_raw = table.column("order_value")
    value = to_money(value_raw, rules.inputs.decimal_separator)
    value_blank = is_blank(value_raw)
    date_raw = table.column("order_date")
    order_date = (to_dates(date_raw, rules.inputs.date_order) if date_raw is not None
                  else pd.Series(pd.NaT, index=index, dtype="datetime64[ns]"))
    name_raw = table.column("customer_name")
    names = to_text(name_raw) if name_raw is not None else _empty_text(index)
    reason = _reasons([
        (ids.isna(), "no customer ID"),
        (value_blank, "order value is blank"),
        (~value_blank & value.isna(), _quoting(value_raw, "order value", "is not a number")),
    ], index)
    frame = pd.DataFrame({
        "row": table.rows,
        "customer_id": ids,
        "id_key": id_parts["key"],
        "customer_name": names,
        "value": value,
        "order_date": order_date,
    }, index=index)
    bad = reason.ne("")
    rejected = frame.loc[bad, ["row", "customer_id", "customer_name"]].assign(reason=reason[bad])
    return Validated(valid=frame.loc[~bad], rejected=rejected.reset_index(drop=True))
