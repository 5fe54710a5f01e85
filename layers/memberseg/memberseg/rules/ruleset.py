"""The whole rules file as one model: its sections, the packaged profiles with the file's changes merged
in, the segments a profile adds, and the `$name` thresholds segment conditions refer to."""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from ..errors import InputError
from .model import (
    ConditionValue,
    Consolidation,
    HubSpot,
    Inputs,
    Limits,
    Orders,
    Scalar,
    Segment,
    Status,
    Strict,
    deep_merge,
)
from .profiles import STANDARD_PROFILE, Profile, RoleSpec, packaged_profiles


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
    profiles: dict[str, dict[str, Any]]        # changes to the packaged profiles, by profile name

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



def format_validation_error(source: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{location}: {message}")
    return f"The rules file {source} is invalid. " + "; ".join(problems[:5]) + (
        f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    )
