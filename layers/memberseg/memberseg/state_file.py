"""The customer state file (customer_state.csv.gz) as bytes: its fixed columns, the previous run's file
found and checked before a run starts, and the deterministic gzip it is written with.

Standard library only: the runner checks a `--since` folder before the worker (and pandas) starts, so a
wrong folder is refused at once. `memberseg.changes` reads the whole file and builds the next one.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .job_protocol import STATE_NAME

# The columns every state starts with, in order; then per segment its flag and `<segment>_since`, then the hash.
STATE_COLUMNS = ("as_of", "customer_key", "customer_id", "customer_name", "email", "membership_status",
                 "membership_status_changed_at", "previous_membership_status", "membership_expiration_date",
                 "order_value_tier", "total_order_value")
HASH_COLUMN = "hubspot_hash"
GZIP_LEVEL = 6


def segment_flags(header: list[str]) -> list[str]:
    """The segment flag columns of a state's header (each is followed by its `<segment>_since`)."""
    return header[len(STATE_COLUMNS):-1:2]


@dataclass(frozen=True)
class PreviousFile:
    """The previous run's state file, read before the run (its folder may be the run's own output folder)."""

    data: bytes
    where: str           # the folder (or job) it came from, for messages


def gzip_bytes(data: bytes) -> bytes:
    """Gzip with no time stamp and no file name in the header: the same state gives the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=GZIP_LEVEL, mtime=0) as out:
        out.write(data)
    return buffer.getvalue()


def invalid_state(where: str, problem: str) -> InputError:
    return InputError("since_state_invalid", f"The previous run's state {STATE_NAME} in {where} cannot be read "
                      f"({problem}). Pass the output folder of a finished memberseg run, or run without --since.",
                      file=where)


def read_previous(folder: Path) -> bytes:
    """The state file a finished run left in `folder`; a clear error when there is none."""
    path = Path(folder) / STATE_NAME
    if not path.is_file():
        raise InputError("since_state_missing", f"{folder} holds no {STATE_NAME}, so there is no previous run to "
                         "compare with. Pass the output folder of a finished memberseg run (one made by this "
                         "version or later), or run without --since.", file=str(folder))
    return path.read_bytes()


def state_as_of(data: bytes, where: str) -> dt.date | None:
    """The as-of date a state was made on, from its header and first row (None when it holds no customer)."""
    try:
        with gzip.open(io.BytesIO(data), "rt", encoding="utf-8", newline="") as text:
            rows = csv.reader(text)
            header = next(rows, None)
            first = next(rows, None)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as exc:
        raise invalid_state(where, f"not a gzip-compressed UTF-8 CSV: {exc}") from exc
    if header is None or tuple(header[:len(STATE_COLUMNS)]) != STATE_COLUMNS or header[-1] != HASH_COLUMN:
        raise invalid_state(where, "its header is not a customer state's")
    if first is None:
        return None
    try:
        return dt.date.fromisoformat(first[0])
    except ValueError as exc:
        raise invalid_state(where, f"as_of {first[0]!r} is not a YYYY-MM-DD date") from exc


def check_previous(data: bytes, as_of: dt.date, where: str) -> dt.date | None:
    """The previous state's as-of date, refused when it is after this run's: a run compares only with the past."""
    since = state_as_of(data, where)
    if since is not None and since > as_of:
        raise InputError("since_state_later", f"The previous run in {where} is as of {since.isoformat()}, after this "
                         f"run's as-of date {as_of.isoformat()}. A run compares only with an earlier (or the same) "
                         "as-of date: pass a later --as-of or an older folder.", file=where)
    return since
