"""How each file's own values decide its date order, decimal separator and currency: the evidence, the
rules' default when the values can't decide, and contradictions."""

from __future__ import annotations

import pytest

from memberseg.errors import InputError
from platform_files import member, run, write

# --- Locale: evidence, defaults and contradictions ------------------------------------------------

def test_contradicting_dates_in_one_column_are_an_error_naming_both(tmp_path):
    from builders import MEMBERSHIP_HEADERS
    members = write(tmp_path / "m.csv", MEMBERSHIP_HEADERS, [
        ["1", "A", "13/01/2026", "13/01/2027", "", ""],
        ["2", "B", "01/14/2026", "01/14/2027", "", ""],
    ])
    orders = write(tmp_path / "o.csv", ["Cust ID", "Total"], [])
    with pytest.raises(InputError) as caught:
        run(tmp_path, members, orders)
    error = caught.value
    assert error.code == "contradictory_values" and error.file == "m.csv"
    assert "'Created Date'" in error.message and "13/01/2026" in error.message and "01/14/2026" in error.message


def test_undecided_dates_use_the_rules_default_and_say_so(tmp_path):
    from builders import MEMBERSHIP_HEADERS
    members = write(tmp_path / "m.csv", MEMBERSHIP_HEADERS, [["1", "A", "05/01/2026", "05/01/2027", "", ""]])
    orders = write(tmp_path / "o.csv", ["Cust ID", "Total"], [["1", "1.000"]])
    result, report = run(tmp_path, members, orders)
    m_in, o_in = report["inputs"]["memberships"], report["inputs"]["orders"]
    assert (m_in["date_order"], m_in["date_order_decided_by"]) == ("MDY", "rules default")
    assert "inputs.date_order_default" in m_in["date_order_evidence"][0]
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
