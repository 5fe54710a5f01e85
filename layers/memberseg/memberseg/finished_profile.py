"""The profile a run completed with the user's answers, as a profile file to keep.

When `memberseg.proposal` ran with answers, the rules it returned hold one inferred profile per file
(`inferred_memberships`, `inferred_orders`), already completed by the engine's own answer-applying code
and validated. `finished_profile` joins them into one profile (both files' layouts, so one name
recognises the pair) as the body of a profile file (`profiles/NAME.yaml` holds what `profiles.NAME`
would hold in a rules file), and checks that body loads as a profile file of that name before anyone
keeps it.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import InputError
from .job_protocol import PROFILE_NAME_RE
from .rules import ProfileFile, Rules, load_rules, packaged_profiles

ROLES = ("memberships", "orders")


def finished_profile(rules: Rules) -> dict[str, Any] | None:
    """The inferred profiles of `rules` as one profile body, or None when no profile was inferred."""
    data = rules.model_dump(mode="json")["profiles"]
    inferred = {role: data[name] for role in ROLES for name in data
                if rules.inferred_evidence(name) is not None and data[name].get(role) is not None}
    if not inferred:
        return None
    files = [inferred[role]["export"].removeprefix("the file ") for role in ROLES if role in inferred]
    body: dict[str, Any] = {
        "title": "Answered in the page: " + " and ".join(files),
        "platform": "your own export",
        "export": "the layout of " + " and ".join(files),
        "source": "inferred by memberseg from the files, completed with your answers",
    }
    for role in ROLES:
        if role in inferred:
            body[role] = inferred[role][role]
    return body


def profile_file_text(body: dict[str, Any]) -> str:
    return ("# A profile memberseg inferred from your files and completed with your answers.\n"
            + yaml.safe_dump(body, sort_keys=False, allow_unicode=True))


def check_profile_file(name: str, text: str, place: str = "input bucket") -> None:
    """InputError (invalid_answers) unless `text` loads as the profile file profiles/NAME.yaml: a valid
    name that is no packaged profile's (a file of that name would change the packaged one)."""
    if not PROFILE_NAME_RE.fullmatch(name):
        raise InputError("invalid_answers", f"The profile name {name!r} is not valid: use lower-case letters, "
                         "digits and _, starting with a letter (at most 64).")
    if name in packaged_profiles():
        raise InputError("invalid_answers", f"'{name}' is the name of a profile memberseg ships; choose another "
                         "name for your export's profile.")
    load_rules(profile_files=[ProfileFile(f"profiles/{name}.yaml", text, place)])


__all__ = ["check_profile_file", "finished_profile", "profile_file_text"]
