"""The rules file: loading, validation and the typed view the pipeline reads.

Every threshold, alias, tier and segment lives in a YAML (or TOML) file. The
default ships beside this module; `--rules PATH` replaces it. Validation names
the offending key, e.g. ``consolidation.renewal_grace_days``.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
import unicodedata
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import InputError

DEFAULT_RULES_NAME = "default_rules.yaml"

# Fields a segment condition may test, and whether they hold numbers or text.
SEGMENT_FIELDS: dict[str, Literal["number", "text"]] = {
    "membership_status": "text",
    "order_value_tier": "text",
    "enrollment": "text",
    "days_until_expiration": "number",
    "days_since_start": "number",
    "renewal_count": "number",
    "lapse_count": "number",
    "records_merged": "number",
    "total_order_value": "number",
    "order_count": "number",
    "estimated_savings": "number",
}
NUMBER_OPS = {"eq", "ne", "gt", "ge", "lt", "le", "between", "in", "not_in"}
TEXT_OPS = {"eq", "ne", "in", "not_in", "contains", "not_contains", "is_blank", "not_blank"}

# CSV columns that come before the segment columns; segment properties may not reuse them.
HUBSPOT_BASE_COLUMNS = (
    "email", "company", "cust_id", "membership_status", "membership_start_date",
    "membership_expiration_date", "days_until_expiration", "member_since", "renewal_count",
    "total_order_value", "order_count", "estimated_savings", "order_value_tier",
)
# Columns added to the Members sheet before the segment columns.
MEMBER_ADDED_COLUMNS = (
    "Member Since", "First Joined", "Renewal Count", "Lapse Count", "Records Merged",
    "Total Order Value", "Order Count", "Last Order Date", "Estimated Savings",
    "Order Value Tier", "Membership Status", "Days Until Expiration",
)
HUBSPOT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
# A CSV cell starting with one of these gets a ' prefix (formula injection); ";" separates
# multi-checkbox values in HubSpot. A dropdown label with either would never match its own option.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    aliases: list[str] = Field(min_length=1)
    required: bool = False

    @field_validator("aliases")
    @classmethod
    def _aliases_not_blank(cls, aliases: list[str]) -> list[str]:
        for alias in aliases:
            if not normalize_header(alias):
                raise ValueError(f"alias {alias!r} has no letters or digits")
        return aliases


class SourceSpec(_Strict):
    sheet: str | None = None
    fields: dict[str, FieldSpec]


MEMBERSHIP_FIELDS = {"customer_id", "customer_name", "created_date", "expiration_date",
                     "start_date", "email", "enrollment"}
MEMBERSHIP_REQUIRED = {"customer_id", "customer_name", "created_date", "expiration_date"}
ORDER_FIELDS = {"customer_id", "order_value", "order_date", "customer_name"}
ORDER_REQUIRED = {"customer_id", "order_value"}


def _check_source_fields(spec: SourceSpec, known: set[str], needed: set[str]) -> SourceSpec:
    unknown = set(spec.fields) - known
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)}; known fields are {sorted(known)}")
    missing = needed - set(spec.fields)
    if missing:
        raise ValueError(f"field(s) {sorted(missing)} must be listed")
    for name in needed:
        if not spec.fields[name].required:
            raise ValueError(f"field {name!r} is needed by the pipeline and must stay required: true")
    return spec


class Inputs(_Strict):
    header_search_rows: int = Field(20, ge=1, le=1000)
    date_order: Literal["MDY", "DMY"] = "MDY"
    decimal_separator: Literal[".", ","] = "."
    memberships: SourceSpec
    orders: SourceSpec

    @field_validator("memberships")
    @classmethod
    def _memberships(cls, spec: SourceSpec) -> SourceSpec:
        return _check_source_fields(spec, MEMBERSHIP_FIELDS, MEMBERSHIP_REQUIRED)

    @field_validator("orders")
    @classmethod
    def _orders(cls, spec: SourceSpec) -> SourceSpec:
        return _check_source_fields(spec, ORDER_FIELDS, ORDER_REQUIRED)


class Limits(_Strict):
    max_file_bytes: int = Field(209_715_200, ge=1)
    max_rows: int = Field(1_048_576, ge=1)
    max_columns: int = Field(1000, ge=1, le=16384)
    max_cells: int = Field(25_000_000, ge=1)
    max_zip_entries: int = Field(10_000, ge=1)
    max_uncompressed_bytes: int = Field(700_000_000, ge=1)
    max_compression_ratio: float = Field(100, gt=1)
    timeout_seconds: float = Field(840, gt=0)


class Consolidation(_Strict):
    dedupe_key: Literal["customer_id", "customer_name", "email"] = "customer_id"
    renewal_grace_days: int = Field(7, ge=0)


class Tier(_Strict):
    label: OptionLabel
    min: float
    inclusive: bool = True


class Orders(_Strict):
    savings_rate: float = Field(0.08, ge=0, le=1)
    no_orders_label: OptionLabel = "No Orders"
    tiers: list[Tier]

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


class StatusLabels(_Strict):
    expired: OptionLabel = "Expired"
    expiring_soon: OptionLabel = "Expiring Soon"
    active: OptionLabel = "Active"


class Status(_Strict):
    timezone: str = "UTC"
    expiring_soon_days: int = Field(30, ge=0)
    labels: StatusLabels = StatusLabels()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {zone!r}") from exc
        return zone


Scalar = float | int | str
ConditionValue = Scalar | list[Scalar] | None


class Condition(_Strict):
    field: str
    op: str
    value: ConditionValue = None

    @model_validator(mode="after")
    def _op_fits_field(self) -> Condition:
        kind = SEGMENT_FIELDS.get(self.field)
        if kind is None:
            raise ValueError(f"unknown field {self.field!r}; choose one of {sorted(SEGMENT_FIELDS)}")
        ops = NUMBER_OPS if kind == "number" else TEXT_OPS
        if self.op not in ops:
            raise ValueError(f"op {self.op!r} does not apply to {kind} field {self.field!r}; use one of {sorted(ops)}")
        if self.op in {"is_blank", "not_blank"}:
            if self.value is not None:
                raise ValueError(f"op {self.op!r} takes no value")
        elif self.op == "between":
            if not isinstance(self.value, list) or len(self.value) != 2:
                raise ValueError("op 'between' takes a list of two values [low, high] (inclusive)")
        elif self.op in {"in", "not_in"}:
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"op {self.op!r} takes a non-empty list")
        elif self.value is None or isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} takes a single value")
        return self


class Segment(_Strict):
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
        if name in HUBSPOT_BASE_COLUMNS:
            raise ValueError(f"{name!r} is already a column of the HubSpot file")
        return name

    @model_validator(mode="after")
    def _has_conditions(self) -> Segment:
        if not self.all and not self.any:
            raise ValueError("a segment needs at least one condition under 'all' or 'any'")
        if self.label in MEMBER_ADDED_COLUMNS:
            raise ValueError(f"label {self.label!r} is already a column of the Members sheet")
        return self


class HubSpot(_Strict):
    group_name: str = "membership_segments"
    group_label: str = "Membership Segments"
    max_rows_per_file: int = Field(1_048_575, ge=1)
    max_bytes_per_file: int = Field(512_000_000, ge=1024)   # HubSpot's "512 MB", read as decimal megabytes
    marketable_contact_import: bool = False     # imported contacts count as marketing contacts (billed)
    push: bool = True                           # S3 flow: push this job when the stack's HubSpotPush is on

    @field_validator("group_name")
    @classmethod
    def _group_name(cls, name: str) -> str:
        if not HUBSPOT_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid HubSpot internal name")
        return name


class Rules(_Strict):
    version: Literal[1] = 1
    inputs: Inputs
    limits: Limits = Limits()
    consolidation: Consolidation = Consolidation()
    orders: Orders
    status: Status = Status()
    thresholds: dict[str, Scalar] = {}
    segments: list[Segment] = Field(min_length=1)
    hubspot: HubSpot = HubSpot()

    @model_validator(mode="after")
    def _segments_consistent(self) -> Rules:
        properties = [segment.property for segment in self.segments]
        labels = [segment.label for segment in self.segments]
        for what, names in (("property", properties), ("label", labels)):
            seen: set[str] = set()
            for index, name in enumerate(names):
                if name in seen:
                    raise ValueError(f"segments.{index}.{what}: {name!r} is used by another segment")
                seen.add(name)
        for index, segment in enumerate(self.segments):
            for group in ("all", "any"):
                for position, condition in enumerate(getattr(segment, group)):
                    values = condition.value if isinstance(condition.value, list) else [condition.value]
                    for value in values:
                        if isinstance(value, str) and value.startswith("$") and value[1:] not in self.thresholds:
                            raise ValueError(
                                f"segments.{index}.{group}.{position}.value: {value!r} refers to no key "
                                f"under 'thresholds' (known: {sorted(self.thresholds)})"
                            )
        return self

    def resolve(self, value: ConditionValue) -> Any:
        """Replace "$name" references with the named threshold."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if isinstance(value, str) and value.startswith("$"):
            return self.thresholds[value[1:]]
        return value

    @cached_property
    def digest(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _format_validation_error(source: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{location}: {message}")
    return f"The rules file {source} is invalid. " + "; ".join(problems[:5]) + (
        f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    )


def parse_rules(text: str, *, source: str = "rules", suffix: str = ".yaml") -> Rules:
    try:
        data = tomllib.loads(text) if suffix.lower() == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise InputError("invalid_rules", f"The rules file {source} is not valid {suffix.lstrip('.').upper()}: {exc}",
                         file=source) from exc
    if not isinstance(data, dict):
        raise InputError("invalid_rules", f"The rules file {source} must hold a mapping of keys at the top level.",
                         file=source)
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        raise InputError("invalid_rules", _format_validation_error(source, exc), file=source) from exc


def load_rules(path: str | Path | None = None) -> Rules:
    """Load the rules at `path`, or the packaged defaults when `path` is None."""
    if path is None:
        text = resources.files(__package__).joinpath(DEFAULT_RULES_NAME).read_text(encoding="utf-8")
        return parse_rules(text, source=DEFAULT_RULES_NAME)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError("rules_not_found", f"The rules file {path} cannot be read: {exc.strerror}.",
                         file=path.name) from exc
    except UnicodeDecodeError as exc:
        raise InputError("invalid_rules", f"The rules file {path} is not UTF-8 text.", file=path.name) from exc
    return parse_rules(text, source=path.name, suffix=path.suffix or ".yaml")
