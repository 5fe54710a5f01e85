"""The output columns the rules language must respect: the HubSpot CSV's fixed columns and the Members
sheet's own columns, which segment properties and labels may not reuse, and the spreadsheet formula
triggers that status and tier labels may not start with. Plain data: the writers read the same tables."""

from __future__ import annotations

from typing import Literal, NamedTuple

# CSV columns that come before the segment columns; segment properties may not reuse them.
HUBSPOT_BASE_COLUMNS = (
    "email", "company", "cust_id", "membership_status", "membership_start_date",
    "membership_expiration_date", "days_until_expiration", "member_since", "renewal_count",
    "total_order_value", "order_count", "estimated_savings", "order_value_tier",
)
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
    width: float
    needs: str | None = None                               # written only when the file has this field


MEMBER_COLUMNS = (
    MemberColumn("Platform Status", "platform_status", "text", 16, needs="status"),
    MemberColumn("Plan", "plan", "text", 16, needs="plan"),
    MemberColumn("Member Since", "member_since", "date", 15),
    MemberColumn("First Joined", "first_joined", "date", 15),
    MemberColumn("Renewal Count", "renewal_count", "integer", 15),
    MemberColumn("Lapse Count", "lapse_count", "integer", 15),
    MemberColumn("Records Merged", "records_merged", "integer", 15),
    MemberColumn("Total Order Value", "total_order_value", "money", 15),
    MemberColumn("Order Count", "order_count", "integer", 15),
    MemberColumn("Last Order Date", "last_order_date", "date", 15),
    MemberColumn("Estimated Savings", "estimated_savings", "money", 15),
    MemberColumn("Order Value Tier", "order_value_tier", "text", 15),
    MemberColumn("Membership Status", "membership_status", "text", 15),
    MemberColumn("Days Until Expiration", "days_until_expiration", "integer", 15),
)
