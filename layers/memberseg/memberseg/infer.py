"""A draft profile inferred from one file, for an export no profile fits.

The headers are matched through a vocabulary (the researched `rules/vocabulary.yaml` plus every alias
and status text the known profiles already hold); the values then confirm or refute each match: emails,
dates (and their order), money (and its decimal separator and unit), currency codes, and the small sets
of distinct texts read as statuses. Every decision carries its evidence and whether it is certain; what
is not certain becomes a `Question` with a stable id, its candidates and, when there is one, a suggested
answer. A value the vocabulary does not know is always a question, never a guess.

`infer_profile` needs the file's whole table (read with a probe profile that keeps every column), so
the column statistics are vectorised pandas over whole columns.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .job_protocol import answer_fits
from .known import Known, known_for, meaningful_fields
from .rules import (
    MEMBERSHIP_CLASSES,
    MEMBERSHIP_FIELDS,
    ORDER_CLASSES,
    ORDER_FIELDS,
    ROW_TYPE_CLASSES,
    RoleSpec,
    Rules,
    normalize_header,
)
from .terms import YEAR_IN_TEXT
from .validate import CURRENT_CLASSES
from .values import (
    date_order_votes,
    decimal_separator_votes,
    is_blank,
    to_dates,
    to_money,
    to_text,
    valid_email,
)

INFERRED_PLATFORM = "inferred"
SAMPLES = 3                 # sample values shown per candidate column
MAX_STATUS_VALUES = 30      # a column with more distinct texts is no status
MAX_ITEM_VALUES = 500       # a column with more distinct texts names no items (free text)
MIN_EMAIL_SHARE = 0.8       # an email column: at least this share of its values are addresses
DATE_FIELDS = ("created_date", "expiration_date", "start_date", "order_date")
MONEY_FIELDS = ("order_value", "refunded_value")
BLANK = "(blank)"
SEASON_START_DEFAULT = "09-01"   # the season the term question offers first (a suggestion the user edits)
EVERY_PAYMENT = "every_payment"
STATUS_ALONE = "status_alone"    # the term question's answer "no term: the status alone decides"
STANDS_IN = ("created_date", "expiration_date")   # required memberships dates the language can do without
STARTS = ("created_date", "start_date", "order_date")
ENDS = frozenset({"expiration_date", "renewal_marker"})


def profile_name(role: str) -> str:
    return f"inferred_{role}"


@dataclass
class Decision:
    """One thing the draft says about the file, why, and whether the file settles it."""

    key: str            # e.g. "fields.email", "statuses.active", "date_order_default"
    value: Any
    evidence: str
    certain: bool

    def describe(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "evidence": self.evidence, "certain": self.certain}


@dataclass
class Question:
    """What the file does not settle. `apply(spec, answer)` writes a valid answer into the draft's role spec."""

    id: str             # stable: "orders.field.order_value", "orders.value.status.Refunded"
    kind: str           # "field", "value" or "term"
    file: str
    role: str
    prompt: str
    choices: list[Any]                  # the valid answers
    candidates: list[dict[str, Any]]    # columns with sample values, or the value with its count
    apply: Callable[[dict[str, Any], Any], None]
    suggested: Any = None
    custom: dict[str, str] | None = None   # answers beyond the choices: key -> kind (job_protocol.answer_fits)
    # the questions an answer opens (a column answered "status": what each of its values means)
    follow_up: Callable[[Any], list[Question]] | None = field(default=None, repr=False)
    refused: dict[str, str] = field(default_factory=dict)   # an answer not offered -> why (for --answers)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "file": self.file, "role": self.role,
                               "candidates": self.candidates, "choices": self.choices, "prompt": self.prompt}
        if self.suggested is not None:
            out["suggested"] = self.suggested
        if self.custom:
            out["custom"] = self.custom
        return out

    def fits(self, answer: Any) -> bool:
        return answer_fits({"choices": self.choices, "custom": self.custom}, answer)


@dataclass
class Draft:
    """The inferred profile for one file: its role spec (profile-language data), decisions and questions."""

    role: str
    file: str
    spec: dict[str, Any]
    decisions: list[Decision] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    columns: dict[str, pd.Series] = field(default_factory=dict, repr=False)   # the file's columns by header

    @property
    def name(self) -> str:
        return profile_name(self.role)

    @property
    def certain(self) -> bool:
        return not self.questions and all(decision.certain for decision in self.decisions)

    def profile_data(self) -> dict[str, Any]:
        """What `profiles.<name>` holds in a rules file."""
        return {"title": f"Inferred from {self.file}", "platform": INFERRED_PLATFORM,
                "export": f"the file {self.file}", "source": "inferred by memberseg from the file's headers and values",
                self.role: self.spec}

    def evidence(self) -> list[dict[str, Any]]:
        return [decision.describe() for decision in self.decisions]


# --- Column statistics (vectorised over whole columns) ---

def _nonblank(values: pd.Series) -> pd.Series:
    return values[~is_blank(values)]


def samples(values: pd.Series, count: int = SAMPLES) -> list[str]:
    texts = _nonblank(values).astype(str).str.strip()   # as the file writes them
    return [str(text) for text in pd.unique(texts)[:count]]


def _distinct_counts(values: pd.Series) -> pd.Series:
    """Distinct trimmed texts (blank as BLANK) -> row count, most common first."""
    texts = to_text(values).fillna("").str.strip().replace("", BLANK)
    return texts.value_counts()


def _dates_read(values: pd.Series) -> pd.Series:
    """Whether each non-blank value reads as a date in either order."""
    present = _nonblank(values)
    return to_dates(present, "MDY").notna() | to_dates(present, "DMY").notna()


def _money_read(values: pd.Series, decimal: str) -> pd.Series:
    present = _nonblank(values)
    return to_money(present, decimal).notna()


def _is_currency(values: pd.Series) -> bool:
    present = to_text(_nonblank(values)).str.strip()
    return bool(len(present)) and bool(present.str.fullmatch(r"[A-Za-z]{3}").all())


def _is_email(values: pd.Series) -> bool:
    present = to_text(_nonblank(values)).str.strip()
    return bool(len(present)) and float(valid_email(present).notna().mean()) >= MIN_EMAIL_SHARE


def _fits(field_name: str, values: pd.Series, decimal: str) -> bool:
    """Whether a column's values can be this field's (dates, money, emails, currency codes)."""
    if not len(_nonblank(values)):
        return False
    if field_name in DATE_FIELDS:   # a column of bare numbers (a quantity) is no date column
        numbers = to_text(_nonblank(values)).str.strip().str.fullmatch(r"\d+(?:\.0+)?")
        return bool(_dates_read(values).all()) and not bool(numbers.all())
    if field_name in MONEY_FIELDS:
        return bool(_money_read(values, decimal).all())
    if field_name == "email":
        return _is_email(values)
    if field_name == "currency":
        return _is_currency(values)
    return True


class _Table:
    """The file's columns by header, as read in full."""

    def __init__(self, headers: list[str], frame: pd.DataFrame) -> None:
        self.headers = headers
        self.frame = frame

    def column(self, header: str) -> pd.Series:
        return self.frame[self.headers.index(header)]

    def candidate(self, header: str) -> dict[str, Any]:
        return {"column": header, "samples": samples(self.column(header))}


# --- Inference ---

def _decimal(table: _Table, money_columns: list[str]) -> tuple[str, Decision | None]:
    votes: dict[str, str] = {}
    for header in money_columns:
        votes.update(decimal_separator_votes(table.column(header)))
    if len(votes) == 1:
        separator, example = next(iter(votes.items()))
        return separator, Decision("decimal_separator_default", separator, f"'{example}' can only be read one way",
                                   True)
    if len(votes) > 1:
        return ".", Decision("decimal_separator_default", None, f"amounts read both ways: {votes}", False)
    ambiguous = [header for header in money_columns
                 if to_text(_nonblank(table.column(header))).str.contains(r"\d[.,]\d{3}(?:\D*)$").any()]
    if ambiguous:
        return ".", Decision("decimal_separator_default", None,
                             f"'{samples(table.column(ambiguous[0]), 1)[0]}' in {ambiguous[0]} reads two ways", False)
    return ".", None


@dataclass
class ValueWords:
    """A column whose distinct values are words with a class: statuses, or the orders' row types."""

    field: str                        # the field reading the column: status, row_type
    spec_key: str                     # where the profile maps its words: statuses, row_types
    classes: tuple[str, ...]
    known: dict[str, set[str]]        # word (folded) -> the classes it is known as
    usual: dict[str, str]             # word (folded) -> the class the vocabulary lists it under
    what: str = "status"              # in words


@dataclass
class TermInputs:
    item: str | None          # the column naming what each payment bought
    named: list[str]          # its texts that name a membership, most common first
    intervals: list[str]      # columns holding billing-interval words


class _Inference:
    def __init__(self, role: str, file: str, table: _Table, rules: Rules, known: Known) -> None:
        self.role, self.file, self.table, self.rules, self.known = role, file, table, rules, known
        self.draft = Draft(role, file, {"signature": [h for h in table.headers if h], "fields": {}})
        self.taken: dict[str, str] = {}      # header -> field
        self.decimal = "."
        # a required date field no column holds -> (where its question goes, the term's inputs for an end date)
        self.absent: dict[str, tuple[int, TermInputs | None]] = {}

    # decisions and questions
    def decide(self, key: str, value: Any, evidence: str, certain: bool = True) -> None:
        self.draft.decisions.append(Decision(key, value, evidence, certain))

    def ask(self, question_id: str, kind: str, prompt: str, choices: list[Any], candidates: list[dict[str, Any]],
            apply: Callable[[dict[str, Any], Any], None], suggested: Any = None,
            custom: dict[str, str] | None = None) -> None:
        self.draft.questions.append(Question(f"{self.role}.{question_id}", kind, self.file, self.role, prompt,
                                             choices, candidates, apply, suggested, custom))

    def set_field(self, field_name: str, header: str, required: bool) -> None:
        self.draft.spec["fields"][field_name] = {"aliases": [header], **({"required": True} if required else {})}
        self.taken[header] = field_name

    # fields
    def claims(self, field_name: str) -> list[str]:
        return [header for header in self.table.headers
                if header and field_name in self.known.headers.get(normalize_header(header), set())]

    def field(self, field_name: str, required: bool) -> None:
        claimed = [header for header in self.claims(field_name) if header not in self.taken]
        fitting = [header for header in claimed if _fits(field_name, self.table.column(header), self.decimal)]
        if len(claimed) == 1 and fitting and len(self.known.headers[normalize_header(claimed[0])]) == 1:
            self.set_field(field_name, claimed[0], required)
            self.decide(f"fields.{field_name}", claimed[0], f"header '{claimed[0]}' is a known {field_name} header"
                        + ("" if field_name not in DATE_FIELDS + MONEY_FIELDS + ("email", "currency")
                           else f" and its values are {self._kind(field_name)}"))
            return
        if not claimed and not required:
            return
        if not claimed:   # a required field with no known header: the columns whose values fit
            free = [h for h in self.table.headers if h and h not in self.taken and not self.names_an_end(h, field_name)]
            fitting = [h for h in free if _fits(field_name, self.table.column(h), self.decimal)]
        options = fitting or claimed
        if not options and self.role == "memberships" and field_name in STANDS_IN:
            # absent from the file: what stands in is settled once the status is read (stand_ins)
            self.absent[field_name] = (len(self.draft.questions), self.term_inputs() if field_name ==
                                       "expiration_date" else None)
            return
        self.ask_field(field_name, required, claimed, options)

    def names_an_end(self, header: str, field_name: str) -> bool:
        """A column whose header names a membership's end (expiry, next payment) holds no start date."""
        fields = self.known.headers.get(normalize_header(header), set())
        return field_name in STARTS and bool(fields) and fields <= ENDS

    def ask_field(self, field_name: str, required: bool, claimed: list[str], options: list[str]) -> None:
        prompt = (f"Which column of '{self.file}' holds the {self.role} {field_name.replace('_', ' ')}?"
                  + (f" Several headers could: {', '.join(claimed)}." if len(claimed) > 1 else "")
                  + ("" if required else " Answer null if none does."))
        suggested = options[0] if len(options) == 1 else None

        def apply(spec: dict[str, Any], answer: Any, name: str = field_name, needed: bool = required) -> None:
            if answer is not None:
                spec["fields"][name] = {"aliases": [answer], **({"required": True} if needed else {})}

        candidates = [self.table.candidate(h) for h in (options or [h for h in self.table.headers if h])]
        self.ask(f"field.{field_name}", "field", prompt,
                 [c["column"] for c in candidates] + ([] if required else [None]), candidates, apply, suggested)
        for header in options[:1] if suggested else []:
            self.taken[header] = field_name

    def _kind(self, field_name: str) -> str:
        return {"email": "email addresses", "currency": "currency codes"}.get(
            field_name, "dates" if field_name in DATE_FIELDS else "amounts")

    def term_inputs(self) -> TermInputs:
        """What the term question is made of: the item column, its membership texts, the interval columns
        (read where the end date is found missing, so the columns fields read later are not yet taken)."""
        item = self.item_column()
        named = _membership_texts(self.table.column(item), self.known.membership_words) if item else []
        intervals = self.interval_columns()
        for header in intervals:
            self.taken[header] = "plan_interval"
        if item is not None:
            self.taken.setdefault(item, "plan")
        return TermInputs(item, named, intervals)

    def status_decides(self) -> str | None:
        """Why the status column can say who is a member now (it has a known current value), or None."""
        header = next((h for h, f in self.taken.items() if f == "status"), None)
        current = [text for text, klass in self.draft.spec.get("statuses", {}).items() if klass in CURRENT_CLASSES]
        if header is None or not current:
            return None
        return f"'{header}' says who is a member now ({', '.join(repr(text) for text in current[:3])}: current)"

    def one_row_per_customer(self) -> bool:
        """A member list (each customer once), not payment rows (a customer's payments repeat them)."""
        header = next((h for h, f in self.taken.items() if f in ("customer_id", "email")), None)
        if header is None:
            return False
        keys = to_text(_nonblank(self.table.column(header))).str.strip().str.casefold()
        return bool(len(keys)) and not keys.duplicated().any()

    def stand_ins(self) -> None:
        """A created date or an end date the file lacks: what the profile language lets stand in for it
        (docs/rules.md). With no date column left to hold a created date, no term can be counted from a
        payment: when the status says who is a member, the status alone decides (the only reading there
        is); otherwise the field is asked about. A lacking end date is the term question, status alone
        among its choices when the status can decide."""
        status = self.status_decides()
        if "created_date" in self.absent and status is not None:
            lacks = "a created date" + (" or an end date" if "expiration_date" in self.absent else "")
            self.draft.spec["status_alone"] = True
            self.draft.spec["created_from"] = "first_payment"
            self.decide("status_alone", True, f"no column of '{self.file}' holds {lacks}, so no term can be counted "
                        f"from a payment; {status}: the status alone decides, and a member's created date is their "
                        "first paid order's (created_from: first_payment)")
            return
        # the last first, so each question lands where its field was found missing
        for _order, (field_name, (at, inputs)) in sorted(enumerate(self.absent.items()), reverse=True,
                                                       key=lambda entry: (entry[1][1][0], entry[0])):
            before = len(self.draft.questions)
            if inputs is None:
                self.ask_field(field_name, True, [], [])
            else:
                self.ask_term(inputs, status)
            asked = self.draft.questions[before:]
            del self.draft.questions[before:]
            self.draft.questions[at:at] = asked

    def ask_term(self, inputs: TermInputs, status: str | None = None) -> None:
        """No end date: which payments buy a membership (`term.buys`), and for how long (`term`); or, when
        the status can decide, no term at all (`status_alone`)."""
        item, named, intervals = inputs.item, inputs.named, inputs.intervals
        what = f"Each '{named[0]}' payment" if named else "Each payment"
        choices: list[Any] = [{"months": 12}, {"months": 1}, "calendar_year", {"season_start": SEASON_START_DEFAULT},
                              *({"interval_column": header} for header in intervals),
                              *([STATUS_ALONE] if status is not None else [])]

        def apply(spec: dict[str, Any], answer: Any) -> None:
            for header in intervals:
                if answer == STATUS_ALONE or header != answer.get("interval_column"):
                    spec.setdefault("ignore", []).append(header)   # an interval column the answer leaves unread
            if answer == STATUS_ALONE:
                spec.pop("term", None)
                spec["status_alone"] = True
                if "created_date" not in spec["fields"]:
                    spec["created_from"] = "first_payment"
                return
            term = spec.setdefault("term", {})
            column = answer.get("interval_column") if isinstance(answer, dict) else None
            if column is None:
                term["length"] = answer
                return
            spec["fields"]["plan_interval"] = {"aliases": [column]}
            words = _distinct_counts(self.table.column(column)).index
            term["length"] = {"interval_field": "plan_interval", "intervals": {
                str(word): self.known.intervals[str(word).casefold()] for word in words
                if str(word).casefold() in self.known.intervals}}

        prompt = (f"'{self.file}' has no membership end date. {what} covers: 12 months from the payment, 1 month, "
                  "the calendar year (the one the item names, else the payment's), a season starting on a day "
                  "(MM-DD; the season the item names, else the payment's)"
                  + (f", or the billing interval in {', '.join(repr(h) for h in intervals)}" if intervals else "")
                  + (f"? Or no term at all ({STATUS_ALONE}): {status}, open-ended" if status is not None else "")
                  + "?")
        suggested = _suggested_length(named, intervals)
        if suggested is None and status is not None and self.one_row_per_customer():
            suggested = STATUS_ALONE   # a member list whose status says who is current, no payment rows
            self.decide("term", STATUS_ALONE, f"each customer is one row of '{self.file}' (a member list, not "
                        f"payments) and {status}", certain=False)
        # the item column first, with the texts that name a membership (the page says "Each '...' payment")
        candidates = ([{**self.table.candidate(item), "names_membership": named[:SAMPLES]}] if item else []) + [
            self.table.candidate(h) for h in intervals]
        self.ask("term", "term", prompt, choices, candidates, apply, suggested, {"season_start": "day"})
        if item is not None:
            self.ask_buys(item, named)

    def item_column(self) -> str | None:
        """The column naming what each payment bought: the plan field's, else the column with the most
        distinct membership-looking values (those naming a year first); None when no column names one."""
        plan = next((h for h, f in self.taken.items() if f == "plan"), None)
        if plan is not None:
            return plan
        best: tuple[int, int, str] | None = None
        for header in self.table.headers:
            if not header or header in self.taken:
                continue
            texts = _membership_texts(self.table.column(header), self.known.membership_words)
            if texts:
                rank = (sum(1 for text in texts if _years(text)), len(texts), header)
                best = rank if best is None or rank[:2] > best[:2] else best
        return best[2] if best else None

    def interval_columns(self) -> list[str]:
        """Columns holding billing-interval words (monthly, annual ...): a term can be read from one."""
        found = []
        for header in self.table.headers:
            if not header or header in self.taken:
                continue
            counts = _distinct_counts(self.table.column(header))
            words = {str(text).casefold() for text in counts.index} - {BLANK.casefold()}
            named = "plan_interval" in self.known.headers.get(normalize_header(header), set())
            if words and len(counts) <= MAX_STATUS_VALUES and (named or words & set(self.known.intervals)):
                found.append(header)
        return found

    def ask_buys(self, item: str, named: list[str]) -> None:
        prefixes = _prefixes(named)
        suggested = {"starts_with": prefixes} if prefixes else None
        choices: list[Any] = ([suggested] if suggested else []) + (
            [{"starts_with": [prefix]} for prefix in prefixes] if len(prefixes) > 1 else []) + [EVERY_PAYMENT]

        def apply(spec: dict[str, Any], answer: Any) -> None:
            spec["fields"].setdefault("plan", {"aliases": [item]})
            if spec.get("status_alone"):   # the term question was answered: no term, so no payment buys one
                return
            term = spec.setdefault("term", {})
            if answer == EVERY_PAYMENT:
                term["buys_when"] = []
                return
            [(op, value)] = answer.items()
            term["buys_when"] = [{"field": "plan", "op": op, "value": value}]

        counts = _distinct_counts(self.table.column(item))
        self.ask("term.buys", "term", f"Which payments in '{self.file}' buy a membership? Its '{item}' column "
                 f"names what each bought (values: {', '.join(str(t) for t in list(counts.index)[:10])}).",
                 choices, [{"column": item, "samples": samples(self.table.column(item)),
                            "values": {str(k): int(v) for k, v in counts.head(10).items()}}],
                 apply, suggested, {"starts_with": "text", "contains": "text"})

    # values
    def statuses(self) -> None:
        classes = MEMBERSHIP_CLASSES if self.role == "memberships" else ORDER_CLASSES
        self.value_classes(ValueWords("status", "statuses", classes, self.known.statuses, self.known.usual))

    def row_types(self) -> None:
        self.value_classes(ValueWords("row_type", "row_types", ROW_TYPE_CLASSES, self.known.row_types,
                                      self.known.usual_row_types, "row type"))

    def row_type_column(self) -> None:
        """The orders' row-type column, when exactly one header is a known row-type header and nothing else
        (several, or an ambiguous one, are asked about as unread columns)."""
        claimed = [header for header in self.claims("row_type") if header not in self.taken]
        if len(claimed) == 1 and self.known.headers[normalize_header(claimed[0])] == {"row_type"}:
            self.set_field("row_type", claimed[0], False)
            self.decide("fields.row_type", claimed[0], f"header '{claimed[0]}' is a known row type header")

    def value_classes(self, words: ValueWords) -> None:
        """The distinct values of the column read as `words.field`: a word known as one class is decided,
        any other is a question (suggested: the class the vocabulary lists it under)."""
        header = next((h for h, f in self.taken.items() if f == words.field), None)
        if header is None:
            return
        counts = _distinct_counts(self.table.column(header))
        if len(counts) > MAX_STATUS_VALUES:
            self.decide(f"fields.{words.field}", header, f"'{header}' has {len(counts)} distinct values: too many "
                        f"for a {words.what}", False)
            return
        mapping: dict[str, str] = {}
        self.draft.spec[words.spec_key] = mapping
        for text, count in counts.items():
            if text == BLANK:
                continue
            known = words.known.get(str(text).casefold(), set()) & set(words.classes)
            if len(known) == 1:
                mapping[str(text).casefold()] = next(iter(known))
                self.decide(f"{words.spec_key}.{text}", next(iter(known)), f"'{text}' ({count} rows in {header}) is "
                            f"a known {words.what}")
                continue

            def apply(spec: dict[str, Any], answer: Any, value: str = str(text), key: str = words.spec_key) -> None:
                spec.setdefault(key, {})[value.casefold()] = answer

            usual = words.usual.get(str(text).casefold())   # an ambiguous word's most common meaning
            suggested = usual if usual in known else (sorted(known)[0] if known else None)
            why = f" Known exports read it as {' or '.join(sorted(known))}." if known else ""
            self.ask(f"value.{words.field}.{text}", "value", f"What does '{text}' in the column '{header}' of "
                     f"'{self.file}' mean ({count} rows)?{why}", list(words.classes),
                     [{"column": header, "value": text, "rows": int(count)}], apply, suggested)

    def open_ended(self) -> None:
        header = next((h for h, f in self.taken.items() if f == "expiration_date"), None)
        if header is None:
            return
        values = self.table.column(header)
        read = _dates_read(values)
        counts = _distinct_counts(values)
        unread = set(to_text(_nonblank(values)[~read]).str.strip())
        if counts.get(BLANK, 0) and self.draft.spec.get("status_alone"):
            self.decide("open_ended.blank", True, f"the status alone decides: a current member with a blank "
                        f"'{header}' is open-ended ({int(counts[BLANK])} rows)")
        elif counts.get(BLANK, 0):
            unread.add("")
        for text in sorted(unread):
            shown = text or BLANK

            def apply(spec: dict[str, Any], answer: Any, value: str = text) -> None:
                if answer == "no_expiry":
                    spec.setdefault("open_ended", []).append(value)

            self.ask(f"value.expiration_date.{shown}", "value", f"'{shown}' in the column '{header}' of '{self.file}' "
                     f"({int(counts.get(shown, 0))} rows) is no date. Does it mean the membership never expires?",
                     ["no_expiry", "invalid"], [{"column": header, "value": shown, "rows": int(counts.get(shown, 0))}],
                     apply)

    def date_order(self) -> None:
        headers = [h for h, f in self.taken.items() if f in DATE_FIELDS]
        votes: dict[str, str] = {}
        for header in headers:
            votes.update(date_order_votes(self.table.column(header)))
        numeric = [h for h in headers if to_text(_nonblank(self.table.column(h))).str.contains(
            r"^\s*\d{1,2}[-/.]\d{1,2}[-/.]\d{4}").any()]
        if len(votes) == 1:
            order, example = next(iter(votes.items()))
            self.draft.spec["date_order_default"] = order
            self.decide("date_order_default", order, f"'{example}' can only be read one way")
        elif numeric:
            def apply(spec: dict[str, Any], answer: Any) -> None:
                spec["date_order_default"] = answer

            self.ask("date_order", "value", f"Are the dates in '{self.file}' month first (MDY) or day first (DMY)?"
                     + (" Some read each way." if votes else " No value decides it."), ["MDY", "DMY"],
                     [self.table.candidate(h) for h in numeric], apply)

    def decimal_separator(self, decision: Decision | None) -> None:
        if decision is None:
            return
        if decision.certain:
            self.draft.spec["decimal_separator_default"] = decision.value
            self.draft.decisions.append(decision)
            return

        def apply(spec: dict[str, Any], answer: Any) -> None:
            spec["decimal_separator_default"] = answer

        self.ask("decimal_separator", "value", f"Is the decimal separator of the amounts in '{self.file}' a point "
                 f"or a comma? ({decision.evidence})", [".", ","],
                 [self.table.candidate(h) for h, f in self.taken.items() if f in MONEY_FIELDS], apply)

    def amount_unit(self) -> None:
        header = next((h for h, f in self.taken.items() if f == "order_value"), None)
        if header is None:
            return
        present = _nonblank(self.table.column(header))
        amounts = to_money(present, self.decimal)
        texts = present.astype(str).str.strip()   # as written: "120.00" has decimals
        whole = bool(len(amounts)) and bool((amounts.dropna() % 1 == 0).all()) and not texts.str.contains(
            r"[.,]\d{1,2}\D*$").any()
        if not whole or float(amounts.abs().median()) < 100:
            self.decide("amount_unit", "major", f"amounts in '{header}' such as {samples(present, 2)} are in the "
                        "currency's main unit")
            return

        def apply(spec: dict[str, Any], answer: Any) -> None:
            if answer == "minor":
                if "amount_unit" not in RoleSpec.model_fields:
                    raise ValueError("amounts in minor units (cents) need the profile key amount_unit, which "
                                     "this memberseg cannot read yet")
                spec["amount_unit"] = "minor"

        self.ask("amount_unit", "value", f"The amounts in '{header}' of '{self.file}' are whole numbers "
                 f"({', '.join(samples(present))}). Are they in the currency's main unit (99 means 99.00) or its "
                 "minor unit (9900 means 99.00)?", ["major", "minor"], [self.table.candidate(header)], apply)

    def line_items(self) -> None:
        header = next((h for h, f in self.taken.items() if f == "order_id"), None)
        if header is None:
            return
        ids = to_text(_nonblank(self.table.column(header))).str.strip()
        if not ids.duplicated().any():
            self.decide("line_items", False, f"every value of '{header}' is distinct: one row per order")
            return

        def apply(spec: dict[str, Any], answer: Any) -> None:
            spec["line_items"] = bool(answer)

        self.ask("line_items", "value", f"Values of '{header}' in '{self.file}' repeat. Is each row one line of an "
                 "order (count the order once)?", [True, False], [self.table.candidate(header)], apply, True)

    def names(self) -> None:
        fields = self.draft.spec["fields"]
        header = fields.get("customer_name", {}).get("aliases", [None])[0]
        if "first_name" in fields or "last_name" in fields:
            self.draft.spec["names"] = "person"
            self.decide("names", "person", "the file has first and last name columns")
            return
        asked = any(question.id == f"{self.role}.field.customer_name" for question in self.draft.questions)
        if header is None and not asked:   # nothing to read as people or companies: the setting changes nothing
            self.draft.spec["names"] = "person"
            self.decide("names", "person", f"'{self.file}' has no name column")
            return
        if header is not None and normalize_header(header) in {"company", "companyname", "organization",
                                                               "organisation", "firma", "societe", "entreprise"}:
            self.draft.spec["names"] = "company"
            self.decide("names", "company", f"'{header}' names a company")
            return

        def apply(spec: dict[str, Any], answer: Any) -> None:
            spec["names"] = answer

        self.draft.spec["names"] = "person"
        self.ask("names", "field", f"Does '{header or 'the name column'}' of '{self.file}' hold people's names or "
                 "companies?", ["person", "company"],
                 [self.table.candidate(header)] if header else [], apply)

    def renewing(self) -> None:
        header = next((h for h, f in self.taken.items() if f == "renewal_marker"), None)
        if header is None:
            return

        def apply(spec: dict[str, Any], answer: Any) -> None:
            if answer != "never":
                op = "is_blank" if answer == "when_blank" else "not_blank"
                spec["renewing_when"] = [{"field": "renewal_marker", "op": op}]

        # no suggestion: a blank cancellation date and a filled subscription id both mean "renews"
        self.ask("renewing", "value", f"When does a current membership in '{self.file}' renew by itself: while "
                 f"'{header}' is blank, while it is filled, or never?", ["when_blank", "when_not_blank", "never"],
                 [self.table.candidate(header)], apply)

    def unread_columns(self) -> None:
        """A column no field reads that looks meaningful (by its header or its values) is a question."""
        fields = MEMBERSHIP_FIELDS if self.role == "memberships" else ORDER_FIELDS
        asked = {candidate["column"] for question in self.draft.questions for candidate in question.candidates
                 if question.kind == "field"}
        for header in self.table.headers:
            if not header or header in self.taken or header in asked:
                continue
            named = self.known.headers.get(normalize_header(header), set()) & meaningful_fields(self.role)
            counts = _distinct_counts(self.table.column(header))
            words = {str(text).casefold() for text in counts.index} - {BLANK.casefold()}
            by_values = len(counts) <= MAX_STATUS_VALUES and bool(words & self.known.other_values)
            if not named and not by_values:
                continue
            readable = self.readable_as(named, words)

            def apply(spec: dict[str, Any], answer: Any, name: str = header) -> None:
                if answer == "ignore":
                    spec.setdefault("ignore", []).append(name)
                    return
                if answer not in fields:
                    raise ValueError(f"a {answer} column needs profile language this memberseg cannot read yet")
                spec["fields"][answer] = {"aliases": [name]}

            why = f"its header names a {', '.join(sorted(named))}" if named else "its values look like statuses"
            self.ask(f"column.{header}", "field", f"The column '{header}' of '{self.file}' is not read, but {why} "
                     f"(values: {', '.join(str(t) for t in list(counts.index)[:10])}). Which field is it, or "
                     "is it to be ignored?", [*readable, "ignore"],
                     [{"column": header, "samples": samples(self.table.column(header)),
                       "values": {str(k): int(v) for k, v in counts.head(10).items()}}], apply)
            self.draft.questions[-1].follow_up = functools.partial(self.values_of, header)
            if "plan_interval" in named:
                self.refuse_interval(self.draft.questions[-1])

    def readable_as(self, named: set[str], words: set[str]) -> list[str]:
        """The fields an unread column may be: those its header names (a billing interval only by the term
        question), else those whose words its values hold (the status, for the orders also the row type)."""
        fields = MEMBERSHIP_FIELDS if self.role == "memberships" else ORDER_FIELDS
        if named:
            return sorted(named - {"plan_interval"})
        by_words = [name for name, known in (("status", self.known.statuses), ("row_type", self.known.row_types))
                    if name in fields and words & set(known)]
        return by_words or (["status"] if "status" in fields else [])

    def values_of(self, header: str, answer: Any) -> list[Question]:
        """The questions a column answered as the status or the row type opens: what each of its words means."""
        if answer not in ("status", "row_type"):
            return []
        self.taken[header] = answer
        before = len(self.draft.questions)
        if answer == "status":
            self.statuses()
        else:
            self.row_types()
        opened = self.draft.questions[before:]
        del self.draft.questions[before:]
        return opened

    def refuse_interval(self, question: Question) -> None:
        """A billing-interval column the term question did not take: nothing would read it as plan_interval."""
        question.refused["plan_interval"] = (
            "a billing interval is read only by a term counted from payments (term.length.interval_field), "
            f"and this draft counts none: '{self.file}' has an end date column or the status alone decides. "
            "Answer ignore, or write the term in a rules file (docs/rules.md)")
        question.prompt += " (A billing interval is read only by a term counted from payments; this draft counts none.)"
        question.suggested = "ignore" if question.choices == ["ignore"] else None


def _membership_texts(values: pd.Series, words: tuple[str, ...]) -> list[str]:
    """The distinct texts of a column that hold a membership word, as written, most common first."""
    if not words:
        return []
    counts = _distinct_counts(values)
    texts = pd.Series([str(text) for text in counts.index if text != BLANK], dtype=object)
    if not len(texts) or len(texts) > MAX_ITEM_VALUES:
        return []
    folded = texts.str.casefold()
    hit = pd.Series(False, index=texts.index)
    for word in words:
        hit |= folded.str.contains(word, regex=False)
    return texts[hit].tolist()


def _years(text: str) -> tuple[str, str] | None:
    """(first year, second year or "") a text names, e.g. ("2025", "26") for "2025/26"."""
    found = re.search(YEAR_IN_TEXT, text)
    return (found[1], found[2] or "") if found else None


def _prefixes(texts: list[str]) -> list[str]:
    """What the membership texts start with once the year they name is gone ("Club Membership 2025/26" ->
    "Club Membership"), one spelling each, in order."""
    found: dict[str, str] = {}
    for text in texts:
        found_year = re.search(YEAR_IN_TEXT, text)
        prefix = (text[:found_year.start()] if found_year else text).strip(" -/:,(")
        if prefix and prefix.casefold() not in found:
            found[prefix.casefold()] = prefix
    return [prefix for prefix in found.values()
            if not any(other != prefix.casefold() and prefix.casefold().startswith(other) for other in found)]


def _suggested_length(named: list[str], intervals: list[str]) -> Any:
    """A season when the membership texts name seasons ("2025/26") and no single year; the calendar year when
    they name single years only; else (no year named, or both kinds, or an interval column) no suggestion."""
    years = [found for found in (_years(text) for text in named) if found]
    if intervals or not years:
        return None
    seasons = [second for _, second in years if second]
    if len(seasons) == len(years):
        return {"season_start": SEASON_START_DEFAULT}
    return "calendar_year" if not seasons else None


MEMBERSHIP_ORDER = ("email", "customer_id", "customer_name", "first_name", "last_name", "company", "created_date",
                    "expiration_date", "start_date", "status", "plan", "enrollment", "renewal_marker")
ORDER_ORDER = ("email", "customer_id", "customer_name", "first_name", "last_name", "order_id", "order_date",
               "currency", "order_value", "refunded_value", "status")
REQUIRED = {"memberships": ("created_date", "expiration_date"), "orders": ("order_value",)}


def infer_profile(role: str, file: str, headers: list[str], frame: pd.DataFrame, rules: Rules,
                  vocabulary: Any) -> Draft:
    """The draft profile for one file whose header row is `headers` and whose data rows are `frame`
    (columns 0..len(headers)-1, raw cells), with its decisions and questions."""
    table = _Table([str(h).strip() for h in headers], frame)
    known = known_for(role, rules, vocabulary)
    run = _Inference(role, file, table, rules, known)
    money_columns = [h for h in table.headers if h and set(MONEY_FIELDS) & known.headers.get(normalize_header(h),
                                                                                             set())]
    run.decimal, decision = _decimal(table, money_columns)
    order = MEMBERSHIP_ORDER if role == "memberships" else ORDER_ORDER
    for field_name in order:
        run.field(field_name, field_name in REQUIRED[role])
    identity = {"customer_id", "email", "customer_name", "first_name", "last_name"}
    if not identity & set(run.draft.spec["fields"]) and not any(q.id.endswith(("field.email", "field.customer_id"))
                                                                for q in run.draft.questions):
        run.field("email", True)
    if role == "orders":
        run.row_type_column()
        run.row_types()
    run.statuses()
    if role == "memberships":
        run.stand_ins()
        run.open_ended()
        run.names()
        run.renewing()
    else:
        run.decimal_separator(decision)
        run.amount_unit()
        run.line_items()
    run.date_order()
    run.unread_columns()
    run.draft.columns = {header: table.column(header) for header in table.headers if header}
    return run.draft


JOIN_KEYS = ("customer_id", "email", "customer_name")   # the order memberseg.orders.join_key_of tries them in


def _keys(values: Any) -> pd.Series:
    """The distinct non-blank values of a column, trimmed and case-folded, as join keys compare."""
    column = pd.Series(values, dtype=object)
    texts = to_text(column[~is_blank(column)]).dropna().str.strip().str.casefold()
    return pd.Series(pd.unique(texts[texts != ""]), dtype=object)


def _share_values(first: Any, second: Any) -> bool:
    return bool(_keys(first).isin(_keys(second)).any())


def with_composed_name(fields: dict[str, Any]) -> dict[str, Any]:
    """A customer_name composed from first and last name when the file has no name column, as the
    validation composes it."""
    if "customer_name" in fields or not ("first_name" in fields and "last_name" in fields):
        return fields
    first, last = (to_text(pd.Series(fields[name], dtype=object)).fillna("") for name in ("first_name", "last_name"))
    return {**fields, "customer_name": (first.str.strip() + " " + last.str.strip()).str.strip()}


def check_join(orders: Draft | None, order_fields: dict[str, Any], members: Draft | None,
               member_fields: dict[str, Any]) -> None:
    """The two files must name their customers alike: the orders' join key (customer ID, else email, else
    name) must be a field of the memberships too, with values in common. The fields' values are given
    (`*_fields`: field -> values); a problem is a question on an inferred draft, never a run that
    matches nothing."""
    key = next((name for name in JOIN_KEYS if name in order_fields), None)
    if key is None:
        return
    order_fields, member_fields = with_composed_name(order_fields), with_composed_name(member_fields)
    common = [name for name in JOIN_KEYS if name in order_fields and name in member_fields
              and _share_values(order_fields[name], member_fields[name])]
    if key in common:
        inferred = orders or members
        if inferred is not None:
            inferred.decisions.append(Decision("join_key", key, f"the files share {key} values", True))
        return
    if orders is not None and common:
        for name in JOIN_KEYS[:JOIN_KEYS.index(common[0])]:
            orders.spec["fields"].pop(name, None)
        orders.decisions.append(Decision("join_key", common[0], f"the memberships file has no {key} values in "
                                         f"common with the orders; {common[0]} values are shared", True))
        return
    draft = members if members is not None and key not in member_fields else orders or members
    if draft is None:
        return
    wanted: str = key
    if draft is orders:   # ask for a key the memberships file has, so the two can meet
        wanted = next((name for name in JOIN_KEYS if name in member_fields), key)
    if not any(question.id == f"{draft.role}.field.{wanted}" for question in draft.questions):
        draft.questions.append(_join_question(draft, wanted, joins_first=draft is orders))


def _join_question(draft: Draft, key: str, joins_first: bool) -> Question:
    """Which column of the draft's file holds `key` as the other file writes it."""
    other = "orders" if draft.role == "memberships" else "memberships"
    headers = list(draft.columns)
    words = key.replace("_", " ")

    def apply(spec: dict[str, Any], answer: Any) -> None:
        for before in JOIN_KEYS[:JOIN_KEYS.index(key)] if joins_first else ():
            spec["fields"].pop(before, None)   # the orders join on the first key they have
        spec["fields"][key] = {"aliases": [answer]}

    return Question(f"{draft.role}.field.{key}", "field", draft.file, draft.role,
                    f"Which column of '{draft.file}' holds the customer's {words} as the {other} file writes "
                    f"it? (The two files must name their customers alike; no column shares values with the "
                    f"{other} file's {words}.)", headers,
                    [{"column": header, "samples": samples(draft.columns[header])} for header in headers], apply)


def apply_answers(draft: Draft, answers: Mapping[str, Any]) -> list[str]:
    """Write the answers to the draft's questions into its spec; returns the ids still open.

    ValueError names the question of an invalid answer."""
    still_open = []
    for question in draft.questions:   # grows while it is read: an answer may open follow-up questions
        if question.id not in answers:
            still_open.append(question.id)
            continue
        answer = answers[question.id]
        if isinstance(answer, str) and answer in question.refused:
            raise ValueError(f"the answer to '{question.id}' is {answer!r}: {question.refused[answer]}")
        if not question.fits(answer):
            shown = ", ".join(repr(choice) for choice in question.choices[:12])
            raise ValueError(f"the answer to '{question.id}' is {answer!r}; it must be one of: {shown}")
        try:
            question.apply(draft.spec, answer)
        except ValueError as exc:
            raise ValueError(f"the answer to '{question.id}': {exc}") from exc
        if question.follow_up is not None:
            draft.questions += [new for new in question.follow_up(answer)
                                if all(new.id != known.id for known in draft.questions)]
    return still_open


__all__ = ["Decision", "Draft", "Question", "apply_answers", "infer_profile", "known_for", "profile_name",
           "INFERRED_PLATFORM"]
