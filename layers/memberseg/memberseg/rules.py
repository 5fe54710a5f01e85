"""The rules file and the platform profiles: loading, validation and the typed view the pipeline reads.

Every threshold, alias, tier and segment lives in a YAML (or TOML) file. The
default ships beside this module; `--rules PATH` holds only what it changes and is
deep-merged over the defaults (mappings merge, lists replace). Profiles (one YAML
file per export format, in `profiles/`) describe what a platform's file means;
a rules file can change them under `profiles.<name>`. Validation names the
offending key, e.g. ``consolidation.renewal_grace_days``.
"""

from __future__ import annotations

import copy
import functools
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
PROFILES_FOLDER = "profiles"
STANDARD_PROFILE = "standard"

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
    "status_class": "text",
    "platform_status": "text",
    "plan": "text",
}
NUMBER_OPS = {"eq", "ne", "gt", "ge", "lt", "le", "between", "in", "not_in"}
TEXT_OPS = {"eq", "ne", "in", "not_in", "contains", "not_contains", "is_blank", "not_blank"}

# CSV columns that come before the segment columns; segment properties may not reuse them.
HUBSPOT_BASE_COLUMNS = (
    "email", "company", "cust_id", "membership_status", "membership_start_date",
    "membership_expiration_date", "days_until_expiration", "member_since", "renewal_count",
    "total_order_value", "order_count", "estimated_savings", "order_value_tier",
)
# Added after `email` when the memberships file holds person names (HubSpot default properties).
HUBSPOT_PERSON_COLUMNS = ("firstname", "lastname")
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


MEMBERSHIP_FIELDS = {"customer_id", "customer_name", "first_name", "last_name", "company", "email",
                     "created_date", "expiration_date", "start_date", "enrollment", "status", "plan",
                     "renewal_marker"}
ORDER_FIELDS = {"customer_id", "email", "customer_name", "first_name", "last_name", "order_value",
                "refunded_value", "order_date", "status", "order_id", "currency"}
IDENTITY_FIELDS = ("customer_id", "email", "customer_name", "first_name", "last_name")
ROLES = ("memberships", "orders")
MEMBERSHIP_CLASSES = ("current", "renewing", "at_risk", "ended", "not_member")
ORDER_CLASSES = ("paid", "refunded", "unpaid")
DateOrder = Literal["MDY", "DMY"]
DecimalSeparator = Literal[".", ","]


def _check_fields(fields: dict[str, FieldSpec], role: str) -> None:
    known = MEMBERSHIP_FIELDS if role == "memberships" else ORDER_FIELDS
    unknown = set(fields) - known
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)}; known fields are {sorted(known)}")
    needed = {"created_date"} if role == "memberships" else {"order_value"}
    for name in sorted(needed):
        if name not in fields:
            raise ValueError(f"field(s) ['{name}'] must be listed")
        if not fields[name].required:
            raise ValueError(f"field {name!r} is needed by the pipeline and must stay required: true")
    if role == "memberships" and "expiration_date" not in fields:
        raise ValueError("field(s) ['expiration_date'] must be listed")
    if not any(name in fields for name in IDENTITY_FIELDS):
        raise ValueError(f"list at least one field that identifies the customer: {', '.join(IDENTITY_FIELDS)}")


class FileSettings(_Strict):
    """`inputs.memberships` / `inputs.orders`: settings for that file, and the `standard` profile's fields."""

    profile: str = "auto"                 # a profile name, or auto: the best-fitting signature
    sheet: str | None = None
    date_order: Literal["inherit", "auto", "MDY", "DMY"] = "inherit"
    decimal_separator: Literal["inherit", "auto", ".", ","] = "inherit"
    fields: dict[str, FieldSpec]


class RenewalTest(_Strict):
    """A test on one field of a row, e.g. Stripe's `Canceled At` is blank."""

    field: str
    op: Literal["is_blank", "not_blank", "positive", "eq", "ne", "in", "not_in"]
    value: Scalar | list[Scalar] | None = None


class RoleSpec(_Strict):
    """What a profile says about one input file: how to recognise it, its fields and its row meanings."""

    signature: list[str] = []             # headers that all appear in this export
    fields: dict[str, FieldSpec] = {}     # none listed: the fields under inputs.<role> (the standard layout)
    date_order_default: DateOrder | None = None
    decimal_separator_default: DecimalSeparator | None = None
    dedupe_key: Literal["customer_id", "customer_name", "email"] | None = None
    names: Literal["company", "person"] = "company"   # what customer_name holds
    # A row needs one of these (customer_name also counts when composed from first and last name).
    identity: list[Literal["customer_id", "email", "customer_name"]] = ["customer_id", "email", "customer_name"]
    statuses: dict[str, str] = {}         # status text (any case) -> class
    renewing_when: list[RenewalTest] = []  # a current row is renewing when all of these hold
    open_ended: list[str] | None = None   # expiration texts that mean "no expiry" ("" = blank)
    last_amount_wins: bool = False        # "$250.00 $200.00" (struck original, then net) reads 200.00
    line_items: bool = False              # rows repeat per line item: count each order_id once

    @field_validator("signature")
    @classmethod
    def _signature_not_blank(cls, headers: list[str]) -> list[str]:
        for header in headers:
            if not normalize_header(header):
                raise ValueError(f"signature header {header!r} has no letters or digits")
        return headers

    def check(self, role: str) -> RoleSpec:
        classes = MEMBERSHIP_CLASSES if role == "memberships" else ORDER_CLASSES
        for text, klass in self.statuses.items():
            if klass not in classes:
                raise ValueError(f"statuses.{text}: {klass!r} is not a class; use one of {', '.join(classes)}")
        if self.fields:
            _check_fields(self.fields, role)
        known = MEMBERSHIP_FIELDS if role == "memberships" else ORDER_FIELDS
        for test in self.renewing_when:
            if test.field not in known:
                raise ValueError(f"renewing_when: unknown field {test.field!r}")
        return self


class Profile(_Strict):
    """One export format: a YAML file in memberseg/profiles/, in the rules-file language."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
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


class Inputs(_Strict):
    header_search_rows: int = Field(20, ge=1, le=1000)
    date_order: Literal["auto", "MDY", "DMY"] = "auto"
    decimal_separator: Literal["auto", ".", ","] = "auto"
    date_order_default: DateOrder = "MDY"          # when auto and neither the values nor the profile decide
    decimal_separator_default: DecimalSeparator = "."
    memberships: FileSettings
    orders: FileSettings

    @field_validator("memberships", "orders")
    @classmethod
    def _role_fields(cls, spec: FileSettings, info: Any) -> FileSettings:
        _check_fields(spec.fields, info.field_name)
        return spec


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
    base_currency: str = Field("auto", pattern=r"^(auto|[A-Z]{3})$")  # auto: the file's most common currency
    currency_rates: dict[str, float] = {}   # code -> value of 1 unit in the base currency
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


class StatusLabels(_Strict):
    expired: OptionLabel = "Expired"
    expiring_soon: OptionLabel = "Expiring Soon"
    active: OptionLabel = "Active"
    inactive: OptionLabel = "Inactive"

    def all(self) -> list[str]:
        return [self.expired, self.expiring_soon, self.active, self.inactive]


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
        if name in HUBSPOT_BASE_COLUMNS or name in HUBSPOT_PERSON_COLUMNS:
            raise ValueError(f"{name!r} is already a column of the HubSpot file")
        return name

    @model_validator(mode="after")
    def _has_conditions(self) -> Segment:
        if not self.all and not self.any:
            raise ValueError("a segment needs at least one condition under 'all' or 'any'")
        if self.label in MEMBER_ADDED_COLUMNS or self.label in ("Platform Status", "Plan"):
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
    profiles: dict[str, dict[str, Any]] = {}   # changes to the packaged profiles, by profile name

    @model_validator(mode="after")
    def _profiles_valid(self) -> Rules:
        unknown = set(self.profiles) - set(packaged_profiles())
        if unknown:
            raise ValueError(f"profiles: unknown profile(s) {sorted(unknown)}; known: {sorted(packaged_profiles())}")
        for name in (self.inputs.memberships.profile, self.inputs.orders.profile):
            if name != "auto" and name not in packaged_profiles():
                raise ValueError(f"inputs: unknown profile {name!r}; known: {sorted(packaged_profiles())}")
        for name, overlay in self.profiles.items():
            try:
                Profile.model_validate(deep_merge(packaged_profiles()[name], overlay))
            except ValidationError as exc:
                first = exc.errors()[0]
                location = ".".join([f"profiles.{name}", *(str(part) for part in first["loc"])])
                message = first["msg"].removeprefix("Value error, ")
                raise ValueError(f"{location}.{message}" if not first["loc"] else f"{location}: {message}") from None
        return self

    @cached_property
    def catalog(self) -> dict[str, Profile]:
        """Every profile, with this rules file's changes merged in, in a stable order (standard first)."""
        names = sorted(packaged_profiles(), key=lambda name: (name != STANDARD_PROFILE, name))
        return {name: Profile.model_validate(deep_merge(packaged_profiles()[name], self.profiles.get(name, {})))
                for name in names}

    def profiles_for(self, role: str) -> list[Profile]:
        return [profile for profile in self.catalog.values() if getattr(profile, role) is not None]

    def spec_for(self, profile: Profile, role: str) -> RoleSpec:
        """The profile's description of the file; fields default to inputs.<role>.fields (the standard layout)."""
        spec = getattr(profile, role)
        if spec is None:
            raise InputError("profile_role", f"The profile '{profile.name}' does not describe a {role} file; "
                             f"it reads: {', '.join(profile.roles())}.")
        if not spec.fields:
            spec = spec.model_copy(update={"fields": getattr(self.inputs, role).fields})
        return spec

    def with_profile(self, profile: Profile) -> Rules:
        """These rules plus the segments the memberships profile adds."""
        if not profile.segments:
            return self
        data = self.model_dump(mode="json")
        data["segments"] = data["segments"] + [segment.model_dump(mode="json") for segment in profile.segments]
        try:
            return Rules.model_validate(data)
        except ValidationError as exc:
            raise InputError("invalid_rules", _format_validation_error(f"(with profile {profile.name})", exc)
                             ) from exc

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


def deep_merge(base: Any, overlay: Any) -> Any:
    """`overlay` over `base`: mappings merge key by key; lists and plain values replace."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(overlay)


@functools.cache
def default_rules_data() -> dict[str, Any]:
    text = resources.files(__package__).joinpath(DEFAULT_RULES_NAME).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)  # noqa: S101 - the packaged file; its tests would fail first
    return data


@functools.cache
def packaged_profiles() -> dict[str, dict[str, Any]]:
    """Profile name -> its YAML data, from memberseg/profiles/*.yaml. A broken packaged profile is a bug."""
    folder = resources.files(__package__).joinpath(PROFILES_FOLDER)
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


def _load_text(text: str, source: str, suffix: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(text) if suffix.lower() == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise InputError("invalid_rules", f"The rules file {source} is not valid {suffix.lstrip('.').upper()}: {exc}",
                         file=source) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError("invalid_rules", f"The rules file {source} must hold a mapping of keys at the top level.",
                         file=source)
    return data


def parse_rules(text: str, *, source: str = "rules", suffix: str = ".yaml") -> Rules:
    """A rules file's text, deep-merged over the defaults and validated."""
    data = deep_merge(default_rules_data(), _load_text(text, source, suffix))
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        raise InputError("invalid_rules", _format_validation_error(source, exc), file=source) from exc


def load_rules(path: str | Path | None = None, *, overlay: dict | None = None) -> Rules:
    """Load the rules at `path` over the packaged defaults, or the defaults when `path` is None.

    `overlay` (e.g. a forced profile from the command line) is merged last.
    """
    if overlay:
        base = load_rules(path)
        try:
            return Rules.model_validate(deep_merge(base.model_dump(mode="json"), overlay))
        except ValidationError as exc:
            raise InputError("invalid_rules", _format_validation_error("(command line)", exc)) from exc
    if path is None:
        return _default_rules()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError("rules_not_found", f"The rules file {path} cannot be read: {exc.strerror}.",
                         file=path.name) from exc
    except UnicodeDecodeError as exc:
        raise InputError("invalid_rules", f"The rules file {path} is not UTF-8 text.", file=path.name) from exc
    return parse_rules(text, source=path.name, suffix=path.suffix or ".yaml")


@functools.cache
def _default_rules() -> Rules:
    return Rules.model_validate(default_rules_data())


Profile.model_rebuild()
