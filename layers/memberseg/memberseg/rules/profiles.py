"""The platform profiles: what one export format's file means (its signature headers, fields, status
texts and quirks), and the packaged profile files in `memberseg/profiles/`, one YAML file per format."""

from __future__ import annotations

import datetime as dt
import functools
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
            check_fields(self.fields, role)
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




@functools.cache
def packaged_profiles() -> dict[str, dict[str, Any]]:
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
