"""The zip container of an .xlsx/.xlsm: entry counts, sizes, ratios, DTDs, then each sheet's scan.

Reads the central directory and bounded streams of the parts; never unpacks a part whole.
"""

from __future__ import annotations

import html
import re
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from ..errors import InputError
from ..rules import Limits
from .scanner import SheetBounds, TagTooLong, scan_sheet_exactly_if_needed
from .verdict import Verdicts, used_area

HEAD_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
RATIO_MIN_BYTES = 1024 * 1024      # smaller parts legitimately compress very well
MAX_RELS_BYTES = 4 * 1024 * 1024   # workbook.xml / workbook.xml.rels read for sheet names
SHEET_FOLDERS = ("xl/worksheets/", "xl/macrosheets/", "xl/dialogsheets/")

_RELS_TARGET = re.compile(rb"<(?:[\w.\-]+:)?Relationship\b[^<>]*>", re.S)
_ATTR = re.compile(rb"""([\w:.\-]+)\s*=\s*["']([^"']*)["']""")
_SHEET_TAG = re.compile(rb"<(?:[\w.\-]+:)?sheet\b[^<>]*>", re.S)
_SHEET_TYPES = (b"/worksheet", b"/macrosheet", b"/dialogsheet", b"/chartsheet")


def has_dtd(head: bytes) -> bool:
    """True when the XML's start declares a DOCTYPE or ENTITY, in UTF-8 or UTF-16."""
    text = head
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4]:
        for enc in ("utf-16", "utf-16-le", "utf-16-be"):
            text = head[: len(head) // 2 * 2].decode(enc, "ignore").encode("utf-8", "ignore")
            if b"<" in text:
                break
        if b"\x00" in head:
            text = text + b"\n" + head.replace(b"\x00", b"")
    upper = text.upper()
    return b"<!DOCTYPE" in upper or b"<!ENTITY" in upper


# The zip end records (PKWARE APPNOTE.TXT 4.3.14-4.3.16): signature, layout, size.
END_RECORD = (b"PK\x05\x06", struct.Struct("<4s4H2LH"))            # entries total: field 4
ZIP64_LOCATOR = (b"PK\x06\x07", struct.Struct("<4sLQL"))           # the zip64 end record's offset: field 2
ZIP64_END_RECORD = (b"PK\x06\x06", struct.Struct("<4sQ2H2L4Q"))    # entries total: field 7
MAX_COMMENT = 0xFFFF


def declared_entries(path: Path) -> int | None:
    """How many entries the archive's end record says it has (zip64 too), or None when there is none.

    zipfile parses the whole central directory when it opens an archive, which takes seconds for
    100,000 entries; this reads only the end records."""
    signature, layout = END_RECORD
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        tail_size = min(size, layout.size + MAX_COMMENT)
        fh.seek(size - tail_size)
        tail = fh.read(tail_size)
        at = tail.rfind(signature)
        if at < 0 or tail_size - at < layout.size:
            return None
        entries = int(layout.unpack_from(tail, at)[4])
        locator_signature, locator = ZIP64_LOCATOR
        if entries != 0xFFFF or at < locator.size or not tail.startswith(locator_signature, at - locator.size):
            return entries
        fh.seek(int(locator.unpack_from(tail, at - locator.size)[2]))
        record_signature, record = ZIP64_END_RECORD
        data = fh.read(record.size)
        if len(data) < record.size or not data.startswith(record_signature):
            return None
        return int(record.unpack(data)[7])


def _normpath(path: str) -> str:
    parts: list[str] = []
    for piece in PurePosixPath(path).parts:
        if piece == "..":
            if parts:
                parts.pop()
        elif piece not in (".", ""):
            parts.append(piece)
    return "/".join(parts)


def _attrs(tag: bytes) -> dict[bytes, bytes]:
    return dict(_ATTR.findall(tag))


class ZipChecks:
    def __init__(self, path: Path, limits: Limits, say: Verdicts) -> None:
        self.path = path
        self.limits = limits
        self.say = say
        self.bounds = SheetBounds(limits.max_rows, limits.max_columns, limits.max_cells)
        self.cells = 0   # the used areas of the sheets checked so far, together

    def run(self) -> None:
        entries = declared_entries(self.path)
        if entries is not None and entries > self.limits.max_zip_entries:
            raise self._too_many_entries(entries)
        try:
            zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError, NotImplementedError):
            raise self.say.corrupt("is damaged or incomplete (perhaps the upload was cut off)") from None
        with zf:
            try:
                self._check(zf)
            except InputError:
                raise
            except Exception:  # noqa: BLE001 - zlib.error and anything else a hostile archive provokes
                raise self.say.corrupt() from None

    def _check(self, zf: zipfile.ZipFile) -> None:
        infos = zf.infolist()
        self._check_directory(infos)
        names = {info.filename for info in infos}
        if "xl/workbook.xml" not in names:
            raise self.say.corrupt("is a zip archive but not an Excel workbook (it has no xl/workbook.xml)")
        for info in infos:
            if not info.is_dir() and info.file_size:
                self._check_prolog(zf, info)
        sheet_names = self._sheet_names(zf, names)
        for info in infos:
            if info.filename in sheet_names or (info.filename.startswith(SHEET_FOLDERS)
                                                and info.filename.endswith(".xml")):
                self._check_sheet(zf, info, sheet_names.get(info.filename))

    def _too_many_entries(self, entries: int) -> InputError:
        return self.say.unsafe(f"contains {entries:,} internal parts, more than the "
                               f"{self.limits.max_zip_entries:,} allowed", entries=entries)

    def _check_directory(self, infos: list[zipfile.ZipInfo]) -> None:
        limits, say = self.limits, self.say
        if len(infos) > limits.max_zip_entries:   # the end record may understate them
            raise self._too_many_entries(len(infos))
        for info in infos:
            if info.flag_bits & 0x1:
                raise say.corrupt("is an encrypted zip archive, not a normal Excel workbook")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise say.unsafe("uses an unusual compression method", part=info.filename)
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > RATIO_MIN_BYTES and ratio > limits.max_compression_ratio:
                raise say.unsafe(
                    f"contains a part ({info.filename}) that expands {ratio:,.0f} times when unpacked "
                    f"(a 'zip bomb'; the limit is {limits.max_compression_ratio:,.0f} times)",
                    part=info.filename, ratio=round(ratio, 1),
                )
        total = sum(info.file_size for info in infos)
        if total > limits.max_uncompressed_bytes:
            raise say.unsafe(f"would unpack to {total / 1048576:,.0f} MB, more than the "
                             f"{limits.max_uncompressed_bytes / 1048576:,.0f} MB allowed", uncompressed_bytes=total)

    def _check_prolog(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        """Refuse DOCTYPE/ENTITY declarations (entity-expansion bombs, external entities)."""
        with zf.open(info) as fh:
            head = fh.read(HEAD_BYTES)
        if has_dtd(head):
            raise self.say.unsafe(
                f"contains a document type declaration in {info.filename} (a way to hide an 'XML bomb')",
                part=info.filename,
            )

    def _read_bounded(self, zf: zipfile.ZipFile, name: str) -> bytes:
        try:
            with zf.open(name) as fh:
                return fh.read(MAX_RELS_BYTES)
        except KeyError:
            return b""

    def _sheet_names(self, zf: zipfile.ZipFile, names: set[str]) -> dict[str, str]:
        """Map sheet part name -> sheet name as the user sees it (best effort)."""
        result: dict[str, str] = {}
        targets: dict[bytes, str] = {}
        for tag in _RELS_TARGET.findall(self._read_bounded(zf, "xl/_rels/workbook.xml.rels")):
            attrs = {key.split(b":")[-1]: value for key, value in _ATTR.findall(tag)}
            target = attrs.get(b"Target", b"").decode("utf-8", "replace")
            if not target or not attrs.get(b"Type", b"").endswith(_SHEET_TYPES):
                continue
            part = target.lstrip("/") if target.startswith("/") else _normpath("xl/" + target)
            targets[attrs.get(b"Id", b"")] = part
            result[part] = ""
        for tag in _SHEET_TAG.findall(self._read_bounded(zf, "xl/workbook.xml")):
            attrs = _attrs(tag)
            rid = next((v for k, v in attrs.items() if k.endswith(b":id") or k == b"id"), None)
            name = attrs.get(b"name")
            if rid in targets and name is not None:
                result[targets[rid]] = html.unescape(name.decode("utf-8", "replace"))
        return {part: name for part, name in result.items() if part in names}

    def _chunks(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
        with zf.open(info) as fh:
            first = True
            while block := fh.read(CHUNK_BYTES):
                if first and has_dtd(block[:HEAD_BYTES]):
                    raise self.say.unsafe(f"contains a document type declaration in {info.filename}",
                                          part=info.filename)
                first = False
                yield block

    def _check_sheet(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, sheet_name: str | None) -> None:
        try:
            scan = scan_sheet_exactly_if_needed(lambda: self._chunks(zf, info), self.bounds)
        except TagTooLong:
            raise self.say.unsafe(f"has a tag longer than 8 MB in {info.filename}", part=info.filename) from None
        refusal = self.say.judge_sheet(scan, self.limits, info.filename, sheet_name)
        if refusal is not None:
            raise refusal
        rows, cols = used_area(scan)
        self.cells += rows * cols
        if self.cells > self.limits.max_workbook_cells:
            raise self.say.workbook_too_large(self.cells, self.limits, sheet_name or info.filename)
