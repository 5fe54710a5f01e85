"""Stage 6: evaluate the declarative segment conditions into boolean columns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .rules import SEGMENT_FIELDS, Condition, Rules


def _text(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(str).str.casefold()


def _fold(value: object) -> object:
    return str(value).casefold() if isinstance(value, str) else value


def _between(column: pd.Series, value: Any) -> pd.Series:
    low, high = value
    return (column >= low) & (column <= high)


# Each condition operator, as a vectorised test of a column against the rule's value.
OPERATORS: dict[str, Callable[[pd.Series, Any], pd.Series]] = {
    "eq": lambda column, value: column == value,
    "ne": lambda column, value: column != value,
    "gt": lambda column, value: column > value,
    "ge": lambda column, value: column >= value,
    "lt": lambda column, value: column < value,
    "le": lambda column, value: column <= value,
    "between": _between,
    "in": lambda column, value: column.isin(value),
    "not_in": lambda column, value: ~column.isin(value),
    "contains": lambda column, value: column.str.contains(str(value), regex=False),
    "not_contains": lambda column, value: ~column.str.contains(str(value), regex=False),
    "is_blank": lambda column, value: column.str.strip().eq(""),
    "not_blank": lambda column, value: column.str.strip().ne(""),
}


def evaluate(condition: Condition, customers: pd.DataFrame, rules: Rules) -> pd.Series:
    value = rules.resolve(condition.value)
    column = customers[condition.field]
    if SEGMENT_FIELDS[condition.field] == "text":
        column = _text(column)
        value = [_fold(item) for item in value] if isinstance(value, list) else _fold(value)
    else:
        column = column.astype(float)
    return OPERATORS[condition.op](column, value)  # Rules validation rejects unknown ops


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
