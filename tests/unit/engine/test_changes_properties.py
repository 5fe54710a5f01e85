"""Issue 18 §4: the invariants of state and changes, as hypothesis properties over generated runs.

Each run is a members frame as the pipeline hands it to `memberseg.changes.carry_over` (customers drawn
from a small pool of keys, so runs share some and not others), with a state written and read back between
runs exactly as the next run reads it. The last properties run the whole pipeline on generated files, so the
HubSpot CSV, its hashes and the plan of a push of only what changed (memberseg.push.delta) are the real ones.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import MEMBERSHIP_HEADERS, ORDER_HEADERS, membership, order, write_xlsx
from memberseg.changes import carry_over, read_state, state_bytes, state_frame
from memberseg.pipeline import run_pipeline
from memberseg.push.delta import AcceptedState, plan_delta, state_rows
from memberseg.rules import load_rules, since_column
from memberseg.state_file import PreviousFile, read_previous
from memberseg.write import write_outputs
from series_expected import check_contact_dates

RULES = load_rules()
SEGMENTS = [seg.property for seg in RULES.segments]
LABELS = {seg.property: seg.label for seg in RULES.segments}
STATUSES = RULES.status.labels.all()
START = dt.date(2026, 11, 15)

customer = st.fixed_dictionaries({
    "status": st.sampled_from(STATUSES),
    "expires": st.one_of(st.none(), st.dates(dt.date(2025, 1, 1), dt.date(2028, 12, 31))),
    "tier": st.sampled_from(["Gold", "Silver", "No Orders"]),
    "total": st.sampled_from([0.0, 999.99, 1000.0, 5000.5]),
    "flags": st.lists(st.booleans(), min_size=len(SEGMENTS), max_size=len(SEGMENTS)),
    "email": st.one_of(st.none(), st.just("x")),
})
run = st.dictionaries(st.integers(1, 12), customer, max_size=10)


def members(customers: dict[int, dict]) -> pd.DataFrame:
    keys = sorted(customers)
    rows = [customers[key] for key in keys]
    frame = pd.DataFrame({
        "customer_key": [f"id:{key}" for key in keys], "customer_id": [str(key) for key in keys],
        "customer_name": [f"Customer {key}" for key in keys],
        "email": [f"c{key}@x.com" if row["email"] else None for key, row in zip(keys, rows, strict=True)],
        "membership_status": pd.Series([row["status"] for row in rows], dtype=object),
        "expiration": pd.Series([row["expires"] for row in rows], dtype="datetime64[s]"),
        "order_value_tier": pd.Series([row["tier"] for row in rows], dtype=object),
        "total_order_value": pd.Series([row["total"] for row in rows], dtype=float),
    })
    for position, name in enumerate(SEGMENTS):
        frame[name] = pd.Series([row["flags"][position] for row in rows], dtype=bool)
    return frame


def step(customers: dict[int, dict], previous, as_of: dt.date):
    """One run: carry over from `previous`, then the state it leaves, read back as the next run reads it."""
    carried, changes = carry_over(members(customers), previous, RULES, as_of)
    hashes = pd.Series("h", index=carried.index[carried["email"].notna()], dtype=object)
    data = state_bytes(state_frame(carried, hashes, RULES, as_of))
    return carried, changes, data, read_state(data, "previous")


@settings(max_examples=30, deadline=None)
@given(run)
def test_a_run_compared_with_itself_changes_nothing(customers: dict) -> None:
    _, _, data, state = step(customers, None, START)
    _, changes, again, _ = step(customers, state, START)
    assert changes.rows.empty
    assert (changes.counts["new"], changes.counts["gone"], changes.counts["status_changed"]) == (0, 0, 0)
    assert set(changes.counts["entered"].values()) <= {0} and set(changes.counts["left"].values()) <= {0}
    assert again == data                                    # the same state, byte for byte


@settings(max_examples=30, deadline=None)
@given(run, run, st.integers(0, 90))
def test_since_dates_are_kept_while_in_the_segment_never_after_the_as_of_and_blank_exactly_when_out(
        first: dict, second: dict, days: int) -> None:
    later = START + dt.timedelta(days=days)
    before, _, _, state = step(first, None, START)
    after, _, _, _ = step(second, state, later)
    previous = before.set_index("customer_key")
    for name in SEGMENTS:
        since = after[since_column(name)]
        flags = after[name].to_numpy(dtype=bool)
        assert (since.isna().to_numpy() == ~flags).all()                 # blank exactly when the flag is false
        assert (since.dropna() <= pd.Timestamp(later)).all()               # never after the run's as-of date
        stayed = after[flags & after["customer_key"].isin(previous.index[previous[name]]).to_numpy()]
        kept = previous.loc[stayed["customer_key"], since_column(name)].to_numpy()
        assert (stayed[since_column(name)].to_numpy() == kept).all()       # unmoved while they stay in it


@settings(max_examples=30, deadline=None)
@given(run, run)
def test_the_changes_and_the_unchanged_account_for_every_customer_of_both_runs(first: dict, second: dict) -> None:
    _, _, _, state = step(first, None, START)
    after, changes, _, _ = step(second, state, START + dt.timedelta(days=10))
    rows = changes.rows
    listed = rows["customer_id"].tolist()
    assert len(listed) == len(set(listed))                                  # one row per customer
    assert set(rows.loc[rows["change"] == "new", "customer_id"]) == {str(k) for k in set(second) - set(first)}
    assert set(rows.loc[rows["change"] == "gone", "customer_id"]) == {str(k) for k in set(first) - set(second)}
    unchanged = {str(k) for k in second} - set(listed)
    for key in map(int, unchanged):                                         # really unchanged
        assert first[key]["status"] == second[key]["status"] and first[key]["flags"] == second[key]["flags"]
        assert first[key]["tier"] == second[key]["tier"] and first[key]["total"] == second[key]["total"]
    assert set(listed) | unchanged == {str(k) for k in set(first) | set(second)}


@settings(max_examples=30, deadline=None)
@given(run, run)
def test_the_counts_equal_the_changes_rows(first: dict, second: dict) -> None:
    _, _, _, state = step(first, None, START)
    _, changes, _, _ = step(second, state, START + dt.timedelta(days=10))
    rows, counts = changes.rows, changes.counts
    assert counts["new"] == (rows["change"] == "new").sum()
    assert counts["gone"] == (rows["change"] == "gone").sum()
    moved = rows[(rows["change"] == "changed") & (rows["status_before"] != rows["status_after"])]
    assert counts["status_changed"] == len(moved)
    for name in SEGMENTS:
        entered = rows["entered"].str.split(", ").map(lambda labels, n=name: LABELS[n] in labels)
        left = rows["left"].str.split(", ").map(lambda labels, n=name: LABELS[n] in labels)
        assert counts["entered"][name] == entered.sum()
        assert counts["left"][name] == left.sum()


@settings(max_examples=20, deadline=None)
@given(st.lists(run, min_size=1, max_size=4))
def test_replaying_a_series_gives_the_same_state(series: list[dict]) -> None:
    def replay() -> bytes:
        state, data = None, b""
        for number, customers in enumerate(series):
            _, _, data, state = step(customers, state, START + dt.timedelta(days=7 * number))
        return data

    assert replay() == replay()


@settings(max_examples=20, deadline=None)
@given(run, run)
def test_the_state_depends_only_on_the_last_inputs_and_the_carried_dates(first: dict, second: dict) -> None:
    """Two series ending in the same inputs on the same day, whose customers entered their segments on the
    same days, leave the same state: here, the same first run followed by either the last run directly or
    the last run twice."""
    _, _, _, state = step(first, None, START)
    last = START + dt.timedelta(days=14)
    _, _, direct, _ = step(second, state, last)
    _, _, _, again_state = step(second, state, last)
    _, _, twice, _ = step(second, again_state, last)
    # The second comparison has no changes, so nothing but the as-of-date carry-over could differ: nothing does.
    assert np.array_equal(np.frombuffer(direct, np.uint8), np.frombuffer(twice, np.uint8))


@settings(max_examples=20, deadline=None)
@given(run, run, st.integers(0, 90), st.randoms(use_true_random=False))
def test_the_state_depends_only_on_the_last_inputs_and_the_carried_over_values(
        first: dict, second: dict, days: int, shuffle) -> None:
    """Whatever else the previous state says (the gone customers, names, emails, expirations, tiers, totals,
    hashes, its row order) does not reach the next state: only its statuses, flags and their dates do."""
    _, _, _, state = step(first, None, START)
    later = START + dt.timedelta(days=days)
    _, _, expected, _ = step(second, state, later)

    other = state.frame.reset_index(drop=True)
    other = other[other["customer_key"].isin([f"id:{key}" for key in second])]       # no gone customers
    other = other.assign(customer_name="someone else", email="other@x.com", membership_expiration_date="2020-01-01",
                         order_value_tier="Platinum", total_order_value="123456.78", hubspot_hash="0" * 32)
    positions = list(range(len(other)))
    shuffle.shuffle(positions)
    _, _, got, _ = step(second, read_state(state_bytes(other.iloc[positions]), "rewritten"), later)
    assert got == expected


# --- the whole pipeline on generated files ----------------------------------------------------------------

PIPELINE = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DAY = dt.timedelta(days=1)

member_row = st.builds(
    lambda key, created, days, email, enrolled: membership(
        key, f"Customer {key}", dt.datetime.combine(START + created * DAY, dt.time()),
        dt.datetime.combine(START + (created + days) * DAY, dt.time()),
        {0: None, 1: f"c{key}@x.com", 2: "shared@x.com"}[email], "Enrolled" if enrolled else "Not Enrolled"),
    st.integers(1, 8), st.integers(-800, 20), st.sampled_from([30, 365, 400]), st.integers(0, 2), st.booleans())
order_row = st.builds(lambda key, value: order(key, value, dt.datetime(2026, 6, 1)),
                      st.integers(1, 10), st.sampled_from([0, 50, 999.99, 1000.01, 6000]))
export = st.tuples(st.lists(member_row, min_size=1, max_size=12), st.lists(order_row, max_size=10))


def _run_files(folder: Path, files: tuple[list, list], as_of: dt.date, since: Path | None) -> Path:
    """One `memberseg run` of the files (compared with the run in `since`), its outputs in `folder`."""
    members, orders = files
    folder.mkdir()
    inputs = folder / "inputs"
    inputs.mkdir()
    mpath = write_xlsx(inputs / "memberships.xlsx", MEMBERSHIP_HEADERS, members)
    opath = write_xlsx(inputs / "orders.xlsx", ORDER_HEADERS, orders)
    previous = PreviousFile(read_previous(since), str(since)) if since else None
    write_outputs(run_pipeline(mpath, opath, RULES, as_of, parallel=False, previous=previous), folder)
    return folder


def _report(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text(encoding="utf-8"))


@PIPELINE
@given(export, export, st.integers(0, 60))
def test_the_same_files_on_the_same_day_change_nothing_and_push_nothing(first, second, days: int) -> None:
    """Run one export, then another (a later day, compared with the first), then the second again on its own
    day: the third run changes nothing, leaves the second run's state and, HubSpot holding what the second
    run made current, a push of what changed sends no contact."""
    later = START + days * DAY
    root = Path(tempfile.mkdtemp(prefix="memberseg-series-"))
    try:
        one = _run_files(root / "one", first, START, None)
        two = _run_files(root / "two", second, later, one)
        three = _run_files(root / "three", second, later, two)
        for folder, as_of in ((one, START), (two, later), (three, later)):
            with open(folder / "hubspot_contacts.csv", newline="", encoding="utf-8") as handle:
                check_contact_dates(list(csv.DictReader(handle)), as_of)
        report = _report(three)
        assert report["changes"]["since"] == later.isoformat()
        assert (report["changes"]["new"], report["changes"]["gone"], report["changes"]["status_changed"]) == (0, 0, 0)
        assert set(report["changes"]["entered"].values()) == {0} and set(report["changes"]["left"].values()) == {0}
        assert report["changes_summary"] == f"since {later.isoformat()}: no changes"
        assert (three / "customer_state.csv.gz").read_bytes() == (two / "customer_state.csv.gz").read_bytes()

        accepted = state_rows(two)
        assert accepted is not None
        files = [three / name for name in report["hubspot"]["files"]]
        plan = plan_delta(three, files, two, AcceptedState.all_taken(accepted))
        assert plan is not None and plan.parts == {}
        assert plan.counts == {"added": 0, "changed": 0, "unchanged": len(accepted.keys), "cleared": 0}
    finally:
        shutil.rmtree(root, ignore_errors=True)
