"""Stage 1: read a file (already passed by the safety gate) into a raw table.

Finds the sheet and header row, maps headers to fields through the aliases and
returns the data rows untouched: values stay as the file holds them, so the
Members sheet can show them as-is. Row numbers are the ones Excel shows.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError
from .rules import Limits, SourceSpec, normalize_header

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

    @property
    def rows_in(self) -> int:
        return len(self.rows)

    def column(self, field: str) -> pd.Series | None:
        position = self.fields.get(field)
        return None if position is None else self.frame[position]


def _where(role: str, file: str, sheet: str | None) -> str:
    return f"The {role} file '{file}'" + (f" (sheet '{sheet}')" if sheet else "")


def match_header_row(cells: list[object], spec: SourceSpec) -> dict[str, int]:
    """Map fields to column positions for one candidate header row (leftmost match wins)."""
    normalized = [normalize_header(cell) if cell not in (None, "") else "" for cell in cells]
    found: dict[str, int] = {}
    for field, field_spec in spec.fields.items():
        aliases = {normalize_header(alias) for alias in field_spec.aliases}
        for position, text in enumerate(normalized):
            if text and text in aliases:
                found[field] = position
                break
    return found


def _required(spec: SourceSpec) -> list[str]:
    return [name for name, field in spec.fields.items() if field.required]


@dataclass
class _Candidate:
    sheet: str | None
    row_index: int
    cells: list[object]
    found: dict[str, int]


def _find_header(sheets: Iterable[tuple[str | None, list[list[Any]]]], spec: SourceSpec,
                 search_rows: int) -> tuple[_Candidate | None, _Candidate | None]:
    """Return (the header row, or None; the best partial candidate for the error message).

    `sheets` is consumed lazily, so later sheets are not parsed once a header is found.
    """
    required = _required(spec)
    best: _Candidate | None = None
    for sheet, rows in sheets:
        for index, cells in enumerate(rows[:search_rows]):
            found = match_header_row(cells, spec)
            candidate = _Candidate(sheet, index, cells, found)
            if all(name in found for name in required):
                return candidate, candidate
            non_blank = any(cell not in (None, "") for cell in cells)
            score = sum(name in found for name in required)
            if non_blank and (best is None or score > sum(n in best.found for n in required)):
                best = candidate
    return None, best


def _missing_column_error(role: str, file: str, spec: SourceSpec, best: _Candidate | None) -> InputError:
    if best is None:
        return InputError("empty_file", f"The {role} file '{file}' has no data: every sheet is empty.", file=file)
    missing = [name for name in _required(spec) if name not in best.found]
    headers = [str(cell).strip() for cell in best.cells if cell not in (None, "") and str(cell).strip()]
    field = missing[0]
    aliases = spec.fields[field].aliases
    by_normal = {normalize_header(header): header for header in headers}
    close = difflib.get_close_matches(
        normalize_header(aliases[0]), list(by_normal), n=1, cutoff=0.0
    ) if by_normal else []
    for alias in aliases:
        candidates = difflib.get_close_matches(normalize_header(alias), list(by_normal), n=1, cutoff=0.6)
        if candidates:
            close = candidates
            break
    closest = f" The closest header is '{by_normal[close[0]]}'." if close else ""
    also = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
    message = (
        f"{_where(role, file, best.sheet)} has no {field} column{also}. "
        f"Accepted headers: {', '.join(aliases)}. Headers found in row {best.row_index + 1}: "
        f"{', '.join(headers) if headers else '(none)'}.{closest}"
    )
    return InputError("missing_column", message, file=file, sheet=best.sheet, row=best.row_index + 1,
                      column=field, details={"missing": missing, "found": headers})


def _to_columns(data: list[list[object]] | pd.DataFrame, width: int) -> list[np.ndarray]:
    """Column arrays of raw cells, padded to `width` with blanks."""
    if isinstance(data, pd.DataFrame):
        columns = [data[name].to_numpy(dtype=object) for name in data.columns]
    elif data:
        grid = np.empty((len(data), len(data[0])), dtype=object)
        grid[:] = data  # calamine rows are all the sheet's width; this is far faster than zip(*rows)
        columns = [np.ascontiguousarray(grid[:, j]) for j in range(grid.shape[1])]
        del grid
    else:
        columns = []
    length = len(data)
    columns += [np.full(length, "", dtype=object) for _ in range(width - len(columns))]
    return columns


def _is_empty(cells: np.ndarray) -> np.ndarray:
    return pd.isna(cells) | (cells == "")


def _build(role: str, file: str, sheet: str | None, header: _Candidate, data: list[list[object]] | pd.DataFrame,
           first_data_row: int, keep_only_fields: bool, limits: Limits) -> RawTable:
    width = max(len(header.cells), len(data.columns) if isinstance(data, pd.DataFrame) else
                max((len(row) for row in data[:1]), default=0))
    columns = _to_columns(data, width)
    del data
    headers = [str(cell).strip() if cell not in (None, "") else "" for cell in header.cells]
    headers += [""] * (width - len(headers))
    empty = [_is_empty(cells) for cells in columns]
    # A fully blank row inside the data is skipped and not counted.
    blank = np.logical_and.reduce(empty) if empty else np.zeros(0, dtype=bool)
    fields = dict(header.found)
    if keep_only_fields:
        keep = sorted(set(fields.values()))
    else:  # a column with neither header nor data is an artefact of the sheet's used range
        keep = [p for p in range(width) if headers[p] or not empty[p].all()]
    rows = np.arange(first_data_row, first_data_row + len(blank))[~blank]
    if len(rows) > limits.max_rows:
        raise InputError("too_many_rows", f"{_where(role, file, sheet)} has {len(rows):,} data rows; "
                         f"the limit is {limits.max_rows:,}.", file=file, sheet=sheet)
    frame = pd.DataFrame({new: columns[old][~blank] for new, old in enumerate(keep)}, dtype=object)
    position_of = {old: new for new, old in enumerate(keep)}
    kept_headers = [headers[p] or f"Column {_column_letter(p)}" for p in keep]
    return RawTable(role=role, file=file, sheet=sheet, header_row=header.row_index + 1,
                    headers=kept_headers, fields={f: position_of[p] for f, p in fields.items()},
                    frame=frame, rows=rows)


def _column_letter(position: int) -> str:
    letters = ""
    position += 1
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def read_excel(path: Path, *, role: str, spec: SourceSpec, limits: Limits, search_rows: int,
               keep_only_fields: bool = False) -> RawTable:
    import python_calamine  # imported late: only needed for spreadsheets

    file = path.name
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        names = workbook.sheet_names
        if spec.sheet is not None:
            if spec.sheet not in names:
                raise InputError("sheet_not_found", f"The {role} file '{file}' has no sheet named "
                                 f"'{spec.sheet}'. Its sheets are: {', '.join(names)}.", file=file)
            names = [spec.sheet]
        # calamine parses a whole sheet on first access: keep it, and parse later sheets only if needed.
        parsed: dict[str | None, list[list[Any]]] = {}

        def sheets() -> Iterator[tuple[str | None, list[list[Any]]]]:
            for name in names:
                parsed[name] = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
                yield name, parsed[name]

        header, best = _find_header(sheets(), spec, search_rows)
        if header is None:
            raise _missing_column_error(role, file, spec, best)
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


def read_csv(path: Path, *, role: str, spec: SourceSpec, limits: Limits, search_rows: int,
             keep_only_fields: bool = False) -> RawTable:
    file = path.name
    text = decode_text(path.read_bytes())
    delimiter = sniff_delimiter(text[:CSV_SAMPLE_BYTES])
    head_lines = text[:CSV_SAMPLE_BYTES].splitlines()[: max(search_rows, 1)]
    preview = list(csv.reader(head_lines, delimiter=delimiter))
    header, best = _find_header([(None, preview)], spec, search_rows)
    if header is None:
        raise _missing_column_error(role, file, spec, best)
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


def read_table(path: Path, kind: str, *, role: str, spec: SourceSpec, limits: Limits, search_rows: int,
               keep_only_fields: bool = False) -> RawTable:
    reader = read_csv if kind == "csv" else read_excel
    return reader(path, role=role, spec=spec, limits=limits, search_rows=search_rows,
                  keep_only_fields=keep_only_fields)
