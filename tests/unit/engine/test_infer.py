"""A draft profile inferred from a file no profile fits (issue 16 §3): decisions with evidence, questions
for what the file does not settle, needs_answers with proposal.json / proposal.yaml, --answers and
`memberseg map`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml

from memberseg.cli import main
from memberseg.errors import InputError
from memberseg.headers import how_chosen
from memberseg.infer import Draft, apply_answers, check_join, infer_profile
from memberseg.proposal import NEEDS_ANSWERS, NeedsAnswers, proposal_yaml, settle
from memberseg.rules import parse_rules
from memberseg.rules.profiles import leaving_out
from memberseg.runner import run_job

VOCABULARY = {
    "headers": {"orders": {"customer_id": ["Member ID"], "order_value": ["Amount", "Charge"],
                           "order_date": ["Paid On"], "status": ["Outcome"], "currency": ["Currency"]},
                "memberships": {"customer_id": ["Member ID"], "email": ["Email"]}},
    "values": {"order_status": {"succeeded": "paid", "refunded": "refunded", "declined": "unpaid"}},
}
MEMBERS = """Member ID,Email,First Name,Last Name,Joined,Valid Until,Status
M1,ann@example.com,Ann,Lee,2025-01-10,2026-01-10,active
M2,bob@example.com,Bob,Ray,2025-03-01,2027-03-01,active
M3,cy@example.com,Cy,Ode,2024-02-01,2025-02-01,cancelled
"""
ORDERS = """Member ID,Order Date,Amount,Currency,Status
M1,2025-01-10,120.50,USD,succeeded
M2,2025-03-01,99.00,USD,succeeded
M2,2025-04-01,99.00,USD,refunded
M3,2024-02-01,50.00,USD,On hold by bank
"""


def _frame(rows: list[list[object]]) -> pd.DataFrame:
    return pd.DataFrame({at: [row[at] for row in rows] for at in range(len(rows[0]))}, dtype=object)


def _orders_draft(rows: list[list[object]], headers=("Member ID", "Paid On", "Amount", "Currency", "Outcome")) -> Draft:
    return infer_profile("orders", "payments.csv", list(headers), _frame(rows), parse_rules(""), VOCABULARY)


def _files(tmp_path: Path, orders: str = ORDERS) -> tuple[Path, Path]:
    (tmp_path / "members.csv").write_text(MEMBERS, encoding="utf-8")
    (tmp_path / "payments.csv").write_text(orders, encoding="utf-8")
    return tmp_path / "members.csv", tmp_path / "payments.csv"


def test_known_headers_and_values_make_a_certain_draft_with_evidence():
    draft = _orders_draft([["M1", "2025-01-10", "120.50", "USD", "succeeded"],
                           ["M2", "2025-03-01", "99.00", "EUR", "Refunded"]])
    assert draft.certain and not draft.questions
    fields = {name: spec["aliases"][0] for name, spec in draft.spec["fields"].items()}
    assert fields == {"customer_id": "Member ID", "order_date": "Paid On", "order_value": "Amount",
                      "currency": "Currency", "status": "Outcome"}
    assert draft.spec["fields"]["order_value"]["required"] is True
    assert draft.spec["statuses"] == {"succeeded": "paid", "refunded": "refunded"}
    evidence = {decision.key: decision for decision in draft.decisions}
    assert "amounts" in evidence["fields.order_value"].evidence
    assert "currency codes" in evidence["fields.currency"].evidence
    assert evidence["statuses.Refunded"].value == "refunded" and evidence["statuses.Refunded"].certain
    assert evidence["decimal_separator_default"].value == "."


def test_a_status_value_the_vocabulary_does_not_know_is_a_question_never_a_guess():
    draft = _orders_draft([["M1", "2025-01-10", "1.50", "USD", "succeeded"],
                           ["M2", "2025-01-11", "2.50", "USD", "On hold by bank"],
                           ["M3", "2025-01-12", "3.50", "USD", "On hold by bank"]])
    assert not draft.certain
    [question] = draft.questions
    assert question.describe() == {
        "id": "orders.value.status.On hold by bank", "kind": "value", "file": "payments.csv", "role": "orders",
        "candidates": [{"column": "Outcome", "value": "On hold by bank", "rows": 2}],
        "choices": ["paid", "refunded", "unpaid"], "prompt": question.prompt}
    assert "On hold by bank" in question.prompt and "Outcome" in question.prompt
    assert "on hold by bank" not in draft.spec["statuses"]


def test_two_columns_with_one_fields_header_are_a_field_question_with_three_samples_each():
    draft = _orders_draft([["M1", "10.00", "11.00", "a"], ["M2", "20.00", "21.00", "b"], ["M3", "30.00", "31.00", "c"],
                           ["M4", "40.00", "41.00", "d"]], headers=("Member ID", "Amount", "Charge", "Note"))
    [question] = [q for q in draft.questions if q.id == "orders.field.order_value"]
    assert question.kind == "field" and question.suggested is None
    assert question.candidates == [{"column": "Amount", "samples": ["10.00", "20.00", "30.00"]},
                                   {"column": "Charge", "samples": ["11.00", "21.00", "31.00"]}]
    assert "order_value" not in draft.spec["fields"]
    apply_answers(draft, {"orders.field.order_value": "Charge"})
    assert draft.spec["fields"]["order_value"] == {"aliases": ["Charge"], "required": True}


def test_whole_amounts_may_be_cents_so_the_unit_is_asked():
    draft = _orders_draft([["M1", "2025-01-10", "9900", "USD", "succeeded"],
                           ["M2", "2025-01-11", "4900", "USD", "succeeded"]])
    [question] = draft.questions
    assert question.id == "orders.amount_unit" and question.choices == ["major", "minor"]


def test_day_first_dates_are_decided_by_a_value_that_reads_one_way():
    draft = _orders_draft([["M1", "25.01.2025", "1.50", "USD", "succeeded"],
                           ["M2", "03.02.2025", "2.50", "USD", "succeeded"]])
    assert draft.spec["date_order_default"] == "DMY" and draft.certain
    undecided = _orders_draft([["M1", "05.01.2025", "1.50", "USD", "succeeded"]])
    assert [q.id for q in undecided.questions] == ["orders.date_order"]


def test_an_unread_column_of_status_words_is_asked_about():
    draft = _orders_draft([["M1", "1.50", "declined"], ["M2", "2.50", "succeeded"]],
                          headers=("Member ID", "Amount", "Result"))
    [question] = draft.questions
    assert question.id == "orders.column.Result" and "ignore" in question.choices
    assert question.candidates[0]["values"] == {"declined": 1, "succeeded": 1}


def test_an_invalid_answer_names_its_question():
    draft = _orders_draft([["M1", "2025-01-10", "1.50", "USD", "On hold by bank"]])
    with pytest.raises(ValueError, match="'orders.value.status.On hold by bank' is 'maybe'"):
        apply_answers(draft, {"orders.value.status.On hold by bank": "maybe"})
    assert apply_answers(draft, {"orders.value.status.On hold by bank": "unpaid"}) == []
    assert draft.spec["statuses"]["on hold by bank"] == "unpaid"


def test_settle_stops_with_needs_answers_and_a_proposal_a_rules_file_holds():
    draft = _orders_draft([["M1", "2025-01-10", "1.50", "USD", "On hold by bank"]])
    with pytest.raises(NeedsAnswers) as stop:
        settle([draft], parse_rules(""), {})
    assert stop.value.code == NEEDS_ANSWERS
    proposal = stop.value.details["proposal"]
    assert set(proposal) == {"profiles", "decisions", "questions", "answers"}
    text = proposal_yaml(proposal)
    assert "# QUESTION orders.value.status.On hold by bank (value)" in text
    assert yaml.safe_load(text)["profiles"]["inferred_orders"]["orders"]["fields"]["order_value"]


def test_the_files_must_name_customers_alike():
    orders = _orders_draft([["M1", "2025-01-10", "1.50", "USD", "succeeded"]])
    check_join(orders, {"customer_id": ["M1"]}, None, {"email": ["ann@example.com"]})
    [question] = orders.questions
    assert question.id == "orders.field.email" and "Member ID" in question.choices
    shared = _orders_draft([["M1", "2025-01-10", "1.50", "USD", "succeeded"]])
    check_join(shared, {"customer_id": ["M1"]}, None, {"customer_id": ["m1 "], "email": ["x@example.com"]})
    assert shared.certain and shared.decisions[-1].key == "join_key"


def test_a_run_that_must_ask_leaves_only_error_json_and_the_proposal(tmp_path):
    members, payments = _files(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("{}", encoding="utf-8")   # stale, from an earlier run
    outcome = run_job(members, payments, out, isolate=False)
    assert outcome.exit_code == 2 and outcome.error["error"]["code"] == NEEDS_ANSWERS
    assert sorted(path.name for path in out.iterdir() if not path.name.startswith(".")) == [
        "error.json", "proposal.json", "proposal.yaml"]
    error = json.loads((out / "error.json").read_text())["error"]
    assert "proposal" not in error["details"] and error["details"]["questions"]
    proposal = json.loads((out / "proposal.json").read_text())
    ids = [question["id"] for question in proposal["questions"]]
    assert "orders.value.status.On hold by bank" in ids
    for question in proposal["questions"]:
        assert {"id", "kind", "file", "role", "candidates", "prompt"} <= set(question)
        assert question["file"] in ("members.csv", "payments.csv")


def test_answers_complete_the_draft_and_the_run_says_inferred(tmp_path, capsys):
    members, payments = _files(tmp_path)
    out = tmp_path / "out"
    base = ["run", "--memberships", str(members), "--orders", str(payments), "--out", str(out),
            "--as-of", "2026-11-15"]
    assert main(base) == 2
    questions = json.loads((out / "proposal.json").read_text())["questions"]
    assert {question["id"]: question.get("suggested") for question in questions} == {
        "memberships.field.expiration_date": "Valid Until", "orders.value.status.On hold by bank": None}
    answers = {"memberships.field.expiration_date": "Valid Until", "orders.value.status.On hold by bank": "unpaid"}
    (tmp_path / "answers.json").write_text(json.dumps(answers), encoding="utf-8")
    capsys.readouterr()
    assert main([*base, "--answers", str(tmp_path / "answers.json")]) == 0
    assert "inferred from the file" in capsys.readouterr().out
    assert not (out / "proposal.json").exists()
    report = json.loads((out / "report.json").read_text())
    inferred = [info["profile"] for info in report["inputs"].values() if info["profile"]["chosen_by"] == "inferred"]
    assert inferred and all(profile["evidence"] for profile in inferred)
    summary = openpyxl.load_workbook(out / "membership_segments.xlsx", read_only=True)["Summary"]
    assert any("inferred from the file" in str(cell) for row in summary.iter_rows(values_only=True) for cell in row)
    assert report["orders"]["matched"] == 3 and report["orders"]["excluded"] == 1   # the payment on hold
    totals = pd.read_csv(out / "hubspot_contacts.csv", dtype=str).set_index("cust_id")["total_order_value"]
    assert totals.to_dict() == {"M1": "120.50", "M2": "99.00", "M3": "0.00"}   # the refund row counts nothing


def test_an_invalid_answers_file_is_refused_naming_the_question(tmp_path, capsys):
    members, payments = _files(tmp_path)
    (tmp_path / "answers.json").write_text(json.dumps({"orders.value.status.On hold by bank": "maybe"}))
    out = tmp_path / "out"
    code = main(["run", "--memberships", str(members), "--orders", str(payments), "--out", str(out),
                 "--answers", str(tmp_path / "answers.json")])
    assert code == 2
    error = json.loads((out / "error.json").read_text())["error"]
    assert error["code"] == "invalid_answers" and "orders.value.status.On hold by bank" in error["message"]
    (tmp_path / "broken.json").write_text("[1, 2]")
    assert main(["run", "--memberships", str(members), "--orders", str(payments), "--out", str(out),
                 "--answers", str(tmp_path / "broken.json")]) == 2
    assert json.loads((out / "error.json").read_text())["error"]["code"] == "invalid_answers"


def test_map_asks_on_the_terminal_and_writes_a_profile_rules_check_accepts(tmp_path, monkeypatch, capsys):
    members, payments = _files(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO("\n" * 20 + "3\n" + "\n" * 20))
    target = tmp_path / "acme.yaml"
    assert main(["map", "--memberships", str(members), "--orders", str(payments), "--name", "acme",
                 "--out", str(target)]) == 0
    shown = capsys.readouterr().out
    assert "On hold by bank" in shown and "3. unpaid" in shown
    profile = yaml.safe_load(target.read_text())["profiles"]["acme"]
    assert profile["orders"]["statuses"]["on hold by bank"] == "unpaid"
    assert main(["rules", "check", str(target)]) == 0
    out = tmp_path / "out"
    assert main(["run", "--memberships", str(members), "--orders", str(payments), "--out", str(out),
                 "--rules", str(target), "--as-of", "2026-11-15"]) == 0


def test_how_a_profile_was_chosen_in_words():
    inferred = {"chosen_by": "inferred", "deciding_headers": [],
                "evidence": [{"key": "fields.email", "value": "Email"}, {"key": "names", "value": "person"}]}
    assert how_chosen(inferred, "by ") == "inferred from the file: Email"
    assert how_chosen({"chosen_by": "forced", "deciding_headers": []}, "by ") == "forced"


def test_leaving_out_names_packaged_profiles_only():
    with pytest.raises(ValueError, match="no packaged profile"):
        with leaving_out(["nope"]):
            pass
    with leaving_out(["stripe_payments"]):
        assert "stripe_payments" not in parse_rules("").catalog
    assert "stripe_payments" in parse_rules("").catalog


def test_a_forced_profile_that_does_not_fit_is_not_inferred(tmp_path):
    members, payments = _files(tmp_path)
    out = tmp_path / "out"
    outcome = run_job(members, payments, out, isolate=False, rules_overlay={"inputs": {
        "memberships": {"profile": "standard"}, "orders": {"profile": "stripe_payments"}}})
    assert outcome.error["error"]["code"] == "missing_column"


def test_input_error_is_the_base_of_needs_answers():
    assert issubclass(NeedsAnswers, InputError)
