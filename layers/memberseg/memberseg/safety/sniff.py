"""Format sniffing: what a file really is, from its name, size and first bytes.

Returns the kind ("xlsx", "xls", "csv") or raises the verdict; the zip container itself
is checked by `container`. Reads only the head of the file, plus bounded streaming passes
for OLE encryption markers and CSV line counts.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from ..rules import Limits
from .verdict import Verdicts

EXTENSIONS = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".csv": "csv"}
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
HEAD_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
ENCRYPTION_MARKERS = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK_BYTES):
            yield block


def checked_size(path: Path, limits: Limits, say: Verdicts) -> int:
    """The file's size, after refusing what is missing, not a file, of an unread type, empty or too big."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise say.not_found("was not found. Check the name and upload it again.") from None
    except OSError as exc:
        raise say.not_found(f"could not be opened ({exc.strerror or 'access denied'}). Upload it again.") from exc
    if not stat.S_ISREG(st.st_mode):
        raise say.not_found("is not a regular file. Upload the spreadsheet itself.")
    ext = path.suffix.lower()
    if ext not in EXTENSIONS:
        shown = "no extension" if not ext else "the extension " + ext
        raise say.error(
            "unsupported_format",
            f"{say.who} has {shown}, which this tool does not read. "
            "Save it as an Excel workbook (.xlsx) or as CSV (.csv) and upload that.",
            extension=ext,
        )
    if st.st_size == 0:
        raise say.error("empty_file", f"{say.who} is empty (0 bytes). Export it again and upload the new file.")
    if st.st_size > limits.max_file_bytes:
        raise say.error(
            "file_too_large",
            f"{say.who} is {st.st_size / 1048576:,.1f} MB, more than the {limits.max_file_bytes / 1048576:,.0f} MB "
            "this tool accepts. " + say.smaller("Remove unneeded sheets or columns, or split it, and upload again.",
                                                "limits.max_file_bytes"),
            size=st.st_size,
            max_file_bytes=limits.max_file_bytes,
        )
    return st.st_size


def read_head(path: Path, say: Verdicts) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(HEAD_BYTES)
    except OSError as exc:
        raise say.not_found(f"could not be read ({exc.strerror}). Upload it again.") from exc


def container_of(head: bytes) -> str:
    """"zip", "ole" or "text", from the magic number."""
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(OLE_MAGIC):
        return "ole"
    return "text"


def refuse_zip_named_otherwise(ext: str, say: Verdicts) -> None:
    if ext == ".xls":
        raise say.mismatch("is named .xls but is really a modern Excel workbook. "
                           "Rename it to .xlsx and upload it again.", "xlsx")
    if ext == ".csv":
        raise say.mismatch("is named .csv but is really an Excel workbook. "
                           "Rename it to .xlsx, or open it in Excel and save it as CSV, and upload it again.", "xlsx")


def _ole_encrypted(path: Path) -> bool:
    overlap = max(len(m) for m in ENCRYPTION_MARKERS)
    tail = b""
    for block in _chunks(path):
        data = tail + block
        if any(marker in data for marker in ENCRYPTION_MARKERS):
            return True
        tail = data[-overlap:]
    return False


def ole_kind(path: Path, ext: str, say: Verdicts) -> str:
    if _ole_encrypted(path):
        raise say.encrypted()
    if ext == ".xls":
        return "xls"
    if ext == ".csv":
        raise say.mismatch("is named .csv but is really an old-style Excel workbook (.xls). "
                           "Rename it to .xls, or open it in Excel and save it as .xlsx, and upload it again.", "xls")
    raise say.mismatch(f"is named {ext} but is really an old-style Excel workbook (.xls). "
                       "Open it in Excel and save it as .xlsx (File > Save As > Excel Workbook), or rename it to .xls.",
                       "xls")


def _refuse_binary_text(head: bytes, ext: str, say: Verdicts) -> None:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise say.error(
            "not_a_spreadsheet",
            f"{say.who} is saved as UTF-16 ('Unicode Text'), which this tool does not read. "
            "Save it from Excel as 'CSV UTF-8' or as an Excel workbook (.xlsx) and upload that.",
        )
    if b"\x00" in head:
        if ext == ".csv":
            advice = "is not a text file: it contains binary data. Export it again as 'CSV UTF-8' or as an Excel " \
                     "workbook (.xlsx)."
        else:
            advice = "is not an Excel workbook or a CSV file; it may be damaged. Open it in Excel, save it as " \
                     ".xlsx and upload that."
        raise say.error("not_a_spreadsheet", f"{say.who} {advice}")


def _refuse_text_named_workbook(head: bytes, ext: str, say: Verdicts) -> None:
    if ext not in (".xlsx", ".xlsm", ".xls"):
        return
    sniff = head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if sniff.startswith(b"<"):
        what, how = "a web page or XML text", "open it in Excel and save it as an Excel workbook (.xlsx)"
    else:
        what, how = "CSV text", "rename it to .csv, or open it in Excel and save it as an Excel workbook (.xlsx)"
    raise say.mismatch(f"is named {ext} but contains {what}, not an Excel workbook. "
                       f"To fix it, {how}, then upload it again.", "csv")


def text_kind(path: Path, ext: str, head: bytes, limits: Limits, say: Verdicts) -> str:
    _refuse_binary_text(head, ext, say)
    _refuse_text_named_workbook(head, ext, say)
    newlines = carriage = 0
    for block in _chunks(path):
        newlines += block.count(b"\n")
        carriage += block.count(b"\r")
    lines = max(newlines, carriage)
    if lines > limits.max_rows + 1:
        raise say.too_many_lines(lines, limits)
    return "csv"


