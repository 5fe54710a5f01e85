"""The export vocabulary: its file validates, it refuses conflicts, and it holds every packaged profile's
header aliases and status words (so inference knows at least what the profiles know)."""

from __future__ import annotations

import copy

import pytest
import yaml
from pydantic import ValidationError

from memberseg.rules.model import normalize_header
from memberseg.rules.profiles import packaged_profiles
from memberseg.rules.vocabulary import (
    Vocabulary,
    ambiguities,
    ambiguous_values,
    header_fields,
    interval_length,
    load_vocabulary,
    value_class,
)

CURRENT_LIKE = {"comp", "gift"}    # new classes that classify like current


def _data() -> dict:
    return copy.deepcopy(load_vocabulary().model_dump(exclude_defaults=True))


def test_packaged_vocabulary_loads_and_cites_many_sources():
    vocabulary = load_vocabulary()
    assert len({source.platform for source in vocabulary.sources}) >= 20
    assert header_fields("memberships")[normalize_header("E-Mail")] == "email"
    assert header_fields("orders")[normalize_header("amount refunded")] == "refunded_value"


def test_value_class_folds_case_and_spaces():
    assert value_class("membership_status", "  ACTIVE ") == "current"
    assert value_class("order_status", "Succeeded") == "paid"
    assert value_class("row_type", "Refund") == "refund"
    assert value_class("order_status", "no such word") is None


def test_interval_words_have_lengths():
    month = interval_length("Monthly")
    assert month is not None and month.months == 1
    assert interval_length("fortnightish") is None


def test_a_header_under_two_fields_of_one_role_is_refused_naming_both():
    data = _data()
    data["headers"]["orders"]["order_id"] = ["Order #", "TOTAL"]
    with pytest.raises(ValidationError, match=r"'total' is under order_value and 'TOTAL' under order_id"):
        Vocabulary.model_validate(data)


def test_the_same_header_in_two_roles_is_fine():
    data = _data()
    assert "Status" in data["headers"]["memberships"]["status"]
    assert "Status" in data["headers"]["orders"]["status"]
    Vocabulary.model_validate(data)


def test_a_value_word_with_two_classes_is_refused():
    data = _data()
    data["values"]["order_status"]["PAID"] = "unpaid"
    with pytest.raises(ValidationError, match="'paid' is paid but 'PAID' is unpaid"):
        Vocabulary.model_validate(data)


def test_unknown_field_and_class_are_refused():
    data = _data()
    data["headers"]["memberships"]["shoe_size"] = ["Shoe Size"]
    with pytest.raises(ValidationError, match="unknown field"):
        Vocabulary.model_validate(data)
    data = _data()
    data["values"]["row_type"]["capture"] = "money"
    with pytest.raises(ValidationError, match="not a class"):
        Vocabulary.model_validate(data)


def test_the_language_fields_and_classes_are_accepted_in_their_role_only():
    data = _data()
    assert "Transaction Type" in data["headers"]["orders"]["row_type"]
    assert "billing_period" in data["headers"]["memberships"]["plan_interval"]
    data["values"]["membership_status"]["gift membership"] = "gift"
    Vocabulary.model_validate(data)
    data["headers"]["memberships"]["row_type"] = ["Transaction Type"]
    with pytest.raises(ValidationError, match="unknown field"):
        Vocabulary.model_validate(data)
    data = _data()
    data["headers"]["orders"]["plan_interval"] = ["billing_period"]
    with pytest.raises(ValidationError, match="unknown field"):
        Vocabulary.model_validate(data)


def test_an_ambiguity_must_be_listed_under_one_of_its_meanings():
    data = _data()
    data["ambiguous"].append({"role": "orders", "header": "Nowhere", "means": ["order_id", "customer_id"],
                              "note": "x"})
    with pytest.raises(ValidationError, match="must be listed under headers.orders"):
        Vocabulary.model_validate(data)
    assert "name" in ambiguities("orders")
    assert ambiguous_values("order_status")["confirmed"] == ["unpaid", "paid"]


def test_a_blank_value_word_is_refused():
    data = _data()
    data["values"]["membership_status"][""] = "not_member"
    with pytest.raises(ValidationError, match="blank"):
        Vocabulary.model_validate(data)


def _profile_entries():
    for name, profile in packaged_profiles().items():
        for role in ("memberships", "orders"):
            spec = profile.get(role) or {}
            for field, field_spec in (spec.get("fields") or {}).items():
                for alias in field_spec["aliases"]:
                    yield name, role, field, alias


@pytest.mark.parametrize("role", ["memberships", "orders"])
def test_every_packaged_profile_alias_is_in_the_vocabulary(role):
    known = header_fields(role)
    ambiguous = ambiguities(role)
    missing = []
    for name, entry_role, field, alias in _profile_entries():
        if entry_role != role:
            continue
        key = normalize_header(alias)
        if known.get(key) != field and field not in ambiguous.get(key, []):
            missing.append(f"{name}: {field} <- {alias!r} (vocabulary: {known.get(key)})")
    assert not missing, "profile aliases missing from vocabulary.yaml:\n" + "\n".join(missing)


@pytest.mark.parametrize("role,kind", [("memberships", "membership_status"), ("orders", "order_status")])
def test_every_packaged_profile_status_word_is_in_the_vocabulary(role, kind):
    vocabulary = load_vocabulary()
    ambiguous = {entry.value.strip().casefold(): entry.means for entry in vocabulary.ambiguous
                 if entry.value is not None and entry.kind == kind}
    missing = []
    for name, profile in packaged_profiles().items():
        for word, klass in ((profile.get(role) or {}).get("statuses") or {}).items():
            if not word.strip():
                continue    # a blank status means different things per export: profiles say, the vocabulary doesn't
            found = value_class(kind, word)
            same = found == klass or (klass == "current" and found in CURRENT_LIKE)
            if not same and klass not in ambiguous.get(word.strip().casefold(), []):
                missing.append(f"{name}: {word!r} -> {klass} (vocabulary: {found})")
    assert not missing, "profile status words missing from vocabulary.yaml:\n" + "\n".join(missing)


def test_vocabulary_yaml_is_plain_yaml_the_model_accepts():
    from importlib import resources
    text = resources.files("memberseg").joinpath("rules/vocabulary.yaml").read_text(encoding="utf-8")
    Vocabulary.model_validate(yaml.safe_load(text))
