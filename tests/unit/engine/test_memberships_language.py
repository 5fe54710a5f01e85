"""The memberships side of the profile language (issue 16): per-row fallbacks, membership terms derived
from payments, status alone. Each fixture under tests/fixtures/exports/<platform>_members/ is laid out
like the platform's real export (SOURCE.md names the sources) and read with a user profile written in
the rules-file language (profile.yaml there). Every expected number is worked out by hand in the test.

The as-of date is 2026-11-15 (platform_files.AS_OF); Expiring Soon means 0 to 30 days left."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from memberseg.rules import load_rules, parse_rules
from platform_files import SHOPIFY, member, run, write

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "exports"


def orders_file(path: Path, rows: list[dict] | None = None) -> Path:
    return write(path, SHOPIFY, rows or [
        {"Name": "#1", "Email": "nobody@example.com", "Financial Status": "paid", "Currency": "USD", "Total": "5.00",
         "Created at": "2026-05-01 10:00:00 +0200", "Lineitem quantity": 1, "Lineitem name": "Mug",
         "Lineitem price": "5.00"},
    ])


def run_fixture(tmp_path: Path, platform: str, rules=None, orders: list[dict] | None = None):
    folder = FIXTURES / platform
    return run(tmp_path, folder / "memberships.csv", orders_file(tmp_path / "orders.csv", orders),
               rules or load_rules(folder / "profile.yaml"))


# --- Per-row fallbacks: Maxio subscriptions, expires_at else current_period_ends_at ---

def test_maxio_expiration_is_expires_at_else_current_period_ends_at(tmp_path):
    result, report = run_fixture(tmp_path, "maxio_members")
    # 8 rows: Gus (5007) has neither date and is rejected; Ada's 2023 subscription (5008, to 2024-01-10)
    # is renewed by 5001 (activated 2024-01-10), so 6 customers.
    assert report["memberships"] == {"rows_in": 8, "kept": 6, "consolidated": 1, "rejected": 1, "excluded": 0}
    expected = {  # email: (expiration, status); expires_at blank -> current_period_ends_at
        "ada@example.org": ("2027-01-10", "Active"),          # 56 days left
        "ben@example.org": ("2026-12-02", "Expiring Soon"),   # 17 days left
        "cleo@example.org": ("2026-11-30", "Expiring Soon"),  # expires_at wins over current_period_ends_at 12-20
        "dov@example.org": ("2025-03-05", "Inactive"),        # canceled
        "eve@example.org": ("2026-11-01", "Expiring Soon"),   # past_due: at risk whatever the dates
        "fay@example.org": ("2025-07-15", "Inactive"),        # expired, fixed term: expires_at only
    }
    for email, (expiration, status) in expected.items():
        row = member(result, email=email)
        assert (row["expiration"].date().isoformat(), row["membership_status"]) == (expiration, status), email
    assert member(result, email="ada@example.org")["renewal_count"] == 1
    rejected = result.member_validation.rejected
    assert rejected["reason"].tolist() == ["expiration date is missing"]
    assert rejected["customer_id"].tolist() == ["9007"]


def test_maxio_the_members_sheet_shows_the_file_as_it_is(tmp_path):
    result, _ = run_fixture(tmp_path, "maxio_members")
    table = result.memberships
    expires = table.frame[table.headers.index("expires_at")]
    assert expires.eq("").sum() == 6          # the blanks stay blank; only validation reads the fallback
    assert table.column("expiration_date").eq("").sum() == 1   # Gus: no value in either column


def test_a_fallback_value_that_is_no_date_is_rejected_naming_its_column(tmp_path):
    members = write(tmp_path / "m.csv", ["id", "state", "customer_id", "customer_email", "product_handle",
                                         "activated_at", "created_at", "expires_at", "current_period_ends_at"], [
        {"id": 1, "state": "active", "customer_id": 1, "customer_email": "a@example.org", "product_handle": "x",
         "activated_at": "2026-01-01", "expires_at": "", "current_period_ends_at": "soon"},
        {"id": 2, "state": "active", "customer_id": 2, "customer_email": "b@example.org", "product_handle": "x",
         "activated_at": "", "created_at": "2026-02-01", "expires_at": "2027-02-01"},
    ])
    result, report = run(tmp_path, members, orders_file(tmp_path / "o.csv"),
                         load_rules(FIXTURES / "maxio_members" / "profile.yaml"))
    assert report["memberships"]["kept"] == 1 and member(result, customer_id="2")["created"] == pd.Timestamp("2026-02-01")
    assert result.member_validation.rejected["reason"].tolist() == [
        "expiration date 'soon' is not a date (from column 'current_period_ends_at')"]


def test_a_missing_fallback_column_never_refuses_the_file(tmp_path):
    members = write(tmp_path / "m.csv", ["id", "state", "customer_id", "customer_email", "product_handle",
                                         "activated_at", "expires_at", "current_period_ends_at"], [
        {"id": 1, "state": "active", "customer_id": 1, "customer_email": "a@example.org", "product_handle": "x",
         "activated_at": "2026-01-01", "current_period_ends_at": "2027-01-01"},
    ])
    result, report = run(tmp_path, members, orders_file(tmp_path / "o.csv"),
                         load_rules(FIXTURES / "maxio_members" / "profile.yaml"))   # no created_at column
    assert report["memberships"]["kept"] == 1


def test_a_field_whose_own_column_is_absent_is_read_from_its_fallback(tmp_path):
    members = write(tmp_path / "m.csv", ["id", "state", "customer_id", "customer_email", "product_handle",
                                         "activated_at", "current_period_ends_at"], [
        {"id": 1, "state": "active", "customer_id": 1, "customer_email": "a@example.org", "product_handle": "x",
         "activated_at": "2026-01-01", "current_period_ends_at": "2027-01-01"},
    ])
    rules = load_rules(FIXTURES / "maxio_members" / "profile.yaml")
    text = (FIXTURES / "maxio_members" / "profile.yaml").read_text().replace(
        "signature: [state, current_period_ends_at, expires_at, product_handle]",
        "signature: [state, current_period_ends_at, product_handle]")
    result, _ = run(tmp_path, members, orders_file(tmp_path / "o.csv"), parse_rules(text))
    assert member(result, customer_id="1")["expiration"] == pd.Timestamp("2027-01-01")
    assert rules.catalog["maxio_subscriptions"].memberships.fields["expiration_date"].fallbacks == [
        "current_period_ends_at"]


def test_fallbacks_are_validated_like_aliases():
    with pytest.raises(Exception, match="fallback '---' has no letters or digits"):
        parse_rules((FIXTURES / "maxio_members" / "profile.yaml").read_text().replace(
            "fallbacks: [created_at]", "fallbacks: ['---']"))
