"""hypothesis properties of the whole pipeline over messy generated inputs.

Each generated row carries what the spec says must happen to it (valid or rejected,
its customer key, whether an order matches), computed here from the rules, never
from the engine. The properties:

(a) every input row ends in exactly one place (memberships: Members / Duplicates
    Removed / rejected; orders: matched / unmatched / rejected);
(b) exactly one Members row per customer key;
(c) HubSpot emails are unique and valid;
(d) re-running gives a byte-identical CSV and the same report.json apart from timings.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import MEMBERSHIP_HEADERS, ORDER_HEADERS, membership, order, write_csv, write_xlsx
from memberseg.pipeline import run_pipeline
from memberseg.write import write_outputs
from memberseg.rules import parse_rules

# These properties spell out the fixed-locale reading (MDY, decimal point): the generated dates mix
# "31/01/2024" garbage with MDY text, which auto-detection would rightly call a contradiction.
RULES = parse_rules("inputs: {date_order: MDY, decimal_separator: '.'}")
AS_OF = dt.date(2026, 11, 15)
GRACE = 7
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- the spec's own readings, written independently of the engine -----------------------------


def spec_id_key(text: str) -> str:
    key = text.strip().casefold()
    return key.lstrip("0") if key.isdigit() else key


def spec_name_key(text: str) -> str:
    folded = text.casefold()
    kept = "".join(ch for ch in folded if not unicodedata.category(ch).startswith("P"))
    return " ".join(kept.split())


def spec_valid_email(text: str | None) -> bool:
    if text is None:
        return False
    email = text.strip().lower()
    return bool(EMAIL_RE.match(email)) and email[:1] not in ("=", "+", "-", "@")


# --- generated values -------------------------------------------------------------------------

@dataclass
class Cell:
    """A value to write, plus what the spec says it means."""
    value: Any          # what goes into the file
    meaning: Any        # the parsed value per the spec (None = blank/missing, "bad" = unparseable)


IDS = [1, 2, 3, 12, 77]


@st.composite
def id_cells(draw, xlsx: bool, allow_unknown: bool = False) -> Cell:
    pool = IDS + ([901, 902] if allow_unknown else [])
    kind = draw(st.sampled_from(["int", "padded", "text", "blank", "spaced"] + (["float"] if xlsx else [])))
    if kind == "blank":
        return Cell(None, None)
    if kind == "text":
        word = draw(st.sampled_from(["AB-1", "ab-1", "Ab-1", "X9"] + (["ZZ-404"] if allow_unknown else [])))
        return Cell(word, spec_id_key(word))
    number = draw(st.sampled_from(pool))
    if kind == "int":
        return Cell(number, str(number))
    if kind == "float":
        return Cell(float(number), str(number))
    if kind == "spaced":
        return Cell(f"  {number} ", str(number))
    width = draw(st.integers(len(str(number)) + 1, 6))
    return Cell(str(number).zfill(width), str(number))


NAMES = ["Acme Inc", "ACME, Inc.", "acme  inc", "Beta Co.", "beta co", "Gamma-Ray Ltd", "O'Brien & Sons", "Straße AG"]


@st.composite
def name_cells(draw) -> Cell:
    if draw(st.integers(0, 5)) == 0:
        return Cell(None, None)
    name = draw(st.sampled_from(NAMES))
    return Cell(name, spec_name_key(name))


BASE = dt.date(2024, 1, 1)


def date_cell(draw, day: dt.date, xlsx: bool) -> Cell:
    fmt = draw(st.sampled_from(["real", "iso", "iso_time", "mdy"] + (["serial"] if xlsx else [])))
    if fmt == "real" and xlsx:
        return Cell(dt.datetime.combine(day, dt.time(draw(st.integers(0, 23)))), day)
    if fmt == "serial":
        return Cell((day - dt.date(1899, 12, 30)).days, day)
    if fmt == "iso_time":
        return Cell(f"{day.isoformat()} 13:45:00", day)
    if fmt == "mdy":
        return Cell(f"{day.month:02d}/{day.day:02d}/{day.year}", day)
    return Cell(day.isoformat(), day)


GARBAGE_DATES = ["not a date", "31/01/2024", "2024-13-45", "soon"]


@st.composite
def membership_rows(draw, xlsx: bool) -> tuple[list[Any], dict]:
    cid = draw(id_cells(xlsx))
    name = draw(name_cells())
    created_kind = draw(st.sampled_from(["ok"] * 6 + ["blank", "garbage"]))
    created_day = BASE + dt.timedelta(days=draw(st.integers(0, 3 * 365)))
    if created_kind == "ok":
        created = date_cell(draw, created_day, xlsx)
    elif created_kind == "blank":
        created = Cell(None, None)
    else:
        created = Cell(draw(st.sampled_from(GARBAGE_DATES)), "bad")
    exp_kind = draw(st.sampled_from(["ok"] * 6 + ["blank", "garbage", "before"]))
    if exp_kind == "ok":
        expires = date_cell(draw, created_day + dt.timedelta(days=draw(st.integers(0, 500))), xlsx)
    elif exp_kind == "before":
        expires = date_cell(draw, created_day - dt.timedelta(days=draw(st.integers(1, 60))), xlsx)
    elif exp_kind == "blank":
        expires = Cell(None, None)
    else:
        expires = Cell(draw(st.sampled_from(GARBAGE_DATES)), "bad")
    email = draw(st.sampled_from([None, "a@x.com", "b@x.com", " B@X.com ", "c@y.org", "shared@z.net",
                                  "foo", "=a@x.com", "a@@x.com", "no at.com", "@x.com"]))
    enrollment = draw(st.sampled_from(["Enrolled", "Not Enrolled", "not enrolled yet", "Gold"]))
    row = membership(cid.value, name.value, created.value, expires.value, email, enrollment)

    rejected = ((cid.meaning is None and name.meaning is None)
                or created.meaning in (None, "bad") or expires.meaning in (None, "bad")
                or expires.meaning < created.meaning)
    if cid.meaning is not None:
        key = ("id", cid.meaning)
    else:
        key = ("name", name.meaning)
    return row, {"rejected": rejected, "key": key, "id_key": cid.meaning, "email": email}


@st.composite
def order_rows(draw, xlsx: bool) -> tuple[list[Any], dict]:
    cid = draw(id_cells(xlsx, allow_unknown=True))
    value_kind = draw(st.sampled_from(["num", "num", "text", "blank", "garbage"]))
    if value_kind == "num":
        value: Any = draw(st.sampled_from([100, 2500.5, -125, 0, 9999.99, 0.005]))
        if not xlsx:
            value = str(value)
        ok = True
    elif value_kind == "text":
        value = draw(st.sampled_from(["$1,234.50", "(100.00)", "50-", "USD 75", "1,000"]))
        ok = True
    elif value_kind == "blank":
        value, ok = None, False
    else:
        value, ok = draw(st.sampled_from(["abc", "n/a", "lots"])), False
    day = BASE + dt.timedelta(days=draw(st.integers(0, 1000)))
    date_kind = draw(st.sampled_from(["ok", "ok", "blank", "garbage"]))
    date = (date_cell(draw, day, xlsx).value if date_kind == "ok"
            else None if date_kind == "blank" else draw(st.sampled_from(GARBAGE_DATES)))
    name = draw(st.sampled_from([None, "Acme Inc", "Unknown Co"]))
    row = order(cid.value, value, date, name)
    if all(v is None for v in row):
        row[1] = "Someone"  # a fully blank row would be skipped; blank rows are generated explicitly
    return row, {"rejected": cid.meaning is None or not ok, "id_key": cid.meaning}


@st.composite
def inputs(draw) -> dict:
    xlsx = draw(st.booleans())
    members = draw(st.lists(membership_rows(xlsx), min_size=1, max_size=25))
    orders = draw(st.lists(order_rows(xlsx), min_size=0, max_size=25))
    # Fully blank rows inside the data: skipped and not counted.
    member_blanks = draw(st.lists(st.integers(0, len(members)), max_size=2))
    order_blanks = draw(st.lists(st.integers(0, len(orders)), max_size=2)) if orders else []
    return {"xlsx": xlsx, "members": members, "orders": orders,
            "member_blanks": sorted(member_blanks), "order_blanks": sorted(order_blanks)}


def _with_blanks(rows: list[tuple[list[Any], dict]], blanks: list[int], width: int):
    """Insert blank rows; return the written rows and the Excel row number of each generated row."""
    written: list[list[Any]] = []
    numbers: list[int] = []
    blank_at = list(blanks)
    for position, (row, _) in enumerate(rows):
        while blank_at and blank_at[0] == position:
            written.append([None] * width)
            blank_at.pop(0)
        written.append(row)
        numbers.append(len(written) + 1)   # header is row 1
    while blank_at:
        written.append([None] * width)
        blank_at.pop(0)
    return written, numbers


def build_files(data: dict, folder: Path) -> tuple[Path, Path, list[int], list[int]]:
    m_rows, m_numbers = _with_blanks(data["members"], data["member_blanks"], len(MEMBERSHIP_HEADERS))
    o_rows, o_numbers = _with_blanks(data["orders"], data["order_blanks"], len(ORDER_HEADERS))
    if data["xlsx"]:
        mpath = write_xlsx(folder / "memberships.xlsx", MEMBERSHIP_HEADERS, m_rows)
        opath = write_xlsx(folder / "orders.xlsx", ORDER_HEADERS, o_rows)
    else:
        mpath = write_csv(folder / "memberships.csv", MEMBERSHIP_HEADERS, m_rows)
        opath = write_csv(folder / "orders.csv", ORDER_HEADERS, o_rows)
    return mpath, opath, m_numbers, o_numbers


class Workspace:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="memberseg-prop-"))

    def __enter__(self) -> Path:
        return self.root

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def run(data: dict, root: Path):
    inputs_dir = root / "in"
    inputs_dir.mkdir()
    mpath, opath, m_numbers, o_numbers = build_files(data, inputs_dir)
    result = run_pipeline(mpath, opath, RULES, AS_OF)
    out = root / "out"
    out.mkdir()
    write_outputs(result, out)
    return result, out, m_numbers, o_numbers


# --- properties -------------------------------------------------------------------------------

@SETTINGS
@given(inputs())
def test_every_membership_row_ends_in_exactly_one_place(data: dict) -> None:
    with Workspace() as root:
        result, out, m_numbers, _ = run(data, root)
        kept = [int(r) for r in result.members["row"]]
        dup_rows = [int(r) for r in result.member_validation.valid.loc[result.duplicates.source, "row"]]
        rejected = [int(r) for r in result.member_validation.rejected["row"]]
        everything = kept + dup_rows + rejected
        assert len(everything) == len(set(everything)), "a row landed in two places"
        assert set(everything) == set(m_numbers), "rows lost or invented (blank rows must not count)"
        expected_rejected = {n for n, (_, info) in zip(m_numbers, data["members"]) if info["rejected"]}
        assert set(rejected) == expected_rejected
        report = json.loads((out / "report.json").read_text())
        m = report["memberships"]
        assert m["rows_in"] == len(m_numbers)
        assert (m["kept"], m["consolidated"], m["rejected"]) == (len(kept), len(dup_rows), len(rejected))


@SETTINGS
@given(inputs())
def test_every_order_row_ends_in_exactly_one_place(data: dict) -> None:
    with Workspace() as root:
        result, out, _, o_numbers = run(data, root)
        known = {info["id_key"] for _, info in data["members"] if not info["rejected"] and info["id_key"] is not None}
        rejected = sum(info["rejected"] for _, info in data["orders"])
        matched = sum(not info["rejected"] and info["id_key"] in known for _, info in data["orders"])
        unmatched = len(data["orders"]) - rejected - matched
        o = json.loads((out / "report.json").read_text())["orders"]
        assert o["rows_in"] == len(o_numbers) == len(data["orders"])
        assert (o["matched"], o["unmatched"], o["rejected"]) == (matched, unmatched, rejected)
        assert o["rows_in"] == o["matched"] + o["unmatched"] + o["rejected"]
        expected_rejected_rows = {n for n, (_, info) in zip(o_numbers, data["orders"]) if info["rejected"]}
        assert {int(r) for r in result.orders_rejected["row"]} == expected_rejected_rows
        # Orders Without Membership: one row per unmatched match key, counts adding up.
        unmatched_keys = {info["id_key"] for _, info in data["orders"]
                          if not info["rejected"] and info["id_key"] not in known}
        assert len(result.order_match.unmatched) == len(unmatched_keys)
        assert int(result.order_match.unmatched["order_count"].sum()) == unmatched


@SETTINGS
@given(inputs())
def test_one_members_row_per_customer_key(data: dict) -> None:
    with Workspace() as root:
        result, _, m_numbers, _ = run(data, root)
        info_by_row = {n: info for n, (_, info) in zip(m_numbers, data["members"])}
        expected_keys = {info["key"] for info in info_by_row.values() if not info["rejected"]}
        members = result.members
        assert not members["customer_key"].duplicated().any()
        assert len(members) == len(expected_keys)
        kept_keys = [info_by_row[int(r)]["key"] for r in members["row"]]
        assert len(set(kept_keys)) == len(kept_keys), "two Members rows for one customer"
        assert set(kept_keys) == expected_keys
        # Every duplicate belongs to a customer that has a Members row, with the same key as that row.
        kept_key_by_row = {int(r): key for r, key in zip(members["row"], kept_keys)}
        dup_rows = result.member_validation.valid.loc[result.duplicates.source, "row"]
        for dup_row, kept_row in zip(dup_rows, result.duplicates["kept_row"]):
            assert info_by_row[int(dup_row)]["key"] == kept_key_by_row[int(kept_row)]


def _csv_rows(out: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(out.glob("hubspot_contacts*.csv")):
        rows += list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    return rows


@SETTINGS
@given(inputs())
def test_hubspot_emails_unique_and_valid(data: dict) -> None:
    with Workspace() as root:
        result, out, m_numbers, _ = run(data, root)
        rows = _csv_rows(out)
        emails = [row["email"].strip().lower() for row in rows]
        assert len(emails) == len(set(emails)), "an email appears twice in the HubSpot file"
        for email in emails:
            assert spec_valid_email(email), email
        # Each exported email is a valid email of that customer's own records.
        info_by_row = {n: info for n, (_, info) in zip(m_numbers, data["members"])}
        customer_emails: dict[Any, set[str]] = {}
        for info in info_by_row.values():
            if not info["rejected"] and spec_valid_email(info["email"]):
                customer_emails.setdefault(info["key"], set()).add(info["email"].strip().lower())
        all_valid = set().union(*customer_emails.values()) if customer_emails else set()
        assert set(emails) <= all_valid
        report = json.loads((out / "report.json").read_text())
        assert report["hubspot"]["rows"] == len(rows)
        assert len(rows) + report["hubspot"]["left_out"] == len(result.members)
        # A customer with at least one valid email among its valid records, whose emails are not shared
        # with any other customer, is always exported.
        owners: dict[str, set] = {}
        for key, found in customer_emails.items():
            for email in found:
                owners.setdefault(email, set()).add(key)
        private = [key for key, found in customer_emails.items()
                   if all(owners[email] == {key} for email in found)]
        for key in private:
            assert customer_emails[key] & set(emails), f"customer {key} with a private valid email left out"


@SETTINGS
@given(inputs())
def test_rerun_is_byte_identical(data: dict) -> None:
    with Workspace() as root:
        inputs_dir = root / "in"
        inputs_dir.mkdir()
        mpath, opath, _, _ = build_files(data, inputs_dir)
        outs = []
        for name in ("first", "second"):
            out = root / name
            out.mkdir()
            write_outputs(run_pipeline(mpath, opath, RULES, AS_OF), out)
            outs.append(out)
        first_csvs = sorted(p.name for p in outs[0].glob("hubspot_contacts*.csv"))
        assert first_csvs == sorted(p.name for p in outs[1].glob("hubspot_contacts*.csv"))
        assert first_csvs, "no HubSpot CSV written"
        for name in first_csvs:
            assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes()
        reports = [json.loads((out / "report.json").read_text()) for out in outs]
        for report in reports:
            assert "timings_seconds" in report
            report.pop("timings_seconds")
        assert reports[0] == reports[1]
        assert (outs[0] / "hubspot_properties.json").read_bytes() == (outs[1] / "hubspot_properties.json").read_bytes()
