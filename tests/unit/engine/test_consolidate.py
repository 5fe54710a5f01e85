"""Consolidation: keys, renewal chains, the kept row and Duplicates Removed."""

import pandas as pd

from builders import d, membership, rules_with, run_rows
from memberseg.consolidate import LAPSED, RENEWAL


def member(result, cust_id):
    rows = result.members[result.members["customer_id"] == cust_id]
    assert len(rows) == 1, f"expected one Members row for {cust_id}"
    return rows.iloc[0]


def reasons(result):
    valid = result.member_validation.valid
    rows = valid.loc[result.duplicates["source"], "row"].tolist()
    return dict(zip(rows, result.duplicates["reason"]))


def test_created_within_grace_days_of_expiration_is_a_renewal(tmp_path):
    result = run_rows(tmp_path, [
        membership(1, "Acme", d("2023-01-01"), d("2024-01-01")),
        membership(1, "Acme", d("2024-01-08"), d("2025-01-08")),   # exactly expiration + 7 days
    ])
    acme = member(result, "1")
    assert (acme["renewal_count"], acme["lapse_count"], acme["records_merged"]) == (1, 0, 2)
    assert acme["member_since"] == pd.Timestamp("2023-01-01")
    assert reasons(result) == {2: RENEWAL}


def test_created_after_grace_days_starts_a_new_chain(tmp_path):
    result = run_rows(tmp_path, [
        membership(1, "Acme", d("2023-01-01"), d("2024-01-01")),
        membership(1, "Acme", d("2024-01-09"), d("2025-01-09")),   # expiration + 8 days: lapsed
    ])
    acme = member(result, "1")
    assert (acme["renewal_count"], acme["lapse_count"], acme["records_merged"]) == (0, 1, 2)
    assert acme["member_since"] == pd.Timestamp("2024-01-09")
    assert acme["first_joined"] == pd.Timestamp("2023-01-01")
    assert reasons(result) == {2: LAPSED}


def test_chain_expiration_is_the_maximum_so_far(tmp_path):
    # The second record ends earlier than the first; the third renews against the first's expiration.
    result = run_rows(tmp_path, [
        membership(1, "Acme", d("2023-01-01"), d("2024-06-01")),
        membership(1, "Acme", d("2023-02-01"), d("2023-03-01")),
        membership(1, "Acme", d("2024-06-05"), d("2025-06-05")),
    ])
    acme = member(result, "1")
    assert (acme["renewal_count"], acme["lapse_count"]) == (2, 0)
    assert acme["row"] == 4


def test_sorting_is_by_created_then_expiration_not_file_order(tmp_path):
    result = run_rows(tmp_path, [
        membership(1, "Acme", d("2025-01-03"), d("2026-01-03")),
        membership(1, "Acme", d("2020-01-01"), d("2021-01-01")),
        membership(1, "Acme", d("2024-01-01"), d("2025-01-01")),
    ])
    acme = member(result, "1")
    assert (acme["renewal_count"], acme["lapse_count"], acme["row"]) == (1, 1, 2)
    assert reasons(result) == {3: LAPSED, 4: RENEWAL}


def test_current_record_ties_go_to_latest_created_then_last_in_file(tmp_path):
    result = run_rows(tmp_path, [
        membership(1, "Acme first", d("2024-01-01"), d("2025-01-01")),
        membership(1, "Acme later created", d("2024-02-01"), d("2025-01-01")),
        membership(1, "Acme same again", d("2024-02-01"), d("2025-01-01")),
    ])
    assert member(result, "1")["customer_name"] == "Acme same again"
    assert member(result, "1")["row"] == 4


def test_latest_expiration_wins_over_latest_created(tmp_path):
    result = run_rows(tmp_path, [
        membership(1, "Long one", d("2024-01-01"), d("2027-01-01")),
        membership(1, "Short later", d("2024-06-01"), d("2025-06-01")),
    ])
    assert member(result, "1")["customer_name"] == "Long one"


def test_ids_match_ignoring_leading_zeros_and_case_and_output_shows_membership_text(tmp_path):
    result = run_rows(tmp_path, [
        membership("00123", "Acme", d("2024-01-01"), d("2025-01-01")),
        membership(123, "Acme", d("2025-01-01"), d("2026-12-01")),
        membership("ab-1", "Beta", d("2024-01-01"), d("2025-01-01")),
        membership("AB-1", "Beta", d("2024-01-01"), d("2025-01-01")),
    ])
    assert len(result.members) == 2
    assert set(result.members["customer_id"]) == {"123", "AB-1"}


def test_rows_without_id_use_the_normalised_name_and_never_merge_with_id_rows(tmp_path):
    result = run_rows(tmp_path, [
        membership(None, "Straße, Inc.", d("2024-01-01"), d("2025-01-01")),
        membership(None, "STRASSE INC", d("2025-01-01"), d("2026-01-01")),
        membership(7, "Straße, Inc.", d("2024-01-01"), d("2025-01-01")),
    ])
    keys = sorted(result.members["customer_key"])
    assert keys == ["id:7", "name:strasse inc"]
    no_id = result.members[result.members["customer_key"] == "name:strasse inc"].iloc[0]
    assert no_id["records_merged"] == 2


def test_dedupe_key_customer_name_merges_different_ids(tmp_path):
    rules = rules_with({"consolidation": {"dedupe_key": "customer_name"}})
    result = run_rows(tmp_path, [
        membership(1, "Acme Corp", d("2024-01-01"), d("2025-01-01")),
        membership(2, "ACME corp.", d("2025-01-02"), d("2026-01-02")),
    ], rules=rules)
    assert len(result.members) == 1
    assert result.members.iloc[0]["renewal_count"] == 1


def test_dedupe_key_email_merges_on_email(tmp_path):
    rules = rules_with({"consolidation": {"dedupe_key": "email"}})
    result = run_rows(tmp_path, [
        membership(1, "Acme", d("2024-01-01"), d("2025-01-01"), "buyer@acme.com"),
        membership(2, "Acme Two", d("2024-03-01"), d("2025-03-01"), "BUYER@acme.com "),
        membership(3, "Other", d("2024-03-01"), d("2025-03-01"), None),
    ], rules=rules)
    assert sorted(result.members["customer_key"]) == ["email:buyer@acme.com", "id:3"]


def test_grace_days_is_a_setting(tmp_path):
    rules = rules_with({"consolidation": {"renewal_grace_days": 0}})
    result = run_rows(tmp_path, [
        membership(1, "Acme", d("2023-01-01"), d("2024-01-01")),
        membership(1, "Acme", d("2024-01-02"), d("2025-01-02")),
    ], rules=rules)
    assert member(result, "1")["lapse_count"] == 1


def test_email_falls_back_to_latest_valid_email_of_other_records(tmp_path):
    result = run_rows(tmp_path, [
        membership(1, "Acme", d("2022-01-01"), d("2023-01-01"), "old@acme.com"),
        membership(1, "Acme", d("2023-01-01"), d("2024-01-01"), "newer@acme.com"),
        membership(1, "Acme", d("2023-01-01"), d("2023-06-01"), "not-an-email"),
        membership(1, "Acme", d("2024-01-01"), d("2025-01-01"), "=bad@acme.com"),
    ])
    assert member(result, "1")["email"] == "newer@acme.com"


def test_current_valid_email_wins(tmp_path):
    result = run_rows(tmp_path, [
        membership(1, "Acme", d("2024-01-01"), d("2025-01-01"), "Current@Acme.com"),
        membership(1, "Acme", d("2024-02-01"), d("2024-03-01"), "later@acme.com"),
    ])
    assert member(result, "1")["email"] == "current@acme.com"
