"""The whole rules file as one model: its sections, the profiles (the packaged ones with the file's
changes merged in, and the user's own), the segments a profile adds, and the `$name` thresholds segment
conditions refer to."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, model_validator

from ..errors import InputError
from .columns import since_column
from .model import (
    ChangeSettings,
    ConditionValue,
    Consolidation,
    Engine,
    HubSpot,
    Inputs,
    Limits,
    Orders,
    Scalar,
    Segment,
    Status,
    Strict,
    deep_merge,
    normalize_header,
)
from .profiles import STANDARD_PROFILE, Profile, RoleSpec, new_profile_data, packaged_profiles

PACKAGED = "packaged"
KEY_PATH = re.compile(r"^[A-Za-z_][\w.]*: ")   # a message that starts with its key, "orders.statuses.x: ..."


class Rules(Strict):
    version: Literal[1]
    inputs: Inputs
    limits: Limits
    consolidation: Consolidation
    orders: Orders
    status: Status
    thresholds: dict[str, Scalar]
    segments: list[Segment] = Field(min_length=1)
    hubspot: HubSpot
    changes: ChangeSettings
    engine: Engine
    # by profile name: a packaged name's changes (merged over it), any other name a whole new profile
    profiles: dict[str, dict[str, Any]]
    # by profile name: the files that wrote it, in order (set by the loader; not part of the rules' data)
    _profile_sources: dict[str, tuple[str, ...]] = PrivateAttr(default_factory=dict)
    # by profile name: the evidence of a profile inferred from a file (memberseg.proposal); not rules data
    _inferred: dict[str, list[dict[str, Any]]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _profiles_valid(self) -> Rules:
        known = sorted({*packaged_profiles(), *self.profiles})
        for name in (self.inputs.memberships.profile, self.inputs.orders.profile):
            if name != "auto" and name not in known:
                raise ValueError(f"inputs: unknown profile {name!r}; known: {known}")
        for name in self.profiles:
            try:
                self._built_profile(name)
            except (ValidationError, ValueError) as exc:
                raise ValueError(_located(f"profiles.{name}", exc)) from None
        self._signatures_distinct()
        self._standard_row_types()
        return self

    def _standard_row_types(self) -> None:
        """A profile that lists no fields reads inputs.orders.fields: a row_type there needs its row_types."""
        for profile in self.catalog.values():
            if profile.orders is not None and not profile.orders.fields:
                try:
                    profile.orders.check_row_types(self.inputs.orders.fields)
                except ValueError as exc:
                    raise ValueError(f"profiles.{profile.name}.orders.{exc} (the profile reads "
                                     "inputs.orders.fields)") from None

    def _built_profile(self, name: str) -> Profile:
        """A packaged profile with this rules file's changes merged in, or a new profile, complete."""
        packaged = packaged_profiles()
        if name in packaged:
            return Profile.model_validate(deep_merge(packaged[name], self.profiles.get(name, {})))
        return Profile.model_validate(new_profile_data(name, self.profiles[name]))

    def _signatures_distinct(self) -> None:
        """A new profile whose signature is another profile's could never be told apart from it: the
        choice between the two would rest on their order, not on the file."""
        if set(self.profiles) <= set(packaged_profiles()):
            return
        for profile in self.catalog.values():
            if profile.name in packaged_profiles():
                continue
            for role in profile.roles():
                signature = _folded(getattr(profile, role).signature)
                twin = next((other.name for other in self.catalog.values() if other.name != profile.name
                             and getattr(other, role) is not None
                             and _folded(getattr(other, role).signature) == signature), None)
                if twin is not None:
                    raise ValueError(
                        f"profiles.{profile.name}.{role}.signature: the same headers as the profile '{twin}', "
                        f"so a file could not tell the two apart; add a header only this export has, or change "
                        f"'{twin}' under profiles.{twin} instead")

    @cached_property
    def catalog(self) -> dict[str, Profile]:
        """Every profile, with this rules file's changes merged in, in a stable order: standard, the
        packaged ones, then the user's own (that order breaks a tie in detection)."""
        packaged = sorted(packaged_profiles(), key=lambda name: (name != STANDARD_PROFILE, name))
        own = sorted(set(self.profiles) - set(packaged))
        return {name: self._built_profile(name) for name in packaged + own}

    def with_profile_sources(self, sources: Mapping[str, Sequence[str]]) -> Rules:
        """These rules (just built by the loader), told which files wrote each profile (see profile_origin)."""
        self._profile_sources = {name: tuple(files) for name, files in sources.items()}
        return self

    @property
    def profile_sources(self) -> dict[str, tuple[str, ...]]:
        return dict(self._profile_sources)

    def with_inferred(self, evidence: Mapping[str, list[dict[str, Any]]]) -> Rules:
        """These rules, told which profiles were inferred from the files, with each one's evidence."""
        self._inferred = {name: list(items) for name, items in evidence.items()}
        return self

    def inferred_evidence(self, name: str) -> list[dict[str, Any]] | None:
        """The evidence of a profile inferred from a file, or None for a profile someone wrote."""
        return self._inferred.get(name)

    def profile_origin(self, name: str) -> str:
        """Where a profile came from: "packaged", "packaged, changed by rules file mine.yaml", "rules file
        mine.yaml", or "input bucket profiles/acme.yaml, changed by rules file rules.yaml"."""
        files = list(self._profile_sources.get(name, ()))
        if name in self.profiles and not files:
            files = ["the rules"]             # rules built without the loader: the file is not known
        if name in packaged_profiles():
            files.insert(0, PACKAGED)
        return files[0] + (f", changed by {', '.join(files[1:])}" if len(files) > 1 else "")

    @property
    def most_segments(self) -> int:
        """The most segments a run with these rules can have: its own plus those of the profile that adds
        the most (a profile's segments join when it reads the memberships)."""
        return len(self.segments) + max((len(profile.segments) for profile in self.catalog.values()), default=0)

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
            return Rules.model_validate(data).with_profile_sources(self.profile_sources).with_inferred(self._inferred)
        except ValidationError as exc:
            raise InputError("invalid_rules", format_validation_error(f"(with profile {profile.name})", exc)
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
        _since_columns_free(properties)
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
        canonical = json.dumps(self.model_dump(mode="json", exclude={"engine"}), sort_keys=True,
                               separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _since_columns_free(properties: list[str]) -> None:
    """No segment's `<property>_since` column (memberseg.changes) is another segment's property."""
    for index, name in enumerate(properties):
        if since_column(name) in properties:
            raise ValueError(f"segments.{index}.property: {since_column(name)!r} would be both a segment and "
                             f"the date customers entered segment {name!r}")


def _folded(headers: list[str]) -> frozenset[str]:
    return frozenset(normalize_header(header) for header in headers)


def _located(prefix: str, exc: ValidationError | ValueError) -> str:
    """A profile's first problem with its full key path: profiles.<name>.<key>: message."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        location = [prefix, *(str(part) for part in first["loc"])]
        message = first["msg"].removeprefix("Value error, ")
    else:
        location, message = [prefix], str(exc)
    if KEY_PATH.match(message):
        return ".".join([*location, message])
    return f"{'.'.join(location)}: {message}"


def format_validation_error(source: str, exc: ValidationError, *, kind: str = "rules file") -> str:
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{location}: {message}" if location else message)   # a whole-file check names its key
    return f"The {kind} {source} is invalid. " + "; ".join(problems[:5]) + (
        f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    )
