"""Status classification, row order and the default segments."""

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest

from builders import d, membership, order, rules_with, run_rows

AS_OF = dt.date(2026, 11, 15)


def days_from_as_of(days: int) -> dt.datetime:
    return dt.datetime.combine(AS_OF + dt.timedelta(days=days), dt.time())


@pytest.mark.parametrize("days, status", [(-1, "Expired"), (0, "Expiring Soon"), (30, "Expiring Soon"),
                                          (31, "Active")])
def test_status_boundaries(tmp_path, days, status):
    result = run_rows(tmp_path, [membership(1, "Acme", d("2020-01-01"), days_from_as_of(days))])
    row = result.members.iloc[0]
    assert (row["membership_status"], row["days_until_expiration"]) == (status, days)


def test_expiring_soon_days_is_a_setting(tmp_path):
    rules = rules_with({"status": {"expiring_soon_days": 60}})
    result = run_rows(tmp_path, [membership(1, "Acme", d("2020-01-01"), days_from_as_of(45))], rules=rules)
    assert result.members.iloc[0]["membership_status"] == "Expiring Soon"


@pytest.fixture
def default_rules_file(tmp_path, monkeypatch):
    """A copy of default_rules.yaml that the loader reads in place of the packaged one."""
    from memberseg.rules import load

    copy = tmp_path / "defaults" / load.DEFAULT_RULES_NAME
    copy.parent.mkdir()
    copy.write_text((Path(load.__file__).parents[1] / load.DEFAULT_RULES_NAME).read_text(encoding="utf-8"))
    monkeypatch.setattr(load, "resources", SimpleNamespace(files=lambda package: copy.parent))
    load.default_rules_data.cache_clear()
    load._default_rules.cache_clear()
    yield copy
    load.default_rules_data.cache_clear()
    load._default_rules.cache_clear()


def test_expiring_soon_days_is_set_only_in_the_default_rules_file(tmp_path, default_rules_file):
    from memberseg.rules import load_rules, parse_rules

    rows = [membership(1, "Acme", d("2020-01-01"), days_from_as_of(40))]
    assert run_rows(tmp_path, rows, rules=load_rules()).members.iloc[0]["membership_status"] == "Active"
    text = default_rules_file.read_text(encoding="utf-8")
    assert "  expiring_soon_days: 30\n" in text
    default_rules_file.write_text(text.replace("  expiring_soon_days: 30\n", "  expiring_soon_days: 45\n"))
    from memberseg.rules import load

    load.default_rules_data.cache_clear()
    load._default_rules.cache_clear()
    for rules in (load_rules(), parse_rules("orders: {savings_rate: 0.1}")):
        assert rules.status.expiring_soon_days == 45
        result = run_rows(tmp_path, rows, rules=rules)
        assert result.members.iloc[0]["membership_status"] == "Expiring Soon"


def test_row_order_is_status_then_expiration_then_name(tmp_path):
    result = run_rows(tmp_path, [
        membership(1, "Zed Active", d("2020-01-01"), days_from_as_of(100)),
        membership(2, "beta soon", d("2020-01-01"), days_from_as_of(10)),
        membership(3, "Alpha soon", d("2020-01-01"), days_from_as_of(10)),
        membership(4, "Old expired", d("2020-01-01"), days_from_as_of(-50)),
        membership(5, "Recent expired", d("2020-01-01"), days_from_as_of(-5)),
        membership(6, "Earlier soon", d("2020-01-01"), days_from_as_of(2)),
    ])
    assert result.members["customer_id"].tolist() == ["4", "5", "6", "3", "2", "1"]


def flags(result, cust_id):
    row = result.members.set_index("customer_id").loc[cust_id]
    return {seg.property for seg in result.rules.segments if row[seg.property]}


def test_status_segments_and_high_value_at_risk(tmp_path):
    result = run_rows(tmp_path, [
        membership(1, "Active", d("2020-01-01"), days_from_as_of(200)),
        membership(2, "Soon rich", d("2020-01-01"), days_from_as_of(5)),
        membership(3, "Expired poor", d("2020-01-01"), days_from_as_of(-5)),
        membership(4, "Expired exactly 1000", d("2020-01-01"), days_from_as_of(-5)),
    ], [order(2, 1000.01), order(3, 10), order(4, 1000)])
    assert flags(result, "1") == {"active_membership"}
    assert flags(result, "2") == {"expiring_soon", "high_value_customer", "high_value_at_risk"}
    assert flags(result, "3") == {"expired_membership", "low_value_at_risk"}
    assert flags(result, "4") == {"expired_membership", "low_value_at_risk"}  # > 1000 is high value, 1000 is not


@pytest.mark.parametrize("start_days_ago, recent", [(0, True), (30, True), (31, False), (-1, False)])
def test_recently_renewed_needs_a_renewal_and_a_recent_start(tmp_path, start_days_ago, recent):
    start = days_from_as_of(-start_days_ago)
    result = run_rows(tmp_path, [
        membership(1, "Acme", d("2024-01-01"), start),
        membership(1, "Acme", start, start + dt.timedelta(days=365)),
    ])
    assert ("recently_renewed" in flags(result, "1")) is recent
    assert "new_member" not in flags(result, "1")


def test_new_member_needs_no_renewal_and_no_lapse(tmp_path):
    start = days_from_as_of(-10)
    result = run_rows(tmp_path, [
        membership(1, "New", start, start + dt.timedelta(days=365)),
        membership(2, "Came back", d("2020-01-01"), d("2021-01-01")),
        membership(2, "Came back", start, start + dt.timedelta(days=365)),
    ])
    assert "new_member" in flags(result, "1")
    assert flags(result, "2") == {"active_membership"}   # lapsed before: neither new nor renewed


def test_start_date_column_is_used_and_falls_back_to_created(tmp_path):
    headers = ["Cust ID", "Customer Name", "Created Date", "Expiration Date", "Start Date"]
    result = run_rows(tmp_path, [
        [1, "Explicit start", d("2025-01-01"), days_from_as_of(300), days_from_as_of(-5)],
        [2, "Blank start", days_from_as_of(-3), days_from_as_of(300), None],
        [3, "Bad start", d("2025-01-01"), days_from_as_of(300), "whenever"],
    ], membership_headers=headers)
    assert "new_member" in flags(result, "1")
    assert "new_member" in flags(result, "2")
    assert "new_member" not in flags(result, "3")


def test_not_enrolled_matches_casefolded_text(tmp_path):
    result = run_rows(tmp_path, [
        membership(1, "A", d("2020-01-01"), days_from_as_of(100), enrollment="NOT ENROLLED - paused"),
        membership(2, "B", d("2020-01-01"), days_from_as_of(100), enrollment="Enrolled"),
        membership(3, "C", d("2020-01-01"), days_from_as_of(100), enrollment=None),
    ])
    assert "not_enrolled" in flags(result, "1")
    assert "not_enrolled" not in flags(result, "2") | flags(result, "3")


def test_custom_segment_from_rules(tmp_path):
    from memberseg.rules import load_rules

    base = load_rules().model_dump(mode="json")
    base["segments"].append({"property": "platinum_or_gold", "label": "Platinum or Gold",
                             "any": [{"field": "order_value_tier", "op": "eq", "value": "Platinum"},
                                     {"field": "order_value_tier", "op": "eq", "value": "gold"}]})
    rules = rules_with({"segments": base["segments"]})
    result = run_rows(tmp_path, [membership(1, "A", d("2020-01-01"), days_from_as_of(100)),
                                 membership(2, "B", d("2020-01-01"), days_from_as_of(100))],
                      [order(1, 6000), order(2, 10)], rules=rules)
    assert "platinum_or_gold" in flags(result, "1")
    assert "platinum_or_gold" not in flags(result, "2")
