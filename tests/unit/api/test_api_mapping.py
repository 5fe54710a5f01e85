"""The API's side of the mapping step: the questions it serves, the default profile name, and the
answers it refuses before anything runs (api_core; the flow itself: tests/integration/test_needs_answers_flow.py)."""

from __future__ import annotations

import pytest

import api_core as core
from memberseg.job_protocol import ANSWERS_NAME, NEEDS_ANSWERS, file_role

QUESTIONS = [
    {"id": "memberships.names", "kind": "field", "file": "m.csv", "role": "memberships", "prompt": "p",
     "choices": ["person", "company"], "candidates": [{"column": "Name", "samples": ["Ana"]}], "extra": 1},
    {"id": "memberships.term", "kind": "term", "file": "m.csv", "role": "memberships", "prompt": "p",
     "choices": [{"months": 12}, "calendar_year"], "candidates": [], "suggested": {"months": 12}},
    {"id": "orders.field.customer_id", "kind": "field", "file": "o.csv", "role": "orders", "prompt": "p",
     "choices": ["Email", None], "candidates": []},
]


@pytest.mark.parametrize("file_name, expected", [
    ("Patreon members 2026.csv", "patreon_members_2026"),
    ("memberships.xlsx", "memberships"),
    ("2026 Mitglieder – Beiträge.xlsx", "my_export_2026_mitglieder_beitrage"),
    ("Adhésions.csv", "adhesions"),
    ("", "my_export"),
    (None, "my_export"),
    ("x" * 80 + ".csv", "x" * 40),
])
def test_default_profile_name_is_a_valid_name_from_the_file_name(file_name, expected):
    name = core.default_profile_name(file_name)
    assert name == expected
    assert core.PROFILE_NAME_RE.fullmatch(name)


def test_mapping_view_serves_the_questions_known_keys_a_default_name_and_the_run_that_asked():
    prefix = "results/" + "a" * 32 + "/runs/000000000000001-0123456789abcdef-a1/"
    view = core.mapping_view("a" * 32, prefix, {"questions": [*QUESTIONS, "not a question", {"no": "id"}]})
    assert [q["id"] for q in view["questions"]] == [q["id"] for q in QUESTIONS]
    assert "extra" not in view["questions"][0]
    assert view["profile_name"] == "m"
    assert view["answers_url"] == "/jobs/" + "a" * 32 + "/answers"
    assert view["run_id"] == "000000000000001-0123456789abcdef-a1"
    assert core.mapping_view("a" * 32, prefix, None)["questions"] == []


ANSWERS = {"memberships.names": "company", "memberships.term": {"months": 12}, "orders.field.customer_id": None}


def test_answers_that_fit_become_answers_json():
    body = {"profile_name": "club_pay", "answers": ANSWERS}
    assert core.parse_answers_request(body, core.questions_view({"questions": QUESTIONS})) == body


@pytest.mark.parametrize("body, words", [
    ([], "send"),
    ({"profile_name": "club", "answers": []}, "answers must be an object"),
    ({"profile_name": "Club", "answers": ANSWERS}, "profile_name"),
    ({"profile_name": "_club", "answers": ANSWERS}, "profile_name"),
    ({"profile_name": "c" * 65, "answers": ANSWERS}, "profile_name"),
    ({"profile_name": "club", "answers": {**ANSWERS, "orders.other": 1}}, "no question"),
    ({"profile_name": "club", "answers": {"memberships.names": "person"}}, "not answered"),
    ({"profile_name": "club", "answers": {**ANSWERS, "memberships.term": {"months": 7}}}, "not one of its choices"),
    ({"profile_name": "club", "answers": {**ANSWERS, "orders.field.customer_id": "Phone"}}, "not one of"),
])
def test_answers_that_cannot_fit_are_refused(body, words):
    with pytest.raises(core.BadRequest, match=words):
        core.parse_answers_request(body, QUESTIONS)


def test_the_contract_names_the_answers_file_and_the_code():
    assert NEEDS_ANSWERS == "needs_answers"
    assert file_role(ANSWERS_NAME) == "answers" and file_role("Answers.JSON") == "answers"
    assert file_role("answers.yaml") is None


TERM_QUESTIONS = [
    {"id": "memberships.term", "kind": "term", "file": "m.csv", "role": "memberships", "prompt": "p",
     "choices": [{"months": 12}, "calendar_year", {"season_start": "09-01"}], "candidates": [],
     "suggested": {"season_start": "09-01"}, "custom": {"season_start": "day"}},
    {"id": "memberships.term.buys", "kind": "term", "file": "m.csv", "role": "memberships", "prompt": "p",
     "choices": [{"starts_with": ["Club Membership"]}, "every_payment"], "candidates": [],
     "custom": {"starts_with": "text", "contains": "text"}},
]


def test_the_term_questions_custom_answers_are_served_and_accepted():
    served = core.questions_view({"questions": TERM_QUESTIONS})
    assert served[0]["custom"] == {"season_start": "day"}
    answers = {"memberships.term": {"season_start": "10-15"}, "memberships.term.buys": {"contains": "Mitglied"}}
    body = {"profile_name": "club_dues", "answers": answers}
    assert core.parse_answers_request(body, served) == body


@pytest.mark.parametrize("answers", [
    {"memberships.term": {"season_start": "02-30"}, "memberships.term.buys": "every_payment"},    # no such day
    {"memberships.term": {"season_start": "9-1"}, "memberships.term.buys": "every_payment"},
    {"memberships.term": {"months": 7}, "memberships.term.buys": "every_payment"},   # months: only its choices
    {"memberships.term": "calendar_year", "memberships.term.buys": {"eq": "Club"}},  # op not allowed
    {"memberships.term": "calendar_year", "memberships.term.buys": {"starts_with": " "}},
])
def test_custom_answers_outside_their_kind_are_refused(answers):
    with pytest.raises(core.BadRequest, match="not one of its choices"):
        core.parse_answers_request({"profile_name": "club", "answers": answers}, TERM_QUESTIONS)


def test_a_question_without_custom_takes_only_its_choices():
    with pytest.raises(core.BadRequest, match="not one of its choices"):
        core.parse_answers_request({"profile_name": "club", "answers": {
            **ANSWERS, "memberships.term": {"season_start": "09-01"}}}, QUESTIONS)
