"""Column parsers for the values users type into spreadsheets: IDs, names, dates, money, emails.

Each takes a whole column of raw cells (mixed Python objects from Excel, or text
from CSV) and returns a typed column; missing or unparseable cells become NA.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import unicodedata

import numpy as np
import pandas as pd

# Every date is a datetime64[s] at midnight: seconds reach far past 0001-01-01..9999-12-31, every date a
# spreadsheet or CSV can hold (nanoseconds, pandas' old default, end in 1677 and 2262).
DATE_UNIT = "datetime64[s]"
EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
MAX_EXCEL_SERIAL = 2_958_465  # 9999-12-31
PHANTOM_LEAP_DAY = 60         # Excel's 1900-02-29, a day that never was: serials below it are one day later
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
FORMULA_START = ("=", "+", "-", "@")
_MONTHS = {name: number for number, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
     ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
     ("oct", "october"), ("nov", "november"), ("dec", "december")], start=1) for name in names}


def _punctuation_table(texts: pd.Series) -> dict[int, None]:
    """Deletion table for the Unicode punctuation (categories P*) that occurs in `texts`."""
    characters = set("".join(texts.dropna()))
    return {ord(ch): None for ch in characters if unicodedata.category(ch).startswith("P")}


def per_unique(parse):
    """Parse each distinct cell once: exports repeat IDs, names and dates across many rows."""
    def wrapper(values: pd.Series, *args):
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        if len(uniques) > 0.5 * len(values):
            return parse(values, *args)
        candidates = pd.Series(np.append(np.asarray(uniques, dtype=object), [None]), dtype=object)
        parsed = parse(candidates, *args)
        taken = parsed.take(np.where(codes < 0, len(uniques), codes))  # missing cells parse as None
        return taken.set_axis(values.index)
    return functools.wraps(parse)(wrapper)


# What a cell holds, by its exact Python type (bool, Decimal, None, ... are OTHER).
OTHER, TEXT, NUMBER, DATETIME = 0, 1, 2, 3
_KIND_OF_TYPE = {str: TEXT, float: NUMBER, int: NUMBER, np.float64: NUMBER, np.int64: NUMBER,
                 dt.datetime: DATETIME, dt.date: DATETIME, pd.Timestamp: DATETIME}


def cell_kinds(values: pd.Series) -> pd.Series:
    """Each cell's kind (TEXT, NUMBER, DATETIME or OTHER): one cheap pass, so the parsers can branch per column.

    Small integer codes rather than the types themselves: comparing them costs next to nothing.
    """
    cells = values.to_numpy(dtype=object)
    kinds = np.fromiter(map(_KIND_OF_TYPE.get, map(type, cells), itertools.repeat(OTHER)), dtype=np.int8,
                        count=len(cells))
    return pd.Series(kinds, index=values.index)


def _is_number(kinds: pd.Series) -> pd.Series:
    return kinds.eq(NUMBER)


def _is_datetime(kinds: pd.Series) -> pd.Series:
    return kinds.eq(DATETIME)


def is_blank(values: pd.Series, kinds: pd.Series | None = None) -> pd.Series:
    """True for empty cells and whitespace-only text (`kinds`: the column's cell_kinds, when known)."""
    blank = values.isna() | values.eq("")
    text = (cell_kinds(values) if kinds is None else kinds).eq(TEXT) & ~blank
    if text.any():
        blank[text] = values[text].str.strip().eq("")
    return blank


@per_unique
def to_text(values: pd.Series) -> pd.Series:
    """Trimmed text; integral numbers as integer text (12345.0 -> "12345"); blank -> NA."""
    kinds = cell_kinds(values)
    out = pd.Series(pd.NA, index=values.index, dtype=object)
    text = kinds.eq(TEXT)
    if text.any():
        stripped = values[text].str.strip().str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
        out[text] = stripped
    numbers = _is_number(kinds)
    if numbers.any():
        number = values[numbers].astype(float)
        integral = np.isfinite(number) & (number == np.floor(number)) & (number.abs() < 2**53)
        out[numbers & integral.reindex(values.index, fill_value=False)] = (
            number[integral].astype(np.int64).astype(str))
        rest = number[~integral & np.isfinite(number)]
        out[rest.index] = rest.astype(str)
    other = ~(text | numbers) & values.notna()
    if other.any():
        out[other] = values[other].astype(str).str.strip()
    return out.where(out.ne(""), pd.NA)


def id_key(text: pd.Series) -> pd.Series:
    """Match key: casefolded; all-digit IDs lose leading zeros ("00123" matches 123)."""
    key = text.str.casefold()
    digits = key.str.fullmatch(r"\d+").fillna(False).astype(bool)
    stripped = key[digits].str.lstrip("0")
    key[digits] = stripped.where(stripped.ne(""), "0")
    return key


def name_key(text: pd.Series) -> pd.Series:
    """Casefold, delete Unicode punctuation (no space inserted), collapse whitespace."""
    folded = text.str.casefold()
    key = folded.str.translate(_punctuation_table(folded)).str.split().str.join(" ")
    # A name made only of punctuation still identifies someone: keep its folded text.
    key = key.where(key.ne(""), folded.str.split().str.join(" "))
    return key.where(key.ne("") & key.notna(), pd.NA)


@per_unique
def ids_with_keys(values: pd.Series) -> pd.DataFrame:
    """ID text and its match key, parsed once per distinct cell."""
    text = to_text.__wrapped__(values)
    return pd.DataFrame({"text": text, "key": id_key(text.fillna("")).where(text.notna())})


@per_unique
def names_with_keys(values: pd.Series) -> pd.DataFrame:
    """Name text and its normalised key, parsed once per distinct cell."""
    text = to_text.__wrapped__(values)
    return pd.DataFrame({"text": text, "key": name_key(text.fillna(""))})


def no_dates(index: pd.Index) -> pd.Series:
    """A date column with every date missing."""
    return pd.Series(pd.NaT, index=index, dtype=DATE_UNIT)


def _ymd(year: pd.Series, month: pd.Series, day: pd.Series) -> pd.Series:
    """The dates of year, month and day parts (numbers or digit text); NaT where they name no day of 1..9999."""
    y, m, d = (pd.to_numeric(part, errors="coerce").to_numpy(dtype=float) for part in (year, month, day))
    valid = (y >= 1) & (y <= 9999) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= 31)
    months = np.where(valid, (y - 1970) * 12 + m - 1, 0).astype(np.int64).astype("datetime64[M]")
    first = months.astype("datetime64[D]")
    valid &= d <= ((months + 1).astype("datetime64[D]") - first).astype(np.int64)   # the month's length
    days = first + np.where(valid, d - 1, 0).astype(np.int64)
    return pd.Series(np.where(valid, days, np.datetime64("NaT")).astype(DATE_UNIT), index=year.index)


def _serial_dates(numbers: pd.Series) -> pd.Series:
    """Excel serial numbers (1..MAX_EXCEL_SERIAL, time of day dropped) as the dates Excel shows for them;
    other numbers -> NaT. Below the phantom 29 February 1900 a serial is one day later than its count
    from EXCEL_EPOCH, and that day itself reads as 1900-02-28, as a date cell does when it is read."""
    whole = np.floor(numbers.to_numpy(dtype=float))
    valid = (whole >= 1) & (whole <= MAX_EXCEL_SERIAL)
    offset = np.where(valid, whole + (whole < PHANTOM_LEAP_DAY), 0).astype(np.int64)
    days = np.where(valid, EXCEL_EPOCH + offset, np.datetime64("NaT"))
    return pd.Series(days.astype(DATE_UNIT), index=numbers.index)


@per_unique
def to_dates(values: pd.Series, date_order: str = "MDY") -> pd.Series:
    """Dates at midnight (time of day dropped) as DATE_UNIT, 0001-01-01 to 9999-12-31; missing or
    unparseable -> NaT."""
    out = no_dates(values.index)
    kinds = cell_kinds(values)
    real = _is_datetime(kinds)
    if real.any():
        stamps = pd.to_datetime(values[real].astype(object), errors="coerce")
        out[real] = stamps.dt.floor("D").astype(DATE_UNIT)
    serial = _is_number(kinds)
    text = kinds.eq(TEXT)
    if text.any():
        stripped = values[text].str.strip()
        digits = stripped.str.fullmatch(r"\d{1,7}(\.\d+)?")
        serial = serial | digits.reindex(values.index, fill_value=False).astype(bool)
    if serial.any():
        out[serial] = _serial_dates(pd.to_numeric(values[serial], errors="coerce").astype(float))
    pending = text & ~serial
    if pending.any():
        out[pending] = _parse_date_text(values[pending].str.strip(), date_order)
    return out


def _parse_date_text(text: pd.Series, date_order: str) -> pd.Series:
    out = no_dates(text.index)
    time = r"(?:[T ].*)?$"
    iso = text.str.extract(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})" + time)
    found = iso[0].notna()
    out[found] = _ymd(iso.loc[found, 0], iso.loc[found, 1], iso.loc[found, 2])
    numeric = text.str.extract(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})" + time)
    found = numeric[0].notna() & out.isna()
    first, second = (1, 0) if date_order == "DMY" else (0, 1)
    out[found] = _ymd(numeric.loc[found, 2], numeric.loc[found, first], numeric.loc[found, second])
    # "5 Jan 2024", "05-Jan-2024", "Jan 5, 2024", "January 5 2024"
    day_first = text.str.extract(r"^(\d{1,2})[\s\-]+([A-Za-z]{3,9})\.?[\s\-,]+(\d{4})" + time)
    month_first = text.str.extract(r"^([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})" + time)
    for frame, day_col, month_col in ((day_first, 0, 1), (month_first, 1, 0)):
        found = frame[0].notna() & out.isna()
        if found.any():
            months = frame.loc[found, month_col].str.casefold().map(_MONTHS)
            out[found] = _ymd(frame.loc[found, 2], months, frame.loc[found, day_col])
    return out


_MONEY = (
    r"^(?P<sign>[-+]?)\s*(?:[A-Za-z]{3}\s*)?(?P<sign2>[-+]?)\s*[$€£¥₹]?\s*(?P<sign3>[-+]?)\s*"
    r"(?P<number>\d[\d.,'\s\u00a0\u202f]*|[.,]\d+)\s*[$€£¥₹]?\s*(?:[A-Z]{3})?$"
)


def to_money(values: pd.Series, decimal_separator: str = ".", kinds: pd.Series | None = None) -> pd.Series:
    """Numbers, or text like "$1,234.50", "USD 12", "(100.00)" or "100-"; unparseable -> NaN.

    `kinds` is the column's cell_kinds, when the caller already has it."""
    out = np.full(len(values), np.nan)
    kinds = cell_kinds(values) if kinds is None else kinds
    numbers = _is_number(kinds).to_numpy()
    if numbers.any():
        out[numbers] = values.to_numpy()[numbers].astype(float)
    text = kinds.eq(TEXT).to_numpy()
    if text.any():
        out[text] = _parse_money_text(values[text], decimal_separator).to_numpy(dtype=float)
    out[~np.isfinite(out)] = np.nan
    return pd.Series(out, index=values.index)


@per_unique
def _parse_money_text(text: pd.Series, decimal_separator: str) -> pd.Series:
    text = text.str.strip()
    accounting = text.str.fullmatch(r"\(.*\)").fillna(False).astype(bool)
    text = text.where(~accounting, text.str.slice(1, -1).str.strip())
    trailing = text.str.endswith("-").fillna(False).astype(bool) & text.str.len().gt(1)
    text = text.where(~trailing, text.str.slice(0, -1).str.strip())
    parts = text.str.extract(_MONEY)
    number = parts["number"].str.replace(r"[\s'\u00a0\u202f]", "", regex=True)
    thousands = "," if decimal_separator == "." else "."
    grouped = number.str.fullmatch(rf"\d{{1,3}}(?:\{thousands}\d{{3}})+(?:\{decimal_separator}\d*)?")
    plain = number.str.fullmatch(rf"\d*(?:\{decimal_separator}\d*)?") & number.str.contains(r"\d")
    valid = (grouped.fillna(False) | plain.fillna(False)).astype(bool)
    cleaned = number.str.replace(thousands, "", regex=False).str.replace(decimal_separator, ".", regex=False)
    amount = pd.to_numeric(cleaned.where(valid), errors="coerce")
    signs = parts["sign"].fillna("") + parts["sign2"].fillna("") + parts["sign3"].fillna("")
    negative = signs.str.count("-").gt(0) | accounting | trailing
    several_signs = signs.str.len().gt(1) | ((accounting | trailing) & signs.ne("")) | (accounting & trailing)
    amount = amount.where(~several_signs)
    return amount.where(~negative, -amount)


def round_cents(amount: pd.Series | np.ndarray) -> np.ndarray:
    """Round half up (away from zero) to cents; never -0.0."""
    values = np.asarray(amount, dtype=float)
    rounded = np.sign(values) * np.floor(np.abs(values) * 100 + 0.5 + 1e-7) / 100
    return rounded + 0.0


def valid_email(text: pd.Series) -> pd.Series:
    """Trimmed, NFKC-normalised, lowercased email when valid; NA otherwise (also when it starts like a formula).

    NFKC makes a fullwidth "ｊｏｅ＠ｅｘａｍｐｌｅ.com" the address "joe@example.com" (a duplicate of it)."""
    email = text.str.strip()
    wide = ~email.str.isascii().fillna(True).astype(bool)
    if wide.any():  # ASCII is NFKC already: only the rest is normalised
        email = email.mask(wide, email[wide].str.normalize("NFKC").str.strip())
    email = email.str.lower()
    well_formed = email.str.fullmatch(EMAIL_PATTERN).fillna(False).astype(bool)
    ok = well_formed & ~email.str.startswith(FORMULA_START).fillna(False).astype(bool)
    return email.where(ok, pd.NA)


EMAIL_MAX_CHARS = 254   # the longest address SMTP can carry (RFC 5321's 256-octet path less its angle brackets)
# Scripts one part of an address may mix (Unicode TS #39, "highly restrictive"): Latin with Han and Japanese,
# Chinese or Korean. Any other mix, Latin with a Cyrillic "о" say, is a homoglyph that looks like another address.
_SCRIPT_MIXES = (frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}), frozenset({"LATIN", "CJK", "BOPOMOFO"}),
                 frozenset({"LATIN", "CJK", "HANGUL"}))
_SCRIPT_ALIASES = {"IDEOGRAPHIC": "CJK"}   # 々 and 〆 are Han, by their names' first word they are not


def _script(letter: str) -> str:
    """A letter's script, by the first word of its Unicode name: LATIN, CYRILLIC, GREEK, CJK, HIRAGANA, ..."""
    word = unicodedata.name(letter, "UNKNOWN").split(" ", 1)[0].split("-", 1)[0]
    return _SCRIPT_ALIASES.get(word, word)


def _mixed_scripts(part: str) -> list[str]:
    """The scripts of `part`'s letters when they are a mix no single writing system uses, else []."""
    scripts = {_script(ch) for ch in part if unicodedata.category(ch).startswith("L")}
    if len(scripts) < 2 or any(scripts <= mix for mix in _SCRIPT_MIXES):
        return []
    return sorted(scripts)


def _email_problem(email: str) -> str:
    """Why one valid-looking address is unsafe to send ("" when it is fine)."""
    if len(email) > EMAIL_MAX_CHARS:
        return f"is {len(email):,} characters long, more than the {EMAIL_MAX_CHARS} an address can have"
    hidden = [ch for ch in email if unicodedata.category(ch).startswith("C")]
    if hidden:
        ch = hidden[0]
        return (f"contains an invisible or control character (U+{ord(ch):04X} "
                f"{unicodedata.name(ch, 'unnamed')})")
    local, _, domain = email.rpartition("@")
    for where, part in [("its local part", local)] + [(f"its domain label '{label}'", label)
                                                     for label in domain.split(".")]:
        scripts = _mixed_scripts(part)
        if scripts:
            return f"mixes {' and '.join(s.title() for s in scripts)} letters in {where} (a look-alike address)"
    return ""


def visible_text(text: str) -> str:
    """`text` with its invisible and control characters shown as <U+200B>, so a reason can name them."""
    return "".join(f"<U+{ord(ch):04X}>" if unicodedata.category(ch).startswith("C") else ch for ch in text)


def email_problems(email: pd.Series) -> pd.Series:
    """Why each valid email (valid_email's output) is unsafe to send to HubSpot, "" when it is fine: longer than an
    address can be, an invisible or control character (a zero-width space, a soft hyphen, a bidi control, NUL), or
    letters of two scripts in its local part or in one domain label (the Cyrillic "о" in "jоe@example.com").

    A domain wholly in one script ("пример.рф") is fine. Printable ASCII within the length has none of these
    problems: only the other addresses are looked at, each distinct one once."""
    problems = pd.Series("", index=email.index, dtype=object)
    present = email.notna()
    if not present.any():
        return problems
    plain = email[present]
    cells = plain.to_numpy(dtype=object)
    printable_ascii = (np.fromiter(map(str.isascii, cells), dtype=bool, count=len(cells))
                       & np.fromiter(map(str.isprintable, cells), dtype=bool, count=len(cells)))
    suspect = ~printable_ascii | plain.str.len().gt(EMAIL_MAX_CHARS).to_numpy()
    if suspect.any():
        addresses = plain[suspect]
        found = {address: _email_problem(address) for address in pd.unique(addresses)}
        problems[addresses.index] = addresses.map(found)
    return problems


# --- Locale evidence: what a file's own values say about its date order and decimal separator ---

_NUMERIC_DATE = r"^\s*(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:[T ].*)?$"


def _distinct_text(values: pd.Series) -> pd.Series:
    """The distinct text cells of a column, trimmed (numbers and real dates carry no locale)."""
    text = values[cell_kinds(values).eq(TEXT)]
    return pd.Series(pd.unique(text.str.strip()), dtype=object)


def date_order_votes(values: pd.Series) -> dict[str, str]:
    """{"DMY": an example, "MDY": an example} for the numeric dates that can only be read one way."""
    distinct = _distinct_text(values)
    parts = distinct.str.extract(_NUMERIC_DATE)
    parts = parts.dropna()
    if parts.empty:
        return {}
    first, second = parts[0].astype(int), parts[1].astype(int)
    texts = distinct[parts.index]
    votes = {}
    dmy = (first > 12) & (second <= 12)   # a value with both above 12 is no date at all: it decides nothing
    mdy = (second > 12) & (first <= 12)
    if dmy.any():
        votes["DMY"] = str(texts[dmy].iloc[0])
    if mdy.any():
        votes["MDY"] = str(texts[mdy].iloc[0])
    return votes


_LAST_NUMBER = r"(\d[\d.,'\u00a0\u202f ]*\d|\d)[^\d]*$"


def decimal_separator_votes(values: pd.Series) -> dict[str, str]:
    """{",": an example, ".": an example} for amounts that can only be read one way.

    "1.234,50" or a trailing ",5"/",50" means a decimal comma; "1,234.50" or ".50" a decimal point.
    "1.000" and "1,000" could be either, so they decide nothing.
    """
    texts = _distinct_text(values)
    numbers = texts.str.extract(_LAST_NUMBER)[0].str.replace(r"['\u00a0\u202f ]", "", regex=True)
    found = numbers.notna()
    texts, numbers = texts[found], numbers[found]
    both = numbers.str.contains(",") & numbers.str.contains(r"\.")
    comma_last = numbers.str.rfind(",") > numbers.str.rfind(".")
    comma = (both & comma_last) | (~both & numbers.str.contains(r",\d{1,2}$"))
    point = (both & ~comma_last) | (~both & numbers.str.contains(r"\.\d{1,2}$"))
    votes = {}
    if comma.any():
        votes[","] = str(texts[comma].iloc[0])
    if point.any():
        votes["."] = str(texts[point].iloc[0])
    return votes


def currency_codes_in_text(values: pd.Series, kinds: pd.Series | None = None) -> pd.Series:
    """The three-letter code written next to the number of an amount cell ("USD 12.00", "1.000 JPY"), else NA.

    Capitals only, and only beside a number: "abc" or "n/a" in an amount column are no currency.
    Only text cells can hold one, so only they are parsed (`kinds`: the column's cell_kinds, when known).
    """
    out = pd.Series(pd.NA, index=values.index, dtype=object)
    text = (cell_kinds(values) if kinds is None else kinds).eq(TEXT)
    if text.any():
        out[text] = _currency_codes(values[text])
    return out


@per_unique
def _currency_codes(text: pd.Series) -> pd.Series:
    parts = text.str.extract(r"^\s*\(?\s*(?:([A-Z]{3})\s*[-+(]?\s*[$€£¥₹]?\s*\d[\d.,'\s]*[-)]?"
                             r"|[-+(]?\s*[$€£¥₹]?\s*\d[\d.,'\s]*?\s*([A-Z]{3})\s*[-)]?)\s*$")
    return parts[0].fillna(parts[1])


def zero_decimal_amounts(values: pd.Series) -> pd.Series:
    """Amounts of zero-decimal currencies written with group separators only: "1.000" and "1,000" are 1000."""
    out = pd.Series(np.nan, index=values.index, dtype=float)
    text = cell_kinds(values).eq(TEXT)
    if text.any():
        number = values[text].str.extract(r"^[^\d-]*(\d{1,3}(?:[.,'\u00a0\u202f ]\d{3})+)[^\d]*$")[0]
        out[text] = pd.to_numeric(number.str.replace(r"[^\d]", "", regex=True), errors="coerce")
    return out


def last_amount(values: pd.Series) -> pd.Series:
    """The last of several amounts in a cell: WooCommerce writes a refunded order as "$250.00 $200.00"."""
    text = cell_kinds(values).eq(TEXT)
    if not text.any():
        return values
    out = values.copy()
    several = values[text].str.extract(r"^\s*\S*\d\S*\s+(\S*\d\S*)\s*$")[0]
    has = several.notna() & values[text].str.count(r"[$€£¥₹]").ge(2)
    out[several[has].index] = several[has]
    return out
