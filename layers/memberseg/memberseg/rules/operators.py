"""The segment conditions' vocabulary: the fields a condition may test, and one table of operators, each
with its vectorised test, the field kinds it applies to and the value it takes. Rules validation and
`memberseg.segment` both read this table.

The tests are methods of the pandas Series they are given, so this module never imports pandas:
validating a rules file stays light (a bad input file is refused before pandas is loaded)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

FieldKind = Literal["number", "text"]

# Fields a segment condition may test, and whether they hold numbers or text.
SEGMENT_FIELDS: dict[str, FieldKind] = {
    "membership_status": "text",
    "order_value_tier": "text",
    "enrollment": "text",
    "days_until_expiration": "number",
    "days_since_start": "number",
    "renewal_count": "number",
    "lapse_count": "number",
    "records_merged": "number",
    "total_order_value": "number",
    "order_count": "number",
    "estimated_savings": "number",
    "status_class": "text",
    "platform_status": "text",
    "plan": "text",
}


@dataclass(frozen=True)
class Operator:
    test: Callable[[pd.Series, Any], pd.Series]     # the column (numbers, or casefolded text) against the value
    kinds: frozenset[FieldKind]
    takes: Literal["single", "pair", "list", "nothing"]


def _between(column: pd.Series, value: Any) -> pd.Series:
    low, high = value
    return (column >= low) & (column <= high)


BOTH: frozenset[FieldKind] = frozenset({"number", "text"})
NUMBER: frozenset[FieldKind] = frozenset({"number"})
TEXT: frozenset[FieldKind] = frozenset({"text"})

OPERATORS: dict[str, Operator] = {
    "eq": Operator(lambda column, value: column == value, BOTH, "single"),
    "ne": Operator(lambda column, value: column != value, BOTH, "single"),
    "gt": Operator(lambda column, value: column > value, NUMBER, "single"),
    "ge": Operator(lambda column, value: column >= value, NUMBER, "single"),
    "lt": Operator(lambda column, value: column < value, NUMBER, "single"),
    "le": Operator(lambda column, value: column <= value, NUMBER, "single"),
    "between": Operator(_between, NUMBER, "pair"),
    "in": Operator(lambda column, value: column.isin(value), BOTH, "list"),
    "not_in": Operator(lambda column, value: ~column.isin(value), BOTH, "list"),
    "contains": Operator(lambda column, value: column.str.contains(str(value), regex=False), TEXT, "single"),
    "not_contains": Operator(lambda column, value: ~column.str.contains(str(value), regex=False), TEXT, "single"),
    "is_blank": Operator(lambda column, value: column.str.strip().eq(""), TEXT, "nothing"),
    "not_blank": Operator(lambda column, value: column.str.strip().ne(""), TEXT, "nothing"),
}


def operators_for(kind: FieldKind) -> list[str]:
    return sorted(name for name, operator in OPERATORS.items() if kind in operator.kinds)
