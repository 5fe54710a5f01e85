"""Each platform profile on files laid out like that platform's export: recognition, keys, statuses,
refunds, line items, currencies and locale. Expected values come from the documented formats."""

from __future__ import annotations

import pandas as pd
import pytest

from memberseg.rules import parse_rules
from platform_files import (
    MEMBERS_SHEET,
    MEPR,
    PMPRO_MEMBERS,
    PMPRO_ORDERS,
    SAP_DE,
    SAP_EN,
    SHOPIFY,
    STRIPE_PAYMENTS,
    STRIPE_SUBS,
    WILD_APRICOT,
    csv_rows,
    member,
    run,
    woo_members,
    woo_orders,
    write,
)

# --- WooCommerce Memberships + WooCommerce Analytics orders -----------------------------------


@pytest.fixture
def woo(tmp_path):
    return run(tmp_path, woo_members(tmp_path / "members.csv"), woo_orders(tmp_path / "orders.csv"))


def test_woocommerce_is_recognised_with_its_deciding_headers(woo):
    _, report = woo
    m, o = report["inputs"]["memberships"], report["inputs"]["orders"]
    assert m["profile"]["name"] == "woocommerce_memberships"
    assert "membership_status" in m["profile"]["deciding_headers"]
    assert o["profile"]["name"] == "woocommerce_analytics_orders"
    assert "N. Revenue (formatted)" in o["profile"]["deciding_headers"]


def test_woocommerce_statuses_and_unlimited_membership(woo):
    result, _ = woo
    assert member(result, email="bob@example.com")["membership_status"] == "Inactive"    # cancelled
    assert member(result, email="cy@example.com")["membership_status"] == "Inactive"     # paused
    amy = member(result, email="amy@example.com")
    assert amy["membership_status"] == "Active"                                          # no expiry
    assert amy["days_until_expiration"] is None or amy["days_until_expiration"] != amy["days_until_expiration"] \
        or str(amy["days_until_expiration"]) == "<NA>"
    jane = member(result, email="jane@example.com")
    assert jane["membership_status"] == "Active"


def test_two_plans_at_once_are_not_a_renewal(woo):
    result, _ = woo
    jane = member(result, email="jane@example.com")
    assert jane["plan"] == "Gold"                 # the plan with the latest expiration
    assert jane["records_merged"] == 2
    assert jane["renewal_count"] == 0
    assert list(result.duplicates["reason"]) == ["another plan held by the same customer"]


def test_woocommerce_orders_join_on_the_customer_name_and_count_only_paid(woo):
    result, report = woo
    jane = member(result, email="jane@example.com")
    assert jane["total_order_value"] == pytest.approx(300.00)   # 200 net (struck 250) + 100; failed not counted
    assert jane["order_count"] == 2
    bob = member(result, email="bob@example.com")
    assert bob["total_order_value"] == 0 and bob["order_count"] == 1  # refunded in full counts 0
    o = report["orders"]
    assert o["join_key"]["key"] == "customer_name"
    assert (o["matched"], o["unmatched"], o["rejected"], o["excluded"]) == (3, 1, 0, 2)
    assert o["rows_in"] == o["matched"] + o["unmatched"] + o["rejected"] + o["excluded"]
    reasons = set(result.orders_excluded["reason"])
    assert reasons == {"order status 'failed' is not paid", "order status 'pending' is not paid"}


def test_a_wordpress_login_never_becomes_the_company(woo):
    result, _ = woo
    rows = {row["email"]: row for row in csv_rows(result)}
    jane = rows["jane@example.com"]
    assert (jane["firstname"], jane["lastname"], jane["company"]) == ("Jane", "Doe", "")
    assert all("login" not in row["company"] for row in rows.values())
    header = list(rows["jane@example.com"])
    assert header[:4] == ["email", "firstname", "lastname", "company"]
    assert "inactive_membership" in header   # the profile's added segment
    assert rows["bob@example.com"]["inactive_membership"] == "true"


# --- MemberPress: one transactions file is both inputs ----------------------------------------

def mepr(path):
    rows = [
        # Ann: monthly subscription, renewed each month; the latest period ends in 10 days.
        dict(id=1, created_at="2026-09-25 10:00:00", expires_at="2026-10-25 10:00:00", user_login="ann_l",
             user_email="ann@example.com", first_name="Ann", last_name="Lee", user_id=21, product_id=3,
             product_name="Monthly", subscr_id="sub_1", trans_num="t1", amount="20.00", total="24.00",
             status="complete"),
        dict(id=2, created_at="2026-10-25 10:00:00", expires_at="2026-11-25 10:00:00", user_login="ann_l",
             user_email="ann@example.com", first_name="Ann", last_name="Lee", user_id=21, product_id=3,
             product_name="Monthly", subscr_id="sub_1", trans_num="t2", amount="20.00", total="24.00",
             status="complete"),
        # Ben: a one-off yearly, no subscription, ending in 20 days: Expiring Soon.
        dict(id=3, created_at="2025-12-05 10:00:00", expires_at="2026-12-05 10:00:00", user_login="ben",
             user_email="ben@example.com", first_name="", last_name="", user_id=22, product_id=4,
             product_name="Yearly", subscr_id="None", trans_num="t3", amount="100.00", total="100.00",
             status="complete"),
        # Cat: lifetime; Dan: refunded; Eve: failed.
        dict(id=4, created_at="2024-01-01 00:00:00", expires_at="0000-00-00 00:00:00", user_login="cat",
             user_email="cat@example.com", first_name="Cat", last_name="Moe", user_id=23, product_id=5,
             product_name="Lifetime", subscr_id="None", trans_num="t4", amount="500.00", total="500.00",
             status="complete"),
        dict(id=5, created_at="2026-06-01 00:00:00", expires_at="2027-06-01 00:00:00", user_login="dan",
             user_email="dan@example.com", first_name="Dan", last_name="Ng", user_id=24, product_id=4,
             product_name="Yearly", subscr_id="None", trans_num="t5", amount="100.00", total="100.00",
             status="refunded"),
        dict(id=6, created_at="2026-07-01 00:00:00", expires_at="2027-07-01 00:00:00", user_login="eve",
             user_email="eve@example.com", first_name="Eve", last_name="Ox", user_id=25, product_id=4,
             product_name="Yearly", subscr_id="None", trans_num="t6", amount="100.00", total="100.00",
             status="failed"),
    ]
    return write(path, MEPR, rows)


def test_memberpress_one_file_is_both_inputs(tmp_path):
    path = mepr(tmp_path / "transactions-1764547200.csv")
    result, report = run(tmp_path, path, path)
    assert report["inputs"]["memberships"]["profile"]["name"] == "memberpress_transactions"
    assert report["inputs"]["orders"]["profile"]["name"] == "memberpress_transactions"
    ann = member(result, email="ann@example.com")
    assert ann["status_class"] == "renewing"
    assert ann["membership_status"] == "Active"         # renews by itself: never Expiring Soon
    assert ann["renewal_count"] == 1
    assert ann["total_order_value"] == pytest.approx(48.0) and ann["order_count"] == 2   # total, after tax
    assert member(result, email="ben@example.com")["membership_status"] == "Expiring Soon"
    cat = member(result, email="cat@example.com")
    assert cat["membership_status"] == "Active" and cat["expiration"] != cat["expiration"]  # NaT: no expiry
    assert member(result, email="dan@example.com")["membership_status"] == "Inactive"
    assert member(result, email="dan@example.com")["total_order_value"] == 0
    # Eve's only payment failed: it bought no term, so she is no customer (her row is excluded, with the reason).
    assert "eve@example.com" not in set(result.members["email"])
    excluded = result.member_validation.excluded
    assert excluded.loc[excluded["customer_id"].eq("25"), "reason"].tolist() == ["the payment did not complete, so it bought no term (status 'failed')"]
    o = report["orders"]
    assert o["excluded"] == 1 and o["join_key"]["key"] == "customer_id"
    rows = {row["email"]: row for row in csv_rows(result)}
    assert pd.isna(cat["days_until_expiration"]) and rows["cat@example.com"]["membership_expiration_date"] == ""
    assert rows["ann@example.com"]["auto_renewing"] == "true"
    assert rows["ann@example.com"]["low_value_at_risk"] == "false"
    assert rows["ben@example.com"]["firstname"] == ""


def _mepr_row(**cells):
    base = dict(user_login="u", first_name="", last_name="", product_id=4, product_name="Yearly", subscr_id="None",
                amount="100.00", total="100.00")
    return {**base, **cells}


def test_memberpress_failed_renewal_after_a_paid_term_that_ran_out_is_expired(tmp_path):
    """The failed 2026 renewal buys no term: the paid 2025 term decides, and it has run out."""
    path = write(tmp_path / "transactions-1764547200.csv", MEPR, [
        _mepr_row(id=1, created_at="2025-03-01 10:00:00", expires_at="2026-03-01 10:00:00", user_email="fay@example.com",
                  user_id=31, subscr_id="sub_31", trans_num="t1", status="complete"),
        _mepr_row(id=2, created_at="2026-03-01 10:00:00", expires_at="2027-03-01 10:00:00", user_email="fay@example.com",
                  user_id=31, subscr_id="sub_31", trans_num="t2", status="failed"),
        # Gus: his renewal is pending, and the term he paid for runs until next year.
        _mepr_row(id=3, created_at="2026-02-01 10:00:00", expires_at="2027-02-01 10:00:00", user_email="gus@example.com",
                  user_id=32, trans_num="t3", status="complete"),
        _mepr_row(id=4, created_at="2026-11-01 10:00:00", expires_at="2027-11-01 10:00:00", user_email="gus@example.com",
                  user_id=32, trans_num="t4", status="pending"),
        # Hal: refunded, as before: the platform ended it.
        _mepr_row(id=5, created_at="2026-06-01 10:00:00", expires_at="2027-06-01 10:00:00", user_email="hal@example.com",
                  user_id=33, trans_num="t5", status="refunded"),
    ])
    result, report = run(tmp_path, path, path)
    fay = member(result, email="fay@example.com")
    assert fay["membership_status"] == "Expired" and str(fay["expiration"].date()) == "2026-03-01"
    assert fay["records_merged"] == 1 and fay["total_order_value"] == pytest.approx(100.0)
    gus = member(result, email="gus@example.com")
    assert gus["membership_status"] == "Active" and str(gus["expiration"].date()) == "2027-02-01"
    assert member(result, email="hal@example.com")["membership_status"] == "Inactive"
    excluded = result.member_validation.excluded
    assert excluded[["row", "customer_id", "reason"]].values.tolist() == [
        [3, "31", "the payment did not complete, so it bought no term (status 'failed')"], [5, "32", "the payment did not complete, so it bought no term (status 'pending')"]]
    assert report["memberships"]["excluded"] == 2
    rows = {row["email"]: row for row in csv_rows(result)}
    assert rows["fay@example.com"]["inactive_membership"] == "false"


# --- Paid Memberships Pro ----------------------------------------------------------------------

def test_pmpro_recurring_members_with_no_end_date_reach_hubspot(tmp_path):
    members = write(tmp_path / "members_list.csv", PMPRO_MEMBERS, [
        dict(id=31, username="kim", firstname="Kim", lastname="Vo", email="kim@example.com", membership="Pro",
             membership_id=2, billing_amount="15.00", cycle_number=1, cycle_period="Month",
             next_payment_date="2026-11-20", joined="2025-02-01", startdate="2025-02-01", expires="N/A"),
        dict(id=32, username="lou", firstname="Lou", lastname="Wu", email="lou@example.com", membership="Annual",
             membership_id=3, billing_amount="0.00", cycle_number=0, cycle_period="", joined="2025-12-01",
             startdate="2025-12-01", expires="2026-12-01"),
    ], quote_all=True)
    orders = write(tmp_path / "orders.csv", PMPRO_ORDERS, [
        dict(id=1, code="A1", user_id=31, user_login="kim", user_email="kim@example.com", total="15.00",
             status="success", timestamp="October 20, 2026 3:05 pm"),
        dict(id=2, code="A2", user_id=31, user_login="kim", user_email="kim@example.com", total="15.00",
             status="error", timestamp="November 2, 2026 3:05 pm"),
        dict(id=3, code="A3", user_id=32, user_login="lou", user_email="lou@example.com", total="120.00",
             status="refunded", timestamp="December 1, 2025 9:00 am"),
    ], quote_all=True)
    result, report = run(tmp_path, members, orders)
    assert report["inputs"]["memberships"]["profile"]["name"] == "pmpro_members"
    assert report["inputs"]["orders"]["profile"]["name"] == "pmpro_orders"
    assert report["memberships"]["rejected"] == 0
    kim = member(result, email="kim@example.com")
    assert (kim["membership_status"], kim["status_class"]) == ("Active", "renewing")
    assert kim["total_order_value"] == pytest.approx(15.0) and kim["order_count"] == 1
    assert str(kim["last_order_date"].date()) == "2026-10-20"
    lou = member(result, email="lou@example.com")
    assert lou["membership_status"] == "Expiring Soon" and lou["total_order_value"] == 0
    rows = {row["email"]: row for row in csv_rows(result)}
    assert pd.isna(kim["days_until_expiration"]) and rows["kim@example.com"]["membership_expiration_date"] == ""
    assert rows["kim@example.com"]["auto_renewing"] == "true"


def test_pmpro_old_members_variant(tmp_path):
    headers = [h if h != "expires" else "ended" for h in PMPRO_MEMBERS]
    members = write(tmp_path / "old_members.csv", headers, [
        dict(id=41, username="old", firstname="Ola", lastname="Dee", email="ola@example.com", membership="Pro",
             membership_id=2, joined="2023-01-01", startdate="2023-01-01", ended="2025-01-01"),
    ], quote_all=True)
    orders = write(tmp_path / "orders.csv", PMPRO_ORDERS, [])
    result, report = run(tmp_path, members, orders)
    assert report["inputs"]["memberships"]["profile"]["name"] == "pmpro_old_members"
    assert member(result, email="ola@example.com")["membership_status"] == "Expired"


# --- Shopify orders (line items) with a members sheet keyed by email -----------------------------

def shopify(path):
    rows = [
        # #1001: two line items; order-level cells on the first row only.
        {"Name": "#1001", "Email": "mia@example.com", "Financial Status": "paid", "Currency": "USD",
         "Subtotal": "90.00", "Total": "100.00", "Created at": "2026-05-01 23:30:11 -0400",
         "Lineitem quantity": 1, "Lineitem name": "Hat", "Lineitem price": "40.00", "Id": 9001},
        {"Name": "#1001", "Email": "mia@example.com", "Created at": "2026-05-01 23:30:11 -0400",
         "Lineitem quantity": 1, "Lineitem name": "Scarf", "Lineitem price": "50.00"},
        # #1002: an app that repeats the total on every line: counted once.
        {"Name": "#1002", "Email": "mia@example.com", "Financial Status": "partially_refunded", "Currency": "USD",
         "Total": "60.00", "Refunded Amount": "10.00", "Created at": "2026-06-01 10:00:00 -0400",
         "Lineitem quantity": 1, "Lineitem name": "Mug", "Lineitem price": "30.00", "Id": 9002},
        {"Name": "#1002", "Email": "mia@example.com", "Financial Status": "partially_refunded", "Currency": "USD",
         "Total": "60.00", "Refunded Amount": "10.00", "Created at": "2026-06-01 10:00:00 -0400",
         "Lineitem quantity": 1, "Lineitem name": "Cup", "Lineitem price": "30.00", "Id": 9002},
        # #1003 EUR (converted with the rules' rate), #1004 JPY (no rate: excluded), #1005 voided.
        {"Name": "#1003", "Email": "MIA@example.com ", "Financial Status": "paid", "Currency": "EUR",
         "Total": "50.00", "Created at": "2026-07-01 10:00:00 +0200", "Lineitem quantity": 1,
         "Lineitem name": "Bag", "Lineitem price": "50.00"},
        {"Name": "#1004", "Email": "noa@example.com", "Financial Status": "paid", "Currency": "JPY",
         "Total": "1,000", "Created at": "2026-07-02 10:00:00 +0900", "Lineitem quantity": 1,
         "Lineitem name": "Pin", "Lineitem price": "1,000"},
        {"Name": "#1005", "Email": "noa@example.com", "Financial Status": "voided", "Currency": "USD",
         "Total": "70.00", "Created at": "2026-07-03 10:00:00 -0400", "Lineitem quantity": 1,
         "Lineitem name": "Tee", "Lineitem price": "70.00"},
        {"Name": "#1006", "Email": "noa@example.com", "Financial Status": "paid", "Currency": "USD",
         "Total": "20.00", "Created at": "2026-07-04 10:00:00 -0400", "Lineitem quantity": 1,
         "Lineitem name": "Pen", "Lineitem price": "20.00"},
    ]
    return write(path, SHOPIFY, rows)


def members_sheet(path):
    return write(path, MEMBERS_SHEET, [
        ["mia@example.com", "Mia", "Sol", "Gold", "2026-01-01", "2027-01-01"],
        ["noa@example.com", "Noa", "Tal", "Gold", "2026-02-01", "2027-02-01"],
    ])


def test_shopify_line_items_refunds_and_currencies(tmp_path):
    rules = parse_rules("orders: {base_currency: USD, currency_rates: {EUR: 1.10}}")
    result, report = run(tmp_path, members_sheet(tmp_path / "members.csv"), shopify(tmp_path / "orders_export.csv"),
                         rules)
    assert report["inputs"]["orders"]["profile"]["name"] == "shopify_orders"
    assert report["inputs"]["memberships"]["profile"]["name"] == "members_sheet"
    mia = member(result, email="mia@example.com")
    assert mia["total_order_value"] == pytest.approx(100.00 + 50.00 + 55.00)   # 60 - 10 refunded; 50 EUR x 1.10
    assert mia["order_count"] == 3                                           # orders, not rows
    noa = member(result, email="noa@example.com")
    assert noa["total_order_value"] == pytest.approx(20.00) and noa["order_count"] == 1
    o = report["orders"]
    assert o["join_key"]["key"] == "email"
    assert (o["rows_in"], o["matched"], o["unmatched"], o["rejected"], o["excluded"]) == (8, 6, 0, 0, 2)
    reasons = sorted(result.orders_excluded["reason"])
    assert reasons == ["currency JPY has no rate in the rules (orders.currency_rates)",
                       "order status 'voided' is not paid"]
    assert o["currency"]["base"] == "USD"


def test_zero_decimal_currency_reads_group_separators_as_thousands(tmp_path):
    rules = parse_rules("orders: {base_currency: JPY}")
    result, _ = run(tmp_path, members_sheet(tmp_path / "members.csv"), shopify(tmp_path / "orders_export.csv"),
                    rules)
    assert member(result, email="noa@example.com")["total_order_value"] == pytest.approx(1000.0)


def test_base_currency_defaults_to_the_most_common(tmp_path):
    result, report = run(tmp_path, members_sheet(tmp_path / "members.csv"), shopify(tmp_path / "orders_export.csv"))
    currency = report["orders"]["currency"]
    assert currency["base"] == "USD" and currency["chosen_by"] == "most common in file"
    assert member(result, email="mia@example.com")["total_order_value"] == pytest.approx(150.00)  # EUR excluded


# --- Stripe subscriptions + payments ------------------------------------------------------------

def test_stripe_subscriptions_and_payments(tmp_path):
    subs = write(tmp_path / "subscriptions.csv", STRIPE_SUBS, [
        {"id": "sub_1", "Customer ID": "cus_A", "Customer Name": "Ana Ruiz", "Customer Email": "ana@example.com",
         "Plan": "Monthly", "Interval": "month", "Status": "active", "Start Date (UTC)": "2026-01-20 08:00",
         "Current Period End (UTC)": "2026-11-20 08:00"},
        {"id": "sub_2", "Customer ID": "cus_B", "Customer Name": "Bo Li", "Customer Email": "bo@example.com",
         "Plan": "Monthly", "Interval": "month", "Status": "active", "Start Date (UTC)": "2026-01-20 08:00",
         "Current Period End (UTC)": "2026-11-20 08:00", "Canceled At (UTC)": "2026-11-01 12:00"},
        {"id": "sub_3", "Customer ID": "cus_C", "Customer Name": "Cy Om", "Customer Email": "cy@example.com",
         "Plan": "Yearly", "Interval": "year", "Status": "past_due", "Start Date (UTC)": "2026-01-01 08:00",
         "Current Period End (UTC)": "2027-06-01 08:00"},
        {"id": "sub_4", "Customer ID": "cus_D", "Customer Name": "Di Fu", "Customer Email": "di@example.com",
         "Plan": "Yearly", "Interval": "year", "Status": "canceled", "Start Date (UTC)": "2025-01-01 08:00",
         "Current Period End (UTC)": "2026-01-01 08:00", "Canceled At (UTC)": "2025-06-01 08:00"},
        # Old canceled and new active subscription of the same customer: the active one is kept.
        {"id": "sub_5", "Customer ID": "cus_A", "Customer Name": "Ana Ruiz", "Customer Email": "ana@example.com",
         "Plan": "Yearly", "Interval": "year", "Status": "canceled", "Start Date (UTC)": "2024-01-01 08:00",
         "Current Period End (UTC)": "2025-01-01 08:00", "Canceled At (UTC)": "2024-06-01 08:00"},
    ])
    payments = write(tmp_path / "unified_payments.csv", STRIPE_PAYMENTS, [
        {"id": "ch_1", "Created (UTC)": "2026-10-20 08:00", "Amount": "29.00", "Amount Refunded": "0.00",
         "Currency": "usd", "Status": "Paid", "Customer ID": "cus_A", "Customer Email": "ana@example.com",
         "Captured": "true", "Seller Message": "Payment complete."},
        {"id": "ch_2", "Created (UTC)": "2026-09-20 08:00", "Amount": "29.00", "Amount Refunded": "29.00",
         "Currency": "usd", "Status": "Paid", "Customer ID": "cus_A", "Captured": "true"},
        {"id": "ch_3", "Created (UTC)": "2026-09-21 08:00", "Amount": "29.00", "Amount Refunded": "0.00",
         "Currency": "usd", "Status": "Failed", "Customer ID": "cus_B", "Captured": "false"},
    ])
    result, report = run(tmp_path, subs, payments)
    assert report["inputs"]["memberships"]["profile"]["name"] == "stripe_subscriptions"
    assert report["inputs"]["orders"]["profile"]["name"] == "stripe_payments"
    ana = member(result, customer_id="cus_A")
    assert (ana["membership_status"], ana["status_class"]) == ("Active", "renewing")   # renews in 5 days
    assert ana["total_order_value"] == pytest.approx(29.0) and ana["order_count"] == 2  # one refunded in full
    assert member(result, customer_id="cus_B")["membership_status"] == "Expiring Soon"  # cancels at period end
    assert member(result, customer_id="cus_C")["membership_status"] == "Expiring Soon"  # past due, far dates
    assert member(result, customer_id="cus_D")["membership_status"] == "Inactive"
    rows = {row["cust_id"]: row for row in csv_rows(result)}
    assert (rows["cus_A"]["firstname"], rows["cus_A"]["lastname"], rows["cus_A"]["company"]) == ("Ana", "Ruiz", "")
    assert rows["cus_A"]["low_value_at_risk"] == "false" and rows["cus_A"]["expiring_soon"] == "false"
    assert report["orders"]["excluded"] == 1


# --- Wild Apricot contacts ------------------------------------------------------------------------

def test_wild_apricot_contacts_exclude_non_members_and_keep_organisations(tmp_path):
    contacts = write(tmp_path / "contacts.csv", WILD_APRICOT, [
        {"User ID": 501, "First name": "Ivy", "Last name": "Ng", "Organization": "Ng Bakery",
         "Email": "ivy@example.com", "Membership enabled": "yes", "Membership level": "Business",
         "Membership status": "Active", "Member since": "2024-03-01", "Renewal due": "2027-03-01"},
        {"User ID": 502, "First name": "Jon", "Last name": "Ek", "Email": "jon@example.com",
         "Membership enabled": "yes", "Membership level": "Lifetime", "Membership status": "Active",
         "Member since": "2019-01-01", "Renewal due": ""},
        {"User ID": 503, "First name": "Kai", "Last name": "Oz", "Email": "kai@example.com",
         "Membership enabled": "yes", "Membership level": "Individual", "Membership status": "Pending - Renewal",
         "Member since": "2023-01-01", "Renewal due": "2027-08-01"},
        {"User ID": 504, "First name": "Lea", "Last name": "Po", "Email": "lea@example.com",
         "Membership enabled": "no"},
    ])
    orders = write(tmp_path / "orders.csv", ["Customer ID", "Total"], [[501, "10.00"]])
    result, report = run(tmp_path, contacts, orders)
    assert report["inputs"]["memberships"]["profile"]["name"] == "wild_apricot_contacts"
    m = report["memberships"]
    assert (m["rows_in"], m["kept"], m["excluded"], m["rejected"]) == (4, 3, 1, 0)
    assert m["rows_in"] == m["kept"] + m["consolidated"] + m["rejected"] + m["excluded"]
    assert result.member_validation.excluded["reason"].tolist() == ["not a member (Membership status '')"]
    assert member(result, customer_id="502")["membership_status"] == "Active"
    assert member(result, customer_id="503")["membership_status"] == "Expiring Soon"
    rows = {row["email"]: row for row in csv_rows(result)}
    assert rows["ivy@example.com"]["company"] == "Ng Bakery"
    assert rows["jon@example.com"]["company"] == ""


# --- SAP VA05, German settings --------------------------------------------------------------------

def sap_members(path):
    from builders import MEMBERSHIP_HEADERS
    return write(path, MEMBERSHIP_HEADERS, [
        ["1001", "Müller GmbH", "01.02.2026", "31.01.2027", "info@mueller.de", "Enrolled"],
        ["1002", "Tanaka KK", "05.07.2026", "04.07.2027", "tanaka@example.jp", "Enrolled"],
    ], delimiter=";")


def test_sap_va05_german_reads_dates_amounts_and_currencies(tmp_path):
    orders = write(tmp_path / "va05.csv", SAP_DE, [
        ["0000012345", "1001", "Müller GmbH", "02.05.2026", "1.234,50", "EUR"],
        ["0000012346", "1001", "Müller GmbH", "05.07.2026", "150,00-", "EUR"],
        ["0000012347", "1002", "Tanaka KK", "13.07.2026", "1.000", "JPY"],
    ], delimiter="\t")
    rules = parse_rules("orders: {base_currency: EUR, currency_rates: {JPY: 0.006}}")
    result, report = run(tmp_path, sap_members(tmp_path / "members.csv"), orders, rules)
    o_in = report["inputs"]["orders"]
    assert o_in["profile"]["name"] == "sap_va05_de"
    assert (o_in["date_order"], o_in["decimal_separator"]) == ("DMY", ",")
    assert o_in["decimal_separator_decided_by"] == "values"
    mueller = member(result, customer_id="1001")
    assert mueller["total_order_value"] == pytest.approx(1084.50)        # 1234.50 - 150.00
    assert str(mueller["last_order_date"].date()) == "2026-07-05"        # 5 July, never May 7
    assert member(result, customer_id="1002")["total_order_value"] == pytest.approx(6.0)   # 1000 JPY x 0.006
    m_in = report["inputs"]["memberships"]
    assert (m_in["profile"]["name"], m_in["date_order"]) == ("standard", "DMY")
    assert str(member(result, customer_id="1002")["start"].date()) == "2026-07-05"


def test_sap_va05_english_is_recognised(tmp_path):
    orders = write(tmp_path / "va05.csv", SAP_EN, [["12345", "1001", "Mueller", "05/02/2026", "1,234.50", "USD"]],
                   delimiter="\t")
    result, report = run(tmp_path, sap_members(tmp_path / "members.csv"), orders)
    assert report["inputs"]["orders"]["profile"]["name"] == "sap_va05_en"
    assert report["inputs"]["orders"]["date_order_decided_by"] == "profile default"
    assert member(result, customer_id="1001")["total_order_value"] == pytest.approx(1234.50)


# --- The standard layout gives today's HubSpot file, byte for byte -----------------------------------

# sha256 of hubspot_contacts.csv for examples/ at --as-of 2026-11-15, written by memberseg before profiles
# existed (commit c3c622e). The bundled samples are in the standard layout, so nothing may change.
BEFORE_PROFILES = "d5944abc0686e6f508788a730b11db057ad423c7850a57d3e5b67dd2b26a1ade"


def test_standard_examples_give_the_same_hubspot_csv_as_before_profiles(tmp_path):
    import hashlib
    from pathlib import Path

    from memberseg.hubspot import _render, contacts_frame, render_files
    from memberseg.rules import HUBSPOT_CHANGE_COLUMNS, since_column

    examples = Path(__file__).resolve().parents[3] / "examples"
    result, report = run(tmp_path, examples / "memberships.xlsx", examples / "orders.xlsx")
    assert report["inputs"]["memberships"]["profile"]["name"] == "standard"
    data = render_files(result.hubspot.contacts, result.rules)["hubspot_contacts.csv"]
    # Issue 18 added the change columns after the segments; every column before them is as it was, byte for byte.
    added = [*HUBSPOT_CHANGE_COLUMNS, *(since_column(seg.property) for seg in result.rules.segments)]
    frame = contacts_frame(result.hubspot.contacts, result.rules)
    assert list(frame.columns[-len(added):]) == added
    assert _render(frame) == data
    # It also dropped days_until_expiration (stale in HubSpot a day after the import): put back where it was,
    # as it was written, the file is the one before profiles.
    assert "days_until_expiration" not in frame
    before = frame.drop(columns=added)
    days = result.hubspot.contacts["days_until_expiration"].astype("Int64").astype(str).replace("<NA>", "")
    before.insert(before.columns.get_loc("membership_expiration_date") + 1, "days_until_expiration",
                  days.to_numpy(dtype=object))
    assert hashlib.sha256(_render(before)).hexdigest() == BEFORE_PROFILES


