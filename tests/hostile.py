"""Factory for hostile (and a few tricky-but-valid) input files.

Every function takes a target directory and returns the Path it wrote. They use
only the standard library, xlsxwriter, msoffcrypto-tool and xlwt, and each runs
in well under a second (except `big_zip_bomb_xlsx` and `big_valid_sheet_xlsx`,
which are meant for benchmark scripts).

NEVER open the hostile ones with calamine or openpyxl inside the test process:
calamine aborts the interpreter (SIGABRT) on `far_cell_xlsx` and on the zip bombs.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter

MEMBERSHIP_HEADERS = ["Cust ID", "Customer Name", "Created Date", "Expiration Date", "Contact Email", "Membership"]

# --------------------------------------------------------------------------------------
# Minimal raw xlsx parts
# --------------------------------------------------------------------------------------

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml"/>'
    "</Relationships>"
)
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
)
SHARED_STRINGS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
    "<si><t>Name</t></si></sst>"
)


def _raw_parts(sheet_xml: str | bytes, shared_strings: str = SHARED_STRINGS) -> dict[str, str | bytes]:
    return {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": ROOT_RELS,
        "xl/workbook.xml": WORKBOOK,
        "xl/_rels/workbook.xml.rels": WORKBOOK_RELS,
        "xl/sharedStrings.xml": shared_strings,
        "xl/worksheets/sheet1.xml": sheet_xml,
    }


def _write_zip(path: Path, parts: dict[str, str | bytes]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def _inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


# --------------------------------------------------------------------------------------
# A tiny raw zip writer, so bombs can be written from one pre-compressed block
# --------------------------------------------------------------------------------------


def _zip_raw(path: Path, entries: list[tuple[str, bytes, int, int, int]]) -> Path:
    """entries: (name, raw_deflate_bytes, crc32, compressed_size, uncompressed_size); all < 4 GB."""
    central = io.BytesIO()
    with open(path, "wb") as out:
        for name, raw, crc, csize, usize in entries:
            offset = out.tell()
            fname = name.encode()
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, csize, usize, len(fname), 0))
            out.write(fname)
            out.write(raw)
            central.write(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII",
                    0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, csize, usize, len(fname), 0, 0, 0, 0, 0, offset,
                )
            )
            central.write(fname)
        cd_offset = out.tell()
        cd = central.getvalue()
        out.write(cd)
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(cd), cd_offset, 0))
    return path


def _deflate(data: bytes) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush()


def _small_entry(name: str, text: str | bytes) -> tuple[str, bytes, int, int, int]:
    data = text.encode() if isinstance(text, str) else text
    raw = _deflate(data)
    return (name, raw, zlib.crc32(data), len(raw), len(data))


def _bomb(path: Path, megabytes: int) -> Path:
    head = (SHEET_HEAD + "<sheetData>").encode()
    tail = b"</sheetData></worksheet>"
    row = b'<row><c t="inlineStr"><is><t>AAAAAAAA</t></is></c></row>'
    block = row + b" " * (1024 * 1024 - len(row))  # long whitespace runs compress ~1000x
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
    repeated = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    again = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    assert again == repeated, "deflate output of a full-flushed block must repeat"
    last = comp.compress(tail) + comp.flush(zlib.Z_FINISH)
    raw = first + repeated * megabytes + last
    crc = zlib.crc32(head)
    for _ in range(megabytes):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    usize = len(head) + len(block) * megabytes + len(tail)
    parts = _raw_parts("")
    entries = [_small_entry(n, t) for n, t in parts.items() if n != "xl/worksheets/sheet1.xml"]
    entries.append(("xl/worksheets/sheet1.xml", raw, crc, len(raw), usize))
    return _zip_raw(path, entries)


# --------------------------------------------------------------------------------------
# Valid inputs
# --------------------------------------------------------------------------------------


def _membership_rows(rows: int) -> list[list[object]]:
    base = dt.date(2023, 1, 1)
    out = []
    for i in range(rows):
        created = base + dt.timedelta(days=17 * i)
        out.append(
            [
                1000 + i,
                f"Customer {i}",
                created,
                created + dt.timedelta(days=365),
                f"customer{i}@example.com",
                ["Gold", "Silver", "Basic"][i % 3],
            ]
        )
    return out


def _write_table(ws, first_row: int, headers: list[str], rows: list[list[object]], date_fmt) -> None:
    ws.write_row(first_row, 0, headers)
    for r, values in enumerate(rows, start=first_row + 1):
        for c, value in enumerate(values):
            if isinstance(value, dt.date):
                ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_fmt)
            else:
                ws.write(r, c, value)


def valid_memberships_xlsx(dir: Path, rows: int = 5, name: str = "memberships.xlsx") -> Path:
    path = Path(dir) / name
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Memberships")
    _write_table(ws, 0, MEMBERSHIP_HEADERS, _membership_rows(rows), wb.add_format({"num_format": "yyyy-mm-dd"}))
    wb.close()
    return path


def valid_memberships_xlsm(dir: Path, rows: int = 5) -> Path:
    return valid_memberships_xlsx(dir, rows, name="memberships.xlsm")


def valid_memberships_xls(dir: Path, rows: int = 5, name: str = "memberships.xls") -> Path:
    import xlwt

    path = Path(dir) / name
    book = xlwt.Workbook()
    sheet = book.add_sheet("Memberships")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for c, header in enumerate(MEMBERSHIP_HEADERS):
        sheet.write(0, c, header)
    for r, values in enumerate(_membership_rows(rows), start=1):
        for c, value in enumerate(values):
            if isinstance(value, dt.date):
                sheet.write(r, c, dt.datetime.combine(value, dt.time()), date_style)
            else:
                sheet.write(r, c, value)
    book.save(str(path))
    return path


def valid_memberships_csv(dir: Path, rows: int = 5, encoding: str = "utf-8", name: str | None = None) -> Path:
    """encoding: "utf-8", "utf-8-sig" (with BOM) or "cp1252" (includes non-ASCII names)."""
    path = Path(dir) / (name or f"memberships-{encoding}.csv")
    lines = [",".join(MEMBERSHIP_HEADERS)]
    for i, values in enumerate(_membership_rows(rows)):
        if i == 0:
            values[1] = "Zoë Müller"
        lines.append(",".join(str(v) for v in values))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def empty_workbook_xlsx(dir: Path) -> Path:
    path = Path(dir) / "empty.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("Sheet1")
    wb.close()
    return path


def title_rows_xlsx(dir: Path, rows: int = 5) -> Path:
    """Two title rows, the header on row 3 (a valid input for the reader)."""
    path = Path(dir) / "title_rows.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Members")
    ws.write(0, 0, "Membership export")
    ws.write(1, 0, "Generated 2024-06-01")
    _write_table(ws, 2, MEMBERSHIP_HEADERS, _membership_rows(rows), wb.add_format({"num_format": "yyyy-mm-dd"}))
    wb.close()
    return path


def second_sheet_xlsx(dir: Path, rows: int = 5, notes: bool = True) -> Path:
    """First sheet holds notes (or is empty), the data is on the second sheet (a valid input)."""
    path = Path(dir) / "second_sheet.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    first = wb.add_worksheet("Notes")
    if notes:
        first.write(0, 0, "Read me: the data is on the next sheet.")
    ws = wb.add_worksheet("Data")
    _write_table(ws, 0, MEMBERSHIP_HEADERS, _membership_rows(rows), wb.add_format({"num_format": "yyyy-mm-dd"}))
    wb.close()
    return path


FORMULA_PAYLOADS = [
    '=HYPERLINK("http://x","click")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1+2",
    "\r=1+2",
]


def formula_injection_memberships_xlsx(dir: Path) -> Path:
    """Valid memberships whose names and emails start with =, +, -, @, tab, CR (stored as text)."""
    path = Path(dir) / "formula_injection.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False})
    ws = wb.add_worksheet("Memberships")
    rows = _membership_rows(len(FORMULA_PAYLOADS))
    for i, payload in enumerate(FORMULA_PAYLOADS):
        rows[i][1] = payload
        rows[i][4] = payload + "@example.com" if i % 2 else payload
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, MEMBERSHIP_HEADERS)
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values):
            if isinstance(value, dt.date):
                ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_fmt)
            elif isinstance(value, str):
                ws.write_string(r, c, value)
            else:
                ws.write(r, c, value)
    wb.close()
    return path


def big_valid_sheet_xlsx(dir: Path, rows: int = 1_000_000, cols: int = 6) -> Path:
    """A legitimate large orders-like sheet written as raw XML (benchmark only; a few seconds)."""
    import zipfile

    path = Path(dir) / "big_valid.xlsx"
    letters = [chr(65 + i) for i in range(cols)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, text in _raw_parts("").items():
            if name != "xl/worksheets/sheet1.xml":
                zf.writestr(name, text)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(f'{SHEET_HEAD}<dimension ref="A1:{letters[-1]}{rows}"/><sheetData>'.encode())
            buf = []
            for r in range(1, rows + 1):
                cells = "".join(f'<c r="{col}{r}"><v>{r * 7 % 100003 + i}</v></c>' for i, col in enumerate(letters))
                buf.append(f'<row r="{r}" spans="1:{cols}">{cells}</row>')
                if len(buf) == 5000:
                    fh.write("".join(buf).encode())
                    buf = []
            fh.write(("".join(buf) + "</sheetData></worksheet>").encode())
    return path


# --------------------------------------------------------------------------------------
# Hostile inputs
# --------------------------------------------------------------------------------------


def encrypted_xlsx(dir: Path, password: str = "secret") -> Path:
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = valid_memberships_xlsx(dir, name="plain-for-encryption.xlsx")
    path = Path(dir) / "encrypted.xlsx"
    with open(plain, "rb") as src, open(path, "wb") as dst:
        OOXMLFile(src).encrypt(password, dst)
    plain.unlink()
    return path


def csv_renamed_xlsx(dir: Path) -> Path:
    path = Path(dir) / "really_csv.xlsx"
    path.write_text(",".join(MEMBERSHIP_HEADERS) + "\n1,Ann,2024-01-01,2025-01-01,ann@example.com,Gold\n")
    return path


def zip_renamed_xls(dir: Path) -> Path:
    path = valid_memberships_xlsx(dir, name="really_xlsx.xls")
    return path


def zip_renamed_csv(dir: Path) -> Path:
    return valid_memberships_xlsx(dir, name="really_xlsx.csv")


def xls_renamed_csv(dir: Path) -> Path:
    return valid_memberships_xls(dir, name="really_xls.csv")


def zip_bomb_xlsx(dir: Path, megabytes: int = 200) -> Path:
    """Structurally valid xlsx whose sheet XML expands to `megabytes` MB (~1000x); a few hundred KB on disk."""
    return _bomb(Path(dir) / "zip_bomb.xlsx", megabytes)


def big_zip_bomb_xlsx(dir: Path, megabytes: int = 1024) -> Path:
    """The 1 GB-expanding kind that makes calamine abort the process (about 1 MB on disk)."""
    return _bomb(Path(dir) / "big_zip_bomb.xlsx", megabytes)


def far_cell_xlsx(dir: Path, variant: str = "dimension", ref: str = "XFD1048576") -> Path:
    """Header row plus one cell at `ref`.

    variant: "dimension" - <dimension ref="A1:XFD1048576"/> and the r attribute both present;
             "no_dimension" - no dimension tag; "lying_dimension" - dimension says A1:B2.
    """
    row = "".join(ch for ch in ref if ch.isdigit())
    dims = {
        "dimension": f'<dimension ref="A1:{ref}"/>',
        "no_dimension": "",
        "lying_dimension": '<dimension ref="A1:B2"/>',
    }[variant]
    sheet = (
        f"{SHEET_HEAD}{dims}<sheetData>"
        f'<row r="1">{_inline("A1", "Name")}{_inline("B1", "Email")}</row>'
        f'<row r="{row}"><c r="{ref}"><v>1</v></c></row>'
        "</sheetData></worksheet>"
    )
    return _write_zip(Path(dir) / f"far_cell_{variant}.xlsx", _raw_parts(sheet))


def far_dimension_xlsx(dir: Path) -> Path:
    """Only the dimension tag lies (A1:XFD1048576); the cells themselves are small."""
    sheet = (
        f'{SHEET_HEAD}<dimension ref="A1:XFD1048576"/><sheetData>'
        f'<row r="1">{_inline("A1", "Name")}</row></sheetData></worksheet>'
    )
    return _write_zip(Path(dir) / "far_dimension.xlsx", _raw_parts(sheet))


def rless_wide_xlsx(dir: Path, rows: int = 2000, wide: int = 16384) -> Path:
    """Cells without r attributes: many rows, and one row with `wide` cells (implied area rows x wide)."""
    body = "<row><c><v>1</v></c></row>" * rows + "<row>" + "<c><v>1</v></c>" * wide + "</row>"
    sheet = f"{SHEET_HEAD}<sheetData>{body}</sheetData></worksheet>"
    return _write_zip(Path(dir) / "rless_wide.xlsx", _raw_parts(sheet))


def odd_syntax_far_cell_xlsx(dir: Path) -> Path:
    """A far cell hidden behind a namespace prefix, attribute order and a tab before r."""
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>'
        '<x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row>'
        "<x:row r='1048576'><x:c s='0'\tr='XFD1048576'><x:v>1</x:v></x:c></x:row>"
        "</x:sheetData></x:worksheet>"
    )
    return _write_zip(Path(dir) / "odd_syntax_far_cell.xlsx", _raw_parts(sheet))


def doctype_xlsx(dir: Path, part: str = "sharedStrings", utf16: bool = False) -> Path:
    """Billion-laughs entity bomb in sharedStrings.xml (or the sheet with part="sheet")."""
    dtd = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
        + "]>"
    )
    if part == "sheet":
        sheet = dtd + SHEET_HEAD.split("\n", 1)[1] + '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
        parts = _raw_parts(sheet)
    else:
        sst = dtd + SHARED_STRINGS.split("\n", 1)[1].replace("<t>Name</t>", "<t>&lol9;</t>")
        parts = _raw_parts(f'{SHEET_HEAD}<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>', sst)
    if utf16:
        key = "xl/worksheets/sheet1.xml" if part == "sheet" else "xl/sharedStrings.xml"
        text = parts[key]
        assert isinstance(text, str)
        parts[key] = "\ufeff".encode("utf-16-le") + text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16-le")
    return _write_zip(Path(dir) / f"doctype_{part}{'_utf16' if utf16 else ''}.xlsx", parts)


def too_many_entries_xlsx(dir: Path, entries: int = 10_001) -> Path:
    import zipfile

    path = Path(dir) / "too_many_entries.xlsx"
    sheet = f'{SHEET_HEAD}<sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData></worksheet>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, text in _raw_parts(sheet).items():
            zf.writestr(name, text)
        for i in range(entries):
            zf.writestr(f"xl/media/pad{i}.txt", b"")
    return path


def truncated_xlsx(dir: Path) -> Path:
    full = valid_memberships_xlsx(dir, rows=50, name="full-for-truncation.xlsx")
    data = full.read_bytes()
    full.unlink()
    path = Path(dir) / "truncated.xlsx"
    path.write_bytes(data[: len(data) // 2])
    return path


def garbage_xlsx(dir: Path, size: int = 4096) -> Path:
    path = Path(dir) / "garbage.xlsx"
    path.write_bytes(random.Random(1234).randbytes(size))
    return path


def ole_not_encrypted_xlsx(dir: Path) -> Path:
    """A legacy .xls made by xlwt, renamed .xlsx."""
    return valid_memberships_xls(dir, name="really_xls.xlsx")


def no_workbook_zip_xlsx(dir: Path) -> Path:
    """A zip archive (e.g. a zipped folder) renamed .xlsx: no xl/workbook.xml."""
    return _write_zip(Path(dir) / "just_a_zip.xlsx", {"readme.txt": "hello", "data/a.csv": "a,b\n1,2\n"})


def csv_with_nul(dir: Path) -> Path:
    path = Path(dir) / "with_nul.csv"
    path.write_bytes(b"Cust ID,Customer Name\n1,Ann\x00\x00\x00\n2,Bob\n")
    return path


def csv_too_many_rows(dir: Path, lines: int) -> Path:
    path = Path(dir) / "too_many_rows.csv"
    path.write_bytes(b"a\n" * lines)
    return path


def empty_file(dir: Path, name: str = "empty.csv") -> Path:
    path = Path(dir) / name
    path.write_bytes(b"")
    return path


def hidden_far_cell_xlsx(dir: Path, ref: str = "XFD1048576", rows: int = 3000) -> Path:
    """A normal-looking sheet with one far cell hidden in the middle of row rows/2 (rows stay ascending)."""
    body = []
    for r in range(1, rows + 1):
        cells = f'<c r="A{r}"><v>{r}</v></c><c r="B{r}"><v>{r}</v></c>'
        if r == rows // 2:
            cells += f'<c r="{ref}"><v>1</v></c>'
        body.append(f'<row r="{r}">{cells}</row>')
    sheet = f'{SHEET_HEAD}<dimension ref="A1:B{rows}"/><sheetData>{"".join(body)}</sheetData></worksheet>'
    return _write_zip(Path(dir) / "hidden_far_cell.xlsx", _raw_parts(sheet))


# --------------------------------------------------------------------------------------
# Hostile and careless CSV text
# --------------------------------------------------------------------------------------


def _membership_csv_lines(rows: int, names: dict[int, str] | None = None) -> list[str]:
    lines = [",".join(MEMBERSHIP_HEADERS)]
    for i, values in enumerate(_membership_rows(rows)):
        values[1] = (names or {}).get(i, values[1])
        lines.append(",".join(str(v) for v in values))
    return lines


def mixed_encoding_csv(dir: Path) -> Path:
    """UTF-8 ("Zoë Müller" in row 2) with one Windows-1252 byte (é as 0xE9) in row 4's name."""
    path = Path(dir) / "mixed_encoding.csv"
    lines = _membership_csv_lines(4, {0: "Zoë Müller"})
    data = "\r\n".join(lines).encode("utf-8").replace(b"Customer 2", "Renée".encode("cp1252"))
    path.write_bytes(data + b"\r\n")
    return path


def undefined_cp1252_csv(dir: Path) -> Path:
    """ASCII but for byte 0x81 (no character in Windows-1252 and not UTF-8) in row 3."""
    path = Path(dir) / "undefined_byte.csv"
    data = "\r\n".join(_membership_csv_lines(3)).encode("ascii").replace(b"Customer 1", b"Cust\x81mer 1")
    path.write_bytes(data + b"\r\n")
    return path


def late_nul_csv(dir: Path, rows: int = 2000) -> Path:
    """A valid memberships CSV whose last row's name holds a NUL byte, past the gate's 64 KB head."""
    path = Path(dir) / "late_nul.csv"
    lines = _membership_csv_lines(rows)
    lines[-1] = lines[-1].replace(f"Customer {rows - 1}", f"Customer\x00{rows - 1}")
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def form_feed_title_csv(dir: Path, rows: int = 3) -> Path:
    """A title line holding a form feed above the header (str.splitlines breaks there, pandas does not)."""
    path = Path(dir) / "form_feed_title.csv"
    lines = ["Membership export\x0cpage 1"] + _membership_csv_lines(rows)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


# --------------------------------------------------------------------------------------
# Workbooks that cost the reader more than their size: many or far-reaching sheets, hidden data
# --------------------------------------------------------------------------------------


def _many_sheets_parts(sheets: list[tuple[str, str]], hidden: frozenset[str] = frozenset()) -> dict[str, str | bytes]:
    """The parts of a workbook with these (name, sheet XML) sheets, in order; names in `hidden` are hidden."""
    tags = "".join(f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"'
                   + (' state="hidden"' if name in hidden else "") + "/>"
                   for i, (name, _) in enumerate(sheets, start=1))
    workbook = WORKBOOK.replace('<sheet name="Sheet1" sheetId="1" r:id="rId1"/>', tags)
    rels = "".join(f'<Relationship Id="rId{i}" '
                   'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
                   f'Target="worksheets/sheet{i}.xml"/>' for i in range(1, len(sheets) + 1))
    parts: dict[str, str | bytes] = {
        "[Content_Types].xml": CONTENT_TYPES, "_rels/.rels": ROOT_RELS, "xl/workbook.xml": workbook,
        "xl/_rels/workbook.xml.rels": WORKBOOK_RELS.replace(WORKBOOK_RELS[WORKBOOK_RELS.index("<Relationship "):
                                                                      WORKBOOK_RELS.index("</Relationships>")],
                                                            rels),
    }
    for i, (_, xml) in enumerate(sheets, start=1):
        parts[f"xl/worksheets/sheet{i}.xml"] = xml
    return parts


def _membership_sheet_xml(rows: int = 3, headers: list[str] = MEMBERSHIP_HEADERS) -> str:
    """A small memberships sheet as raw XML (inline strings, ISO dates as text)."""
    def row(number: int, values: list[object]) -> str:
        cells = "".join(_inline(f"{chr(65 + c)}{number}", str(v)) for c, v in enumerate(values))
        return f'<row r="{number}">{cells}</row>'
    body = [row(1, list(headers))]
    for i, values in enumerate(_membership_rows(rows), start=2):
        by_header = dict(zip(MEMBERSHIP_HEADERS, values))
        body.append(row(i, [v.isoformat() if isinstance(v, dt.date) else v for v in map(by_header.get, headers)]))
    return f"{SHEET_HEAD}<sheetData>{''.join(body)}</sheetData></worksheet>"


def decoy_sheets_xlsx(dir: Path, decoys: int = 8, ref: str = "X1041666") -> Path:
    """`decoys` sheets each holding one stray cell at `ref` (24 columns x 1,041,666 rows: just under the
    25,000,000-cell limit of a sheet), then the data sheet. A few KB on disk; parsed in full, each decoy
    costs calamine about 800 MB."""
    row = "".join(ch for ch in ref if ch.isdigit())
    decoy = (f'{SHEET_HEAD}<sheetData><row r="1">{_inline("A1", "Notes")}</row>'
             f'<row r="{row}"><c r="{ref}"><v>1</v></c></row></sheetData></worksheet>')
    sheets = [(f"Decoy {i + 1}", decoy) for i in range(decoys)] + [("Data", _membership_sheet_xml())]
    return _write_zip(Path(dir) / "decoy_sheets.xlsx", _many_sheets_parts(sheets))


def many_sheets_xlsx(dir: Path, sheets: int = 5000, data_at: int | None = None) -> Path:
    """`sheets` one-cell sheets with the data sheet at position `data_at` (0-based; default: last)."""
    small = f'{SHEET_HEAD}<sheetData><row r="1">{_inline("A1", "Notes")}</row></sheetData></worksheet>'
    named = [(f"Sheet {i + 1}", small) for i in range(sheets)]
    named.insert(sheets if data_at is None else data_at, ("Data", _membership_sheet_xml()))
    return _write_zip(Path(dir) / "many_sheets.xlsx", _many_sheets_parts(named))


def hidden_data_sheet_xlsx(dir: Path, visible_has_all: bool = False) -> Path:
    """A visible sheet without the Expiration Date column (or, with `visible_has_all`, with every column)
    and, before it, a hidden sheet "Data" with every column."""
    visible = MEMBERSHIP_HEADERS if visible_has_all else [h for h in MEMBERSHIP_HEADERS if h != "Expiration Date"]
    sheets = [("Data", _membership_sheet_xml(rows=4)), ("Summary", _membership_sheet_xml(rows=2, headers=visible))]
    return _write_zip(Path(dir) / "hidden_data.xlsx", _many_sheets_parts(sheets, hidden=frozenset({"Data"})))


# --------------------------------------------------------------------------------------
# Careless values: dates at the ends of the calendar, numbers past a double's sum, hostile text
# --------------------------------------------------------------------------------------

FAR_DATES = [   # (Cust ID, name, created, expires): what a workbook or a CSV really holds
    (1, "Forever", dt.date(2020, 1, 1), dt.date(9999, 12, 31)),       # SAP's "valid to", many CRMs
    (2, "Year One", dt.date(1, 1, 1), dt.date(2027, 1, 1)),
    (3, "Far Future", dt.date(2020, 1, 1), dt.date(3000, 1, 1)),
]


def far_dates_xlsx(dir: Path) -> Path:
    """Date cells at Excel's own maximum (9999-12-31, serial 2958465, as a number too) and 3000-01-01; 0001-01-01
    as text (Excel has no date cell before 1900)."""
    path = Path(dir) / "far_dates.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws, fmt = wb.add_worksheet("Members"), wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, MEMBERSHIP_HEADERS)
    for r, (cust, name, created, expires) in enumerate(FAR_DATES, start=1):
        ws.write_row(r, 0, [cust, name])
        for c, day in ((2, created), (3, expires)):
            if day.year < 1900:
                ws.write_string(r, c, day.isoformat())
            else:
                ws.write_datetime(r, c, dt.datetime.combine(day, dt.time()), fmt)
        ws.write_row(r, 4, [f"m{cust}@example.com", "Gold"])
    ws.write_row(4, 0, [4, "Max Serial"])
    ws.write_datetime(4, 2, dt.datetime(2020, 1, 1), fmt)
    ws.write_number(4, 3, 2958465)
    ws.write_row(4, 4, ["m4@example.com", "Gold"])
    wb.close()
    return path


def far_dates_csv(dir: Path) -> Path:
    path = Path(dir) / "far_dates.csv"
    lines = [",".join(MEMBERSHIP_HEADERS)] + [f"{cust},{name},{created.isoformat()},{expires.isoformat()},"
                                              f"m{cust}@example.com,Gold" for cust, name, created, expires in FAR_DATES]
    path.write_text("\n".join(lines + ["4,Forever MDY,2020-01-01,12/31/9999,m4@example.com,Gold"]) + "\n")
    return path


def overflowing_orders_csv(dir: Path) -> Path:
    """Two orders of 1e308 for customer 1000: their sum is inf in a double."""
    path = Path(dir) / "overflowing_orders.csv"
    path.write_text("Cust ID,Total Value\n1000,1e308\n1000,1e308\n1000,250.00\n")
    return path


def hostile_emails_csv(dir: Path) -> Path:
    """A zero-width space, a Cyrillic homoglyph, a fullwidth twin of another row's address, and a good one."""
    path = Path(dir) / "hostile_emails.csv"
    emails = ["jo\u200be@example.com", "j\u043ee@example.com", "ｊｏｅ＠ｅｘａｍｐｌｅ.com", "joe@example.com"]
    lines = [",".join(MEMBERSHIP_HEADERS)] + [f"{1000 + i},Customer {i},2024-01-01,2027-06-01,{email},Gold"
                                              for i, email in enumerate(emails)]
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def long_text_csv(dir: Path, chars: int = 70_000) -> Path:
    """A customer name past HubSpot's 65,536 characters and Excel's 32,767."""
    path = Path(dir) / "long_text.csv"
    lines = _membership_csv_lines(2, {0: "N" * chars})
    path.write_text("\n".join(lines) + "\n")
    return path


def control_characters_csv(dir: Path) -> Path:
    """Names holding an escape, a bell and a DEL inside quoted cells (past the gate's text check)."""
    path = Path(dir) / "control_characters.csv"
    lines = _membership_csv_lines(2, {0: '"Ann\x1b[31m Red"', 1: '"Bob\x07\x7f"'})
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def control_characters_xlsx(dir: Path) -> Path:
    """The same names as text cells of a workbook (stored as _x001B_ escapes, which every reader decodes)."""
    path = Path(dir) / "control_characters.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Memberships")
    rows = _membership_rows(2)
    rows[0][1], rows[1][1] = "Ann\x1b[31m Red", "Bob\x07\x7f"
    _write_table(ws, 0, MEMBERSHIP_HEADERS, rows, wb.add_format({"num_format": "yyyy-mm-dd"}))
    wb.close()
    return path


ALIAS_BOMB_RULES = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9))                       # ten levels of ten: 10^10 nodes from a few hundred bytes


# --------------------------------------------------------------------------------------
# The corpus: every hostile case, and what memberseg must do with it
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One hostile or careless input and the outcome `memberseg run` must give it (tests/unit/engine/
    test_hostile_corpus.py runs every case): `code` is error.json's code of an exit 2 with no other output;
    None is exit 0, and then `check(out_folder)` returns what is wrong with the outputs ("" when nothing).
    `rules`: the text of the run's --rules file (a hostile one, or a limit tightened)."""
    id: str
    source: str                                   # where the case comes from (the gate, issue 17's items)
    make: Callable[[Path], Path]
    code: str | None = None
    role: str = "memberships"
    check: Callable[[Path], str] | None = None
    rules: str | None = None


def _contacts(out: Path) -> list[dict[str, str]]:
    with open(out / "hubspot_contacts.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def _rows_in(count: int) -> Callable[[Path], str]:
    def check(out: Path) -> str:
        rows = _report(out)["memberships"]["rows_in"]
        return "" if rows == count else f"rows_in {rows}, not {count}"
    return check


def _far_dates_read(out: Path) -> str:
    expires = {row["cust_id"]: row["membership_expiration_date"] for row in _contacts(out)}
    wanted = {"1": "9999-12-31", "3": "3000-01-01", "4": "9999-12-31"}
    wrong = {k: expires.get(k) for k, v in wanted.items() if expires.get(k) != v}
    since = {row["cust_id"]: row["member_since"] for row in _contacts(out)}.get("2")
    return (f"expirations {wrong}" if wrong else "") + ("" if since == "0001-01-01" else f" member_since {since}")


def _no_inf(out: Path) -> str:
    text = (out / "hubspot_contacts.csv").read_text(encoding="utf-8").lower()
    rejected = _report(out)["orders"]["rejected"]
    return ("inf in the CSV " if "inf" in text else "") + ("" if rejected == 2 else f"{rejected} orders rejected")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


def _no_control_characters(out: Path) -> str:
    found = _CONTROL.findall((out / "hubspot_contacts.csv").read_text(encoding="utf-8"))
    return f"control characters in the CSV: {found}" if found else ""


def _only_the_good_email(out: Path) -> str:
    emails = [row["email"] for row in _contacts(out)]
    left_out = _report(out)["hubspot"]["left_out"]
    return "" if emails == ["joe@example.com"] and left_out == 3 else f"emails {emails}, left out {left_out}"


def _long_text_cut_and_listed(out: Path) -> str:
    report = _report(out)
    longest = max(len(row["company"]) for row in _contacts(out))
    cut, cells = report["hubspot"].get("cut_values") or [], report["workbook"].get("cut_cells") or []
    return "" if longest == 65_536 and len(cut) == 1 and cells else f"longest {longest}, cut {cut}, cells {cells}"


def _formulas_neutralised(out: Path) -> str:
    """No CSV value a spreadsheet would run, no formula in the workbook's sheets; the payloads kept as text."""
    values = [value for row in _contacts(out) for value in row.values()]
    live = [v for v in values if v.startswith(("=", "+", "@", "\t", "\r"))
            or (v.startswith("-") and not re.fullmatch(r"-\d+(\.\d+)?", v))]
    with zipfile.ZipFile(out / "membership_segments.xlsx") as book:
        sheets = "".join(book.read(n).decode() for n in book.namelist() if n.startswith("xl/worksheets/"))
        text = sheets + "".join(book.read(n).decode() for n in book.namelist() if n.endswith("sharedStrings.xml"))
    formulas = re.findall(r"<(?:\w+:)?f[ >/]", sheets)
    return ((f"live CSV values {live} " if live else "") + (f"{len(formulas)} formulas " if formulas else "")
            + ("" if "HYPERLINK" in text else "the payload is gone"))


CORPUS: list[Case] = [
    # the safety gate: refused before any spreadsheet library opens the file
    Case("empty file", "gate", empty_file, "empty_file"),
    Case("CSV text named .xlsx", "gate", csv_renamed_xlsx, "format_mismatch"),
    Case("xlsx named .xls", "gate", zip_renamed_xls, "format_mismatch"),
    Case("xlsx named .csv", "gate", zip_renamed_csv, "format_mismatch"),
    Case("xls named .csv", "gate", xls_renamed_csv, "format_mismatch"),
    Case("OLE file, not encrypted, named .xlsx", "gate", ole_not_encrypted_xlsx, "format_mismatch"),
    Case("password-protected workbook", "gate", encrypted_xlsx, "encrypted_file"),
    Case("random bytes named .xlsx", "gate", garbage_xlsx, "not_a_spreadsheet"),
    Case("NUL bytes at the start of a CSV", "gate", csv_with_nul, "not_a_spreadsheet"),
    Case("truncated zip", "gate", truncated_xlsx, "corrupt_file"),
    Case("zip without a workbook", "gate", no_workbook_zip_xlsx, "corrupt_file"),
    Case("10,001 zip entries", "gate", too_many_entries_xlsx, "unsafe_file"),
    Case("zip bomb (200 MB sheet)", "gate", zip_bomb_xlsx, "unsafe_file"),
    Case("DOCTYPE in sharedStrings", "gate", lambda d: doctype_xlsx(d, "sharedStrings"), "unsafe_file"),
    Case("DOCTYPE in a sheet", "gate", lambda d: doctype_xlsx(d, "sheet"), "unsafe_file"),
    Case("DOCTYPE in a UTF-16 sheet", "gate", lambda d: doctype_xlsx(d, "sheet", utf16=True), "unsafe_file"),
    Case("one cell at XFD1048576", "gate", far_cell_xlsx, "sheet_too_large"),
    Case("far cell, no dimension", "gate", lambda d: far_cell_xlsx(d, "no_dimension"), "sheet_too_large"),
    Case("far cell, lying dimension", "gate", lambda d: far_cell_xlsx(d, "lying_dimension"), "sheet_too_large"),
    Case("far row only (A2000000)", "gate", lambda d: far_cell_xlsx(d, "no_dimension", "A2000000"),
         "sheet_too_large"),
    Case("dimension A1:XFD1048576", "gate", far_dimension_xlsx, "sheet_too_large"),
    Case("far cell in odd XML syntax", "gate", odd_syntax_far_cell_xlsx, "sheet_too_large"),
    Case("16,384 columns without r attributes", "gate", rless_wide_xlsx, "sheet_too_large"),
    Case("far cell in the middle of 3,000 rows", "gate", hidden_far_cell_xlsx, "sheet_too_large"),
    Case("more rows than the limit", "gate", lambda d: valid_memberships_csv(d, rows=20), "too_many_rows",
         rules="limits:\n  max_rows: 10\n"),
    # careless but valid: read
    Case("title rows above the header", "valid", title_rows_xlsx, check=_rows_in(5)),
    Case("data on the second sheet", "valid", second_sheet_xlsx, check=_rows_in(5)),
    Case("formula payloads in cells", "valid", formula_injection_memberships_xlsx, check=_formulas_neutralised),
    Case("Windows-1252 CSV", "valid", lambda d: valid_memberships_csv(d, encoding="cp1252"), check=_rows_in(5)),
    # issue 17, item 3: every date a workbook or a CSV can hold
    Case("9999-12-31, 0001-01-01, 3000-01-01, serial 2958465 (xlsx)", "17.3 dates", far_dates_xlsx,
         check=_far_dates_read),
    Case("9999-12-31, 0001-01-01, 3000-01-01, 12/31/9999 (CSV)", "17.3 dates", far_dates_csv, check=_far_dates_read),
    # issue 17, item 4: what a line is, one encoding per file
    Case("form feed in a title line", "17.4 CSV", form_feed_title_csv, check=_rows_in(3)),
    Case("one Windows-1252 byte in a UTF-8 file", "17.4 CSV", mixed_encoding_csv, "mixed_encoding"),
    Case("a byte in neither encoding", "17.4 CSV", undefined_cp1252_csv, "unknown_encoding"),
    # issue 17, item 5: a budget per workbook
    Case("8 decoy sheets at the cell limit", "17.5 budget", decoy_sheets_xlsx, "workbook_too_large"),
    Case("5,000 small sheets", "17.5 budget", many_sheets_xlsx, "too_many_sheets"),
    # never read as the data: the visible sheet lacks a column, so no profile fits it and the run asks
    Case("hidden sheet with the data, visible one short", "17.5 budget", hidden_data_sheet_xlsx, "needs_answers"),
    # issue 17, item 6: outputs HubSpot will take
    Case("orders that add up past a double", "17.6 outputs", overflowing_orders_csv, role="orders", check=_no_inf),
    Case("NUL byte past the gate's first 64 KB", "17.6 outputs", late_nul_csv, "control_character"),
    Case("escape, bell and DEL in quoted CSV names", "17.6 outputs", control_characters_csv, "control_character"),
    Case("escape, bell and DEL in workbook names", "17.6 outputs", control_characters_xlsx,
         check=_no_control_characters),
    Case("zero-width, homoglyph and fullwidth emails", "17.6 outputs", hostile_emails_csv,
         check=_only_the_good_email),
    Case("a 70,000-character name", "17.6 outputs", long_text_csv, check=_long_text_cut_and_listed),
    # issue 17, item 7: the CLI's rules file is bounded as the Lambda path's is
    Case("YAML alias bomb in --rules", "17.7 rules", lambda d: valid_memberships_csv(d), "invalid_rules",
         rules=ALIAS_BOMB_RULES),
]
