"""POST /jobs carries the user's own file names: each presigned POST sets the name as user
metadata (x-amz-meta-original-name, percent-encoded) and its policy pins that exact value."""

from __future__ import annotations

import base64
import json

import api_core as core
import api_service as service
import api_storage
import pytest
from api_support import JOB_ID, fake_deps, settings
from memberseg.job_protocol import ORIGINAL_NAME_FIELD, decode_original_name

NAMES = {"files": {"memberships": {"name": "Mitglieder März 2026.xlsx"}, "orders": {"name": "garbage.csv"}}}


class _Jobs:
    def create(self, *args, **kwargs):
        return True


def _policy(post: dict) -> dict:
    return json.loads(base64.b64decode(post["fields"]["policy"]))


def test_the_signed_policy_pins_the_exact_percent_encoded_name():
    deps = service.Deps(objects=api_storage.S3Objects(), jobs=_Jobs(), new_id=lambda: JOB_ID)
    out = service.create_job(settings(), deps, NAMES)
    expected = {"memberships": "Mitglieder%20M%C3%A4rz%202026.xlsx", "orders": "garbage.csv"}
    for role, value in expected.items():
        post = out["uploads"][role]
        assert post["fields"][ORIGINAL_NAME_FIELD] == value and value.isascii()
        conditions = _policy(post)["conditions"]
        assert {ORIGINAL_NAME_FIELD: value} in conditions                        # exact, not starts-with
        assert not any(isinstance(c, list) and str(c[1]).lower() == "$" + ORIGINAL_NAME_FIELD for c in conditions)
        assert decode_original_name(value) == out["uploads"][role]["name"]
    assert out["uploads"]["memberships"]["name"] == "Mitglieder März 2026.xlsx"
    assert out["uploads"]["memberships"]["key"] == f"uploads/{JOB_ID}/memberships.xlsx"   # the key stays fixed


def test_only_extensions_means_no_name_metadata_and_the_keys_name():
    deps = fake_deps(new_id=lambda: JOB_ID)
    out = service.create_job(settings(), deps, {"memberships": "xlsx", "orders": "csv"})
    for post in deps.objects.posts:
        assert ORIGINAL_NAME_FIELD not in post["fields"]
        assert not any(isinstance(c, dict) and ORIGINAL_NAME_FIELD in c for c in post["conditions"])
    assert out["uploads"]["orders"]["name"] == "orders.csv"


@pytest.mark.parametrize("raw, cleaned", [
    ("../../etc/evil.xlsx", "evil.xlsx"), ("\u202egpj.xlsx", "gpj.xlsx"), ("C:\\fakepath\\Q4.xlsx", "Q4.xlsx"),
    ("x" * 10_000 + ".xlsx", "x" * 195 + ".xlsx"),
])
def test_a_hostile_name_is_cleaned_before_it_is_signed(raw, cleaned):
    body = {"files": {"memberships": {"name": raw}, "orders": {"name": "o.xlsx"}}}
    assert core.original_names(body) == {"memberships": cleaned, "orders": "o.xlsx"}
    plan, _ = core.plan_uploads(settings(), JOB_ID, core.parse_create_request(body), core.original_names(body))
    assert plan.conditions(settings())[1] == {ORIGINAL_NAME_FIELD: core.encode_original_name(cleaned)}
    assert plan.name == cleaned


@pytest.mark.parametrize("body", [
    {"memberships": "xlsx", "orders": "xlsx"},
    {"files": {"memberships": {"extension": "xlsx"}, "orders": {"name": 5}}},
    {"files": {"memberships": {"name": "..."}, "orders": {"name": "\u200b"}}},
    {"files": "memberships.xlsx"}, [],
])
def test_no_usable_name_leaves_the_role_out(body):
    assert core.original_names(body) == {}
