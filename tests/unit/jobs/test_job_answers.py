"""The job's answers file (job_answers.read_answers) and the finished profile the engine leaves
(memberseg.finished_profile): refused with invalid_answers, never guessed."""

from __future__ import annotations

import json

import pytest
import yaml

from job_answers import read_answers
from job_errors import FinalError
from memberseg.errors import InputError
from memberseg.finished_profile import check_profile_file, finished_profile, profile_file_text
from memberseg.rules import ProfileFile, load_rules


def write(tmp_path, content) -> object:
    path = tmp_path / "answers.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_an_answers_file_gives_the_name_and_the_answers(tmp_path):
    answers = read_answers(write(tmp_path, {"profile_name": "club_pay", "answers": {"a.b": None}}))
    assert answers.profile_name == "club_pay" and answers.answers == {"a.b": None}


@pytest.mark.parametrize("content, words", [
    ("{not json", "is not JSON"),
    ([], "must hold"),
    ({"profile_name": "club"}, "must hold"),
    ({"profile_name": "Club!", "answers": {}}, "no valid profile"),
    ({"profile_name": "stripe_payments", "answers": {}}, "memberseg ships"),
])
def test_a_bad_answers_file_is_a_final_invalid_answers(tmp_path, content, words):
    with pytest.raises(FinalError) as caught:
        read_answers(write(tmp_path, content))
    assert caught.value.error["error"]["code"] == "invalid_answers"
    assert words in caught.value.error["error"]["message"]


def _inferred_rules():
    from memberseg.infer import Draft
    from memberseg.proposal import with_inferred

    members = Draft("memberships", "m.csv", {"signature": ["Mail", "Joined", "Ends"], "names": "person", "fields": {
        "email": {"aliases": ["Mail"]}, "created_date": {"aliases": ["Joined"], "required": True},
        "expiration_date": {"aliases": ["Ends"], "required": True}}})
    orders = Draft("orders", "o.csv", {"signature": ["Mail", "Paid"], "fields": {
        "email": {"aliases": ["Mail"]}, "order_value": {"aliases": ["Paid"], "required": True}}})
    return with_inferred(load_rules(), [members, orders])


def test_the_finished_profile_joins_both_files_layouts_and_loads_as_a_profile_file():
    body = finished_profile(_inferred_rules())
    assert body is not None
    assert body["memberships"]["signature"] == ["Mail", "Joined", "Ends"]
    assert body["orders"]["fields"]["order_value"] == {"aliases": ["Paid"], "required": True}
    text = profile_file_text(body)
    assert yaml.safe_load(text) == body
    check_profile_file("club_pay", text)
    rules = load_rules(profile_files=[ProfileFile("profiles/club_pay.yaml", text, "input bucket")])
    assert set(rules.catalog["club_pay"].roles()) == {"memberships", "orders"}
    assert finished_profile(load_rules()) is None          # nothing inferred: nothing to keep


@pytest.mark.parametrize("name, words", [("stripe_payments", "memberseg ships"), ("Club", "not valid")])
def test_a_finished_profile_is_never_saved_under_a_packaged_or_invalid_name(name, words):
    with pytest.raises(InputError, match=words):
        check_profile_file(name, profile_file_text(finished_profile(_inferred_rules()) or {}))


def test_a_finished_profile_that_does_not_load_is_refused():
    with pytest.raises(InputError):
        check_profile_file("club_pay", "title: x\n")
