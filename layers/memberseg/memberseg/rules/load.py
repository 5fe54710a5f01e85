"""Loading a rules file: the packaged defaults (`memberseg/default_rules.yaml`, the one place every
default lives), a YAML or TOML file holding only what it changes, deep-merged over them (mappings
merge, lists replace), and validation that names the offending key, e.g.
``consolidation.renewal_grace_days``.

Profile files kept outside the package (an organisation's `profiles/*.yaml`) come between the two:
each is what `profiles.<its name>` would hold in a rules file, merged in before the rules file, so a
rules file can change them too. Each is validated on its own, so an error names the file at fault."""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import yaml
from pydantic import ValidationError

from ..errors import InputError
from .model import deep_merge
from .profiles import PACKAGE
from .ruleset import Rules, format_validation_error

DEFAULT_RULES_NAME = "default_rules.yaml"


@functools.cache
def default_rules_data() -> dict[str, Any]:
    text = resources.files(PACKAGE).joinpath(DEFAULT_RULES_NAME).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)  # noqa: S101 - the packaged file; its tests would fail first
    return data


class ProfileFile(NamedTuple):
    """A profile kept outside the package, e.g. `profiles/acme.yaml` in the input bucket. It holds what
    `profiles.acme` would hold in a rules file: a packaged name changes that profile, any other name
    defines a whole new one. The file's name without its suffix is the profile's name."""

    path: str       # where it is kept, e.g. "profiles/acme.yaml" (.toml reads as TOML, anything else as YAML)
    text: str
    place: str      # e.g. "input bucket": `memberseg profiles` says "from input bucket profiles/acme.yaml"

    @property
    def label(self) -> str:
        return f"{self.place} {self.path}"

    @property
    def profile_name(self) -> str:
        return PurePosixPath(self.path).stem


def _load_text(text: str, source: str, suffix: str, kind: str = "rules file") -> dict[str, Any]:
    try:
        data = tomllib.loads(text) if suffix.lower() == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError) as exc:   # ValueError: YAML's 9999-02-30
        raise InputError("invalid_rules", f"The {kind} {source} is not valid {suffix.lstrip('.').upper()}: {exc}",
                         file=source) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError("invalid_rules", f"The {kind} {source} must hold a mapping of keys at the top level.",
                         file=source)
    return data


def _validated(data: dict[str, Any], source: str, kind: str = "rules file") -> Rules:
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        raise InputError("invalid_rules", format_validation_error(source, exc, kind=kind), file=source) from exc


def _with_profile_files(profile_files: Sequence[ProfileFile], sources: dict[str, list[str]]) -> dict[str, Any]:
    """The defaults with each profile file merged in under profiles.<its name>, each checked as it comes."""
    data = default_rules_data()
    for profile_file in profile_files:
        name = profile_file.profile_name
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise InputError("invalid_rules", f"The profile file {profile_file.label} is not named after a profile: "
                             "its name (without .yaml) is the profile's name, in lowercase letters, digits and _.",
                             file=profile_file.path)
        suffix = PurePosixPath(profile_file.path).suffix or ".yaml"
        profile = _load_text(profile_file.text, profile_file.label, suffix, kind="profile file")
        data = deep_merge(data, {"profiles": {name: profile}})
        _validated(data, profile_file.label, kind="profile file")
        sources.setdefault(name, []).append(profile_file.label)
    return data


def parse_rules(text: str, *, source: str = "rules", suffix: str = ".yaml",
                profile_files: Sequence[ProfileFile] = ()) -> Rules:
    """A rules file's text, deep-merged over the defaults and any profile files, and validated."""
    sources: dict[str, list[str]] = {}
    base = _with_profile_files(profile_files, sources)
    own = _load_text(text, source, suffix)
    if isinstance(own.get("profiles"), dict):
        for name in own["profiles"]:
            sources.setdefault(name, []).append(f"rules file {source}")
    return _validated(deep_merge(base, own), source).with_profile_sources(sources)


def load_rules(path: str | Path | None = None, *, overlay: dict | None = None,
               profile_files: Sequence[ProfileFile] = ()) -> Rules:
    """Load the rules at `path` over the packaged defaults and `profile_files`, or the defaults when
    there are neither.

    `overlay` (e.g. a forced profile from the command line) is merged last.
    """
    if overlay:
        base = load_rules(path, profile_files=profile_files)
        try:
            rules = Rules.model_validate(deep_merge(base.model_dump(mode="json"), overlay))
        except ValidationError as exc:
            raise InputError("invalid_rules", format_validation_error("(command line)", exc)) from exc
        return rules.with_profile_sources(base.profile_sources)
    if path is None:
        return parse_rules("", source="(none)", profile_files=profile_files) if profile_files else _default_rules()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError("rules_not_found", f"The rules file {path} cannot be read: {exc.strerror}.",
                         file=path.name) from exc
    except UnicodeDecodeError as exc:
        raise InputError("invalid_rules", f"The rules file {path} is not UTF-8 text.", file=path.name) from exc
    return parse_rules(text, source=path.name, suffix=path.suffix or ".yaml", profile_files=profile_files)


@functools.cache
def _default_rules() -> Rules:
    return Rules.model_validate(default_rules_data())


def default_rules() -> Rules:
    """The rules as shipped (the packaged defaults, no rules file), parsed once per process and shared:
    read it, never change it."""
    return _default_rules()
