#!/usr/bin/env python3
"""Write a small, deterministic sample export per platform under examples/platforms/<name>/.

    python scripts/make_platform_examples.py [--out examples/platforms]

Each folder holds memberships.csv and orders.csv laid out like that platform's export (the headers
and value formats named in the profile files' sources). Seeded: the same script always writes the
same bytes. Try one with:

    memberseg run --memberships examples/platforms/shopify/memberships.csv \\
                  --orders examples/platforms/shopify/orders.csv --out out --as-of 2026-11-15
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

SEED = 2026
AS_OF = dt.date(2026, 11, 15)
FIRST = ["Ana", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jia", "Kurt", "Lena"]
LAST = ["Alvarez", "Brandt", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haas", "Ito", "Jones"]
Row = dict[str, object]


def _csv(headers: Sequence[str], rows: Sequence[Mapping[str, object]], delimiter: str = ",",
         quote_all: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n",
                        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if row.get(h) is None else row.get(h) for h in headers])
    return buffer.getvalue().encode("utf-8")


def _people(rng: random.Random, count: int) -> list[tuple[int, str, str, str]]:
    people = []
    for number in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        people.append((101 + number, first, last, f"{first}.{last}{number}@example.com".lower()))
    return people


def _day(rng: random.Random, low: int, high: int) -> dt.date:
    return AS_OF + dt.timedelta(days=rng.randint(low, high))


def woocommerce(rng: random.Random) -> tuple[bytes, bytes]:
    headers = ["user_membership_id", "user_id", "user_name", "member_first_name", "member_last_name", "member_email",
               "membership_plan_id", "membership_plan", "membership_plan_slug", "membership_status", "product_id",
               "order_id", "member_since", "membership_expiration"]
    statuses = ["active", "active", "active", "complimentary", "cancelled", "paused", "pending", "expired"]
    members: list[Row] = []
    orders: list[Row] = []
    for number, (user, first, last, email) in enumerate(_people(rng, 10)):
        since = _day(rng, -700, -10)
        status = rng.choice(statuses)
        unlimited = status == "complimentary"
        end = "" if unlimited else f"{since + dt.timedelta(days=365):%Y-%m-%d} 00:00:00"
        members.append({"user_membership_id": 900 + number, "user_id": user, "user_name": f"{first}{user}".lower(),
                        "member_first_name": first, "member_last_name": last, "member_email": email,
                        "membership_plan_id": 7, "membership_plan": "Gold", "membership_plan_slug": "gold",
                        "membership_status": status, "member_since": f"{since:%Y-%m-%d} 09:30:00",
                        "membership_expiration": end})
        for _ in range(rng.randint(0, 3)):
            total = rng.choice([49.0, 99.0, 250.0])
            order_status = rng.choice(["completed", "completed", "processing", "refunded", "failed"])
            revenue = f"${total:,.2f}"
            if order_status == "completed" and rng.random() < 0.3:   # partly refunded: struck, then net
                revenue = f"${total:,.2f} ${total - 20:,.2f}"
            orders.append({"Date": f"{_day(rng, -300, -1):%Y-%m-%d} 12:00:00", "Order #": 5000 + len(orders),
                           "N. Revenue (formatted)": revenue, "Status": order_status, "Customer": f"{first} {last}",
                           "Customer type": "returning", "Net Sales": f"{total:.2f}"})
    order_headers = ["Date", "Order #", "N. Revenue (formatted)", "Status", "Customer", "Customer type", "Product(s)",
                     "Items sold", "Coupon(s)", "Net Sales", "Attribution"]
    return _csv(headers, members), _csv(order_headers, orders)


def memberpress(rng: random.Random) -> tuple[bytes, bytes]:
    headers = ["id", "created_at", "expires_at", "user_login", "user_email", "first_name", "last_name", "user_id",
               "product_id", "product_name", "gateway", "gateway_id", "subscr_id", "sub_id", "trans_num", "amount",
               "total", "tax_amount", "tax_rate", "tax_class", "tax_desc", "status", "coupon_id", "coupon",
               "order_trans_num"]
    rows: list[Row] = []
    for user, first, last, email in _people(rng, 8):
        monthly = rng.random() < 0.6
        start = _day(rng, -200, -40)
        for period in range(rng.randint(1, 4) if monthly else 1):
            created = start + dt.timedelta(days=30 * period)
            expires = (f"{created + dt.timedelta(days=30 if monthly else 365):%Y-%m-%d} 10:00:00"
                       if rng.random() > 0.1 else "0000-00-00 00:00:00")
            rows.append({"id": len(rows) + 1, "created_at": f"{created:%Y-%m-%d} 10:00:00", "expires_at": expires,
                         "user_login": f"{first}{user}".lower(), "user_email": email, "first_name": first,
                         "last_name": last, "user_id": user, "product_id": 3 if monthly else 4,
                         "product_name": "Monthly" if monthly else "Yearly", "gateway": "stripe",
                         "subscr_id": f"sub_{user}" if monthly else "None", "trans_num": f"ch_{user}_{period}",
                         "amount": "20.00" if monthly else "200.00", "total": "24.00" if monthly else "240.00",
                         "status": rng.choice(["complete", "complete", "complete", "refunded", "failed"])})
    data = _csv(headers, rows)
    return data, data


def pmpro(rng: random.Random) -> tuple[bytes, bytes]:
    headers = ["id", "username", "firstname", "lastname", "email", "membership", "membership_id", "discount_code_id",
               "discount_code", "subscription_transaction_id", "billing_amount", "cycle_number", "cycle_period",
               "next_payment_date", "joined", "startdate", "expires"]
    order_headers = ["id", "code", "user_id", "user_login", "first_name", "last_name", "user_email", "billing_name",
                     "billing_street", "billing_city", "billing_state", "billing_zip", "billing_country",
                     "billing_phone", "membership_id", "level_name", "subtotal", "tax", "total", "payment_type",
                     "cardtype", "accountnumber", "expirationmonth", "expirationyear", "status", "gateway",
                     "gateway_environment", "payment_transaction_id", "subscription_transaction_id",
                     "discount_code_id", "discount_code", "timestamp"]
    members: list[Row] = []
    orders: list[Row] = []
    for user, first, last, email in _people(rng, 10):
        recurring = rng.random() < 0.6
        start = _day(rng, -500, -20)
        members.append({"id": user, "username": f"{first}{user}".lower(), "firstname": first, "lastname": last,
                        "email": email, "membership": "Pro" if recurring else "Annual", "membership_id": 2,
                        "billing_amount": "15.00" if recurring else "0.00", "cycle_number": 1 if recurring else 0,
                        "cycle_period": "Month" if recurring else "",
                        "next_payment_date": f"{_day(rng, 1, 30):%Y-%m-%d}" if recurring else "",
                        "joined": f"{start:%Y-%m-%d}", "startdate": f"{start:%Y-%m-%d}",
                        "expires": "N/A" if recurring else f"{start + dt.timedelta(days=365):%Y-%m-%d}"})
        for _ in range(rng.randint(0, 3)):
            stamp = dt.datetime.combine(_day(rng, -200, -1), dt.time(rng.randint(0, 23), rng.choice([5, 30])))
            orders.append({"id": len(orders) + 1, "code": f"O{len(orders):04d}", "user_id": user,
                           "user_login": f"{first}{user}".lower(), "first_name": first, "last_name": last,
                           "user_email": email, "billing_name": f"{first} {last}", "total": "15.00",
                           "payment_type": "", "cardtype": "Visa", "gateway_environment": "live",
                           "status": rng.choice(["success", "success", "success", "refunded", "error"]),
                           "timestamp": f"{stamp:%B} {stamp.day}, {stamp:%Y} {stamp.hour % 12 or 12}:"
                                        f"{stamp:%M} {'am' if stamp.hour < 12 else 'pm'}"})
    return _csv(headers, members, quote_all=True), _csv(order_headers, orders, quote_all=True)


def shopify(rng: random.Random) -> tuple[bytes, bytes]:
    members = [{"Email": email, "First Name": first, "Last Name": last, "Plan": rng.choice(["Gold", "Silver"]),
                "Start Date": f"{(start := _day(rng, -400, -20)):%Y-%m-%d}",
                "End Date": f"{start + dt.timedelta(days=365):%Y-%m-%d}"}
               for _, first, last, email in _people(rng, 8)]
    headers = ["Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
               "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code",
               "Discount Amount", "Shipping Method", "Created at", "Lineitem quantity", "Lineitem name",
               "Lineitem price", "Refunded Amount", "Cancelled at", "Id"]
    rows: list[Row] = []
    for number in range(14):
        email = str(rng.choice(members)["Email"])
        lines = [(rng.choice(["Hat", "Scarf", "Mug", "Tote"]), rng.choice([15.0, 25.0, 40.0]))
                 for _ in range(rng.randint(1, 3))]
        total = sum(price for _, price in lines)
        status = rng.choice(["paid", "paid", "paid", "partially_refunded", "refunded", "voided", "pending"])
        currency = rng.choice(["USD", "USD", "USD", "EUR"])
        created = f"{_day(rng, -300, -1):%Y-%m-%d} 14:05:00 -0400"
        for position, (name, price) in enumerate(lines):
            row: Row = {"Name": f"#{1001 + number}", "Email": email, "Created at": created, "Lineitem quantity": 1,
                        "Lineitem name": name, "Lineitem price": f"{price:.2f}"}
            if position == 0:   # order-level cells on the order's first line only
                row.update({"Financial Status": status, "Currency": currency, "Subtotal": f"{total:.2f}",
                            "Total": f"{total:.2f}", "Id": 5_000_000 + number,
                            "Refunded Amount": "10.00" if status == "partially_refunded" else ""})
            rows.append(row)
    return _csv(["Email", "First Name", "Last Name", "Plan", "Start Date", "End Date"], members), _csv(headers, rows)


def stripe(rng: random.Random) -> tuple[bytes, bytes]:
    headers = ["id", "Customer ID", "Customer Name", "Customer Email", "Plan", "Quantity", "Currency", "Interval",
               "Amount", "Status", "Cancellation Reason", "Created (UTC)", "Start Date (UTC)",
               "Current Period Start (UTC)", "Current Period End (UTC)", "Trial Start (UTC)", "Trial End (UTC)",
               "Canceled At (UTC)", "Ended At (UTC)"]
    pay_headers = ["id", "Description", "Seller Message", "Created (UTC)", "Amount", "Amount Refunded", "Currency",
                   "Converted Amount", "Converted Amount Refunded", "Fee", "Tax", "Converted Currency", "Mode",
                   "Status", "Statement Descriptor", "Customer ID", "Customer Description", "Customer Email",
                   "Captured", "Card ID"]
    subs: list[Row] = []
    payments: list[Row] = []
    for user, first, last, email in _people(rng, 10):
        status = rng.choice(["active", "active", "active", "past_due", "canceled", "trialing"])
        period_end = _day(rng, 1, 28)
        canceled = f"{_day(rng, -20, -1):%Y-%m-%d} 08:00" if status == "canceled" or rng.random() < 0.2 else ""
        subs.append({"id": f"sub_{user}", "Customer ID": f"cus_{user}", "Customer Name": f"{first} {last}",
                     "Customer Email": email, "Plan": "Monthly", "Quantity": 1, "Currency": "usd",
                     "Interval": "month", "Amount": "29.00", "Status": status,
                     "Created (UTC)": f"{_day(rng, -300, -60):%Y-%m-%d} 08:00",
                     "Start Date (UTC)": f"{_day(rng, -300, -60):%Y-%m-%d} 08:00",
                     "Current Period End (UTC)": f"{period_end:%Y-%m-%d} 08:00", "Canceled At (UTC)": canceled})
        for _ in range(rng.randint(1, 4)):
            refunded = "29.00" if rng.random() < 0.15 else "0.00"
            payments.append({"id": f"ch_{len(payments):05d}", "Seller Message": "Payment complete.",
                             "Created (UTC)": f"{_day(rng, -200, -1):%Y-%m-%d} 08:00", "Amount": "29.00",
                             "Amount Refunded": refunded, "Currency": "usd",
                             "Status": rng.choice(["Paid", "Paid", "Paid", "Failed"]), "Customer ID": f"cus_{user}",
                             "Customer Email": email, "Captured": "true"})
    return _csv(headers, subs), _csv(pay_headers, payments)


def wild_apricot(rng: random.Random) -> tuple[bytes, bytes]:
    headers = ["User ID", "First name", "Last name", "Organization", "Email", "Phone", "Membership enabled",
               "Membership level", "Membership status", "Member since", "Renewal due", "Renewal date last changed",
               "Level last changed", "Balance", "Total donated", "Archived"]
    contacts: list[Row] = []
    orders: list[Row] = []
    for user, first, last, email in _people(rng, 12):
        status = rng.choice(["Active", "Active", "Lapsed", "Pending - Renewal", "Pending - New", ""])
        row: Row = {"User ID": user, "First name": first, "Last name": last, "Email": email,
                    "Organization": rng.choice(["", f"{last} & Co"]), "Archived": "no"}
        if status:
            since = _day(rng, -900, -30)
            row.update({"Membership enabled": "yes", "Membership level": rng.choice(["Individual", "Business"]),
                        "Membership status": status, "Member since": f"{since:%Y-%m-%d}",
                        "Renewal due": f"{since + dt.timedelta(days=365 * rng.randint(1, 3)):%Y-%m-%d}"})
        contacts.append(row)
        for _ in range(rng.randint(0, 2)):
            orders.append({"Customer ID": user, "Order Date": f"{_day(rng, -300, -1):%Y-%m-%d}",
                           "Total": rng.choice(["40.00", "120.00"])})
    return _csv(headers, contacts), _csv(["Customer ID", "Order Date", "Total"], orders)


def sap_de(rng: random.Random) -> tuple[bytes, bytes]:
    members: list[Row] = []
    customers = [("1001", "Müller Maschinenbau GmbH"), ("1002", "Tanaka Seiki KK"), ("1003", "Rossi S.p.A."),
                 ("1004", "Nordlicht AG")]
    for number, (customer, name) in enumerate(customers):
        created = _day(rng, -500, -20)
        members.append({"Cust ID": customer, "Customer Name": name, "Created Date": f"{created:%d.%m.%Y}",
                        "Expiration Date": f"{created + dt.timedelta(days=365):%d.%m.%Y}",
                        "Contact Email": f"einkauf{number}@example.de", "Membership": "Enrolled"})
    orders: list[Row] = []
    for number in range(16):
        customer, name = rng.choice(customers)
        currency = "JPY" if customer == "1002" else rng.choice(["EUR", "EUR", "USD"])
        if currency == "JPY":
            value = f"{rng.choice([120_000, 45_000, 1_000]):,}".replace(",", ".")
        else:
            value = f"{rng.uniform(50, 5000):,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
            if rng.random() < 0.1:
                value += "-"   # ABAP lists put the minus sign at the end
        orders.append({"Verkaufsbeleg": f"{12000 + number:010d}", "Auftraggeber": customer, "Name 1": name,
                       "Belegdatum": f"{_day(rng, -300, -1):%d.%m.%Y}", "Nettowert": value,
                       "Belegwährung": currency})
    member_headers = ["Cust ID", "Customer Name", "Created Date", "Expiration Date", "Contact Email", "Membership"]
    return (_csv(member_headers, members, delimiter=";"),
            _csv(["Verkaufsbeleg", "Auftraggeber", "Name 1", "Belegdatum", "Nettowert", "Belegwährung"], orders,
                 delimiter="\t"))


PLATFORMS: dict[str, Callable[[random.Random], tuple[bytes, bytes]]] = {
    "woocommerce": woocommerce, "memberpress": memberpress, "pmpro": pmpro, "shopify": shopify,
    "stripe": stripe, "wild_apricot": wild_apricot, "sap_va05_de": sap_de,
}


def write_all(out: Path) -> list[Path]:
    written = []
    for name, build in PLATFORMS.items():
        memberships, orders = build(random.Random(f"{SEED}-{name}"))  # noqa: S311 - sample data, not secrets
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, data in (("memberships.csv", memberships), ("orders.csv", orders)):
            (folder / file_name).write_bytes(data)
            written.append(folder / file_name)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "examples" / "platforms")
    args = parser.parse_args()
    for path in write_all(args.out):
        print(path)


if __name__ == "__main__":
    main()
