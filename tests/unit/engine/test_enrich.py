"""Orders: matching, totals, rounding, tiers, savings, last order date, orders without membership."""

import pandas as pd
import pytest

from builders import ORDER_HEADERS, d, membership, order, rules_with, run_rows


def member(result, cust_id):
    return result.members.set_index("customer_id").loc[cust_id]


BASE = [membership(1, "Acme", d("2024-01-01"), d("2027-01-01"))]


def test_orders_sum_across_every_id_of_the_customers_records(tmp_path):
    rules = rules_with({"consolidation": {"dedupe_key": "customer_name"}})
    result = run_rows(tmp_path, [
        membership("001", "Acme", d("2023-01-01"), d("2024-01-01")),
        membership("A-2", "ACME", d("2024-01-01"), d("2027-01-01")),
    ], [order(1, 100.0), order("a-2", "50.25"), order("0001", 10), order(3, 999)], rules=rules)
    acme = result.members.iloc[0]
    assert acme["total_order_value"] == pytest.approx(160.25)
    assert acme["order_count"] == 3
    assert result.order_match.matched_rows == 3
    assert result.order_match.unmatched_rows == 1


def test_total_is_rounded_half_up_and_savings_use_the_rounded_total(tmp_path):
    result = run_rows(tmp_path, BASE, [order(1, 0.004), order(1, 0.001), order(1, 1000)])
    acme = member(result, "1")
    assert acme["total_order_value"] == 1000.01          # 1000.005 rounds half up
    assert acme["estimated_savings"] == 80.0              # round(1000.01 * 0.08, 2) = 80.0008 -> 80.00


def test_savings_rate_is_a_setting_and_savings_may_be_negative(tmp_path):
    rules = rules_with({"orders": {"savings_rate": 0.1}})
    result = run_rows(tmp_path, BASE, [order(1, 100), order(1, "(350.00)")], rules=rules)
    acme = member(result, "1")
    assert acme["total_order_value"] == -250.0
    assert acme["estimated_savings"] == -25.0
    assert acme["order_value_tier"] == "No Orders"


@pytest.mark.parametrize("total, tier", [
    (10000, "Platinum"), (9999.99, "Gold"), (5000, "Gold"), (4999.995, "Gold"), (1000, "Silver"),
    (999.99, "Bronze"), (0.01, "Bronze"), (0.004, "No Orders"), (0, "No Orders"),
])
def test_tier_thresholds_are_inclusive_and_compare_the_rounded_total(tmp_path, total, tier):
    result = run_rows(tmp_path, BASE, [order(1, total)])
    assert member(result, "1")["order_value_tier"] == tier


def test_customer_without_orders_has_no_orders_tier(tmp_path):
    result = run_rows(tmp_path, BASE, [order(2, 50)])
    acme = member(result, "1")
    assert (acme["total_order_value"], acme["order_count"], acme["order_value_tier"]) == (0.0, 0, "No Orders")
    assert pd.isna(acme["last_order_date"])


def test_last_order_date_ignores_unparseable_dates_without_rejecting_the_order(tmp_path):
    result = run_rows(tmp_path, BASE, [order(1, 10, d("2025-03-01")), order(1, 10, "not a date"),
                                       order(1, 10, "2025-02-01")])
    acme = member(result, "1")
    assert acme["last_order_date"] == pd.Timestamp("2025-03-01")
    assert acme["order_count"] == 3
    assert result.orders_rejected.empty


def test_last_order_date_is_blank_without_an_order_date_column(tmp_path):
    result = run_rows(tmp_path, BASE, [[1, 10.0]], order_headers=["Customer ID", "Amount"])
    assert pd.isna(member(result, "1")["last_order_date"])
    assert member(result, "1")["total_order_value"] == 10.0


def test_orders_without_id_or_with_unparseable_or_blank_value_are_rejected(tmp_path):
    result = run_rows(tmp_path, BASE, [order(None, 10), order(1, "N/A"), order(1, None), order(1, 5)])
    rejected = result.orders_rejected.set_index("row")["reason"]
    assert "no customer ID" in rejected[2]
    assert "'N/A' is not a number" in rejected[3]
    assert "blank" in rejected[4]
    assert len(rejected) == 3
    assert member(result, "1")["order_count"] == 1


def test_orders_matching_only_rejected_memberships_are_unmatched(tmp_path):
    result = run_rows(tmp_path, BASE + [membership(9, "Broken", d("2024-01-01"), None)], [order(9, 40)])
    assert result.order_match.unmatched_rows == 1
    assert result.order_match.unmatched_total == 40.0


def test_orders_without_membership_group_by_match_key_with_first_seen_id_text(tmp_path):
    result = run_rows(tmp_path, BASE, [order("00042", 10.005, name=None), order(42, 20, name="Zed Co"),
                                       order("X-1", 5, name="Ex")])
    table = result.order_match.unmatched.set_index("customer_id")
    assert list(table.index) == ["00042", "X-1"]           # sorted by total, largest first
    assert table.loc["00042", "order_count"] == 2
    assert table.loc["00042", "total"] == 30.01
    assert table.loc["00042", "customer_name"] == "Zed Co"
    assert result.order_match.unmatched_total == 35.01


def test_custom_tiers(tmp_path):
    rules = rules_with({"orders": {"tiers": [{"label": "Big", "min": 100}, {"label": "Small", "min": 0,
                                                                             "inclusive": False}]}})
    result = run_rows(tmp_path, BASE, [order(1, 100)], rules=rules)
    assert member(result, "1")["order_value_tier"] == "Big"


def test_order_headers_are_matched_by_alias(tmp_path):
    result = run_rows(tmp_path, BASE, [[1, 12.5]], order_headers=["SAP ID", "Total Value"])
    assert member(result, "1")["total_order_value"] == 12.5
    assert ORDER_HEADERS  # the default headers are used elsewhere
