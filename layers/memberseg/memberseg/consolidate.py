"""Stage 3: consolidate duplicate and renewal records into one row per customer.

Records of a customer are walked in created-date order. A record created on or
before the chain's expiration + grace days renews the chain; otherwise the
customer lapsed and a new chain starts. The kept row is the current record of
the latest chain; every other record goes to "Duplicates Removed" with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .rules import Rules

RENEWAL = "renewal"
LAPSED = "earlier membership (lapsed)"


@dataclass
class Consolidated:
    customers: pd.DataFrame   # one row per customer, indexed by customer code, in no particular order
    duplicates: pd.DataFrame  # source index (into the raw table), customer_key, kept_row, reason
    id_links: pd.DataFrame    # id_key -> customer code, for matching orders


def customer_keys(valid: pd.DataFrame, dedupe_key: str) -> pd.Series:
    """Namespaced keys, so a name never collides with an ID and rows without an ID never merge with ID rows."""
    by_id = "id:" + valid["id_key"]
    by_name = "name:" + valid["name_key"]
    by_email = "email:" + valid["email"]
    if dedupe_key == "customer_name":
        return by_name.fillna(by_id)
    if dedupe_key == "email":
        return by_email.fillna(by_id).fillna(by_name)
    return by_id.fillna(by_name)


def consolidate(valid: pd.DataFrame, rules: Rules) -> Consolidated:
    grace = pd.Timedelta(days=rules.consolidation.renewal_grace_days)
    keys = customer_keys(valid, rules.consolidation.dedupe_key)
    codes, uniques = pd.factorize(keys, sort=True)
    records = valid.assign(customer=codes, source=valid.index)

    # Chains: sort by customer, created, expiration, file order; a gap past grace starts a new chain.
    records = records.sort_values(["customer", "created", "expiration", "order"], kind="mergesort")
    customer = records["customer"].to_numpy()
    first_of_customer = np.r_[True, customer[1:] != customer[:-1]]
    running_max = records.groupby("customer", sort=False)["expiration"].cummax().to_numpy()
    previous_max = np.r_[np.datetime64("NaT"), running_max[:-1]]
    starts_chain = first_of_customer | (records["created"].to_numpy() > previous_max + grace.to_timedelta64())
    records["chain"] = np.cumsum(starts_chain)
    records["starts_chain"] = starts_chain
    by_customer = records.groupby("customer", sort=False)
    records["latest_chain"] = by_customer["chain"].transform("max")
    latest = records[records["chain"] == records["latest_chain"]]

    # The current record: latest expiration, then latest created, then last in file order.
    current = latest.sort_values(["customer", "expiration", "created", "order"], kind="mergesort")
    current = current.groupby("customer", sort=False).tail(1).set_index("customer")

    summary = pd.DataFrame({
        "first_joined": by_customer["created"].min(),
        "records_merged": by_customer.size(),
        "lapse_count": by_customer["starts_chain"].sum() - 1,
    })
    latest_groups = latest.groupby("customer", sort=False)
    summary["member_since"] = latest_groups["created"].min()
    summary["renewal_count"] = latest_groups.size() - 1

    # Email: the current record's if valid, else the latest valid one by created date, then file order.
    by_created = records.sort_values(["customer", "created", "order"], kind="mergesort")
    fallback_email = by_created.groupby("customer", sort=False)["email"].last()
    customers = current.join(summary)
    customers["email"] = customers["email"].fillna(fallback_email)
    customers["customer_key"] = uniques[customers.index]
    customers["source"] = customers["source"].astype(np.int64)

    others = records[~records["source"].isin(customers["source"])]
    duplicates = pd.DataFrame({
        "source": others["source"].to_numpy(),
        "customer_key": uniques[others["customer"].to_numpy()],
        "kept_row": customers.loc[others["customer"], "row"].to_numpy(),
        "reason": np.where(others["chain"].to_numpy() == others["latest_chain"].to_numpy(), RENEWAL, LAPSED),
    }).sort_values("source", kind="mergesort").reset_index(drop=True)

    id_links = records.loc[records["id_key"].notna(), ["id_key", "customer"]].drop_duplicates()
    return Consolidated(customers=customers, duplicates=duplicates, id_links=id_links)
