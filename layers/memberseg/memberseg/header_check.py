"""Check a file's headers from its first rows, before it is parsed in full.

`check_headers` runs right after the safety gate passed the file. It reads only the header search
window (`inputs.header_search_rows` rows of each sheet, one sheet at a time, within the sheet budget
of `headers.SheetBudget`) and matches it as `memberseg.read` will:

- .xlsx: the start of each sheet's XML, and of the shared strings up to the last one those rows
  use, go through the standard library's XML pull parser, which stops there;
- CSV: the first 256 KB, split into records as pandas splits them (`headers.csv_head`);
- .xls (at most 65,536 rows): calamine reads the sheet, as the full read will.

`SheetParse` then has calamine parse the header's sheet in full while pandas is imported in a
thread: calamine's Rust parse releases the GIL, so the two overlap.

Text and booleans come back as calamine gives them; numbers are floats (a date cell in a header
row shows as its serial number). When the first rows are too large to preview, the check is left
to the full read. No pandas or numpy here.
"""

from __future__ import annotations

import posixpath
import re
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from .errors import InputError
from .headers import (
    CSV_SAMPLE_BYTES,
    Choice,
    HeaderSearch,
    SheetBudget,
    candidate_profiles,
    csv_head,
    decode_text,
    find_header,
    missing_column_error,
)
from .rules import Rules
from .safety.scanner import col_number

CSV_PREVIEW_BYTES = 4 * CSV_SAMPLE_BYTES    # at least CSV_SAMPLE_BYTES characters, whatever the encoding
XML_BLOCK_BYTES = 64 * 1024
MAX_PREVIEW_XML_BYTES = 16 * 1024 * 1024    # per part; beyond it the full read finds the header
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_LETTERS = re.compile(r"\$?([A-Za-z]+)")


class _TooLarge(Exception):
    """The first rows do not fit the preview budget."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _column(ref: str) -> int | None:
    """0-based column of a cell reference such as "AB12" (None when it names no column)."""
    letters = _LETTERS.match(ref)
    return col_number(letters.group(1)) - 1 if letters and letters.group(1) else None


def _pull(zf: zipfile.ZipFile, part: str) -> Iterator[ElementTree.Element]:
    """The part's elements as they end, read block by block (never the whole part).

    Plain ElementTree is safe here: the gate refused any part with a document type declaration,
    which entity-expansion and external-entity attacks need."""
    parser = ElementTree.XMLPullParser(events=("end",))
    read = 0
    with zf.open(part) as stream:
        while block := stream.read(XML_BLOCK_BYTES):
            read += len(block)
            if read > MAX_PREVIEW_XML_BYTES:
                raise _TooLarge
            parser.feed(block)
            for event in parser.read_events():
                yield event[1]  # type: ignore[misc]  # "end" events carry an Element


def _text_of(element: ElementTree.Element) -> str:
    """The text of a shared or inline string: its <t> runs, without phonetic (<rPh>) runs."""
    parts = []
    for child in element:
        name = _local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(grand.text or "" for grand in child if _local(grand.tag) == "t")
    return "".join(parts)


def _cell_value(cell: ElementTree.Element) -> tuple[Any, int | None]:
    """(value, shared-string index or None) of one <c> element."""
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        inline = next((child for child in cell if _local(child.tag) == "is"), None)
        return ("" if inline is None else _text_of(inline)), None
    value = next((child.text for child in cell if _local(child.tag) == "v"), None)
    if value is None:
        return "", None
    if kind == "s":
        return "", int(value)
    if kind == "b":
        return value.strip() == "1", None
    if kind in ("str", "e", "d"):
        return value, None
    return float(value), None


def _sheet_rows(zf: zipfile.ZipFile, part: str, rows: int) -> tuple[list[list[Any]], list[tuple[int, int, int]]]:
    """The first `rows` rows, dense from A1, and where shared strings go: (row, column, index)."""
    found: dict[int, dict[int, Any]] = {}
    shared: list[tuple[int, int, int]] = []
    row_number = 0
    for element in _pull(zf, part):
        name = _local(element.tag)
        if name == "sheetData":
            break
        if name != "row":
            continue
        row_number = int(element.get("r") or row_number + 1)
        if row_number > rows:
            break
        cells: dict[int, Any] = {}
        position = -1
        for cell in element:
            if _local(cell.tag) != "c":
                continue
            ref = cell.get("r")
            column = _column(ref) if ref else None
            position = position + 1 if column is None else column
            value, index = _cell_value(cell)
            cells[position] = value
            if index is not None:
                shared.append((row_number, position, index))
        found[row_number] = cells
        element.clear()
    height = max(found, default=0)
    width = max((max(cells, default=-1) + 1 for cells in found.values()), default=0)
    grid = [[found.get(r, {}).get(c, "") for c in range(width)] for r in range(1, height + 1)]
    return grid, shared


class _SharedStrings:
    """The shared strings part, read only as far as the previewed rows need, once for every sheet."""

    def __init__(self, zf: zipfile.ZipFile, part: str | None) -> None:
        self._elements = _pull(zf, part) if part is not None and part in zf.NameToInfo else iter(())
        self.strings: list[str] = []

    def upto(self, last: int) -> list[str]:
        """The strings up to index `last` (fewer when the part has fewer)."""
        while len(self.strings) <= last:
            element = next(self._elements, None)
            if element is None:
                break
            if _local(element.tag) == "si":
                self.strings.append(_text_of(element))
                element.clear()
        return self.strings


def _small_part(zf: zipfile.ZipFile, part: str) -> ElementTree.Element:
    with zf.open(part) as stream:
        text = stream.read(MAX_PREVIEW_XML_BYTES + 1)
    if len(text) > MAX_PREVIEW_XML_BYTES:
        raise _TooLarge
    return ElementTree.fromstring(text)  # noqa: S314 - every DTD was refused by the gate (see _pull)


def _parts(zf: zipfile.ZipFile) -> tuple[list[tuple[str, str]], set[str], str | None]:
    """[(sheet name, part)] in the workbook's order, the hidden sheets' names and the shared strings part."""
    def target(value: str) -> str:
        return value.lstrip("/") if value.startswith("/") else posixpath.normpath("xl/" + value)

    rels = _small_part(zf, "xl/_rels/workbook.xml.rels")
    by_id, shared = {}, None
    for rel in rels:
        kind, where = rel.get("Type", ""), rel.get("Target", "")
        if kind.endswith("/sharedStrings"):
            shared = target(where)
        by_id[rel.get("Id")] = target(where)
    workbook = _small_part(zf, "xl/workbook.xml")
    tags = [tag for tag in workbook.iter() if _local(tag.tag) == "sheet"]
    sheets = [(tag.get("name", ""), by_id.get(tag.get(_REL_NS + "id"), "")) for tag in tags]  # entities decoded
    hidden = {tag.get("name", "") for tag in tags if tag.get("state", "visible") != "visible"}
    return sheets, hidden, shared


def _chosen(names: list[str], sheet: str | None, role: str, file: str) -> list[str]:
    if sheet is None:
        return names
    if sheet not in names:
        raise InputError("sheet_not_found", f"The {role} file '{file}' has no sheet named "
                         f"'{sheet}'. Its sheets are: {', '.join(names)}.", file=file)
    return [sheet]


class _Workbook:
    """The first rows of a workbook's sheets, one sheet at a time: `names` in the workbook's order,
    `hidden` (hidden or very hidden in Excel), `rows(name)`."""

    names: list[str]
    hidden: set[str]

    def rows(self, name: str) -> list[list[Any]]:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to release."""


class _Xlsx(_Workbook):
    def __init__(self, path: Path, rows: int) -> None:
        self._zf = zipfile.ZipFile(path)
        self._rows = rows
        parts, self.hidden, shared_part = _parts(self._zf)
        self.names = [name for name, _ in parts]
        self._part = dict(parts)
        self._strings = _SharedStrings(self._zf, shared_part)

    def rows(self, name: str) -> list[list[Any]]:
        part = self._part[name]
        grid, shared = _sheet_rows(self._zf, part, self._rows) if part in self._zf.NameToInfo else ([], [])
        if shared:
            strings = self._strings.upto(max(index for _, _, index in shared))
            for row, column, index in shared:
                grid[row - 1][column] = strings[index] if index < len(strings) else ""
        return grid

    def close(self) -> None:
        self._zf.close()


class SheetPreviews:
    """The first rows of an xlsx file's sheets, read as the header check reads them, for the reader's own
    header search when the whole preview could not run (`_search_workbook` gave up, e.g. on one sheet's
    16 MB of first rows): a sheet whose own preview works and holds no header is then never parsed in full,
    so decoy sheets before the data cost the reader their first rows, not a full parse each."""

    def __init__(self, path: Path, rows: int) -> None:
        try:
            self._book: _Xlsx | None = _Xlsx(path, rows)
        except Exception:  # noqa: BLE001 - not readable cheaply: every sheet is parsed, as before
            self._book = None

    def rows(self, name: str) -> list[list[Any]] | None:
        """The sheet's first rows; None when they cannot be read cheaply (the caller parses the sheet)."""
        if self._book is None or name not in self._book.names:
            return None
        try:
            return self._book.rows(name)
        except Exception:  # noqa: BLE001 - too large or malformed: the full parse decides, and names the problem
            return None

    def close(self) -> None:
        if self._book is not None:
            self._book.close()


class _Xls(_Workbook):
    def __init__(self, path: Path, rows: int) -> None:
        import python_calamine  # only for the legacy format, whose sheets are small

        self._book = python_calamine.CalamineWorkbook.from_path(str(path))
        self._rows = rows
        sheets = self._book.sheets_metadata
        self.names = [sheet.name for sheet in sheets]
        self.hidden = {sheet.name for sheet in sheets if sheet.visible != python_calamine.SheetVisibleEnum.Visible}

    def rows(self, name: str) -> list[list[Any]]:
        rows: list[list[Any]] = self._book.get_sheet_by_name(name).to_python(skip_empty_area=False)[:self._rows]
        return rows


def _search_workbook(path: Path, kind: str, role: str, rules: Rules, choices: list[Choice]) -> HeaderSearch | None:
    """The header search over the sheets' first rows, within the sheet budget; None when they cannot be
    read cheaply (the full read searches then)."""
    rows = rules.inputs.header_search_rows
    try:
        book: _Workbook = _Xls(path, rows) if kind == "xls" else _Xlsx(path, rows)
    except Exception:  # noqa: BLE001 - malformed or too large: the full read decides, and names the problem
        return None
    try:
        named = getattr(rules.inputs, role).sheet
        names = _chosen(book.names, named, role, path.name)
        budget = SheetBudget(rules.limits, role, path.name)
        return find_header(budget.sheets(names, book.rows), choices, rows, hidden=set() if named else book.hidden)
    except InputError:
        raise
    except Exception:  # noqa: BLE001 - as above
        return None
    finally:
        book.close()


def _csv(path: Path, role: str, rows: int) -> list[list[str]]:
    with path.open("rb") as stream:
        head = stream.read(CSV_PREVIEW_BYTES + 1)
    complete = len(head) <= CSV_PREVIEW_BYTES
    text = decode_text(head[:CSV_PREVIEW_BYTES], role, path.name, final=complete).text
    return csv_head(text, rows, complete=complete).rows


Sheets = list[tuple[str | None, list[list[Any]]]]


def first_rows(path: Path, kind: str, role: str, *, sheet: str | None, rows: int) -> Sheets | None:
    """The first `rows` rows of each candidate sheet (every sheet, or the named one); None when they
    cannot be read cheaply. The header check reads them one sheet at a time instead, within its budget."""
    if kind == "csv":
        return [(None, _csv(path, role, rows))]
    try:
        book: _Workbook = _Xls(path, rows) if kind == "xls" else _Xlsx(path, rows)
        try:
            return [(name, book.rows(name)) for name in _chosen(book.names, sheet, role, path.name)]
        finally:
            book.close()
    except InputError:
        raise
    except Exception:  # noqa: BLE001 - malformed or too large: the full read decides, and names the problem
        return None


@dataclass
class HeaderCheck:
    problem: InputError | None          # the file's header problem, if any
    sheet: str | None = None            # the sheet whose first rows hold the header (None: CSV, or not previewed)
    row: int | None = None              # the header's row, as a spreadsheet shows it (None: not previewed)
    profile: str | None = None          # the profile whose header it is (None: not previewed)

    @property
    def fits(self) -> bool:
        """The first rows hold a header of the role: the file surely is one."""
        return self.problem is None and self.row is not None


def check_headers(path: Path, kind: str, role: str, rules: Rules,
                  on_parse: Callable[[], None] | None = None) -> HeaderCheck:
    """The file's header problem (no column for a required field, no such sheet, too many sheets, ...)
    and where the header is.

    `on_parse` is called before a spreadsheet library reads the file (.xls), so that a reader
    that aborts is blamed on the file."""
    path = Path(path)
    search: HeaderSearch | None
    try:
        choices = candidate_profiles(rules, role)
        if kind == "csv":
            rows = rules.inputs.header_search_rows
            search = find_header([(None, _csv(path, role, rows))], choices, rows)
        else:
            if kind == "xls" and on_parse is not None:
                on_parse()
            search = _search_workbook(path, kind, role, rules, choices)
    except InputError as problem:
        return HeaderCheck(problem)
    if search is None:
        return HeaderCheck(None)
    if search.header is None:
        return HeaderCheck(missing_column_error(role, path.name, search))
    header = search.header
    return HeaderCheck(None, header.sheet, header.row_index + 1, header.profile.name if header.profile else None)


class SheetParse:
    """calamine's parse of one sheet, made while `meanwhile` (the pipeline's imports) runs in a thread.

    calamine's Rust parse releases the GIL, so the two overlap. The parse stays in the calling
    thread on purpose: in a thread of its own, its memory would come from another malloc arena,
    which the process does not reuse afterwards (measured: +460 MB peak RSS at Excel's maximum).
    Errors (a corrupt file) are kept and raised by `take()`, where the reader names the file."""

    def __init__(self, path: Path, sheet: str, meanwhile: Callable[[], None] | None = None) -> None:
        self.sheet = sheet
        loader = threading.Thread(target=meanwhile, name="imports", daemon=True) if meanwhile else None
        if loader is not None:
            loader.start()
        self._parsed: tuple[Any, Any] | None = None
        self._error: Exception | None = None
        try:
            import python_calamine

            workbook = python_calamine.CalamineWorkbook.from_path(str(path))
            self._parsed = workbook, workbook.get_sheet_by_name(sheet)
        except Exception as exc:  # noqa: BLE001 - raised again by take(), inside the reader's error handling
            self._error = exc
        finally:
            if loader is not None:
                loader.join()

    def take(self) -> tuple[Any, Any]:
        """(workbook, sheet), once: kept here, the parsed sheet would outlive its use."""
        parsed, self._parsed = self._parsed, None
        if self._error is not None:
            raise self._error
        if parsed is None:
            raise RuntimeError("the parsed sheet was already taken")
        return parsed


__all__ = ["HeaderCheck", "SheetParse", "check_headers", "first_rows"]
