"""hypothesis: with profiles, every input row still ends in exactly one place, now including exclusions.

Memberships (Wild Apricot contacts): kept / consolidated / rejected / excluded (contacts that are no member).
Orders (Shopify line items): matched / unmatched / rejected / excluded (not paid, or a currency without a
rate), with every continuation row in its order's bucket. Expected buckets come from the documented
status meanings, written here, never read from the engine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memberseg.rules import parse_rules
from platform_files import SHOPIFY, WILD_APRICOT, run, write

RULES = parse_rules("orders: {base_currency: USD, currency_rates: {EUR: 1.1}}")
MEMBER_STATUSES = {"Active": "member", "Lapsed": "member", "Pending - Renewal": "member", "": "not a member"}
PAID = {"paid", "partially_refunded", "refunded"}
EMAILS = ["a@x.com", "b@x.com", "c@x.com", "d@x.com"]


@st.composite
def contacts(draw):
    rows = []
    for user_id in range(1, draw(st.integers(1, 8)) + 1):
        status = draw(st.sampled_from(sorted(MEMBER_STATUSES)))
        email = draw(st.sampled_from(EMAILS))
        since = draw(st.sampled_from(["2025-01-01", "2025-06-01", "garbage"]))
        row = {"User ID": user_id, "Email": email, "Membership status": status}
        if status:
            row.update({"Member since": since, "Renewal due": "2027-01-01", "Membership level": "Gold"})
        rows.append((row, "excluded" if not status else ("rejected" if since == "garbage" else "valid")))
    return rows


@st.composite
def orders(draw):
    rows = []
    for number in range(1, draw(st.integers(0, 6)) + 1):
        status = draw(st.sampled_from(["paid", "refunded", "voided", "pending", "partially_refunded", "weird"]))
        currency = draw(st.sampled_from(["USD", "EUR", "JPY"]))
        email = draw(st.sampled_from(EMAILS + ["zz@x.com", ""]))
        total = draw(st.sampled_from(["10.00", "99.50", "n/a"]))
        lines = draw(st.integers(1, 3))
        repeat = draw(st.booleans())   # some apps repeat the order-level cells on every line
        if status == "weird" or not email or total == "n/a":
            bucket = "rejected"
        elif status not in PAID or currency == "JPY":
            bucket = "excluded"
        else:
            bucket = email
        for line in range(lines):
            row = {"Name": f"#{1000 + number}", "Email": email, "Lineitem quantity": 1, "Lineitem name": "x",
                   "Lineitem price": "1.00", "Created at": "2026-01-01 10:00:00 -0400"}
            if line == 0 or repeat:
                row.update({"Financial Status": status, "Currency": currency, "Total": total})
            rows.append((row, bucket))
    return rows


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contacts(), orders())
def test_every_row_ends_in_exactly_one_place_with_exclusions(members, order_rows):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        mpath = write(root / "contacts.csv", WILD_APRICOT, [row for row, _ in members])
        opath = write(root / "orders_export.csv", SHOPIFY, [row for row, _ in order_rows])
        result, report = run(root, mpath, opath, RULES)
    m = report["memberships"]
    assert m["rows_in"] == len(members) == m["kept"] + m["consolidated"] + m["rejected"] + m["excluded"]
    expected = {bucket: {n + 2 for n, (_, b) in enumerate(members) if b == bucket}
                for bucket in ("excluded", "rejected")}
    assert set(result.member_validation.excluded["row"]) == expected["excluded"]
    assert set(result.member_validation.rejected["row"]) == expected["rejected"]
    valid_emails = {row["Email"] for row, bucket in members if bucket == "valid"}

    o = report["orders"]
    assert o["rows_in"] == len(order_rows) == o["matched"] + o["unmatched"] + o["rejected"] + o["excluded"]
    rows_of = {bucket: {n + 2 for n, (_, b) in enumerate(order_rows) if b == bucket} for bucket in
               ("rejected", "excluded")}
    assert set(result.orders_rejected["row"]) == rows_of["rejected"]
    assert set(result.orders_excluded["row"]) == rows_of["excluded"]
    matched = sum(1 for _, b in order_rows if b in valid_emails)
    assert o["matched"] == matched
    counted_orders = {row["Name"] for row, b in order_rows if b in valid_emails}
    assert int(result.members["order_count"].sum()) == len(counted_orders)
