"""Enrich customers with their orders (totals, counts, last order, savings, tier); list orders without membership.

An order belongs to a customer when its join key equals that key of any of the
customer's valid records: the customer ID match key, or (for orders files without
IDs) the email, or (without either) the normalised name. What an order counts and
the sums per customer come from `memberseg.orders`. Totals are summed, then rounded
half-up to cents; every threshold compares the rounded value. Every total is a finite number: the
orders' checks reject any order that could make it inf, and a total that is not is a fault, never output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .orders import orders_per_customer
from .rules import Rules
from .values import round_cents


@dataclass
class OrderMatch:
    unmatched: pd.DataFrame   # one row per unmatched ID: customer_id, customer_name, order_count, total
    matched_rows: int
    unmatched_rows: int
    unmatched_total: float
    join_key: str = "customer_id"


def order_tier(total: pd.Series, rules: Rules) -> pd.Series:
    conditions = [total >= tier.min if tier.inclusive else total > tier.min for tier in rules.orders.tiers]
    labels = [tier.label for tier in rules.orders.tiers]
    return pd.Series(np.select(conditions, labels, default=rules.orders.no_orders_label), index=total.index,
                     dtype=object)


def enrich(customers: pd.DataFrame, links: pd.DataFrame, per_id: pd.DataFrame,
           rules: Rules, join_key: str = "customer_id", *,
           created_from_payments: bool = False) -> tuple[pd.DataFrame, OrderMatch]:
    """`links` pairs each value of the join key (column `key` or `id_key`) with a customer code;
    `per_id` is `memberseg.orders.orders_by_id`'s sums. `created_from_payments` (a profile's
    `created_from: first_payment`): a customer without a created date takes the date of their first
    paid order as created, Member Since and Membership Start."""
    links = links.rename(columns={"key": "id_key"})
    per_customer = orders_per_customer(links, per_id)
    if not (np.isfinite(per_id["total"]).all() and np.isfinite(per_customer["total"]).all()):
        raise RuntimeError("an order total is not a finite number, though every order is below MAX_ORDER_VALUE")

    enriched = customers.join(per_customer)
    enriched["total_order_value"] = round_cents(enriched["total"].fillna(0.0))
    enriched["order_count"] = enriched["order_count"].fillna(0).astype(np.int64)
    enriched["last_order_date"] = enriched.pop("last_order")
    first_paid = enriched.pop("first_paid")
    if created_from_payments:   # a member list without created dates: the first paid order stands in
        for column in ("created", "member_since", "first_joined", "start"):
            enriched[column] = enriched[column].fillna(first_paid)
    enriched["estimated_savings"] = round_cents(enriched["total_order_value"] * rules.orders.savings_rate)
    enriched["order_value_tier"] = order_tier(enriched["total_order_value"], rules)
    enriched = enriched.drop(columns="total")

    is_matched = per_id.index.isin(links["id_key"])
    unmatched = per_id.loc[~is_matched]
    unmatched_rows = int(unmatched["rows"].sum())
    table = pd.DataFrame({
        "customer_id": unmatched["customer_id"],
        "customer_name": unmatched["customer_name"],
        "order_count": unmatched["order_count"].astype(np.int64),
        "total": round_cents(unmatched["total"]),
    }).sort_values(["total", "customer_id"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
    match = OrderMatch(
        unmatched=table,
        matched_rows=int(per_id.loc[is_matched, "rows"].sum()),
        unmatched_rows=unmatched_rows,
        unmatched_total=float(round_cents(np.array([unmatched["total"].sum()]))[0]),
        join_key=join_key,
    )
    return enriched, match
