"""When no profile fits a file: infer one (`memberseg.infer`), and either run with it or stop and ask.

`run_inferring` runs the pipeline as usual; only when a file has no profile (the header check's
`missing_column`) does it read that file with a probe that keeps every column, infer a draft, apply
the user's answers (`--answers`), and then either run again with the inferred profile (every decision
certain, every value known) or raise `NeedsAnswers`: exit 2, code `needs_answers`, and the runner
writes `proposal.json` (the drafts and their questions) and `proposal.yaml` (a rules file with the
drafts, each open question a commented placeholder) beside error.json.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import InputError
from .header_check import first_rows
from .headers import candidate_profiles, find_header
from .job_protocol import NEEDS_ANSWERS, PROPOSAL_JSON, PROPOSAL_YAML
from .known import known_for
from .rules import Profile, RoleSpec, Rules, default_rules, normalize_header
from .rules.ruleset import PACKAGED
from .rules.vocabulary import load_vocabulary
from .safety import inspect_file
from .timing import Progress, no_progress

if TYPE_CHECKING:
    from .infer import Draft
    from .result import Result
    from .state_file import PreviousFile

PROBE = "probe_inferred"
MIN_HEADER_HITS = 2          # a file is inferred when a row holds this many known headers (its header row)
JOIN_SAMPLE_ROWS = 500       # rows of a file a profile reads, sampled to see that the files name customers alike


class NeedsAnswers(InputError):
    """The run stops to ask: the drafts and their open questions are in details["proposal"]."""


def _header_row(path: Path, kind: str, role: str, rules: Rules, vocabulary: Any) -> tuple[str | None, list[Any]]:
    """(sheet, header cells): the row among the first rows with the most known headers."""
    known = known_for(role, rules, vocabulary).headers
    sheets = first_rows(path, kind, role, sheet=getattr(rules.inputs, role).sheet,
                        rows=rules.inputs.header_search_rows) or []
    best: tuple[int, str | None, list[Any]] = (0, None, [])
    for sheet, rows in sheets:
        for cells in rows:
            hits = sum(1 for cell in cells if cell not in (None, "") and normalize_header(cell) in known)
            if hits > best[0]:
                best = (hits, sheet, cells)
    return (best[1], best[2]) if best[0] >= MIN_HEADER_HITS else (None, [])


def read_for_inference(path: Path, kind: str, role: str, rules: Rules, vocabulary: Any) -> tuple[str | None, Any]:
    """The file's whole table (every column kept), read at the row with the most known headers; None
    (before pandas loads) when no row holds MIN_HEADER_HITS of them: nothing to infer from."""
    sheet, cells = _header_row(path, kind, role, rules, vocabulary)
    headers = [str(cell).strip() for cell in cells if cell not in (None, "") and normalize_header(cell)]
    if not headers:
        return sheet, None
    from .read import read_csv, read_excel

    spec = RoleSpec(signature=headers, ignore=headers)   # the probe reads; the draft asks about unread columns
    probe = Profile(name=PROBE, title="probe", platform="probe", export="probe", source="probe", **{role: spec})
    read = read_csv if kind == "csv" else read_excel
    table = read(path, role=role, choices=[(probe, spec)], sheet=sheet, limits=rules.limits,
                 search_rows=rules.inputs.header_search_rows)
    return sheet, table


def infer_file(path: Path, role: str, rules: Rules, vocabulary: Any) -> Draft | None:
    """The draft for one file, or None when no row of it looks like a header."""
    kind = inspect_file(path, rules.limits, role=role)
    _, table = read_for_inference(path, kind, role, rules, vocabulary)
    if table is None:
        return None
    from .infer import infer_profile

    return infer_profile(role, path.name, table.headers, table.frame, rules, vocabulary)


def _problems(error: InputError) -> list[dict[str, Any]]:
    return list(error.details.get("problems") or [error.to_dict()["error"]])


# A refusal that means no profile fits the file: a column it needs is missing. Or, from a packaged profile
# as shipped (see _as_shipped), a column that matters is unread, an amount's unit unstated, or the column
# the orders join on is not read: the profile only looked like it fit.
NO_PROFILE_FITS = ("missing_column", "unread_column", "amount_unit_unstated", "join_column_missing")


def _as_shipped(problem: Mapping[str, Any], role: str, rules: Rules) -> bool:
    """Whether the profile that read a file is packaged and unchanged by the user's rules. A profile someone
    wrote or changed keeps its own precise refusal (the column to say something about), not a new draft."""
    if problem.get("code") == "missing_column":
        return True
    profile = (problem.get("details") or {}).get("profile")
    if not profile or rules.profile_origin(profile) != PACKAGED:
        return False
    return getattr(rules.inputs, role) == getattr(default_rules().inputs, role)


def _roles_to_infer(error: InputError, paths: Mapping[str, Path], rules: Rules) -> list[str]:
    """The roles whose file no profile fits, from the run's refusal (one file's, or both files')."""
    problems = _problems(error)
    role_of = {path.name: role for role, path in paths.items()}
    failed = [problem for problem in problems if problem.get("code") in NO_PROFILE_FITS
              and problem.get("file") in role_of and _as_shipped(problem, role_of[problem["file"]], rules)]
    if not failed or len(failed) != len(problems):
        return []
    names = {problem.get("file") for problem in failed}
    return [role for role, path in paths.items() if path.name in names]


def with_inferred(rules: Rules, drafts: list[Draft]) -> Rules:
    """The rules with each draft as a profile of the user's, forced for its file, its evidence kept."""
    data = rules.model_dump(mode="json")
    for draft in drafts:
        data["profiles"][draft.name] = draft.profile_data()
        data["inputs"][draft.role]["profile"] = draft.name
    try:
        built = Rules.model_validate(data)
    except ValueError as exc:
        raise InputError("invalid_answers", f"The inferred profile is not valid: {exc}") from exc
    sources = {**rules.profile_sources, **{draft.name: ("inferred from " + draft.file,) for draft in drafts}}
    return built.with_profile_sources(sources).with_inferred({d.name: d.evidence() for d in drafts})


def proposal_of(drafts: list[Draft]) -> dict[str, Any]:
    """proposal.json: each draft profile, what decided it, and the open questions."""
    return {"profiles": {draft.name: draft.profile_data() for draft in drafts},
            "decisions": {draft.role: draft.evidence() for draft in drafts},
            "questions": [question.describe() for draft in drafts for question in draft.questions],
            "answers": "memberseg run ... --answers answers.json, with answers.json holding "
                       '{"<question id>": <answer>}'}


def proposal_yaml(proposal: Mapping[str, Any]) -> str:
    """A rules file with the draft profiles; each open question a commented placeholder."""
    lines = ["# memberseg: a draft profile inferred from your files. Answer the questions below (or run",
             "# `memberseg map`), then use this file with --rules; `memberseg rules check` validates it.",
             yaml.safe_dump({"profiles": proposal["profiles"]}, sort_keys=False, allow_unicode=True).rstrip()]
    for question in proposal["questions"]:
        lines.append(f"# QUESTION {question['id']} ({question['kind']}): {question['prompt']}")
        lines.append(f"#   choices: {json.dumps(question['choices'], ensure_ascii=False)}"
                     + (f"; suggested: {json.dumps(question['suggested'], ensure_ascii=False)}"
                        if "suggested" in question else ""))
        lines.append(f"#   answer: {json.dumps(question.get('suggested'), ensure_ascii=False)}  # <- your answer")
    return "\n".join(lines) + "\n"


def split_proposal(error: InputError) -> dict[str, Any]:
    """error.json's content: the error without the proposal, which has its own files."""
    out = error.to_dict()
    if "details" in out["error"]:
        out["error"]["details"] = {key: value for key, value in error.details.items() if key != "proposal"}
    return out


def write_proposal(error: InputError, out_dir: Path) -> list[str]:
    """proposal.json and proposal.yaml beside error.json, for a needs_answers stop."""
    proposal = error.details.get("proposal")
    if error.code != NEEDS_ANSWERS or not isinstance(proposal, dict):
        return []
    (out_dir / PROPOSAL_JSON).write_text(json.dumps(proposal, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / PROPOSAL_YAML).write_text(proposal_yaml(proposal), encoding="utf-8")
    return [PROPOSAL_JSON, PROPOSAL_YAML]


def _profile_fields(path: Path, role: str, rules: Rules) -> dict[str, Any]:
    """Field -> the first JOIN_SAMPLE_ROWS values, for a file a profile reads (as its header check finds it)."""
    kind = inspect_file(path, rules.limits, role=role)
    sheets = first_rows(path, kind, role, sheet=getattr(rules.inputs, role).sheet,
                        rows=rules.inputs.header_search_rows + JOIN_SAMPLE_ROWS) or []
    search = find_header(sheets, candidate_profiles(rules, role), rules.inputs.header_search_rows)
    header = search.header
    if header is None:
        return {}
    rows = next(rows for sheet, rows in sheets if sheet == header.sheet)[header.row_index + 1:]
    return {name: [row[at] for row in rows if at < len(row)] for name, at in header.found.items()}


def _draft_fields(draft: Draft) -> dict[str, Any]:
    return {name: draft.columns[spec["aliases"][0]] for name, spec in draft.spec["fields"].items()
            if spec["aliases"][0] in draft.columns}


def infer_inputs(paths: Mapping[str, Path], rules: Rules, roles: list[str], answers: Mapping[str, Any],
                 vocabulary: Any = None) -> Rules:
    """The rules with an inferred profile for each role in `roles`, or NeedsAnswers."""
    vocabulary = load_vocabulary() if vocabulary is None else vocabulary
    drafts: dict[str, Draft] = {}
    for role in roles:
        draft = infer_file(paths[role], role, rules, vocabulary)
        if draft is None:
            return rules
        drafts[role] = draft
    from .infer import check_join

    fields = {role: _draft_fields(drafts[role]) if role in drafts else _profile_fields(paths[role], role, rules)
              for role in paths}
    check_join(drafts.get("orders"), fields["orders"], drafts.get("memberships"), fields["memberships"])
    return settle(list(drafts.values()), rules, answers)


def settle(drafts: list[Draft], rules: Rules, answers: Mapping[str, Any]) -> Rules:
    """The drafts with the answers applied: the rules to run with, or NeedsAnswers naming what is open."""
    from .infer import apply_answers

    open_ids: list[str] = []
    for draft in drafts:
        try:
            open_ids += apply_answers(draft, answers)
        except ValueError as exc:
            raise InputError("invalid_answers", f"An answer does not fit: {exc}.", file=draft.file) from exc
    if open_ids:
        files = sorted({draft.file for draft in drafts})
        raise NeedsAnswers(NEEDS_ANSWERS, f"No profile fits {' and '.join(repr(f) for f in files)}; memberseg drafted "
                           f"one from the file, but {len(open_ids)} question(s) need your answer: "
                           f"{', '.join(open_ids[:5])}{' ...' if len(open_ids) > 5 else ''}. See proposal.json, or "
                           "run `memberseg map`.", file=files[0],
                           details={"questions": open_ids, "proposal": proposal_of(drafts)})
    return with_inferred(rules, drafts)


def run_inferring(memberships: Path, orders: Path, rules: Rules, as_of: dt.date, progress: Progress = no_progress,
                  *, parallel: bool = True, answers: Mapping[str, Any] | None = None,
                  vocabulary: Any = None, previous: PreviousFile | None = None) -> Result:
    """The pipeline, inferring a profile for each file none fits (see the module docstring)."""
    from .pipeline import run_pipeline

    try:
        return run_pipeline(memberships, orders, rules, as_of, progress, parallel=parallel, previous=previous)
    except InputError as error:
        paths = {"memberships": Path(memberships), "orders": Path(orders)}
        roles = [role for role in _roles_to_infer(error, paths, rules) if getattr(rules.inputs, role).profile == "auto"]
        if not roles:
            raise
        inferred = infer_inputs(paths, rules, roles, answers or {}, vocabulary)
        if inferred is rules:
            raise
    return run_pipeline(memberships, orders, inferred, as_of, progress, parallel=parallel, previous=previous)


__all__ = ["NEEDS_ANSWERS", "NeedsAnswers", "PROPOSAL_JSON", "PROPOSAL_YAML", "infer_file", "infer_inputs",
           "proposal_of", "proposal_yaml", "run_inferring", "settle", "with_inferred", "write_proposal"]
