"""Stage 6: evaluate the declarative segment conditions into boolean columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .rules import SEGMENT_FIELDS, Condition, Rules


def _text(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(str).str.casefold()


def _fold(value: object) -> object:
    return str(value).casefold() if isinstance(value, str) else value


def evaluate(condition: Condition, customers: pd.DataFrame, rules: Rules) -> pd.Series:
    value = rules.resolve(condition.value)
    column = customers[condition.field]
    if SEGMENT_FIELDS[condition.field] == "text":
        column = _text(column)
        value = [_fold(item) for item in value] if isinstance(value, list) else _fold(value)
    else:
        column = column.astype(float)
    op = condition.op
    if op == "eq":
        return column == value
    if op == "ne":
        return column != value
    if op == "gt":
        return column > value
    if op == "ge":
        return column >= value
    if op == "lt":
        return column < value
    if op == "le":
        return column <= value
    if op == "between":
        low, high = value
        return (column >= low) & (column <= high)
    if op == "in":
        return column.isin(value)
    if op == "not_in":
        return ~column.isin(value)
    if op == "contains":
        return column.str.contains(str(value), regex=False)
    if op == "not_contains":
        return ~column.str.contains(str(value), regex=False)
    if op == "is_blank":
        return column.str.strip().eq("")
    if op == "not_blank":
        return column.str.strip().ne("")
    raise AssertionError(f"unvalidated op {op!r}")  # Rules validation rejects unknown ops


def segment(customers: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    flags = {}
    for seg in rules.segments:
        result = pd.Series(True, index=customers.index)
        for condition in seg.all:
            result &= evaluate(condition, customers, rules)
        if seg.any:
            either = pd.Series(False, index=customers.index)
            for condition in seg.any:
                either |= evaluate(condition, customers, rules)
            result &= either
        flags[seg.property] = result.to_numpy(dtype=bool)
    return customers.assign(**{name: np.asarray(flag) for name, flag in flags.items()})
