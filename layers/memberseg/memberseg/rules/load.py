"""Loading a rules file: the packaged defaults (`memberseg/default_rules.yaml`, the one place every
default lives), a YAML or TOML file holding only what it changes, deep-merged over them (mappings
merge, lists replace), and validation that names the offending key, e.g.
``consolidation.renewal_grace_days``."""

from __future__ import annotations

import functools
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

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


def _load_text(text: str, source: str, suffix: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(text) if suffix.lower() == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError) as exc:   # ValueError: YAML's 9999-02-30
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
        raise InputError("invalid_rules", format_validation_error(source, exc), file=source) from exc


def load_rules(path: str | Path | None = None, *, overlay: dict | None = None) -> Rules:
    """Load the rules at `path` over the packaged defaults, or the defaults when `path` is None.

    `overlay` (e.g. a forced profile from the command line) is merged last.
    """
    if overlay:
        base = load_rules(path)
        try:
            return Rules.model_validate(deep_merge(base.model_dump(mode="json"), overlay))
        except ValidationError as exc:
            raise InputError("invalid_rules", format_validation_error("(command line)", exc)) from exc
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
