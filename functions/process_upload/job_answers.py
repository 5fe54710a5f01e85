"""A job's answers to the questions of a run that stopped to ask (needs_answers).

The page's answers arrive as uploads/{job_id}/answers.json, `{"profile_name": NAME, "answers": {id: answer}}`
(written by the API's POST /jobs/{job_id}/answers). The run passes the answers to the engine, which
completes its inferred profile with its own answer-applying code (memberseg.proposal) and leaves the
finished profile as profile.yaml; once the run succeeded, that profile is checked as the profile file
profiles/NAME.yaml and saved there in the input bucket, where every later job reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from job_errors import FinalError
from job_ports import Deps
from memberseg.job_protocol import ANSWERS_NAME, PROFILE_NAME_RE, saved_profile_key

INVALID = "invalid_answers"
YAML_TYPE = "application/yaml; charset=utf-8"


@dataclass(frozen=True)
class JobAnswers:
    profile_name: str
    answers: dict[str, Any]


def _invalid(why: str) -> FinalError:
    return FinalError(INVALID, f"The job's {ANSWERS_NAME} {why}; answer the questions on the page again.",
                      file=ANSWERS_NAME)


def read_answers(path: Path) -> JobAnswers:
    """The answers file, checked for its shape (the engine checks each answer against its question)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _invalid("is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("answers"), dict):
        raise _invalid('must hold {"profile_name": ..., "answers": {...}}')
    name = data.get("profile_name")
    if not isinstance(name, str) or not PROFILE_NAME_RE.fullmatch(name):
        raise _invalid("names no valid profile (lower-case letters, digits and _, starting with a letter)")
    from memberseg.rules import packaged_profiles  # the layer's engine

    if name in packaged_profiles():
        raise FinalError(INVALID, f"'{name}' is the name of a profile memberseg ships; choose another name for "
                         "your export's profile on the page.", file=ANSWERS_NAME)
    return JobAnswers(name, data["answers"])


def save_finished_profile(deps: Deps, bucket: str, answers: JobAnswers, profile: Path) -> str:
    """Check the run's finished profile as profiles/NAME.yaml and save it there; returns its key."""
    from memberseg.errors import InputError
    from memberseg.finished_profile import check_profile_file

    text = profile.read_text(encoding="utf-8")
    try:
        check_profile_file(answers.profile_name, text)
    except InputError as exc:
        raise FinalError(INVALID, f"The finished profile could not be saved: {exc.message}",
                         file=ANSWERS_NAME) from exc
    key = saved_profile_key(answers.profile_name)
    deps.objects.put_bytes(bucket, key, text.encode("utf-8"), YAML_TYPE)
    deps.logger.info("finished profile saved", extra={"key": key})
    return key
