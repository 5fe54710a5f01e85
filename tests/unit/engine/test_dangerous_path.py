"""Issue 16 §4: the alias-only overlays today's messages led to ran with exit 0 and wrong numbers (a refund
added to the total, declined rows counted as paid, cents read as dollars, EUR added to USD). A column that
looks meaningful and that no field reads now stops the run (unread_column), unless the profile lists it
under `ignore`; a read amount column whose header says cents stops it too (amount_unit_unstated)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from builders import MEMBERSHIP_HEADERS, d, membership, write_csv, write_xlsx
from memberseg.cli import main
from memberseg.errors import InputError
from memberseg.pipeline import run_pipeline
from memberseg.rules import load_rules

AS_OF = "2026-11-15"

# A billing tool's payments export, laid out like the real ones: one row per charge, refund or card check.
PAYMENT_HEADERS = ["id", "Customer", "Created", "Type", "Status", "Amount", "Currency"]
PAYMENTS = [
    ["tx_1", 1001, "2026-03-01", "charge", "succeeded", "499.00", "USD"],
    ["tx_2", 1001, "2026-03-05", "refund", "succeeded", "499.00", "USD"],
    ["tx_3", 1002, "2026-04-01", "charge", "declined", "99.00", "USD"],
    ["tx_4", 1002, "2026-04-01", "authorization", "succeeded", "0.00", "USD"],
    ["tx_5", 1002, "2026-04-02", "void", "succeeded", "99.00", "USD"],
    ["tx_6", 1003, "2026-05-01", "charge", "succeeded", "99.00", "EUR"],
]
# What the refusals used to advise: only aliases, so the file is "read".
ALIAS_ONLY = {"inputs": {"orders": {"fields": {"customer_id": {"aliases": ["Customer"]},
                                               "order_date": {"aliases": ["Created"]}}}}}


def _members(folder: Path) -> Path:
    return write_xlsx(folder / "memberships.xlsx", MEMBERSHIP_HEADERS, [
        membership(1001, "Acme Inc", d("2026-01-10"), d("2027-01-10"), "acme@x.com"),
        membership(1002, "Beta Co", d("2026-01-01"), d("2027-01-01"), "beta@x.com"),
        membership(1003, "Gamma AG", d("2026-01-01"), d("2027-01-01"), "gamma@x.com"),
    ])


def _rules(folder: Path, changes: dict) -> Path:
    path = folder / "rules.yaml"
    path.write_text(yaml.safe_dump(changes), encoding="utf-8")
    return path


def _run(tmp_path: Path, headers: list[str], rows: list[list], changes: dict | None = None):
    orders = write_csv(tmp_path / "payments.csv", headers, rows)
    rules_path = _rules(tmp_path, changes) if changes is not None else None
    return run_pipeline(_members(tmp_path), orders, load_rules(rules_path), d("2026-11-15").date(), parallel=False)


def _refusal(tmp_path: Path, headers: list[str], rows: list[list], changes: dict | None = ALIAS_ONLY) -> InputError:
    with pytest.raises(InputError) as raised:
        _run(tmp_path, headers, rows, changes)
    return raised.value


def _without(column: str) -> tuple[list[str], list[list]]:
    at = PAYMENT_HEADERS.index(column)
    return ([h for i, h in enumerate(PAYMENT_HEADERS) if i != at],
            [[v for i, v in enumerate(row) if i != at] for row in PAYMENTS])


def _only(*columns: str) -> tuple[list[str], list[list]]:
    keep = [PAYMENT_HEADERS.index(c) for c in columns]
    return [PAYMENT_HEADERS[i] for i in keep], [[row[i] for i in keep] for row in PAYMENTS]


def test_a_type_column_with_refunds_stops_the_alias_only_run(tmp_path):
    """The refund row was added to the total (998.00 for 499 paid and 499 refunded): now a question."""
    headers, rows = _only("id", "Customer", "Created", "Type", "Amount")
    error = _refusal(tmp_path, headers, rows)
    assert error.code == "unread_column" and error.file == "payments.csv" and error.column == "Type"
    assert ("The orders file 'payments.csv' has a column 'Type' (column D) that memberseg does not read, with the "
            "values charge, refund, authorization, void. If these rows are not all payments, the totals would be "
            "wrong.") in error.message
    assert "profiles.standard.orders.ignore" in error.message and "row_types" in error.message
    assert error.details["columns"][0] == {"header": "Type", "letter": "D", "meaning": "row_type",
                                           "values": ["charge", "refund", "authorization", "void"], "more_values": 0}


def test_a_declined_status_stops_the_run_by_its_header_and_by_its_values(tmp_path):
    headers, rows = _only("id", "Customer", "Created", "Status", "Amount")
    error = _refusal(tmp_path, headers, rows)
    assert (error.code, error.column) == ("unread_column", "Status")
    assert "succeeded, declined" in error.message and "completed payment" in error.message
    # a header the vocabulary does not know: the values (succeeded, declined) decide
    renamed = ["id", "Customer", "Created", "Outcome", "Amount"]
    error = _refusal(tmp_path, renamed, rows)
    assert (error.code, error.column) == ("unread_column", "Outcome")
    assert error.details["columns"][0]["meaning"] == "status"


def test_eur_beside_usd_in_an_unread_currency_column_stops_the_run(tmp_path):
    headers, rows = _only("id", "Customer", "Created", "Amount", "Currency")
    error = _refusal(tmp_path, headers, rows)
    assert (error.code, error.column) == ("unread_column", "Currency")
    assert "USD, EUR" in error.message and "different currencies" in error.message
    error = _refusal(tmp_path, ["id", "Customer", "Created", "Amount", "Curr"], rows)   # known by its values
    assert error.details["columns"][0]["meaning"] == "currency"


def test_amounts_in_cents_stop_the_run_read_or_unread(tmp_path):
    """9900 cents were read as 9,900.00 dollars."""
    headers = ["id", "Customer", "Created", "amount_in_cents"]
    rows = [["tx_1", 1001, "2026-03-01", 9900]]
    aliased = {"inputs": {"orders": {"fields": {**ALIAS_ONLY["inputs"]["orders"]["fields"],
                                                "order_value": {"required": True, "aliases": ["amount_in_cents"]}}}}}
    error = _refusal(tmp_path, headers, rows, aliased)
    assert (error.code, error.column) == ("amount_unit_unstated", "amount_in_cents")
    assert "100 times too large" in error.message and "profiles.standard.orders.amount_unit: minor" in error.message
    # beside a read Amount column, an unread one in cents is a question too
    error = _refusal(tmp_path, ["Customer", "Created", "Amount", "Amount (cents)"],
                     [[1001, "2026-03-01", "99.00", 9900]])
    assert (error.code, error.column) == ("unread_column", "Amount (cents)")
    assert error.details["columns"][0]["meaning"] == "amount_unit"


def test_every_unread_meaningful_column_is_named(tmp_path):
    error = _refusal(tmp_path, PAYMENT_HEADERS, PAYMENTS)
    assert [c["header"] for c in error.details["columns"]] == ["Type", "Status", "Currency"]
    assert "Also unread: 'Status' (column E: succeeded, declined); 'Currency' (column G: USD, EUR)." in error.message


def test_a_listed_ignore_lets_the_run_go_on(tmp_path):
    """The user says the column changes no number: memberseg takes them at their word."""
    headers, rows = _only("id", "Customer", "Created", "Currency", "Amount")
    rows = [row[:3] + ["USD"] + row[4:] for row in rows]
    changes = {**ALIAS_ONLY, "profiles": {"standard": {"orders": {"ignore": ["currency"]}}}}
    result = _run(tmp_path, headers, rows, changes)
    assert result.orders.rows_in == len(PAYMENTS)


def test_one_refund_among_many_rows_is_seen(tmp_path):
    """A column with few distinct values is read in full, not only its sample."""
    headers = ["Customer", "Created", "Amount", "Note"]
    rows = [[1001, "2026-03-01", "10.00", ""] for _ in range(5000)]
    rows[3333][3] = "Refund"
    error = _refusal(tmp_path, headers, rows)
    assert (error.column, error.details["columns"][0]["values"]) == ("Note", ["Refund"])


def test_columns_that_say_nothing_meaningful_are_left_alone(tmp_path):
    """Blank columns (even under a status header), IDs, names, amounts and unknown words do not stop a run."""
    headers = ["Customer", "Created", "Amount", "Status", "Channel", "Quantity", "Order Ref"]
    rows = [[1000 + i, "2026-03-01", f"{i}.00", "", ["web", "phone"][i % 2], i % 3, f"R-{i}"] for i in range(1, 60)]
    result = _run(tmp_path, headers, rows, ALIAS_ONLY)
    assert result.orders.rows_in == 59


def test_an_unread_status_in_the_memberships_file_stops_the_run(tmp_path):
    members = write_xlsx(tmp_path / "memberships.xlsx", MEMBERSHIP_HEADERS + ["State"], [
        membership(1001, "Acme Inc", d("2026-01-10"), d("2027-01-10"), "acme@x.com") + ["active"],
        membership(1002, "Beta Co", d("2026-01-01"), d("2027-01-01"), "beta@x.com") + ["cancelled"],
    ])
    orders = write_csv(tmp_path / "orders.csv", ["Customer ID", "Amount"], [[1001, "10.00"]])
    with pytest.raises(InputError) as raised:
        run_pipeline(members, orders, load_rules(), d("2026-11-15").date(), parallel=False)
    assert (raised.value.code, raised.value.column) == ("unread_column", "State")
    assert "profiles.standard.memberships.ignore" in raised.value.message


def test_the_cli_exits_2_with_unread_column_in_error_json(tmp_path, capsys):
    orders = write_csv(tmp_path / "payments.csv", PAYMENT_HEADERS, PAYMENTS)
    out = tmp_path / "out"
    code = main(["run", "--memberships", str(_members(tmp_path)), "--orders", str(orders), "--out", str(out),
                 "--as-of", AS_OF, "--rules", str(_rules(tmp_path, ALIAS_ONLY))])
    assert code == 2
    error = json.loads((out / "error.json").read_text(encoding="utf-8"))["error"]
    assert (error["code"], error["file"], error["column"]) == ("unread_column", "payments.csv", "Type")
    assert sorted(path.name for path in out.iterdir()) == ["error.json"]
    assert "column 'Type' (column D)" in capsys.readouterr().err


@pytest.mark.parametrize(("header", "minor"), [
    ("amount_in_cents", True), ("Amount (cents)", True), ("AmountInCents", True), ("Betrag in Cent", True),
    ("Unit", True), ("Amount unit", True),
    ("Units", False), ("Percent", False), ("Amount", False), ("Centre", False), ("Discount %", False),
])
def test_a_header_names_a_minor_unit_by_its_words(header, minor):
    from memberseg.unread_columns import names_minor_unit

    assert names_minor_unit(header) is minor


# The research helper's exports laid out like real platforms' (tests/fixtures/exports): each read by the
# standard layout with only aliases added, as the old messages advised. None may run.
EXPORTS = Path(__file__).resolve().parents[2] / "fixtures" / "exports"
ALIAS_ONLY_ORDERS = {
    "braintree": ("Customer Email", "Amount Submitted For Settlement", "Transaction Type"),
    "gumroad": ("Purchase Email", "Sale Price ($)", "Partial Refund ($)"),
    "kofi": ("Email", "Received", "Currency"),
    "paypal": ("From Email Address", "Gross", "Type"),
    "square": ("Customer Name", "Total Collected", "Partial Refunds"),
}
ALIAS_ONLY_MEMBERSHIPS = {
    "patreon": ({"customer_id": "User ID", "customer_name": "Name", "created_date": "Patronage Since Date",
                 "expiration_date": "Access Expiration"}, "unread_column", "Patron Status"),
    "woocommerce_subscriptions": ({"customer_id": "customer_id", "customer_name": "billing_last_name",
                                   "created_date": "start_date", "expiration_date": "end_date"},
                                  "unread_column", "subscription_status"),
    "steady": ({"customer_id": "email", "customer_name": "last_name", "created_date": "subscribed_at"},
               "missing_column", "expiration_date"),
    "substack": ({"customer_id": "email", "customer_name": "email", "expiration_date": "expiry"},
                 "missing_column", "created_date"),
}


@pytest.mark.parametrize("platform", sorted(ALIAS_ONLY_ORDERS))
def test_alias_only_overlays_on_real_payment_exports_stop(platform):
    from memberseg.read import read_table

    customer, amount, column = ALIAS_ONLY_ORDERS[platform]
    rules = load_rules(overlay={"inputs": {"orders": {"fields": {
        "customer_id": {"aliases": [customer]}, "order_value": {"required": True, "aliases": [amount]}}}}})
    with pytest.raises(InputError) as raised:
        read_table(EXPORTS / platform / "orders.csv", "csv", role="orders", rules=rules, keep_only_fields=True)
    assert (raised.value.code, raised.value.column) == ("unread_column", column)


@pytest.mark.parametrize("platform", sorted(ALIAS_ONLY_MEMBERSHIPS))
def test_alias_only_overlays_on_real_member_exports_stop_or_say_what_stands_in(platform):
    from memberseg.header_check import check_headers
    from memberseg.read import read_table

    aliases, code, column = ALIAS_ONLY_MEMBERSHIPS[platform]
    rules = load_rules(overlay={"inputs": {"memberships": {"fields": {
        field: {"required": field in ("customer_id", "customer_name", "created_date", "expiration_date"),
                "aliases": [header]} for field, header in aliases.items()}}}})
    path = EXPORTS / platform / "memberships.csv"
    error = check_headers(path, "csv", "memberships", rules).problem
    if error is None:
        with pytest.raises(InputError) as raised:
            read_table(path, "csv", role="memberships", rules=rules)
        error = raised.value
    assert (error.code, error.column) == (code, column)
    if code == "missing_column":
        assert "What can stand in for it: a term rule" in error.message and "add it to" not in error.message


@pytest.mark.parametrize(("header", "values", "kind"), [
    ("Billing Period", ["month", "year"], "plan_interval"),
    ("Cancel At Period End", ["true", "false"], "renewal_marker"),
])
def test_an_unread_interval_or_renewal_marker_in_the_memberships_file_stops_the_run(tmp_path, header, values, kind):
    """A monthly plan that renews by itself would show as Expiring Soon if nobody reads how it renews."""
    members = write_xlsx(tmp_path / "memberships.xlsx", MEMBERSHIP_HEADERS + [header], [
        membership(1001, "Acme Inc", d("2026-11-01"), d("2026-12-01"), "acme@x.com") + [values[0]],
        membership(1002, "Beta Co", d("2026-01-01"), d("2027-01-01"), "beta@x.com") + [values[1]],
    ])
    orders = write_csv(tmp_path / "orders.csv", ["Customer ID", "Amount"], [[1001, "10.00"]])
    with pytest.raises(InputError) as raised:
        run_pipeline(members, orders, load_rules(), d("2026-11-15").date(), parallel=False)
    assert (raised.value.code, raised.value.column) == ("unread_column", header)
    assert "expiring" in raised.value.message


def test_orders_joined_on_a_column_the_memberships_lack_stop_instead_of_totals_of_0(tmp_path):
    """Orders keyed by customer ID beside a members sheet keyed by email matched nobody: every total 0, exit 0."""
    members = write_csv(tmp_path / "members.csv", ["Email", "Name", "Start Date", "End Date"], [
        ["acme@x.com", "Acme Inc", "2026-01-10", "2027-01-10"],
        ["beta@x.com", "Beta Co", "2026-01-01", "2027-01-01"],
    ])
    orders = write_csv(tmp_path / "orders.csv", ["Customer ID", "Amount"], [[1001, "10.00"], [1002, "20.00"]])
    with pytest.raises(InputError) as raised:
        run_pipeline(members, orders, load_rules(), d("2026-11-15").date(), parallel=False)
    error = raised.value
    assert (error.code, error.file, error.details["join_key"]) == ("join_column_missing", "members.csv", "customer_id")
    assert "'orders.csv'" in error.message and "every total would be 0" in error.message

