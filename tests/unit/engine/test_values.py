"""The value rules: IDs, names, dates, money, rounding and emails."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from memberseg.values import id_key, name_key, round_cents, to_dates, to_money, to_text, valid_email


def series(*values):
    return pd.Series(list(values), dtype=object)


def test_id_text_is_trimmed_and_integral_numbers_become_integer_text():
    assert to_text(series("  A-17 ", 12345.0, 12345, "00123", 12.5)).tolist() == ["A-17", "12345", "12345", "00123", "12.5"]


def test_blank_ids_are_missing():
    assert to_text(series("", "   ", None, np.nan)).isna().all()


def test_id_match_key_casefolds_and_strips_leading_zeros_of_digit_ids():
    keys = id_key(to_text(series("00123", 123.0, "ABC-9", "abc-9", "000", "0A01")))
    assert keys.tolist() == ["123", "123", "abc-9", "abc-9", "0", "0a01"]


def test_name_key_casefolds_deletes_punctuation_and_collapses_whitespace():
    keys = name_key(series("Straße, Inc.", "STRASSE   INC", "O'Brien & Sons", "Acme-Corp"))
    assert keys[0] == keys[1] == "strasse inc"
    assert keys[2] == "obrien sons"   # punctuation deleted, not replaced by a space
    assert keys[3] == "acmecorp"


@pytest.mark.parametrize("raw, expected", [
    (dt.datetime(2024, 5, 1, 17, 30), "2024-05-01"),   # a real Excel date, time dropped
    (dt.date(2024, 5, 1), "2024-05-01"),
    (45413.0, "2024-05-01"),                            # Excel serial number
    (45413.75, "2024-05-01"),                           # serial with a time of day
    ("45413", "2024-05-01"),                            # serial as text
    ("2024-05-01", "2024-05-01"),                       # ISO text
    ("2024-05-01T13:45:00", "2024-05-01"),              # ISO with a time
    ("2024-05-01 13:45", "2024-05-01"),
    ("05/01/2024", "2024-05-01"),                       # month/day/year by default
    ("5/1/2024 08:00", "2024-05-01"),
    ("May 1, 2024", "2024-05-01"),
    ("1-May-2024", "2024-05-01"),
])
def test_accepted_dates(raw, expected):
    assert to_dates(series(raw)).iloc[0] == pd.Timestamp(expected)


@pytest.mark.parametrize("raw", ["", "   ", None, "31/01/2024", "2024-02-30", "soon", "13/13/2024", -5.0])
def test_unparseable_or_blank_dates_are_missing(raw):
    assert pd.isna(to_dates(series(raw)).iloc[0])


def test_day_month_year_order_is_a_setting_with_no_fallback():
    parsed = to_dates(series("05/01/2024", "31/01/2024", "01/31/2024"), "DMY")
    assert parsed[0] == pd.Timestamp("2024-01-05")
    assert parsed[1] == pd.Timestamp("2024-01-31")
    assert pd.isna(parsed[2])


@pytest.mark.parametrize("raw, expected", [
    (1234.5, 1234.5), (7, 7.0), ("1234.50", 1234.5), ("$1,234.50", 1234.5), ("USD 1,234.50", 1234.5),
    ("1,234.50 EUR", 1234.5), ("€99", 99.0), ("(100.00)", -100.0), ("100.00-", -100.0), ("-$5", -5.0),
    ("$-5", -5.0), ("1 234.50", 1234.5), (" 12 ", 12.0), (".5", 0.5),
])
def test_money_text(raw, expected):
    assert to_money(series(raw)).iloc[0] == pytest.approx(expected)


@pytest.mark.parametrize("raw", ["", None, "N/A", "12abc", "1,5", "1,23,4", "--5", "(5-)", "$", np.nan])
def test_unparseable_money_is_missing(raw):
    assert pd.isna(to_money(series(raw)).iloc[0])


def test_decimal_comma_is_a_setting():
    parsed = to_money(series("1.234,56", "€ 12,5", "(3,00)", "1,234.56"), ",")
    assert parsed[:3].tolist() == pytest.approx([1234.56, 12.5, -3.0])
    assert pd.isna(parsed[3])


def test_round_half_up_to_cents_and_never_negative_zero():
    rounded = round_cents([1.005, 2.675, 0.125, -1.005, -0.001, 10.0])
    assert rounded.tolist() == [1.01, 2.68, 0.13, -1.01, 0.0, 10.0]
    assert not np.signbit(rounded[4])


def test_email_validity():
    emails = valid_email(series(" Ann@Example.COM ", "no-at-sign", "a@b", "two@@x.com", "=cmd@x.com",
                                "+a@x.com", "-a@x.com", "@x.com", "a b@x.com", None))
    assert emails[0] == "ann@example.com"
    assert emails[1:].isna().all()
