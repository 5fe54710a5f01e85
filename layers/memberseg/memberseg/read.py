"""Stage 1: read a file (already passed by the safety gate) into a raw table.

Finds the sheet and header row, recognises the export's profile from its
headers, maps headers to fields through the profile's aliases and returns the
data rows untouched: values stay as the file holds them, so the Members sheet
can show them as-is. Row numbers are the ones Excel shows.
"""

from __future__ import annotations

import csv
import difflib
import io
import operator
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError
from .rules import STANDARD_PROFILE, Limits, Profile, RoleSpec, Rules, normalize_header

CSV_SAMPLE_BYTES = 64 * 1024


@dataclass
class RawTable:
    """The data rows of one input, with everything needed to point back at the file."""

    role: str                 # "memberships" or "orders"
    file: str                 # file name as uploaded
    sheet: str | None         # None for CSV
    header_row: int           # as Excel shows it (1-based)
    headers: list[str]        # header text of every kept column, in file order
    fields: dict[str, int]    # field name -> position in `headers`
    frame: pd.DataFrame       # object columns 0..len(headers)-1, raw values
    rows: np.ndarray          # Excel row number of each frame row
    profile: Profile | None = None
    spec: RoleSpec | None = None
    deciding_headers: list[str] = field(default_factory=list)  # the headers that chose the profile
    profile_forced: bool = False
    locale: dict = field(default_factory=dict)  # date_order / decimal_separator and their evidence

    def describe_profile(self) -> dict:
        name = self.profile.name if self.profile else STANDARD_PROFILE
        return {"name": name, "title": self.profile.title if self.profile else "",
                "chosen_by": "forced" if self.profile_forced else "headers",
                "deciding_headers": list(self.deciding_headers)}

    @property
    def rows_in(self) -> int:
        return len(self.rows)

    def column(self, field: str) -> pd.Series | None:
        position = self.fields.get(field)
        return None if position is None else self.frame[position]


def _where(role: str, file: str, sheet: str | None) -> str:
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


def _required(spec: RoleSpec) -> list[str]:
    return [name for name, field_spec in spec.fields.items() if field_spec.required]


@dataclass
class _Candidate:
    sheet: str | None
    row_index: int
    cells: list[object]
    found: dict[str, int]
    profile: Profile | None = None
    spec: RoleSpec | None = None
    signature: list[str] = field(default_factory=list)

    def lacks(self) -> list[str]:
        """Required fields and signature headers this row does not have."""
        assert self.spec is not None  # noqa: S101 - always set by _find_header
        missing = [name for name in _required(self.spec) if name not in self.found]
        return missing + [header for header in self.spec.signature if header not in self.signature]

    def score(self) -> float:
        assert self.spec is not None  # noqa: S101
        wanted = len(_required(self.spec)) + len(self.spec.signature)
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


def _fits_at(cells: list[object], choices: list[Choice], sheet: str | None, index: int) -> list[_Candidate]:
    candidates = []
    for profile, spec in choices:
        candidates.append(_Candidate(sheet, index, cells, match_header_row(cells, spec), profile, spec,
                                     _signature_found(cells, spec)))
    return candidates


def _find_header(sheets: Iterable[tuple[str | None, list[list[Any]]]], choices: list[Choice],
                 search_rows: int) -> tuple[_Candidate | None, dict[str, _Candidate]]:
    """Return (the header row of the best-fitting profile, or None; each profile's best partial row).

    A profile fits a row when the row holds its required fields and its whole signature; the first
    row where any profile fits is the header, and the profile with the most signature headers wins
    there. `sheets` is consumed lazily, so later sheets are not parsed once a header is found.
    """
    best: dict[str, _Candidate] = {}
    for sheet, rows in sheets:
        for index, cells in enumerate(rows[:search_rows]):
            candidates = _fits_at(cells, choices, sheet, index)
            fitting = [candidate for candidate in candidates if not candidate.lacks()]
            if fitting:
                # The most signature headers wins; among equals, the standard layout, then the most fields.
                return max(fitting, key=lambda c: (len(c.signature), c.profile is not None and
                                                   c.profile.name == STANDARD_PROFILE, len(c.found))), best
            if not any(cell not in (None, "") for cell in cells):
                continue
            for candidate in candidates:
                assert candidate.profile is not None  # noqa: S101
                previous = best.get(candidate.profile.name)
                if previous is None or candidate.score() > previous.score():
                    best[candidate.profile.name] = candidate
    return None, best


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


def _missing_column_error(role: str, file: str, best: dict[str, _Candidate]) -> InputError:
    if not best:
        return InputError("empty_file", f"The {role} file '{file}' has no data: every sheet is empty.", file=file)
    ranked = sorted(best.values(), key=lambda c: -c.score())
    closest = ranked[0]
    main = best.get(STANDARD_PROFILE, closest)
    assert main.spec is not None and main.profile is not None  # noqa: S101
    headers = [str(cell).strip() for cell in main.cells if cell not in (None, "") and str(cell).strip()]
    missing = [name for name in _required(main.spec) if name not in main.found]
    if not missing:  # the standard fields are there but the profile's signature is not (a forced profile)
        missing = [header for header in main.lacks()]
        message = (f"{_where(role, file, main.sheet)} does not look like a {main.profile.title} export: "
                   f"it lacks the header(s) {', '.join(missing)}. Headers found in row {main.row_index + 1}: "
                   f"{', '.join(headers) if headers else '(none)'}.")
        return InputError("missing_column", message, file=file, sheet=main.sheet, row=main.row_index + 1,
                          details={"missing": missing, "found": headers, "profile": main.profile.name})
    field_name = missing[0]
    aliases = main.spec.fields[field_name].aliases
    taken = {headers_at(main.cells, position) for position in main.found.values()}
    close = closest_header(field_name, aliases, headers, taken)
    closest_text = f" The closest header is '{close}'." if close else ""
    also = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
    message = (
        f"{_where(role, file, main.sheet)} has no {field_name} column{also}. "
        f"Accepted headers: {', '.join(aliases)}. Headers found in row {main.row_index + 1}: "
        f"{', '.join(headers) if headers else '(none)'}.{closest_text}"
        f" To accept another header, add it to {alias_key(role, main.profile, field_name)} in a rules file."
    )
    details: dict = {"missing": missing, "found": headers, "profile": main.profile.name}
    if closest is not main and closest.profile is not None:
        lacks = closest.lacks()
        message += (f" The closest profile is '{closest.profile.name}' ({closest.profile.title}), "
                    f"which lacks: {', '.join(lacks)}.")
        details["closest_profile"] = {"name": closest.profile.name, "lacks": lacks}
    return InputError("missing_column", message, file=file, sheet=main.sheet, row=main.row_index + 1,
                      column=field_name, details=details)


def headers_at(cells: list[object], position: int) -> str:
    cell = cells[position] if position < len(cells) else ""
    return str(cell).strip() if cell not in (None, "") else ""


class _Columns:
    """The raw cells of the data rows, one column at a time, padded to `width` with blanks.

    A column is only taken out of the rows when asked for: an orders file keeps a few of its columns.
    """

    def __init__(self, data: list[list[object]] | pd.DataFrame, width: int):
        self.data, self.length = data, len(data)
        self.present = len(data.columns) if isinstance(data, pd.DataFrame) else len(data[0]) if data else 0
        self.width = max(width, self.present)
        self._taken: dict[int, np.ndarray] = {}

    def __getitem__(self, position: int) -> np.ndarray:
        if position not in self._taken:
            self._taken[position] = self._cells(position, None)
        return self._taken[position]

    def at(self, position: int, rows: np.ndarray) -> np.ndarray:
        """The column's cells in the given rows only."""
        if position in self._taken:
            return self._taken[position][rows]
        return self._cells(position, rows)

    def _cells(self, position: int, rows: np.ndarray | None) -> np.ndarray:
        count = self.length if rows is None else len(rows)
        if position >= self.present:
            return np.full(count, "", dtype=object)
        if isinstance(self.data, pd.DataFrame):
            cells = self.data.iloc[:, position].to_numpy(dtype=object)
            return cells if rows is None else cells[rows]
        # calamine rows are all the sheet's width; one C-level pass per column, no row-by-column grid
        source = self.data if rows is None else map(self.data.__getitem__, rows)
        return np.fromiter(map(operator.itemgetter(position), source), dtype=object, count=count)

    def blank_rows(self, first: list[int]) -> np.ndarray:
        """Rows with no cell in any column; the columns in `first` are checked first, later ones only
        on the rows still blank."""
        blank = np.ones(self.length, dtype=bool)
        for position in first + sorted(set(range(self.width)) - set(first)):
            candidates = np.flatnonzero(blank)
            if not len(candidates):
                break
            blank[candidates] = _is_empty(self.at(position, candidates))
        return blank


def _is_empty(cells: np.ndarray) -> np.ndarray:
    return pd.isna(cells) | (cells == "")


def _build(role: str, file: str, sheet: str | None, header: _Candidate, data: list[list[object]] | pd.DataFrame,
           first_data_row: int, keep_only_fields: bool, limits: Limits) -> RawTable:
    columns = _Columns(data, len(header.cells))
    width = columns.width
    headers = [str(cell).strip() if cell not in (None, "") else "" for cell in header.cells]
    headers += [""] * (width - len(headers))
    fields = dict(header.found)
    if keep_only_fields:
        keep = sorted(set(fields.values()))
    else:  # a column with neither header nor data is an artefact of the sheet's used range
        keep = [p for p in range(width) if headers[p] or not _is_empty(columns[p]).all()]
    # A fully blank row inside the data is skipped and not counted.
    blank = columns.blank_rows(keep) if width else np.zeros(0, dtype=bool)
    rows = np.arange(first_data_row, first_data_row + len(blank))[~blank]
    if len(rows) > limits.max_rows:
        raise InputError("too_many_rows", f"{_where(role, file, sheet)} has {len(rows):,} data rows; "
                         f"the limit is {limits.max_rows:,}.", file=file, sheet=sheet)
    some_blank = bool(blank.any())
    frame = pd.DataFrame({new: columns[old][~blank] if some_blank else columns[old] for new, old in enumerate(keep)},
                         dtype=object)
    del columns, data
    position_of = {old: new for new, old in enumerate(keep)}
    kept_headers = [headers[p] or f"Column {_column_letter(p)}" for p in keep]
    assert header.spec is not None  # noqa: S101 - set by _find_header
    deciding = header.signature or [headers_at(header.cells, header.found[name]) for name in _required(header.spec)]
    return RawTable(role=role, file=file, sheet=sheet, header_row=header.row_index + 1,
                    headers=kept_headers, fields={f: position_of[p] for f, p in fields.items()},
                    frame=frame, rows=rows, profile=header.profile, spec=header.spec,
                    deciding_headers=deciding)


def _column_letter(position: int) -> str:
    letters = ""
    position += 1
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def read_excel(path: Path, *, role: str, choices: list[Choice], sheet: str | None, limits: Limits,
               search_rows: int, keep_only_fields: bool = False) -> RawTable:
    import python_calamine  # imported late: only needed for spreadsheets

    file = path.name
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        names = workbook.sheet_names
        if sheet is not None:
            if sheet not in names:
                raise InputError("sheet_not_found", f"The {role} file '{file}' has no sheet named "
                                 f"'{sheet}'. Its sheets are: {', '.join(names)}.", file=file)
            names = [sheet]
        # calamine parses a whole sheet on first access: keep it, and parse later sheets only if needed.
        parsed: dict[str | None, list[list[Any]]] = {}

        def sheets() -> Iterator[tuple[str | None, list[list[Any]]]]:
            for name in names:
                parsed[name] = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
                yield name, parsed[name]

        header, best = _find_header(sheets(), choices, search_rows)
        if header is None:
            raise _missing_column_error(role, file, best)
        rows = parsed.pop(header.sheet)
        parsed.clear()
    except InputError:
        raise
    except Exception as exc:  # calamine raises plain errors for corrupt or protected files
        raise InputError("unreadable_file", f"The {role} file '{file}' could not be read as a spreadsheet "
                         f"({_short(exc)}). Open it in Excel, save it again as .xlsx and re-upload.",
                         file=file) from exc
    data = rows[header.row_index + 1:]
    del rows
    return _build(role, file, header.sheet, header, data, header.row_index + 2, keep_only_fields, limits)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def decode_text(raw: bytes) -> str:
    """UTF-8 (with or without BOM), falling back to cp1252."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        first_lines = sample.splitlines()[:20]
        counts = {d: sum(line.count(d) for line in first_lines) for d in ",;\t"}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def read_csv(path: Path, *, role: str, choices: list[Choice], sheet: str | None, limits: Limits,
             search_rows: int, keep_only_fields: bool = False) -> RawTable:
    file = path.name
    text = decode_text(path.read_bytes())
    delimiter = sniff_delimiter(text[:CSV_SAMPLE_BYTES])
    head_lines = text[:CSV_SAMPLE_BYTES].splitlines()[: max(search_rows, 1)]
    preview = list(csv.reader(head_lines, delimiter=delimiter))
    header, best = _find_header([(None, preview)], choices, search_rows)
    if header is None:
        raise _missing_column_error(role, file, best)
    width = max((len(row) for row in preview), default=0)
    if width > limits.max_columns:
        raise InputError("too_many_columns", f"The {role} file '{file}' has {width} columns; the limit is "
                         f"{limits.max_columns}.", file=file)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, header=None, names=range(width), dtype=object,
                            keep_default_na=False, skip_blank_lines=False, skiprows=header.row_index + 1,
                            engine="c")
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError("unreadable_file", f"The {role} file '{file}' is not a well-formed CSV file "
                         f"({_short(exc)}).", file=file) from exc
    del text
    return _build(role, file, None, header, frame, header.row_index + 2, keep_only_fields, limits)


def read_table(path: Path, kind: str, *, role: str, rules: Rules, forced_profile: str | None = None,
               keep_only_fields: bool = False) -> RawTable:
    """Read one input file with the profile that fits it best (or the forced one)."""
    choices = candidate_profiles(rules, role, forced_profile)
    reader = read_csv if kind == "csv" else read_excel
    table = reader(path, role=role, choices=choices, sheet=getattr(rules.inputs, role).sheet, limits=rules.limits,
                   search_rows=rules.inputs.header_search_rows, keep_only_fields=keep_only_fields)
    table.profile_forced = len(choices) == 1 and (forced_profile or getattr(rules.inputs, role).profile) != "auto"
    return table


HEADER_PROBLEMS = ("missing_column", "empty_file", "sheet_not_found", "unknown_profile")


def both_files_error(first: InputError, second: InputError) -> InputError:
    """One error that lists the problems of both input files."""
    return InputError(first.code, f"{first.message} Also: {second.message}", file=first.file, sheet=first.sheet,
                      row=first.row, column=first.column,
                      details={**first.details, "problems": [first.to_dict()["error"], second.to_dict()["error"]]})
