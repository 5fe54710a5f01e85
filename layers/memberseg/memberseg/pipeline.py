"""The job's stages in order: check -> read -> validate / orders -> consolidate -> enrich -> classify -> segment.

`run_pipeline` shows the whole run as four phases, called in order:

0. `check_inputs`: both files pass the safety gate and the header check before either is parsed
   in full, the orders file in its own process (started by `start_orders`), the memberships file
   here; one error lists every file's header problems, and two files uploaded in each other's place
   are swapped (or refused as swapped_files: `swap_reason`). Each full read then has calamine parse the
   header's sheet while the stages' modules (pandas) are imported in a thread, so the two overlap;
1. the orders process goes on: it reads the orders, applies their money rules (`memberseg.orders`) and
   sums them per ID on the second core, and hands back an `OrdersSummary`;
2. `prepare_memberships`: meanwhile this process reads, validates and consolidates the memberships;
3. `finish`: waits for the orders summary, then enriches, classifies and segments, and compares with the
   previous run's state (`memberseg.changes`).

It returns a `Result`; `memberseg.write` turns that into the output files, and
`memberseg.runner` wraps both in an isolated worker. The stages' modules, and pandas with them,
are imported only inside the phases, after phase 0: a bad file is refused before they load.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError
from .header_check import SheetParse, check_headers
from .headers import both_files_error
from .isolation import Forked, GoSignal, WorkerDied, crash_error
from .rules import STANDARD_PROFILE, Rules
from .safety import inspect_file
from .state_file import PreviousFile
from .timing import Progress, no_progress, timed

if TYPE_CHECKING:
    import pandas as pd

    from .consolidate import Consolidated
    from .read import RawTable, SourceFacts
    from .result import Result
    from .validate import Validated

__all__ = ["run_pipeline", "check_inputs", "swap_reason", "read_input", "start_orders", "prepare_memberships",
           "finish"]


@dataclass
class OrdersSummary:
    """What the rest of the pipeline needs from the orders file: small enough to pass between processes."""

    source: SourceFacts        # file, sheet, header row, rows in, profile and locale decisions
    rejected: pd.DataFrame     # row, customer_id, customer_name, reason
    by_id: pd.DataFrame        # `memberseg.orders.orders_by_id`: the valid orders summed per join key
    timings: dict[str, float]
    excluded: pd.DataFrame     # not paid, or a currency without a rate
    facts: dict                # join key, currency, line items, orders in: for report.json


@dataclass
class CheckedFile:
    """A file that passed the safety gate, with its header check."""

    kind: str                       # "xlsx", "xls" or "csv"
    problem: InputError | None      # its header problem, if any
    sheet: str | None = None        # the sheet that holds the header, when the check could tell


def parsing(path: Path, role: str) -> dict:
    """The "parsing" stage's info: the file, its role and its size (named if the reader is killed for memory)."""
    return {"file": path.name, "role": role, "bytes": path.stat().st_size}


def check_file(path: Path, role: str, rules: Rules, progress: Progress = no_progress) -> CheckedFile:
    """The safety gate's verdict (an unsafe file raises at once) and the file's header check."""
    kind = inspect_file(path, rules.limits, role=role)
    check = check_headers(path, kind, role, rules,
                          on_parse=lambda: progress("parsing", parsing(Path(path), role)))
    return CheckedFile(kind, check.problem, check.sheet)


def _orders_side(path: Path, rules: Rules, go: GoSignal, progress: Progress) -> OrdersSummary | None:
    """The orders process: check the file, wait until the memberships file passed its check too, then sum it."""
    checked = check_file(path, "orders", rules, progress)
    if checked.problem is not None:
        raise checked.problem
    progress("checked", {"role": "orders", "file": path.name})
    if not go.wait():
        return None  # the memberships file failed its check; the parent reports both
    return summarize_orders(path, rules, checked, progress)


@dataclass
class PendingOrders:
    """The orders file, checked and then summarised in a child process (or, with parallel=False, here)."""

    path: Path
    rules: Rules
    progress: Progress
    job: Forked | None
    go: GoSignal | None
    checked: CheckedFile | None = None   # with parallel=False, the check made here

    def problem(self) -> InputError | None:
        """Wait for the orders file's check: None when it passed, else its error."""
        if self.job is None:
            self.checked = check_file(self.path, "orders", self.rules, self.progress)
            return self.checked.problem
        if self.job.wait_for("checked"):
            return None
        try:
            self.result()
        except InputError as problem:
            return problem
        raise AssertionError("the orders process ended before its check without an error")  # pragma: no cover

    def proceed(self) -> None:
        if self.go is not None:
            self.go.give(True)

    def result(self) -> OrdersSummary:
        if self.job is None:
            return summarize_orders(self.path, self.rules, self.checked, self.progress)
        try:
            summary: OrdersSummary = self.job.result()
            return summary
        except WorkerDied as died:
            error = crash_error(died, [self.path])
            if error is None:
                raise
            raise error from died
        finally:
            self.job = None

    def cancel(self) -> None:
        if self.go is not None:
            self.go.give(False)
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
               checked: CheckedFile | None = None) -> RawTable:
    """Read one file in full; `checked` is its gate verdict and header check when the caller ran them.

    A spreadsheet's header sheet is parsed while the reader (and pandas) is imported in a thread."""
    kind = checked.kind if checked else inspect_file(path, rules.limits, role=role)
    progress("parsing", parsing(path, role))
    early = None
    if checked and checked.sheet is not None and kind != "csv":
        early = SheetParse(path, checked.sheet, meanwhile=_import_stages)
    from .read import read_table

    table = read_table(path, kind, role=role, rules=rules, keep_only_fields=(role == "orders"), early=early)
    progress("parsed", {"file": path.name, "role": role})
    return table


def _import_stages() -> None:
    import memberseg.orders
    import memberseg.read
    import memberseg.validate  # noqa: F401 - imported for the reader, ahead of its use


def summarize_orders(path: Path, rules: Rules, checked: CheckedFile | None = None,
                     progress: Progress = no_progress) -> OrdersSummary:
    """Read, validate and sum the orders file per ID (runs in its own process). A CSV file is read, judged and
    summed in DuckDB (`memberseg.orders_sql`, rules' engine.csv_orders); a file the SQL declines, and every
    spreadsheet, by pandas (`memberseg.orders`)."""
    timings: dict[str, float] = {}
    checked = checked or CheckedFile(inspect_file(path, rules.limits, role="orders"), None)
    if checked.kind == "csv" and rules.engine.csv_orders == "duckdb":
        summed = _summarize_in_sql(path, rules, timings, progress)
        if summed is not None:
            return summed
    with timed(timings, "reading orders", progress):
        table = read_input(path, "orders", rules, progress, checked=checked)
    from .orders import orders_by_id, refunded_beyond_paid, validate_orders

    with timed(timings, "validating orders", progress):
        validated = validate_orders(table, rules)
        by_id = orders_by_id(validated.valid)
    if "row_types" in validated.facts:
        validated.facts["row_types"]["join_keys_refunded_beyond_paid"] = refunded_beyond_paid(by_id)
    return OrdersSummary(source=table.facts(validated.locale), rejected=validated.rejected, by_id=by_id,
                         timings=timings, excluded=validated.excluded, facts=validated.facts)


def _summarize_in_sql(path: Path, rules: Rules, timings: dict[str, float], progress: Progress) -> OrdersSummary | None:
    """The CSV orders file's summary from DuckDB; None when the SQL declines the file."""
    from .orders import refunded_beyond_paid
    from .orders_sql import EngineSettings, summarize_csv

    progress("parsing", parsing(path, "orders"))
    with timed(timings, "summing orders in DuckDB", progress):
        summed = summarize_csv(path, rules, EngineSettings.of(rules))
    if summed is None:
        return None
    progress("parsed", {"file": path.name, "role": "orders"})
    if "row_types" in summed.facts:
        summed.facts["row_types"]["join_keys_refunded_beyond_paid"] = refunded_beyond_paid(summed.by_id)
    return OrdersSummary(source=summed.source, rejected=summed.rejected, by_id=summed.by_id, timings=timings,
                         excluded=summed.excluded, facts=summed.facts)


def start_orders(path: Path, rules: Rules, progress: Progress = no_progress, *, parallel: bool = True) -> PendingOrders:
    """Phase 0 begins: the orders file's process checks it, then (once told to go) summarises it."""
    if not parallel:
        return PendingOrders(Path(path), rules, progress, None, None)
    go = GoSignal()
    job = Forked(_orders_side, Path(path), rules, go, progress=progress)
    return PendingOrders(Path(path), rules, progress, job, go)


@dataclass
class CheckedInputs:
    """Phase 0's outcome: each file in its role, checked, and the orders on their way."""

    memberships: Path
    orders: Path
    checked: CheckedFile            # the memberships file's check
    pending: PendingOrders
    swapped: str | None = None      # why the two files were read in each other's place, when they were


def check_inputs(memberships_path: Path, orders_path: Path, rules: Rules, progress: Progress = no_progress, *,
                 parallel: bool = True, recognise_swap: bool = True) -> CheckedInputs:
    """Phase 0: both files through the gate and the header check; one error for both files' problems.

    Two files uploaded in each other's place are swapped when each surely is the other's role, and
    refused as swapped_files when only one of them surely is. The orders go on to phase 1 on their own."""
    memberships_path, orders_path = Path(memberships_path), Path(orders_path)
    pending = start_orders(orders_path, rules, progress, parallel=parallel)
    try:
        checked = check_file(memberships_path, "memberships", rules, progress)
        problem, other = checked.problem, pending.problem()
        if problem is not None or other is not None:
            reason = swap_reason(memberships_path, checked.kind, orders_path, rules, problem, other) \
                if recognise_swap else None
            if reason is not None:
                pending.cancel()
                swapped = check_inputs(orders_path, memberships_path, rules, progress, parallel=parallel,
                                       recognise_swap=False)
                swapped.swapped = reason
                return swapped
            if problem is not None and other is not None:
                raise both_files_error(problem, other)
            raise problem or other  # type: ignore[misc]
    except BaseException:
        pending.cancel()
        raise
    pending.proceed()
    return CheckedInputs(memberships_path, orders_path, checked, pending)


def swap_reason(memberships_path: Path, memberships_kind: str, orders_path: Path, rules: Rules,
                problem: InputError | None, other: InputError | None) -> str | None:
    """Why the two files are in each other's place, when both surely are (their headers fit the other role and
    not their own); None when they are not swapped. Only one surely in the other's place: swapped_files."""
    if any(error is not None and error.code != "missing_column" for error in (problem, other)):
        return None  # a file the gate or the reader refused is no export of either kind
    orders_kind = inspect_file(orders_path, rules.limits, role="orders")  # it passed the gate in its process
    as_orders = check_headers(memberships_path, memberships_kind, "orders", rules)
    as_memberships = check_headers(orders_path, orders_kind, "memberships", rules)
    looks = []
    if as_orders.fits:
        looks.append(f"the memberships file '{memberships_path.name}' is an orders export (its headers fit the "
                     f"profile {as_orders.profile} as orders)")
    if as_memberships.fits:
        looks.append(f"the orders file '{orders_path.name}' is a memberships export (its headers fit the profile "
                     f"{as_memberships.profile} as memberships)")
    if as_orders.fits and as_memberships.fits:
        return "; ".join(looks) + ". memberseg read each file in the other's place."
    if (as_orders.fits and other is not None) or (as_memberships.fits and problem is not None):
        raise swapped_files_error(looks, [error for error in (problem, other) if error is not None],
                                  as_memberships.problem if as_orders.fits else as_orders.problem)
    return None


def swapped_files_error(looks: list[str], problems: list[InputError], unsure: InputError | None) -> InputError:
    """One file surely belongs in the other's place, the other file fits neither: they look swapped."""
    message = ("These look swapped: " + "; ".join(looks) + ". Upload the memberships export as the memberships file "
               "and the orders export as the orders file, then run again.")
    if unsure is not None:
        message += f" Read in the other's place, the other file does not fit either: {unsure.message}"
    first = problems[0]
    return InputError("swapped_files", message, file=first.file,
                      details={"problems": [error.to_dict()["error"] for error in problems]})


def prepare_memberships(path: Path, rules: Rules, progress: Progress = no_progress, *,
                        checked: CheckedFile | None = None) -> PreparedMemberships:
    """Phase 2: read, validate and consolidate the memberships (nothing here needs the orders)."""
    timings: dict[str, float] = {}
    with timed(timings, "reading", progress):
        table = read_input(Path(path), "memberships", rules, progress, checked=checked)
    from .consolidate import consolidate
    from .validate import validate_memberships

    if table.profile is not None:  # a profile may add segments (auto_renewing, ...)
        rules = rules.with_profile(table.profile)
    with timed(timings, "validating", progress):
        validation = validate_memberships(table, rules)
    with timed(timings, "consolidating", progress):
        consolidated = consolidate(validation.valid, rules, table.spec.dedupe_key if table.spec else None)
    return PreparedMemberships(table, validation, consolidated, timings, rules)


def finish(memberships: PreparedMemberships, pending: PendingOrders, rules: Rules, as_of: dt.date,
           progress: Progress = no_progress, previous: PreviousFile | None = None) -> Result:
    """Phase 3: wait for the orders summary, then enrich, classify and segment, and compare with `previous`."""
    from .changes import carry_over, read_state
    from .classify import classify
    from .enrich import enrich
    from .hubspot import clearable, export
    from .result import Result
    from .segment import segment

    timings = dict(memberships.timings)
    rules = memberships.rules or rules
    with timed(timings, "waiting for orders", progress):
        orders = pending.result()
    timings.update(orders.timings)
    with timed(timings, "enriching", progress):
        join_key = orders.facts["join_key"]
        check_join_column(memberships.table, orders, join_key)
        spec = memberships.table.spec
        customers, order_match = enrich(memberships.consolidated.customers, memberships.consolidated.links[join_key],
                                        orders.by_id, rules, join_key,
                                        created_from_payments=spec is not None and spec.created_from is not None)
    with timed(timings, "classifying", progress):
        members = classify(customers, as_of, rules)
    state = None
    if previous is not None:
        with timed(timings, "reading the previous run's state", progress):
            state = read_state(previous.data, previous.where)
    with timed(timings, "segmenting", progress):
        members = segment(members, rules)
        members, changes = carry_over(members, state, rules, as_of)
        hubspot = export(members, rules)
        if rules.hubspot.gone_customers == "clear":
            hubspot.gone = clearable(changes.gone, hubspot.contacts)
    return Result(rules=rules, as_of=as_of, memberships=memberships.table, orders=orders.source, members=members,
                  member_validation=memberships.validation, orders_rejected=orders.rejected,
                  duplicates=memberships.consolidated.duplicates, order_match=order_match, hubspot=hubspot,
                  timings=timings, orders_excluded=orders.excluded, orders_facts=orders.facts,
                  changes=changes)


# The join keys a memberships file may lack (a customer name can always be composed from its parts).
JOIN_WORDS = {"customer_id": "customer ID", "email": "email"}


def check_join_column(table: RawTable, orders: OrdersSummary, join_key: str) -> None:
    """Orders that name customers by a column the memberships file lacks would match nobody, and every
    total would be 0 with no error: stop instead, naming both files."""
    if join_key not in JOIN_WORDS or table.column(join_key) is not None or orders.by_id.empty:
        return
    word = JOIN_WORDS[join_key]
    raise InputError(
        "join_column_missing",
        f"The orders file '{orders.source.file}' names each customer by {word}, but the memberships file "
        f"'{table.file}' has no {word} column that memberseg reads, so no order could be matched to a member "
        f"and every total would be 0. Export the memberships with the customer's {word}, or say which of its "
        "columns holds it in the memberships profile (see docs/rules.md).",
        file=table.file, sheet=table.sheet,
        details={"join_key": join_key, "orders_file": orders.source.file,
                 "profile": table.profile.name if table.profile else STANDARD_PROFILE})


def run_pipeline(memberships_path: Path, orders_path: Path, rules: Rules, as_of: dt.date,
                 progress: Progress = no_progress, *, parallel: bool = True,
                 previous: PreviousFile | None = None) -> Result:
    """Run every stage but writing, in four phases (see the module docstring); `previous` is the state of
    the run to compare with (none: a first run, everyone is new)."""
    inputs = check_inputs(memberships_path, orders_path, rules, progress, parallel=parallel)
    try:
        memberships = prepare_memberships(inputs.memberships, rules, progress, checked=inputs.checked)
        result = finish(memberships, inputs.pending, rules, as_of, progress, previous)
        result.swapped = inputs.swapped
        return result
    finally:
        inputs.pending.cancel()  # a no-op once collected; stops the orders process if the memberships failed first
