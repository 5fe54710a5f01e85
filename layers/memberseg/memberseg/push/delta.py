"""Which contacts a push sends: only those whose HubSpot values differ from the last state HubSpot accepted.

A finished push records in hubspot_import.json `accepted`: the state it made current, as the run's
customer_state.csv.gz digest plus what HubSpot did not take (the customer keys of rows with errors, and
the files whose import did not end DONE or whose errors were not all listed). The next run's push
(`memberseg run --since PREVIOUS_OUT_DIR`, then `memberseg push`) reads the previous folder's record and
state, and sends a contact when its `hubspot_hash` differs from the accepted one (or none was accepted),
plus every gone customer's row of cleared flags. A customer HubSpot may still hold with true flags (a
contact of the accepted state, or a cleared row HubSpot did not take) who is no longer in the export gets
a cleared row too, unless the run says `hubspot.gone_customers: keep`: the run's own cleared rows name
only the customers gone since the previous *run*, whose push may not have ended well. The rows it sends
are written to DIR/hubspot_delta/ under the original file names, so the import requests stay as they are
and a resumed push uploads the same rows.

Standard library only, like the rest of the push.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..job_protocol import HUBSPOT_DELTA_FOLDER, HUBSPOT_IMPORT_NAME, STATE_NAME
from ..state_file import HASH_COLUMN, segment_flags

ACCEPTED_KEY = "accepted"       # hubspot_import.json: the state this push made current
COUNT_KINDS = ("added", "changed", "unchanged", "cleared")


@dataclass
class StateRows:
    """The HubSpot contacts of a run's state, in CSV order: customer key, email, hash; with every customer
    key of the state (in the CSV or not) and its segment flag columns."""

    keys: list[str]
    emails: list[str]
    hashes: list[str]
    customers: set[str] = field(default_factory=set)
    flags: list[str] = field(default_factory=list)

    def key_of_email(self) -> dict[str, str]:
        return dict(zip(self.emails, self.keys, strict=True))


@dataclass
class AcceptedState:
    """What HubSpot holds after a finished push: the hash of each contact it took, by customer key, and every
    email whose segment flags may be true there (email -> customer key; "" for a cleared row it did not take)."""

    hashes: dict[str, str]
    held: dict[str, str] = field(default_factory=dict)

    @classmethod
    def all_taken(cls, rows: StateRows) -> AcceptedState:
        """As after a push HubSpot took whole: every contact of `rows` (a run's state) at its hash."""
        return cls(dict(zip(rows.keys, rows.hashes, strict=True)), rows.key_of_email())


@dataclass
class DeltaPlan:
    """What a delta push sends: per CSV part, the rows (header first), and the counts."""

    since: str                                  # the previous run's folder
    parts: dict[str, list[list[str]]]           # file name -> header + the rows sent (parts with none left out)
    counts: dict[str, int] = field(default_factory=dict)

    def record(self) -> dict:
        return {"since": self.since, "counts": self.counts, "files": list(self.parts),
                "rows": {name: len(table) - 1 for name, table in self.parts.items()}}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def state_rows(directory: Path) -> StateRows | None:
    """The run's contacts from its state (rows with a hash are the CSV's contacts, in order); None without one."""
    path = Path(directory) / STATE_NAME
    if not path.is_file():
        return None
    with gzip.open(path, "rt", encoding="utf-8", newline="") as text:
        reader = csv.DictReader(text)
        everyone = list(reader)
        header = list(reader.fieldnames or [])
    rows = [row for row in everyone if row.get(HASH_COLUMN)]
    return StateRows([row["customer_key"] for row in rows], [row["email"] for row in rows],
                     [row[HASH_COLUMN] for row in rows], {row["customer_key"] for row in everyone},
                     segment_flags(header))


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def _file_emails(directory: Path, name: str) -> list[str]:
    """The emails of a pushed file's rows, in line order ([] when the file is gone)."""
    path = Path(directory) / name
    if not path.is_file():
        return []
    rows = read_csv(path)
    if not rows or "email" not in rows[0]:
        return []
    column = rows[0].index("email")
    return [row[column] for row in rows[1:] if len(row) > column]


def uploaded_name(entry_file: str, delta: bool) -> str:
    """Where the rows an import sent sit, relative to DIR."""
    return f"{HUBSPOT_DELTA_FOLDER}/{entry_file}" if delta else entry_file


def accepted_record(directory: Path, imports: list[dict], *, delta: bool,
                    errors_incomplete: Callable[[dict], bool]) -> dict | None:
    """The state a finished push made current: the state's digest, the keys of rows HubSpot refused, the
    emails of cleared rows it refused, and the files that did not make it whole (an import not DONE, a row
    error without a line, errors not all listed)."""
    state_path = Path(directory) / STATE_NAME
    rows = state_rows(directory)
    if rows is None:
        return None
    key_of = rows.key_of_email()
    refused_keys: set[str] = set()
    refused_cleared: set[str] = set()
    refused_files: list[str] = []
    for entry in imports:
        name = uploaded_name(entry["file"], delta)
        lines = [error.get("line") for error in entry.get("errors") or []]
        if entry.get("state") != "DONE" or errors_incomplete(entry) or any(not isinstance(n, int) for n in lines):
            refused_files.append(name)
            continue
        emails = _file_emails(directory, name)
        for line in lines:          # line 1 is the header
            if 2 <= line <= len(emails) + 1:
                email = emails[line - 2]
                if email in key_of:
                    refused_keys.add(key_of[email])
                else:
                    refused_cleared.add(email)
    return {"state": STATE_NAME, "state_sha256": file_sha256(state_path),
            "not_accepted_keys": sorted(refused_keys), "not_accepted_cleared": sorted(refused_cleared),
            "not_accepted_files": refused_files}


def previous_accepted(folder: Path) -> AcceptedState | None:
    """What HubSpot holds after `folder`'s last finished push; None when there is none, or when its state is
    not the one that push recorded."""
    folder = Path(folder)
    try:
        record = json.loads((folder / HUBSPOT_IMPORT_NAME).read_text(encoding="utf-8")).get(ACCEPTED_KEY)
    except (OSError, ValueError, AttributeError):
        return None
    state_path = folder / STATE_NAME
    if not isinstance(record, dict) or not state_path.is_file() \
            or record.get("state_sha256") != file_sha256(state_path):
        return None
    rows = state_rows(folder)
    if rows is None:
        return None
    refused, cleared = _refused(folder, record, rows)
    taken = [(key, email, value) for key, email, value in zip(rows.keys, rows.emails, rows.hashes, strict=True)
             if key not in refused]
    return AcceptedState({key: value for key, _, value in taken},
                         {**{email: key for key, email, _ in taken}, **dict.fromkeys(cleared, "")})


def _refused(folder: Path, record: dict, rows: StateRows) -> tuple[set[str], list[str]]:
    """The customer keys HubSpot did not take (those named, and every contact of a file not taken whole), and
    the emails of cleared rows it did not take (likewise)."""
    refused = set(record.get("not_accepted_keys") or [])
    cleared = set(record.get("not_accepted_cleared") or [])
    key_of = rows.key_of_email()
    for name in record.get("not_accepted_files") or []:
        for email in _file_emails(folder, str(name)):
            if email in key_of:
                refused.add(key_of[email])
            else:
                cleared.add(email)
    return refused, sorted(cleared)


def portable_accepted(directory: Path, record: dict) -> dict:
    """An `accepted` record that needs only the state beside it: the files not taken whole become the keys of
    their contacts and the emails of their cleared rows (the S3 flow keeps it with the job's states; the run
    folder and its CSV files go)."""
    rows = state_rows(directory)
    refused, cleared = _refused(Path(directory), record, rows) if rows is not None else (set(), [])
    return {**record, "not_accepted_keys": sorted(refused), "not_accepted_cleared": cleared,
            "not_accepted_files": []}


def plan_delta(directory: Path, files: list[Path], since: Path, accepted: AcceptedState, *,
               clear_gone: bool = False) -> DeltaPlan | None:
    """The rows to send, and the counts; None when this run's CSV and state do not line up (push everything).
    With `clear_gone` (the run's `hubspot.gone_customers: clear`), see `stale_rows`."""
    rows = state_rows(directory)
    if rows is None:
        return None
    counts = dict.fromkeys(COUNT_KINDS, 0)
    tables: list[tuple[Path, list[list[str]], list[list[str]]]] = []     # each file: its table, the rows sent
    cleared_emails: set[str] = set()
    position = 0        # the contacts come first, in state order; then the gone customers' cleared rows
    for path in files:
        table = read_csv(path)
        if not table or "email" not in table[0]:
            return None
        column = table[0].index("email")
        sent = []
        for row in table[1:]:
            if position < len(rows.keys):
                if row[column] != rows.emails[position]:
                    return None
                key, value = rows.keys[position], rows.hashes[position]
                position += 1
                if accepted.hashes.get(key) == value:
                    counts["unchanged"] += 1
                    continue
                counts["changed" if key in accepted.hashes else "added"] += 1
            else:
                counts["cleared"] += 1
                cleared_emails.add(row[column])
            sent.append(row)
        tables.append((path, table, sent))
    if position != len(rows.keys):
        return None
    stale = stale_emails(accepted, rows, cleared_emails) if clear_gone else []
    counts["cleared"] += len(stale)
    return DeltaPlan(str(since), _parts(tables, stale, rows.flags), counts)


def _parts(tables: list[tuple[Path, list[list[str]], list[list[str]]]], stale: list[str],
           flags: list[str]) -> dict[str, list[list[str]]]:
    """Each file's rows sent, plus cleared rows for `stale`: a file takes as many as it left out (the last
    takes the rest), so no part outgrows the file HubSpot's limits were kept for."""
    parts: dict[str, list[list[str]]] = {}
    for number, (path, table, sent) in enumerate(tables):
        room = len(stale) if number == len(tables) - 1 else max(0, len(table) - 1 - len(sent))
        taken, stale = stale[:room], stale[room:]
        rows = sent + [cleared_row(table[0], flags, email) for email in taken]
        if rows:
            parts[path.name] = [table[0], *rows]
    return parts


def stale_emails(accepted: AcceptedState, rows: StateRows, cleared: set[str]) -> list[str]:
    """The emails HubSpot may hold with true flags of customers no longer in the export that this run's CSV does
    not clear: not a customer of this run's state, nor an email a current contact holds (as
    `hubspot.clearable`), nor one of the run's own cleared rows."""
    current = set(rows.emails) | cleared
    return [email for email, key in accepted.held.items()
            if email and email not in current and not (key and key in rows.customers)]


def cleared_row(header: list[str], flags: list[str], email: str) -> list[str]:
    """A row like `hubspot.gone_rows`: the email, every segment flag false, the rest blank."""
    values = {"email": email, **dict.fromkeys(flags, "false")}
    return [values.get(name, "") for name in header]


def write_delta(directory: Path, plan: DeltaPlan) -> list[Path]:
    """The plan's CSV parts in DIR/hubspot_delta/ (replacing any earlier ones)."""
    folder = Path(directory) / HUBSPOT_DELTA_FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    paths = []
    for name, table in plan.parts.items():
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(table)
        (folder / name).write_text(buffer.getvalue(), encoding="utf-8")
        paths.append(folder / name)
    return paths


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts.get(kind, 0):,} {kind}" for kind in COUNT_KINDS)
