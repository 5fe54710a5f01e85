"""Stage 5: classify each membership as Expired, Expiring Soon or Active, and order the rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .rules import Rules


def classify(customers: pd.DataFrame, as_of: dt.date, rules: Rules) -> pd.DataFrame:
    labels = rules.status.labels
    today = pd.Timestamp(as_of)
    days = (customers["expiration"] - today).dt.days.astype(np.int64)
    rank = np.select([days < 0, days <= rules.status.expiring_soon_days], [0, 1], default=2)
    classified = customers.assign(
        days_until_expiration=days,
        days_since_start=(today - customers["start"]).dt.days.astype(np.int64),
        membership_status=np.array([labels.expired, labels.expiring_soon, labels.active], dtype=object)[rank],
        status_rank=rank,
        name_sort=customers["customer_name"].fillna("").str.casefold(),
    )
    # Expired, then Expiring Soon, then Active; by expiration, then name (then key, for a total order).
    ordered = classified.sort_values(["status_rank", "expiration", "name_sort", "customer_key"], kind="mergesort")
    return ordered.drop(columns=["status_rank", "name_sort"]).reset_index(drop=True)
