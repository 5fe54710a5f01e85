"""Read a file (already passed by the safety gate) into a raw table.

Finds the sheet and header row, recognises the export's profile from its
headers, maps headers to fields through the profile's aliases and returns the
data rows untouched: values stay as the file holds them, so the Members sheet
can show them as-is. Row numbers are the ones Excel shows.
"""

from __future__ import annotations

import io
import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError
from .header_check import SheetParse, SheetPreviews
from .headers import (
    Choice,
    HeaderCandidate,
    SheetBudget,
    candidate_profiles,
    control_character_error,
    csv_head,
    decode_text,
    describe_file,
    fallback_columns,
    find_header,
    headers_at,
    missing_column_error,
    required_fields,
)
from .rules import STANDARD_PROFILE, Limits, Profile, RoleSpec, Rules
from .safety.scanner import col_letters
from .unread_columns import check_columns
from .values import is_blank


@dataclass(frozen=True)
class SourceFacts:
    """Where an input's rows came from and how it was read: what report.json and the workbook say about the
    file once its rows are no longer needed (small enough to pass between processes)."""

    role: str                 # "memberships" or "orders"
    file: str                 # file name as uploaded
    sheet: str | None         # None for CSV
    header_row: int           # as Excel shows it (1-based)
    rows_in: int              # data rows read (fully blank rows are not counted)
    profile: str              # the profile that read it
    profile_title: str        # "" for the standard layout
    profile_plain_name: str | None    # the export in a user's words; None for the user's own layout
    profile_chosen_by: str    # "forced", "headers" or "inferred"
    deciding_headers: tuple[str, ...]  # the headers that chose the profile
    locale: dict = field(default_factory=dict)  # date_order / decimal_separator and their evidence
    evidence: tuple[dict, ...] = ()   # an inferred profile's decisions, each with its evidence

    def describe(self) -> dict:
        """The file's entry under report.json's "inputs"."""
        profile: dict[str, Any] = {"name": self.profile, "title": self.profile_title,
                                   "plain_name": self.profile_plain_name, "chosen_by": self.profile_chosen_by,
                                   "deciding_headers": list(self.deciding_headers)}
        if self.profile_chosen_by == "inferred":
            profile["evidence"] = list(self.evidence)
        return {"file": self.file, "sheet": self.sheet, "header_row": self.header_row, "rows": self.rows_in,
                "profile": profile, **self.locale}


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
    fallbacks: dict[str, list[int]] = field(default_factory=dict)  # field -> its fallback columns' positions
    _combined: dict[str, tuple[pd.Series, pd.Series]] = field(default_factory=dict, repr=False)
    inferred: list[dict] | None = None   # the evidence, when the profile was inferred from this file

    def facts(self, locale: dict) -> SourceFacts:
        """The table's source facts, with the date order and decimal separator its validation decided."""
        return SourceFacts(role=self.role, file=self.file, sheet=self.sheet, header_row=self.header_row,
                           rows_in=self.rows_in, profile=self.profile.name if self.profile else STANDARD_PROFILE,
                           profile_title=self.profile.title if self.profile else "",
                           profile_plain_name=self.profile.plain_name if self.profile else None,
                           profile_chosen_by=("inferred" if self.inferred is not None else
                                              "forced" if self.profile_forced else "headers"),
                           deciding_headers=tuple(self.deciding_headers), locale=dict(locale),
                           evidence=tuple(self.inferred or ()))

    @property
    def rows_in(self) -> int:
        return len(self.rows)

    def column(self, field: str) -> pd.Series | None:
        """The field's cells: its column's, each blank filled from the field's first fallback column that
        holds a value in that row (the frame itself is never changed)."""
        position = self.fields.get(field)
        if position is None:
            return None
        if field not in self.fallbacks:
            return self.frame[position]
        return self._filled(field, position)[0]

    def source_headers(self, field: str) -> pd.Series | None:
        """Per row, the header of the fallback column the field's value came from; NA where it came from
        the field's own column. None when the field has no fallback column."""
        position = self.fields.get(field)
        if position is None or field not in self.fallbacks:
            return None
        return self._filled(field, position)[1]

    def _filled(self, field: str, position: int) -> tuple[pd.Series, pd.Series]:
        if field in self._combined:
            return self._combined[field]
        cells = self.frame[position].copy()
        source = pd.Series(pd.NA, index=cells.index, dtype=object)
        for fallback in self.fallbacks[field]:
            other = self.frame[fallback]
            use = is_blank(cells) & ~is_blank(other)
            if use.any():
                cells[use] = other[use]
                source[use] = self.headers[fallback]
        self._combined[field] = cells, source
        return cells, source


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

    def distinct(self, position: int, rows: np.ndarray | None = None) -> set:
        """The column's values (in `rows`, or all) as a set, without keeping the column: for a column the
        table drops. A set hashes each cell once (a string caches its hash): 3x quicker than pandas' unique
        on text, and calamine's rows need no array first."""
        if position >= self.present:
            return {""}
        if position in self._taken or isinstance(self.data, pd.DataFrame):
            cells = self.peek(position) if position in self._taken else \
                self.data.iloc[:, position].to_numpy(dtype=object)   # type: ignore[union-attr]
            return set(cells if rows is None else cells[rows])
        source = self.data if rows is None else map(self.data.__getitem__, rows)
        return set(map(operator.itemgetter(position), source))

    def peek(self, position: int) -> np.ndarray:
        """All the column's cells, without keeping them."""
        return self._taken[position] if position in self._taken else self._cells(position, None)

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


def _build(role: str, file: str, sheet: str | None, header: HeaderCandidate, data: list[list[object]] | pd.DataFrame,
           first_data_row: int, keep_only_fields: bool, limits: Limits) -> RawTable:
    columns = _Columns(data, len(header.cells))
    width = columns.width
    headers = [str(cell).strip() if cell not in (None, "") else "" for cell in header.cells]
    headers += [""] * (width - len(headers))
    fields = dict(header.found)
    assert header.spec is not None and header.profile is not None  # noqa: S101 - set by find_header
    fallbacks = fallback_columns(header.cells, header.spec, fields)
    check_columns(role, file, sheet, header.profile.name, header.spec, headers, fields, columns.length, columns)
    if keep_only_fields:
        keep = sorted(set(fields.values()) | {at for positions in fallbacks.values() for at in positions})
    else:  # a column with neither header nor data is an artefact of the sheet's used range
        keep = [p for p in range(width) if headers[p] or not _is_empty(columns[p]).all()]
    # A fully blank row inside the data is skipped and not counted.
    blank = columns.blank_rows(keep) if width else np.zeros(0, dtype=bool)
    rows = np.arange(first_data_row, first_data_row + len(blank))[~blank]
    if len(rows) > limits.max_rows:
        raise InputError("too_many_rows", f"{describe_file(role, file, sheet)} has {len(rows):,} data rows; "
                         f"the limit is {limits.max_rows:,}.", file=file, sheet=sheet)
    some_blank = bool(blank.any())
    frame = pd.DataFrame({new: columns[old][~blank] if some_blank else columns[old] for new, old in enumerate(keep)},
                         dtype=object)
    del columns, data
    position_of = {old: new for new, old in enumerate(keep)}
    kept_headers = [headers[p] or f"Column {col_letters(p + 1)}" for p in keep]
    deciding = header.signature or [headers_at(header.cells, header.found[name])
                                    for name in required_fields(header.spec)]
    return RawTable(role=role, file=file, sheet=sheet, header_row=header.row_index + 1,
                    headers=kept_headers, fields={f: position_of[p] for f, p in fields.items()},
                    frame=frame, rows=rows, profile=header.profile, spec=header.spec,
                    deciding_headers=deciding,
                    fallbacks={name: [position_of[p] for p in positions] for name, positions in fallbacks.items()})


def read_excel(path: Path, *, role: str, choices: list[Choice], sheet: str | None, limits: Limits,
               search_rows: int, keep_only_fields: bool = False, early: SheetParse | None = None,
               kind: str = "xlsx") -> RawTable:
    """`early` is calamine's parse of the sheet the header check chose, started before pandas loaded.

    Sheets are parsed one at a time, in the workbook's order, within the sheet budget
    (`headers.SheetBudget`), and only the header's sheet is kept. With `early` the search starts at
    its sheet: the header check found no header on the sheets before it. Without it (the header check's
    preview could not run), an xlsx sheet whose own first rows can be read cheaply and hold no header is
    not parsed (`SheetPreviews`). A hidden sheet is the data only when the rules name it."""
    import python_calamine  # imported late: only needed for spreadsheets

    file = path.name
    previews = SheetPreviews(path, search_rows) if early is None and sheet is None and kind == "xlsx" else None
    try:
        ahead: dict[str, Any] = {}   # the sheet parsed ahead; popped when used, so it is freed right after
        if early is not None:
            workbook, ahead[early.sheet] = early.take()
        else:
            workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        names = workbook.sheet_names
        hidden = {meta.name for meta in workbook.sheets_metadata
                  if meta.visible != python_calamine.SheetVisibleEnum.Visible}
        if sheet is not None:
            if sheet not in names:
                raise InputError("sheet_not_found", f"The {role} file '{file}' has no sheet named "
                                 f"'{sheet}'. Its sheets are: {', '.join(names)}.", file=file)
            names, hidden = [sheet], set()
        current: dict[str, list[list[Any]]] = {}   # the sheet being searched: the header's, once found

        def parse(name: str) -> list[list[Any]]:
            current.clear()  # the previous sheet had no header: free it before the next parse
            head = previews.rows(name) if previews is not None and name not in ahead else None
            if head is not None and find_header([(name, head)], choices, search_rows, hidden).header is None:
                return head  # no header in its first rows (all the search reads): never parsed in full
            sheet_ = ahead.pop(name) if name in ahead else workbook.get_sheet_by_name(name)
            current[name] = sheet_.to_python(skip_empty_area=False)
            ahead.clear()
            return current[name]

        start = names.index(early.sheet) if early is not None and early.sheet in names else 0
        search = find_header(SheetBudget(limits, role, file).sheets(names, parse, start), choices, search_rows,
                             hidden)
        header = search.header
        if header is None:
            raise missing_column_error(role, file, search)
        rows = current.pop(str(header.sheet))
    except InputError:
        raise
    except Exception as exc:  # calamine raises plain errors for corrupt or protected files
        raise InputError("unreadable_file", f"The {role} file '{file}' could not be read as a spreadsheet "
                         f"({_short(exc)}). Open it in Excel, save it again as .xlsx and re-upload.",
                         file=file) from exc
    finally:
        if previews is not None:
            previews.close()
    data = rows[header.row_index + 1:]
    del rows
    return _build(role, file, header.sheet, header, data, header.row_index + 2, keep_only_fields, limits)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def read_csv(path: Path, *, role: str, choices: list[Choice], sheet: str | None, limits: Limits,
             search_rows: int, keep_only_fields: bool = False) -> RawTable:
    file = path.name
    raw = path.read_bytes()
    decoded = decode_text(raw, role, file)
    head = csv_head(decoded.text, search_rows)
    header = (search := find_header([(None, head.rows)], choices, search_rows)).header
    if header is None:
        raise missing_column_error(role, file, search)
    width = max((len(row) for row in head.rows), default=0)
    if width > limits.max_columns:
        raise InputError("too_many_columns", f"The {role} file '{file}' has {width} columns; the limit is "
                         f"{limits.max_columns}.", file=file)
    control = control_character_error(raw, decoded, decoded.byte_offset(head.starts[header.row_index]), role, file)
    if control is not None:
        raise control
    del raw
    try:
        frame = pd.read_csv(io.StringIO(decoded.text), sep=head.delimiter, header=None, names=range(width),
                            dtype=object, keep_default_na=False, skip_blank_lines=False,
                            skiprows=header.row_index + 1, engine="c")
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError("unreadable_file", f"The {role} file '{file}' is not a well-formed CSV file "
                         f"({_short(exc)}).", file=file) from exc
    del decoded
    return _build(role, file, None, header, frame, header.row_index + 2, keep_only_fields, limits)


def read_table(path: Path, kind: str, *, role: str, rules: Rules, forced_profile: str | None = None,
               keep_only_fields: bool = False, early: SheetParse | None = None) -> RawTable:
    """Read one input file with the profile that fits it best (or the forced one).

    `early`: a spreadsheet's sheet already being parsed (see `memberseg.header_check.SheetParse`)."""
    choices = candidate_profiles(rules, role, forced_profile)
    settings = {"role": role, "choices": choices, "sheet": getattr(rules.inputs, role).sheet, "limits": rules.limits,
                "search_rows": rules.inputs.header_search_rows, "keep_only_fields": keep_only_fields}
    table = read_csv(path, **settings) if kind == "csv" else read_excel(path, early=early, kind=kind, **settings)
    table.profile_forced = len(choices) == 1 and (forced_profile or getattr(rules.inputs, role).profile) != "auto"
    if table.profile is not None:
        table.inferred = rules.inferred_evidence(table.profile.name)
    return table


