"""A job folder's rules.yaml and the organisation's profile files (job_profiles.py), as hostile input:
together they may only tighten the safety limits.

- refused from its *listed* size above RULES_MAX_BYTES, before any download (a profile file too);
- parsed and validated in a forked worker with a time bound (the bounds of memberseg.rules.bounded,
  which the command line's --rules shares) (YAML aliases can make a 64 KB
  file expand into millions of nodes for the validator);
- every `limits.*` value becomes min(default, job's value); the segment count (the rules' own plus
  the most a profile adds) and the number of HubSpot CSV parts are capped, so outputs, events and
  the status item stay small. A profile file holds a profile only (no limits: the engine refuses them).

The result is written as JSON (valid YAML, no aliases) for memberseg.runner.run_job, with the origin
of each profile (PreparedRules.profile_sources: "input bucket profiles/acme.yaml") kept beside it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from memberseg.errors import InputError
from memberseg.job_protocol import PROFILES_PLACE, PROFILES_PREFIX
from memberseg.rules.bounded import RULES_MAX_BYTES, RULES_PARSE_TIMEOUT_S, rules_too_large

__all__ = ["RULES_MAX_BYTES", "RULES_PARSE_TIMEOUT_S", "PreparedRules", "prepare", "rules_too_large", "tightened"]

MAX_SEGMENTS = 60
MAX_CSV_PARTS = 20
MIN_CSV_PART_BYTES = 16 * 1024 * 1024
# what a message about a broken profile file adds: every job reads it, so fixing it is what helps
FIX_PROFILE = ("Every job reads the profiles in the input bucket's profiles/ folder: correct or remove {key}, "
               "then upload the job's files again.")


@lru_cache(maxsize=1)
def default_rules() -> Any:
    from memberseg.rules import load_rules
    return load_rules()


def default_max_file_bytes() -> int:
    return int(default_rules().limits.max_file_bytes)


def tightened(job: Any, ceiling: Any) -> Any:
    """The job's rules with every limit at most the default's, and capped segments / CSV parts."""
    limits = {name: min(getattr(job.limits, name), getattr(ceiling.limits, name))
              for name in type(ceiling.limits).model_fields}
    if job.most_segments > MAX_SEGMENTS:      # a profile's segments join the run's when it reads the memberships
        raise InputError("invalid_rules", _too_many_segments(job), file=_widest_profile_file(job) or "rules")
    min_rows = math.ceil(limits["max_rows"] / MAX_CSV_PARTS)
    for key, value, floor in (("max_rows_per_file", job.hubspot.max_rows_per_file, min_rows),
                              ("max_bytes_per_file", job.hubspot.max_bytes_per_file, MIN_CSV_PART_BYTES)):
        if value < floor:
            raise InputError("invalid_rules", f"hubspot.{key} is {value:,}; a job may not split the HubSpot "
                             f"file into more than {MAX_CSV_PARTS} parts, so it must be at least {floor:,}.",
                             file="rules")
    return job.model_copy(update={"limits": type(ceiling.limits)(**limits)})


def _too_many_segments(job: Any) -> str:
    own = len(job.segments)
    widest = max(job.catalog.values(), key=lambda profile: len(profile.segments))
    added = f", and the profile '{widest.name}' adds {len(widest.segments)}" if widest.segments else ""
    return (f"The rules define {own} segments{added}; a job may have at most {MAX_SEGMENTS}. "
            f"Remove segments ({job.profile_origin(widest.name) if widest.segments else 'the rules file'}).")


def _widest_profile_file(job: Any) -> str | None:
    """The profile file whose profile adds the most segments, when that is where they come from."""
    widest = max(job.catalog.values(), key=lambda profile: len(profile.segments))
    origin = job.profile_sources.get(widest.name, ())
    label = next((label for label in origin if label.startswith(f"{PROFILES_PLACE} ")), None)
    return label[len(PROFILES_PLACE) + 1:] if widest.segments and label else None


class PreparedRules(NamedTuple):
    path: Path                                   # the effective rules (JSON) for memberseg.runner.run_job
    profile_sources: dict[str, list[str]]        # by profile name: the files that wrote it, in order


def _read(path: Path, name: str, kind: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError("invalid_rules", f"The {kind} {name} is not UTF-8 text.", file=name) from exc


def _prepare_in_worker(source: Path | None, profiles: Sequence[tuple[str, Path]], target: Path,
                       report: Any) -> tuple[str, dict[str, list[str]]]:
    from memberseg.rules import ProfileFile, parse_rules

    by_label = {f"{PROFILES_PLACE} {key}": key for key, _ in profiles}
    try:
        files = [ProfileFile(key, _read(path, key, "profile file"), PROFILES_PLACE) for key, path in profiles]
        if source is None:
            job = parse_rules("", source="(none)", profile_files=files)
        else:
            job = parse_rules(_read(source, source.name, "rules file"), source=source.name,
                              suffix=source.suffix or ".yaml", profile_files=files)
        effective = tightened(job, default_rules())
    except InputError as exc:
        if exc.file in by_label:
            exc.file = by_label[exc.file]            # profiles/acme.yaml, the key the user can find
        if exc.file in by_label.values():
            exc.message = f"{exc.message} {FIX_PROFILE.format(key=exc.file)}"
        elif source is not None and exc.file == "rules":
            exc.file = source.name
        raise
    target.write_text(json.dumps(effective.model_dump(mode="json"), indent=1), encoding="utf-8")
    return str(target), {name: list(labels) for name, labels in effective.profile_sources.items()}


def prepare(source: Path | None, work_dir: Path, timeout_s: float,
            profiles: Sequence[tuple[str, Path]] = ()) -> PreparedRules:
    """Validate and tighten the job's rules file (None: the defaults) with the organisation's profile
    files ((key, local copy), e.g. ("profiles/acme.yaml", path)) in a worker; returns the effective rules.

    Raises InputError (bad or too-hostile rules or profiles: final) or WorkerDied (the time bound).
    """
    from memberseg.isolation import Forked

    default_rules()      # parsed once in the parent, inherited by the fork
    target = work_dir / "effective_rules.yaml"
    bound = min(RULES_PARSE_TIMEOUT_S, max(timeout_s, 0.1))
    worker = Forked(_prepare_in_worker, source, list(profiles), target)
    try:
        path, sources = worker.result(timeout=bound)
    except InputError:
        raise
    except Exception as exc:        # the worker timed out or died: the file is hostile, not us
        what = " and ".join(([f"The rules file {source.name}"] if source else [])
                            + ([f"the profile files in {PROFILES_PREFIX}"] if profiles else []))
        raise InputError("invalid_rules", f"{what[0].upper()}{what[1:]} could not be checked within {bound:g} s; "
                         f"{'they are' if source and profiles else 'it is'} too complex (many anchors or aliases?).",
                         file=source.name if source else PROFILES_PREFIX) from exc
    return PreparedRules(Path(path), sources)
