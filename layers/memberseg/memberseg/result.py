"""What a run produced before anything is written: the input of the write stage."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from .changes import Changes
from .enrich import OrderMatch
from .hubspot import HubSpotExport
from .read import RawTable, SourceFacts
from .rules import Rules
from .validate import Validated


@dataclass
class Result:
    rules: Rules
    as_of: dt.date
    memberships: RawTable
    orders: SourceFacts            # the orders file's rows stay in the orders process
    members: pd.DataFrame          # one row per customer, in output order
    member_validation: Validated
    orders_rejected: pd.DataFrame  # row, customer_id, customer_name, reason
    duplicates: pd.DataFrame
    order_match: OrderMatch
    hubspot: HubSpotExport
    timings: dict[str, float] = field(default_factory=dict)
    orders_excluded: pd.DataFrame | None = None   # row, customer_id, customer_name, reason (not paid, no rate)
    orders_facts: dict = field(default_factory=dict)  # join key, currency: for report.json
    swapped: str | None = None     # why the two files were read in each other's place, when they were
    changes: Changes | None = None                  # since the previous run (memberseg.changes)
