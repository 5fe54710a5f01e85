"""What each run of the three-run series (series_inputs.py) must write, worked out by hand from its edits.

Default rules: a membership ending in 0-30 days is Expiring Soon, one that ended is Expired; "at risk"
is Expired or Expiring Soon, high-value a total above 1,000 (tiers: Platinum from 10,000, Silver from
1,000, Bronze above 0). Between the runs (2026-12-07 -> 2026-12-14):

customer       before (12-07)                       after (12-14)                        why
Sterling       Expiring Soon, low-value at risk     Expired, low-value at risk           ended 12-13 (EXPIRY)
Frontier       Active, high-value (2,202.50)        Expiring Soon, high-value at risk    29 days left (NOW_EXPIRING)
Granite        Expiring Soon, low-value (194.98)    Active (ends 2027-12-15), renewed    RENEWAL
Northstar      -                                    Active, New Member (started 12-10)   NEW
Harbor         Expiring Soon, high-value (32,276.05, Platinum), high-value at risk  gone  GONE

so: 1 new, 1 gone, 3 status changes (Sterling, Frontier, Granite); entered: Active Membership 2 (Granite,
Northstar), Expiring Soon 1 (Frontier), Expired 1 (Sterling), New Member 1, High-Value At Risk 1 (Frontier);
left: Active Membership 1 (Frontier), Expiring Soon 3 (Sterling, Granite, Harbor), High-Value Customer 1 and
High-Value At Risk 1 (Harbor), Low-Value At Risk 1 (Granite). The third run repeats the second: no change.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import openpyxl

from series_inputs import (
    EXPIRY,
    FIRST_AS_OF,
    GONE,
    NEW,
    NOW_EXPIRING,
    RENEWAL,
    SAMPLE_CUSTOMERS,
    SECOND_AS_OF,
    UNCHANGED,
)

SEGMENTS = ("active_membership", "expiring_soon", "expired_membership", "recently_renewed", "new_member",
            "not_enrolled", "high_value_customer", "high_value_at_risk", "low_value_at_risk")
FIRST, SECOND = FIRST_AS_OF.isoformat(), SECOND_AS_OF.isoformat()
SENTENCE = (f"since {FIRST}: 1 became Expiring Soon, 1 renewed, 1 expired, 1 became Active, 1 new member, "
            "1 no longer in the export")


def _per_segment(**counts: int) -> dict[str, int]:
    return {name: counts.get(name, 0) for name in SEGMENTS}


SECOND_CHANGES = {
    "since": FIRST, "new": 1, "gone": 1, "status_changed": 3,
    "entered": _per_segment(active_membership=2, expiring_soon=1, expired_membership=1, new_member=1,
                            high_value_at_risk=1),
    "left": _per_segment(active_membership=1, expiring_soon=3, high_value_customer=1, high_value_at_risk=1,
                         low_value_at_risk=1),
}
THIRD_CHANGES = {"since": SECOND, "new": 0, "gone": 0, "status_changed": 0,
                 "entered": _per_segment(), "left": _per_segment()}

# The Changes sheet of the second run, by customer name: (Change, What Changed, Status Before, Status After,
# Segments Entered, Segments Left, Tier Before, Tier After, Total Before, Total After, Expiration Before,
# Expiration After, As-of Before, As-of After); blank cells as "" / None.
D = dt.date
SECOND_CHANGE_ROWS = {
    EXPIRY.name: ("changed", "status, segments entered, segments left", "Expiring Soon", "Expired",
                  "Expired", "Expiring Soon", "No Orders", "No Orders", 0.0, 0.0,
                  D(2026, 12, 13), D(2026, 12, 13), FIRST, SECOND),
    NOW_EXPIRING.name: ("changed", "status, segments entered, segments left", "Active", "Expiring Soon",
                        "Expiring Soon, High-Value At Risk", "Active Membership", "Silver", "Silver", 2202.5, 2202.5,
                        D(2027, 1, 12), D(2027, 1, 12), FIRST, SECOND),
    RENEWAL.name: ("changed", "status, segments entered, segments left, renewed", "Expiring Soon", "Active",
                   "Active Membership", "Expiring Soon, Low-Value At Risk", "Bronze", "Bronze", 194.98, 194.98,
                   D(2026, 12, 15), D(2027, 12, 15), FIRST, SECOND),
    NEW.name: ("new", "new, segments entered", "", "Active", "Active Membership, New Member", "", "", "No Orders",
               None, 0.0, None, D(2027, 12, 10), "", SECOND),
    GONE.name: ("gone", "no longer in the export", "Expiring Soon", "",
                "", "Expiring Soon, High-Value Customer, High-Value At Risk", "Platinum", "", 32276.05, None,
                D(2026, 12, 16), None, FIRST, SECOND),
}
CHANGE_COLUMNS = ("Change", "What Changed", "Status Before", "Status After", "Segments Entered", "Segments Left",
                  "Tier Before", "Tier After", "Total Before", "Total After", "Expiration Before",
                  "Expiration After", "As-of Before", "As-of After")

# The HubSpot contacts of the second and third runs (the third carries everything over): per email, the
# status, its change date and previous status, and every segment's `_since` date (blank: not in it).
STATUS_AND_SINCE = ("membership_status", "membership_status_changed_at", "previous_membership_status",
                    *(f"{name}_since" for name in SEGMENTS))


def _contact(status: str, changed_at: str, previous: str, **since: str) -> dict[str, str]:
    return {"membership_status": status, "membership_status_changed_at": changed_at,
            "previous_membership_status": previous, **{f"{name}_since": since.get(name, "") for name in SEGMENTS}}


LATER_CONTACTS = {
    EXPIRY.email: _contact("Expired", SECOND, "Expiring Soon", expired_membership=SECOND, low_value_at_risk=FIRST),
    NOW_EXPIRING.email: _contact("Expiring Soon", SECOND, "Active", expiring_soon=SECOND, high_value_customer=FIRST,
                                 high_value_at_risk=SECOND),
    RENEWAL.email: _contact("Active", SECOND, "Expiring Soon", active_membership=SECOND),
    NEW.email: _contact("Active", SECOND, "", active_membership=SECOND, new_member=SECOND),
    UNCHANGED.email: _contact("Expiring Soon", FIRST, "", expiring_soon=FIRST, low_value_at_risk=FIRST),
}
FIRST_CONTACTS = {  # the first run: everyone is new, every date is its as-of date
    EXPIRY.email: _contact("Expiring Soon", FIRST, "", expiring_soon=FIRST, low_value_at_risk=FIRST),
    NOW_EXPIRING.email: _contact("Active", FIRST, "", active_membership=FIRST, high_value_customer=FIRST),
    RENEWAL.email: _contact("Expiring Soon", FIRST, "", expiring_soon=FIRST, low_value_at_risk=FIRST),
    GONE.email: _contact("Expiring Soon", FIRST, "", expiring_soon=FIRST, high_value_customer=FIRST,
                         high_value_at_risk=FIRST),
    UNCHANGED.email: _contact("Expiring Soon", FIRST, "", expiring_soon=FIRST, low_value_at_risk=FIRST),
}


def contacts(folder: Path) -> list[dict[str, str]]:
    with open(folder / "hubspot_contacts.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


NUMBERS_AND_DATES = {"Total Before", "Total After", "Expiration Before", "Expiration After"}


def _cell(column: str, value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.date()
    return "" if value is None and column not in NUMBERS_AND_DATES else value


def change_rows(folder: Path) -> list[tuple[str, tuple]]:
    """The Changes sheet: (customer name, its CHANGE_COLUMNS values) per row; a blank text cell is "", a blank
    number or date None."""
    sheet = openpyxl.load_workbook(folder / "membership_segments.xlsx", read_only=True)["Changes"]
    header, *rows = list(sheet.values)
    name_at = header.index("Customer Name")
    return [(row[name_at], tuple(_cell(column, row[header.index(column)]) for column in CHANGE_COLUMNS))
            for row in rows]


def summary_changes(folder: Path) -> dict[str, object]:
    """The Summary sheet's Changes section: label -> value."""
    sheet = openpyxl.load_workbook(folder / "membership_segments.xlsx", read_only=True)["Summary"]
    rows = [row[:2] for row in sheet.values]
    start = rows.index(("Changes (see the Changes sheet)", None))
    section = {}
    for label, value in rows[start + 1:]:
        if value is None:
            break
        section[label] = value
    return section


def check_contact_dates(rows: list[dict[str, str]], as_of: dt.date) -> None:
    """Every contact's `_since` is blank exactly when its flag is false, and never after the as-of date."""
    for row in rows:
        if not row["membership_status"]:     # a gone customer's row of cleared flags
            continue
        for name in SEGMENTS:
            since = row[f"{name}_since"]
            assert (since == "") == (row[name] == "false"), (row["email"], name, row[name], since)
            assert since == "" or dt.date.fromisoformat(since) <= as_of, (row["email"], name, since)


def check_run(folder: Path, number: int) -> None:
    """The outputs of run `number` (1-3) of the series in `folder` hold the hand-worked outcome."""
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    rows = contacts(folder)
    by_email = {row["email"]: row for row in rows}
    assert len(by_email) == len(rows)
    section = summary_changes(folder)
    as_of = FIRST_AS_OF if number == 1 else SECOND_AS_OF
    assert report["as_of"] == as_of.isoformat()
    check_contact_dates(rows, as_of)
    if number == 1:
        changes = report["changes"]
        assert (changes["since"], changes["new"], changes["gone"], changes["status_changed"]) == \
            (None, SAMPLE_CUSTOMERS, 0, 0)
        assert changes["entered"] == report["segment_counts"] and changes["left"] == _per_segment()
        assert report["changes_summary"] == f"first run: {SAMPLE_CUSTOMERS} new members"
        assert section["In words"] == report["changes_summary"]
        assert {email: {k: by_email[email][k] for k in STATUS_AND_SINCE} for email in FIRST_CONTACTS} \
            == FIRST_CONTACTS
        assert {row["membership_status_changed_at"] for row in rows} == {FIRST}
        assert {row["previous_membership_status"] for row in rows} == {""}
        listed = change_rows(folder)
        assert len(listed) == SAMPLE_CUSTOMERS and {row[0] for _, row in listed} == {"new"}   # everyone is new
        return
    assert {email: {k: by_email[email][k] for k in STATUS_AND_SINCE} for email in LATER_CONTACTS} == LATER_CONTACTS
    if number == 2:
        assert report["changes"] == SECOND_CHANGES
        assert report["changes_summary"] == SENTENCE
        listed = change_rows(folder)
        assert dict(listed) == SECOND_CHANGE_ROWS and len(listed) == len(SECOND_CHANGE_ROWS)
        assert report["hubspot"]["cleared"] == 1
        cleared = by_email[GONE.email]                                    # flags false, nothing else sent
        assert {name: cleared[name] for name in SEGMENTS} == dict.fromkeys(SEGMENTS, "false")
        assert all(value == "" for name, value in cleared.items() if name not in ("email", *SEGMENTS))
        assert (section["Since"], section["In words"], section["New"], section["No longer in the export"],
                section["Status changed"]) == (FIRST, SENTENCE, 1, 1, 3)
        assert section["Left Expiring Soon"] == 3 and section["Entered Active Membership"] == 2
    else:
        assert report["changes"] == THIRD_CHANGES
        assert report["changes_summary"] == f"since {SECOND}: no changes"
        assert change_rows(folder) == []
        assert report["hubspot"]["cleared"] == 0 and GONE.email not in by_email
        assert (section["Since"], section["In words"], section["Status changed"]) == \
            (SECOND, f"since {SECOND}: no changes", 0)
