"""A pure, streaming scanner of one worksheet's XML: how far its cells and rows reach.

It sees bytes only (no XML parser, no zip): `scan_sheet(chunks, bounds)` takes the
decompressed part in chunks and returns a `SheetScan`. It stops reading as soon as the
sheet is known to exceed `bounds`, so a hostile sheet costs little.

Two modes give the same answer. The fast path handles what real writers produce
(`<c r="B7">`, rising row numbers): per block, two byte counts and three searches that
each stop only at tags and fail at once on a normal one. They prove that every cell
and row is plain, no column passes the running maximum and every row number shares the
block's leading digits (rows 500,001 to 504,800: 50[0-4]ddd, so at most 504,999). A
block whose bound passes its last row is kept until later rows pass the bound, or its
row numbers are read when the scan ends. A block that does not fit gets a stricter
search against the last row, then per-cell parsing. Exact mode tracks the current row
and column tag by tag, for sheets whose cells or rows omit `r`.
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
MAX_UNRESOLVED_BYTES = 16 * 1024 * 1024   # fast blocks kept until the rows pass their bound

# Tags may carry a namespace prefix (<x:c ...>), attributes in any order, either quote.
_PFX = rb"<(?:[A-Za-z_][\w.\-]*:)?"
_R_ATTR = rb"""[^<>]*?\sr\s*=\s*["']\$?([A-Za-z]*)\$?(\d*)"""
_CELL_FAST = re.compile(rb'<c r="([A-Z]+)(\d+)"')
_CELL_OR_ROW_NUMBER = re.compile(rb'<(?:c r="[A-Z]+|row r=")([0-9]+)"')
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
    """Feed it blocks that end at a tag boundary, then call `finish()` for the scan."""

    def __init__(self, bounds: SheetBounds, *, exact: bool) -> None:
        self.bounds = bounds
        self.exact = exact
        self.scan = SheetScan()
        self.row = 0       # exact mode: the current row ...
        self.column = 0    # ... and column
        self.unresolved: list[tuple[bytes, int]] = []   # fast blocks whose rows are known only up to a bound

    def feed(self, block: bytes) -> None:
        if self.scan.dim_ref is None and b"dimension" in block:
            self._read_dimension(block)
        if self.exact:
            self._scan_exact(block)
        elif not self._scan_fast(block):
            self._scan_general(block)
        self._release_unresolved()

    def finish(self) -> SheetScan:
        """Settle the blocks whose largest row was only bounded; the scan then equals exact mode's."""
        while self.unresolved:
            self._resolve_oldest()
        return self.scan

    def _release_unresolved(self) -> None:
        if not self.unresolved:
            return
        self.unresolved = [(block, bound) for block, bound in self.unresolved if bound > self.scan.max_row]
        while sum(len(block) for block, _ in self.unresolved) > MAX_UNRESOLVED_BYTES:
            self._resolve_oldest()

    def _resolve_oldest(self) -> None:
        block, _ = self.unresolved.pop(0)
        # The block was proven to hold only <c r="A1"> and <row r="1"> tags: read every row number.
        numbers = (_row_number(digits) for digits in _CELL_OR_ROW_NUMBER.findall(block))
        self.scan.max_row = max(self.scan.max_row, max(numbers, default=0))

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
        if b":" in block and _PREFIXED.search(block) is not None:    # a one-byte find is far cheaper
            return False
        span = _row_span(block)
        if span is None:
            return False
        first, last = span
        max_row = max(self.scan.max_row, last)
        cells = block.count(b'<c r="')
        if max_row > self.bounds.max_rows or (cells and not self.scan.max_col):
            return False          # the general path names the first cell beyond the bounds
        bound = self._prefix_bound(block, first, max_row)
        if bound is None and not self._within(block, cells, max_row):
            return False
        if bound is not None and bound > max_row:
            self.unresolved.append((block, bound))   # a row up to `bound` may hide in it: settled later
        self.scan.max_row = max_row
        self.scan.n_cells += cells
        self.scan.n_rows += block.count(b'<row r="')
        return True

    def _prefix_bound(self, block: bytes, first: int, max_row: int) -> int | None:
        """Prove with one cheap search per tag kind that every cell and row in the block is a plain
        `<c r="B123">` / `<row r="123">` whose column is at most the running maximum and whose row
        shares a prefix with `max_row`, e.g. 50[0-4]ddd for rows 500,001 to 504,800. Returns that
        bound on the block's rows (504,999 here), or None when the block does not fit the pattern."""
        lowest = min(self.scan.max_row, first) if self.scan.max_row and first else (first or max_row)
        low, high = str(lowest), str(max_row)
        if len(low) != len(high):
            return None
        shared = next((i for i, (a, b) in enumerate(zip(low, high, strict=True)) if a != b), len(high) - 1)
        bound = int(high[: shared + 1] + "9" * (len(high) - shared - 1))
        if bound > self.bounds.max_rows:
            return None
        cells, rows = _outside_prefix(self.scan.max_col, high[:shared], high[shared], len(high) - shared - 1)
        if cells.search(block) is not None or rows.search(block) is not None:
            return None
        return bound

    def _within(self, block: bytes, cells: int, max_row: int) -> bool:
        """Every cell and row tag carries a plain reference within (running max column, `max_row`)."""
        return (cells == block.count(b"<c") and block.count(b'<row r="') == block.count(b"<row")
                and _odd_or_beyond(self.scan.max_col, max_row).search(block) is None)

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
        block_col = max(col_number(c) for c in {c for c, _ in refs})
        block_row = max(_row_number(r) for r in {r for _, r in refs})
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
            column, row = col_number(letters), _row_number(digits)
            if column > self.bounds.max_columns or row > self.bounds.max_rows:
                return f"{col_letters(column)}{row}"      # named as exact mode names it
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
            return scanner.finish()
    if carry:
        scanner.feed(carry)
    return scanner.finish()


def scan_sheet_exactly_if_needed(read_chunks: Callable[[], Iterable[bytes]], bounds: SheetBounds) -> SheetScan:
    """The fast scan, then the exact one when some cell or row lacks its reference (same answer as exact mode)."""
    scan = scan_sheet(read_chunks(), bounds)
    if scan.needs_exact:
        scan = scan_sheet(read_chunks(), bounds, exact=True)
    return scan


def _greater(value: str, alphabet: str) -> str | None:
    """A regex of width len(value) matching the strings of `alphabet` that sort after `value`, or None.

    Nested, so that a string below `value` fails at its first differing character."""
    cls = f"[{alphabet[0]}-{alphabet[-1]}]"
    pattern: str | None = None
    for i in reversed(range(len(value))):
        higher = alphabet[alphabet.index(value[i]) + 1 :]
        rest = len(value) - i - 1
        alts = [f"[{higher[0]}-{higher[-1]}]" + (f"{cls}{{{rest}}}" if rest else "")] if higher else []
        if pattern is not None:
            alts.append(re.escape(value[i]) + pattern)
        pattern = f"(?:{'|'.join(alts)})" if alts else None
    return pattern


_ODD_CACHE: dict[tuple[int, int], re.Pattern[bytes]] = {}


def _odd_or_beyond(max_col: int, max_row: int) -> re.Pattern[bytes]:
    """A search that finds any r="..." reference beyond (max_col, max_row), or one in an odd form.

    A normal reference is 1 to len(max_col's letters) capitals then 1 to len(str(max_row)) digits
    and a closing quote (a row's: no capitals). Both runs are taken possessively; what follows each
    is checked with one character test, and a run as long as its maximum with one fixed-width look
    back, so that a normal reference costs a few tests and no backtracking."""
    key = (max_col, max_row)
    pattern = _ODD_CACHE.get(key)
    if pattern is None:
        if len(_ODD_CACHE) > 256:
            _ODD_CACHE.clear()
        letters, digits = col_letters(max_col) if max_col else "", str(max_row)
        more_letters = _greater(letters, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        more_digits = _greater(digits, "0123456789")
        after_letters = [r"[^0-9]", r"\Z", r'(?<=<c r=")']        # not a digit next; a cell without letters
        if more_letters:
            after_letters.append(f"(?<={more_letters})")
        after_digits = [r'[^"]', r"\Z"] + ([f"(?<={more_digits})"] if more_digits else [])
        after_letters.append(f"[0-9]{{1,{len(digits)}}}+(?:{'|'.join(after_digits)})")
        source = f' r="[A-Z]{{0,{len(letters)}}}+(?:{"|".join(after_letters)})'
        pattern = re.compile(source.encode())
        _ODD_CACHE[key] = pattern
    return pattern


def _row_span(block: bytes) -> tuple[int, int] | None:
    """The numbers of the block's first and last <row r="N"> (0, 0 without rows); None when one is not plain."""
    numbers = []
    for at in (block.find(b'<row r="'), block.rfind(b'<row r="')):
        if at == -1:
            return 0, 0
        end = block.find(b'"', at + 8)
        digits = block[at + 8 : end] if end != -1 else b""
        if not (digits.isdigit() and len(digits) <= 20):
            return None
        numbers.append(int(digits))
    return numbers[0], numbers[1]


def _at_most(value: str, alphabet: str) -> str:
    """A regex of width len(value) matching the strings of `alphabet` that do not sort after `value`."""
    cls = f"[{alphabet[0]}-{alphabet[-1]}]"
    pattern = f"[{alphabet[0]}-{value[-1]}]"
    for i in reversed(range(len(value) - 1)):
        lower = alphabet[: alphabet.index(value[i])]
        rest = len(value) - i - 1
        equal = re.escape(value[i]) + pattern
        pattern = f"(?:[{lower[0]}-{lower[-1]}]{cls}{{{rest}}}|{equal})" if lower else equal
    return pattern


_PREFIX_CACHE: dict[tuple[int, str, str, int], tuple[re.Pattern[bytes], re.Pattern[bytes]]] = {}


def _outside_prefix(max_col: int, prefix: str, top: str, tail: int) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """Searches for a <c...> or <row...> tag that is not `<c r="` letters (at most max_col's) `prefix`
    [0-top] and `tail` digits `"` (a row the same without letters). No alternation runs on a normal
    reference of one letter, so each search costs little more than finding the tags."""
    key = (max_col, prefix, top, tail)
    patterns = _PREFIX_CACHE.get(key)
    if patterns is None:
        if len(_PREFIX_CACHE) > 256:
            _PREFIX_CACHE.clear()
        letters = col_letters(max_col)
        if not max_col:
            column = "(?!)"            # no cell may appear yet
        elif len(letters) == 1:
            column = f"[A-{letters}]"
        else:
            column = f"(?:[A-Z]{{1,{len(letters) - 1}}}+|{_at_most(letters, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')})"
        number = f'{re.escape(prefix)}[0-{top}]' + (f"[0-9]{{{tail}}}" if tail else "") + '"'
        cells = f'<c(?! r="{column}{number})'
        patterns = re.compile(cells.encode()), re.compile(f'<row(?! r="{number})'.encode())
        _PREFIX_CACHE[key] = patterns
    return patterns
