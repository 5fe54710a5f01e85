"""Fixture files laid out like each platform's export, built from the documented headers and value formats
(/work/shared/reference/platform-exports.md and the sources named in each profile), never from the engine."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any, Sequence

AS_OF = dt.date(2026, 11, 15)

WOO_MEMBERS = ["user_membership_id", "user_id", "user_name", "member_first_name", "member_last_name", "member_email",
               "membership_plan_id", "membership_plan", "membership_plan_slug", "membership_status", "product_id",
               "order_id", "member_since", "membership_expiration"]
WOO_ORDERS = ["Date", "Order #", "N. Revenue (formatted)", "Status", "Customer", "Customer type", "Product(s)",
              "Items sold", "Coupon(s)", "Net Sales", "Attribution"]
MEPR = ["id", "created_at", "expires_at", "user_login", "user_email", "first_name", "last_name", "user_id",
        "product_id", "product_name", "gateway", "gateway_id", "subscr_id", "sub_id", "trans_num", "amount", "total",
        "tax_amount", "tax_rate", "tax_class", "tax_desc", "status", "coupon_id", "coupon", "order_trans_num"]
PMPRO_MEMBERS = ["id", "username", "firstname", "lastname", "email", "membership", "membership_id",
                 "discount_code_id", "discount_code", "subscription_transaction_id", "billing_amount", "cycle_number",
                 "cycle_period", "next_payment_date", "joined", "startdate", "expires"]
PMPRO_ORDERS = ["id", "code", "user_id", "user_login", "first_name", "last_name", "user_email", "billing_name",
                "billing_street", "billing_city", "billing_state", "billing_zip", "billing_country", "billing_phone",
                "membership_id", "level_name", "subtotal", "tax", "total", "payment_type", "cardtype",
                "accountnumber", "expirationmonth", "expirationyear", "status", "gateway", "gateway_environment",
                "payment_transaction_id", "subscription_transaction_id", "discount_code_id", "discount_code",
                "timestamp"]
SHOPIFY = ["Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at", "Accepts Marketing",
           "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code", "Discount Amount",
           "Shipping Method", "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price",
           "Refunded Amount", "Cancelled at", "Id"]
STRIPE_SUBS = ["id", "Customer ID", "Customer Name", "Customer Email", "Plan", "Quantity", "Currency", "Interval",
               "Amount", "Status", "Cancellation Reason", "Created (UTC)", "Start Date (UTC)",
               "Current Period Start (UTC)", "Current Period End (UTC)", "Trial Start (UTC)", "Trial End (UTC)",
               "Canceled At (UTC)", "Ended At (UTC)"]
STRIPE_PAYMENTS = ["id", "Description", "Seller Message", "Created (UTC)", "Amount", "Amount Refunded", "Currency",
                   "Converted Amount", "Converted Amount Refunded", "Fee", "Tax", "Converted Currency", "Mode",
                   "Status", "Statement Descriptor", "Customer ID", "Customer Description", "Customer Email",
                   "Captured", "Card ID"]
WILD_APRICOT = ["User ID", "First name", "Last name", "Organization", "Email", "Phone", "Membership enabled",
                "Membership level", "Membership status", "Member since", "Renewal due", "Renewal date last changed",
                "Level last changed", "Balance", "Total donated", "Archived"]
SAP_DE = ["Verkaufsbeleg", "Auftraggeber", "Name 1", "Belegdatum", "Nettowert", "Belegwährung"]
SAP_EN = ["Sales Document", "Sold-to party", "Name 1", "Document Date", "Net value", "Document Currency"]
MEMBERS_SHEET = ["Email", "First Name", "Last Name", "Plan", "Start Date", "End Date"]


def write(path: Path, headers: Sequence[str], rows: Sequence[dict[str, Any] | Sequence[Any]], *,
          delimiter: str = ",", quote_all: bool = False, encoding: str = "utf-8") -> Path:
    """A CSV with the export's full header; dict rows fill the named columns, the rest stay blank."""
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
        writer.writerow(headers)
        for row in rows:
            if isinstance(row, dict):
                unknown = set(row) - set(headers)
                assert not unknown, unknown
                writer.writerow(["" if row.get(h) is None else row.get(h) for h in headers])
            else:
                writer.writerow(["" if v is None else v for v in row])
    return path


def run(tmp_path: Path, memberships: Path, orders: Path, rules=None, as_of: dt.date = AS_OF):
    """The in-process pipeline and its report.json content."""
    from memberseg.pipeline import run_pipeline
    from memberseg.rules import load_rules
    from memberseg.write import build_report

    result = run_pipeline(memberships, orders, rules or load_rules(), as_of, parallel=False)
    return result, build_report(result)


def member(result, **match) -> dict:
    """The one Members row whose columns equal `match`."""
    members = result.members
    mask = True
    for column, value in match.items():
        mask = mask & members[column].eq(value)
    rows = members[mask]
    assert len(rows) == 1, (match, members[list(match)].to_dict("records"))
    return rows.iloc[0].to_dict()


def csv_rows(result) -> list[dict[str, str]]:
    from memberseg.hubspot import render_files

    files = render_files(result.hubspot.contacts, result.rules)
    text = next(iter(files.values())).decode()
    return list(csv.DictReader(text.splitlines()))


# WooCommerce Memberships + Analytics orders, as in tests/unit/rules/test_profiles.py's scenarios
def woo_members(path):
    rows = [
        # Jane holds two plans at once: Gold (to 2027-03-01) and Silver (to 2026-12-01). Not a renewal.
        dict(user_membership_id=11, user_id=7, user_name="jdoe_login", member_first_name="Jane",
             member_last_name="Doe", member_email="jane@example.com", membership_plan="Gold",
             membership_status="active", member_since="2026-03-01 09:00:00",
             membership_expiration="2027-03-01 09:00:00"),
        dict(user_membership_id=12, user_id=7, user_name="jdoe_login", member_first_name="Jane",
             member_last_name="Doe", member_email="jane@example.com", membership_plan="Silver",
             membership_status="active", member_since="2025-12-01 09:00:00",
             membership_expiration="2026-12-01 09:00:00"),
        dict(user_membership_id=13, user_id=8, user_name="bob", member_first_name="Bob", member_last_name="Ray",
             member_email="bob@example.com", membership_plan="Gold", membership_status="cancelled",
             member_since="2026-01-01 00:00:00", membership_expiration="2027-01-01 00:00:00"),
        dict(user_membership_id=14, user_id=9, user_name="amy", member_first_name="Amy", member_last_name="Lo",
             member_email="amy@example.com", membership_plan="Lifetime", membership_status="complimentary",
             member_since="2020-05-05 10:00:00", membership_expiration=""),
        dict(user_membership_id=15, user_id=10, user_name="cy", member_first_name="Cy", member_last_name="Po",
             member_email="cy@example.com", membership_plan="Gold", membership_status="paused",
             member_since="2026-02-01 00:00:00", membership_expiration="2027-02-01 00:00:00"),
    ]
    return write(path, WOO_MEMBERS, rows)


def woo_orders(path):
    rows = [
        {"Date": "2026-03-01 09:00:00", "Order #": 501, "N. Revenue (formatted)": "$250.00 $200.00",
         "Status": "completed", "Customer": "Jane Doe", "Customer type": "returning", "Net Sales": "200.00"},
        {"Date": "2026-04-01 09:00:00", "Order #": 502, "N. Revenue (formatted)": "$100.00", "Status": "processing",
         "Customer": "Jane Doe", "Customer type": "returning", "Net Sales": "100.00"},
        {"Date": "2026-04-02 09:00:00", "Order #": 503, "N. Revenue (formatted)": "$999.00", "Status": "failed",
         "Customer": "Jane Doe", "Customer type": "returning", "Net Sales": "999.00"},
        {"Date": "2026-04-03 09:00:00", "Order #": 504, "N. Revenue (formatted)": "$80.00", "Status": "refunded",
         "Customer": "Bob Ray", "Customer type": "new", "Net Sales": "80.00"},
        {"Date": "2026-04-04 09:00:00", "Order #": 505, "N. Revenue (formatted)": "$40.00", "Status": "pending",
         "Customer": "Amy Lo", "Customer type": "new", "Net Sales": "40.00"},
        {"Date": "2026-04-05 09:00:00", "Order #": 506, "N. Revenue (formatted)": "$15.00", "Status": "completed",
         "Customer": "Zed Unknown", "Customer type": "new", "Net Sales": "15.00"},
    ]
    return write(path, WOO_ORDERS, rows)
