"""Leave-one-out (issue 16 §3): with its own profile removed, each bundled platform sample must be inferred
right (every customer's total, membership status and segment flags as with the full profile set) or stop
with needs_answers: never different numbers with exit 0. One algorithm, no per-platform code.

Run with -s to see the table for the closing note."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from memberseg.errors import InputError
from memberseg.pipeline import run_pipeline
from memberseg.proposal import NEEDS_ANSWERS, run_inferring
from memberseg.result import Result
from memberseg.rules import STANDARD_PROFILE, parse_rules
from memberseg.rules.profiles import leaving_out

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
AS_OF = dt.date(2026, 11, 15)
SAMPLES = {"demo": (EXAMPLES / "memberships.xlsx", EXAMPLES / "orders.xlsx"),
           **{folder.name: (folder / "memberships.csv", folder / "orders.csv")
              for folder in sorted((EXAMPLES / "platforms").iterdir()) if folder.is_dir()}}

# Left out, these samples are read by ANOTHER packaged profile whose signature also fits (no inference
# happens). That is the dangerous path of issue 16 §4 (an unread meaningful column must stop the run),
# which this check does not cover; the set is pinned so that closing the path shows here.
READ_BY_ANOTHER_PROFILE = {
    ("pmpro", "pmpro_members"): "members_sheet",
    ("sap_va05_de", STANDARD_PROFILE): "members_sheet",
    ("stripe", "stripe_payments"): STANDARD_PROFILE,
}


@dataclass
class Outcome:
    sample: str
    left_out: str
    what: str            # "inferred right", "asked", "read by <profile>: same" / "... different", "wrong"
    questions: int = 0


def _per_customer(result: Result, segments: list[str]) -> pd.DataFrame:
    members = result.members.set_index("customer_key")
    return members[["total_order_value", "membership_status", *segments]].sort_index()


def _profiles(result: Result) -> tuple[str, str]:
    memberships = result.memberships.profile.name if result.memberships.profile else STANDARD_PROFILE
    return memberships, result.orders.profile


def _leave_out(sample: str, full: Result, profile: str) -> Outcome:
    memberships, orders = SAMPLES[sample]
    segments = [segment.property for segment in full.rules.segments]
    with leaving_out([profile]):
        rules = parse_rules("")
        try:
            result = run_inferring(memberships, orders, rules, AS_OF, parallel=False)
        except InputError as error:
            assert error.code == NEEDS_ANSWERS, f"{sample} without {profile}: {error.code}: {error.message}"
            return Outcome(sample, profile, "asked", len(error.details["questions"]))
    common = [name for name in segments if name in result.members.columns]
    same = _per_customer(full, common).equals(_per_customer(result, common))
    roles = [at for at, name in enumerate(_profiles(full)) if name == profile]   # the files it read
    read_by = [_profiles(result)[at] for at in roles]
    if any(name.startswith("inferred_") for name in read_by):
        return Outcome(sample, profile, "inferred right" if same else "wrong")
    other = read_by[0]
    return Outcome(sample, profile, f"read by {other}: {'same' if same else 'different'}")


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    found = []
    for sample, (memberships, orders) in SAMPLES.items():
        full = run_pipeline(memberships, orders, parse_rules(""), AS_OF, parallel=False)
        for profile in sorted(set(_profiles(full))):
            found.append(_leave_out(sample, full, profile))
    print("\nleave-one-out: sample, profile left out, outcome, questions")
    for outcome in found:
        print(f"  {outcome.sample:<13} {outcome.left_out:<30} {outcome.what:<28} {outcome.questions}")
    return found


def test_every_sample_is_inferred_right_or_asked_never_wrong(outcomes):
    wrong = [(o.sample, o.left_out) for o in outcomes if o.what == "wrong"]
    assert not wrong, f"inferred with different numbers and exit 0: {wrong}"
    for outcome in outcomes:
        if outcome.what.startswith("read by"):
            assert READ_BY_ANOTHER_PROFILE.get((outcome.sample, outcome.left_out)) in outcome.what, outcome
        else:
            assert outcome.what in ("inferred right", "asked"), outcome
            assert (outcome.what == "asked") == (outcome.questions > 0), outcome


def test_every_packaged_profile_a_sample_uses_is_left_out_once(outcomes):
    left_out = {(o.sample, o.left_out) for o in outcomes}
    assert set(READ_BY_ANOTHER_PROFILE) <= left_out
    assert {profile for _, profile in left_out} >= {"standard", "members_sheet", "stripe_payments",
                                                    "stripe_subscriptions", "shopify_orders", "pmpro_members",
                                                    "pmpro_orders", "memberpress_transactions",
                                                    "woocommerce_memberships", "woocommerce_analytics_orders",
                                                    "wild_apricot_contacts", "sap_va05_de"}


def test_some_samples_are_inferred_without_a_question(outcomes):
    assert [o for o in outcomes if o.what == "inferred right"]
