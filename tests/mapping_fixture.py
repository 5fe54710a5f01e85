"""The pair of files no packaged profile fits that the mapping-step tests upload, the answers they give and
the totals those answers lead to (tests/fixtures/mapping/README.md computes them by hand)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MEMBERSHIPS = FIXTURES / "exports" / "patreon" / "memberships.csv"      # Patreon's members CSV layout
ORDERS = FIXTURES / "mapping" / "orders_kofi_layout.csv"               # Ko-fi's transactions CSV layout
ANSWERS = {
    "memberships.field.expiration_date": "Next Charge Date",
    "memberships.field.renewal_marker": None,
    "memberships.names": "person",
    "memberships.renewing": "never",
    "memberships.column.Charge Frequency": "ignore",       # monthly or annual: "renewing" answers it here
    "memberships.column.Last Charge Status": "ignore",
}   # the orders' TransactionType is read without a question: a known row-type header, every word a payment
TOTALS = {"ana@example.com": Decimal("30.00"), "ben.o@example.com": Decimal("5.00"),
          "dora@example.de": Decimal("15.00")}
