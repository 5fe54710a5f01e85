"""A pure, streaming scanner of one worksheet's XML: how far its cells and rows reach.

It sees bytes only (no XML parser, no zip): `scan_sheet(chunks, bounds)` takes the
decompressed part in chunks and returns a `SheetScan`. It stops reading as soon as the
sheet is known to exceed `bounds`, so a hostile sheet costs little.

Two modes give the same answer. The fast path handles what real writers produce
(`<c r="B7">`, rising row numbers) with a few byte counts and one regex search per
block; anything unusual in a block falls back to per-cell parsing. Exact mode tracks
the current row and column tag by tag, for sheets whose cells or rows omit `r`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from xlsxwriter.utility import xl_col_to_name

__all__ = ["SheetBounds", "SheetScan", "SheetScanner", "TagTooLong", "col_letters", "col_number", "scan_sheet",
           "scan_sheet_exactly_if_needed"]

MAX_TAG_BYTES = 8 * 1024 * 1024    # a single tag longer than this is not a real sheet
MAX_COLUMN_LETTERS = 3             # XFD (16,384) is Excel's last column

# Tags may carry a namespace prefix (<x:c ...>), attributes in any order, either quote.
_PFX = rb"<(?:[A-Za-z_][\w.\-]*:)?"
_R_ATTR = rb"""[^<>]*?\sr\s*=\s*["']\$?([A-Za-z]*)\$?(\d*)"""
_CELL_FAST = re.compile(rb'<c r="([A-Z]+)(\d+)"')
_CELL_ANY = re.compile(_PFX + rb"c[\s/>]")
_CELL_GENERAL = re.compile(_PFX + rb"c(?=[\s/>])(?:" + _R_ATTR + rb")?")
_ROW_ANY = re.compile(_PFX + rb"row(?=[\s/>])(?:" + rb"""[^<>]*?\sr\s*=\s*["'](\d*)""" + rb")?")
_DIMENSION = re.compile(_PFX + rb"""dimension\b[^<>]*?\sref\s*=\s*["']([^"'<>]*)["']""")
_PREFIXED = re.compile(rb":(?:c|row)[\s/>]")
_REF = re.compile(rb"\$?([A-Za-z]+)\$?(\d+)")
_TOKEN = re.compile(_PFX + rb"(row|c)(?=[\s/>])(?:" + _R_ATTR + rb")?")


def col_number(letters: bytes | str) -> int:
    """1-based column number of `letters`; anything longer than three letters is past Excel's last column."""
    text = letters.decode("ascii", "replace") if isinstance(letters, bytes) else letters
    if len(text) > MAX_COLUMN_LETTERS:
        return 26 ** (MAX_COLUMN_LETTERS + 1)
    number = 0
    for char in text.upper():
        number = number * 26 + (ord(char) - 64)
    return number


def col_letters(number: int) -> str:
    """Letters of 1-based column `number` ("?" past any spreadsheet)."""
    if number < 1 or number > 26**6:
        return "?"
    return xl_col_to_name(number - 1)


def _row_number(digits: bytes) -> int:
    return int(digits[:20])


@dataclass(frozen=True)
class SheetBounds:
    max_rows: int
    max_columns: int
    max_cells: int


@dataclass
class SheetScan:
    max_row: int = 0
    max_col: int = 0
    dim_ref: str | None = None
    dim_row: int = 0
    dim_col: int = 0
    n_cells: int = 0
    n_rows: int = 0
    needs_exact: bool = False      # some cell or row omits r: only exact mode can place it
    bad_ref: str | None = None     # the first reference seen beyond the bounds
    stopped: bool = False          # reading stopped early: the sheet already exceeds the bounds

    def exceeds(self, bounds: SheetBounds) -> bool:
        dimension_over = self.dim_ref is not None and (
            self.dim_row > bounds.max_rows or self.dim_col > bounds.max_columns
        )
        return (
            self.max_row > bounds.max_rows
            or self.max_col > bounds.max_columns
            or self.n_cells > bounds.max_cells
            or self.n_rows > bounds.max_rows
            or dimension_over
        )


class TagTooLong(Exception):
    """One tag is longer than MAX_TAG_BYTES: not a sheet any real writer makes."""


class SheetScanner:
    """Feed it blocks that end at a tag boundary; read `scan` when done."""

    def __init__(self, bounds: SheetBounds, *, exact: bool) -> None:
        self.bounds = bounds
        self.exact = exact
        self.scan = SheetScan()
        self.row = 0       # exact mode: the current row ...
        self.column = 0    # ... and column

    def feed(self, block: bytes) -> None:
        if self.scan.dim_ref is None and b"dimension" in block:
            self._read_dimension(block)
        if self.exact:
            self._scan_exact(block)
        elif not self._scan_fast(block):
            self._scan_general(block)

    def _read_dimension(self, block: bytes) -> None:
        match = _DIMENSION.search(block)
        if not match:
            return
        scan = self.scan
        scan.dim_ref = match.group(1).decode("ascii", "replace")[:64]
        for letters, digits in _REF.findall(match.group(1)):
            scan.dim_col = max(scan.dim_col, col_number(letters))
            scan.dim_row = max(scan.dim_row, _row_number(digits))

    def _scan_exact(self, block: bytes) -> None:
        for tag, letters, digits in _TOKEN.findall(block):
            if tag == b"row":
                self._enter_row(digits)
            else:
                self._enter_cell(letters, digits)

    def _enter_row(self, digits: bytes) -> None:
        self.scan.n_rows += 1
        self.row = _row_number(digits) if digits else self.row + 1
        self.column = 0
        self.scan.max_row = max(self.scan.max_row, self.row)

    def _enter_cell(self, letters: bytes, digits: bytes) -> None:
        scan = self.scan
        scan.n_cells += 1
        self.column = col_number(letters) if letters else self.column + 1
        row = _row_number(digits) if digits else self.row
        scan.max_col = max(scan.max_col, self.column)
        scan.max_row = max(scan.max_row, row)
        if scan.bad_ref is None and (self.column > self.bounds.max_columns or row > self.bounds.max_rows):
            scan.bad_ref = f"{col_letters(self.column)}{row}"

    def _scan_fast(self, block: bytes) -> bool:
        """What real writers produce. Returns False when the block needs the general path."""
        cells, rows = block.count(b"<c"), block.count(b"<row")
        if (_PREFIXED.search(block) is not None or cells != block.count(b'<c r="')
                or rows != block.count(b'<row r="')):
            return False
        # Row numbers rise through the sheet, so the block's last <row r="N"> is its maximum; one
        # regex search then proves no cell or row in the block goes beyond the running maxima.
        max_row = self.scan.max_row
        last = block.rfind(b'<row r="')
        if last != -1:
            end = block.find(b'"', last + 8)
            digits = block[last + 8 : end] if end != -1 else b""
            if not (digits.isdigit() and len(digits) <= 20):
                return False
            max_row = max(max_row, int(digits))
        if _beyond(self.scan.max_col, max_row).search(block) is not None:
            return False
        self.scan.max_row = max_row
        self.scan.n_cells += cells
        self.scan.n_rows += rows
        return True

    def _scan_general(self, block: bytes) -> None:
        scan = self.scan
        rows = _ROW_ANY.findall(block)
        scan.n_rows += len(rows)
        numbered = {r for r in rows if r}
        if not all(rows):         # a row without r: only exact mode can number it
            scan.needs_exact = True
        if numbered:
            scan.max_row = max(scan.max_row, max(_row_number(r) for r in numbered))
        refs = self._cell_refs(block)
        if not refs:
            return
        block_col = max(col_number(c) for c, _ in refs)
        block_row = max(_row_number(r) for _, r in refs)
        if scan.bad_ref is None and (block_col > self.bounds.max_columns or block_row > self.bounds.max_rows):
            scan.bad_ref = self._first_beyond(refs)
        scan.max_col = max(scan.max_col, block_col)
        scan.max_row = max(scan.max_row, block_row)

    def _cell_refs(self, block: bytes) -> list[tuple[bytes, bytes]]:
        fast = _CELL_FAST.findall(block)
        n_cells = len(_CELL_ANY.findall(block))
        self.scan.n_cells += n_cells
        if len(fast) == n_cells:
            return fast
        general = _CELL_GENERAL.findall(block)
        refs = [(c, r) for c, r in general if c and r]
        if len(refs) < len(general):
            self.scan.needs_exact = True
        return refs

    def _first_beyond(self, refs: list[tuple[bytes, bytes]]) -> str | None:
        for letters, digits in refs:
            if col_number(letters) > self.bounds.max_columns or _row_number(digits) > self.bounds.max_rows:
                return (letters + digits[:20]).decode("ascii", "replace").upper()
        return None


def scan_sheet(chunks: Iterable[bytes], bounds: SheetBounds, *, exact: bool = False) -> SheetScan:
    """Scan a sheet part given as decompressed chunks of any size. Raises TagTooLong."""
    scanner = SheetScanner(bounds, exact=exact)
    carry = b""
    for chunk in chunks:
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"<")
        if cut == -1 or data.find(b">", cut) != -1:
            cut = len(data)           # the block ends on a complete tag
        carry = data[cut:]
        if len(carry) > MAX_TAG_BYTES:
            raise TagTooLong
        scanner.feed(data[:cut])
        if scanner.scan.exceeds(bounds):
            scanner.scan.stopped = True
            return scanner.scan
    if carry:
        scanner.feed(carry)
    return scanner.scan


def scan_sheet_exactly_if_needed(read_chunks: Callable[[], Iterable[bytes]], bounds: SheetBounds) -> SheetScan:
    """The fast scan, then the exact one when some cell or row lacks its reference (same answer as exact mode)."""
    scan = scan_sheet(read_chunks(), bounds)
    if scan.needs_exact:
        scan = scan_sheet(read_chunks(), bounds, exact=True)
    return scan


def _greater(value: str, cls: str, alphabet: str) -> bytes:
    """Regex alternatives matching strings of `alphabet` ordered after `value` (same or longer length)."""
    alts = [f"{cls}{{{len(value) + 1},}}"]
    for i, char in enumerate(value):
        higher = alphabet[alphabet.index(char) + 1 :] if char in alphabet else ""
        if higher:
            alts.append(re.escape(value[:i]) + f"[{higher[0]}-{higher[-1]}]" + f"{cls}{{{len(value) - i - 1}}}")
    return "|".join(alts).encode()


_BEYOND_CACHE: dict[tuple[int, int], re.Pattern[bytes]] = {}


def _beyond(max_col: int, max_row: int) -> re.Pattern[bytes]:
    """A search that finds any r="..." reference beyond (max_col, max_row), or one in an odd form."""
    key = (max_col, max_row)
    pattern = _BEYOND_CACHE.get(key)
    if pattern is None:
        if len(_BEYOND_CACHE) > 256:
            _BEYOND_CACHE.clear()
        cols = _greater(col_letters(max_col) if max_col else "", "[A-Z]", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        rows = _greater(str(max_row), "[0-9]", "0123456789")
        pattern = re.compile(
            rb' r="(?:(?:' + cols + rb')[0-9]|[A-Z]*+(?:' + rows + rb')"|[A-Z]*+[0-9]*+[^A-Z0-9"])'
        )
        _BEYOND_CACHE[key] = pattern
    return pattern
