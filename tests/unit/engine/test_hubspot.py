"""HubSpot identity, left-out customers, CSV cell formatting and file splitting."""

import csv
import io

import pandas as pd

from builders import d, membership, order, rules_with, run_rows
from memberseg.hubspot import money_text, neutralize, render_files, split_csv


def rows_of(result):
    (data,) = render_files(result.hubspot.contacts, result.rules).values()
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_one_row_per_valid_unique_email_in_members_order(tmp_path):
    result = run_rows(tmp_path, [
        membership(1, "First", d("2020-01-01"), d("2026-01-01"), "shared@x.com"),   # expired: earlier in order
        membership(2, "Second", d("2020-01-01"), d("2027-06-01"), "SHARED@x.com"),
        membership(3, "No email", d("2020-01-01"), d("2027-06-01"), None),
        membership(4, "Bad email", d("2020-01-01"), d("2027-06-01"), "nope"),
        membership(5, "Fine", d("2020-01-01"), d("2027-07-01"), "fine@x.com"),
    ])
    assert [row["cust_id"] for row in rows_of(result)] == ["1", "5"]
    left = result.hubspot.left_out.set_index("customer_id")["reason"]
    assert "already belongs to customer 1" in left["2"]
    assert "no valid email" in left["3"] and "no valid email" in left["4"]
    assert result.hubspot.rows == 2


def test_identity_columns(tmp_path):
    result = run_rows(tmp_path, [
        membership("00777", "Acme, Inc.", d("2024-01-01"), d("2025-01-01"), "old@acme.com"),
        membership(777, "Acme Renamed", d("2025-01-01"), d("2027-01-01"), None),
    ])
    (row,) = rows_of(result)
    assert (row["email"], row["company"], row["cust_id"]) == ("old@acme.com", "Acme Renamed", "777")


def test_cell_formatting(tmp_path):
    result = run_rows(tmp_path, [
        membership("00777", "=HYPERLINK(\"x\")", d("2024-01-01"), d("2026-11-10"), "a@x.com"),
    ], [order("777", "(125.00)"), order(777, 0.004)])
    (row,) = rows_of(result)
    assert row["cust_id"] == "00777"
    assert row["company"] == "'=HYPERLINK(\"x\")"
    assert row["membership_status"] == "Expired"
    assert row["membership_start_date"] == "2024-01-01"
    assert row["membership_expiration_date"] == "2026-11-10"
    assert "days_until_expiration" not in row            # stale in HubSpot a day after the import
    assert row["total_order_value"] == "-125.00"          # numbers are never prefixed
    assert row["estimated_savings"] == "-10.00"
    assert row["order_value_tier"] == "No Orders"
    assert row["expiring_soon"] == "false" and row["expired_membership"] == "true"


def test_neutralize_prefixes_only_formula_starts():
    values = pd.Series(["=1+1", "+1", "-x", "@SUM(A1)", "\tTab", "\rCR", "plain", "a=b", None], dtype=object)
    assert neutralize(values).tolist() == ["'=1+1", "'+1", "'-x", "'@SUM(A1)", "'\tTab", "'\rCR", "plain",
                                           "a=b", ""]


def test_money_text_has_two_decimals_and_no_negative_zero():
    assert money_text(pd.Series([1234.5, 0.0, -0.0, -125.0, 1e7])).tolist() == [
        "1234.50", "0.00", "0.00", "-125.00", "10000000.00"]


def test_split_by_rows_and_bytes():
    frame = pd.DataFrame({"email": [f"user{i:03d}@example.com" for i in range(10)], "flag": ["true"] * 10})
    by_rows = split_csv(frame, max_rows=4, max_bytes=10**9)
    assert [part.count(b"\n") - 1 for part in by_rows] == [4, 4, 2]
    assert all(part.startswith(b"email,flag\n") for part in by_rows)
    by_bytes = split_csv(frame, max_rows=100, max_bytes=80)
    assert all(len(part) <= 80 for part in by_bytes)
    assert sum(part.count(b"\n") - 1 for part in by_bytes) == 10


def test_split_files_are_numbered(tmp_path):
    rules = rules_with({"hubspot": {"max_rows_per_file": 2}})
    rows = [membership(i, f"C{i}", d("2024-01-01"), d("2027-01-01"), f"c{i}@x.com") for i in range(5)]
    result = run_rows(tmp_path, rows, rules=rules)
    assert list(render_files(result.hubspot.contacts, rules)) == ["hubspot_contacts_1.csv", "hubspot_contacts_2.csv",
                                          "hubspot_contacts_3.csv"]
