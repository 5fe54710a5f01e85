"""A three-run series on the bundled samples (issue 18), built from examples/ by the tests themselves.

Weekly runs of the same export, as of FIRST_AS_OF and then SECOND_AS_OF (a week later); the third run
repeats the second (the same files, the same as-of date). The orders never change. Between the first and
the second run the memberships file is edited, and a week passes:

- RENEWAL (Granite State Medical Supply Company, one membership ending 2026-12-15, one order of 194.98)
  renews: a row created 2026-12-11, starting 2026-12-16, ending 2027-12-15;
- GONE (Harbor Distribution Inc., one membership ending 2026-12-16, eleven orders) is no longer in the
  export: its row is removed (its orders stay, and become orders without a membership);
- NEW (Northstar Robotics LLC, an ID no file holds) joins: created and starting 2026-12-10, ending 2027-12-10;
- EXPIRY (Sterling Logistics Inc., latest membership ending 2026-12-13, no orders) expires as the
  week passes, and NOW_EXPIRING (Frontier Tool & Die Corp., ending 2027-01-12, five orders) comes within
  30 days of its end on 2026-12-13: nothing in the file changes for them.

Nothing else in the samples moves between the two as-of dates: no other membership row ends, comes
within 30 days of its end, or starts or leaves a 30-day "recent" window in that week.
`write_series_inputs` checks these facts on the bundled rows before it builds anything, so a
regenerated sample that breaks them fails with that message instead of a wrong count.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import openpyxl

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SAMPLE_MEMBERSHIPS = EXAMPLES / "memberships.xlsx"
SAMPLE_ORDERS = EXAMPLES / "orders.xlsx"
HEADER_ROW = 3                       # the samples' memberships sheet: two title rows, then the header

FIRST_AS_OF = dt.date(2026, 12, 7)
SECOND_AS_OF = dt.date(2026, 12, 14)
RECENT_DAYS = 30                     # default rules: recent_days and expiring_soon_days
SAMPLE_CUSTOMERS = 182               # examples/README.md: the demo reports 182 customers


@dataclass(frozen=True)
class Customer:
    id: int
    name: str
    email: str


RENEWAL = Customer(100230, "Granite State Medical Supply Company", "bdavis@granitestatemedical.com")
GONE = Customer(100066, "Harbor Distribution Inc.", "mgarcia@harbordistribution.net")
NEW = Customer(107001, "Northstar Robotics LLC", "ops@northstarrobotics.com")
EXPIRY = Customer(105764, "Sterling Logistics Inc.", "hmoore@sterlinglogistics.us")
NOW_EXPIRING = Customer(104716, "Frontier Tool & Die Corp.", "purchasing@frontiertool.com")
# expiring soon in every run, nothing about it changes
UNCHANGED = Customer(106553, "Coastal Veterinary Clinic Inc.", "jsmith@coastalveterinary.com")

RENEWAL_ROW = {"Cust ID": RENEWAL.id, "Customer Name": RENEWAL.name, "Contact Email": RENEWAL.email,
               "Membership": "Enrolled", "Start Date": dt.datetime(2026, 12, 16),
               "Created Date": dt.datetime(2026, 12, 11), "Expiration Date": dt.datetime(2027, 12, 15)}
NEW_ROW = {"Cust ID": NEW.id, "Customer Name": NEW.name, "Contact Email": NEW.email, "Membership": "Enrolled",
           "Start Date": dt.datetime(2026, 12, 10), "Created Date": dt.datetime(2026, 12, 10),
           "Expiration Date": dt.datetime(2027, 12, 10)}

# What the bundled rows must hold for the series' hand-worked outcome (see series_expected.py):
# each customer's membership end dates, and their order values.
SAMPLE_FACTS = {
    RENEWAL.id: {"ends": [dt.date(2026, 12, 15)], "orders": [194.98]},
    GONE.id: {"ends": [dt.date(2026, 12, 16)], "orders": [827.54, 4684.49, 914.24, 4009.83, 2597.32, 1741.13, 818,
                                                           2474.56, 8469.82, 4783, 956.12]},
    EXPIRY.id: {"ends": [dt.date(2023, 12, 11), dt.date(2024, 12, 11), dt.date(2025, 12, 12), dt.date(2026, 12, 13)],
                "orders": []},
    NOW_EXPIRING.id: {"ends": [dt.date(2027, 1, 12)], "orders": [151.13, 416.6, 959.93, 577.9, 96.94]},
    UNCHANGED.id: {"ends": [dt.date(2025, 12, 14), dt.date(2026, 12, 15)], "orders": [713.23]},
    NEW.id: {"ends": [], "orders": []},
}


@dataclass(frozen=True)
class SeriesInputs:
    orders: Path        # the bundled orders, the same in every run
    first: Path         # the bundled memberships, as they are
    second: Path        # edited: RENEWAL_ROW and NEW_ROW added, GONE's rows removed (runs two and three)

    def run(self, number: int) -> tuple[Path, Path, dt.date]:
        """Run `number`'s (1-3) memberships file, orders file and as-of date."""
        return (self.first if number == 1 else self.second), self.orders, (FIRST_AS_OF if number == 1 else SECOND_AS_OF)


def as_date(value: object) -> dt.date | None:
    """A sample cell as a date: a real date, an Excel serial number, ISO or MM/DD/YYYY text (the samples' forms)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return dt.date.fromisoformat(text)
        if match := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text):
            return dt.date(int(match[3]), int(match[1]), int(match[2]))
    return None


def _as_id(value: object) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else None


def _sheet_rows(path: Path, header_row: int) -> list[dict]:
    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(min_row=header_row, values_only=True))
    return [dict(zip(rows[0], row, strict=False)) for row in rows[1:]]


def _moves_in_the_week(row: dict) -> list[str]:
    """What in a membership row would change a status or a "recent" flag between the two as-of dates."""
    def in_week(day: dt.date) -> bool:
        return FIRST_AS_OF < day <= SECOND_AS_OF

    moves = []
    ends = as_date(row.get("Expiration Date"))
    if ends and in_week(ends + dt.timedelta(days=1)):
        moves.append(f"ends {ends}")
    if ends and in_week(ends - dt.timedelta(days=RECENT_DAYS)):
        moves.append(f"comes within {RECENT_DAYS} days of its end {ends}")
    for name in ("Start Date", "Created Date"):
        day = as_date(row.get(name))
        if day and (in_week(day) or in_week(day + dt.timedelta(days=RECENT_DAYS + 1))):
            moves.append(f"{name} {day} enters or leaves the {RECENT_DAYS}-day window")
    return moves


def check_sample_facts() -> None:
    """The bundled samples still hold what the series' outcome was worked out from (module docstring)."""
    members = _sheet_rows(SAMPLE_MEMBERSHIPS, HEADER_ROW)
    orders = _sheet_rows(SAMPLE_ORDERS, 1)
    problems = []
    for cid, facts in SAMPLE_FACTS.items():
        ends = sorted(d for row in members if _as_id(row["Cust ID"]) == cid
                      if (d := as_date(row["Expiration Date"])) is not None)
        values = [row["Net Value"] for row in orders if _as_id(row["Sold-To Party"]) == cid]
        if ends != facts["ends"] or values != facts["orders"]:
            problems.append(f"customer {cid}: ends {ends}, orders {values}")
    for number, row in enumerate(members, start=HEADER_ROW + 1):
        if _as_id(row["Cust ID"]) not in (EXPIRY.id, NOW_EXPIRING.id) and (moves := _moves_in_the_week(row)):
            problems.append(f"row {number} ({row['Customer Name']}): {'; '.join(moves)}")
    if problems:
        raise AssertionError("the bundled samples no longer hold what the series relies on: " + " | ".join(problems))


def write_edited_memberships(path: Path) -> Path:
    """The bundled memberships with the week's edits: GONE's rows removed, RENEWAL_ROW and NEW_ROW added."""
    book = openpyxl.load_workbook(SAMPLE_MEMBERSHIPS)
    sheet = book.worksheets[0]
    header = [cell.value for cell in sheet[HEADER_ROW]]
    id_column = header.index("Cust ID") + 1
    gone_rows = [row for row in range(HEADER_ROW + 1, sheet.max_row + 1)
                 if _as_id(sheet.cell(row, id_column).value) == GONE.id]
    assert gone_rows, f"no row for customer {GONE.id} in {SAMPLE_MEMBERSHIPS}"
    for row in reversed(gone_rows):
        sheet.delete_rows(row)
    for added in (RENEWAL_ROW, NEW_ROW):
        sheet.append([added[name] for name in header])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, dt.datetime):
                cell.number_format = "mm/dd/yyyy"
    book.save(path)
    return path


def write_series_inputs(folder: Path) -> SeriesInputs:
    """The series' three files in `folder` (after checking the samples' facts)."""
    check_sample_facts()
    folder.mkdir(parents=True, exist_ok=True)
    first = folder / "memberships-first.xlsx"
    first.write_bytes(SAMPLE_MEMBERSHIPS.read_bytes())
    orders = folder / "orders.xlsx"
    orders.write_bytes(SAMPLE_ORDERS.read_bytes())
    return SeriesInputs(orders=orders, first=first, second=write_edited_memberships(folder / "memberships-second.xlsx"))
