"""The analysis workbook, written by rustpy-xlsxwriter (a binding to rust_xlsxwriter).

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
  the file), and each cut is listed in `WorkbookWriter.cut_cells` (sheet, row, column, length);
- NaN and None are empty cells; +/-inf (which a cell cannot hold) is written as the text INF/-INF;
- a sheet past Excel's row limit continues on "Name (2)", "Name (3)", right after it.

How it reads and prints: each column is as wide as its widest cell as displayed (text by its length,
money and dates by their format), within WIDTH_FLOOR..WIDTH_CAP characters; a header wider than its
column wraps onto a second line. Tables print landscape, one page wide, with the header row on every
page; the Summary wraps its long texts; the Segments sheet prints on one page, chart included.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
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
# Booleans: Excel shows TRUE/FALSE whatever the format; LibreOffice shows 1/0 unless told (its own format).
NUMBER_FORMATS = {"date": "yyyy-mm-dd", "money": "#,##0.00", "integer": "0", "bool": '"TRUE";"TRUE";"FALSE"'}
EXCEL_EPOCH = np.datetime64("1899-12-30")
# Before this day Excel's serials count a 29 February 1900 that never was and LibreOffice's do not, and before
# 1900 there are no serials: such a date is written as its ISO text, which every reader shows alike.
FIRST_SERIAL_DATE = dt.date(1900, 3, 1)

# Column widths, in Excel's unit (the width of one digit of the default font).
WIDTH_FLOOR, WIDTH_CAP = 6, 60
CELL_PADDING = 2          # the cell's margins, so text never touches the grid line
FILTER_BUTTON = 2         # a table's header also holds the autofilter's drop-down button
BOLD = 1.1                # headers are bold, so a little wider than their character count
LINE_HEIGHT = 15          # points: one line of the default font, Excel's default row height
GENERAL_DIGITS = 11       # Excel's General format shows at most this many characters of a number
FIXED_WIDTHS = {"date": len("yyyy-mm-dd"), "bool": len("FALSE")}
TABLE_PRINT = {"landscape": True, "fit_to_pages": (1, 0), "repeat_rows": 0}
SUMMARY_PRINT = {"fit_to_pages": (1, 0)}
CHART_PRINT = {"landscape": True, "fit_to_pages": (1, 1)}
# The bar chart, in pixels: the plot, plus room for its longest category label and one bar per category.
CHART_WIDTH, CHART_LABEL_CHAR, CHART_HEIGHT, CHART_BAR_HEIGHT = 480, 8, 60, 28


@dataclass
class Column:
    header: str
    kind: Kind
    values: Any            # a sequence of len(rows): numpy array, pandas Series or list


def excel_serials(series: pd.Series) -> np.ndarray:
    """Dates as Excel serial numbers (what a date cell holds), NaN where missing; a date before
    FIRST_SERIAL_DATE as ISO text (then an object array, None where missing).

    Microseconds (a Python datetime's precision) hold 0001-01-01..9999-12-31 and any time of day."""
    stamps = pd.to_datetime(pd.Series(series), errors="coerce").to_numpy().astype("datetime64[us]")
    serials = (stamps - EXCEL_EPOCH) / np.timedelta64(1, "D")
    early = stamps < np.datetime64(FIRST_SERIAL_DATE)   # NaT is not
    if not early.any():
        return serials
    cells = serials.astype(object)
    cells[np.isnan(serials)] = None
    cells[early] = np.datetime_as_string(stamps[early], unit="D")
    return cells


def _text(values: pd.Series) -> pd.Series:
    """Object strings, None where blank."""
    cells = pd.Series(values, dtype=object).to_numpy()
    return pd.Series(np.where(pd.isna(cells), None, cells), dtype=object)


def column(header: str, kind: Kind, series: pd.Series) -> Column:
    if kind == "date":
        return Column(header, kind, excel_serials(series))
    if kind == "bool":
        return Column(header, kind, pd.Series(series).astype(bool).to_numpy())
    if kind in ("number", "money", "integer"):
        return Column(header, kind, pd.Series(series).astype(float).to_numpy())
    return Column(header, kind, _text(series))


def _plain(value: Any) -> Any:
    """One cell of a mixed column as a plain Python value the writer types by itself."""
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value) or value == "":
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.date):
        day = value.date() if isinstance(value, dt.datetime) else value
        return value if day >= FIRST_SERIAL_DATE else day.isoformat()   # see FIRST_SERIAL_DATE
    if isinstance(value, (np.floating, np.integer)):
        return float(value)
    return value


# pandas' C type inference over a column's present cells, grouped by how the column is written.
_TEXT, _NUMBERS, _DATES = {"string", "empty"}, {"floating", "integer", "mixed-integer-float"}, {"datetime", "date"}


def raw_column(header: str, cells: np.ndarray) -> Column:
    """A column of the input file, as the file holds it; a typed column when the column is uniform."""
    cells = np.asarray(cells, dtype=object)
    present = pd.notna(cells) & (cells != "")  # NumPy's elementwise != on objects: pandas' .ne is far slower
    inferred = pd.api.types.infer_dtype(cells[present], skipna=True)
    if inferred in _TEXT:
        text = cells.copy()
        text[~present] = None
        return Column(header, "text", pd.Series(text, dtype=object))
    series = pd.Series(cells, dtype=object)
    if inferred in _NUMBERS:
        return Column(header, "number", series.where(present).astype(float).to_numpy())
    if inferred in _DATES:
        return Column(header, "date", excel_serials(series.where(present)))
    values = series.map(_plain)
    kinds = set(values[present].map(type).unique())
    if kinds & {dt.datetime, dt.date} and kinds & {float, int, bool}:
        # See the module docstring: the writer would put a date format on the numbers too.
        values = values.map(lambda v: v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v)
    return Column(header, "raw", values.astype(object))


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


def _number_chars(kind: Kind, values: np.ndarray) -> int:
    """How many characters the widest number of the column takes in its format: the largest or the most
    negative value, whichever is longer."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    infinite = len("-" + INF_TEXT) if len(finite) < np.count_nonzero(~np.isnan(values)) else 0
    if not finite.size:
        return infinite
    places = 0
    if kind == "number":                                 # General shows only the decimals the values have
        places = next((n for n in range(GENERAL_DIGITS) if (np.round(finite, n) == finite).all()), GENERAL_DIGITS)

    def shown(value: float) -> int:
        digits = len(str(int(abs(value))))
        if kind == "money":                              # #,##0.00
            return int(value < 0) + digits + (digits - 1) // 3 + len(".00")
        if kind == "integer":                            # 0
            return int(value < 0) + digits
        return min(GENERAL_DIGITS, int(value < 0) + digits + (places + 1 if places else 0))

    return max(shown(float(finite.max())), shown(float(finite.min())), infinite)


def content_chars(kind: Kind, values: Any, text_lengths: np.ndarray | None = None) -> int:
    """The widest cell of a column as displayed, in characters: text by its length (`text_lengths`),
    numbers in their format, dates as yyyy-mm-dd; a mixed column's non-text cells as General numbers."""
    if kind in FIXED_WIDTHS:
        return FIXED_WIDTHS[kind]
    if kind not in ("text", "raw"):
        return _number_chars(kind, values)
    widest = int(text_lengths.max(initial=0)) if text_lengths is not None else 0
    if kind == "raw" and (pd.notna(np.asarray(values, dtype=object)) & (text_lengths == 0)).any():
        widest = max(widest, GENERAL_DIGITS)          # a number, date or boolean among the texts
    return widest


def _two_line_chars(header: str) -> int:
    """The longest line of `header` wrapped at a space onto at most two lines, split where it is shortest."""
    words = header.split(" ")
    return min((max(len(" ".join(words[:cut])), len(" ".join(words[cut:]))) for cut in range(1, len(words))),
               default=len(header))


def _header_padding(table: bool) -> int:
    return CELL_PADDING + (FILTER_BUTTON if table else 0)


def fitted_width(header: str, content: int, table: bool = True) -> float:
    """A column's width: its widest cell plus padding, and room for its header on at most two lines
    (bold, beside the filter button in a table), between WIDTH_FLOOR and WIDTH_CAP."""
    header_chars = math.ceil(_two_line_chars(header) * BOLD) + _header_padding(table)
    return float(min(WIDTH_CAP, max(WIDTH_FLOOR, content + CELL_PADDING, header_chars)))


def wrapped_lines(text: str, width: float, padding: int = CELL_PADDING, scale: float = 1.0) -> int:
    """The lines `text` takes in a wrapping cell `width` wide, `padding` of it margins, at `scale` width per
    character. Neither Excel nor LibreOffice grows a row to fit when it opens the file: the writer sets it."""
    return max(1, len(textwrap.wrap(text, max(1, math.floor((width - padding) / scale + 1e-9)))))


def header_height(headers: list[str], widths: list[float], table: bool = True) -> dict[int, float]:
    """The header row's height when a header wraps (see fitted_width), else nothing: the default height."""
    lines = max((wrapped_lines(h, w, _header_padding(table), BOLD) for h, w in zip(headers, widths, strict=True)),
                default=1)
    return {0: LINE_HEIGHT * lines} if lines > 1 else {}


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
    print_setup: dict[str, Any]
    table: bool = True                      # frozen header and autofilter
    row_formats: dict[int, Any] = field(default_factory=dict)
    row_heights: dict[int, float] = field(default_factory=dict)
    charts: list[dict] = field(default_factory=list)


class WorkbookWriter:
    """Collects the sheets in tab order; `close()` writes the file."""

    def __init__(self, path: Path, max_rows: int = EXCEL_MAX_DATA_ROWS):
        self.path = Path(path)
        self.max_rows = max_rows
        self.cut_cells: list[dict[str, Any]] = []   # sheet, row (as Excel numbers it), column, length before
        self._sheets: list[_Sheet] = []

    @property
    def truncated_cells(self) -> int:
        return len(self.cut_cells)

    def _frame(self, columns: list[Column], start: int, count: int, table: bool = True, sheet: str = ""
               ) -> tuple[pd.DataFrame, dict[str, Any], list[float]]:
        """The rows start..start+count of `columns`: the frame, its number formats and its fitted widths."""
        headers = unique_headers([col.header for col in columns])
        data: dict[str, Any] = {}
        formats: dict[str, Any] = {}
        widths = []
        for header, col in zip(headers, columns, strict=True):
            values = col.values[start:start + count]
            lengths = None
            if col.kind in ("text", "raw"):
                values, lengths = self._fit_text(pd.Series(values, dtype=object).reset_index(drop=True), sheet,
                                                 header)
            data[header] = values
            widths.append(fitted_width(header, content_chars(col.kind, values, lengths), table))
            if col.kind in NUMBER_FORMATS:
                formats[header] = rx.Format().set_num_format(NUMBER_FORMATS[col.kind])
        return pd.DataFrame(data, columns=headers), formats, widths

    def _fit_text(self, values: pd.Series, sheet: str, header: str) -> tuple[pd.Series, np.ndarray]:
        """The texts cut to Excel's cell limit (each cut listed), and each cell's length as written."""
        lengths = _text_lengths(values)
        long = lengths > EXCEL_MAX_STRING
        if long.any():
            self.cut_cells += [{"sheet": sheet, "row": int(row) + 2, "column": header, "length": int(length)}
                               for row, length in zip(np.flatnonzero(long), lengths[long], strict=True)]
            values = values.copy()
            values[long] = values[long].str.slice(stop=EXCEL_MAX_STRING)
            lengths = np.minimum(lengths, EXCEL_MAX_STRING)
        return values, lengths

    def table(self, name: str, columns: list[Column], rows: int) -> list[str]:
        """Add a sheet (continuing on "name (2)" past Excel's limit); return the sheet names used."""
        names = []
        start, part = 0, 1
        while True:
            sheet_name = name if part == 1 else f"{name} ({part})"
            count = min(self.max_rows, rows - start)
            frame, formats, widths = self._frame(columns, start, count, sheet=sheet_name)
            self._sheets.append(_Sheet(sheet_name, frame, formats, widths, TABLE_PRINT,
                                       row_heights=header_height(list(frame.columns), widths)))
            names.append(sheet_name)
            start += count
            part += 1
            if start >= rows:
                return names

    def summary(self, name: str, sections: list[tuple[str, list[tuple[str, Any]]]], at: int | None = None) -> None:
        """Label/value sections, one under another, each under a bold title row; the sheet goes at tab
        position `at` (default: last), so it can be written after the sheets whose cuts it reports."""
        records: list[dict[str, Any]] = []
        titles = []
        for title, items in sections:
            if records:
                records.append({"Item": None, "Value": None})
            titles.append(len(records) + 1)            # sheet row: the header is row 0
            records.append({"Item": title, "Value": None})
            records += [{"Item": label, "Value": _plain(value)} for label, value in items]
        cells = pd.DataFrame.from_records(records, columns=["Item", "Value"])
        frame, _, widths = self._frame([Column(header, "raw", cells[header]) for header in cells], 0, len(cells),
                                       table=False, sheet=name)
        bold = rx.Format().set_bold().set_font_size(12)
        # Long values (a profile and the headers that decided it) wrap; each label stays level with its value,
        # and numbers sit beside their labels rather than at the far edge of a column sized for text.
        top = {"Item": rx.Format().set_align("top"),
               "Value": rx.Format().set_text_wrap().set_align("left").set_align("top")}
        lines = {row + 1: wrapped_lines(value, widths[1]) for row, value in enumerate(frame["Value"])
                 if isinstance(value, str)}
        sheet = _Sheet(name, frame, top, widths, SUMMARY_PRINT, table=False, row_formats={row: bold for row in titles},
                       row_heights={row: LINE_HEIGHT * n for row, n in lines.items() if n > 1})
        self._sheets.insert(len(self._sheets) if at is None else at, sheet)

    def bar_chart(self, name: str, label: str, value: str, items: list[tuple[str, int]], title: str) -> None:
        """A two-column sheet of `items` and a horizontal bar chart of exactly those rows beside it, wide
        enough for the longest label and tall enough for one bar per item; it prints on one page."""
        labels = pd.Series([k for k, _ in items], dtype=object)
        frame, formats, widths = self._frame([Column(label, "text", labels),
                                              Column(value, "number", np.array([float(v) for _, v in items]))],
                                             0, len(items), sheet=name)
        longest = max((len(k) for k, _ in items), default=0)
        chart = {"type": "bar", "series": [value], "categories": label, "title": title, "legend": False,
                 "row": 0, "col": 3, "width": CHART_WIDTH + CHART_LABEL_CHAR * longest,
                 "height": CHART_HEIGHT + CHART_BAR_HEIGHT * max(len(items), 1)}
        self._sheets.append(_Sheet(name, frame, formats, widths, CHART_PRINT, charts=[chart] if items else [],
                                   row_heights=header_height(list(frame.columns), widths)))

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
            page_setup={sheet.name: sheet.print_setup for sheet in sheets},
            header_format={sheet.name: header for sheet in sheets if sheet.table},
            row_formats={sheet.name: sheet.row_formats for sheet in sheets if sheet.row_formats},
            row_heights={sheet.name: sheet.row_heights for sheet in sheets if sheet.row_heights},
            charts={sheet.name: sheet.charts for sheet in sheets if sheet.charts},
            datetime_format=NUMBER_FORMATS["date"],
            inf_value=INF_TEXT,
        )
