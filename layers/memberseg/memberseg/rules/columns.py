"""The output columns the rules language must respect: the HubSpot CSV's fixed columns and the Members
sheet's own columns, which segment properties and labels may not reuse, and the spreadsheet formula
triggers that status and tier labels may not start with. Plain data: the writers read the same tables."""

from __future__ import annotations

from importlib import resources
from typing import Literal, NamedTuple

import yaml

MEMBER_COLUMNS_NAME = "members_columns.yaml"   # the Members sheet's added columns, in order

# CSV columns that come before the segment columns; segment properties may not reuse them.
HUBSPOT_BASE_COLUMNS = (
    "email", "company", "cust_id", "membership_status", "membership_start_date",
    "membership_expiration_date", "member_since", "renewal_count",
    "total_order_value", "order_count", "estimated_savings", "order_value_tier",
)
# Every CSV value must stay true until the next import: nothing that moves with the as-of date alone goes
# to HubSpot. A "days until" number is stale the day after any import (workflows use the expiration date
# with relative date filters), so the columns earlier versions sent for it are retired: not in the CSV,
# and still no segment's name, since a portal may hold them as properties of another type.
HUBSPOT_RETIRED_COLUMNS = ("days_until_expiration",)
# After the segment columns: what the runs saw change (memberseg.changes), then one `<segment>_since` date
# per segment. A segment property may not be one of these, nor make a `_since` name that is.
HUBSPOT_CHANGE_COLUMNS = ("membership_status_changed_at", "previous_membership_status")
SINCE_SUFFIX = "_since"


def since_column(segment_property: str) -> str:
    """The CSV column holding the date a customer entered the segment."""
    return segment_property + SINCE_SUFFIX


# Added after `email` when the memberships file holds person names (HubSpot default properties).
HUBSPOT_PERSON_COLUMNS = ("firstname", "lastname")
# A CSV cell starting with one of these gets a ' prefix (formula injection); ";" separates
# multi-checkbox values in HubSpot. A dropdown label with either would never match its own option.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


class MemberColumn(NamedTuple):
    """A column the Members sheet adds after the file's own columns and before the segment columns."""

    header: str
    name: str                                              # the members frame's column
    kind: Literal["text", "integer", "money", "date"]      # how the workbook writes it
    needs: str | None = None                               # written only when the file has this field


def _member_columns() -> tuple[MemberColumn, ...]:
    text = resources.files(__package__).joinpath(MEMBER_COLUMNS_NAME).read_text(encoding="utf-8")
    return tuple(MemberColumn(entry["header"], entry["column"], entry["kind"], entry.get("needs"))
                 for entry in yaml.safe_load(text))


MEMBER_COLUMNS = _member_columns()
