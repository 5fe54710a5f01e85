"""The rules file's sections as strict pydantic models: inputs, limits, consolidation, orders, status,
segments and HubSpot, plus the pieces the profiles share (field aliases, header folding).

No field here carries a default value that `default_rules.yaml` also states: every Rules is built from
that file with the user's changes merged over it, so the YAML is the one place each default lives.
Defaults that remain mean "absent" (an optional field, no extra conditions, an inclusive tier).
"""

from __future__ import annotations

import copy
import re
import unicodedata
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from .columns import (
    FORMULA_TRIGGERS,
    HUBSPOT_BASE_COLUMNS,
    HUBSPOT_CHANGE_COLUMNS,
    HUBSPOT_PERSON_COLUMNS,
    HUBSPOT_RETIRED_COLUMNS,
    MEMBER_COLUMNS,
    since_column,
)
from .operators import OPERATORS, SEGMENT_FIELDS, operators_for

HUBSPOT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
Scalar = float | int | str
ConditionValue = Scalar | list[Scalar] | None


def _check_option_label(label: str) -> str:
    """A status or tier label becomes both a CSV value and a HubSpot dropdown option: they must match."""
    if label.startswith(FORMULA_TRIGGERS):
        raise ValueError(f"label {label!r} starts with {label[0]!r}: the HubSpot CSV would prefix it with ' "
                         "(spreadsheet formula protection), so it would never match its dropdown option")
    if ";" in label:
        raise ValueError(f"label {label!r} contains ';', which HubSpot reads as a separator between values")
    return label


OptionLabel = Annotated[str, Field(min_length=1), AfterValidator(_check_option_label)]


def normalize_header(text: object) -> str:
    """Header matching ignores case, spaces and punctuation: 'Cust. ID' == 'custid'."""
    folded = unicodedata.normalize("NFKC", str(text)).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def headers_with_letters(headers: list[str], what: str) -> list[str]:
    """A header that normalises to nothing ("---", " ") could never match a column: refuse it by name."""
    for header in headers:
        if not normalize_header(header):
            raise ValueError(f"{what} {header!r} has no letters or digits")
    return headers


def deep_merge(base: Any, overlay: Any) -> Any:
    """`overlay` over `base`: mappings merge key by key; lists and plain values replace."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(overlay)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(Strict):
    aliases: list[str] = Field(min_length=1)
    required: bool = False
    # per row, a blank in the column found by `aliases` is filled from the first of these columns that
    # holds a value (expires_at, else current_period_end); the file's own cells stay as they are
    fallbacks: list[str] = []

    @field_validator("aliases")
    @classmethod
    def _aliases_not_blank(cls, aliases: list[str]) -> list[str]:
        return headers_with_letters(aliases, "alias")

    @field_validator("fallbacks")
    @classmethod
    def _fallbacks_not_blank(cls, fallbacks: list[str]) -> list[str]:
        return headers_with_letters(fallbacks, "fallback")


MEMBERSHIP_FIELDS = {"customer_id", "customer_name", "first_name", "last_name", "company", "email",
                     "created_date", "expiration_date", "start_date", "enrollment", "status", "plan",
                     "renewal_marker", "plan_interval"}
ORDER_FIELDS = {"customer_id", "email", "customer_name", "first_name", "last_name", "order_value",
                "refunded_value", "order_date", "status", "order_id", "currency", "row_type"}
IDENTITY_FIELDS = ("customer_id", "email", "customer_name", "first_name", "last_name")
ROLES = ("memberships", "orders")
# comp and gift (complimentary and gift memberships) classify like current; segments tell them apart
MEMBERSHIP_CLASSES = ("current", "renewing", "at_risk", "ended", "not_member", "no_term", "comp", "gift")
ORDER_CLASSES = ("paid", "refunded", "unpaid")
# What an orders row is (`row_types`): a payment counts by its status; a refund or chargeback that went
# through is subtracted from the customer's paid total; a not_money row (authorization, card check) is excluded.
ROW_TYPE_CLASSES = ("payment", "refund", "chargeback", "not_money")
DateOrder = Literal["MDY", "DMY"]
DecimalSeparator = Literal[".", ","]
DedupeKey = Literal["customer_id", "customer_name", "email"]


def check_fields(fields: dict[str, FieldSpec], role: str, *, term: bool = False, status_alone: bool = False) -> None:
    """`term`: the memberships' ends come from their payments, so no expiration_date is needed;
    `status_alone`: the export has no dates at all, so neither created_date nor expiration_date is."""
    known = MEMBERSHIP_FIELDS if role == "memberships" else ORDER_FIELDS
    unknown = set(fields) - known
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)}; known fields are {sorted(known)}")
    needed = ({"created_date"} if not status_alone else set()) if role == "memberships" else {"order_value"}
    for name in sorted(needed):
        if name not in fields:
            raise ValueError(f"field(s) ['{name}'] must be listed")
        if not fields[name].required:
            raise ValueError(f"field {name!r} is needed by the pipeline and must stay required: true")
    if role == "memberships" and "expiration_date" not in fields and not (term or status_alone):
        raise ValueError("field(s) ['expiration_date'] must be listed (or derive the ends from payments with "
                         "`term`, or let the status alone decide with `status_alone: true`)")
    if not any(name in fields for name in IDENTITY_FIELDS):
        raise ValueError(f"list at least one field that identifies the customer: {', '.join(IDENTITY_FIELDS)}")


class FileSettings(Strict):
    """`inputs.memberships` / `inputs.orders`: settings for that file, and the `standard` profile's fields."""

    profile: str                          # a profile name, or auto: the best-fitting signature
    sheet: str | None
    date_order: Literal["inherit", "auto", "MDY", "DMY"]
    decimal_separator: Literal["inherit", "auto", ".", ","]
    fields: dict[str, FieldSpec]


class Inputs(Strict):
    header_search_rows: int = Field(ge=1, le=1000)
    date_order: Literal["auto", "MDY", "DMY"]
    decimal_separator: Literal["auto", ".", ","]
    date_order_default: DateOrder                  # when auto and neither the values nor the profile decide
    decimal_separator_default: DecimalSeparator
    memberships: FileSettings
    orders: FileSettings

    @field_validator("memberships", "orders")
    @classmethod
    def _role_fields(cls, spec: FileSettings, info: Any) -> FileSettings:
        check_fields(spec.fields, info.field_name)
        return spec


class Limits(Strict):
    max_file_bytes: int = Field(ge=1)
    max_rows: int = Field(ge=1)
    max_columns: int = Field(ge=1, le=16384)
    max_cells: int = Field(ge=1)
    max_workbook_cells: int = Field(ge=1)
    max_sheets: int = Field(ge=1)
    max_header_search_seconds: float = Field(gt=0)
    max_zip_entries: int = Field(ge=1)
    max_uncompressed_bytes: int = Field(ge=1)
    max_compression_ratio: float = Field(gt=1)
    timeout_seconds: float = Field(gt=0)


class Consolidation(Strict):
    dedupe_key: DedupeKey
    renewal_grace_days: int = Field(ge=0)


class Tier(Strict):
    label: OptionLabel
    min: float
    inclusive: bool = True


class Engine(Strict):
    """How the work is done, never what it means: outputs are the same either way (rules_digest leaves it out)."""

    csv_orders: Literal["duckdb", "pandas"]   # duckdb: CSV orders summed in SQL (memberseg.orders_sql)
    memory_limit_mb: int = Field(ge=64)        # DuckDB's memory_limit; past it, it spills to temp_directory
    temp_directory: str | None                 # where DuckDB spills; None: the system's temporary directory


class Orders(Strict):
    savings_rate: float = Field(ge=0, le=1)
    no_orders_label: OptionLabel
    base_currency: str = Field(pattern=r"^(auto|[A-Z]{3})$")  # auto: the file's most common currency
    currency_rates: dict[str, float]        # code -> value of 1 unit in the base currency
    tiers: list[Tier]

    @field_validator("currency_rates")
    @classmethod
    def _rates(cls, rates: dict[str, float]) -> dict[str, float]:
        for code, rate in rates.items():
            if not re.fullmatch(r"[A-Z]{3}", code):
                raise ValueError(f"{code!r} is not a three-letter currency code in capitals")
            if not rate > 0:
                raise ValueError(f"the rate of {code} must be greater than 0")
        return rates

    @field_validator("tiers")
    @classmethod
    def _tiers_descending(cls, tiers: list[Tier]) -> list[Tier]:
        mins = [tier.min for tier in tiers]
        if mins != sorted(mins, reverse=True):
            raise ValueError("tiers must be listed from the highest min to the lowest")
        labels = [tier.label for tier in tiers]
        if len(set(labels)) != len(labels):
            raise ValueError("tier labels must be unique")
        return tiers


class StatusLabels(Strict):
    expired: OptionLabel
    expiring_soon: OptionLabel
    active: OptionLabel
    inactive: OptionLabel

    def all(self) -> list[str]:
        return [self.expired, self.expiring_soon, self.active, self.inactive]


class Status(Strict):
    timezone: str
    expiring_soon_days: int = Field(ge=0)
    labels: StatusLabels

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {zone!r}") from exc
        return zone


class Condition(Strict):
    field: str
    op: str
    value: ConditionValue = None

    @model_validator(mode="after")
    def _op_fits_field(self) -> Condition:
        kind = SEGMENT_FIELDS.get(self.field)
        if kind is None:
            raise ValueError(f"unknown field {self.field!r}; choose one of {sorted(SEGMENT_FIELDS)}")
        operator = OPERATORS.get(self.op)
        if operator is None or kind not in operator.kinds:
            raise ValueError(f"op {self.op!r} does not apply to {kind} field {self.field!r}; "
                             f"use one of {operators_for(kind)}")
        if operator.takes == "nothing":
            if self.value is not None:
                raise ValueError(f"op {self.op!r} takes no value")
        elif operator.takes == "pair":
            if not isinstance(self.value, list) or len(self.value) != 2:
                raise ValueError(f"op {self.op!r} takes a list of two values [low, high] (inclusive)")
        elif operator.takes == "list":
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"op {self.op!r} takes a non-empty list")
        elif self.value is None or isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} takes a single value")
        return self


class Segment(Strict):
    property: str
    label: str = Field(min_length=1)
    description: str = ""
    all: list[Condition] = []
    any: list[Condition] = []

    @field_validator("property")
    @classmethod
    def _hubspot_name(cls, name: str) -> str:
        if not HUBSPOT_NAME.match(name):
            raise ValueError(
                f"{name!r} is not a valid HubSpot internal name: lowercase letters, digits and _, "
                "starting with a letter, at most 100 characters"
            )
        if name in HUBSPOT_RETIRED_COLUMNS:
            raise ValueError(f"{name!r} was a column of the HubSpot file in earlier versions (a number a portal "
                             "may still hold): choose another name")
        fixed = (*HUBSPOT_BASE_COLUMNS, *HUBSPOT_PERSON_COLUMNS, *HUBSPOT_CHANGE_COLUMNS, *HUBSPOT_RETIRED_COLUMNS)
        if name in fixed:
            raise ValueError(f"{name!r} is already a column of the HubSpot file")
        since = since_column(name)
        if not HUBSPOT_NAME.match(since) or since in fixed:
            raise ValueError(f"{name!r} makes the column {since!r} (the date a customer entered the segment), "
                             "which is too long for a HubSpot internal name or already a column of the HubSpot file")
        return name

    @model_validator(mode="after")
    def _has_conditions(self) -> Segment:
        if not self.all and not self.any:
            raise ValueError("a segment needs at least one condition under 'all' or 'any'")
        if any(self.label == column.header for column in MEMBER_COLUMNS):
            raise ValueError(f"label {self.label!r} is already a column of the Members sheet")
        return self


class ChangeSettings(Strict):
    states_kept: int = Field(ge=1, le=1000)     # S3 flow: the job's last committed states kept (results/{job}/states/)


class HubSpot(Strict):
    group_name: str
    group_label: str
    max_rows_per_file: int = Field(ge=1)
    max_bytes_per_file: int = Field(ge=1024)    # HubSpot's "512 MB", read as decimal megabytes
    marketable_contact_import: bool             # imported contacts count as marketing contacts (billed)
    push: bool                                  # S3 flow: push this job when the stack's HubSpotPush is on
    # A customer no longer in the export: clear (a CSV row with every segment flag false) or keep (no row).
    gone_customers: Literal["clear", "keep"]

    @field_validator("group_name")
    @classmethod
    def _group_name(cls, name: str) -> str:
        if not HUBSPOT_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid HubSpot internal name")
        return name
