"""Consolidate duplicate and renewal records into one row per customer.

Records of a customer are walked in created-date order. A record created on or
before the chain's expiration + grace days renews the chain; otherwise the
customer lapsed and a new chain starts (a term bought by a payment renews from
its first day: a calendar year paid in March renews the year before). The kept
row is the current record of the latest chain; every other record goes to
"Duplicates Removed" with a reason.

Records with no end date at all (a status-alone export's ended memberships) end
before every dated one: an open-ended record wins over them, and among equals
the last in file order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .rules import Rules
from .values import DATE_UNIT

RENEWAL = "renewal"
LAPSED = "earlier membership (lapsed)"


OTHER_PLAN = "another plan held by the same customer"
# An open-ended record (no expiry) ends after every date a file can hold, so it renews and wins as the latest;
# its expiration is blank again in the output.
OPEN_ENDED = np.datetime64("10000-01-01", "s")
# A record with no end date and no open end (status alone, ended) ends before every date a file can hold.
NO_END = np.datetime64("0000-01-01", "s")


@dataclass
class Consolidated:
    customers: pd.DataFrame   # one row per customer, indexed by customer code, in no particular order
    duplicates: pd.DataFrame  # source index (into the raw table), customer_key, kept_row, reason
    id_links: pd.DataFrame    # id_key -> customer code, for matching orders
    links: dict[str, pd.DataFrame] = field(default_factory=dict)  # join key -> (key, customer) pairs


def customer_keys(valid: pd.DataFrame, dedupe_key: str) -> pd.Series:
    """Namespaced keys, so a name never collides with an ID and rows without an ID never merge with ID rows."""
    by_id = "id:" + valid["id_key"]
    by_name = "name:" + valid["name_key"]
    by_email = "email:" + valid["email"]
    if dedupe_key == "customer_name":
        return by_name.fillna(by_id).fillna(by_email)
    if dedupe_key == "email":
        return by_email.fillna(by_id).fillna(by_name)
    return by_id.fillna(by_name).fillna(by_email)


def _chains(records: pd.DataFrame, grace: np.timedelta64) -> pd.DataFrame:
    """Mark renewal chains per customer and plan: a record created past the chain's expiration + grace starts one."""
    records = records.sort_values(["customer", "plan_key", "created", "expiration", "order"], kind="mergesort")
    group = records.groupby(["customer", "plan_key"], sort=False).ngroup().to_numpy()
    first_of_group = np.r_[True, group[1:] != group[:-1]]
    records["group"] = group
    running_max = records.groupby("group", sort=False)["expiration"].cummax().to_numpy()
    previous_max = np.r_[np.datetime64("NaT"), running_max[:-1]]
    renews_from = records["term_start"] if "term_start" in records else records["created"]
    starts_chain = first_of_group | (renews_from.to_numpy() > previous_max + grace)
    records["chain"] = np.cumsum(starts_chain)
    records["starts_chain"] = starts_chain
    records["latest_chain"] = records.groupby("group", sort=False)["chain"].transform("max")
    return records


def consolidate(valid: pd.DataFrame, rules: Rules, dedupe_key: str | None = None) -> Consolidated:
    grace = np.timedelta64(rules.consolidation.renewal_grace_days, "D")   # days: any date unit can add it
    keys = customer_keys(valid, dedupe_key or rules.consolidation.dedupe_key)
    codes, uniques = pd.factorize(keys, sort=True)
    records = valid.assign(customer=codes, source=valid.index)
    if "open_ended" in records and records["open_ended"].any():
        records["expiration"] = records["expiration"].astype(DATE_UNIT).mask(records["open_ended"].astype(bool),
                                                                           OPEN_ENDED)
    no_end = records["expiration"].isna().to_numpy()
    if no_end.any():
        records["expiration"] = records["expiration"].astype(DATE_UNIT).mask(no_end, NO_END)
    if "plan_key" not in records:
        records["plan_key"] = ""
    records = _chains(records, grace)
    latest = records[records["chain"] == records["latest_chain"]]

    # The current record: latest expiration, then latest created, then last in file order; of the plan
    # whose current record that is, when the customer holds several plans at once.
    current = latest.sort_values(["customer", "expiration", "created", "order"], kind="mergesort")
    current = current.groupby("customer", sort=False).tail(1).set_index("customer")
    chosen_group = current["group"]
    in_chosen = records["group"].to_numpy() == chosen_group.reindex(records["customer"]).to_numpy()
    chosen = records[in_chosen]
    chosen_latest = chosen[chosen["chain"] == chosen["latest_chain"]].groupby("customer", sort=False)

    by_customer = records.groupby("customer", sort=False)
    summary = pd.DataFrame({
        "first_joined": by_customer["created"].min(),
        "records_merged": by_customer.size(),
        "lapse_count": chosen.groupby("customer", sort=False)["starts_chain"].sum() - 1,
    })
    summary["member_since"] = chosen_latest["created"].min()
    summary["renewal_count"] = chosen_latest.size() - 1

    # Email: the current record's if valid, else the latest valid one by created date, then file order.
    by_created = records.sort_values(["customer", "created", "order"], kind="mergesort")
    fallback_email = by_created.groupby("customer", sort=False)["email"].last()
    customers = current.join(summary).drop(columns=["group", "chain", "latest_chain", "starts_chain"])
    customers["email"] = customers["email"].fillna(fallback_email)
    customers["customer_key"] = uniques[customers.index]
    customers["source"] = customers["source"].astype(np.int64)
    if "open_ended" in customers:  # no expiry: the date stays blank from here on
        customers["expiration"] = customers["expiration"].mask(customers["open_ended"].astype(bool))
    if no_end.any():
        customers["expiration"] = customers["expiration"].mask(customers["expiration"].eq(NO_END))

    others = records[~records["source"].isin(customers["source"])]
    same_chain = others["chain"].to_numpy() == others["latest_chain"].to_numpy()
    same_plan = others["group"].to_numpy() == chosen_group.reindex(others["customer"]).to_numpy()
    duplicates = pd.DataFrame({
        "source": others["source"].to_numpy(),
        "customer_key": uniques[others["customer"].to_numpy()],
        "kept_row": customers.loc[others["customer"], "row"].to_numpy(),
        "reason": np.where(~same_plan, OTHER_PLAN, np.where(same_chain, RENEWAL, LAPSED)),
    }).sort_values("source", kind="mergesort").reset_index(drop=True)

    id_links = records.loc[records["id_key"].notna(), ["id_key", "customer"]].drop_duplicates()
    links = {"customer_id": id_links.rename(columns={"id_key": "key"})}
    for join, column in (("email", "email"), ("customer_name", "name_key")):
        # One customer per email or name, so an order is never counted for two customers.
        pairs = records.loc[records[column].notna(), [column, "customer"]].drop_duplicates(column)
        links[join] = pairs.rename(columns={column: "key"})
    return Consolidated(customers=customers, duplicates=duplicates, id_links=id_links, links=links)
