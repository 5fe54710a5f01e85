"""Evaluate the declarative segment conditions into boolean columns (the operators are
`memberseg.rules.operators.OPERATORS`, the table rules validation reads)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .rules import OPERATORS, SEGMENT_FIELDS, Condition, Rules


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
    return OPERATORS[condition.op].test(column, value)  # Rules validation rejects unknown ops


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
