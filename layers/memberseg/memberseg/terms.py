"""Membership terms bought by payment rows, for exports with no end date (a profile's `term`): which rows
buy a term, and when each term starts and ends.

A fixed span (months or days) runs from the payment date to the same date that much later. A calendar
year or a season runs from its first day to its last: the one the plan text names ("Cotisation 2024",
"Season 2023/24" starts in 2023), else the one containing the payment date. The end is the row's
expiration date; consolidation makes consecutive terms renewals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .read import RawTable
from .rules import RenewalTest, Term, TermSpan
from .values import DATE_UNIT, no_dates, to_money, to_text

# A year (1900-2099) on its own, or a season "2023-2024", "2023/24", "2023 - 24": digits on neither side.
YEAR_IN_TEXT = r"(?<!\d)((?:19|20)\d\d)(?:\s*[-/]\s*(\d{4}|\d\d))?(?!\d)"
FALSY = ["", "none", "null", "false", "0"]


def holds(table: RawTable, test: RenewalTest) -> pd.Series | None:
    """The rows for which the test holds; None when the file lacks the test's column."""
    raw = table.column(test.field)
    if raw is None:
        return None
    text = to_text(raw).fillna("").str.strip().str.casefold()
    if test.op == "is_blank":
        return text.isin(FALSY)
    if test.op == "not_blank":
        return ~text.isin(FALSY)
    if test.op == "positive":
        return to_money(raw).fillna(0).gt(0)
    values = test.value if isinstance(test.value, list) else [test.value]
    folded = [str(value).strip().casefold() for value in values]
    if test.op == "starts_with":
        return text.str.startswith(tuple(folded))
    if test.op == "contains":
        hit = pd.Series(False, index=text.index)
        for word in folded:
            hit |= text.str.contains(word, regex=False)
        return hit
    hit = text.isin(folded)
    return hit if test.op in ("eq", "in") else ~hit


@dataclass
class Terms:
    start: pd.Series        # the term's first day; NaT where the row buys none
    end: pd.Series          # its end: the expiration date
    buys: pd.Series         # the row passes buys_when
    not_bought: pd.Series   # the excluded rows' reason ("" where the row buys a term)
    rejected: list[tuple[pd.Series, Callable[[pd.Series], pd.Series]]]   # rows whose term is unreadable, and why
    named: pd.Series        # the year or season came from the plan text


def _not_bought(table: RawTable, term: Term) -> tuple[pd.Series, pd.Series]:
    """(buys, reason): the first failed test of each row names its column and value."""
    index = table.frame.index
    buys = pd.Series(True, index=index)
    reason = pd.Series("", index=index, dtype=object)
    for test in term.buys_when:
        held = holds(table, test)
        failed = ~held if held is not None else pd.Series(True, index=index)
        new = failed & buys
        if new.any():
            position = table.fields.get(test.field)
            header = table.headers[position] if position is not None else test.field
            cells = to_text(table.column(test.field)) if position is not None else pd.Series("", index=index)
            reason[new] = "bought no membership: " + header + " '" + cells[new].fillna("").str.slice(0, 40) + "'"
        buys &= ~failed
    return buys, reason


def add_span(dates: pd.Series, span: TermSpan) -> pd.Series:
    if span.months is not None:
        shifted = pd.DatetimeIndex(dates) + pd.DateOffset(months=span.months)   # month ends clip (29 Feb -> 28 Feb)
        return pd.Series(shifted, index=dates.index).astype(DATE_UNIT)
    assert span.days is not None  # noqa: S101 - TermSpan holds one of the two
    return dates + np.timedelta64(span.days, "D")


def _named_years(plan: pd.Series, season: bool) -> tuple[pd.Series, pd.Series]:
    """(first year named, rows naming two years that are not one season: never guessed) per row."""
    found = plan.fillna("").str.extract(YEAR_IN_TEXT)
    first = pd.to_numeric(found[0], errors="coerce")
    second = pd.to_numeric(found[1], errors="coerce")
    second = second.where(found[1].fillna("").str.len() != 2, (first // 100) * 100 + second)
    paired = second.notna()
    mixed = paired & (second.ne(first + 1) if season else pd.Series(True, index=plan.index))
    return first.where(~mixed), mixed


def period(paid: pd.Series, plan: pd.Series, month: int, day: int) -> tuple[pd.Series, pd.Series, pd.Series,
                                                                             pd.Series]:
    """(start, end, named, mixed) of the calendar year (1 January) or season (month, day) of each row."""
    season = (month, day) != (1, 1)
    named_year, mixed = _named_years(plan, season)
    before_start = (paid.dt.month < month) | ((paid.dt.month == month) & (paid.dt.day < day))
    year_of_payment = paid.dt.year - before_start.astype("Int64")
    year = named_year.astype("Int64").fillna(year_of_payment)
    text = year.astype("string") + f"-{month:02d}-{day:02d}"
    start = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").astype(DATE_UNIT)
    end = add_span(start, TermSpan(months=12)) - np.timedelta64(1, "D")
    return start, end, named_year.notna(), mixed


def plan_keys(plan: pd.Series) -> pd.Series:
    """The plan a term renews: its text without the year it names ("Cotisation 2024" renews "Cotisation 2023")."""
    return plan.fillna("").str.replace(YEAR_IN_TEXT, " ", regex=True).str.split().str.join(" ").str.casefold()


def _texts(texts: pd.Series) -> Callable[[pd.Series], pd.Series]:
    return lambda failed: texts[failed]


def derive_terms(table: RawTable, term: Term, paid: pd.Series, where: str) -> Terms:
    """Each row's term from its payment date `paid`; `where` is the profile's key path, for reasons."""
    index = table.frame.index
    buys, not_bought = _not_bought(table, term)
    length = term.length
    rejected: list[tuple[pd.Series, Callable[[pd.Series], pd.Series]]] = []
    named = pd.Series(False, index=index)
    season = length.season()
    if season is not None:
        plan = to_text(table.column("plan")) if table.column("plan") is not None else pd.Series(pd.NA, index=index)
        start, end, named, mixed = period(paid, plan.astype(object), *season)
        what = "a calendar year" if length.calendar_year else "one season"
        label = table.headers[table.fields["plan"]] if "plan" in table.fields else "plan"
        rejected.append((buys & mixed, _texts(label + " '" + plan.fillna("").str.slice(0, 40) + f"' names years "
                                              f"that are not {what}: which term it bought is not guessed")))
        named &= buys & ~mixed
    elif length.interval_field is not None:
        start, end = paid.copy(), no_dates(index)
        raw = table.column(length.interval_field)
        words = (to_text(raw) if raw is not None else pd.Series(pd.NA, index=index)).fillna("").str.strip()
        folded = words.str.casefold()
        for word, span in length.intervals.items():
            rows = folded.eq(word.strip().casefold())
            if rows.any():
                end[rows] = add_span(paid[rows], span)
        known = folded.isin([word.strip().casefold() for word in length.intervals])
        label = (table.headers[table.fields[length.interval_field]] if length.interval_field in table.fields
                 else length.interval_field)
        rejected.append((buys & ~known & words.eq(""), _texts(pd.Series(f"{label} (the billing interval) is missing",
                                                                         index=index))))
        rejected.append((buys & ~known & words.ne(""), _texts(label + " '" + words.str.slice(0, 40) + "' is not an "
                                                              f"interval the profile knows (add it under {where}"
                                                              ".term.length.intervals)")))
    else:
        start = paid.copy()
        end = add_span(paid, TermSpan(months=length.months, days=length.days))
    return Terms(start=start.where(buys), end=end.where(buys), buys=buys, not_bought=not_bought,
                 rejected=rejected, named=named)
