"""Find each file's header row and profile, from its first rows only.

`check_headers` runs on both files right after the safety gate and before either is parsed in
full, so one error can list every file's header problems at once. It needs only the first
`inputs.header_search_rows` rows of each sheet: `memberseg.header_check` reads those without parsing
the rest. `memberseg.read` uses the same matching on the full parse.

No pandas or numpy here: a file with the wrong headers is refused before they load.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError
from .rules import STANDARD_PROFILE, Limits, Profile, RoleSpec, Rules, normalize_header

CSV_SAMPLE_BYTES = 64 * 1024
UTF8_BOM = codecs.BOM_UTF8
CONTROL_BYTES = tuple(bytes([code]) for code in range(32) if code not in (9, 10, 13))  # C0 but tab, LF, CR
_CONTROL_NAMES = {0: "NUL", 11: "vertical tab", 12: "form feed", 27: "escape"}


@dataclass(frozen=True)
class DecodedText:
    """A CSV file's text and the one encoding that decoded all of it."""

    text: str
    encoding: str             # "utf-8" or "cp1252"
    bom: int = 0              # bytes of the UTF-8 byte order mark before the text

    def byte_offset(self, chars: int) -> int:
        """The file's byte offset of the text's character `chars`."""
        return self.bom + len(self.text[:chars].encode(self.encoding))


def _has_utf8_sequence(body: bytes) -> bool:
    """True when the bytes hold at least one valid multi-byte UTF-8 sequence."""
    text = body.decode("utf-8", "surrogateescape")   # invalid bytes become lone surrogates, dropped below
    return len(text.encode("utf-8", "ignore")) != len(text.encode("ascii", "ignore"))


def row_of(text: str) -> int:
    """The row (as a spreadsheet shows it) of the character just after `text`, the file's start."""
    try:
        return sum(1 for _ in csv.reader(io.StringIO(text + "x", newline="")))
    except csv.Error:  # a field past the csv module's size limit: count the lines instead
        return len(_LINE_BREAK.findall(text)) + 1


def _encoding_error(body: bytes, at: int, bom: int, role: str, file: str, prefix: str, mixed: bool) -> InputError:
    byte, offset, row = body[at], bom + at, row_of(prefix)
    if mixed:
        code, what = "mixed_encoding", (
            f"mixes two text encodings: it is UTF-8, but byte {offset:,} (0x{byte:02X}, in row {row}) is not "
            "(it is probably Windows-1252). Read either way, names with accents would come out garbled.")
    else:
        code, what = "unknown_encoding", (
            f"is neither UTF-8 nor Windows-1252 text: byte {offset:,} (0x{byte:02X}, in row {row}) is no "
            "character in either.")
    return InputError(code, f"The {role} file '{file}' {what} Re-save the file as UTF-8 (in Excel: Save As > "
                      "'CSV UTF-8') and upload it again.", file=file, row=row,
                      details={"byte_offset": offset, "byte": f"0x{byte:02X}"})


def decode_text(raw: bytes, role: str, file: str, *, final: bool = True) -> DecodedText:
    """UTF-8 (with or without BOM); else Windows-1252 when no byte sequence in it is UTF-8.

    One file, one encoding: a file with both valid UTF-8 sequences and bytes that are not UTF-8 is
    refused, as is a byte that is no Windows-1252 character; the error names the row and the byte.
    `final=False` decodes the start of a file, which may end inside a character."""
    bom = len(UTF8_BOM) if raw.startswith(UTF8_BOM) else 0
    body = raw[bom:]
    try:
        return DecodedText(codecs.getincrementaldecoder("utf-8")().decode(body, final=final), "utf-8", bom)
    except UnicodeDecodeError as exc:
        if _has_utf8_sequence(body):
            raise _encoding_error(body, exc.start, bom, role, file, body[:exc.start].decode("utf-8"),
                                  mixed=True) from None
    try:
        return DecodedText(body.decode("cp1252"), "cp1252", bom)
    except UnicodeDecodeError as exc:
        raise _encoding_error(body, exc.start, bom, role, file, body[:exc.start].decode("cp1252"),
                              mixed=False) from None


_LINE_BREAK = re.compile(r"\r\n|\r|\n")   # the record separators of pandas and the csv module


def sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        first_lines = _LINE_BREAK.split(sample, maxsplit=20)[:20]
        counts = {d: sum(line.count(d) for line in first_lines) for d in ",;\t"}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


@dataclass
class CsvHead:
    """The first records of a CSV file, split as pandas splits them."""

    delimiter: str
    rows: list[list[str]]
    starts: list[int]         # the text offset where each row starts


def csv_head(text: str, rows: int, *, complete: bool = True) -> CsvHead:
    """The delimiter and the first `rows` records of the text's first CSV_SAMPLE_BYTES characters.

    Records end at \\r\\n, \\r or \\n outside quoted fields, as in pandas: never at a form feed,
    U+2028 or another character that `str.splitlines` breaks at. `complete=False`: `text` is the
    start of the file only."""
    sample = text[:CSV_SAMPLE_BYTES]
    truncated = not complete or len(sample) < len(text)
    delimiter = sniff_delimiter(sample)
    consumed = 0

    def lines() -> Iterator[str]:
        nonlocal consumed
        for line in io.StringIO(sample, newline=""):
            consumed += len(line)
            yield line

    wanted = max(rows, 1)
    records: list[list[str]] = []
    starts: list[int] = []
    start = 0
    for record in csv.reader(lines(), delimiter=delimiter):  # pulls only the lines of the records it returns
        records.append(record)
        starts.append(start)
        start = consumed
        if len(records) > wanted:
            break
    if truncated and len(records) <= wanted and records:   # the last record may go on past the sample
        records.pop()
        starts.pop()
    return CsvHead(delimiter, records[:wanted], starts[:wanted])


def control_character_error(raw: bytes, decoded: DecodedText, start: int, role: str, file: str) -> InputError | None:
    """The refusal for the first C0 control character (NUL, form feed, ...; not tab, CR or LF) at or
    after the file's byte `start`, or None: such a character is invisible in a spreadsheet and would
    reach the CRM as it is. The file's text is searched in 1 MB blocks, one `bytes.find` per character."""
    block_bytes = 1024 * 1024
    for block_start in range(start, len(raw), block_bytes):
        block = raw[block_start:block_start + block_bytes]
        found = [at for at in (block.find(code) for code in CONTROL_BYTES) if at >= 0]
        if found:
            offset = block_start + min(found)
            break
    else:
        return None
    code = raw[offset]
    prefix = raw[decoded.bom:offset].decode(decoded.encoding)
    row = row_of(prefix)
    name = _CONTROL_NAMES.get(code, "control character")
    return InputError("control_character", f"The {role} file '{file}' has an invisible control character "
                      f"(0x{code:02X}, {name}) in row {row}, at byte {offset:,}. It would reach the CRM as it is. "
                      "Remove it (a text editor's search and replace, or export the file again) and upload it "
                      "again.", file=file, row=row, details={"byte_offset": offset, "byte": f"0x{code:02X}"})


def describe_file(role: str, file: str, sheet: str | None) -> str:
    return f"The {role} file '{file}'" + (f" (sheet '{sheet}')" if sheet else "")


def match_header_row(cells: list[object], spec: RoleSpec) -> dict[str, int]:
    """Map fields to column positions for one candidate header row.

    Aliases are a priority list: the first alias present in the row wins (its leftmost column).
    """
    first_position: dict[str, int] = {}
    for position, cell in enumerate(cells):
        text = normalize_header(cell) if cell not in (None, "") else ""
        if text and text not in first_position:
            first_position[text] = position
    found: dict[str, int] = {}
    for name, field_spec in spec.fields.items():
        for alias in field_spec.aliases:
            at = first_position.get(normalize_header(alias))
            if at is not None:
                found[name] = at
                break
    return found


def _signature_found(cells: list[object], spec: RoleSpec) -> list[str]:
    present = {normalize_header(cell) for cell in cells if cell not in (None, "")}
    return [header for header in spec.signature if normalize_header(header) in present]


def required_fields(spec: RoleSpec) -> list[str]:
    return [name for name, field_spec in spec.fields.items() if field_spec.required]


@dataclass
class HeaderCandidate:
    sheet: str | None
    row_index: int
    cells: list[object]
    found: dict[str, int]
    profile: Profile | None = None
    spec: RoleSpec | None = None
    signature: list[str] = field(default_factory=list)

    def lacks(self) -> list[str]:
        """Required fields and signature headers this row does not have."""
        assert self.spec is not None  # noqa: S101 - always set by find_header
        missing = [name for name in required_fields(self.spec) if name not in self.found]
        return missing + [header for header in self.spec.signature if header not in self.signature]

    def score(self) -> float:
        assert self.spec is not None  # noqa: S101
        wanted = len(required_fields(self.spec)) + len(self.spec.signature)
        return (wanted - len(self.lacks())) / max(wanted, 1)


Choice = tuple[Profile, RoleSpec]


def candidate_profiles(rules: Rules, role: str, forced: str | None = None) -> list[Choice]:
    """The profiles that may read a file of this role: the forced one, or every one describing the role."""
    name = forced or getattr(rules.inputs, role).profile
    if name != "auto":
        if name not in rules.catalog:
            raise InputError("unknown_profile", f"There is no profile named '{name}'. Known profiles: "
                             f"{', '.join(rules.catalog)} (see `memberseg profiles`).")
        profile = rules.catalog[name]
        return [(profile, rules.spec_for(profile, role))]
    return [(profile, rules.spec_for(profile, role)) for profile in rules.profiles_for(role)]


def _fits_at(cells: list[object], choices: list[Choice], sheet: str | None, index: int) -> list[HeaderCandidate]:
    candidates = []
    for profile, spec in choices:
        candidates.append(HeaderCandidate(sheet, index, cells, match_header_row(cells, spec), profile, spec,
                                     _signature_found(cells, spec)))
    return candidates


@dataclass
class HeaderSearch:
    """What the header search found: the header, or why there is none."""

    header: HeaderCandidate | None = None
    best: dict[str, HeaderCandidate] = field(default_factory=dict)  # each profile's best row on a visible sheet
    hidden: HeaderCandidate | None = None   # the first header on a hidden sheet: never the data unless named


def find_header(sheets: Iterable[tuple[str | None, list[list[Any]]]], choices: list[Choice], search_rows: int,
                hidden: Collection[str] = ()) -> HeaderSearch:
    """The header row of the best-fitting profile, or each profile's best partial row.

    A profile fits a row when the row holds its required fields and its whole signature; the first
    row where any profile fits is the header, and the profile with the most signature headers wins
    there. A sheet in `hidden` is never the data: its header is only noted, for the error. `sheets`
    is consumed lazily, so later sheets are not read once a header is found.
    """
    search = HeaderSearch()
    for sheet, rows in sheets:
        header = _header_of(sheet, rows[:search_rows], choices, None if sheet in hidden else search.best)
        del rows  # before the next sheet is read
        if header is None:
            continue
        if sheet not in hidden:
            search.header = header
            return search
        search.hidden = search.hidden or header
    return search


def _header_of(sheet: str | None, rows: list[list[Any]], choices: list[Choice],
               best: dict[str, HeaderCandidate] | None) -> HeaderCandidate | None:
    """The sheet's header row, or None; updates `best` (when given) with each profile's best partial row."""
    for index, cells in enumerate(rows):
        candidates = _fits_at(cells, choices, sheet, index)
        fitting = [candidate for candidate in candidates if not candidate.lacks()]
        if fitting:
            # The most signature headers wins; among equals, the standard layout, then the most fields.
            return max(fitting, key=lambda c: (len(c.signature), c.profile is not None and
                                               c.profile.name == STANDARD_PROFILE, len(c.found)))
        if best is None or not any(cell not in (None, "") for cell in cells):
            continue
        for candidate in candidates:
            assert candidate.profile is not None  # noqa: S101
            previous = best.get(candidate.profile.name)
            if previous is None or candidate.score() > previous.score():
                best[candidate.profile.name] = candidate
    return None


class SheetBudget:
    """The header search's budget across a workbook's sheets: `limits.max_sheets` sheets searched, in the
    workbook's order, within `limits.max_header_search_seconds`. Past either, the file is refused and
    the user is told to name the sheet (`inputs.<role>.sheet`), which skips the search."""

    def __init__(self, limits: Limits, role: str, file: str) -> None:
        self.limits, self.role, self.file = limits, role, file

    def sheets(self, names: list[str], read: Callable[[str], list[list[Any]]],
               start: int = 0) -> Iterator[tuple[str, list[list[Any]]]]:
        """(name, rows) of the sheets from `names[start]` on, each read only when the search asks for it."""
        began = time.monotonic()
        for position in range(start, len(names)):
            if position >= self.limits.max_sheets:
                raise self._too_many(len(names))
            elapsed = time.monotonic() - began
            if position > start and elapsed > self.limits.max_header_search_seconds:
                raise self._too_slow(names[position - 1], position, len(names))
            yield names[position], read(names[position])

    def _advice(self) -> str:
        return (f"Name the sheet that holds the data in inputs.{self.role}.sheet (a rules file) and run it again; "
                "then no other sheet is searched.")

    def _too_many(self, sheets: int) -> InputError:
        limit = self.limits.max_sheets
        return InputError("too_many_sheets", f"The {self.role} file '{self.file}' has {sheets:,} sheets, and none of "
                          f"the first {limit:,} (limits.max_sheets) has the required columns. {self._advice()}",
                          file=self.file, details={"sheets": sheets, "limit": "limits.max_sheets",
                                                  "max_sheets": limit})

    def _too_slow(self, last: str, searched: int, sheets: int) -> InputError:
        seconds = self.limits.max_header_search_seconds
        return InputError("header_search_too_slow", f"The {self.role} file '{self.file}' took more than {seconds:g} "
                          f"seconds (limits.max_header_search_seconds) to search for the header row: {searched:,} "
                          f"of its {sheets:,} sheets were searched, up to sheet '{last}', and none has the required "
                          f"columns. {self._advice()}", file=self.file, sheet=last,
                          details={"sheets_searched": searched, "limit": "limits.max_header_search_seconds",
                                   "max_header_search_seconds": seconds})


def _words(text: str) -> set[str]:
    """Word stems (first 4 letters) of a header: 'Expiry Dt' and 'Expiration Date' share 'expi'."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(text))
    return {word[:4] for word in re.split(r"[^0-9a-z]+", spaced.casefold()) if word}


def closest_header(field_name: str, aliases: list[str], headers: list[str], taken: set[str]) -> str | None:
    """The found header most like the field's aliases, among those no other field took and that share a word."""
    stems = set().union(*(_words(alias) for alias in aliases), _words(field_name))
    free = [header for header in headers if header not in taken and _words(header) & stems]
    by_normal = {normalize_header(header): header for header in free}
    if not by_normal:
        return None
    for alias in aliases:
        close = difflib.get_close_matches(normalize_header(alias), list(by_normal), n=1, cutoff=0.6)
        if close:
            return by_normal[close[0]]
    close = difflib.get_close_matches(normalize_header(aliases[0]), list(by_normal), n=1, cutoff=0.0)
    return by_normal[close[0]] if close else None


def alias_key(role: str, profile: Profile, field_name: str) -> str:
    """The rules key that would add an alias for this field of this profile."""
    if profile.name == STANDARD_PROFILE or not (getattr(profile, role) and getattr(profile, role).fields):
        return f"inputs.{role}.fields.{field_name}.aliases"
    return f"profiles.{profile.name}.{role}.fields.{field_name}.aliases"


def _hidden_hint(role: str, hidden: HeaderCandidate | None) -> str:
    if hidden is None:
        return ""
    return (f" The hidden sheet '{hidden.sheet}' has the columns (header in row {hidden.row_index + 1}); a hidden "
            f"sheet is read only when named: set inputs.{role}.sheet to '{hidden.sheet}' in a rules file.")


def missing_column_error(role: str, file: str, search: HeaderSearch) -> InputError:
    best, hint = search.best, _hidden_hint(role, search.hidden)
    if not best:
        if hint:
            return InputError("missing_column", f"The {role} file '{file}' has no visible sheet with data.{hint}",
                              file=file, details=_hidden_detail(search))
        return InputError("empty_file", f"The {role} file '{file}' has no data: every sheet is empty.", file=file)
    ranked = sorted(best.values(), key=lambda c: -c.score())
    closest = ranked[0]
    main = best.get(STANDARD_PROFILE, closest)
    assert main.spec is not None and main.profile is not None  # noqa: S101
    headers = [str(cell).strip() for cell in main.cells if cell not in (None, "") and str(cell).strip()]
    missing = [name for name in required_fields(main.spec) if name not in main.found]
    if not missing:  # the standard fields are there but the profile's signature is not (a forced profile)
        missing = [header for header in main.lacks()]
        message = (f"{describe_file(role, file, main.sheet)} does not look like a {main.profile.title} export: "
                   f"it lacks the header(s) {', '.join(missing)}. Headers found in row {main.row_index + 1}: "
                   f"{', '.join(headers) if headers else '(none)'}.{hint}")
        return InputError("missing_column", message, file=file, sheet=main.sheet, row=main.row_index + 1,
                          details={"missing": missing, "found": headers, "profile": main.profile.name,
                                   **_hidden_detail(search)})
    field_name = missing[0]
    aliases = main.spec.fields[field_name].aliases
    taken = {headers_at(main.cells, position) for position in main.found.values()}
    close = closest_header(field_name, aliases, headers, taken)
    closest_text = f" The closest header is '{close}'." if close else ""
    also = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
    message = (
        f"{describe_file(role, file, main.sheet)} has no {field_name} column{also}. "
        f"Accepted headers: {', '.join(aliases)}. Headers found in row {main.row_index + 1}: "
        f"{', '.join(headers) if headers else '(none)'}.{closest_text}"
        f" To accept another header, add it to {alias_key(role, main.profile, field_name)} in a rules file."
    )
    details: dict = {"missing": missing, "found": headers, "profile": main.profile.name, **_hidden_detail(search)}
    if closest is not main and closest.profile is not None:
        lacks = closest.lacks()
        message += (f" The closest profile is '{closest.profile.name}' ({closest.profile.title}), "
                    f"which lacks: {', '.join(lacks)}.")
        details["closest_profile"] = {"name": closest.profile.name, "lacks": lacks}
    return InputError("missing_column", message + hint, file=file, sheet=main.sheet, row=main.row_index + 1,
                      column=field_name, details=details)


def _hidden_detail(search: HeaderSearch) -> dict[str, str]:
    return {"hidden_sheet": search.hidden.sheet} if search.hidden is not None and search.hidden.sheet else {}


def headers_at(cells: list[object], position: int) -> str:
    cell = cells[position] if position < len(cells) else ""
    return str(cell).strip() if cell not in (None, "") else ""


def how_chosen(profile: dict, by: str) -> str:
    """How report.json's inputs.<role>.profile was chosen, in words: forced, inferred (with what decided
    it), or the headers that recognised it."""
    if profile["chosen_by"] == "forced":
        return "forced"
    if profile["chosen_by"] == "inferred":
        fields = [item["value"] for item in profile.get("evidence", []) if str(item["key"]).startswith("fields.")]
        return "inferred from the file: " + ", ".join(str(value) for value in fields)
    return by + ", ".join(profile["deciding_headers"])


def both_files_error(first: InputError, second: InputError) -> InputError:
    """One error that lists the problems of both input files."""
    return InputError(first.code, f"{first.message} Also: {second.message}", file=first.file, sheet=first.sheet,
                      row=first.row, column=first.column,
                      details={**first.details, "problems": [first.to_dict()["error"], second.to_dict()["error"]]})
