"""The job's stages in order: read -> validate -> consolidate -> enrich -> classify -> segment.

`run_pipeline` takes two paths and returns a `Result`; `memberseg.write` turns it
into the four output files, and `memberseg.runner` wraps both in an isolated worker.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .classify import classify
from .consolidate import consolidate
from .enrich import OrderMatch, enrich, orders_by_id
from .errors import InputError
from .hubspot import HubSpotExport, export
from .isolation import Forked, WorkerDied, crash_error
from .read import HEADER_PROBLEMS, RawTable, both_files_error, read_table
from .rules import Rules
from .safety import inspect_file
from .segment import segment
from .validate import Validated, validate_memberships, validate_orders

Progress = Callable[[str, dict], None]


@dataclass
class Result:
    rules: Rules
    as_of: dt.date
    memberships: RawTable
    orders: RawTable               # metadata only: its frame is dropped once summarised
    members: pd.DataFrame          # one row per customer, in output order
    member_validation: Validated
    orders_rejected: pd.DataFrame  # row, customer_id, customer_name, reason
    duplicates: pd.DataFrame
    order_match: OrderMatch
    hubspot: HubSpotExport
    timings: dict[str, float] = field(default_factory=dict)
    orders_excluded: pd.DataFrame | None = None   # row, customer_id, customer_name, reason (not paid, no rate)
    orders_facts: dict = field(default_factory=dict)  # join key, currency: for report.json


@dataclass
class OrdersSummary:
    """What the rest of the pipeline needs from the orders file: small enough to pass between processes."""

    source: RawTable
    rejected: pd.DataFrame
    by_id: pd.DataFrame
    timings: dict[str, float]
    excluded: pd.DataFrame | None = None
    facts: dict = field(default_factory=dict)


def no_progress(stage: str, info: dict) -> None:
    return None


@contextmanager
def timed(timings: dict[str, float], stage: str, progress: Progress, **info) -> Iterator[None]:
    progress(stage, info)
    started = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - started, 3)


def read_input(path: Path, role: str, rules: Rules, progress: Progress = no_progress) -> RawTable:
    kind = inspect_file(path, rules.limits, role=role)
    progress("parsing", {"file": path.name, "role": role})
    table = read_table(path, kind, role=role, rules=rules, keep_only_fields=(role == "orders"))
    progress("parsed", {"file": path.name, "role": role})
    return table


def summarize_orders(path: Path, rules: Rules, progress: Progress = no_progress) -> OrdersSummary:
    """Read, validate and sum the orders file per ID (runs in its own process)."""
    timings: dict[str, float] = {}
    with timed(timings, "reading orders", progress):
        table = read_input(path, "orders", rules, progress)
    with timed(timings, "validating orders", progress):
        validated = validate_orders(table, rules)
        by_id = orders_by_id(validated.valid)
    table.frame = table.frame.iloc[:0]
    return OrdersSummary(source=table, rejected=validated.rejected, by_id=by_id, timings=timings,
                         excluded=validated.excluded, facts=validated.facts)


ConsolidatedHook = Callable[[RawTable, Validated, pd.DataFrame], None]


def run_pipeline(memberships_path: Path, orders_path: Path, rules: Rules, as_of: dt.date,
                 progress: Progress = no_progress, *, parallel: bool = True,
                 on_consolidated: ConsolidatedHook | None = None) -> Result:
    """Run every stage but writing. `on_consolidated(memberships, validation, duplicates)` runs while the
    orders file is still being read, so a caller can start writing what no longer depends on orders."""
    timings: dict[str, float] = {}
    # The orders file is read on the second core while the memberships are consolidated.
    orders_job = Forked(summarize_orders, Path(orders_path), rules, progress=progress) if parallel else None
    try:
        with timed(timings, "reading", progress):
            try:
                memberships = read_input(Path(memberships_path), "memberships", rules, progress)
            except InputError as problem:  # say what is wrong with both files at once
                if problem.code not in HEADER_PROBLEMS:
                    raise
                other = _orders_problem(orders_job, Path(orders_path), rules)
                orders_job = None
                if other is None:
                    raise
                raise both_files_error(problem, other) from problem
        if memberships.profile is not None:  # a profile may add segments (auto_renewing, ...)
            rules = rules.with_profile(memberships.profile)
        with timed(timings, "validating", progress):
            member_validation = validate_memberships(memberships, rules)
        with timed(timings, "consolidating", progress):
            consolidated = consolidate(member_validation.valid, rules,
                                       memberships.spec.dedupe_key if memberships.spec else None)
        if on_consolidated:
            with timed(timings, "writing duplicates", progress):
                on_consolidated(memberships, member_validation, consolidated.duplicates)
        with timed(timings, "waiting for orders", progress):
            orders = (_collect(orders_job) if orders_job
                      else summarize_orders(Path(orders_path), rules, progress))
            orders_job = None
    finally:
        if orders_job is not None:  # memberships failed first: stop the orders reader too
            orders_job.cancel()
    timings.update(orders.timings)
    with timed(timings, "enriching", progress):
        join_key = orders.facts.get("join_key", "customer_id")
        customers, order_match = enrich(consolidated.customers, consolidated.links[join_key], orders.by_id, rules,
                                        join_key)
    with timed(timings, "classifying", progress):
        members = classify(customers, as_of, rules)
    with timed(timings, "segmenting", progress):
        members = segment(members, rules)
        hubspot = export(members, rules)
    return Result(rules=rules, as_of=as_of, memberships=memberships, orders=orders.source, members=members,
                  member_validation=member_validation, orders_rejected=orders.rejected,
                  duplicates=consolidated.duplicates, order_match=order_match, hubspot=hubspot, timings=timings,
                  orders_excluded=orders.excluded, orders_facts=orders.facts)


def _orders_problem(job: Forked | None, path: Path, rules: Rules) -> InputError | None:
    """The orders file's own bad-input error, if it has one (used when the memberships file failed)."""
    try:
        _collect(job) if job else summarize_orders(path, rules)
    except InputError as problem:
        return problem
    return None


def _collect(job: Forked) -> OrdersSummary:
    try:
        return job.result()
    except WorkerDied as died:
        error = crash_error(died)
        if error is None:
            raise
        raise error from died
