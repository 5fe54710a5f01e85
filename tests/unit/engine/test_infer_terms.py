"""Inference for a payments-only export (issue 16 §3, "which payments buy a membership, and for how long"):
with no end date column, the draft asks which payments buy a membership (choices from the item column's
values) and for how long; the answers make a valid `term`, and the run gives the numbers worked out by hand.

The Square item export (tests/fixtures/exports/square_members) is read with no profile of its own: the
packaged profiles know nothing of it, so inference drafts one."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from memberseg.cli import main
from memberseg.errors import InputError
from memberseg.infer import apply_answers, infer_profile
from memberseg.job_protocol import answer_fits
from memberseg.proposal import NEEDS_ANSWERS, run_inferring
from memberseg.rules import parse_rules
from memberseg.rules.vocabulary import Vocabulary, load_vocabulary
from platform_files import member, write
from test_memberships_language import SQUARE_SEASONS_BY_HAND  # worked out by hand there

SQUARE = Path(__file__).resolve().parents[2] / "fixtures" / "exports" / "square_members" / "memberships.csv"
AS_OF = dt.date(2026, 11, 15)
BUYS = {"starts_with": ["Club Membership", "Junior Membership"]}
ANSWERS = {
    "memberships.field.customer_id": "Customer ID", "memberships.field.created_date": "Date",
    "memberships.names": "person", "memberships.term": {"season_start": "09-01"}, "memberships.term.buys": BUYS,
    "memberships.column.Event Type": "status",
}
FOLLOW_UP = {"memberships.value.status.Payment": "current", "memberships.value.status.Refund": "no_term"}


def _orders(tmp_path: Path) -> Path:
    """A standard orders file keyed by Customer ID (a run takes one; it matches nobody)."""
    return write(tmp_path / "orders.csv", ["Customer ID", "Amount"], [["nobody", "5.00"]])


def _asked(tmp_path: Path, answers: dict | None = None) -> dict:
    with pytest.raises(InputError) as stop:
        run_inferring(SQUARE, _orders(tmp_path), parse_rules(""), AS_OF, parallel=False, answers=answers)
    assert stop.value.code == NEEDS_ANSWERS
    return {question["id"]: question for question in stop.value.details["proposal"]["questions"]}


def test_a_payments_only_export_asks_which_payments_buy_a_membership_and_for_how_long(tmp_path):
    questions = _asked(tmp_path)
    term, buys = questions["memberships.term"], questions["memberships.term.buys"]
    assert "Each 'Club Membership 2025/26' payment covers" in term["prompt"]
    assert term["choices"] == [{"months": 12}, {"months": 1}, "calendar_year", {"season_start": "09-01"}]
    assert term["suggested"] == {"season_start": "09-01"}           # the items name seasons (2025/26)
    assert term["custom"] == {"season_start": "day"}                # any start day
    assert buys["choices"] == [BUYS, {"starts_with": ["Club Membership"]}, {"starts_with": ["Junior Membership"]},
                               "every_payment"]
    assert buys["suggested"] == BUYS
    assert buys["candidates"][0]["column"] == "Item" and "T-Shirt" in buys["candidates"][0]["values"]
    assert "memberships.field.expiration_date" not in questions     # Qty's bare numbers are no dates


def test_answering_gives_the_numbers_worked_out_by_hand(tmp_path):
    # the Event Type column answered "status" opens a second round: what Payment and Refund mean
    assert set(_asked(tmp_path, ANSWERS)) >= set(FOLLOW_UP)
    result = run_inferring(SQUARE, _orders(tmp_path), parse_rules(""), AS_OF, parallel=False,
                           answers={**ANSWERS, **FOLLOW_UP})
    for customer, (expiration, status, renewals) in SQUARE_SEASONS_BY_HAND.items():
        row = member(result, customer_id=customer)
        assert (row["expiration"].date().isoformat(), row["membership_status"], row["renewal_count"]) == (
            expiration, status, renewals), customer
    assert len(result.members) == 5
    assert result.member_validation.rejected["reason"].tolist() == [
        "Item 'Club Membership 2025-2027' names years that are not one season: which term it bought is not guessed"]


def test_the_cli_answers_file_completes_the_draft_with_a_custom_season_day(tmp_path):
    answers = {**ANSWERS, **FOLLOW_UP, "memberships.term": {"season_start": "10-01"},
               "memberships.term.buys": {"contains": "membership"}}
    (tmp_path / "answers.json").write_text(json.dumps(answers), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", "--memberships", str(SQUARE), "--orders", str(_orders(tmp_path)), "--out", str(out),
                 "--as-of", "2026-11-15", "--answers", str(tmp_path / "answers.json")]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["inputs"]["memberships"]["profile"]["chosen_by"] == "inferred"
    assert report["memberships"]["excluded"] == 3   # T-Shirt, Court hire, the refund
    result = run_inferring(SQUARE, _orders(tmp_path), parse_rules(""), AS_OF, parallel=False, answers=answers)
    # seasons from 1 October: Cara paid 2026-09-02, in the season 2025-10-01 .. 2026-09-30 (no year named);
    # Ana's last item names 2026/27: 2026-10-01 .. 2027-09-30
    assert member(result, customer_id="CUST-C3")["expiration"] == pd.Timestamp("2026-09-30")
    assert member(result, customer_id="CUST-A1")["expiration"] == pd.Timestamp("2027-09-30")


def test_a_season_day_that_is_no_day_of_every_year_is_refused_naming_the_question(tmp_path):
    (tmp_path / "answers.json").write_text(json.dumps({**ANSWERS, "memberships.term": {"season_start": "02-30"}}))
    out = tmp_path / "out"
    assert main(["run", "--memberships", str(SQUARE), "--orders", str(_orders(tmp_path)), "--out", str(out),
                 "--answers", str(tmp_path / "answers.json")]) == 2
    error = json.loads((out / "error.json").read_text())["error"]
    assert error["code"] == "invalid_answers" and "memberships.term" in error["message"]


def test_custom_answers_fit_only_their_kind():
    question = {"choices": ["calendar_year"], "custom": {"season_start": "day", "starts_with": "text"}}
    assert answer_fits(question, "calendar_year") and answer_fits(question, {"season_start": "09-01"})
    assert not answer_fits(question, {"season_start": "9-1"}) and not answer_fits(question, {"season_start": "02-29"})
    assert not answer_fits(question, {"months": 3}) and not answer_fits(question, {"starts_with": "  "})
    assert not answer_fits(question, {"season_start": "09-01", "starts_with": "x"})
    assert not answer_fits({"choices": ["a"]}, {"season_start": "09-01"})


def _draft(items: list[str], extra: dict[str, list[str]] | None = None):
    headers = ["Customer ID", "Date", "Item", *(extra or {})]
    rows = [[f"C{at}", f"2026-0{1 + at % 9}-10", item, *(values[at] for values in (extra or {}).values())]
            for at, item in enumerate(items)]
    frame = pd.DataFrame({at: [row[at] for row in rows] for at in range(len(headers))}, dtype=object)
    return infer_profile("memberships", "dues.csv", headers, frame, parse_rules(""), load_vocabulary())


def test_dues_naming_a_year_suggest_the_calendar_year_and_their_word():
    draft = _draft(["Mitgliedsbeitrag 2024", "Mitgliedsbeitrag 2025", "Spende", "Cotisation 2025"])
    questions = {question.id: question for question in draft.questions}
    assert questions["memberships.term"].suggested == "calendar_year"
    assert questions["memberships.term.buys"].suggested == {"starts_with": ["Mitgliedsbeitrag", "Cotisation"]}
    open_ids = apply_answers(draft, {"memberships.term": "calendar_year",
                                     "memberships.term.buys": {"starts_with": ["Mitgliedsbeitrag"]}})
    assert "memberships.term" not in open_ids
    assert draft.spec["term"] == {"length": "calendar_year",
                                  "buys_when": [{"field": "plan", "op": "starts_with",
                                                 "value": ["Mitgliedsbeitrag"]}]}
    assert draft.spec["fields"]["plan"] == {"aliases": ["Item"]}


def test_items_naming_no_membership_and_no_year_are_never_guessed():
    draft = _draft(["Gold", "Silver", "Gold", "Bronze"])
    questions = {question.id: question for question in draft.questions}
    assert questions["memberships.term"].suggested is None
    assert "memberships.term.buys" not in questions or questions["memberships.term.buys"].suggested is None


def test_a_billing_interval_column_is_a_term_choice():
    draft = _draft(["Gym Membership"] * 3, {"Price Point Name": ["Monthly", "Annual", "Fortnightly"]})
    question = next(q for q in draft.questions if q.id == "memberships.term")
    assert {"interval_column": "Price Point Name"} in question.choices and question.suggested is None
    apply_answers(draft, {"memberships.term": {"interval_column": "Price Point Name"}})
    assert draft.spec["fields"]["plan_interval"] == {"aliases": ["Price Point Name"]}
    assert draft.spec["term"]["length"] == {"interval_field": "plan_interval", "intervals": {
        "Monthly": {"months": 1}, "Annual": {"months": 12}}}   # Fortnightly is unknown: its rows are rejected


def test_membership_words_are_validated_data():
    assert "cotisation" in load_vocabulary().membership_words
    data = load_vocabulary().model_dump()
    with pytest.raises(ValueError, match="listed twice"):
        Vocabulary.model_validate({**data, "membership_words": ["Membership", "membership"]})
    with pytest.raises(ValueError, match="too short"):
        Vocabulary.model_validate({**data, "membership_words": ["ab"]})


# --- No dates to count a term from: the status alone decides (status_alone, created_from) ---

def _members(headers: list[str], rows: list[list[str]]):
    frame = pd.DataFrame({at: [row[at] for row in rows] for at in range(len(headers))}, dtype=object)
    return infer_profile("memberships", "members.csv", headers, frame, parse_rules(""), load_vocabulary())


def test_a_member_list_with_no_dates_at_all_is_read_by_its_status_alone_with_evidence():
    draft = _members(["email", "name", "status"], [["a@example.com", "Ann Lee", "paid"],
                                                  ["b@example.com", "Bo Ray", "comped"]])
    assert draft.spec["status_alone"] is True and draft.spec["created_from"] == "first_payment"
    assert "term" not in draft.spec and "created_date" not in draft.spec["fields"]
    decision = next(d for d in draft.decisions if d.key == "status_alone")
    assert decision.certain and "no column of 'members.csv' holds a created date or an end date" in decision.evidence
    assert not any(q.id in ("memberships.term", "memberships.field.created_date") for q in draft.questions)


def test_with_no_dates_and_no_status_the_created_date_is_asked_never_guessed():
    draft = _members(["email", "name", "tier"], [["a@example.com", "Ann Lee", "Gold"],
                                                ["b@example.com", "Bo Ray", "Silver"]])
    assert "status_alone" not in draft.spec
    ids = [q.id for q in draft.questions]
    assert ids.index("memberships.field.created_date") < ids.index("memberships.term")   # in the fields' order
    question = next(q for q in draft.questions if q.id == "memberships.term")
    assert "status_alone" not in question.choices and question.suggested is None


def test_a_member_list_with_a_start_but_no_end_suggests_status_alone_and_the_user_may_choose_a_term():
    headers = ["email", "subscribed_at", "subscription_period", "subscription_state"]
    rows = [["a@example.com", "2025-04-02", "monthly", "active"], ["b@example.com", "2024-11-20", "annual", "cancelled"]]
    draft = _members(headers, rows)
    question = next(q for q in draft.questions if q.id == "memberships.term")
    assert question.choices[-1] == "status_alone" and question.suggested == "status_alone"
    assert "'subscription_state' says who is a member now" in question.prompt
    assert next(d for d in draft.decisions if d.key == "term").certain is False
    apply_answers(draft, {"memberships.term": "status_alone"})
    assert draft.spec["status_alone"] is True and "term" not in draft.spec and "created_from" not in draft.spec
    assert draft.spec["ignore"] == ["subscription_period"]           # read by nothing now: said so
    rules = parse_rules(yaml.safe_dump({"profiles": {"mine": draft.profile_data()}}))
    assert rules.catalog["mine"].memberships.status_alone
    chosen = _members(headers, rows)
    apply_answers(chosen, {"memberships.term": {"interval_column": "subscription_period"}})
    assert "status_alone" not in chosen.spec and chosen.spec["term"]["length"]["interval_field"] == "plan_interval"


def test_payment_rows_with_a_status_are_offered_status_alone_but_not_suggested_it():
    draft = _members(["email", "Date", "Item", "status"], [["a@example.com", "2025-04-02", "Gold", "paid"],
                                                          ["a@example.com", "2026-04-02", "Gold", "paid"]])
    question = next(q for q in draft.questions if q.id == "memberships.term")
    assert "status_alone" in question.choices and question.suggested is None   # a customer's rows repeat


def test_status_alone_runs_with_created_dates_from_the_first_paid_order(tmp_path):
    members = write(tmp_path / "members.csv", ["email", "name", "status"],
                    [["ann@example.com", "Ann Lee", "paid"], ["bo@example.com", "Bo Ray", "comped"]])
    orders = write(tmp_path / "orders.csv", ["Email", "Order Date", "Amount"],
                   [["ann@example.com", "2026-03-04", "50.00"], ["ann@example.com", "2026-05-04", "50.00"]])
    result = run_inferring(members, orders, parse_rules(""), AS_OF, parallel=False,
                           answers={"memberships.names": "person"})
    ann, bo = member(result, email="ann@example.com"), member(result, email="bo@example.com")
    assert (ann["membership_status"], ann["created"]) == ("Active", pd.Timestamp("2026-03-04"))
    assert bo["membership_status"] == "Active" and pd.isna(bo["created"]) and bo["status_class"] == "comp"


def test_map_takes_a_season_day_and_an_items_text_typed_on_the_terminal(tmp_path, monkeypatch, capsys):
    replies = ["", "",                                   # Customer ID, Date: the suggestions
               "10-1", "02-30", "10-01",                 # the season: not MM-DD, no day of every year, 1 October
               "contains Membership",                    # which payments: the items containing a word
               "person", "status", "current", "no_term"]  # names, Event Type and its two values
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(replies) + "\n"))
    target = tmp_path / "club.yaml"
    assert main(["map", "--memberships", str(SQUARE), "--orders", str(_orders(tmp_path)), "--name", "club",
                 "--out", str(target)]) == 0
    shown = capsys.readouterr().out
    assert "or a season starting on another day: type its first day as MM-DD" in shown
    assert "type  contains <text>" in shown and "type  starts with <text>" in shown
    assert "'02-30' is not a day of the year as MM-DD" in shown
    term = yaml.safe_load(target.read_text())["profiles"]["club"]["memberships"]["term"]
    assert term == {"length": {"season_start": "10-01"},
                    "buys_when": [{"field": "plan", "op": "contains", "value": "Membership"}]}
    result = run_inferring(SQUARE, _orders(tmp_path), parse_rules(target.read_text()), AS_OF, parallel=False)
    assert member(result, customer_id="CUST-C3")["expiration"] == pd.Timestamp("2026-09-30")   # as --answers gives


def test_an_interval_column_beside_an_end_date_cannot_be_answered_as_plan_interval():
    """Nothing reads a billing interval without a term: the unread column's question offers ignore (suggested)
    and an answers file saying plan_interval is refused naming why, never a field nothing uses."""
    draft = _members(["email", "Joined", "Expires", "Status", "Charge Frequency"],
                     [["a@example.com", "2025-01-02", "2026-01-02", "active", "monthly"],
                      ["b@example.com", "2025-03-04", "2026-03-04", "active", "annual"]])
    question = next(q for q in draft.questions if q.id == "memberships.column.Charge Frequency")
    assert question.choices == ["ignore"] and question.suggested == "ignore"
    with pytest.raises(ValueError, match="a billing interval is read only by a term counted from payments"):
        apply_answers(draft, {"memberships.column.Charge Frequency": "plan_interval"})
    apply_answers(draft, {"memberships.column.Charge Frequency": "ignore"})
    assert draft.spec["ignore"] == ["Charge Frequency"] and "plan_interval" not in draft.spec["fields"]


def test_pending_in_an_orders_file_is_asked_never_read_as_unpaid():
    """Stripe balance transactions: pending is charged, not yet paid out (it counts); elsewhere not paid yet."""
    frame = pd.DataFrame({0: ["a@example.com", "b@example.com"], 1: ["2026-01-02", "2026-01-03"],
                          2: ["10.00", "12.00"], 3: ["paid", "pending"]}, dtype=object)
    draft = infer_profile("orders", "payments.csv", ["Email", "Order Date", "Amount", "Status"], frame,
                          parse_rules(""), load_vocabulary())
    question = next(q for q in draft.questions if q.id == "orders.value.status.pending")
    assert question.suggested == "unpaid" and "paid" in question.prompt
    assert "pending" not in draft.spec["statuses"]


def test_the_shipped_rules_a_refusal_compares_with_are_parsed_once(monkeypatch):
    from memberseg import proposal
    from memberseg.rules import default_rules, load

    assert default_rules() is default_rules()
    monkeypatch.setattr(load, "parse_rules", lambda *args, **kwargs: pytest.fail("the defaults parsed again"))
    problem = {"code": "unread_column", "details": {"profile": "stripe_payments"}}
    assert proposal._as_shipped(problem, "orders", default_rules())


def test_an_unread_column_answered_as_the_row_type_asks_what_its_words_mean_and_runs(tmp_path):
    """Answering "row_type" for a column whose header is unknown opens a second round (each word's row type,
    the known ones decided), as "status" does: never a profile with a row-type column and no words."""
    members = write(tmp_path / "members.csv", ["Email", "Start Date", "End Date"],
                    [["ann@example.com", "2026-01-01", "2027-12-31"]])
    orders = write(tmp_path / "orders.csv", ["Email", "Order Date", "Amount", "Buchungsart"],
                   [["ann@example.com", "2026-02-01", "100.00", "Payment"],
                    ["ann@example.com", "2026-02-03", "30.00", "Gutschrift"],
                    ["ann@example.com", "2026-02-04", "1.00", "Verify"]])
    first = {"orders.column.Buchungsart": "row_type"}
    with pytest.raises(InputError) as stop:
        run_inferring(members, orders, parse_rules(""), AS_OF, parallel=False, answers=first)
    questions = {q["id"]: q for q in stop.value.details["proposal"]["questions"]}
    assert set(questions) - set(first) == {"orders.value.row_type.Gutschrift"}   # Payment and Verify are known
    assert questions["orders.value.row_type.Gutschrift"]["choices"] == ["payment", "refund", "chargeback", "not_money"]
    result = run_inferring(members, orders, parse_rules(""), AS_OF, parallel=False,
                           answers={**first, "orders.value.row_type.Gutschrift": "refund"})
    assert member(result, email="ann@example.com")["total_order_value"] == 70.0   # 100 paid, 30 refunded
