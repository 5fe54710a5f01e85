"""Classify each membership as Expired, Expiring Soon, Active or Inactive, and order the rows.

The dates decide for a current membership. The platform's own status, read through the
profile into a class, can overrule them: a renewing subscription is Active until its
renewal date passes (never Expiring Soon); an at-risk one (past due, on hold) is Expiring
Soon whatever the dates; an ended one (cancelled, paused, refunded) is Inactive. An
open-ended membership (no expiry) is Active with Days Until Expiration blank. With status
alone (no dates at all), an ended membership is Expired; comp and gift memberships classify like
current ones.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .rules import Rules

EXPIRED, EXPIRING_SOON, ACTIVE, INACTIVE = 0, 1, 2, 3


def _whole_days(delta: pd.Series) -> pd.Series:
    """Whole days; nullable where a date is missing (no expiry, no start)."""
    return delta.astype(np.int64) if not delta.isna().any() else delta.astype("Int64")


def classify(customers: pd.DataFrame, as_of: dt.date, rules: Rules) -> pd.DataFrame:
    labels = rules.status.labels
    today = pd.Timestamp(as_of)
    delta = (customers["expiration"] - today).dt.days
    days = _whole_days(delta)
    klass = customers["status_class"] if "status_class" in customers else pd.Series("current", index=customers.index)
    open_ended = delta.isna().to_numpy()
    by_dates = np.select([delta.to_numpy() < 0, delta.to_numpy() <= rules.status.expiring_soon_days],
                         [EXPIRED, EXPIRING_SOON], default=ACTIVE)
    by_dates = np.where(open_ended, ACTIVE, by_dates)
    ended = klass.eq("ended").to_numpy(copy=True)
    if "status_alone" in customers:   # no dates: an ended membership is Expired, not Inactive
        ended_alone = ended & customers["status_alone"].fillna(False).astype(bool).to_numpy()
        by_dates = np.where(ended_alone, EXPIRED, by_dates)
        ended &= ~ended_alone
    rank = np.select(
        [ended, klass.eq("at_risk").to_numpy(), klass.eq("renewing").to_numpy()],
        [INACTIVE, EXPIRING_SOON, np.where(by_dates == EXPIRED, EXPIRED, ACTIVE)],
        default=by_dates)
    names = np.array([labels.expired, labels.expiring_soon, labels.active, labels.inactive], dtype=object)
    classified = customers.assign(
        days_until_expiration=days,
        days_since_start=_whole_days((today - customers["start"]).dt.days),
        membership_status=names[rank],
        status_rank=rank,
        name_sort=customers["customer_name"].fillna("").str.casefold(),
    )
    # Expired, Expiring Soon, Active, then Inactive; by expiration, then name (then key, for a total order).
    ordered = classified.sort_values(["status_rank", "expiration", "name_sort", "customer_key"], kind="mergesort")
    return ordered.drop(columns=["status_rank", "name_sort"]).reset_index(drop=True)
