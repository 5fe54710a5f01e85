"""Compare two output folders of memberseg, e.g. before and after a change to the writer.

    python scripts/compare_outputs.py OLD_DIR NEW_DIR

Same file names; the HubSpot CSVs and property definitions byte for byte; report.json equal but its
timings; the workbook read back with openpyxl, sheet by sheet, every cell's value, Python type and
number format. It also says whether the sheets' XML is byte-identical (a stricter check, not required).
Exit status 0 when the outputs are the same, 1 when they differ.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import openpyxl


def workbook_cells(path: Path) -> dict[str, list[tuple]]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return {sheet.title: [tuple((cell.value, type(cell.value).__name__, getattr(cell, "number_format", None))
                                    for cell in row) for row in sheet.iter_rows()]
                for sheet in book.worksheets}
    finally:
        book.close()


def _first_difference(old: list[tuple], new: list[tuple]) -> str:
    if len(old) != len(new):
        return f"{len(old)} rows against {len(new)}"
    row = next(i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b)
    return f"row {row + 1}: {old[row]!r:.200} against {new[row]!r:.200}"


def compare_workbooks(old: Path, new: Path) -> list[str]:
    a, b = workbook_cells(old), workbook_cells(new)
    problems = [] if list(a) == list(b) else [f"sheets {list(a)} against {list(b)}"]
    problems += [f"sheet {name!r}: {_first_difference(cells, b[name])}"
                 for name, cells in a.items() if name in b and cells != b[name]]
    with zipfile.ZipFile(old) as za, zipfile.ZipFile(new) as zb:
        sheets = [name for name in za.namelist() if name.startswith("xl/worksheets/")]
        identical = all(name in zb.namelist() and za.read(name) == zb.read(name) for name in sheets)
    print(f"  {new.name}: {len(a)} sheets, {sum(len(row) for rows in a.values() for row in rows)} cells compared; "
          f"sheet XML byte-identical: {identical}")
    return problems


def compare(old_dir: Path, new_dir: Path) -> list[str]:
    names = sorted(path.name for path in old_dir.iterdir())
    if names != sorted(path.name for path in new_dir.iterdir()):
        return ["the folders hold different files"]
    problems = []
    for name in names:
        old, new = old_dir / name, new_dir / name
        if name.endswith(".xlsx"):
            problems += compare_workbooks(old, new)
        elif name == "report.json":
            reports = [json.loads(path.read_text(encoding="utf-8")) for path in (old, new)]
            for report in reports:
                report.pop("timings_seconds", None)
            if reports[0] != reports[1]:
                problems.append("report.json differs (timings aside)")
        elif old.read_bytes() != new.read_bytes():
            problems.append(f"{name} differs")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    problems = compare(Path(argv[0]), Path(argv[1]))
    print("SAME" if not problems else "DIFFERENT:\n" + "\n".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
