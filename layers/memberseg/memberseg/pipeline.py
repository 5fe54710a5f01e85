"""The job's stages in order: read -> validate -> consolidate -> enrich -> classify -> segment.

`run_pipeline` shows the whole run as three phases, called in order:

1. `start_orders`: the orders file is read, validated and summed per ID in a forked child,
   on the second core;
2. `prepare_memberships`: meanwhile this process reads, validates and consolidates the
   memberships;
3. `finish`: waits for the orders summary, then enriches, classifies and segments.

It returns a `Result`; `memberseg.write` turns that into the output files, and
`memberseg.runner` wraps both in an isolated worker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .classify import classify
from .consolidate import Consolidated, consolidate
from .enrich import enrich, orders_by_id
from .errors import InputError
from .hubspot import export
from .isolation import Forked, WorkerDied, crash_error
from .read import HEADER_PROBLEMS, RawTable, both_files_error, read_table
from .result import Result
from .rules import Rules
from .safety import inspect_file
from .segment import segment
from .timing import Progress, no_progress, timed
from .validate import Validated, validate_memberships, validate_orders

__all__ = ["Result", "run_pipeline", "read_input", "start_orders", "prepare_memberships",
           "prepare_memberships_or_both_errors", "finish"]


@dataclass
class OrdersSummary:
    """What the rest of the pipeline needs from the orders file: small enough to pass between processes."""

    source: RawTable
    rejected: pd.DataFrame
    by_id: pd.DataFrame
    timings: dict[str, float]
    excluded: pd.DataFrame | None = None   # not paid, or a currency without a rate
    facts: dict | None = None               # join key, currency: for report.json


@dataclass
class PendingOrders:
    """The orders summary, being computed in a child process (or, with parallel=False, not yet)."""

    path: Path
    rules: Rules
    kind: str | None
    progress: Progress
    job: Forked | None

    def result(self) -> OrdersSummary:
        if self.job is None:
            return summarize_orders(self.path, self.rules, self.kind, self.progress)
        try:
            return self.job.result()
        except WorkerDied as died:
            error = crash_error(died)
            if error is None:
                raise
            raise error from died
        finally:
            self.job = None

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job = None


@dataclass
class PreparedMemberships:
    table: RawTable
    validation: Validated
    consolidated: Consolidated
    timings: dict[str, float]
    rules: Rules | None = None   # the rules plus the segments the memberships profile adds


def read_input(path: Path, role: str, rules: Rules, progress: Progress = no_progress, *,
               kind: str | None = None) -> RawTable:
    """Read one file; `kind` is the safety gate's verdict when the caller already ran it."""
    kind = kind or inspect_file(path, rules.limits, role=role)
    progress("parsing", {"file": path.name, "role": role})
    table = read_table(path, kind, role=role, rules=rules, keep_only_fields=(role == "orders"))
    progress("parsed", {"file": path.name, "role": role})
    return table


def summarize_orders(path: Path, rules: Rules, kind: str | None = None,
                     progress: Progress = no_progress) -> OrdersSummary:
    """Read, validate and sum the orders file per ID (runs in its own process)."""
    timings: dict[str, float] = {}
    with timed(timings, "reading orders", progress):
        table = read_input(path, "orders", rules, progress, kind=kind)
    with timed(timings, "validating orders", progress):
        validated = validate_orders(table, rules)
        by_id = orders_by_id(validated.valid)
    table.frame = table.frame.iloc[:0]
    return OrdersSummary(source=table, rejected=validated.rejected, by_id=by_id, timings=timings,
                         excluded=validated.excluded, facts=validated.facts)


def start_orders(path: Path, rules: Rules, progress: Progress = no_progress, *, parallel: bool = True,
                 kind: str | None = None) -> PendingOrders:
    """Phase 1: start summarising the orders file on the second core."""
    job = Forked(summarize_orders, Path(path), rules, kind, progress=progress) if parallel else None
    return PendingOrders(Path(path), rules, kind, progress, job)


def prepare_memberships(path: Path, rules: Rules, progress: Progress = no_progress, *,
                        kind: str | None = None) -> PreparedMemberships:
    """Phase 2: read, validate and consolidate the memberships (nothing here needs the orders)."""
    timings: dict[str, float] = {}
    with timed(timings, "reading", progress):
        table = read_input(Path(path), "memberships", rules, progress, kind=kind)
    if table.profile is not None:  # a profile may add segments (auto_renewing, ...)
        rules = rules.with_profile(table.profile)
    with timed(timings, "validating", progress):
        validation = validate_memberships(table, rules)
    with timed(timings, "consolidating", progress):
        consolidated = consolidate(validation.valid, rules, table.spec.dedupe_key if table.spec else None)
    return PreparedMemberships(table, validation, consolidated, timings, rules)


def finish(memberships: PreparedMemberships, pending: PendingOrders, rules: Rules, as_of: dt.date,
           progress: Progress = no_progress) -> Result:
    """Phase 3: wait for the orders summary, then enrich, classify and segment."""
    timings = dict(memberships.timings)
    rules = memberships.rules or rules
    with timed(timings, "waiting for orders", progress):
        orders = pending.result()
    timings.update(orders.timings)
    with timed(timings, "enriching", progress):
        join_key = (orders.facts or {}).get("join_key", "customer_id")
        customers, order_match = enrich(memberships.consolidated.customers, memberships.consolidated.links[join_key],
                                        orders.by_id, rules, join_key)
    with timed(timings, "classifying", progress):
        members = classify(customers, as_of, rules)
    with timed(timings, "segmenting", progress):
        members = segment(members, rules)
        hubspot = export(members, rules)
    return Result(rules=rules, as_of=as_of, memberships=memberships.table, orders=orders.source, members=members,
                  member_validation=memberships.validation, orders_rejected=orders.rejected,
                  duplicates=memberships.consolidated.duplicates, order_match=order_match, hubspot=hubspot,
                  timings=timings, orders_excluded=orders.excluded, orders_facts=orders.facts or {})


def prepare_memberships_or_both_errors(path: Path, pending: PendingOrders, rules: Rules,
                                       progress: Progress = no_progress, *,
                                       kind: str | None = None) -> PreparedMemberships:
    """Phase 2, but when the memberships file's headers are wrong, one error names both files' problems."""
    try:
        return prepare_memberships(path, rules, progress, kind=kind)
    except InputError as problem:
        if problem.code not in HEADER_PROBLEMS:
            raise
        try:
            pending.result()
        except InputError as other:
            raise both_files_error(problem, other) from problem
        raise


def run_pipeline(memberships_path: Path, orders_path: Path, rules: Rules, as_of: dt.date,
                 progress: Progress = no_progress, *, parallel: bool = True,
                 kinds: Mapping[str, str] | None = None) -> Result:
    """Run every stage but writing, in three phases (see the module docstring).

    `kinds` holds the safety gate's verdict per role when the caller gated the files first."""
    kinds = kinds or {}
    pending = start_orders(orders_path, rules, progress, parallel=parallel, kind=kinds.get("orders"))
    try:
        memberships = prepare_memberships_or_both_errors(memberships_path, pending, rules, progress,
                                                         kind=kinds.get("memberships"))
        return finish(memberships, pending, rules, as_of, progress)
    finally:
        pending.cancel()  # a no-op once collected; stops the orders reader if the memberships failed first
