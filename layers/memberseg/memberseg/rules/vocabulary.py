"""The export vocabulary: header spellings and value words seen in real platforms' exports, with the
sources they came from. Inference reads it to propose which column holds which field and what a status
or row-type value means; the data lives in `rules/vocabulary.yaml`, validated here."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Literal

import yaml
from pydantic import Field, field_validator, model_validator

from .model import (
    MEMBERSHIP_CLASSES,
    MEMBERSHIP_FIELDS,
    ORDER_CLASSES,
    ORDER_FIELDS,
    ROW_TYPE_CLASSES,
    Strict,
    normalize_header,
)
from .profiles import TermSpan  # an interval word covers what a term's span does: months or days

PACKAGE = "memberseg"
VOCABULARY_FILE = "rules/vocabulary.yaml"

# Fields of the new profile language, accepted here whether or not rules.model lists them yet: the
# billing interval a membership term can be read from (`term: {interval_field: plan_interval}`). Orders'
# row_type is in ORDER_FIELDS.
LANGUAGE_FIELDS: dict[str, set[str]] = {"memberships": {"plan_interval"}, "orders": set()}
VOCABULARY_FIELDS: dict[str, frozenset[str]] = {
    "memberships": frozenset(MEMBERSHIP_FIELDS | LANGUAGE_FIELDS["memberships"]),
    "orders": frozenset(ORDER_FIELDS | LANGUAGE_FIELDS["orders"]),
}
VALUE_CLASSES: dict[str, tuple[str, ...]] = {
    "membership_status": (*MEMBERSHIP_CLASSES, "comp", "gift"),
    "order_status": ORDER_CLASSES,
    "row_type": ROW_TYPE_CLASSES,
}
ValueKind = Literal["membership_status", "order_status", "row_type"]
Role = Literal["memberships", "orders"]
HeaderSpellings = dict[Role, dict[str, list[str]]]     # role -> field -> spellings as written


def fold_value(text: object) -> str:
    """Value words match in any case, trimmed: ' Active ' == 'active'."""
    return str(text).strip().casefold()


class Source(Strict):
    """One platform's export we read, and where its layout was seen."""

    platform: str = Field(min_length=1)
    export: str = Field(min_length=1)
    url: str = Field(min_length=1)
    notes: str = ""


class Values(Strict):
    membership_status: dict[str, str] = {}
    order_status: dict[str, str] = {}
    row_type: dict[str, str] = {}
    interval: dict[str, TermSpan] = {}

    @model_validator(mode="after")
    def _known_classes_one_per_word(self) -> Values:
        for kind, classes in VALUE_CLASSES.items():
            seen: dict[str, tuple[str, str]] = {}
            for word, klass in getattr(self, kind).items():
                if klass not in classes:
                    raise ValueError(f"values.{kind}.{word}: {klass!r} is not a class; use one of {', '.join(classes)}")
                folded = fold_value(word)
                if not folded:
                    raise ValueError(f"values.{kind}: a blank word means different things per export; leave it out")
                if folded in seen and seen[folded][1] != klass:
                    other, other_class = seen[folded]
                    raise ValueError(f"values.{kind}: {other!r} is {other_class} but {word!r} is {klass}")
                seen[folded] = (word, klass)
        intervals: dict[str, str] = {}
        for word in self.interval:
            folded = fold_value(word)
            if folded in intervals:
                raise ValueError(f"values.interval: {intervals[folded]!r} and {word!r} are the same word")
            intervals[folded] = word
        return self


class Ambiguity(Strict):
    """A header spelling or value word that means different things on different platforms: inference asks.
    It is listed once under its most common meaning (headers / values); `means` names every meaning seen."""

    role: Role | None = None              # with header
    header: str | None = None
    kind: ValueKind | None = None         # with value
    value: str | None = None
    means: list[str] = Field(min_length=2)
    note: str = Field(min_length=1)

    @model_validator(mode="after")
    def _header_or_value(self) -> Ambiguity:
        if (self.header is None) == (self.value is None):
            raise ValueError("an ambiguity names either a header (with role) or a value (with kind)")
        if self.header is not None:
            if self.role is None or self.kind is not None:
                raise ValueError(f"ambiguous header {self.header!r} needs role (and no kind)")
            unknown = set(self.means) - VOCABULARY_FIELDS[self.role]
        else:
            if self.kind is None or self.role is not None:
                raise ValueError(f"ambiguous value {self.value!r} needs kind (and no role)")
            unknown = set(self.means) - set(VALUE_CLASSES[self.kind])
        if unknown:
            raise ValueError(f"ambiguous {self.header or self.value!r}: {sorted(unknown)} not known meanings")
        return self


class Vocabulary(Strict):
    sources: list[Source] = Field(min_length=1)
    headers: HeaderSpellings
    values: Values
    membership_words: list[str] = []     # words that name a membership in an item text (any case, inside it)
    ambiguous: list[Ambiguity] = []

    @field_validator("membership_words")
    @classmethod
    def _words_unique_not_blank(cls, words: list[str]) -> list[str]:
        seen: set[str] = set()
        for word in words:
            folded = fold_value(word)
            if len(folded) < 3:
                raise ValueError(f"membership_words: {word!r} is too short to name a membership (3 letters or more)")
            if folded in seen:
                raise ValueError(f"membership_words: {word!r} is listed twice")
            seen.add(folded)
        return words

    @field_validator("headers")
    @classmethod
    def _fields_known_spellings_unique(cls, headers: HeaderSpellings) -> HeaderSpellings:
        for role, fields in headers.items():
            unknown = set(fields) - VOCABULARY_FIELDS[role]
            if unknown:
                raise ValueError(f"headers.{role}: unknown field(s) {sorted(unknown)}; "
                                 f"known fields are {sorted(VOCABULARY_FIELDS[role])}")
            seen: dict[str, tuple[str, str]] = {}
            for field, spellings in fields.items():
                for spelling in spellings:
                    key = normalize_header(spelling)
                    if not key:
                        raise ValueError(f"headers.{role}.{field}: {spelling!r} has no letters or digits")
                    if key in seen and seen[key][1] != field:
                        other, other_field = seen[key]
                        raise ValueError(f"headers.{role}: {other!r} is under {other_field} and {spelling!r} "
                                         f"under {field}: a spelling belongs to one field per role "
                                         "(list the other meaning under ambiguous)")
                    seen[key] = (spelling, field)
        return headers

    @model_validator(mode="after")
    def _ambiguities_listed(self) -> Vocabulary:
        for entry in self.ambiguous:
            if entry.header is not None and entry.role is not None:
                field = _header_map(self, entry.role).get(normalize_header(entry.header))
                if field not in entry.means:
                    raise ValueError(f"ambiguous header {entry.header!r} must be listed under headers.{entry.role} "
                                     f"as one of {entry.means} (found: {field})")
            elif entry.value is not None and entry.kind is not None:
                klass = _value_map(self, entry.kind).get(fold_value(entry.value))
                if klass not in entry.means:
                    raise ValueError(f"ambiguous value {entry.value!r} must be listed under values.{entry.kind} "
                                     f"as one of {entry.means} (found: {klass})")
        return self


def _header_map(vocabulary: Vocabulary, role: Role) -> dict[str, str]:
    return {normalize_header(spelling): field
            for field, spellings in vocabulary.headers.get(role, {}).items()
            for spelling in spellings}


def _value_map(vocabulary: Vocabulary, kind: str) -> dict[str, str]:
    words: dict[str, str] = getattr(vocabulary.values, kind)
    return {fold_value(word): klass for word, klass in words.items()}


@functools.cache
def load_vocabulary() -> Vocabulary:
    """The packaged vocabulary. A broken vocabulary file is a bug: validation errors propagate."""
    text = resources.files(PACKAGE).joinpath(VOCABULARY_FILE).read_text(encoding="utf-8")
    return Vocabulary.model_validate(yaml.safe_load(text))


@functools.cache
def header_fields(role: Role) -> dict[str, str]:
    """Normalised header spelling -> the field it names in `role`'s exports."""
    return _header_map(load_vocabulary(), role)


@functools.cache
def _values(kind: ValueKind) -> dict[str, str]:
    return _value_map(load_vocabulary(), kind)


def value_class(kind: ValueKind, text: object) -> str | None:
    """The class a status or row-type word means (any case, trimmed), or None when the word is unknown."""
    return _values(kind).get(fold_value(text))


def interval_length(text: object) -> TermSpan | None:
    """What a billing-interval word covers (month -> 1 month), or None when the word is unknown."""
    lengths = {fold_value(word): length for word, length in load_vocabulary().values.interval.items()}
    return lengths.get(fold_value(text))


def ambiguities(role: Role) -> dict[str, list[str]]:
    """Normalised header spelling -> every field it was seen meaning, for the spellings inference must ask about."""
    return {normalize_header(entry.header): entry.means for entry in load_vocabulary().ambiguous
            if entry.header is not None and entry.role == role}


def ambiguous_values(kind: ValueKind) -> dict[str, list[str]]:
    """Folded value word -> every class it was seen meaning, for the words inference must ask about."""
    return {fold_value(entry.value): entry.means for entry in load_vocabulary().ambiguous
            if entry.value is not None and entry.kind == kind}
