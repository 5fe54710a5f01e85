"""A job folder's rules.yaml, as a hostile input: it may only tighten the safety limits.

- refused from its *listed* size above RULES_MAX_BYTES, before any download;
- parsed and validated in a forked worker with a time bound (the bounds of memberseg.rules.bounded,
  which the command line's --rules shares) (YAML aliases can make a 64 KB
  file expand into millions of nodes for the validator);
- every `limits.*` value becomes min(default, job's value); the segment count and the
  number of HubSpot CSV parts are capped, so outputs, events and the status item stay small.

The result is written as JSON (valid YAML, no aliases) for memberseg.runner.run_job.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from memberseg.errors import InputError
from memberseg.rules.bounded import RULES_MAX_BYTES, RULES_PARSE_TIMEOUT_S, rules_too_large

__all__ = ["RULES_MAX_BYTES", "RULES_PARSE_TIMEOUT_S", "prepare", "rules_too_large", "tightened"]

MAX_SEGMENTS = 60
MAX_CSV_PARTS = 20
MIN_CSV_PART_BYTES = 16 * 1024 * 1024


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
    if len(job.segments) > MAX_SEGMENTS:
        raise InputError("invalid_rules", f"The rules file defines {len(job.segments)} segments; "
                         f"a job may define at most {MAX_SEGMENTS}.", file="rules")
    min_rows = math.ceil(limits["max_rows"] / MAX_CSV_PARTS)
    for key, value, floor in (("max_rows_per_file", job.hubspot.max_rows_per_file, min_rows),
                              ("max_bytes_per_file", job.hubspot.max_bytes_per_file, MIN_CSV_PART_BYTES)):
        if value < floor:
            raise InputError("invalid_rules", f"hubspot.{key} is {value:,}; a job may not split the HubSpot "
                             f"file into more than {MAX_CSV_PARTS} parts, so it must be at least {floor:,}.",
                             file="rules")
    return job.model_copy(update={"limits": type(ceiling.limits)(**limits)})


def _prepare_in_worker(source: Path, target: Path, report: Any) -> str:
    from memberseg.rules import parse_rules

    try:
        text = source.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError("invalid_rules", f"The rules file {source.name} is not UTF-8 text.",
                         file=source.name) from exc
    job = parse_rules(text, source=source.name, suffix=source.suffix or ".yaml")
    try:
        effective = tightened(job, default_rules())
    except InputError as exc:
        exc.file = source.name
        raise
    target.write_text(json.dumps(effective.model_dump(mode="json"), indent=1), encoding="utf-8")
    return str(target)


def prepare(source: Path, work_dir: Path, timeout_s: float) -> Path:
    """Validate and tighten the job's rules file in a worker; returns the effective rules file.

    Raises InputError (bad or too-hostile rules: final) or WorkerDied (the time bound).
    """
    from memberseg.isolation import Forked

    default_rules()      # parsed once in the parent, inherited by the fork
    target = work_dir / "effective_rules.yaml"
    bound = min(RULES_PARSE_TIMEOUT_S, max(timeout_s, 0.1))
    worker = Forked(_prepare_in_worker, source, target)
    try:
        return Path(worker.result(timeout=bound))
    except InputError:
        raise
    except Exception as exc:        # the worker timed out or died: the file is hostile, not us
        raise InputError("invalid_rules", f"The rules file {source.name} could not be checked within "
                         f"{bound:g} s; it is too complex (many anchors or aliases?).",
                         file=source.name) from exc
