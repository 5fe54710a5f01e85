"""The pre-parse safety gate.

`inspect_file` runs before any spreadsheet library opens an upload. It looks at
the raw bytes only (magic numbers, the zip central directory, bounded streaming
reads of the XML parts) and rejects anything that could crash, hang or exhaust
the memory of the readers: zip bombs, XML entity bombs, sheets whose cells sit
far outside the used area, encrypted workbooks, files in disguise.

Budget: well under 2 s and 300 MB even for hostile files; about a second for a
legitimate 1,000,000-row sheet. It never raises anything but `InputError`.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import InputError
from .rules import Limits

__all__ = ["inspect_file"]

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
EXTENSIONS = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".csv": "csv"}

HEAD_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
RATIO_MIN_BYTES = 1024 * 1024      # smaller parts legitimately compress very well
MAX_TAG_BYTES = 8 * 1024 * 1024    # a single tag longer than this is not a real sheet
MAX_RELS_BYTES = 4 * 1024 * 1024   # workbook.xml / workbook.xml.rels read for sheet names

ENCRYPTION_MARKERS = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))

PASSWORD_HELP = (
    "Remove the password in Excel (File > Info > Protect Workbook > Encrypt with Password, "
    "clear the password, save) and upload it again."
)

# --- worksheet scanning -----------------------------------------------------------------
# Tags may carry a namespace prefix (<x:c ...>), attributes in any order, either quote.
_PFX = rb"<(?:[A-Za-z_][\w.\-]*:)?"
_R_ATTR = rb"""[^<>]*?\sr\s*=\s*["']\$?([A-Za-z]*)\$?(\d*)"""
# Fast path: what Excel, xlsxwriter, openpyxl and friends write.
_CELL_FAST = re.compile(rb'<c r="([A-Z]+)(\d+)"')
_CELL_ANY = re.compile(_PFX + rb"c[\s/>]")
_CELL_GENERAL = re.compile(_PFX + rb"c(?=[\s/>])(?:" + _R_ATTR + rb")?")
_ROW_ANY = re.compile(_PFX + rb"row(?=[\s/>])(?:" + rb"""[^<>]*?\sr\s*=\s*["'](\d*)""" + rb")?")
_DIMENSION = re.compile(_PFX + rb"""dimension\b[^<>]*?\sref\s*=\s*["']([^"'<>]*)["']""")
_PREFIXED = re.compile(rb":(?:c|row)[\s/>]")
_REF = re.compile(rb"\$?([A-Za-z]+)\$?(\d+)")
# Exact (slow) mode for sheets whose cells or rows omit the r attribute.
_TOKEN = re.compile(
    _PFX + rb"(row|c)(?=[\s/>])(?:" + rb"""[^<>]*?\sr\s*=\s*["']\$?([A-Za-z]*)\$?(\d*)""" + rb")?"
)

_RELS_TARGET = re.compile(rb"<(?:[\w.\-]+:)?Relationship\b[^<>]*>", re.S)
_ATTR = re.compile(rb"""([\w:.\-]+)\s*=\s*["']([^"']*)["']""")
_SHEET_TAG = re.compile(rb"<(?:[\w.\-]+:)?sheet\b[^<>]*>", re.S)
_SHEET_TYPES = (b"/worksheet", b"/macrosheet", b"/dialogsheet", b"/chartsheet")


def _col_number(letters: bytes | str) -> int:
    if isinstance(letters, bytes):
        letters = letters.decode("ascii", "replace")
    number = 0
    for char in letters.upper()[:12]:  # 12 letters already overflow any limit
        number = number * 26 + (ord(char) - 64)
    if len(letters) > 12:
        number = 26**13
    return number


def _col_letters(number: int) -> str:
    if number > 26**6:
        return "?"
    letters = ""
    while number > 0:
        number, rem = divmod(number - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _fmt(number: int) -> str:
    return f"{number:,}"


@dataclass
class _SheetScan:
    max_row: int = 0
    max_col: int = 0
    dim_ref: str | None = None
    dim_row: int = 0
    dim_col: int = 0
    n_cells: int = 0
    n_rows: int = 0
    needs_exact: bool = False
    bad_ref: str | None = None

    def add_rows(self, rows: list[bytes]) -> None:
        self.n_rows += len(rows)
        numbers = {r for r in rows if r}
        if len(numbers) < len(rows):
            self.needs_exact = True
        if numbers:
            self.max_row = max(self.max_row, max(int(r[:20]) for r in numbers))


# --- helpers ----------------------------------------------------------------------------


class _Gate:
    def __init__(self, path: Path, limits: Limits, role: str) -> None:
        self.path = path
        self.limits = limits
        self.role = role
        self.name = path.name

    # messages -------------------------------------------------------------------------
    @property
    def who(self) -> str:
        return f"The {self.role} file '{self.name}'"

    def error(self, code: str, message: str, *, sheet: str | None = None, **details: object) -> InputError:
        return InputError(code=code, message=message, file=self.name, sheet=sheet, details=dict(details))

    # entry point ------------------------------------------------------------------------
    def run(self) -> str:
        path = self.path
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise self.error("file_not_found", f"{self.who} was not found. Check the name and upload it again.")
        except OSError as exc:
            raise self.error(
                "file_not_found",
                f"{self.who} could not be opened ({exc.strerror or 'access denied'}). Upload it again.",
            )
        if not stat.S_ISREG(st.st_mode):
            raise self.error("file_not_found", f"{self.who} is not a regular file. Upload the spreadsheet itself.")

        ext = path.suffix.lower()
        if ext not in EXTENSIONS:
            shown = ext or "no extension"
            raise self.error(
                "unsupported_format",
                f"{self.who} has {shown if not ext else 'the extension ' + ext}, which this tool does not read. "
                "Save it as an Excel workbook (.xlsx) or as CSV (.csv) and upload that.",
                extension=ext,
            )
        size = st.st_size
        if size == 0:
            raise self.error("empty_file", f"{self.who} is empty (0 bytes). Export it again and upload the new file.")
        if size > self.limits.max_file_bytes:
            raise self.error(
                "file_too_large",
                f"{self.who} is {size / 1048576:,.1f} MB, more than the {self.limits.max_file_bytes / 1048576:,.0f} MB "
                "this tool accepts. Remove unneeded sheets or columns, or split it, and upload again.",
                size=size,
                max_file_bytes=self.limits.max_file_bytes,
            )

        try:
            with open(path, "rb") as fh:
                head = fh.read(HEAD_BYTES)
        except OSError as exc:
            raise self.error("file_not_found", f"{self.who} could not be read ({exc.strerror}). Upload it again.")

        if head.startswith(ZIP_MAGIC):
            return self.zip_kind(ext)
        if head.startswith(OLE_MAGIC):
            return self.ole_kind(ext)
        return self.text_kind(ext, head)

    # formats ----------------------------------------------------------------------------
    def zip_kind(self, ext: str) -> str:
        if ext == ".xls":
            raise self.error(
                "format_mismatch",
                f"{self.who} is named .xls but is really a modern Excel workbook. "
                "Rename it to .xlsx and upload it again.",
                detected="xlsx",
            )
        if ext == ".csv":
            raise self.error(
                "format_mismatch",
                f"{self.who} is named .csv but is really an Excel workbook. "
                "Rename it to .xlsx, or open it in Excel and save it as CSV, and upload it again.",
                detected="xlsx",
            )
        self.check_zip()
        return "xlsx"

    def ole_encrypted(self) -> bool:
        overlap = max(len(m) for m in ENCRYPTION_MARKERS)
        tail = b""
        with open(self.path, "rb") as fh:
            while True:
                block = fh.read(CHUNK_BYTES)
                if not block:
                    return False
                data = tail + block
                if any(marker in data for marker in ENCRYPTION_MARKERS):
                    return True
                tail = data[-overlap:]

    def ole_kind(self, ext: str) -> str:
        encrypted = self.ole_encrypted()
        if encrypted:
            raise self.error("encrypted_file", f"{self.who} is protected with a password. {PASSWORD_HELP}")
        if ext == ".xls":
            return "xls"
        if ext == ".csv":
            raise self.error(
                "format_mismatch",
                f"{self.who} is named .csv but is really an old-style Excel workbook (.xls). "
                "Rename it to .xls, or open it in Excel and save it as .xlsx, and upload it again.",
                detected="xls",
            )
        raise self.error(
            "format_mismatch",
            f"{self.who} is named {ext} but is really an old-style Excel workbook (.xls). "
            "Open it in Excel and save it as .xlsx (File > Save As > Excel Workbook), or rename it to .xls.",
            detected="xls",
        )

    def text_kind(self, ext: str, head: bytes) -> str:
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise self.error(
                "not_a_spreadsheet",
                f"{self.who} is saved as UTF-16 ('Unicode Text'), which this tool does not read. "
                "Save it from Excel as 'CSV UTF-8' or as an Excel workbook (.xlsx) and upload that.",
            )
        if b"\x00" in head:
            if ext == ".csv":
                msg = (
                    f"{self.who} is not a text file: it contains binary data. "
                    "Export it again as 'CSV UTF-8' or as an Excel workbook (.xlsx)."
                )
            else:
                msg = (
                    f"{self.who} is not an Excel workbook or a CSV file; it may be damaged. "
                    "Open it in Excel, save it as .xlsx and upload that."
                )
            raise self.error("not_a_spreadsheet", msg)
        if ext in (".xlsx", ".xlsm", ".xls"):
            sniff = head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
            if sniff.startswith((b"<html", b"<!doctype", b"<table", b"<?xml", b"<")):
                what = "a web page or XML text"
                how = "open it in Excel and save it as an Excel workbook (.xlsx)"
            else:
                what = "CSV text"
                how = "rename it to .csv, or open it in Excel and save it as an Excel workbook (.xlsx)"
            raise self.error(
                "format_mismatch",
                f"{self.who} is named {ext} but contains {what}, not an Excel workbook. "
                f"To fix it, {how}, then upload it again.",
                detected="csv",
            )
        self.check_csv()
        return "csv"

    def check_csv(self) -> None:
        newlines = 0
        carriage = 0
        with open(self.path, "rb") as fh:
            while True:
                block = fh.read(CHUNK_BYTES)
                if not block:
                    break
                newlines += block.count(b"\n")
                carriage += block.count(b"\r")
        lines = max(newlines, carriage)
        if lines > self.limits.max_rows + 1:
            raise self.error(
                "too_many_rows",
                f"{self.who} has about {_fmt(lines)} lines, more than the {_fmt(self.limits.max_rows)} rows "
                "this tool accepts. Split it into smaller files and upload them one at a time.",
                lines=lines,
                max_rows=self.limits.max_rows,
            )

    # xlsx ---------------------------------------------------------------------------------
    def corrupt(self, why: str = "is damaged or incomplete") -> InputError:
        return self.error(
            "corrupt_file",
            f"{self.who} {why}, so it cannot be read. Open it in Excel, save it again (or export it again) "
            "and upload the new file.",
        )

    def unsafe(self, why: str, **details: object) -> InputError:
        return self.error(
            "unsafe_file",
            f"{self.who} {why}. This is not how Excel saves workbooks, so it was refused for safety; "
            "open it in Excel, save it as a new .xlsx and upload that.",
            **details,
        )

    def check_zip(self) -> None:
        try:
            zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError, NotImplementedError):
            raise self.corrupt("is damaged or incomplete (perhaps the upload was cut off)")
        with zf:
            try:
                self.check_zip_open(zf)
            except InputError:
                raise
            except (zipfile.BadZipFile, EOFError, ValueError, OSError, RuntimeError, NotImplementedError):
                raise self.corrupt()
            except Exception:  # zlib.error and anything else a hostile archive provokes
                raise self.corrupt()

    def check_zip_open(self, zf: zipfile.ZipFile) -> None:
        limits = self.limits
        infos = zf.infolist()
        if len(infos) > limits.max_zip_entries:
            raise self.unsafe(
                f"contains {_fmt(len(infos))} internal parts, more than the {_fmt(limits.max_zip_entries)} allowed",
                entries=len(infos),
            )
        total = 0
        for info in infos:
            if info.flag_bits & 0x1:
                raise self.corrupt("is an encrypted zip archive, not a normal Excel workbook")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.unsafe("uses an unusual compression method", part=info.filename)
            total += info.file_size
            if info.file_size > RATIO_MIN_BYTES:
                ratio = info.file_size / max(info.compress_size, 1)
                if ratio > limits.max_compression_ratio:
                    raise self.unsafe(
                        f"contains a part ({info.filename}) that expands {ratio:,.0f} times when unpacked "
                        f"(a 'zip bomb'; the limit is {limits.max_compression_ratio:,.0f} times)",
                        part=info.filename,
                        ratio=round(ratio, 1),
                    )
        if total > limits.max_uncompressed_bytes:
            raise self.unsafe(
                f"would unpack to {total / 1048576:,.0f} MB, more than the "
                f"{limits.max_uncompressed_bytes / 1048576:,.0f} MB allowed",
                uncompressed_bytes=total,
            )
        names = {info.filename for info in infos}
        if "xl/workbook.xml" not in names:
            raise self.corrupt("is a zip archive but not an Excel workbook (it has no xl/workbook.xml)")

        for info in infos:
            if info.is_dir() or info.file_size == 0:
                continue
            self.check_xml_prolog(zf, info)

        sheet_names = self.sheet_names(zf, names)
        sheet_parts = [info for info in infos if self.is_sheet_part(info.filename, sheet_names)]
        for info in sheet_parts:
            self.check_sheet(zf, info, sheet_names.get(info.filename))

    @staticmethod
    def is_sheet_part(name: str, sheet_names: dict[str, str]) -> bool:
        if name in sheet_names:
            return True
        return name.startswith(("xl/worksheets/", "xl/macrosheets/", "xl/dialogsheets/")) and name.endswith(".xml")

    def check_xml_prolog(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        """Refuse DOCTYPE/ENTITY declarations (entity-expansion bombs, external entities)."""
        with zf.open(info) as fh:
            head = fh.read(HEAD_BYTES)
        if self._has_dtd(head):
            raise self.unsafe(
                f"contains a document type declaration in {info.filename} (a way to hide an 'XML bomb')",
                part=info.filename,
            )

    @staticmethod
    def _has_dtd(head: bytes) -> bool:
        text = head
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:4].count(b"\x00") >= 1:
            for enc in ("utf-16", "utf-16-le", "utf-16-be"):
                try:
                    text = head[: len(head) // 2 * 2].decode(enc, "ignore").encode("utf-8", "ignore")
                except Exception:  # noqa: BLE001 - keep trying other encodings
                    continue
                if b"<" in text:
                    break
            if b"\x00" in head:
                text = text + b"\n" + head.replace(b"\x00", b"")
        upper = text.upper()
        return b"<!DOCTYPE" in upper or b"<!ENTITY" in upper

    def read_bounded(self, zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
        try:
            with zf.open(name) as fh:
                return fh.read(limit)
        except KeyError:
            return b""

    def sheet_names(self, zf: zipfile.ZipFile, names: set[str]) -> dict[str, str]:
        """Map sheet part name -> sheet name as the user sees it (best effort)."""
        result: dict[str, str] = {}
        rels = self.read_bounded(zf, "xl/_rels/workbook.xml.rels", MAX_RELS_BYTES)
        workbook = self.read_bounded(zf, "xl/workbook.xml", MAX_RELS_BYTES)
        targets: dict[bytes, str] = {}
        for tag in _RELS_TARGET.findall(rels):
            attrs = dict((k.split(b":")[-1], v) for k, v in _ATTR.findall(tag))
            rtype = attrs.get(b"Type", b"")
            target = attrs.get(b"Target", b"").decode("utf-8", "replace")
            if not target or not any(rtype.endswith(t) for t in _SHEET_TYPES):
                continue
            if target.startswith("/"):
                part = target.lstrip("/")
            else:
                part = _normpath("xl/" + target)
            targets[attrs.get(b"Id", b"")] = part
            result[part] = ""
        for tag in _SHEET_TAG.findall(workbook):
            attrs = {}
            for key, value in _ATTR.findall(tag):
                attrs[key] = value
            rid = next((v for k, v in attrs.items() if k.endswith(b":id") or k == b"id"), None)
            name = attrs.get(b"name")
            if rid in targets and name is not None:
                result[targets[rid]] = _unescape(name.decode("utf-8", "replace"))
        return {part: name for part, name in result.items() if part in names}

    def check_sheet(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, sheet_name: str | None) -> None:
        try:
            scan = self.scan_sheet(zf, info, exact=False)
            if scan.needs_exact:
                scan = self.scan_sheet(zf, info, exact=True)
        except _Stop as stop:
            scan = stop.scan
        self.judge(scan, info.filename, sheet_name)

    def scan_sheet(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, *, exact: bool) -> _SheetScan:
        scan = _SheetScan()
        carry = b""
        first = True
        state = [0, 0]  # exact mode: current row, current column
        with zf.open(info) as fh:
            while True:
                block = fh.read(CHUNK_BYTES)
                if not block:
                    break
                if first:
                    first = False
                    if self._has_dtd(block[:HEAD_BYTES]):
                        raise self.unsafe(
                            f"contains a document type declaration in {info.filename}", part=info.filename
                        )
                data = carry + block if carry else block
                cut = data.rfind(b"<")
                if cut == -1 or data.find(b">", cut) != -1:
                    cut = len(data)
                carry = data[cut:]
                if len(carry) > MAX_TAG_BYTES:
                    raise self.unsafe(f"has a tag longer than 8 MB in {info.filename}", part=info.filename)
                self.scan_block(data[:cut] if cut < len(data) else data, scan, exact, state)
                self.early_exit(scan, info.filename)
        if carry:
            self.scan_block(carry, scan, exact, state)
        return scan

    def early_exit(self, scan: _SheetScan, part: str) -> None:
        # Stop streaming as soon as the answer is known (keeps hostile files cheap).
        limits = self.limits
        if (
            scan.max_row > limits.max_rows
            or scan.n_cells > limits.max_cells
            or scan.n_rows > limits.max_rows
            or (scan.dim_ref is not None and (scan.dim_row > limits.max_rows or scan.dim_col > limits.max_columns))
        ):
            raise _Stop(scan)
        if scan.max_col > limits.max_columns:
            raise _Stop(scan)

    def scan_block(self, block: bytes, scan: _SheetScan, exact: bool, state: list[int]) -> None:
        if scan.dim_ref is None and b"dimension" in block:
            match = _DIMENSION.search(block)
            if match:
                scan.dim_ref = match.group(1).decode("ascii", "replace")[:64]
                for letters, digits in _REF.findall(match.group(1)):
                    scan.dim_col = max(scan.dim_col, _col_number(letters))
                    scan.dim_row = max(scan.dim_row, int(digits[:20]))

        if exact:
            for tag, letters, digits in _TOKEN.findall(block):
                if tag == b"row":
                    scan.n_rows += 1
                    state[0] = int(digits[:20]) if digits else state[0] + 1
                    state[1] = 0
                    scan.max_row = max(scan.max_row, state[0])
                else:
                    scan.n_cells += 1
                    if letters or digits:
                        state[1] = _col_number(letters) if letters else state[1] + 1
                        row = int(digits[:20]) if digits else state[0]
                    else:
                        state[1] += 1
                        row = state[0]
                    scan.max_col = max(scan.max_col, state[1])
                    scan.max_row = max(scan.max_row, row)
                    if scan.bad_ref is None and (
                        state[1] > self.limits.max_columns or row > self.limits.max_rows
                    ):
                        scan.bad_ref = f"{_col_letters(state[1])}{row}"
            return

        if (
            _PREFIXED.search(block) is None
            and block.count(b"<c") == block.count(b'<c r="')
            and block.count(b"<row") == block.count(b'<row r="')
        ):
            # Fast path (what real writers produce). The row numbers rise through the sheet, so
            # the last <row r="N"> of the block is its maximum; one regex search then proves that
            # no cell or row in the block goes beyond the running maxima. Anything unusual falls
            # through to the general per-cell path below.
            last = block.rfind(b'<row r="')
            ok = True
            if last != -1:
                end = block.find(b'"', last + 8)
                digits = block[last + 8 : end] if end != -1 else b""
                if digits.isdigit() and len(digits) <= 20:
                    scan.max_row = max(scan.max_row, int(digits))
                else:
                    ok = False
            if ok and _beyond(scan.max_col, scan.max_row).search(block) is None:
                scan.n_cells += block.count(b"<c")
                scan.n_rows += block.count(b"<row")
                return
        self.scan_general(block, scan)

    def scan_general(self, block: bytes, scan: _SheetScan) -> None:
        scan.add_rows(_ROW_ANY.findall(block))
        fast = _CELL_FAST.findall(block)
        n_cells = len(_CELL_ANY.findall(block))
        scan.n_cells += n_cells
        if len(fast) == n_cells:
            refs = fast
        else:
            general = _CELL_GENERAL.findall(block)
            refs = [(c, r) for c, r in general if c and r]
            if len(refs) < len(general):
                scan.needs_exact = True
        if not refs:
            return
        cols, rows = zip(*refs)
        block_col = max(_col_number(c) for c in set(cols))
        block_row = max(int(r[:20]) for r in set(rows))
        limits = self.limits
        if scan.bad_ref is None and (block_col > limits.max_columns or block_row > limits.max_rows):
            for c, r in refs:
                if _col_number(c) > limits.max_columns or int(r[:20]) > limits.max_rows:
                    scan.bad_ref = (c + r[:20]).decode("ascii", "replace").upper()
                    break
        scan.max_col = max(scan.max_col, block_col)
        scan.max_row = max(scan.max_row, block_row)

    def judge(self, scan: _SheetScan, part: str, sheet_name: str | None) -> None:
        limits = self.limits
        where = f"sheet '{sheet_name}'" if sheet_name else f"sheet part {part}"
        bounds = f"{_fmt(limits.max_rows)} rows × {_fmt(limits.max_columns)} columns"
        fix = "Delete the stray cells (or copy the real data into a new workbook) and upload it again."

        def too_large(what: str, **details: object) -> InputError:
            return self.error(
                "sheet_too_large",
                f"{self.who} {what} in {where}, far outside the {bounds} this tool accepts. {fix}",
                sheet=sheet_name or part,
                part=part,
                **details,
            )

        max_row, max_col = scan.max_row, scan.max_col
        if max_row > limits.max_rows or max_col > limits.max_columns:
            if scan.bad_ref:
                raise too_large(f"has a cell at {scan.bad_ref}", cell=scan.bad_ref)
            if max_row > limits.max_rows and max_col > limits.max_columns:
                ref = f"{_col_letters(max_col)}{max_row}"
                raise too_large(f"has a cell at {ref}", cell=ref)
            if max_row > limits.max_rows:
                raise too_large(f"has a cell in row {_fmt(max_row)}", row=max_row)
            raise too_large(f"has a cell in column {_col_letters(max_col)}", column=_col_letters(max_col))
        if scan.n_rows > limits.max_rows:
            raise too_large(f"has {_fmt(scan.n_rows)} rows", rows=scan.n_rows)
        if scan.n_cells > limits.max_cells:
            raise self.error(
                "sheet_too_large",
                f"{self.who} has {_fmt(scan.n_cells)} cells in {where}, more than the {_fmt(limits.max_cells)} "
                "this tool accepts. Remove unneeded columns or split the file, and upload it again.",
                sheet=sheet_name or part,
                part=part,
                cells=scan.n_cells,
            )
        if scan.dim_ref is not None and (scan.dim_row > limits.max_rows or scan.dim_col > limits.max_columns):
            raise too_large(f"declares its used area as {scan.dim_ref}", dimension=scan.dim_ref)
        rows = max(max_row, scan.dim_row if scan.dim_ref else 0)
        cols = max(max_col, scan.dim_col if scan.dim_ref else 0)
        if rows * cols > limits.max_cells:
            ref = f"{_col_letters(cols)}{rows}"
            raise self.error(
                "sheet_too_large",
                f"{self.who} uses the area A1:{ref} in {where} ({_fmt(rows * cols)} cells), more than the "
                f"{_fmt(limits.max_cells)} cells this tool accepts. Remove unneeded columns or rows, "
                "or split the file, and upload it again.",
                sheet=sheet_name or part,
                part=part,
                cell=ref,
            )


class _Stop(Exception):
    def __init__(self, scan: _SheetScan) -> None:
        super().__init__("limit exceeded")
        self.scan = scan


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
        cols = _greater(_col_letters(max_col) if max_col else "", "[A-Z]", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        rows = _greater(str(max_row), "[0-9]", "0123456789")
        pattern = re.compile(
            rb' r="(?:(?:' + cols + rb')[0-9]|[A-Z]*+(?:' + rows + rb')"|[A-Z]*+[0-9]*+[^A-Z0-9"])'
        )
        _BEYOND_CACHE[key] = pattern
    return pattern


def _normpath(path: str) -> str:
    parts: list[str] = []
    for piece in PurePosixPath(path).parts:
        if piece == "..":
            if parts:
                parts.pop()
        elif piece not in (".", ""):
            parts.append(piece)
    return "/".join(parts)


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'").replace("&amp;", "&")
    )


def inspect_file(path: Path, limits: Limits, *, role: str) -> str:
    """Return the detected kind: "xlsx" (also .xlsm), "xls" or "csv". Raise InputError otherwise.

    Runs before any spreadsheet library touches the file; looks only at raw bytes with
    bounded memory and time.
    """
    path = Path(path)
    gate = _Gate(path, limits, role)
    try:
        return gate.run()
    except InputError:
        raise
    except _Stop as stop:  # pragma: no cover - judged inside check_sheet
        raise gate.error("sheet_too_large", f"{gate.who} has a sheet far larger than this tool accepts.") from stop
    except MemoryError:
        raise gate.unsafe("needs too much memory to check")
    except Exception:  # noqa: BLE001 - the gate must never crash on hostile input
        raise gate.corrupt()
