"""Inference on the researched export fixtures (tests/fixtures/exports/*, issue 16 §3): each platform's file,
paired with a plain counterpart a packaged profile reads, is inferred right (every customer as truth.yaml
says) or asked about; never wrong with exit 0. Run with -s for the table and the median number of questions."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from memberseg.errors import InputError
from memberseg.proposal import NEEDS_ANSWERS, run_inferring
from memberseg.result import Result
from memberseg.rules import parse_rules

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "exports"
FOLDERS = sorted(folder for folder in FIXTURES.iterdir() if (folder / "truth.yaml").exists())
# a membership class of truth.yaml -> the statuses memberseg shows for it (comp and gift classify like current;
# "rejected" and "not member" are not listed)
STATUS_OF_CLASS = {"current": {"Active", "Expiring Soon"}, "renewing": {"Active"},
                   "at_risk": {"Expiring Soon"}, "ended": {"Inactive", "Expired"},
                   "comp": {"Active", "Expiring Soon"}, "gift": {"Active", "Expiring Soon"}}
NOT_LISTED = ("not member", "rejected")
SUGGESTION_ROUNDS = 4      # an answer may open follow-up questions: rounds of taking the suggestions


@dataclass
class Outcome:
    fixture: str
    what: str                # "inferred right", "asked" or "wrong: ..."
    questions: int = 0
    ids: tuple[str, ...] = ()


def _truth(folder: Path) -> dict:
    return yaml.safe_load((folder / "truth.yaml").read_text(encoding="utf-8"))


def _counterpart(folder: Path, truth: dict, tmp: Path) -> tuple[Path, Path]:
    """(memberships, orders): the fixture's own file and a plain file a packaged profile reads."""
    emails = [key for key in truth["customers"] if "@" in key]
    if (folder / "orders.csv").exists():
        members = tmp / f"{folder.name}_members.csv"
        if len(emails) == len(truth["customers"]):    # keyed by email: a members sheet
            rows = [f"{email},2026-01-01,2027-12-31" for email in emails]
            members.write_text("Email,Start Date,End Date\n" + "\n".join(rows) + "\n", encoding="utf-8")
        else:                                         # keyed by an ID: the standard layout
            rows = [f"{key},{key},2026-01-01,2027-12-31" for key in truth["customers"]]
            members.write_text("Cust ID,Customer Name,Created Date,Expiration Date\n" + "\n".join(rows) + "\n",
                               encoding="utf-8")
        return members, folder / "orders.csv"
    orders = tmp / f"{folder.name}_orders.csv"          # a Stripe payments layout, joined on email
    header = "id,Created (UTC),Amount,Amount Refunded,Currency,Converted Amount,Status,Seller Message," \
             "Statement Descriptor,Captured,Customer Email"
    first = emails[0] if emails else "nobody@example.com"
    orders.write_text(f"{header}\nch_1,2026-01-05 10:00,1.00,0.00,usd,,Paid,ok,,true,{first}\n", encoding="utf-8")
    return folder / "memberships.csv", orders


def _check(result: Result, truth: dict, orders_fixture: bool) -> str:
    members = result.members
    for key, expected in truth["customers"].items():
        column = "email" if "@" in key else "customer_id"
        row = members[members[column].astype(str).str.casefold() == key.casefold()] \
            if column in members.columns else members.iloc[0:0]
        if orders_fixture:
            paid = (expected.get("total_paid") or {}).get(truth["base_currency"], 0.0)
            got = float(row["total_order_value"].iloc[0]) if len(row) else None
            if got is None or abs(got - paid) > 0.005:
                return f"wrong: {key} total {got} != {paid}"
        else:
            klass = expected["membership"]
            if klass in NOT_LISTED:
                if len(row):
                    return f"wrong: {key} is listed, but is not a member"
            elif not len(row) or row["membership_status"].iloc[0] not in STATUS_OF_CLASS.get(klass, {klass}):
                return f"wrong: {key} is {list(row['membership_status'])} not {klass}"
    return "inferred right"


def _outcome(folder: Path, tmp: Path) -> Outcome:
    truth = _truth(folder)
    memberships, orders = _counterpart(folder, truth, tmp)
    as_of = dt.date.fromisoformat(str(truth["as_of"]))
    try:
        result = run_inferring(memberships, orders, parse_rules(""), as_of, parallel=False)
    except InputError as error:
        assert error.code == NEEDS_ANSWERS, f"{folder.name}: {error.code}: {error.message}"
        return Outcome(folder.name, "asked", len(error.details["questions"]), tuple(error.details["questions"]))
    return Outcome(folder.name, _check(result, truth, (folder / "orders.csv").exists()))


def _suggested_outcome(folder: Path, tmp: Path) -> Outcome:
    """The run when a user takes every suggestion, answering only what has none: truth.yaml's `answers`
    (what someone who knows the export would say). "no suggestion: ..." names a question left open."""
    truth = _truth(folder)
    memberships, orders = _counterpart(folder, truth, tmp)
    as_of = dt.date.fromisoformat(str(truth["as_of"]))
    given, answers = dict(truth.get("answers") or {}), {}
    for _ in range(SUGGESTION_ROUNDS):
        try:
            result = run_inferring(memberships, orders, parse_rules(""), as_of, parallel=False, answers=answers)
        except InputError as error:
            assert error.code == NEEDS_ANSWERS, f"{folder.name}: {error.code}: {error.message}"
            for question in error.details["proposal"]["questions"]:
                if question["id"] in given:
                    answers[question["id"]] = given[question["id"]]
                elif "suggested" in question:
                    answers[question["id"]] = question["suggested"]
                else:
                    return Outcome(folder.name, f"no suggestion: {question['id']}")
            continue
        return Outcome(folder.name, _check(result, truth, (folder / "orders.csv").exists()), len(answers),
                       tuple(sorted(set(answers) - set(given))))
    return Outcome(folder.name, "still asking")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> list[Outcome]:
    tmp = tmp_path_factory.mktemp("counterparts")
    found = [_outcome(folder, tmp) for folder in FOLDERS]
    print("\nexport fixtures: fixture, outcome, questions")
    for outcome in found:
        print(f"  {outcome.fixture:<28} {outcome.what:<20} {outcome.questions}  {', '.join(outcome.ids)}")
    print(f"  median questions: {statistics.median(o.questions for o in found)}")
    return found


def test_every_fixture_is_inferred_right_or_asked_never_wrong(outcomes):
    assert len(outcomes) >= 9
    assert [o for o in outcomes if o.what not in ("inferred right", "asked")] == []


def test_kofi_is_inferred_right_without_a_question(outcomes):
    """Every Ko-fi header and TransactionType word is known (a Subscription, a Donation and a Shop Order are
    each a payment): the run goes on with the inferred profile, and the totals are right (GBP never added)."""
    kofi = next(o for o in outcomes if o.fixture == "kofi")
    assert (kofi.what, kofi.questions) == ("inferred right", 0)


@pytest.fixture(scope="module")
def suggested(tmp_path_factory) -> dict[str, Outcome]:
    tmp = tmp_path_factory.mktemp("suggested")
    found = {folder.name: _suggested_outcome(folder, tmp) for folder in FOLDERS}
    print("\nexport fixtures, every suggestion taken: fixture, outcome, answers, suggestions taken")
    for outcome in found.values():
        print(f"  {outcome.fixture:<28} {outcome.what:<44} {outcome.questions}  {', '.join(outcome.ids)}")
    return found


def test_the_suggestions_read_the_fixtures_whose_truth_lists_the_remaining_answers(suggested):
    """A fixture whose truth.yaml has `answers` is read right when every other question takes its
    suggestion: the drafts suggest the right reading (status alone for a member list with no end date)."""
    expected = [folder.name for folder in FOLDERS if "answers" in _truth(folder)]
    assert {"ghost_members", "substack", "steady", "recurly_orders"} <= set(expected)
    assert {name: suggested[name].what for name in expected} == {name: "inferred right" for name in expected}
