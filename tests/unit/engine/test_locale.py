"""How each file's own values decide its date order, decimal separator and currency: the evidence, the
rules' default when the values can't decide, and contradictions."""

from __future__ import annotations

import pytest

from memberseg.errors import InputError
from platform_files import member, run, write

# --- Locale: evidence, defaults and contradictions ------------------------------------------------

def _rejected(result) -> dict[str, str]:
    rejected = result.member_validation.rejected
    return dict(zip(rejected["customer_id"], rejected["reason"], strict=True))


def test_each_date_column_decides_its_own_order(tmp_path):
    from builders import MEMBERSHIP_HEADERS
    members = write(tmp_path / "m.csv", MEMBERSHIP_HEADERS, [
        ["1", "A", "31/01/2024", "04/30/2025", "", ""],
        ["2", "B", "05/01/2024", "05/01/2025", "", ""],
    ])
    orders = write(tmp_path / "o.csv", ["Cust ID", "Total"], [])
    result, report = run(tmp_path, members, orders)
    a, b = member(result, customer_id="1"), member(result, customer_id="2")
    assert (str(a["created"].date()), str(a["expiration"].date())) == ("2024-01-31", "2025-04-30")
    assert (str(b["created"].date()), str(b["expiration"].date())) == ("2024-01-05", "2025-05-01")
    m_in = report["inputs"]["memberships"]
    assert (m_in["date_order"], m_in["date_order_decided_by"]) == ("mixed", "values")
    assert m_in["date_orders"] == {
        "Created Date": {"order": "DMY", "decided_by": "values", "evidence": ["'31/01/2024' can only be read as DMY"]},
        "Expiration Date": {"order": "MDY", "decided_by": "values",
                            "evidence": ["'04/30/2025' can only be read as MDY"]}}
    assert any("'Created Date'" in line for line in m_in["date_order_evidence"])
    assert any("'Expiration Date'" in line for line in m_in["date_order_evidence"])
    assert report["memberships"]["rejected"] == 0


def test_an_undecided_column_follows_the_other_columns_when_they_agree(tmp_path):
    from builders import MEMBERSHIP_HEADERS
    members = write(tmp_path / "m.csv", MEMBERSHIP_HEADERS, [["1", "A", "31/01/2024", "05/01/2025", "", ""]])
    orders = write(tmp_path / "o.csv", ["Cust ID", "Total"], [])
    result, report = run(tmp_path, members, orders)
    assert str(member(result, customer_id="1")["expiration"].date()) == "2025-01-05"
    m_in = report["inputs"]["memberships"]
    assert (m_in["date_order"], m_in["date_order_decided_by"]) == ("DMY", "values")
    assert m_in["date_order_evidence"] == ["'31/01/2024' in column 'Created Date' can only be read as DMY"]
    expiration = m_in["date_orders"]["Expiration Date"]
    assert (expiration["order"], expiration["decided_by"]) == ("DMY", "other columns")
    assert "'Created Date'" in expiration["evidence"][0]


def test_an_undecided_column_takes_the_default_when_the_other_columns_disagree(tmp_path):
    headers = ["Cust ID", "Customer Name", "Created Date", "Expiration Date", "Start Date"]
    members = write(tmp_path / "m.csv", headers, [["1", "A", "31/01/2024", "04/30/2025", "03/02/2024"]])
    orders = write(tmp_path / "o.csv", ["Cust ID", "Total"], [])
    result, report = run(tmp_path, members, orders)
    assert str(member(result, customer_id="1")["start"].date()) == "2024-03-02"    # MDY: the rules default
    start = report["inputs"]["memberships"]["date_orders"]["Start Date"]
    assert (start["order"], start["decided_by"]) == ("MDY", "rules default")
    assert "disagree" in start["evidence"][0]


def test_a_column_using_both_orders_reads_each_clear_value_and_rejects_the_ambiguous_ones(tmp_path):
    # Until per-column orders this refused the whole file; now only the rows that read two ways are rejected.
    from builders import MEMBERSHIP_HEADERS
    members = write(tmp_path / "m.csv", MEMBERSHIP_HEADERS, [
        ["1", "A", "13/01/2026", "2027-01-13", "", ""],
        ["2", "B", "01/14/2026", "2027-01-14", "", ""],
        ["3", "C", "05/01/2026", "2027-01-05", "", ""],
        ["4", "D", "07/07/2026", "2027-07-07", "", ""],    # the same date either way: nothing to guess
    ])
    orders = write(tmp_path / "o.csv", ["Cust ID", "Total"], [])
    result, report = run(tmp_path, members, orders)
    assert str(member(result, customer_id="1")["created"].date()) == "2026-01-13"
    assert str(member(result, customer_id="2")["created"].date()) == "2026-01-14"
    assert str(member(result, customer_id="4")["created"].date()) == "2026-07-07"
    assert _rejected(result) == {
        "3": "Created Date '05/01/2026' could be 5 January or 1 May: the column uses both orders"}
    m_in = report["inputs"]["memberships"]
    assert m_in["date_order"] == "mixed"
    created = m_in["date_orders"]["Created Date"]
    assert (created["order"], created["decided_by"]) == ("mixed", "values")
    assert "'13/01/2026' can only be read as DMY" in created["evidence"]
    assert "'01/14/2026' can only be read as MDY" in created["evidence"]
    assert report["memberships"]["rejected"] == 1


def test_a_column_using_both_orders_with_no_readable_value_refuses_the_file_naming_both(tmp_path):
    from builders import MEMBERSHIP_HEADERS
    members = write(tmp_path / "m.csv", MEMBERSHIP_HEADERS, [
        ["1", "A", "30/02/2026", "2027-01-13", "", ""],    # day-first, but February has no 30th
        ["2", "B", "02/31/2026", "2027-01-14", "", ""],    # month-first, but February has no 31st
        ["3", "C", "05/01/2026", "2027-01-05", "", ""],    # either order
    ])
    orders = write(tmp_path / "o.csv", ["Cust ID", "Total"], [])
    with pytest.raises(InputError) as caught:
        run(tmp_path, members, orders)
    error = caught.value
    assert error.code == "contradictory_values" and error.file == "m.csv" and error.column == "Created Date"
    assert "'Created Date'" in error.message and "30/02/2026" in error.message and "02/31/2026" in error.message


def test_an_order_date_that_reads_two_ways_in_a_mixed_column_rejects_the_order(tmp_path):
    from builders import MEMBERSHIP_HEADERS
    members = write(tmp_path / "m.csv", MEMBERSHIP_HEADERS, [["1", "A", "2026-01-05", "2027-01-05", "", ""]])
    orders = write(tmp_path / "o.csv", ["Cust ID", "Order Date", "Total"], [
        ["1", "13/02/2026", "10"], ["1", "02/14/2026", "20"], ["1", "03/04/2026", "40"]])
    result, report = run(tmp_path, members, orders)
    assert member(result, customer_id="1")["total_order_value"] == pytest.approx(30.0)
    assert str(member(result, customer_id="1")["last_order_date"].date()) == "2026-02-14"
    assert result.orders_rejected["reason"].tolist() == [
        "Order Date '03/04/2026' could be 3 April or 4 March: the column uses both orders"]
    assert report["inputs"]["orders"]["date_orders"]["Order Date"]["order"] == "mixed"


def test_a_fixed_date_order_reads_every_column_that_way(tmp_path):
    from builders import MEMBERSHIP_HEADERS
    from memberseg.rules import parse_rules
    members = write(tmp_path / "m.csv", MEMBERSHIP_HEADERS, [
        ["1", "A", "12/01/2026", "2027-01-13", "", ""], ["2", "B", "01/14/2026", "2027-01-14", "", ""]])
    orders = write(tmp_path / "o.csv", ["Cust ID", "Total"], [])
    result, report = run(tmp_path, members, orders, parse_rules("inputs: {memberships: {date_order: DMY}}"))
    assert str(member(result, customer_id="1")["created"].date()) == "2026-01-12"
    assert _rejected(result) == {"2": "created date '01/14/2026' is not a date"}
    created = report["inputs"]["memberships"]["date_orders"]["Created Date"]
    assert (created["order"], created["decided_by"]) == ("DMY", "rules setting")


def test_undecided_dates_use_the_rules_default_and_say_so(tmp_path):
    from builders import MEMBERSHIP_HEADERS
    members = write(tmp_path / "m.csv", MEMBERSHIP_HEADERS, [["1", "A", "05/01/2026", "05/01/2027", "", ""]])
    orders = write(tmp_path / "o.csv", ["Cust ID", "Total"], [["1", "1.000"]])
    result, report = run(tmp_path, members, orders)
    m_in, o_in = report["inputs"]["memberships"], report["inputs"]["orders"]
    assert (m_in["date_order"], m_in["date_order_decided_by"]) == ("MDY", "rules default")
    assert "inputs.date_order_default" in m_in["date_order_evidence"][0]
    assert m_in["date_orders"]["Created Date"]["decided_by"] == "rules default"
    assert (o_in["decimal_separator"], o_in["decimal_separator_decided_by"]) == (".", "rules default")


def test_decimal_comma_evidence_makes_1_000_one_thousand(tmp_path):
    from builders import MEMBERSHIP_HEADERS
    members = write(tmp_path / "m.csv", MEMBERSHIP_HEADERS, [["1", "A", "2026-01-05", "2027-01-05", "", ""]])
    orders = write(tmp_path / "o.csv", ["Cust ID", "Total"], [["1", "1.000"], ["1", "12,50"]], delimiter=";")
    result, report = run(tmp_path, members, orders)
    assert report["inputs"]["orders"]["decimal_separator"] == ","
    assert "12,50" in report["inputs"]["orders"]["decimal_separator_evidence"][0]
    assert member(result, customer_id="1")["total_order_value"] == pytest.approx(1012.50)


def test_garbage_amount_text_is_no_currency_and_does_not_choose_the_base(tmp_path):
    import pandas as pd

    from builders import MEMBERSHIP_HEADERS, ORDER_HEADERS
    from memberseg.values import currency_codes_in_text
    codes = currency_codes_in_text(pd.Series(["USD 75", "abc", "1.000 JPY", "(USD 10)", "12,50 EUR", "n/a", 100],
                                             dtype=object))
    assert [None if pd.isna(c) else c for c in codes] == ["USD", None, "JPY", "USD", "EUR", None, None]
    members = write(tmp_path / "m.csv", MEMBERSHIP_HEADERS, [["1", "A", "2024-01-01", "2025-01-10", "", ""]])
    orders = write(tmp_path / "o.csv", ORDER_HEADERS, [["1", "", "2026-01-24", "USD 75"], ["1", "", "", "100"],
                                                       ["1", "", "", "abc"]])
    result, report = run(tmp_path, members, orders)
    o = report["orders"]
    assert (o["matched"], o["rejected"], o["excluded"]) == (2, 1, 0)
    assert o["currency"]["base"] == "USD" and o["currency"]["rows_without_currency_read_as_base"] >= 1
    assert member(result, customer_id="1")["total_order_value"] == pytest.approx(175.0)
