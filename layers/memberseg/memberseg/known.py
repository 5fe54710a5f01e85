"""What inference knows about exports: the researched vocabulary (`rules/vocabulary.yaml`) plus every
alias and status text the known profiles hold. No pandas here: whether a file is worth inferring is
decided from its header row before pandas loads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .rules import IDENTITY_FIELDS, MEMBERSHIP_FIELDS, ORDER_FIELDS, Rules, normalize_header
from .rules.meaningful import meaningful_columns

STATUS_VOCABULARY = {"memberships": "membership_status", "orders": "order_status"}


def meaningful_fields(role: str) -> set[str]:
    """The fields whose column changes the numbers (rules/meaningful_columns.yaml): unread, a question."""
    return set(meaningful_columns().roles[role].header_fields)


@dataclass
class Known:
    """Per role: normalized header -> fields it names, and value text -> classes (from each source)."""

    headers: dict[str, set[str]]
    statuses: dict[str, set[str]]
    other_values: set[str]            # row types and other status words: a column holding them is meaningful
    membership_words: tuple[str, ...] = ()   # words naming a membership in an item text (folded)
    intervals: dict[str, dict[str, int]] = field(default_factory=dict)   # billing-interval word -> its span
    # status word -> the class the vocabulary lists it under: an ambiguous word's most common meaning
    usual: dict[str, str] = field(default_factory=dict)
    # orders: row-type word -> the classes it is known as (payment, refund ...), and its usual class
    row_types: dict[str, set[str]] = field(default_factory=dict)
    usual_row_types: dict[str, str] = field(default_factory=dict)


def _section(vocabulary: Any, name: str) -> Any:
    """A part of the vocabulary (a `rules.vocabulary.Vocabulary`, or a plain mapping of the same shape)."""
    value = vocabulary.get(name) if isinstance(vocabulary, Mapping) else getattr(vocabulary, name, None)
    return value or {}


def known_for(role: str, rules: Rules, vocabulary: Any) -> Known:
    return Known(_known_headers(role, rules, vocabulary), *_known_values(role, rules, vocabulary),
                 *_term_words(vocabulary), usual=_usual(vocabulary, STATUS_VOCABULARY[role]),
                 row_types=_known_row_types(role, rules, vocabulary) if role == "orders" else {},
                 usual_row_types=_usual(vocabulary, "row_type") if role == "orders" else {})


def _term_words(vocabulary: Any) -> tuple[tuple[str, ...], dict[str, dict[str, int]]]:
    """(membership words, billing-interval word -> {months: N} or {days: N}), folded."""
    words = tuple(str(word).strip().casefold() for word in _section(vocabulary, "membership_words") or [])
    intervals: dict[str, dict[str, int]] = {}
    for word, span in _section(_section(vocabulary, "values"), "interval").items():
        data = span if isinstance(span, Mapping) else span.model_dump(exclude_none=True)
        intervals[str(word).strip().casefold()] = {key: int(value) for key, value in data.items() if value is not None}
    return words, intervals


def _known_headers(role: str, rules: Rules, vocabulary: Any) -> dict[str, set[str]]:
    """Normalized header -> the fields it names: the vocabulary's spellings (an ambiguous one names each
    of its meanings, so it is asked about) and every alias of the known profiles."""
    fields = MEMBERSHIP_FIELDS if role == "memberships" else ORDER_FIELDS
    headers: dict[str, set[str]] = {}

    def add(field_name: str, spellings: Iterable[Any]) -> None:
        for spelling in spellings:
            text = normalize_header(spelling)
            if text:
                headers.setdefault(text, set()).add(field_name)

    spellings = [(name, list(texts or [])) for name, texts in _section(_section(vocabulary, "headers"), role).items()
                 if name in fields or name in meaningful_fields(role)]
    other = "orders" if role == "memberships" else "memberships"   # who the customer is reads alike in both
    spellings += [(name, list(texts or [])) for name, texts in _section(_section(vocabulary, "headers"), other).items()
                  if name in IDENTITY_FIELDS]
    spellings += [(name, spec.aliases) for profile in rules.profiles_for(role)
                  for name, spec in rules.spec_for(profile, role).fields.items()]
    spellings += [(meaning, [entry.header]) for entry in _section(vocabulary, "ambiguous") or []
                  if getattr(entry, "header", None) and getattr(entry, "role", None) == role for meaning in entry.means]
    for field_name, texts in spellings:
        add(field_name, texts)
    return headers


def _usual(vocabulary: Any, kind: str) -> dict[str, str]:
    """Word (folded) -> the class the vocabulary lists it under in `values.<kind>` (an ambiguous word is
    listed once, under its most common meaning): what a question about the word suggests."""
    words = _section(_section(vocabulary, "values"), kind)
    return {str(text).strip().casefold(): str(klass) for text, klass in words.items()}


def _known_row_types(role: str, rules: Rules, vocabulary: Any) -> dict[str, set[str]]:
    """Row-type word (folded) -> its classes: the vocabulary's, the known profiles' and every meaning of an
    ambiguous one (so it is asked about)."""
    known: dict[str, set[str]] = {}
    for text, klass in _usual(vocabulary, "row_type").items():
        known.setdefault(text, set()).add(klass)
    for profile in rules.profiles_for(role):
        for text, klass in getattr(profile, role).row_types.items():
            known.setdefault(text.strip().casefold(), set()).add(klass)
    for entry in _section(vocabulary, "ambiguous") or []:
        if getattr(entry, "value", None) and getattr(entry, "kind", None) == "row_type":
            known.setdefault(str(entry.value).strip().casefold(), set()).update(entry.means)
    return known


def _known_values(role: str, rules: Rules, vocabulary: Any) -> tuple[dict[str, set[str]], set[str]]:
    statuses: dict[str, set[str]] = {}
    values = _section(vocabulary, "values")
    for text, klass in _section(values, STATUS_VOCABULARY[role]).items():
        statuses.setdefault(str(text).strip().casefold(), set()).add(str(klass))
    for profile in rules.profiles_for(role):
        for text, klass in getattr(profile, role).statuses.items():
            statuses.setdefault(text.strip().casefold(), set()).add(klass)
    for entry in _section(vocabulary, "ambiguous") or []:   # a value that means several classes: asked
        if getattr(entry, "value", None) and getattr(entry, "kind", None) == STATUS_VOCABULARY[role]:
            statuses.setdefault(str(entry.value).strip().casefold(), set()).update(entry.means)
    other = {str(text).strip().casefold() for kind in ("membership_status", "order_status", "row_type")
             for text in _section(values, kind)} | set(statuses)
    return statuses, other
