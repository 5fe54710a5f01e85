"""Which columns change memberseg's numbers when nobody reads them: `meaningful_columns.yaml`, validated.
Both the unread-column check (memberseg.unread_columns) and inference (memberseg.known) read it; no
pandas here, so inference can decide from a header row before pandas loads."""

from __future__ import annotations

import functools
from importlib import resources

import yaml
from pydantic import Field

from .model import Strict

DATA_FILE = "rules/meaningful_columns.yaml"


class RoleMeaning(Strict):
    header_fields: list[str]
    value_kinds: list[str]
    currency_values: bool
    unit_headers: bool


class MeaningfulColumns(Strict):
    roles: dict[str, RoleMeaning]
    unit_words: list[str]
    unit_headers: list[str]
    max_distinct_values: int = Field(ge=1)
    sample_rows: int = Field(ge=1)
    values_shown: int = Field(ge=1)
    currencies: list[str] = Field(min_length=1)


@functools.cache
def meaningful_columns() -> MeaningfulColumns:
    text = resources.files("memberseg").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return MeaningfulColumns.model_validate(yaml.safe_load(text))
