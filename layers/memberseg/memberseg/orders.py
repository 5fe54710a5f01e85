"""The orders file's money rules: which rows are paid orders, what each counts, and the sum per customer.

A row's status class comes from the file's profile: a paid order counts, a refunded one counts 0,
and an unpaid one is excluded with its reason. A refunded amount (Shopify's Refunded Amount,
Stripe's Amount Refunded) is subtracted, never below 0. Amounts are converted into the base
currency with the rules' rates; an order in a currency without a rate is excluded. An order worth
MAX_ORDER_VALUE or more, in its own currency or converted, is rejected with the reason: no real order
is, and below it no sum of orders can overflow to inf. A line-item export's rows of one order share
the order's cells, and the order counts once. Orders join members on customer ID, else email, else
the customer's name: `orders_by_id` sums the valid orders per join key (in the orders process),
`orders_per_customer` adds those sums up per customer once the memberships are consolidated.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from .read import RawTable
from .rules import RoleSpec, Rules
from .validate import (
    Reason,
    Validated,
    decide_locale,
    ids_of,
    names_of,
    quoting,
    read_dates,
    read_either_way,
    reasons,
    spec_of,
    split_rows,
    status_classes,
    text_of,
    unknown_status,
)
from .values import (
    ZERO_DECIMAL_CURRENCIES,
    cell_kinds,
    currency_codes_in_text,
    is_blank,
    last_amount,
    names_with_keys,
    no_dates,
    to_money,
    to_text,
    valid_email,
    zero_decimal_amounts,
)

# Every counted order is below this (a thousand trillion), so even a billion of them add up to a finite
# number; two orders of 1e308 would add up to inf.
MAX_ORDER_VALUE = 1e15
ORDER_LEVEL_FIELDS = ("order_value", "refunded_value", "status", "currency", "order_date", "customer_id", "email",
                      "customer_name", "first_name", "last_name")


def join_key_of(table: RawTable) -> str:
    """Orders join on customer ID; without that column on email; without either on the customer's name."""
    if table.column("customer_id") is not None:
        return "customer_id"
    if table.column("email") is not None:
        return "email"
    return "customer_name"


def _order_level(table: RawTable) -> tuple[RawTable, pd.Series]:
    """Line-item exports: a table whose rows of one order all carry the order-level cells of the order's
    first row that has them, and which rows head their order (every row, when the file has no order ID)."""
    order_raw = table.column("order_id")
    if order_raw is None:
        return table, pd.Series(True, index=table.frame.index)
    order = to_text(order_raw)
    key = order.fillna("row:" + pd.Series(table.rows, index=order.index).astype(str))
    frame = table.frame.copy(deep=False)  # the caller's table keeps its cells
    for name in ORDER_LEVEL_FIELDS:
        position = table.fields.get(name)
        if position is None:
            continue
        raw = frame[position]
        present = raw.where(~is_blank(raw))
        frame[position] = present.groupby(key, sort=False).transform("first").astype(object)
    return replace(table, frame=frame), ~key.duplicated()


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
        return valid_email(text_of(table, "email").fillna(""))
    return names_with_keys(names)["key"]


def validate_orders(table: RawTable, rules: Rules) -> Validated:
    """Typed orders with each row's counted value; rejected and excluded rows with their reasons.

    `table` is left as it was read."""
    index = table.frame.index
    spec = spec_of(table)
    locale, date_columns = decide_locale(table, rules)
    table, head = _order_level(table)
    join = join_key_of(table)
    id_parts = ids_of(table)
    names, _, _ = names_of(table)
    amounts = _amounts(table, spec, locale["decimal_separator"])
    value, value_raw, refunded = amounts.value, amounts.raw, amounts.refunded
    currency = _currencies(table, amounts)
    zero_decimal = currency.isin(ZERO_DECIMAL_CURRENCIES)
    if zero_decimal.any():  # zero-decimal currencies' "1.000" is a thousand
        grouped = zero_decimal_amounts(value_raw)
        value = value.mask(zero_decimal & grouped.notna(), grouped)
    value_blank = is_blank(value_raw, amounts.kinds)
    date_column = read_dates(table, "order_date", date_columns)
    order_date = date_column.dates if date_column is not None else no_dates(index)
    status_text, klass, unknown = status_classes(table, spec.statuses)
    klass = klass.fillna("paid") if table.column("status") is None else klass
    key = _join_values(join, id_parts, names, table)
    missing_key = {"customer_id": "no customer ID", "email": "no valid email",
                   "customer_name": "no customer name"}[join]
    net = value - refunded
    if table.column("refunded_value") is not None:  # refunded in full (or more) counts 0
        net = net.where(~(net < 0), 0.0)
    net = net.where(klass.ne("refunded"), 0.0)
    # Only amounts that read as numbers have a currency (a rejected row does not choose the base).
    converted, currency_reason, currency_facts = _convert(currency.where(value.notna()), net, rules, index)
    checks: list[tuple[pd.Series, Reason]] = [
        (key.isna(), missing_key),
        (unknown, unknown_status(table, status_text)),
        (value_blank, "order value is blank"),
        (~value_blank & value.isna(), quoting(value_raw, "order value", "is not a number",
                                                  table.source_headers("order_value"))),
        (value.notna() & (value.abs().ge(MAX_ORDER_VALUE) | ~converted.abs().lt(MAX_ORDER_VALUE)),
         quoting(value_raw, "order value", f"is too large to add up (an order is below {MAX_ORDER_VALUE:,.0f})")),
    ]
    reason = reasons(checks + read_either_way(date_column), index)
    excluded_reason = currency_reason.copy()
    unpaid = klass.eq("unpaid")
    excluded_reason[unpaid] = "order status '" + status_text[unpaid].fillna("").astype(str) + "' is not paid"
    frame = pd.DataFrame({
        "row": table.rows,
        "customer_id": id_parts["text"] if join == "customer_id" else (key if join == "email" else names),
        "id_key": key,
        "customer_name": names,
        "value": converted.where(head, 0.0),
        "is_order": head.to_numpy(dtype=bool),
        "order_date": order_date,
    }, index=index)
    validated = split_rows(frame, reason, excluded_reason)
    validated.facts = {"join_key": join, "currency": currency_facts,
                       "line_items": table.column("order_id") is not None,
                       "orders_in": int(head.sum())}
    validated.locale = locale
    return validated


def orders_by_id(orders: pd.DataFrame) -> pd.DataFrame:
    """Valid orders summed per join key (unrounded), with the first-seen key text and name, the last order's
    date and the first date money was paid (first_paid: a profile's `created_from: first_payment`).

    order_count counts orders (a line-item export's continuation rows are not orders); rows counts rows.
    """
    if "is_order" not in orders:
        orders = orders.assign(is_order=True)
    orders = orders.assign(paid_date=orders["order_date"].where(orders["value"].gt(0)))
    return orders.groupby("id_key", sort=False).agg(
        total=("value", "sum"), order_count=("is_order", "sum"), rows=("value", "size"),
        last_order=("order_date", "max"), first_paid=("paid_date", "min"), customer_id=("customer_id", "first"),
        customer_name=("customer_name", "first"))


def orders_per_customer(links: pd.DataFrame, per_id: pd.DataFrame) -> pd.DataFrame:
    """The per-key sums added up per customer code: total (unrounded), order_count, last_order and first_paid.

    `links` pairs each value of the join key (column `id_key`) with a customer code."""
    linked = links.merge(per_id, left_on="id_key", right_index=True)
    return linked.groupby("customer").agg(
        total=("total", "sum"), order_count=("order_count", "sum"), last_order=("last_order", "max"),
        first_paid=("first_paid", "min"))
