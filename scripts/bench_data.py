#!/usr/bin/env python3
"""Generate the benchmark inputs: memberships.xlsx and orders.xlsx in a folder.

    python scripts/bench_data.py --size standard  --out bench-data/standard
    python scripts/bench_data.py --size excel-max --out bench-data/excel-max
    python scripts/bench_data.py --size standard  --out /tmp/small --rows-scale 0.01

Sizes (data rows, not counting the header):
    standard   memberships 200,000 (about 61k customers with 1-6 yearly records), orders 1,000,000
    excel-max  memberships 1,048,575 and orders 1,048,575 (header + 1,048,575 = Excel's maximum)

Seeded (numpy default_rng(2026)), so the same size always gives the same cells. The files are
written with xlsxwriter in constant_memory mode, row by row with typed writes; dates are numbers
carrying a date format, which is exactly what a real Excel date is. The two files are written in
parallel (one process each). If the folder already holds both files and a marker with the same
seed/size/scale, nothing is done (use --force to rebuild).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import xlsxwriter

SEED = 2026
GENERATOR_VERSION = 1
MARKER = ".bench-data.json"
EXCEL_MAX_DATA_ROWS = 1_048_575
SIZES = {
    "standard": {"memberships": 200_000, "orders": 1_000_000},
    "excel-max": {"memberships": EXCEL_MAX_DATA_ROWS, "orders": EXCEL_MAX_DATA_ROWS},
}
EPOCH = date(1899, 12, 30)
REFERENCE = (date(2026, 11, 1) - EPOCH).days     # export date; nothing is created after it
TERM = 365

FIRST = np.array(["Apex", "Bluewater", "Cedar Ridge", "Summit", "Harbor", "Ironwood", "Northwind", "Keystone",
                  "Pinnacle", "Redstone", "Silverline", "Granite State", "Lakeshore", "Prairie", "Evergreen",
                  "Tri-County", "Midwest", "Coastal", "Frontier", "Heartland", "Riverbend", "Sterling", "Oakmont",
                  "Brightline", "Copperfield", "Delta", "Eastgate", "Fairview", "Great Plains", "Highland",
                  "Liberty", "Meridian", "Old Mill", "Pioneer", "Quarry Hill", "Sunbelt", "Titan", "Union",
                  "Valley", "Westfield"])
TRADE = np.array(["Manufacturing", "Logistics", "Dental Group", "Construction", "Foods", "Electric",
                  "Medical Supply", "Plastics", "Tool & Die", "Machining", "Veterinary Clinic", "HVAC", "Packaging",
                  "Auto Parts", "Printing", "Lab Services", "Fabrication", "Distribution", "Hardware",
                  "Orthodontics"])
SUFFIX = np.array(["Inc.", "LLC", "Co.", "Corp.", "Ltd.", "Group", "Company", "Holdings"])
CITY = np.array(["Akron", "Boise", "Chattanooga", "Dayton", "El Paso", "Fresno", "Green Bay", "Hartford",
                 "Irvine", "Joliet", "Knoxville", "Lansing", "Mobile", "Naperville", "Omaha", "Peoria",
                 "Quincy", "Reno", "Spokane", "Tulsa", "Utica", "Vancouver", "Wichita", "Yonkers"])
PEOPLE = np.array(["jsmith", "mgarcia", "dchen", "apatel", "kjohnson", "lnguyen", "rbrown", "swilliams",
                   "tmiller", "ejones", "purchasing", "accounts", "ap", "office", "orders"])


def _names(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    f = rng.integers(0, len(FIRST), n)
    t = rng.integers(0, len(TRADE), n)
    s = rng.integers(0, len(SUFFIX), n)
    c = rng.integers(0, len(CITY), n)
    p = rng.integers(0, len(PEOPLE), n)
    k = rng.integers(1, 100, n)
    names = [f"{FIRST[a]} {TRADE[b]} of {CITY[d]} {SUFFIX[e]}" for a, b, d, e in zip(f, t, c, s, strict=True)]
    slug_f = [x.lower().replace(" ", "").replace("-", "") for x in FIRST]
    slug_t = [x.lower().split()[0] for x in TRADE]
    emails = [f"{PEOPLE[q]}@{slug_f[a]}{slug_t[b]}{m}.com" for a, b, q, m in zip(f, t, p, k, strict=True)]
    return names, emails


def memberships_data(rng: np.random.Generator, rows: int) -> dict:
    """Yearly records in renewal chains; returns column arrays in export order (by created date)."""
    dup_rate = 0.02
    base_rows = int(round(rows / (1 + dup_rate)))
    # Records per customer: 1..6, mean about 3.26.
    p = np.array([0.15, 0.20, 0.22, 0.20, 0.13, 0.10])
    counts = rng.choice(np.arange(1, 7), size=base_rows // 3 + 10, p=p)
    total = np.cumsum(counts)
    n_cust = int(np.searchsorted(total, base_rows) + 1)
    counts = counts[:n_cust]
    counts[-1] -= total[n_cust - 1] - base_rows
    cust_ids = np.sort(rng.choice(9_899_999, size=n_cust, replace=False)) + 100_000
    names, emails = _names(rng, n_cust)

    cust = np.repeat(np.arange(n_cust), counts)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    k = np.arange(base_rows) - np.repeat(first, counts)       # record number within the customer
    # Link from the previous record: 0 on time, 1 late within the 7-day grace, 2 lapse.
    link = rng.choice(3, size=base_rows, p=[0.75, 0.15, 0.10])
    delta = np.where(link == 0, 1, np.where(link == 1, rng.integers(1, 8, base_rows),
                                            rng.integers(60, 401, base_rows)))
    step = np.where(k == 0, 0, TERM + delta)
    offset = np.cumsum(step)
    offset -= np.repeat(offset[first], counts)                # start offset from the first record
    last_offset = offset[np.cumsum(counts) - 1]
    # About 55% of customers are current (latest expiration after the export date), the rest lapsed.
    current = rng.random(n_cust) < 0.55
    e_last = np.where(current, rng.integers(REFERENCE + 1, REFERENCE + TERM + 1, n_cust),
                      rng.integers((date(2023, 6, 1) - EPOCH).days, REFERENCE + 15, n_cust))
    start0 = e_last - TERM - last_offset
    start = np.repeat(start0, counts) + offset
    expiration = start + TERM
    created = np.where((k > 0) & (link == 0), start - 1 - rng.integers(0, 31, base_rows), start)
    enrolled = rng.random(base_rows) < 0.9

    # Exact duplicates: copy some rows.
    n_dup = rows - base_rows
    src = rng.choice(base_rows, size=n_dup, replace=False)
    idx = np.r_[np.arange(base_rows), src]
    order = np.lexsort((cust_ids[cust[idx]], created[idx]))
    idx = idx[order]
    return {
        "cust": cust[idx], "cust_ids": cust_ids, "names": names, "emails": emails,
        "start": start[idx], "created": created[idx], "expiration": expiration[idx], "enrolled": enrolled[idx],
        "padded": rng.random(rows) < 0.10,            # ID as zero-padded text
        "blank_email": rng.random(rows) < 0.05,
        "text_date": rng.random(rows) < 0.002,        # Created Date as MM/DD/YYYY text
        "customers": n_cust,
    }


def orders_data(rng: np.random.Generator, rows: int, cust_ids: np.ndarray, names: list[str]) -> dict:
    n_cust = len(cust_ids)
    unknown = rng.random(rows) < 0.05
    n_unknown_ids = max(10, n_cust // 20)
    unknown_ids = rng.choice(89_999_999, size=n_unknown_ids, replace=False) + 10_000_000
    # Skewed activity: a few customers order a lot, many rarely, some never.
    weight = rng.pareto(1.2, n_cust) + 0.05
    weight[rng.random(n_cust) < 0.12] = 0.0
    weight /= weight.sum()
    who = rng.choice(n_cust, size=rows, p=weight)
    ghost = rng.integers(0, n_unknown_ids, rows)
    value = np.round(rng.lognormal(5.8, 1.2, rows), 2)
    refund = rng.random(rows) < 0.005
    value[refund] = -np.round(value[refund] / 3, 2)
    return {
        "unknown": unknown, "who": who, "ghost": ghost, "unknown_ids": unknown_ids, "cust_ids": cust_ids,
        "names": names, "value": value,
        "date": rng.integers((date(2023, 1, 1) - EPOCH).days, REFERENCE, rows),
        "padded": rng.random(rows) < 0.10,
        "text_value": rng.random(rows) < 0.01,         # "$1,234.50" / "(12.00)"
    }


def _workbook(path: Path):
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                         "strings_to_numbers": False, "strings_to_urls": False})
    wb.set_properties({"created": datetime(2026, 11, 1)})   # no wall-clock timestamp in the file
    return wb


def _text_date(serial: int) -> str:
    d = date.fromordinal(EPOCH.toordinal() + int(serial))
    return f"{d.month:02d}/{d.day:02d}/{d.year}"


def write_memberships(path: Path, d: dict) -> None:
    wb = _workbook(path)
    ws = wb.add_worksheet("Memberships")
    dfmt = wb.add_format({"num_format": "mm/dd/yyyy"})
    for c, h in enumerate(["Cust ID", "Customer Name", "Contact Email", "Membership", "Start Date",
                           "Created Date", "Expiration Date"]):
        ws.write_string(0, c, h)
    wn, wstr = ws.write_number, ws.write_string
    cust_ids = d["cust_ids"].tolist()
    names, emails = d["names"], d["emails"]
    rows = zip(d["cust"].tolist(), d["start"].tolist(), d["created"].tolist(), d["expiration"].tolist(),
               d["enrolled"].tolist(), d["padded"].tolist(), d["blank_email"].tolist(), d["text_date"].tolist(),
               strict=True)
    for r, (c, s, cr, e, en, pad, be, td) in enumerate(rows, start=1):
        cid = cust_ids[c]
        if pad:
            wstr(r, 0, f"{cid:010d}")
        else:
            wn(r, 0, cid)
        wstr(r, 1, names[c])
        if not be:
            wstr(r, 2, emails[c])
        wstr(r, 3, "Enrolled" if en else "Not Enrolled")
        wn(r, 4, s, dfmt)
        if td:
            wstr(r, 5, _text_date(cr))
        else:
            wn(r, 5, cr, dfmt)
        wn(r, 6, e, dfmt)
    wb.close()


def write_orders(path: Path, d: dict) -> None:
    wb = _workbook(path)
    ws = wb.add_worksheet("Orders")
    dfmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    for c, h in enumerate(["Sold-To Party", "Customer Name", "Order Date", "Net Value"]):
        ws.write_string(0, c, h)
    wn, wstr = ws.write_number, ws.write_string
    cust_ids, unknown_ids, names = d["cust_ids"].tolist(), d["unknown_ids"].tolist(), d["names"]
    rows = zip(d["unknown"].tolist(), d["who"].tolist(), d["ghost"].tolist(), d["date"].tolist(),
               d["value"].tolist(), d["padded"].tolist(), d["text_value"].tolist(), strict=True)
    for r, (unk, w, g, dt, v, pad, tv) in enumerate(rows, start=1):
        if unk:
            cid, name = unknown_ids[g], "Unknown Account"
        else:
            cid, name = cust_ids[w], names[w]
        if pad:
            wstr(r, 0, f"{cid:010d}")
        else:
            wn(r, 0, cid)
        wstr(r, 1, name)
        wn(r, 2, dt, dfmt)
        if tv:
            wstr(r, 3, f"(${-v:,.2f})" if v < 0 else f"${v:,.2f}")
        else:
            wn(r, 3, v)
    wb.close()


def generate(size: str, out: Path, rows_scale: float = 1.0, force: bool = False, quiet: bool = False) -> dict:
    """Write out/memberships.xlsx and out/orders.xlsx unless already cached; return the marker."""
    rows = {k: max(10, int(round(v * rows_scale))) for k, v in SIZES[size].items()}
    marker: dict[str, Any] = {"generator_version": GENERATOR_VERSION, "seed": SEED, "size": size,
                              "rows_scale": rows_scale, "rows": rows}
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "memberships.xlsx", out / "orders.xlsx"]
    mpath = out / MARKER
    if not force and mpath.exists() and all(f.exists() for f in files):
        try:
            old = json.loads(mpath.read_text())
        except ValueError:
            old = {}
        if {k: old.get(k) for k in marker} == marker:
            if not quiet:
                print(f"bench data cached in {out} ({size}, scale {rows_scale})")
            return old
    mpath.unlink(missing_ok=True)
    t0 = time.perf_counter()
    rng = np.random.default_rng(SEED)
    m = memberships_data(rng, rows["memberships"])
    o = orders_data(rng, rows["orders"], m["cust_ids"], m["names"])
    t1 = time.perf_counter()
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=write_memberships, args=(files[0], m)),
             ctx.Process(target=write_orders, args=(files[1], o))]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode != 0 for p in procs):
        raise SystemExit("bench_data: writing a workbook failed")
    t2 = time.perf_counter()
    marker.update({"customers": int(m["customers"]), "seconds_data": round(t1 - t0, 2),
                   "seconds_write": round(t2 - t1, 2), "bytes": {f.name: f.stat().st_size for f in files}})
    mpath.write_text(json.dumps(marker, indent=2) + "\n")
    if not quiet:
        print(f"generated {size} (scale {rows_scale}) in {out}: {rows['memberships']:,} membership rows "
              f"({m['customers']:,} customers), {rows['orders']:,} order rows; data {t1 - t0:.1f} s, "
              f"xlsx {t2 - t1:.1f} s; sizes " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in marker["bytes"].items()))
    return marker


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Generate memberseg benchmark inputs.")
    ap.add_argument("--size", choices=sorted(SIZES), default="standard")
    ap.add_argument("--out", type=Path, help="folder (default bench-data/<size>)")
    ap.add_argument("--rows-scale", type=float, default=1.0, help="multiply the row counts (for quick tests)")
    ap.add_argument("--force", action="store_true", help="regenerate even if cached")
    a = ap.parse_args(argv)
    out = a.out or Path("bench-data") / a.size
    generate(a.size, out, a.rows_scale, a.force)


if __name__ == "__main__":
    main()
