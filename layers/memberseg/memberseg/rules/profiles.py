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
    """A test on one field of a row, e.g. Stripe's `Canceled At` is blank."""

    field: str
    op: Literal["is_blank", "not_blank", "positive", "eq", "ne", "in", "not_in"]
    value: Scalar | list[Scalar] | None = None


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
                check_fields(self.fields, role)
            except ValueError as exc:
                raise ValueError(f"fields: {exc}") from exc
        if role == "orders" and (self.open_ended is not None or self.open_ended_dates):
            raise ValueError("open_ended and open_ended_dates describe expirations: set them under memberships")
        known = MEMBERSHIP_FIELDS if role == "memberships" else ORDER_FIELDS
        for test in self.renewing_when:
            if test.field not in known:
                raise ValueError(f"renewing_when: unknown field {test.field!r}")
        return self


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
    name column holds decides HubSpot's company column) and `statuses` when it maps a status."""
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
