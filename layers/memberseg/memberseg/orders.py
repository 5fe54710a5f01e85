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

A profile with `row_types` reads what each row is: a payment counts by its status as above; a refund or
chargeback that went through (its status class is paid) is subtracted from its customer's paid total, by
the absolute value of its amount, and is never an order; a not_money row (an authorization, a card
check) is excluded. Refunds join their customer on the same key as payments; a customer's total never
goes below 0. With `amount_unit: minor` amounts are in the currency's minor unit (cents), divided by
10 ** its ISO 4217 exponent; a minor-unit amount with a decimal point or comma is rejected, never divided.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from .read import RawTable
from .rules import RoleSpec, Rules
from .rules.currencies import CURRENCY_EXPONENTS, DEFAULT_EXPONENT, ZERO_DECIMAL_CURRENCIES
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
    NUMBER,
    TEXT,
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
                      "customer_name", "first_name", "last_name", "row_type")
MONEY_BACK = ("refund", "chargeback")   # row-type classes subtracted from the customer's paid total
FLOOR_FACT = "a customer's total never goes below 0: refunds beyond what the file shows paid count 0"


def join_key_of(table: RawTable) -> str:
    """Orders join on customer ID; without that column on email; without either on the customer's name."""
    if table.column("customer_id") is not None:
        return "customer_id"
    if table.column("email") is not None:
        return "email"
    return "customer_name"


@dataclass
class _RowTypes:
    """What each row is, from the profile's row_types (every row a payment when the file has no row-type column)."""

    text: pd.Series       # the row-type text
    klass: pd.Series      # payment, refund, chargeback, not_money; NA when the profile does not know the text
    unknown: pd.Series
    header: str | None    # the column's header, None without one


def _row_types(table: RawTable, spec: RoleSpec) -> _RowTypes:
    text, klass, unknown = status_classes(table, spec.row_types, "row_type")
    if table.column("row_type") is None:
        return _RowTypes(text, klass.fillna("payment"), unknown, None)
    return _RowTypes(text, klass, unknown, table.headers[table.fields["row_type"]])


def _order_level(table: RawTable, apart: pd.Series) -> tuple[RawTable, pd.Series]:
    """Line-item exports: a table whose rows of one order all carry the order-level cells of the order's
    first row that has them, and which rows head their order (every row, when the file has no order ID).

    `apart`: rows that are no part of an order (a refund, an authorization sharing the order's ID); each
    keeps its own cells."""
    order_raw = table.column("order_id")
    if order_raw is None:
        return table, pd.Series(True, index=table.frame.index)
    order = to_text(order_raw)
    own = "row:" + pd.Series(table.rows, index=order.index).astype(str)
    key = order.fillna(own)
    if apart.any():
        key = key.mask(apart, own)
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
    refunded_raw: pd.Series | None


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
    return _Amounts(value, value_raw, kinds, refunded, refunded_raw)


def _not_whole(raw: pd.Series, kinds: pd.Series | None = None) -> pd.Series:
    """Cells that are no whole number of minor units: text with a decimal point or comma, a fractional number."""
    kinds = cell_kinds(raw) if kinds is None else kinds
    out = pd.Series(False, index=raw.index)
    text = kinds.eq(TEXT)
    if text.any():
        out[text] = raw[text].str.contains(r"[.,]", regex=True)
    numbers = kinds.eq(NUMBER)
    if numbers.any():
        number = raw[numbers].astype(float)
        out[numbers] = number.ne(number.round())
    return out


def _minor_to_major(amounts: _Amounts, currency: pd.Series, base: str | None) -> tuple[_Amounts, dict]:
    """Minor-unit amounts divided by 10 ** their currency's exponent (a row without a currency: the base's),
    and what report.json says about it."""
    exponent = currency.fillna(base or "").map(CURRENCY_EXPONENTS).fillna(DEFAULT_EXPONENT).astype(int)
    scale = 10.0 ** exponent
    used = currency.dropna().unique()
    facts = {"unit": "minor", "divided_by_10_to_the": {str(code): int(CURRENCY_EXPONENTS.get(code, DEFAULT_EXPONENT))
                                                        for code in sorted(used)},
             "rows_without_currency_exponent": int(CURRENCY_EXPONENTS.get(base or "", DEFAULT_EXPONENT))}
    return replace(amounts, value=amounts.value / scale, refunded=amounts.refunded / scale), facts


def _currencies(table: RawTable, amounts: _Amounts) -> pd.Series:
    in_text = currency_codes_in_text(amounts.raw, amounts.kinds)
    column = table.column("currency")
    return to_text(column).str.upper().fillna(in_text) if column is not None else in_text


def _base_currency(currency: pd.Series, rules: Rules) -> str | None:
    """The currency totals are in: the rules', else the file's most common (None: the file names no currency)."""
    present = currency.dropna()
    if present.empty:
        return None
    counts = present.value_counts()
    most_common = sorted(counts[counts == counts.max()].index)[0]
    return rules.orders.base_currency if rules.orders.base_currency != "auto" else most_common


def _convert(currency: pd.Series, amounts: pd.Series, rules: Rules, index: pd.Index) -> tuple[pd.Series, pd.Series,
                                                                                               dict]:
    """Amounts in the base currency, and the exclusion reason of orders in a currency without a rate."""
    reason = pd.Series("", index=index, dtype=object)
    base = _base_currency(currency, rules)
    if base is None:
        return amounts, reason, {}
    counts = currency.dropna().value_counts()
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


MINOR_UNITS_TEXT = "has a decimal point or comma, but the profile reads amounts in minor units (amount_unit: minor)"


def _money(table: RawTable, spec: RoleSpec, rules: Rules, decimal: str,
           not_money: pd.Series) -> tuple[_Amounts, pd.Series, pd.Series, dict]:
    """The amounts in the file's currencies (minor units divided), each row's currency, the currencies that
    choose the base (rows whose amount reads as a number and moves money), and the amount-unit facts."""
    amounts = _amounts(table, spec, decimal)
    currency = _currencies(table, amounts)
    counted = currency.where(amounts.value.notna() & ~not_money)
    if spec.amount_unit == "minor":
        fixed = rules.orders.base_currency     # a row without a currency takes the base's exponent
        base = fixed if fixed != "auto" else _base_currency(counted, rules)
        amounts, facts = _minor_to_major(amounts, currency, base)
        return amounts, currency, counted, facts
    zero_decimal = currency.isin(ZERO_DECIMAL_CURRENCIES)
    if zero_decimal.any():  # zero-decimal currencies' "1.000" is a thousand
        grouped = zero_decimal_amounts(amounts.raw)
        amounts = replace(amounts, value=amounts.value.mask(zero_decimal & grouped.notna(), grouped))
    return amounts, currency, counted, {}


def _minor_unit_checks(spec: RoleSpec, amounts: _Amounts, value_blank: pd.Series) -> list[tuple[pd.Series, Reason]]:
    """A minor-unit amount written with decimals ("99.00" where cents are expected) is rejected, never divided."""
    if spec.amount_unit != "minor":
        return []
    checks: list[tuple[pd.Series, Reason]] = [
        (~value_blank & _not_whole(amounts.raw, amounts.kinds), quoting(amounts.raw, "order value", MINOR_UNITS_TEXT))]
    if amounts.refunded_raw is not None:
        raw = amounts.refunded_raw
        checks.append((~is_blank(raw) & _not_whole(raw), quoting(raw, "refunded amount", MINOR_UNITS_TEXT)))
    return checks


def _unknown_row_type(table: RawTable, types: _RowTypes) -> Reason:
    assert table.profile is not None  # noqa: S101
    where = f"profiles.{table.profile.name}.orders.row_types"
    return lambda failed: (f"{types.header} '" + types.text[failed].fillna("").astype(str).str.slice(0, 40)
                           + f"' is not a row type the profile knows (add it under {where})")


def _row_type_exclusions(types: _RowTypes, status_text: pd.Series, paid: pd.Series,
                         excluded_reason: pd.Series) -> None:
    """A refund or chargeback whose status is not paid subtracts nothing; a not_money row moves no money."""
    quoted = f"{types.header} '" + types.text.fillna("").astype(str).str.slice(0, 40) + "'"
    not_through = types.klass.isin(MONEY_BACK) & ~paid
    excluded_reason[not_through] = (quoted[not_through] + " with status '" + status_text[not_through].fillna("")
                                    .astype(str) + "' did not go through: nothing is subtracted")
    not_money = types.klass.eq("not_money")
    excluded_reason[not_money] = quoted[not_money] + " moves no money"


def _row_type_facts(types: _RowTypes, subtract: pd.Series, valid: pd.Index) -> dict:
    counts = types.klass.fillna("unknown").value_counts().sort_index()
    return {"column": types.header, "rows_by_class": {str(name): int(count) for name, count in counts.items()},
            "subtracted_rows": int(subtract.loc[valid].sum()), "floor": FLOOR_FACT}


def validate_orders(table: RawTable, rules: Rules) -> Validated:
    """Typed orders with each row's counted value; rejected and excluded rows with their reasons.

    `table` is left as it was read."""
    index = table.frame.index
    spec = spec_of(table)
    locale, date_columns = decide_locale(table, rules)
    own = _row_types(table, spec)     # a refund or an authorization never joins an order's rows
    table, head = _order_level(table, own.text.notna() & own.klass.fillna("").ne("payment"))
    types = _row_types(table, spec)
    money_back, not_money = types.klass.isin(MONEY_BACK), types.klass.eq("not_money")
    head = head & types.klass.eq("payment")   # a refund row is never an order
    join = join_key_of(table)
    id_parts = ids_of(table)
    names, _, _ = names_of(table)
    amounts, currency, counted, unit_facts = _money(table, spec, rules, locale["decimal_separator"], not_money)
    value, value_raw, refunded = amounts.value, amounts.raw, amounts.refunded
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
    net = net.where(klass.ne("refunded"), 0.0).mask(money_back, -value.abs())
    # Only amounts that read as numbers have a currency (a rejected row does not choose the base).
    converted, currency_reason, currency_facts = _convert(counted, net, rules, index)
    checks: list[tuple[pd.Series, Reason]] = [
        (key.isna(), missing_key),
        (unknown, unknown_status(table, status_text)),
        (types.unknown, _unknown_row_type(table, types)),
        (value_blank, "order value is blank"),
        (~value_blank & value.isna(), quoting(value_raw, "order value", "is not a number",
                                                  table.source_headers("order_value"))),
        (value.notna() & (value.abs().ge(MAX_ORDER_VALUE) | ~converted.abs().lt(MAX_ORDER_VALUE)),
         quoting(value_raw, "order value", f"is too large to add up (an order is below {MAX_ORDER_VALUE:,.0f})")),
    ]
    checks += _minor_unit_checks(spec, amounts, value_blank)
    reason = reasons(checks + read_either_way(date_column), index).where(~not_money, "")  # no money: not judged
    excluded_reason = currency_reason.copy()
    unpaid = klass.eq("unpaid") & ~money_back
    excluded_reason[unpaid] = "order status '" + status_text[unpaid].fillna("").astype(str) + "' is not paid"
    subtract = money_back & klass.eq("paid")
    if types.header is not None:
        _row_type_exclusions(types, status_text, klass.eq("paid"), excluded_reason)
    frame = pd.DataFrame({
        "row": table.rows,
        "customer_id": id_parts["text"] if join == "customer_id" else (key if join == "email" else names),
        "id_key": key,
        "customer_name": names,
        "value": converted.where(head, 0.0),
        "is_order": head.to_numpy(dtype=bool),
        "order_date": order_date.mask(money_back),   # a refund's date is no order's date
    }, index=index)
    if types.header is not None:
        frame["refund"] = (-converted).where(subtract, 0.0)
    validated = split_rows(frame, reason, excluded_reason)
    validated.facts = {"join_key": join, "currency": currency_facts,
                       "line_items": table.column("order_id") is not None,
                       "orders_in": int(head.sum())}
    if types.header is not None:
        validated.facts["row_types"] = _row_type_facts(types, subtract, validated.valid.index)
    if unit_facts:
        validated.facts["amount_unit"] = unit_facts
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
    sums = {"total": ("value", "sum")}
    if "refund" in orders:   # a file with row types: what was paid and what went back, apart
        sums["refunds"] = ("refund", "sum")
    per_id = orders.groupby("id_key", sort=False).agg(
        **sums, order_count=("is_order", "sum"), rows=("value", "size"),
        last_order=("order_date", "max"), first_paid=("paid_date", "min"), customer_id=("customer_id", "first"),
        customer_name=("customer_name", "first"))
    if "refunds" in per_id:
        per_id["paid"] = per_id["total"]
        per_id["total"] = _net(per_id["paid"], per_id["refunds"])
    return per_id


def _net(paid: pd.Series, refunds: pd.Series) -> pd.Series:
    """What was paid less what went back, never below 0 (a refund of a payment the file does not show)."""
    return (paid - refunds).where(refunds.le(0) | (paid - refunds).ge(0), 0.0)


def refunded_beyond_paid(per_id: pd.DataFrame) -> int:
    """How many join keys' refunds exceed what they paid (their total counts 0)."""
    return int((per_id["refunds"] > per_id["paid"]).sum()) if "refunds" in per_id else 0


def orders_per_customer(links: pd.DataFrame, per_id: pd.DataFrame) -> pd.DataFrame:
    """The per-key sums added up per customer code: total (unrounded), order_count, last_order and first_paid.

    `links` pairs each value of the join key (column `id_key`) with a customer code. With refund rows a
    customer's total is what all their keys paid less all their refunds, never below 0."""
    linked = links.merge(per_id, left_on="id_key", right_index=True)
    if "refunds" not in per_id:
        return linked.groupby("customer").agg(
            total=("total", "sum"), order_count=("order_count", "sum"), last_order=("last_order", "max"),
            first_paid=("first_paid", "min"))
    per_customer = linked.groupby("customer").agg(
        paid=("paid", "sum"), refunds=("refunds", "sum"), order_count=("order_count", "sum"),
        last_order=("last_order", "max"), first_paid=("first_paid", "min"))
    total = _net(per_customer.pop("paid"), per_customer.pop("refunds"))
    return per_customer.assign(total=total)[["total", "order_count", "last_order", "first_paid"]]
