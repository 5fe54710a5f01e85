"""What changed since the previous run: the dates carried over from run to run, the Changes, and the
customer state the next run compares with.

A run reads the previous run's state (`memberseg run --since DIR`; none: a first run, everyone is new) and
adds to each customer:
- `<segment>_since`: the as-of date of the run that first saw the customer in the segment, carried over
  while they stay in it; blank when they are not in it (a first run: its as-of date);
- `membership_status_changed_at` and `previous_membership_status`: the as-of date of the run that saw the
  status change, and the status before it, carried over while the status stays (a new customer: this
  run's as-of date and no previous status).
Dates are the runs' as-of dates, never the wall clock.

The Changes list every customer who is new, gone (in the previous state, not in this run), or whose status,
segments, tier or total changed, or who renewed: whose expiration date moved later (both runs have one, and
this run's is after the previous one's).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .hubspot import date_text, money_text
from .rules import Rules, since_column
from .state_file import HASH_COLUMN, STATE_COLUMNS, gzip_bytes, invalid_state, segment_flags, state_as_of

HASH_CHARS = 32            # 128 bits of SHA-256: plenty to tell two contacts' values apart
HASH_SEPARATOR = "\x1f"    # a control character: never in a CSV cell (memberseg.hubspot takes them out)
CHANGE_KINDS = ("new", "changed", "gone")


@dataclass
class PreviousState:
    as_of: dt.date | None           # None: a state with no customers
    frame: pd.DataFrame             # every column as text, indexed by customer_key
    segments: list[str]             # the segment properties it records


@dataclass
class Changes:
    since: dt.date | None           # the previous run's as-of date; None on a first run
    as_of: dt.date
    rows: pd.DataFrame              # the Changes sheet: one row per changed, new or gone customer
    counts: dict                    # report.json's `changes`
    words: str                      # the same, in words
    gone: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"email": pd.Series(dtype=object)}))
    # `gone`: the emails of the gone customers who were in HubSpot (their flags are cleared)


def read_state(data: bytes, where: str) -> PreviousState:
    """A state file's bytes as a PreviousState; a clear error naming `where` when it is not one."""
    as_of = state_as_of(data, where)
    try:
        frame = pd.read_csv(io.BytesIO(data), compression="gzip", dtype=str, keep_default_na=False,
                            na_filter=False, encoding="utf-8")
    except (OSError, EOFError, ValueError, pd.errors.ParserError) as exc:
        raise invalid_state(where, str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable") from exc
    columns = list(frame.columns)
    segments = segment_flags(columns)
    if columns[len(STATE_COLUMNS):-1] != [name for seg in segments for name in (seg, since_column(seg))]:
        raise invalid_state(where, "its segment columns are not pairs of a flag and its _since date")
    if frame["customer_key"].duplicated().any():
        raise invalid_state(where, "a customer_key appears twice")
    if (frame["as_of"] != (as_of.isoformat() if as_of else "")).any():
        raise invalid_state(where, "its rows have different as_of dates")
    for name in segments:
        if not frame[name].isin(["true", "false"]).all():
            raise invalid_state(where, f"column {name} holds a value other than true or false")
    for name in ("membership_status_changed_at", "membership_expiration_date", *map(since_column, segments)):
        try:
            frame[name].to_numpy(dtype="datetime64[D]")
        except ValueError as exc:
            raise invalid_state(where, f"column {name} holds a value that is not a YYYY-MM-DD date") from exc
    return PreviousState(as_of, frame.set_index("customer_key", drop=False), segments)


def _dates(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=object).astype("datetime64[D]") if len(values) else np.array([], "datetime64[D]")


def _at(previous: pd.DataFrame, column: str, positions: np.ndarray, missing: str = "") -> np.ndarray:
    """The previous state's `column` for each current customer (its position there, -1 for none)."""
    if column not in previous:
        return np.full(len(positions), missing, dtype=object)
    values = previous[column].to_numpy(dtype=object)
    found = positions >= 0
    out = np.full(len(positions), missing, dtype=object)
    out[found] = values[positions[found]]
    return out


def _listed(parts: list[tuple[np.ndarray, str]], size: int) -> np.ndarray:
    """Per row, the texts whose mask is true, joined with ", "."""
    text = pd.Series("", index=range(size), dtype=object)
    for mask, piece in parts:
        text = text + np.where(mask, ", " + piece, "")
    return text.str.removeprefix(", ").to_numpy(dtype=object)


def carry_over(members: pd.DataFrame, previous: PreviousState | None, rules: Rules, as_of: dt.date
               ) -> tuple[pd.DataFrame, Changes]:
    """The members with their carried-over dates (see the module docstring), and the changes since `previous`."""
    prior = previous.frame if previous is not None else pd.DataFrame(columns=[*STATE_COLUMNS, HASH_COLUMN])
    prior_segments = set(previous.segments) if previous is not None else set()
    size = len(members)
    today = np.datetime64(as_of, "D")
    positions = prior.index.get_indexer(members["customer_key"]) if len(prior) else np.full(size, -1)
    matched = positions >= 0
    members = members.copy()

    status = members["membership_status"].to_numpy(dtype=object)
    status_before = _at(prior, "membership_status", positions)
    status_changed = matched & (status != status_before)
    changed_at_before = _dates(_at(prior, "membership_status_changed_at", positions))
    keep_date = matched & ~status_changed & ~np.isnat(changed_at_before)
    members["membership_status_changed_at"] = np.where(keep_date, changed_at_before, today).astype("datetime64[s]")
    previous_status = np.where(status_changed, status_before,
                               np.where(matched, _at(prior, "previous_membership_status", positions), ""))
    members["previous_membership_status"] = pd.Series(previous_status, index=members.index, dtype=object)

    entered_parts, left_parts, entered, left = [], [], {}, {}
    for seg in rules.segments:
        now = members[seg.property].to_numpy(dtype=bool)
        before = _at(prior, seg.property, positions, "false") == "true" if seg.property in prior_segments \
            else np.zeros(size, dtype=bool)
        since_before = _dates(_at(prior, since_column(seg.property), positions))
        kept = now & before & ~np.isnat(since_before)
        since = np.where(kept, since_before, np.where(now, today, np.datetime64("NaT", "D")))
        members[since_column(seg.property)] = since.astype("datetime64[s]")
        entered_parts.append((now & ~before, seg.label))
        left_parts.append((before & ~now, seg.label))
        entered[seg.property] = int((now & ~before).sum())
        left[seg.property] = int((before & ~now).sum())

    tier_before = _at(prior, "order_value_tier", positions)
    total_before = _at(prior, "total_order_value", positions)
    total_now = money_text(members["total_order_value"]).to_numpy(dtype=object)
    tier_changed = matched & (members["order_value_tier"].to_numpy(dtype=object) != tier_before)
    total_changed = matched & (total_now != total_before)
    expiration_now = members["expiration"].to_numpy().astype("datetime64[D]")
    expiration_before = _dates(_at(prior, "membership_expiration_date", positions))
    renewed = matched & ~np.isnat(expiration_now) & ~np.isnat(expiration_before) & (expiration_now > expiration_before)
    entered_any = np.logical_or.reduce([mask for mask, _ in entered_parts]) if entered_parts else np.zeros(size, bool)
    left_any = np.logical_or.reduce([mask for mask, _ in left_parts]) if left_parts else np.zeros(size, bool)
    changed = ~matched | status_changed | entered_any | left_any | tier_changed | total_changed | renewed
    what = _listed([(~matched, "new"), (status_changed, "status"), (entered_any, "segments entered"),
                    (left_any, "segments left"), (tier_changed, "tier"), (total_changed, "total"),
                    (renewed, "renewed")], size)
    since_text = previous.as_of.isoformat() if previous is not None and previous.as_of else ""
    current = pd.DataFrame({
        "change": np.where(matched, "changed", "new"), "what": what,
        "customer_id": members["customer_id"].to_numpy(dtype=object),
        "customer_name": members["customer_name"].to_numpy(dtype=object),
        "email": members["email"].to_numpy(dtype=object),
        "status_before": status_before, "status_after": status,
        "entered": _listed(entered_parts, size), "left": _listed(left_parts, size),
        "tier_before": tier_before, "tier_after": members["order_value_tier"].to_numpy(dtype=object),
        "total_before": total_before, "total_after": total_now,
        "expiration_before": expiration_before, "expiration_after": expiration_now,
        "as_of_before": np.where(matched, since_text, ""), "as_of_after": as_of.isoformat(),
    })[changed]

    gone_mask = ~prior.index.isin(members["customer_key"]) if len(prior) else np.zeros(0, dtype=bool)
    gone = prior[gone_mask]
    gone_left = [(gone[seg.property].to_numpy(dtype=object) == "true", seg.label) for seg in rules.segments
                 if seg.property in prior_segments]
    for seg in rules.segments:
        if seg.property in prior_segments:
            left[seg.property] += int((gone[seg.property] == "true").sum())
    gone_rows = pd.DataFrame({
        "change": "gone", "what": "no longer in the export",
        "customer_id": gone["customer_id"].to_numpy(dtype=object),
        "customer_name": gone["customer_name"].to_numpy(dtype=object), "email": gone["email"].to_numpy(dtype=object),
        "status_before": gone["membership_status"].to_numpy(dtype=object), "status_after": "",
        "entered": "", "left": _listed(gone_left, len(gone)),
        "tier_before": gone["order_value_tier"].to_numpy(dtype=object), "tier_after": "",
        "total_before": gone["total_order_value"].to_numpy(dtype=object), "total_after": "",
        "expiration_before": _dates(gone["membership_expiration_date"].to_numpy(dtype=object)),
        "expiration_after": np.datetime64("NaT", "D"), "as_of_before": since_text, "as_of_after": as_of.isoformat(),
    })
    rows = pd.concat([current, gone_rows], ignore_index=True) if len(gone_rows) else current.reset_index(drop=True)

    counts = {"since": since_text or None, "new": int((~matched).sum()), "gone": int(len(gone)),
              "status_changed": int(status_changed.sum()), "entered": entered, "left": left}
    became = {label: int((status_changed & (status == label)).sum()) for label in rules.status.labels.all()}
    words = change_words(counts, became, int(renewed.sum()), rules)
    in_hubspot = gone[gone[HASH_COLUMN] != ""]
    return members, Changes(since=previous.as_of if previous else None, as_of=as_of, rows=rows, counts=counts,
                            words=words, gone=pd.DataFrame({"email": in_hubspot["email"].to_numpy(dtype=object)}))


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one)}"


def change_words(counts: dict, became: dict[str, int], renewed: int, rules: Rules) -> str:
    """The changes in one sentence: "since 2026-11-01: 14 became Expiring Soon, 9 renewed, 3 expired, 5 new
    members". Renewed: the expiration date moved later; expired / became X: the status changed to it."""
    labels = rules.status.labels
    parts = [_count(became[labels.expiring_soon], f"became {labels.expiring_soon}")] if became[labels.expiring_soon] \
        else []
    parts += [_count(renewed, "renewed")] if renewed else []
    parts += [_count(became[labels.expired], "expired")] if became[labels.expired] else []
    parts += [_count(became[label], f"became {label}") for label in (labels.active, labels.inactive) if became[label]]
    parts += [_count(counts["new"], "new member", "new members")] if counts["new"] else []
    parts += [_count(counts["gone"], "no longer in the export")] if counts["gone"] else []
    if counts["since"] is None:
        return "first run: " + (", ".join(parts) or "no members")
    return f"since {counts['since']}: " + (", ".join(parts) or "no changes")


def hubspot_hashes(frame: pd.DataFrame) -> np.ndarray:
    """Per CSV row, a hash of the values it sends to HubSpot: the columns sorted by name, each written
    `name=value` and ended by HASH_SEPARATOR, UTF-8, SHA-256 (its first HASH_CHARS hex digits)."""
    joined = pd.Series("", index=frame.index, dtype=object)
    for name in sorted(frame.columns):
        joined = joined + f"{name}=" + frame[name].fillna("").astype(str) + HASH_SEPARATOR
    return np.array([hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS] for text in joined], dtype=object)


def _text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "").astype(str)


def state_frame(members: pd.DataFrame, hashes: pd.Series, rules: Rules, as_of: dt.date) -> pd.DataFrame:
    """One row per customer, in Members order (see STATE_COLUMNS); `hashes` by members index, for the
    customers in the HubSpot CSV (blank for the others)."""
    columns: dict[str, object] = {
        "as_of": as_of.isoformat(), "customer_key": _text(members["customer_key"]),
        "customer_id": _text(members["customer_id"]), "customer_name": _text(members["customer_name"]),
        "email": _text(members["email"]), "membership_status": _text(members["membership_status"]),
        "membership_status_changed_at": date_text(members["membership_status_changed_at"]),
        "previous_membership_status": _text(members["previous_membership_status"]),
        "membership_expiration_date": date_text(members["expiration"]),
        "order_value_tier": _text(members["order_value_tier"]),
        "total_order_value": money_text(members["total_order_value"]),
    }
    for seg in rules.segments:
        columns[seg.property] = np.where(members[seg.property].to_numpy(dtype=bool), "true", "false")
        columns[since_column(seg.property)] = date_text(members[since_column(seg.property)])
    columns[HASH_COLUMN] = hashes.reindex(members.index).fillna("")
    return pd.DataFrame(columns, index=members.index).reset_index(drop=True)


def state_bytes(state: pd.DataFrame) -> bytes:
    """The state file: UTF-8 CSV, LF line ends, gzip without a time stamp (the same state, the same bytes)."""
    buffer = io.StringIO()
    state.to_csv(buffer, index=False, lineterminator="\n")
    return gzip_bytes(buffer.getvalue().encode("utf-8"))
