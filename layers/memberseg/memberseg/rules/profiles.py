"""The platform profiles: what one export format's file means (its signature headers, fields, status
texts and quirks), and the packaged profile files in `memberseg/profiles/`, one YAML file per format."""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import functools
from collections.abc import Collection, Iterator
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from .model import (
    MEMBERSHIP_CLASSES,
    MEMBERSHIP_FIELDS,
    ORDER_CLASSES,
    ORDER_FIELDS,
    ROLES,
    ROW_TYPE_CLASSES,
    DateOrder,
    DecimalSeparator,
    DedupeKey,
    FieldSpec,
    Scalar,
    Segment,
    Strict,
    check_fields,
    headers_with_letters,
)

PACKAGE = "memberseg"                   # the package that holds the YAML files (profiles/, default_rules.yaml)
PROFILES_FOLDER = "profiles"
STANDARD_PROFILE = "standard"


class RenewalTest(Strict):
    """A test on one field of a row, e.g. Stripe's `Canceled At` is blank, or an item name starts with
    "Mitgliedsbeitrag" (text tests ignore case; a list value means any of its texts)."""

    field: str
    op: Literal["is_blank", "not_blank", "positive", "eq", "ne", "in", "not_in", "starts_with", "contains"]
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> RenewalTest:
        if self.op in ("starts_with", "contains"):
            values = self.value if isinstance(self.value, list) else [self.value]
            if not values or any(value is None or not str(value).strip() for value in values):
                raise ValueError(f"op {self.op!r} takes a text or a list of texts, none blank")
        return self


class TermSpan(Strict):
    """A fixed length: a number of months (the same day N months on; 29 February + 12 months is
    28 February) or of days."""

    months: int | None = Field(default=None, ge=1, le=1200)
    days: int | None = Field(default=None, ge=1, le=36600)

    @model_validator(mode="after")
    def _one(self) -> TermSpan:
        if (self.months is None) == (self.days is None):
            raise ValueError("give either months or days")
        return self


class TermLength(Strict):
    """How long a bought term lasts: a fixed span from the payment date, the calendar year, a season
    from a start day ("09-01"), or a span per billing interval read from a column."""

    months: int | None = Field(default=None, ge=1, le=1200)
    days: int | None = Field(default=None, ge=1, le=36600)
    calendar_year: bool = False
    season_start: str | None = Field(default=None, pattern=r"^\d\d-\d\d$")
    interval_field: str | None = None
    intervals: dict[str, TermSpan] = {}

    @model_validator(mode="before")
    @classmethod
    def _bare_word(cls, data: Any) -> Any:
        return {"calendar_year": True} if data == "calendar_year" else data

    @model_validator(mode="after")
    def _one_kind(self) -> TermLength:
        kinds = [self.months is not None, self.days is not None, self.calendar_year, self.season_start is not None,
                 self.interval_field is not None]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of months, days, calendar_year, season_start, interval_field")
        if self.season_start is not None:
            month, day = (int(part) for part in self.season_start.split("-"))
            try:
                dt.date(2001, month, day)     # a day every year has (not 29 February)
            except ValueError as exc:
                raise ValueError(f"season_start {self.season_start!r} is not a day of every year (MM-DD)") from exc
        if (self.interval_field is None) != (not self.intervals):
            raise ValueError("interval_field and intervals go together: the column, and each of its words' span")
        return self

    def season(self) -> tuple[int, int] | None:
        """(month, day) the term starts on: 1 January for a calendar year, the season's start day."""
        if self.calendar_year:
            return 1, 1
        if self.season_start is not None:
            month, day = self.season_start.split("-")
            return int(month), int(day)
        return None


class Term(Strict):
    """Membership terms bought by payment rows: which rows buy one (all tests hold) and for how long."""

    buys_when: list[RenewalTest] = []
    length: TermLength


class RoleSpec(Strict):
    """What a profile says about one input file: how to recognise it, its fields and its row meanings."""

    signature: list[str] = []             # headers that all appear in this export
    fields: dict[str, FieldSpec] = {}     # none listed: the fields under inputs.<role> (the standard layout)
    date_order_default: DateOrder | None = None
    decimal_separator_default: DecimalSeparator | None = None
    dedupe_key: DedupeKey | None = None
    names: Literal["company", "person"] = "company"   # what customer_name holds
    # A row needs one of these (customer_name also counts when composed from first and last name).
    identity: list[Literal["customer_id", "email", "customer_name"]] = ["customer_id", "email", "customer_name"]
    statuses: dict[str, str] = {}         # status text (any case) -> class
    renewing_when: list[RenewalTest] = []  # a current row is renewing when all of these hold
    open_ended: list[str] | None = None   # expiration texts that mean "no expiry" ("" = blank)
    open_ended_dates: list[dt.date] = []  # expiration dates that mean "no expiry" (9999-12-31), however written
    last_amount_wins: bool = False        # "$250.00 $200.00" (struck original, then net) reads 200.00
    line_items: bool = False              # rows repeat per line item: count each order_id once
    # memberships: fallbacks, terms from payments, status alone (issue 16)
    term: Term | None = None              # each paid row buys a term; its end is the expiration date
    status_alone: bool = False            # no dates at all: the status decides (current is open-ended)
    created_from: Literal["first_payment"] | None = None   # with status_alone: created = first paid order date
    # dangerous path: columns declared meaningless (issue 16)
    ignore: list[str] = []                # headers (found like aliases) of columns that change no number

    @field_validator("ignore")
    @classmethod
    def _ignore_not_blank(cls, headers: list[str]) -> list[str]:
        return headers_with_letters(headers, "ignored header")
    # orders: row types and amount units (issue 16)
    row_types: dict[str, str] = {}        # row-type text (any case) -> payment, refund, chargeback, not_money
    amount_unit: Literal["major", "minor"] = "major"   # minor: amounts in cents, divided by 10 ** exponent

    @field_validator("signature")
    @classmethod
    def _signature_not_blank(cls, headers: list[str]) -> list[str]:
        return headers_with_letters(headers, "signature header")

    def check(self, role: str) -> RoleSpec:
        classes = MEMBERSHIP_CLASSES if role == "memberships" else ORDER_CLASSES
        for text, klass in self.statuses.items():
            if klass not in classes:
                raise ValueError(f"statuses.{text}: {klass!r} is not a class; use one of {', '.join(classes)}")
        if self.fields:
            try:
                check_fields(self.fields, role, term=self.term is not None, status_alone=self.status_alone)
            except ValueError as exc:
                raise ValueError(f"fields: {exc}") from exc
        if role == "orders" and (self.open_ended is not None or self.open_ended_dates):
            raise ValueError("open_ended and open_ended_dates describe expirations: set them under memberships")
        if role == "orders":
            self.check_row_types(self.fields)
        elif self.row_types or self.amount_unit != "major":
            raise ValueError("row_types and amount_unit describe order rows: set them under orders")
        known = MEMBERSHIP_FIELDS if role == "memberships" else ORDER_FIELDS
        for test in self.renewing_when:
            if test.field not in known:
                raise ValueError(f"renewing_when: unknown field {test.field!r}")
        self._check_terms(role)
        return self

    def _check_terms(self, role: str) -> None:
        """term and status_alone: memberships only, one or the other, their fields known and listed."""
        if role == "orders" and (self.term is not None or self.status_alone):
            raise ValueError("term and status_alone describe memberships: set them under memberships")
        if self.term is not None and self.status_alone:
            raise ValueError("term derives dates from payments; status_alone says there are none: choose one")
        if self.created_from is not None and not self.status_alone:
            raise ValueError("created_from: first_payment goes with status_alone: true (a member without a "
                             "created date and without a paid order is kept only when the status alone decides)")
        if self.term is None:
            return
        for test in self.term.buys_when:
            if test.field not in MEMBERSHIP_FIELDS:
                raise ValueError(f"term.buys_when: unknown field {test.field!r}")
        interval = self.term.length.interval_field
        if interval is not None and interval not in MEMBERSHIP_FIELDS:
            raise ValueError(f"term.length.interval_field: unknown field {interval!r}")
        if interval is not None and self.fields and interval not in self.fields:
            raise ValueError(f"term.length.interval_field: list the field {interval!r} under fields")

    def check_row_types(self, fields: dict[str, FieldSpec]) -> None:
        """An orders file's row types: each a known class, and listed exactly when a `row_type` field is read
        (`fields`: the profile's own, or inputs.orders.fields for a profile that lists none)."""
        for text, klass in self.row_types.items():
            if klass not in ROW_TYPE_CLASSES:
                raise ValueError(f"row_types.{text}: {klass!r} is not a row-type class; use one of "
                                 f"{', '.join(ROW_TYPE_CLASSES)}")
        if not fields:
            return
        if self.row_types and "row_type" not in fields:
            raise ValueError("row_types: no row_type field reads them; add fields.row_type with the column's "
                             "header, or remove row_types")
        if "row_type" in fields and not self.row_types:
            raise ValueError("fields.row_type: its values need their meanings under row_types (e.g. "
                             "{sale: payment, credit: refund, authorization: not_money})")


class Profile(Strict):
    """One export format: a YAML file in memberseg/profiles/, in the rules-file language."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    # the export in a user's words ("Stripe subscriptions export"); none for a layout the user keeps
    # themselves (a hand-kept sheet), which the page names by its headers instead
    plain_name: str | None = Field(default=None, min_length=1, pattern=r"^[^()]*$")
    platform: str = Field(min_length=1)
    export: str = Field(min_length=1)     # the menu path that exports the file
    source: str = Field(min_length=1)     # the exporter's code path or documentation page
    unconfirmed: list[str] = []           # what the source did not settle
    memberships: RoleSpec | None = None
    orders: RoleSpec | None = None
    segments: list[Segment] = []        # added to the rules' segments when this profile reads the memberships

    @model_validator(mode="after")
    def _roles(self) -> Profile:
        if self.memberships is None and self.orders is None:
            raise ValueError("a profile describes the memberships file, the orders file or both")
        for role in ROLES:
            spec = getattr(self, role)
            if spec is not None:
                try:
                    spec.check(role)
                except ValueError as exc:
                    raise ValueError(f"{role}.{exc}") from exc
        return self

    def roles(self) -> list[str]:
        return [role for role in ROLES if getattr(self, role) is not None]


# What a profile that is not packaged must state itself: nothing of it can come from a packaged file.
NEW_PROFILE_KEYS = ("title", "platform", "export", "source")


def new_profile_data(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """The data of a profile a user writes under a name that is not packaged, with its name (the key)
    filled in. ValueError names what a new profile lacks: every key of NEW_PROFILE_KEYS, a role, and
    per role its signature (so it is recognised), its fields, `names` for the memberships (what the
    name column holds decides HubSpot's company column), `statuses` when it maps a status and `row_types`
    when it maps a row type."""
    if "name" in data and data["name"] != name:
        raise ValueError(f"name: {data['name']!r} differs from the profile's key {name!r}; leave it out or "
                         "make the two equal")
    missing = [key for key in NEW_PROFILE_KEYS if not data.get(key)]
    roles = [role for role in ROLES if data.get(role) is not None]
    if not roles:
        missing.append(" or ".join(ROLES))
    for role in roles:
        spec = data[role]
        if not isinstance(spec, dict):
            continue                       # the Profile model names the wrong type
        wanted = ["signature", "fields"] + (["names"] if role == "memberships" else [])
        if isinstance(spec.get("fields"), dict) and "status" in spec["fields"]:
            wanted.append("statuses")
        if isinstance(spec.get("fields"), dict) and "row_type" in spec["fields"]:
            wanted.append("row_types")
        missing += [f"{role}.{key}" for key in wanted if not spec.get(key)]
    if missing:
        close = difflib.get_close_matches(name, list(packaged_profiles()), n=1, cutoff=0.8)
        hint = (f"; '{name}' is not a packaged profile: did you mean '{close[0]}'?" if close
                else f"; '{name}' is not a packaged profile (see `memberseg profiles`)")
        raise ValueError(f"a new profile needs {', '.join(missing)}{hint}")
    return {**data, "name": name}


_left_out: frozenset[str] = frozenset()


@contextlib.contextmanager
def leaving_out(names: Collection[str]) -> Iterator[None]:
    """Within the block, rules built see no packaged profile named in `names` (the leave-one-out check:
    with its own profile removed, a platform's sample must be inferred right or asked about). Build the
    rules inside the block with `parse_rules`, not the cached defaults."""
    global _left_out
    unknown = set(names) - set(_all_packaged())
    if unknown:
        raise ValueError(f"no packaged profile named {sorted(unknown)}")
    before, _left_out = _left_out, frozenset(names)
    try:
        yield
    finally:
        _left_out = before


def packaged_profiles() -> dict[str, dict[str, Any]]:
    """Profile name -> its YAML data, from memberseg/profiles/*.yaml (but those `leaving_out` removes)."""
    found = _all_packaged()
    return {name: data for name, data in found.items() if name not in _left_out} if _left_out else found


@functools.cache
def _all_packaged() -> dict[str, dict[str, Any]]:
    """Profile name -> its YAML data, from memberseg/profiles/*.yaml. A broken packaged profile is a bug."""
    folder = resources.files(PACKAGE).joinpath(PROFILES_FOLDER)
    found: dict[str, dict[str, Any]] = {}
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".yaml"):
            continue
        data = yaml.safe_load(entry.read_text(encoding="utf-8"))
        name = data.get("name") if isinstance(data, dict) else None
        if name != entry.name.removesuffix(".yaml"):
            raise RuntimeError(f"profile file {entry.name} must hold name: {entry.name.removesuffix('.yaml')}")
        Profile.model_validate(data)
        found[name] = data
    return found
