"""Columns that no field reads but that would change the numbers: the run stops and asks about them.

A profile, packaged or a user's, reads some of a file's columns. A column it leaves unread is harmless
unless it says something memberseg would have to act on: a status (a declined payment), a row type (a
refund row), a refunded amount, a currency (EUR beside USD) or an amount unit (cents). Such a column,
judged by its header (the export vocabulary) or by its values (a few known words, or currency codes),
stops the run with `unread_column` unless the profile lists it under `ignore`. A read amount column
whose header names a minor unit (`amount_in_cents`) stops it too, unless the profile says
`amount_unit: minor` (`amount_unit_unstated`).

What counts is data: `rules/meaningful_columns.yaml` (which fields and value kinds, per role) over
`rules/vocabulary.yaml` (the spellings and words). Only a sample of rows is read for a column with many
distinct values; a column with few is read in full, so one refund row among a million is seen.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from .errors import InputError
from .headers import describe_file
from .rules import RoleSpec, normalize_header
from .rules.meaningful import meaningful_columns
from .rules.vocabulary import fold_value, header_fields, value_class
from .safety.scanner import col_letters

AMOUNT_FIELDS = ("order_value", "refunded_value")


@functools.cache
def _currencies() -> frozenset[str]:
    return frozenset(code.casefold() for code in meaningful_columns().currencies)


def _header_words(header: str) -> set[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", header)
    return {word for word in re.split(r"[^0-9a-z]+", spaced.casefold()) if word}


def names_minor_unit(header: str) -> bool:
    """True when a header says its amounts are in a minor unit ("amount_in_cents", "Amount (cents)")."""
    data = meaningful_columns()
    return bool(_header_words(header) & set(data.unit_words)) or \
        normalize_header(header) in {normalize_header(text) for text in data.unit_headers}


@dataclass(frozen=True)
class Meaning:
    """What an unread column may be, and what reading it wrong would do."""

    kind: str          # status, row_type, refunded_value, currency, amount_unit, plan_interval, renewal_marker
    risk: str          # the sentence on what would be wrong
    key: str           # what the profile would say instead (a field or key of docs/rules.md)


_MEANINGS = {
    "status": {"orders": ("If not every row is a completed payment, the totals would be wrong.",
                          "a status field and its statuses"),
               "memberships": ("If not every row is a current membership, the statuses would be wrong.",
                               "a status field and its statuses")},
    "row_type": {"orders": ("If these rows are not all payments, the totals would be wrong.", "row_types"),
                 "memberships": ("If these rows are not all memberships bought, the memberships would be wrong.",
                                 "a status field and its statuses")},
    "refunded_value": {"orders": ("If it holds refunds, they would not be subtracted from the totals.",
                                  "the refunded_value field")},
    "currency": {"orders": ("If the amounts are not all in one currency, the totals would add different "
                            "currencies together.", "the currency field, with orders.currency_rates")},
    "amount_unit": {"orders": ("If the amounts are in cents, the totals would be 100 times too large.",
                               "amount_unit")},
    "plan_interval": {"memberships": ("If memberships renew by themselves at this interval, they would be shown "
                                      "as expiring when they are not.",
                                      "a term with interval_field, or renewing_when")},
    "renewal_marker": {"memberships": ("If it says which memberships renew by themselves, they would be shown as "
                                       "expiring when they are not.", "a renewal_marker field and renewing_when")},
}


def _meaning(kind: str, role: str) -> Meaning:
    risk, key = _MEANINGS[kind].get(role) or _MEANINGS[kind]["orders"]
    return Meaning(kind, risk, key)


@dataclass(frozen=True)
class UnreadColumn:
    header: str
    position: int       # in the file, 0-based
    values: list[str]   # distinct values, as first written, at most values_shown
    more: int           # distinct values beyond those
    meaning: Meaning

    @property
    def letter(self) -> str:
        return col_letters(self.position + 1)

    def describe(self) -> dict:
        return {"header": self.header, "letter": self.letter, "values": self.values, "more_values": self.more,
                "meaning": self.meaning.kind}


class ColumnValues(Protocol):
    """A file's columns, by position (`memberseg.read` keeps them so)."""

    def distinct(self, position: int, rows: np.ndarray | None = None) -> set: ...  # its values (in those rows)
    def peek(self, position: int) -> np.ndarray: ...                              # every cell, in file order


def _folded(values: Iterable[object]) -> dict[str, str]:
    """Folded value -> the value as first given, blanks (None, NaN, "", spaces) left out."""
    found: dict[str, str] = {}
    for value in values:
        if value is None or (isinstance(value, float) and value != value):
            continue
        text = str(value).strip()
        if text:
            found.setdefault(fold_value(text), text)
    return found


def _word_kind(word: str, role: str) -> str | None:
    """status, row_type or currency when the (folded) value is a known word of that kind in `role`'s files."""
    spec = meaningful_columns().roles[role]
    for kind in spec.value_kinds:
        if value_class(kind, word) is not None:  # type: ignore[arg-type]
            return "row_type" if kind == "row_type" else "status"
    return "currency" if spec.currency_values and word in _currencies() else None


def _known_kind(words: Collection[str], role: str) -> str | None:
    """The meaning of a column whose distinct (folded) values these are: a few values, at least half of them
    known words (all of them, for currency codes); the most common kind among them. None otherwise."""
    if not words or len(words) > meaningful_columns().max_distinct_values:
        return None
    kinds = [kind for kind in (_word_kind(word, role) for word in words) if kind is not None]
    if not kinds or len(kinds) * 2 < len(words):
        return None
    if kinds.count("currency") == len(kinds) and len(kinds) < len(words):
        return None  # a few three-letter words among others: not a currency column
    return max(("row_type", "status", "currency"), key=kinds.count)


def _header_kind(header: str, role: str) -> str | None:
    spec = meaningful_columns().roles[role]
    field = header_fields(role).get(normalize_header(header))
    if field in spec.header_fields:
        return "status" if field == "status" else field
    if spec.unit_headers and names_minor_unit(header):
        return "amount_unit"
    return None


def _aliases(spec: RoleSpec) -> set[str]:
    return {normalize_header(header) for header in spec.ignore}


def find_unread(role: str, spec: RoleSpec, headers: list[str], read: Collection[int], rows: int,
                columns: ColumnValues) -> list[UnreadColumn]:
    """The columns no field reads, not ignored, that look meaningful; `headers` are the file's, by position.

    A sample decides which columns have few values; only those are read in full, as a set of values.
    Values are put in file order only for a column that is named."""
    data = meaningful_columns()
    ignored = _aliases(spec)
    sample = np.unique(np.linspace(0, rows - 1, num=min(rows, data.sample_rows)).astype(np.int64)) if rows else None
    found = []
    for position, header in enumerate(headers):
        if position in read or (header and normalize_header(header) in ignored) or sample is None:
            continue
        by_header = _header_kind(header, role) if header else None
        if by_header is None and len(_folded(columns.distinct(position, sample))) > data.max_distinct_values:
            continue  # IDs, names, dates, amounts: no status or type column
        words = _folded(columns.distinct(position))
        kind = by_header or _known_kind(words.keys(), role)
        if kind is None or not words:
            continue
        values = list(_folded(pd.unique(columns.peek(position))).values())
        shown = values[:data.values_shown]
        found.append(UnreadColumn(header or f"Column {col_letters(position + 1)}", position, shown,
                                  len(values) - len(shown), _meaning(kind, role)))
    return found


def _ignore_key(role: str, profile: str) -> str:
    return f"profiles.{profile}.{role}.ignore"


def unread_column_error(role: str, file: str, sheet: str | None, profile: str,
                        columns: list[UnreadColumn]) -> InputError:
    first = columns[0]
    values = ", ".join(first.values) + (f" and {first.more:,} more" if first.more else "")
    also = ""
    if len(columns) > 1:
        also = " Also unread: " + "; ".join(f"'{c.header}' (column {c.letter}: {', '.join(c.values)})"
                                            for c in columns[1:]) + "."
    message = (f"{describe_file(role, file, sheet)} has a column '{first.header}' (column {first.letter}) that "
               f"memberseg does not read, with the values {values}. {first.meaning.risk} Say what the column "
               f"means in a profile ({first.meaning.key}, see docs/rules.md), or list it under "
               f"{_ignore_key(role, profile)} if it does not matter.{also}")
    return InputError("unread_column", message, file=file, sheet=sheet, column=first.header,
                      details={"profile": profile, "ignore_key": _ignore_key(role, profile),
                               "columns": [column.describe() for column in columns]})


def unstated_unit_error(role: str, file: str, sheet: str | None, profile: str, field: str,
                        header: str, position: int) -> InputError:
    """A read amount column whose header names a minor unit, in a profile that does not say amount_unit: minor."""
    key = f"profiles.{profile}.{role}.amount_unit"
    return InputError("amount_unit_unstated",
                      f"{describe_file(role, file, sheet)} reads its {field} from the column '{header}' (column "
                      f"{col_letters(position + 1)}), whose header says the amounts are in cents (a minor unit), but "
                      f"the profile does not say so: read as they are, the totals would be 100 times too large. "
                      f"Set {key}: minor (see docs/rules.md) if they are in cents.",
                      file=file, sheet=sheet, column=header, details={"profile": profile, "field": field,
                                                                      "key": key})


def check_columns(role: str, file: str, sheet: str | None, profile: str, spec: RoleSpec, headers: list[str],
                  fields: dict[str, int], rows: int, columns: ColumnValues) -> None:
    """Raise when a meaningful column is unread (unread_column) or an amount's unit is unstated."""
    if meaningful_columns().roles[role].unit_headers and getattr(spec, "amount_unit", None) != "minor":
        for field in AMOUNT_FIELDS:
            position = fields.get(field)
            if position is not None and names_minor_unit(headers[position]):
                raise unstated_unit_error(role, file, sheet, profile, field, headers[position], position)
    read = set(fields.values()) | _fallback_positions(spec, headers)
    unread = find_unread(role, spec, headers, read, rows, columns)
    if unread:
        raise unread_column_error(role, file, sheet, profile, unread)


def _fallback_positions(spec: RoleSpec, headers: list[str]) -> set[int]:
    """Columns a field reads as a per-row fallback (`fallbacks`, when the profile language has them)."""
    wanted = {normalize_header(alias) for field in spec.fields.values() for alias in getattr(field, "fallbacks", [])}
    return {position for position, header in enumerate(headers) if header and normalize_header(header) in wanted}
