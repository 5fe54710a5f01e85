#!/usr/bin/env python3
"""Build the bundled sample inputs: examples/memberships.xlsx and examples/orders.xlsx.

Deterministic (fixed seed, fixed reference date 2026-11-01), so the demo

    memberseg run --memberships examples/memberships.xlsx --orders examples/orders.xlsx \
        --out out --as-of 2026-11-15

always gives the same result. The files imitate real ERP/CRM exports, messiness included;
examples/README.md (written by this script, so the row numbers stay right) lists every
deliberately messy cell.

    python scripts/make_examples.py [--out examples]
"""
from __future__ import annotations

import argparse
import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import xlsxwriter

SEED = 20261101
REFERENCE = date(2026, 11, 1)      # the day the exports were "generated"
DEMO_AS_OF = date(2026, 11, 15)    # the as-of date the demo runs with
RECENT_FROM = DEMO_AS_OF - timedelta(days=30)
SOON_UNTIL = DEMO_AS_OF + timedelta(days=30)
TERM = timedelta(days=365)

FIRST = ["Apex", "Bluewater", "Cedar Ridge", "Summit", "Harbor", "Ironwood", "Northwind", "Keystone",
         "Pinnacle", "Redstone", "Silverline", "Granite State", "Lakeshore", "Prairie", "Evergreen", "Tri-County",
         "Midwest", "Coastal", "Frontier", "Heartland", "Riverbend", "Sterling", "Oakmont", "Brightline",
         "Copperfield", "Delta", "Eastgate", "Fairview", "Great Plains", "Highland", "Liberty", "Meridian",
         "Old Mill", "Pioneer", "Quarry Hill", "Sunbelt", "Titan", "Union", "Valley", "Westfield"]
TRADE = ["Manufacturing", "Logistics", "Dental Group", "Construction", "Foods", "Electric", "Medical Supply",
         "Plastics", "Tool & Die", "Machining", "Veterinary Clinic", "HVAC", "Packaging", "Auto Parts",
         "Printing", "Lab Services", "Fabrication", "Distribution", "Hardware", "Orthodontics"]
SUFFIX = ["Inc.", "LLC", "Co.", "Corp.", "Ltd.", "Inc", "LLC", "Group", "Company", ""]
PEOPLE = ["jsmith", "mgarcia", "dchen", "apatel", "kjohnson", "lnguyen", "rbrown", "swilliams", "tmiller",
          "ejones", "bdavis", "cwilson", "hmoore", "ptaylor", "nanderson", "gthomas", "vmartin", "olee"]
ROLES = ["purchasing", "accounts", "ap", "office", "info", "orders"]


@dataclass
class Record:
    created: date
    start: date
    expiration: date | None
    enrollment: str = "Enrolled"
    email: str = ""


@dataclass
class Customer:
    cid: int
    name: str
    domain: str
    email: str
    scenario: str
    records: list[Record] = field(default_factory=list)
    tier: str = ""


def rand_day(rng: random.Random, lo: date, hi: date) -> date:
    return lo + timedelta(days=rng.randint(0, (hi - lo).days))


def chain(rng: random.Random, last_start: date, last_created: date, n: int, links: list[str]) -> list[Record]:
    """Build n yearly records ending with the given last record, linked backwards by `links`."""
    records = [Record(created=last_created, start=last_start, expiration=last_start + TERM)]
    for link in links[: n - 1]:
        nxt = records[0]
        if link == "ontime":      # renewal raised up to 30 days before the previous one expired
            prev_exp = nxt.start - timedelta(days=1)
            nxt.created = min(nxt.created, prev_exp - timedelta(days=rng.randint(0, 30)))
        elif link == "late":      # renewed 1-7 days after expiry: still a renewal
            nxt.created = nxt.start
            prev_exp = nxt.created - timedelta(days=rng.randint(1, 7))
        else:                     # lapse: renewed months later, a new chain
            nxt.created = nxt.start
            prev_exp = nxt.created - timedelta(days=rng.randint(60, 330))
        prev_start = prev_exp - TERM
        records.insert(0, Record(created=prev_start - timedelta(days=rng.choice([0, 0, 0, 1, 2])),
                                 start=prev_start, expiration=prev_exp))
    return records


def make_customers(rng: random.Random) -> list[Customer]:  # noqa: C901 - a list of sample scenarios, one branch each
    names = [(f, t) for f in FIRST for t in TRADE]
    rng.shuffle(names)
    plan = ([("new_member", 10), ("recent_renewal", 10), ("active_chain", 50), ("single_active", 20),
             ("lapse_back", 15), ("expiring_soon", 25), ("expired", 50)])
    scenarios = [s for s, k in plan for _ in range(k)]
    rng.shuffle(scenarios)
    customers: list[Customer] = []
    used_first: dict[str, int] = {}
    for i, scenario in enumerate(scenarios):
        first, trade = names[i]
        used_first[first] = used_first.get(first, 0) + 1
        suffix = rng.choice(SUFFIX)
        name = f"{first} {trade}" + (f" {suffix}" if suffix else "")
        domain = re.sub(r"[^a-z]", "", (first + trade.split()[0]).lower()) + rng.choice([".com", ".com", ".net", ".us"])
        email = f"{rng.choice(PEOPLE + ROLES)}@{domain}"
        cid = 100000 + 37 * i + rng.randint(0, 30)
        customers.append(Customer(cid=cid, name=name, domain=domain, email=email, scenario=scenario))

    for c in customers:
        n = rng.choice([1, 1, 1, 2, 2, 2, 3, 4])
        links = [rng.choice(["ontime", "ontime", "ontime", "late"]) for _ in range(3)]
        s = c.scenario
        if s == "new_member":
            d = rand_day(rng, RECENT_FROM + timedelta(days=1), REFERENCE)
            c.records = chain(rng, d, d, 1, [])
        elif s == "recent_renewal":
            d = rand_day(rng, RECENT_FROM + timedelta(days=1), REFERENCE)
            if rng.random() < 0.5:
                links[0] = "late"
                c.records = chain(rng, d, d, max(n, 2), links)
            else:
                links[0] = "ontime"   # previous expired the day before d, renewal raised days earlier
                c.records = chain(rng, d, d, max(n, 2), links)
        elif s in ("active_chain", "single_active", "lapse_back"):
            e_last = rand_day(rng, SOON_UNTIL + timedelta(days=2), REFERENCE + TERM - timedelta(days=20))
            if s == "single_active":
                n = 1
            if s == "lapse_back":
                n = max(n, 2)
                links[0] = "lapse"
            c.records = chain(rng, e_last - TERM, e_last - TERM, n, links)
        elif s == "expiring_soon":
            e_last = rand_day(rng, DEMO_AS_OF + timedelta(days=1), SOON_UNTIL)
            c.records = chain(rng, e_last - TERM, e_last - TERM, n, links)
        elif s == "expired":
            e_last = rand_day(rng, date(2024, 9, 1), DEMO_AS_OF - timedelta(days=1))
            if rng.random() < 0.2:
                links[0] = "lapse"
            c.records = chain(rng, e_last - TERM, e_last - TERM, min(n, 3), links)
        for r in c.records:
            r.email = c.email
    # Deterministic edge cases on the status boundaries (as of 2026-11-15).
    soon = [c for c in customers if c.scenario == "expiring_soon"]
    act = [c for c in customers if c.scenario == "single_active"]
    exp = [c for c in customers if c.scenario == "expired"]
    _retime(soon[0], SOON_UNTIL)                      # exactly 30 days -> Expiring Soon
    _retime(act[0], SOON_UNTIL + timedelta(days=1))   # 31 days -> Active
    _retime(exp[0], DEMO_AS_OF - timedelta(days=1))   # expired yesterday -> Expired
    return customers


def _retime(c: Customer, e_last: date) -> None:
    last = c.records[-1].expiration
    if last is None:
        return
    shift = e_last - last
    for r in c.records:
        r.created += shift
        r.start += shift
        if r.expiration is not None:
            r.expiration += shift


@dataclass
class Row:
    cid: object            # int, str, or None
    name: str
    email: str
    enrollment: str
    start: object
    created: object
    expiration: object
    note: str = ""


def pad(cid: int) -> str:
    return f"{cid:010d}"


def build_membership_rows(rng: random.Random, customers: list[Customer]):  # noqa: C901 - a list of sample scenarios, one branch each
    # Per-customer messiness that applies to all of that customer's rows.
    pool = list(customers)
    rng.shuffle(pool)
    blank_email = pool[:8]
    not_enrolled = pool[8:30]
    changed_contact = pool[30:33]
    shared = pool[33:35]
    invalid = pool[35]
    for c in blank_email:
        for r in c.records:
            r.email = ""
    for c in not_enrolled:
        c.records[-1].enrollment = "Not Enrolled"
    for c in changed_contact:
        if len(c.records) > 1:
            c.records[-1].email = f"{rng.choice(PEOPLE)}@{c.domain}"
    shared_email = f"ap@{shared[0].domain}"
    for c in shared:
        for r in c.records:
            r.email = shared_email
    invalid.records[-1].email = invalid.records[-1].email.replace("@", " at ")

    rows: list[Row] = []
    for c in customers:
        for r in c.records:
            rows.append(Row(c.cid, c.name, r.email, r.enrollment, r.start, r.created, r.expiration))
            rows[-1].customer = c  # type: ignore[attr-defined]
    # Exact duplicate rows (the export repeats a record).
    dup_src = rng.sample(rows, 5)
    for src in dup_src:
        d = Row(**{k: getattr(src, k) for k in Row.__dataclass_fields__})
        d.customer = src.customer  # type: ignore[attr-defined]
        d.note = "exact duplicate"
        src.note = "duplicated"
        rows.append(d)
    rng.shuffle(rows)
    by_sort = sorted(range(len(rows)), key=lambda i: (rows[i].created, rows[i].cid))
    rows = [rows[i] for i in by_sort]     # the export is sorted by created date, as real ones are
    return rows, dict(shared_email=shared_email, shared=shared, invalid=invalid, blank_email=blank_email,
                      not_enrolled=not_enrolled)


def write_memberships(path: Path, rng: random.Random, customers: list[Customer]) -> dict:  # noqa: C901 - a list of sample scenarios, one branch each
    rows, info = build_membership_rows(rng, customers)
    # Two rows with a name but no ID: one for a known customer, one for an unknown company.
    known = rng.choice([c for c in customers if c.scenario == "active_chain"])
    extra = [Row(None, known.name, known.email, "Enrolled", date(2026, 3, 2), date(2026, 3, 2),
                 date(2027, 3, 2), note=f"no ID; name of customer {known.cid}"),
             Row(None, "Westbrook Cabinetry LLC", "office@westbrookcab.com", "Enrolled", date(2026, 6, 15),
                 date(2026, 6, 15), date(2027, 6, 15), note="no ID; name not in the file")]
    for e in extra:
        rows.insert(rng.randint(20, len(rows) - 20), e)

    first_data = 4                      # two title rows, header on row 3
    msg: list[tuple[int, str]] = []
    idx = list(range(len(rows)))
    picks = [i for i in idx if rows[i].cid is not None and rows[i].note == ""]
    rng.shuffle(picks)
    take = iter(picks)

    # IDs as zero-padded text in ~15% of rows (sometimes only some of a customer's rows).
    padded = set()
    for i in idx:
        if rows[i].cid is not None and not rows[i].note and rng.random() < 0.15:
            padded.add(i)
    # Dates as text / serial numbers.
    mdy_rows = [next(take) for _ in range(5)]
    iso_rows = [next(take) for _ in range(4)]
    serial_rows = [next(take) for _ in range(2)]
    missing_exp = next(take)
    backwards = next(take)
    lower_ne = next(i for i in take if rows[i].enrollment == "Not Enrolled")
    for i in mdy_rows:
        rows[i].created = rows[i].created.strftime("%m/%d/%Y")
        rows[i].expiration = rows[i].expiration.strftime("%m/%d/%Y")
        rows[i].note = "Created/Expiration as MM/DD/YYYY text"
    for i in iso_rows:
        rows[i].created = rows[i].created.isoformat()
        rows[i].expiration = rows[i].expiration.isoformat()
        rows[i].note = "Created/Expiration as ISO text"
    for i in serial_rows:
        rows[i].expiration = float((rows[i].expiration - date(1899, 12, 30)).days)
        rows[i].note = "Expiration as a plain Excel serial number"
    # the two rows the run rejects: (customer, created) of the record each one was
    rejected = [(rows[i].cid, rows[i].created) for i in (missing_exp, backwards)]
    rows[missing_exp].expiration = None
    rows[missing_exp].note = "missing expiration date"
    r = rows[backwards]
    r.expiration = r.created - timedelta(days=30)
    r.note = "expiration before created date"
    rows[lower_ne].enrollment = " not enrolled"
    rows[lower_ne].note = "enrollment ' not enrolled' (lower case, leading space)"

    blank_at = len(rows) // 2
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                         "strings_to_urls": False})
    wb.set_properties({"created": datetime(2026, 11, 1, 6, 0, 0)})   # byte-stable output
    ws = wb.add_worksheet("Memberships")
    bold = wb.add_format({"bold": True})
    title = wb.add_format({"bold": True, "font_size": 14})
    dfmt = wb.add_format({"num_format": "mm/dd/yyyy"})
    ws.write_string(0, 0, "Membership Export", title)
    ws.write_string(1, 0, "Generated 2026-11-01")
    headers = ["Cust ID", "Customer Name", "Contact Email", "Membership", "Start Date", "Created Date",
               "Expiration Date"]
    for col, h in enumerate(headers):
        ws.write_string(2, col, h, bold)
    ws.set_column(0, 0, 12)
    ws.set_column(1, 2, 34)
    ws.set_column(3, 6, 15)

    def put(r_: int, c_: int, v: object) -> None:
        if v is None or v == "":
            return
        if isinstance(v, date):
            ws.write_datetime(r_, c_, datetime(v.year, v.month, v.day), dfmt)
        elif isinstance(v, (int, float)):
            ws.write_number(r_, c_, v)
        else:
            ws.write_string(r_, c_, str(v))

    excel_row = first_data
    row_of: list[int] = []
    for i, r in enumerate(rows):
        if i == blank_at:
            msg.append((excel_row, "blank row"))
            excel_row += 1
        z = excel_row - 1
        put(z, 0, pad(r.cid) if (i in padded and r.cid is not None) else r.cid)
        put(z, 1, r.name)
        put(z, 2, r.email)
        put(z, 3, r.enrollment)
        put(z, 4, r.start)
        put(z, 5, r.created)
        put(z, 6, r.expiration)
        row_of.append(excel_row)
        if r.note:
            msg.append((excel_row, f"{r.note} (ID {r.cid}, {r.name})" if r.cid else r.note + f" ({r.name})"))
        excel_row += 1
    ws.autofilter(2, 0, excel_row - 2, len(headers) - 1)
    wb.close()

    cust = {r.cid for r in rows if r.cid is not None}
    # Rows of the same customer whose ID appears both as number and as padded text.
    mixed = sorted({rows[i].cid for i in padded} & {rows[i].cid for i in idx if i not in padded and rows[i].cid})
    emails = {
        "shared": (info["shared_email"], [c.cid for c in info["shared"]],
                   [row_of[i] for i, r in enumerate(rows) if r.email == info["shared_email"]]),
        "invalid": [(row_of[i], rows[i].email) for i, r in enumerate(rows) if " at " in r.email],
        "blank": [row_of[i] for i, r in enumerate(rows) if not r.email],
    }
    return dict(rows=len(rows), last_row=excel_row - 1, customers=len(cust), notes=sorted(msg),
                rejected=rejected, idless_expirations=[e.expiration for e in extra],
                padded=sorted(row_of[i] for i in padded), mixed_ids=mixed, emails=emails,
                not_enrolled=[row_of[i] for i, r in enumerate(rows) if "not enrolled" in r.enrollment.lower()])


def write_orders(path: Path, rng: random.Random, customers: list[Customer]) -> dict:  # noqa: C901 - a list of sample scenarios, one branch each
    # Tier targets (total order value per customer).
    tiers = (["No Orders"] * 27 + ["Bronze"] * 40 + ["Silver"] * 50 + ["Gold"] * 30 + ["Platinum"] * 33)
    rng.shuffle(tiers)
    ranges = {"Bronze": (60, 900, 1, 5), "Silver": (1300, 4700, 3, 9), "Gold": (5600, 9400, 5, 12),
              "Platinum": (11500, 65000, 10, 22)}
    orders: list[list[Any]] = []   # [id, name, date, value, note]
    for c, tier in zip(customers, tiers, strict=False):
        c.tier = tier
        if tier == "No Orders":
            continue
        lo, hi, nlo, nhi = ranges[tier]
        total = rng.uniform(lo, hi)
        n = rng.randint(nlo, nhi)
        weights = [rng.expovariate(1.0) for _ in range(n)]
        s = sum(weights)
        for w in weights:
            value = round(total * w / s, 2)
            if value < 1:
                value = 1.0
            orders.append([c.cid, c.name, rand_day(rng, date(2024, 1, 2), date(2026, 10, 30)), value, ""])
    # Orders for customers that are not in the memberships file.
    ghosts = [(900001 + 13 * k, f"{rng.choice(FIRST)} {rng.choice(TRADE)} {rng.choice(SUFFIX)}".strip())
              for k in range(12)]
    for _ in range(45):
        gid, gname = rng.choice(ghosts)
        orders.append([gid, gname, rand_day(rng, date(2024, 1, 2), date(2026, 10, 30)),
                       round(rng.uniform(50, 4000), 2), "customer not in memberships"])
    # Fill up to ~1,500 rows with small orders on Platinum accounts (keeps every tier stable).
    plat = [c for c in customers if c.tier == "Platinum"]
    while len(orders) < 1490:
        c = rng.choice(plat)
        orders.append([c.cid, c.name, rand_day(rng, date(2024, 1, 2), date(2026, 10, 30)),
                       round(rng.uniform(20, 400), 2), ""])
    orders.sort(key=lambda o: (o[2], o[0]))

    # Messy values.
    cand = [i for i, o in enumerate(orders) if o[4] == ""]
    rng.shuffle(cand)
    take = iter(cand)
    for _ in range(20):
        i = next(take)
        orders[i][3] = f"${orders[i][3]:,.2f}"
        orders[i][4] = "value as text with $ and thousands separator"
    for _ in range(2):
        i = next(take)
        orders[i][3] = f"USD {orders[i][3]:.2f}"
        orders[i][4] = "value as text with USD prefix"
    gold = [c for c in customers if c.tier == "Gold"]
    refund_c = rng.choice(plat)
    credit_c = rng.choice(gold)
    extra: list[list[Any]] = [
        [refund_c.cid, refund_c.name, date(2026, 9, 14), "(250.00)", "refund in accounting brackets"],
        [credit_c.cid, credit_c.name, date(2026, 8, 3), "100-", "credit with trailing minus (SAP style)"],
        [rng.choice(plat).cid, "", date(2026, 7, 21), "N/A", "unparseable value 'N/A'"],
        [None, "Walk-in Customer", date(2026, 5, 5), 312.40, "blank Sold-To Party"]]
    extra[2][1] = next(c.name for c in plat if c.cid == extra[2][0])
    for e in extra:
        orders.insert(rng.randint(100, len(orders) - 100), e)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                         "strings_to_urls": False})
    wb.set_properties({"created": datetime(2026, 11, 1, 6, 0, 0)})   # byte-stable output
    ws = wb.add_worksheet("Orders")
    bold = wb.add_format({"bold": True})
    dfmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    money = wb.add_format({"num_format": "#,##0.00"})
    for col, h in enumerate(["Sold-To Party", "Customer Name", "Order Date", "Net Value"]):
        ws.write_string(0, col, h, bold)
    ws.set_column(0, 0, 14)
    ws.set_column(1, 1, 34)
    ws.set_column(2, 3, 13)
    notes = []
    padded_rows = []
    for i, (cid, name, d, value, note) in enumerate(orders):
        r = i + 1
        if cid is not None:
            if not note and rng.random() < 0.12:
                ws.write_string(r, 0, pad(cid))
                padded_rows.append(r + 1)
            else:
                ws.write_number(r, 0, cid)
        ws.write_string(r, 1, name)
        ws.write_datetime(r, 2, datetime(d.year, d.month, d.day), dfmt)
        if isinstance(value, str):
            ws.write_string(r, 3, value)
        else:
            ws.write_number(r, 3, value, money)
        if note and note != "customer not in memberships":
            notes.append((r + 1, f"{note} (ID {cid}, {name})"))
    wb.close()
    ghost_rows = [i + 2 for i, o in enumerate(orders) if o[4] == "customer not in memberships"]
    counts: dict[str, int] = {}
    for c in customers:
        counts[c.tier] = counts.get(c.tier, 0) + 1
    return dict(rows=len(orders), notes=notes, padded=padded_rows, ghost_rows=ghost_rows,
                ghost_ids=sorted({g for g, _ in ghosts}), tiers=counts)


def write_readme(path: Path, m: dict, o: dict, customers: list[Customer]) -> None:
    def rows(xs: list[int], limit: int = 40) -> str:
        s = ", ".join(str(x) for x in xs[:limit])
        return s + (f", … ({len(xs)} in all)" if len(xs) > limit else "")

    def status_of(expiration: date) -> str:
        return "Expired" if expiration < DEMO_AS_OF else "Expiring Soon" if expiration <= SOON_UNTIL else "Active"

    def tally(expirations: list[date]) -> str:
        counts: dict[str, int] = {}
        for e in expirations:
            counts[status_of(e)] = counts.get(status_of(e), 0) + 1
        return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))

    planned = [c.records[-1].expiration for c in customers if c.records[-1].expiration is not None]
    # what the run reports: a rejected record no longer counts, and each row without an ID is a customer
    rejected = set(m["rejected"])
    latest_valid = [[r for r in c.records if (c.cid, r.created) not in rejected][-1] for c in customers]
    demo = [r.expiration for r in latest_valid if r.expiration is not None] + m["idless_expirations"]
    scen: dict[str, int] = {}
    for c in customers:
        scen[c.scenario] = scen.get(c.scenario, 0) + 1
    lines = [
        "# Sample data",
        "",
        "Generated by `python scripts/make_examples.py` (fixed seed, reference date 2026-11-01); do not edit",
        "by hand. Try it with:",
        "",
        "```sh",
        "memberseg run --memberships examples/memberships.xlsx --orders examples/orders.xlsx \\",
        "    --out out --as-of 2026-11-15",
        "```",
        "",
        "Row numbers below are the row numbers Excel shows.",
        "",
        "## memberships.xlsx",
        "",
        f"- {m['rows']} membership rows in rows 4–{m['last_row']} (one of them blank): {m['rows'] - 2} rows for "
        f"{m['customers']} customer IDs plus two rows without an ID. "
        "Title rows 1–2 (\"Membership Export\", \"Generated 2026-11-01\"), "
        "header on row 3: Cust ID, Customer Name, Contact Email, Membership, Start Date, Created Date, "
        "Expiration Date. Sorted by created date.",
        "- Planned histories (customers): " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in scen.items()) + ".",
        "  Renewal links are on time (renewal created up to 30 days before the previous expiry, starting the",
        "  day after it), late within the 7-day grace, or lapses (renewed 2–11 months after expiry).",
        "- Planned status as of 2026-11-15 (by each customer's latest record, before invalid rows are dropped): "
        + tally(planned) + ". Boundaries: one customer expires",
        "  on 2026-12-15 (30 days: Expiring Soon), one on 2026-12-16 (31 days: Active), one on 2026-11-14 (Expired).",
        f"- The demo reports {len(demo)} customers ({tally(demo)}): the two rows without an ID are customers of",
        "  their own, and the two rejected rows (missing expiration, expiration before created) were their",
        "  customers' latest records, so those customers are classified by their previous record.",
        "- Recent activity: 10 new members and 10 renewals created between 2026-10-16 and 2026-11-01.",
        f"- IDs as zero-padded text (`0000100045`) instead of numbers: rows {rows(m['padded'])}. "
        f"{len(m['mixed_ids'])} customers have both forms across their rows.",
        f"- \"Not Enrolled\" in the Membership column: rows {rows(m['not_enrolled'])}.",
        f"- Blank emails: rows {rows(m['emails']['blank'])}.",
        "- Invalid email: " + "; ".join(f"row {r} `{e}`" for r, e in m['emails']['invalid']) + ".",
        f"- Two customers ({', '.join(str(x) for x in m['emails']['shared'][1])}) share "
        f"`{m['emails']['shared'][0]}`: rows {rows(m['emails']['shared'][2])}.",
        "- Individual cells:",
    ]
    lines += [f"  - row {r}: {t}" for r, t in m["notes"]]
    lines += [
        "",
        "## orders.xlsx",
        "",
        f"- {o['rows']} order rows (rows 2–{o['rows'] + 1}), header on row 1: Sold-To Party, Customer Name, "
        "Order Date, Net Value. Values are numbers except the cells listed below.",
        "- Planned tiers (customers): " + ", ".join(f"{k} {v}" for k, v in o["tiers"].items()) + ".",
        f"- Sold-To Party as zero-padded text: rows {rows(o['padded'])}.",
        f"- {len(o['ghost_rows'])} orders for {len(o['ghost_ids'])} customers that are not in the memberships "
        f"file (IDs {o['ghost_ids'][0]}–{o['ghost_ids'][-1]}): rows {rows(o['ghost_rows'])}.",
        "- Individual cells:",
    ]
    lines += [f"  - row {r}: {t}" for r, t in o["notes"]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "examples")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    customers = make_customers(rng)
    m = write_memberships(args.out / "memberships.xlsx", rng, customers)
    o = write_orders(args.out / "orders.xlsx", rng, customers)
    write_readme(args.out / "README.md", m, o, customers)
    print(f"memberships.xlsx: {m['rows']} rows, {m['customers']} customer IDs")
    print(f"orders.xlsx: {o['rows']} rows; tiers {o['tiers']}")


if __name__ == "__main__":
    main()
