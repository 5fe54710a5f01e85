"""A rules file from outside, loaded within bounds: at most RULES_MAX_BYTES, and parsed and
validated in a forked worker that has RULES_PARSE_TIMEOUT_S to finish.

YAML aliases let a small file name the same node millions of times (an "alias bomb"): PyYAML
builds it at once, but merging and validating it walks every path and never ends. The size
is checked before the file is read; the time bound stops whatever the size cap lets through.
The command line's `--rules` / `rules check` and a job folder's rules.yaml share these bounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..isolation import Forked, WorkerDied
from ..job_protocol import ErrorCode
from .load import ProfileFile, load_rules
from .ruleset import Rules

RULES_MAX_BYTES = 64 * 1024
RULES_PARSE_TIMEOUT_S = 10.0


def rules_too_large(path: str | Path, size: int) -> InputError:
    return InputError(ErrorCode.RULES_TOO_LARGE.value,
                      f"The rules file {path} is {size:,} bytes; a rules file may be at most "
                      f"{RULES_MAX_BYTES // 1024} KB. Remove unused sections and try again.", file=Path(path).name)


def _load_in_worker(path: Path, overlay: dict | None, profile_files: Sequence[ProfileFile], report: Any) -> Rules:
    return load_rules(path, overlay=overlay, profile_files=profile_files)


def load_rules_bounded(path: str | Path, *, overlay: dict | None = None, timeout_s: float | None = None,
                       profile_files: Sequence[ProfileFile] = ()) -> Rules:
    """`load_rules(path, overlay=..., profile_files=...)` for a file nobody vetted: InputError when it is
    larger than RULES_MAX_BYTES, or when parsing and validating it (with the profile files, which the
    caller has bounded in size) takes longer than `timeout_s` (RULES_PARSE_TIMEOUT_S by default)."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        size = 0                         # load_rules names the problem (missing, unreadable)
    if size > RULES_MAX_BYTES:
        raise rules_too_large(path, size)
    bound = RULES_PARSE_TIMEOUT_S if timeout_s is None else timeout_s
    load_rules()                         # the defaults, parsed once here and inherited by the worker
    worker = Forked(_load_in_worker, path, overlay, list(profile_files))
    try:
        rules: Rules = worker.result(timeout=bound)
    except WorkerDied as died:           # timed out or killed: the file is hostile, not the tool
        raise InputError("invalid_rules", f"The rules file {path} could not be checked within {bound:g} s; "
                         "it is too complex (many anchors or aliases?).", file=path.name) from died
    return rules
