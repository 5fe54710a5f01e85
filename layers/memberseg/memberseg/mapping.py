"""`memberseg map`: the questions of an inferred profile asked on a terminal, and the finished profile
written as a rules file (`profiles.<name>`), which `memberseg rules check` and `--rules` accept."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError
from .infer import Draft, Question
from .job_protocol import CUSTOM_ANSWER_KINDS
from .pipeline import check_file
from .proposal import infer_file
from .rules import Rules, parse_rules
from .rules.vocabulary import load_vocabulary

Ask = Callable[[str], str]


def _choice_text(choice: Any) -> str:
    return json.dumps(choice, ensure_ascii=False) if not isinstance(choice, str) else choice


# what a question's `custom` answers look like typed on the terminal: key -> (the hint, how a reply reads)
CUSTOM_REPLIES: dict[str, tuple[str, str]] = {
    "season_start": ("a season starting on another day: type its first day as MM-DD (10-01 is 1 October)",
                     r"(\d\d-\d\d)"),
    "starts_with": ("the payments whose item starts with a text: type  starts with <text>", r"starts with\s+(.+)"),
    "contains": ("the payments whose item contains a text: type  contains <text>", r"contains\s+(.+)"),
}


def _custom_answer(question: Question, reply: str) -> dict[str, str] | None:
    """The custom answer a typed reply stands for ({"season_start": "10-01"}, {"contains": "membership"}),
    or None when the reply is none the question takes."""
    for key in question.custom or {}:
        found = re.fullmatch(CUSTOM_REPLIES[key][1], reply, flags=re.IGNORECASE) if key in CUSTOM_REPLIES else None
        if found is not None:
            return {key: found[1].strip()}
    return None


def _show(question: Question, say: Callable[[str], None]) -> None:
    say(f"\n{question.prompt}")
    for candidate in question.candidates:
        if "samples" in candidate:
            say(f"    column '{candidate['column']}': {', '.join(candidate['samples'])}")
    for number, choice in enumerate(question.choices, start=1):
        mark = "  (suggested)" if question.suggested is not None and choice == question.suggested else ""
        say(f"  {number}. {_choice_text(choice)}{mark}")
    for key in question.custom or {}:
        if key in CUSTOM_REPLIES:
            say(f"  or {CUSTOM_REPLIES[key][0]}")


def _answer_of(question: Question, reply: str) -> tuple[bool, Any]:
    """(True, the answer) for a reply the question takes, else (False, what to say)."""
    if not reply and question.suggested is not None:
        return True, question.suggested
    if reply.isdigit() and 1 <= int(reply) <= len(question.choices):
        return True, question.choices[int(reply) - 1]
    texts = [_choice_text(choice) for choice in question.choices]
    if reply in texts:
        return True, question.choices[texts.index(reply)]
    custom = _custom_answer(question, reply)
    if custom is not None and question.fits(custom):
        return True, custom
    if custom is not None:
        [(key, value)] = custom.items()
        return False, f"  '{value}' is not {CUSTOM_ANSWER_KINDS[(question.custom or {})[key]]}."
    return False, (f"  Please answer with a number from 1 to {len(question.choices)}"
                   + (" or one of the typed answers above." if question.custom else "."))


def ask_question(question: Question, ask: Ask, say: Callable[[str], None]) -> Any:
    """One question on the terminal: its prompt, candidates and numbered choices, and the answers it takes
    beyond them (a season's own first day, a text the items start with or contain); Enter takes the
    suggestion. A typed answer the question does not take is explained and asked again."""
    _show(question, say)
    while True:
        prompt = "Your answer (number" + (", Enter for the suggestion" if question.suggested is not None else "")
        taken, answer = _answer_of(question, ask(prompt + "): ").strip())
        if taken:
            return answer
        say(answer)


def _ask_all(draft: Draft, ask: Ask, say: Callable[[str], None]) -> None:
    """Every question of the draft, each answer written into its spec; an answer may open follow-ups."""
    for question in draft.questions:   # grows while asked
        while True:
            answer = ask_question(question, ask, say)
            try:
                question.apply(draft.spec, answer)
                break
            except ValueError as exc:   # an answer the profile language cannot hold: say why, ask again
                say(f"  That answer cannot be used: {exc}.")
        if question.follow_up is not None:
            draft.questions += question.follow_up(answer)


def profile_file(name: str, drafts: list[Draft]) -> str:
    """The rules file holding the finished profile `name` (both files' roles in one profile)."""
    profile: dict[str, Any] = {"title": f"{name} (mapped with memberseg map)", "platform": "your own export",
                               "export": ", ".join(draft.file for draft in drafts),
                               "source": "memberseg map: inferred from the files and confirmed by you"}
    for draft in drafts:
        profile[draft.role] = draft.spec
    header = "# Written by `memberseg map`. Use it with --rules, or keep it as profiles/<name>.yaml.\n"
    return header + yaml.safe_dump({"profiles": {name: profile}}, sort_keys=False, allow_unicode=True)


def run_map(memberships: Path, orders: Path, name: str, out: Path | None, rules: Rules,
            ask: Ask = input, say: Callable[[str], None] = print) -> int:
    """Ask the questions for each file no profile fits; write the profile. 0 when written, 2 on bad input."""
    paths = {"memberships": Path(memberships), "orders": Path(orders)}
    drafts = []
    for role, path in paths.items():
        checked = check_file(path, role, rules)
        if checked.problem is None:
            say(f"The {role} file '{path.name}' is recognised already: nothing to ask about it.")
            continue
        if checked.problem.code != "missing_column":
            raise checked.problem
        draft = infer_file(path, role, rules, load_vocabulary())
        if draft is None:
            raise checked.problem
        drafts.append(draft)
    if not drafts:
        say("Both files are recognised; no profile to write.")
        return 0
    for draft in drafts:
        _ask_all(draft, ask, say)
    text = profile_file(name, drafts)
    try:
        parse_rules(text, source=f"profile {name}")
    except InputError as exc:
        say(f"memberseg map: the profile is not complete: {exc.message}")
        return 2
    target = out or Path(f"{name}.yaml")
    target.write_text(text, encoding="utf-8")
    say(f"\nWrote {target}: run with --rules {target}.")
    return 0
