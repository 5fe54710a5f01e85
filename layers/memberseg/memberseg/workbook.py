"""Stage 7b: the analysis workbook, written by rustpy-xlsxwriter (a binding to rust_xlsxwriter).

Sheets are collected as typed column frames and written in one call when the book is closed;
the Rust writer streams each sheet row by row (constant memory) and zips it.

What the writer is given, and why:
- every column has one kind, chosen here: text stays text (a name like "=HYPERLINK(...)" is
  written as a string, never a formula), booleans are booleans, numbers are floats;
- dates are Excel serial numbers with a date format on the column (what a date cell holds).
  The writer formats a whole column once it meets a Python date, so numbers that share a raw
  column with dates would be shown as dates: in such a mixed column the dates are written as
  ISO text instead (`raw_column`);
- text longer than Excel's 32,767-character cell limit is cut to the limit (Excel would refuse
  the file) and counted in `WorkbookWriter.truncated_cells`;
- NaN and None are empty cells; +/-inf (which a cell cannot hold) is written as the text INF/-INF;
- a sheet past Excel's row limit continues on "Name (2)", "Name (3)", right after it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import rustpy_xlsxwriter as rx

EXCEL_MAX_DATA_ROWS = 1_048_575  # plus the header row
EXCEL_MAX_STRING = 32_767
INF_TEXT = "INF"
Kind = Literal["raw", "text", "number", "integer", "money", "date", "bool"]
NUMBER_FORMATS = {"date": "yyyy-mm-dd", "money": "#,##0.00", "integer": "0"}
EXCEL_EPOCH = np.datetime64("1899-12-30")


@dataclass
class Column:
    header: str
    kind: Kind
    values: Any            # a sequence of len(rows): numpy array, pandas Series or list
    width: float = 14


def excel_serials(series: pd.Series) -> np.ndarray:
    """Dates as Excel serial numbers (what a date cell holds); NaN where missing."""
    stamps = pd.to_datetime(pd.Series(series), errors="coerce").to_numpy(dtype="datetime64[ns]")
    return (stamps - EXCEL_EPOCH) / np.timedelta64(1, "D")


def _text(values: pd.Series) -> pd.Series:
    """Object strings, None where blank."""
    cells = pd.Series(values, dtype=object).to_numpy()
    return pd.Series(np.where(pd.isna(cells), None, cells), dtype=object)


def column(header: str, kind: Kind, series: pd.Series, width: float = 14) -> Column:
    if kind == "date":
        return Column(header, kind, excel_serials(series), width)
    if kind == "bool":
        return Column(header, kind, pd.Series(series).astype(bool).to_numpy(), width)
    if kind in ("number", "money", "integer"):
        return Column(header, kind, pd.Series(series).astype(float).to_numpy(), width)
    return Column(header, kind, _text(series), width)


def _plain(value: Any) -> Any:
    """One cell of a mixed column as a plain Python value the writer types by itself."""
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value) or value == "":
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, (np.floating, np.integer)):
        return float(value)
    return value


# pandas' C type inference over a column's present cells, grouped by how the column is written.
_TEXT, _NUMBERS, _DATES = {"string", "empty"}, {"floating", "integer", "mixed-integer-float"}, {"datetime", "date"}


def raw_column(header: str, cells: np.ndarray, width: float = 16) -> Column:
    """A column of the input file, as the file holds it; a typed column when the column is uniform."""
    cells = np.asarray(cells, dtype=object)
    present = pd.notna(cells) & (cells != "")  # NumPy's elementwise != on objects: pandas' .ne is far slower
    inferred = pd.api.types.infer_dtype(cells[present], skipna=True)
    if inferred in _TEXT:
        text = cells.copy()
        text[~present] = None
        return Column(header, "text", pd.Series(text, dtype=object), width)
    series = pd.Series(cells, dtype=object)
    if inferred in _NUMBERS:
        return Column(header, "number", series.where(present).astype(float).to_numpy(), width)
    if inferred in _DATES:
        return Column(header, "date", excel_serials(series.where(present)), width)
    values = series.map(_plain)
    kinds = set(values[present].map(type).unique())
    if kinds & {dt.datetime, dt.date} and kinds & {float, int, bool}:
        # See the module docstring: the writer would put a date format on the numbers too.
        values = values.map(lambda v: v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v)
    return Column(header, "raw", values.astype(object), width)


def _text_lengths(values: pd.Series) -> np.ndarray:
    """Each cell's length in characters; 0 for a cell that is not text."""
    cells = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) in _TEXT:
        is_text = pd.notna(cells)
    else:
        is_text = np.fromiter(map(isinstance, cells, repeat(str)), dtype=bool, count=len(cells))
    lengths = np.zeros(len(cells), dtype=np.int64)
    # len over the text cells only: pandas' .str.len() does the same call with a type check per cell.
    lengths[is_text] = np.fromiter(map(len, cells[is_text]), dtype=np.int64, count=int(is_text.sum()))
    return lengths


def unique_headers(headers: list[str]) -> list[str]:
    """The writer keys columns by header: a repeated header gets " (2)", " (3)"."""
    seen: set[str] = set()
    out = []
    for header in headers:
        name, n = header, 1
        while name in seen:
            n += 1
            name = f"{header} ({n})"
        seen.add(name)
        out.append(name)
    return out


@dataclass
class _Sheet:
    name: str
    frame: pd.DataFrame
    formats: dict[str, Any]
    widths: list[float]
    table: bool = True                      # frozen header and autofilter
    row_formats: dict[int, Any] = field(default_factory=dict)
    charts: list[dict] = field(default_factory=list)


class WorkbookWriter:
    """Collects the sheets in tab order; `close()` writes the file."""

    def __init__(self, path: Path, max_rows: int = EXCEL_MAX_DATA_ROWS):
        self.path = Path(path)
        self.max_rows = max_rows
        self.truncated_cells = 0
        self._sheets: list[_Sheet] = []

    def _frame(self, columns: list[Column], start: int, count: int) -> tuple[pd.DataFrame, dict[str, Any]]:
        headers = unique_headers([col.header for col in columns])
        data: dict[str, Any] = {}
        formats: dict[str, Any] = {}
        for header, col in zip(headers, columns, strict=True):
            values = col.values[start:start + count]
            if col.kind in ("text", "raw"):
                values = self._fit_text(pd.Series(values, dtype=object).reset_index(drop=True))
            data[header] = values
            if col.kind in NUMBER_FORMATS:
                formats[header] = rx.Format().set_num_format(NUMBER_FORMATS[col.kind])
        return pd.DataFrame(data, columns=headers), formats

    def _fit_text(self, values: pd.Series) -> pd.Series:
        long = _text_lengths(values) > EXCEL_MAX_STRING
        if long.any():
            self.truncated_cells += int(long.sum())
            values = values.copy()
            values[long] = values[long].str.slice(stop=EXCEL_MAX_STRING)
        return values

    def table(self, name: str, columns: list[Column], rows: int) -> list[str]:
        """Add a sheet (continuing on "name (2)" past Excel's limit); return the sheet names used."""
        names = []
        start, part = 0, 1
        while True:
            sheet_name = name if part == 1 else f"{name} ({part})"
            count = min(self.max_rows, rows - start)
            frame, formats = self._frame(columns, start, count)
            self._sheets.append(_Sheet(sheet_name, frame, formats, [col.width for col in columns]))
            names.append(sheet_name)
            start += count
            part += 1
            if start >= rows:
                return names

    def summary(self, name: str, sections: list[tuple[str, list[tuple[str, Any]]]]) -> None:
        """Label/value sections, one under another, each under a bold title row."""
        records: list[dict[str, Any]] = []
        titles = []
        for title, items in sections:
            if records:
                records.append({"Item": None, "Value": None})
            titles.append(len(records) + 1)            # sheet row: the header is row 0
            records.append({"Item": title, "Value": None})
            records += [{"Item": label, "Value": _plain(value)} for label, value in items]
        frame = pd.DataFrame.from_records(records, columns=["Item", "Value"])
        bold = rx.Format().set_bold().set_font_size(12)
        self._sheets.append(_Sheet(name, frame, {}, [40, 18], table=False,
                                   row_formats={row: bold for row in titles}))

    def bar_chart(self, name: str, label: str, value: str, items: list[tuple[str, int]], title: str) -> None:
        """A two-column sheet of `items` and a bar chart of exactly those rows beside it."""
        frame = pd.DataFrame({label: [k for k, _ in items], value: [float(v) for _, v in items]})
        chart = {"type": "bar", "series": [value], "categories": label, "title": title, "legend": False,
                 "row": 0, "col": 3, "width": 640, "height": 60 + 28 * max(len(items), 1)}
        self._sheets.append(_Sheet(name, frame, {}, [34, 14], charts=[chart] if items else []))

    def close(self) -> None:
        sheets = self._sheets
        header = (rx.Format().set_bold().set_background_color("#1F4E78").set_font_color("#FFFFFF")
                  .set_text_wrap().set_align("top"))
        rx.write_worksheets(
            [(sheet.name, sheet.frame) for sheet in sheets], str(self.path),
            freeze_panes={sheet.name: {"row": 1, "col": 0} for sheet in sheets if sheet.table},
            autofilter={sheet.name: True for sheet in sheets if sheet.table},
            column_formats={sheet.name: sheet.formats for sheet in sheets if sheet.formats},
            column_widths={sheet.name: sheet.widths for sheet in sheets},
            header_format={sheet.name: header for sheet in sheets if sheet.table},
            row_formats={sheet.name: sheet.row_formats for sheet in sheets if sheet.row_formats},
            charts={sheet.name: sheet.charts for sheet in sheets if sheet.charts},
            datetime_format=NUMBER_FORMATS["date"],
            inf_value=INF_TEXT,
        )
