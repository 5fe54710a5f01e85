"""The orders side of the profile language (issue 16 §2): `row_type` with `row_types` (payment, refund,
chargeback, not_money) beside a status column, and `amount_unit: minor`.

Each platform fixture under tests/fixtures/exports/<platform>_orders/ is laid out like the real export
(headers and value formats from the sources in its SOURCE.md); its user profile is written below as a rules
file, as a user would write it. The expected totals are worked out by hand in the comments, row by row.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memberseg.errors import InputError
from memberseg.orders import orders_by_id, validate_orders
from memberseg.read import read_table
from memberseg.rules import parse_rules
from memberseg.rules.currencies import CURRENCY_EXPONENTS, ZERO_DECIMAL_CURRENCIES, exponent_of
from platform_files import member, run, write

EXPORTS = Path(__file__).resolve().parents[2] / "fixtures" / "exports"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "rules.md"
AS_OF = dt.date(2026, 11, 15)

BRAINTREE_RULES = """\
profiles:
  braintree_transactions:
    title: Braintree transaction search download (CSV)
    plain_name: Braintree transactions export
    platform: Braintree
    export: Braintree Control Panel > Transactions > search > Download
    source: >-
      the download's column names as read by public importers of it; Transaction Type and Transaction Status
      values from Braintree's transaction statuses reference (developer.paypal.com/braintree/articles)
    unconfirmed:
      - whether Amount Submitted For Settlement is filled on a declined sale (Amount Authorized always is)
    orders:
      signature: [Transaction Type, Transaction Status, Amount Authorized, Amount Submitted For Settlement]
      names: person
      fields:
        customer_id: {aliases: [Customer ID]}
        email: {aliases: [Customer Email]}
        first_name: {aliases: [Customer First Name]}
        last_name: {aliases: [Customer Last Name]}
        order_value: {required: true, aliases: [Amount Authorized]}
        currency: {aliases: [Currency ISO Code]}
        order_date: {aliases: [Created Datetime]}
        status: {aliases: [Transaction Status]}
        row_type: {aliases: [Transaction Type]}
      row_types:
        sale: payment
        credit: refund                # a refund, its amount positive
      statuses:
        settled: paid
        settling: paid
        settlement_pending: paid
        submitted_for_settlement: paid
        authorized: unpaid            # held on the card, never captured
        authorizing: unpaid
        authorization_expired: unpaid
        voided: unpaid
        processor_declined: unpaid
        gateway_rejected: unpaid
        settlement_declined: unpaid
        failed: unpaid
"""

RECURLY_RULES = """\
profiles:
  recurly_transactions:
    title: Recurly transactions export (CSV)
    platform: Recurly
    export: Recurly > Exports > Transactions
    source: Recurly docs, "Transactions - export" (docs.recurly.com/docs/transaction-export)
    unconfirmed:
      - the sign of a refund's amount (the page calls a refund "a negative charge"); both signs are read
    orders:
      signature: [account_code, transaction_id, tax_amount, cvv_result]
      names: person
      fields:
        customer_id: {aliases: [account_code]}
        customer_name: {aliases: [name]}
        order_value: {required: true, aliases: [amount]}
        currency: {aliases: [currency]}
        order_date: {aliases: [date]}
        status: {aliases: [status]}
        row_type: {aliases: [type]}
      row_types:
        purchase: payment
        refund: refund
        authorization: not_money      # a $1 or $0 check that the card works
        verify: not_money
      statuses:
        success: paid
        declined: unpaid
        void: unpaid
        processing: unpaid            # not settled yet (direct debit)
"""

STRIPE_BALANCE_RULES = """\
orders:
  base_currency: USD
  currency_rates: {JPY: 0.01}         # a test's rate: one yen is one cent
profiles:
  stripe_balance_transactions:
    title: Stripe balance transactions (Sigma or API export, amounts in minor units)
    platform: Stripe
    export: Stripe Sigma > balance_transactions joined with charges for the customer > Download CSV
    source: >-
      Stripe API reference, the Balance Transaction object (amount in the currency's smallest unit, type,
      status available or pending, reporting_category); Sigma's balance_transactions table has the same columns
    unconfirmed:
      - dispute_reversal (a dispute won) is not listed, so it is rejected; it adds back what a chargeback took, which no class says
    orders:
      signature: [reporting_category, available_on, source_id, fee, net]
      names: person
      amount_unit: minor
      fields:
        customer_id: {aliases: [customer_id]}
        email: {aliases: [customer_email]}
        order_value: {required: true, aliases: [amount]}
        currency: {aliases: [currency]}
        order_date: {aliases: [created]}
        status: {aliases: [status]}
        row_type: {aliases: [reporting_category]}   # type "adjustment" is a dispute or its reversal: too vague
      row_types:
        charge: payment
        refund: refund
        dispute: chargeback
        payout: not_money
        fee: not_money
      statuses:
        available: paid
        pending: paid                 # charged, not yet paid out
      ignore: [type]                  # reporting_category says the same, more precisely (see row_type above)
"""


def _run(tmp_path: Path, platform: str, rules_text: str):
    folder = EXPORTS / platform
    return run(tmp_path, folder / "memberships.csv", folder / "orders.csv", parse_rules(rules_text), as_of=AS_OF)


def _totals(result) -> dict[str, tuple[float, int]]:
    members = result.members
    return {cid: (round(float(total), 2), int(count)) for cid, total, count
            in zip(members["customer_id"], members["total_order_value"], members["order_count"], strict=True)}


def test_the_docs_show_the_braintree_profile():
    assert BRAINTREE_RULES in DOCS.read_text(encoding="utf-8")


def test_braintree_sale_and_credit_rows_with_their_statuses(tmp_path):
    result, report = _run(tmp_path, "braintree_orders", BRAINTREE_RULES)
    assert report["inputs"]["orders"]["profile"]["name"] == "braintree_transactions"
    assert _totals(result) == {
        "8800123": (100.00, 1),   # sale 120.00 settled, credit 20.00 settled: 120 - 20
        "8800124": (120.00, 2),   # sale 60.00 settled, 60.00 processor_declined (no), 60.00 settled
        "8800125": (0.00, 1),     # sale 45.00 settled, credit 45.00 settled; a voided sale (no)
        "8800126": (250.00, 1),   # 250.00 authorized only (no), 250.00 settling; its credit failed (no)
        "8800127": (0.00, 1),     # sale 80.00; a credit of 100.00 for a sale before the file: never below 0
    }
    orders = report["orders"]
    assert (orders["rows_in"], orders["matched"], orders["rejected"], orders["excluded"]) == (13, 9, 0, 4)
    assert orders["row_types"]["rows_by_class"] == {"payment": 9, "refund": 4}
    assert orders["row_types"]["subtracted_rows"] == 3
    assert orders["row_types"]["join_keys_refunded_beyond_paid"] == 1
    assert "never goes below 0" in orders["row_types"]["floor"]
    reasons = set(result.orders_excluded["reason"])
    assert "order status 'processor_declined' is not paid" in reasons
    assert "Transaction Type 'credit' with status 'failed' did not go through: nothing is subtracted" in reasons
    assert member(result, customer_id="8800123")["last_order_date"] == pd_date("2026-03-02")  # a refund is no order


def pd_date(text: str):
    import pandas as pd

    return pd.Timestamp(text)


def test_recurly_purchases_refunds_of_either_sign_and_authorizations(tmp_path):
    result, report = _run(tmp_path, "recurly_orders", RECURLY_RULES)
    assert _totals(result) == {
        "acct-1001": (0.00, 1),     # purchase 99.00, refund -99.00 (negative): 99 - 99
        "acct-1002": (49.95, 1),    # a 1.00 authorization (no money), 49.95 success, 49.95 declined (no)
        "acct-1003": (150.00, 1),   # purchase 200.00, refund 50.00 (positive) success, refund 25.00 declined (no)
        "acct-1004": (0.00, 0),     # purchase processing (no), 0.00 authorization declined (no money), void (no)
        "acct-1005": (150.00, 2),   # 75.00 + 75.00
    }
    orders = report["orders"]
    assert (orders["rows_in"], orders["matched"], orders["rejected"], orders["excluded"]) == (13, 7, 0, 6)
    assert orders["row_types"]["rows_by_class"] == {"not_money": 2, "payment": 8, "refund": 3}
    assert "type 'authorization' moves no money" in set(result.orders_excluded["reason"])


def test_stripe_balance_transactions_in_minor_units(tmp_path):
    result, report = _run(tmp_path, "stripe_balance_orders", STRIPE_BALANCE_RULES)
    assert _totals(result) == {
        "cus_A1hana": (20.00, 1),   # charge 3000 jpy (exponent 0: 3000 yen = 30.00 USD), refund -1000 jpy (10.00)
        "cus_B2omar": (25.00, 2),   # 2500 + 2500 usd cents (pending is charged), a -2500 dispute: 25 + 25 - 25
        "cus_C3lena": (0.00, 1),    # 9900 cents charged, -9900 refunded
        "cus_D4tom": (19.99, 1),    # 1999 cents
    }
    orders = report["orders"]
    assert (orders["rows_in"], orders["matched"], orders["rejected"], orders["excluded"]) == (10, 8, 0, 2)
    assert orders["amount_unit"]["divided_by_10_to_the"] == {"JPY": 0, "USD": 2}
    assert orders["row_types"]["rows_by_class"] == {"chargeback": 1, "not_money": 2, "payment": 5, "refund": 2}
    excluded = set(result.orders_excluded["reason"])
    assert excluded == {"reporting_category 'payout' moves no money", "reporting_category 'fee' moves no money"}


# --- validation of the language ---

def _orders_profile(**orders) -> str:
    import yaml

    spec = {"signature": ["Kind", "State", "Customer Ref"], "names": "person",
            "fields": {"customer_id": {"aliases": ["Customer Ref"]}, "order_value": {"required": True, "aliases": ["Amount"]},
                       "currency": {"aliases": ["Currency"]}, "status": {"aliases": ["State"]},
                       "row_type": {"aliases": ["Kind"]}},
            "statuses": {"ok": "paid", "failed": "unpaid"},
            "row_types": {"sale": "payment", "refund": "refund", "auth": "not_money"}}
    spec.update(orders)
    for key, value in list(spec.items()):
        if value is None:
            del spec[key]
    profile = {"title": "T", "platform": "P", "export": "E", "source": "S", "orders": spec}
    return yaml.safe_dump({"profiles": {"kinds": profile}})


def test_row_types_without_a_row_type_field_is_refused():
    fields = {"customer_id": {"aliases": ["Customer Ref"]}, "order_value": {"required": True, "aliases": ["Amount"]}}
    with pytest.raises(InputError, match="row_types: no row_type field reads them"):
        parse_rules(_orders_profile(fields=fields, statuses=None))


def test_a_row_type_field_without_row_types_is_refused():
    with pytest.raises(InputError, match="orders.row_types"):   # a new profile must say what the values mean
        parse_rules(_orders_profile(row_types=None))
    with pytest.raises(InputError, match="fields.row_type: its values need their meanings under row_types"):
        parse_rules("inputs: {orders: {fields: {row_type: {aliases: [Type]}}}}")


def test_a_row_type_class_must_be_known_and_amount_unit_major_or_minor():
    with pytest.raises(InputError, match="'void' is not a row-type class"):
        parse_rules(_orders_profile(row_types={"sale": "payment", "void": "void"}))
    with pytest.raises(InputError, match="amount_unit"):
        parse_rules(_orders_profile(amount_unit="cents"))
    with pytest.raises(InputError, match="describe order rows"):
        parse_rules("profiles: {standard: {memberships: {amount_unit: minor}}}")
    assert parse_rules(_orders_profile(amount_unit="minor")).catalog["kinds"].orders.amount_unit == "minor"


HEADERS = ["Customer Ref", "Kind", "State", "Amount", "Currency"]


def _per_key(tmp_path: Path, rows: list[dict], rules_text: str, name: str = "orders.csv") -> dict[str, float]:
    rules = parse_rules(rules_text)
    path = write(tmp_path / name, HEADERS, rows)
    validated = validate_orders(read_table(path, "csv", role="orders", rules=rules), rules)
    per_id = orders_by_id(validated.valid)
    return {str(key): float(total) for key, total in per_id["total"].items()}


def _validated(tmp_path: Path, rows: list[dict], rules_text: str):
    rules = parse_rules(rules_text)
    path = write(tmp_path / "orders.csv", HEADERS, rows)
    return validate_orders(read_table(path, "csv", role="orders", rules=rules), rules)


def test_an_unknown_row_type_is_rejected_naming_it(tmp_path):
    validated = _validated(tmp_path, [{"Customer Ref": "c1", "Kind": "payout", "State": "ok", "Amount": "5.00"}],
                           _orders_profile())
    assert validated.rejected["reason"].tolist() == [
        "Kind 'payout' is not a row type the profile knows (add it under profiles.kinds.orders.row_types)"]


def test_a_minor_unit_amount_with_decimals_is_rejected_never_divided(tmp_path):
    validated = _validated(tmp_path, [{"Customer Ref": "c1", "Kind": "sale", "State": "ok", "Amount": "99.00"},
                                      {"Customer Ref": "c2", "Kind": "sale", "State": "ok", "Amount": "9900"}],
                           _orders_profile(amount_unit="minor"))
    assert validated.rejected["reason"].tolist() == [
        "order value '99.00' has a decimal point or comma, but the profile reads amounts in minor units "
        "(amount_unit: minor)"]
    assert validated.valid["value"].tolist() == [99.0]


def test_a_minor_unit_row_without_a_currency_takes_the_base_currencys_exponent(tmp_path):
    rows = [{"Customer Ref": "c1", "Kind": "sale", "State": "ok", "Amount": "1000"}]
    jpy = "orders: {base_currency: JPY}\n" + _orders_profile(amount_unit="minor")
    assert _per_key(tmp_path, rows, jpy, "jpy.csv") == {"c1": 1000.0}                          # JPY: exponent 0
    assert _per_key(tmp_path, rows, _orders_profile(amount_unit="minor"), "none.csv") == {"c1": 10.0}  # default 2


def test_a_refund_sharing_a_line_item_orders_id_keeps_its_own_amount_and_is_no_order(tmp_path):
    fields = {"customer_id": {"aliases": ["Customer Ref"]}, "order_value": {"required": True, "aliases": ["Amount"]},
              "status": {"aliases": ["State"]}, "row_type": {"aliases": ["Kind"]}, "order_id": {"aliases": ["Order"]}}
    rules = _orders_profile(fields=fields, line_items=True, signature=["Kind", "State", "Order"])
    headers = ["Order", "Customer Ref", "Kind", "State", "Amount"]
    path = write(tmp_path / "orders.csv", headers, [
        {"Order": "#1", "Customer Ref": "c1", "Kind": "sale", "State": "ok", "Amount": "100.00"},
        {"Order": "#1"},                                                  # the order's second line item
        {"Order": "#1", "Customer Ref": "c1", "Kind": "refund", "State": "ok", "Amount": "30.00"},
        {"Order": "#1", "Customer Ref": "c1", "Kind": "refund", "State": "ok", "Amount": "-20.00"},
    ])
    parsed = parse_rules(rules)
    validated = validate_orders(read_table(path, "csv", role="orders", rules=parsed), parsed)
    per_id = orders_by_id(validated.valid)
    assert (float(per_id.loc["c1", "total"]), int(per_id.loc["c1", "order_count"])) == (50.0, 1)   # 100 - 30 - 20
    assert validated.facts["orders_in"] == 1


def test_the_currency_exponents_are_iso_4217_data_and_the_zero_decimal_set_comes_from_them():
    assert (exponent_of("JPY"), exponent_of("KWD"), exponent_of("USD"), exponent_of(None)) == (0, 3, 2, 2)
    assert ZERO_DECIMAL_CURRENCIES == {code for code, exponent in CURRENCY_EXPONENTS.items() if exponent == 0}
    assert {"JPY", "KRW", "CLP", "VND", "ISK"} <= ZERO_DECIMAL_CURRENCIES
    assert {"BHD", "KWD", "OMR", "JOD", "TND", "LYD", "IQD"} == {c for c, e in CURRENCY_EXPONENTS.items() if e == 3}


# --- properties ---

CUSTOMERS = st.sampled_from(["c1", "c2", "c3"])
CENTS = st.integers(min_value=0, max_value=5_000_000)


def _money(cents: int, exponent: int = 2, sign: str = "") -> str:
    if exponent == 0:
        return f"{sign}{cents}"
    return f"{sign}{cents // 10 ** exponent}.{cents % 10 ** exponent:0{exponent}d}"


@st.composite
def order_rows(draw, min_size: int = 0) -> list[dict]:
    rows = []
    for _ in range(draw(st.integers(min_value=min_size, max_value=8))):
        kind = draw(st.sampled_from(["sale", "refund", "auth"]))
        sign = draw(st.sampled_from(["", "-"])) if kind == "refund" else ""
        rows.append({"Customer Ref": draw(CUSTOMERS), "Kind": kind, "State": draw(st.sampled_from(["ok", "failed"])),
                     "Amount": _money(draw(CENTS), sign=sign), "Currency": "USD"})
    return rows


PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(rows=order_rows(), customer=CUSTOMERS, cents=CENTS, sign=st.sampled_from(["", "-"]))
def test_a_paid_refund_row_never_increases_any_total(tmp_path, rows, customer, cents, sign):
    before = _per_key(tmp_path, rows, _orders_profile(), "before.csv")
    refund = {"Customer Ref": customer, "Kind": "refund", "State": "ok", "Amount": _money(cents, sign=sign),
              "Currency": "USD"}
    after = _per_key(tmp_path, [*rows, refund], _orders_profile(), "after.csv")
    assert set(before) <= set(after)
    assert all(total <= before.get(key, 0.0) + 1e-9 for key, total in after.items())


@PROPERTY
@given(rows=order_rows(), customer=CUSTOMERS, amount=st.sampled_from(["1.00", "0.00", "", "n/a", "-5"]),
       state=st.sampled_from(["ok", "failed", "declined"]))
def test_a_not_money_row_never_changes_any_total(tmp_path, rows, customer, amount, state):
    before = _per_key(tmp_path, rows, _orders_profile(), "before.csv")
    auth = {"Customer Ref": customer, "Kind": "auth", "State": state, "Amount": amount, "Currency": "USD"}
    assert _per_key(tmp_path, [auth, *rows], _orders_profile(), "after.csv") == before


@PROPERTY
@given(rows=order_rows())
def test_a_total_is_never_below_0(tmp_path, rows):
    assert all(total >= 0 for total in _per_key(tmp_path, rows, _orders_profile()).values())


RATES = "orders: {base_currency: USD, currency_rates: {JPY: 0.5, KWD: 3.0}}\n"


@PROPERTY
@given(rows=st.lists(st.tuples(CUSTOMERS, st.sampled_from(["sale", "refund"]), CENTS,
                               st.sampled_from(["USD", "JPY", "KWD"])), max_size=8))
def test_minor_units_read_the_same_as_major_units(tmp_path, rows):
    minor = [{"Customer Ref": c, "Kind": k, "State": "ok", "Amount": str(cents), "Currency": code}
             for c, k, cents, code in rows]
    major = [{**row, "Amount": _money(cents, CURRENCY_EXPONENTS.get(code, 2))}
             for row, (_, _, cents, code) in zip(minor, rows, strict=True)]
    assert (_per_key(tmp_path, minor, RATES + _orders_profile(amount_unit="minor"), "minor.csv")
            == _per_key(tmp_path, major, RATES + _orders_profile(), "major.csv"))
