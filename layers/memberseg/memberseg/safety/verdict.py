"""The gate's verdicts: every refusal as an `InputError` whose message a person can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from ..rules import Limits
from .scanner import SheetScan, col_letters

# Advice on removing a password, not a password.
PASSWORD_HELP = ("Remove the password in Excel (File > Info > Protect Workbook > Encrypt with Password, "  # noqa: S105
                 "clear the password, save) and upload it again.")


def _fmt(number: int) -> str:
    return f"{number:,}"


class Verdicts:
    """Builds the errors for one input file."""

    def __init__(self, path: Path, role: str) -> None:
        self.name = path.name
        self.role = role
        self.who = f"The {role} file '{self.name}'"

    def smaller(self, split: str, limit: str) -> str:
        """How to bring the file within `limit`: `split` (advice that may split the file) for memberships; an
        orders file is never split, since a run reads one and each part would give customers partial totals."""
        if self.role != "orders":
            return split
        return (f"Do not split an orders file: a run reads one orders file, so each part would give customers "
                f"partial totals and wrong tiers. Remove unneeded columns, or raise {limit} in a rules file.")

    def error(self, code: str, message: str, *, sheet: str | None = None, **details: object) -> InputError:
        return InputError(code=code, message=message, file=self.name, sheet=sheet, details=dict(details))

    def not_found(self, why: str) -> InputError:
        return self.error("file_not_found", f"{self.who} {why}")

    def corrupt(self, why: str = "is damaged or incomplete") -> InputError:
        return self.error(
            "corrupt_file",
            f"{self.who} {why}, so it cannot be read. Open it in Excel, save it again (or export it again) "
            "and upload the new file.",
        )

    def unsafe(self, why: str, **details: Any) -> InputError:
        return self.error(
            "unsafe_file",
            f"{self.who} {why}. This is not how Excel saves workbooks, so it was refused for safety; "
            "open it in Excel, save it as a new .xlsx and upload that.",
            **details,
        )

    def mismatch(self, message: str, detected: str) -> InputError:
        return self.error("format_mismatch", f"{self.who} {message}", detected=detected)

    def encrypted(self) -> InputError:
        return self.error("encrypted_file", f"{self.who} is protected with a password. {PASSWORD_HELP}")

    def too_many_lines(self, lines: int, limits: Limits) -> InputError:
        return self.error(
            "too_many_rows",
            f"{self.who} has about {_fmt(lines)} lines, more than the {_fmt(limits.max_rows)} rows "
            "this tool accepts. " + self.smaller("Split it into smaller files and upload them one at a time.",
                                                 "limits.max_rows"),
            lines=lines,
            max_rows=limits.max_rows,
        )

    def workbook_too_large(self, cells: int, limits: Limits, sheet: str) -> InputError:
        return self.error(
            "workbook_too_large",
            f"{self.who} has {_fmt(cells)} cells in its sheets' used areas together, more than the "
            f"{_fmt(limits.max_workbook_cells)} this tool reads in one workbook (limits.max_workbook_cells; sheet "
            f"'{sheet}' went past it). Delete the stray cells far below or right of the data, or copy the data into "
            "a new workbook, and upload it again.",
            sheet=sheet, cells=cells, limit="limits.max_workbook_cells", max_workbook_cells=limits.max_workbook_cells,
        )

    def judge_sheet(self, scan: SheetScan, limits: Limits, part: str, sheet_name: str | None) -> InputError | None:
        """The refusal for a scanned sheet, or None when it is within the limits."""
        return _SheetJudgement(self, limits, part, sheet_name).judge(scan)


def used_area(scan: SheetScan) -> tuple[int, int]:
    """(rows, columns) of a sheet's used area: to its farthest cell, or its declared dimension if larger."""
    return (max(scan.max_row, scan.dim_row if scan.dim_ref else 0),
            max(scan.max_col, scan.dim_col if scan.dim_ref else 0))


class _SheetJudgement:
    def __init__(self, verdicts: Verdicts, limits: Limits, part: str, sheet_name: str | None) -> None:
        self.verdicts = verdicts
        self.limits = limits
        self.part = part
        self.sheet = sheet_name or part
        self.where = f"sheet '{sheet_name}'" if sheet_name else f"sheet part {part}"

    def _error(self, message: str, **details: Any) -> InputError:
        return self.verdicts.error("sheet_too_large", message, sheet=self.sheet, part=self.part, **details)

    def _far_outside(self, what: str, **details: Any) -> InputError:
        bounds = f"{_fmt(self.limits.max_rows)} rows × {_fmt(self.limits.max_columns)} columns"
        fix = "Delete the stray cells (or copy the real data into a new workbook) and upload it again."
        return self._error(f"{self.verdicts.who} {what} in {self.where}, far outside the {bounds} this tool "
                           f"accepts. {fix}", **details)

    def judge(self, scan: SheetScan) -> InputError | None:
        return (self._beyond_the_grid(scan) or self._too_many(scan) or self._declared_area(scan)
                or self._used_area(scan))

    def _beyond_the_grid(self, scan: SheetScan) -> InputError | None:
        limits = self.limits
        row_over, col_over = scan.max_row > limits.max_rows, scan.max_col > limits.max_columns
        if not (row_over or col_over):
            return None
        if scan.bad_ref:
            return self._far_outside(f"has a cell at {scan.bad_ref}", cell=scan.bad_ref)
        if row_over and col_over:
            ref = f"{col_letters(scan.max_col)}{scan.max_row}"
            return self._far_outside(f"has a cell at {ref}", cell=ref)
        if row_over:
            return self._far_outside(f"has a cell in row {_fmt(scan.max_row)}", row=scan.max_row)
        column = col_letters(scan.max_col)
        return self._far_outside(f"has a cell in column {column}", column=column)

    def _too_many(self, scan: SheetScan) -> InputError | None:
        if scan.n_rows > self.limits.max_rows:
            return self._far_outside(f"has {_fmt(scan.n_rows)} rows", rows=scan.n_rows)
        if scan.n_cells > self.limits.max_cells:
            return self._error(
                f"{self.verdicts.who} has {_fmt(scan.n_cells)} cells in {self.where}, more than the "
                f"{_fmt(self.limits.max_cells)} this tool accepts. " + self.verdicts.smaller(
                    "Remove unneeded columns or split the file, and upload it again.", "limits.max_cells"),
                cells=scan.n_cells,
            )
        return None

    def _declared_area(self, scan: SheetScan) -> InputError | None:
        if scan.dim_ref is not None and (scan.dim_row > self.limits.max_rows or scan.dim_col > self.limits.max_columns):
            return self._far_outside(f"declares its used area as {scan.dim_ref}", dimension=scan.dim_ref)
        return None

    def _used_area(self, scan: SheetScan) -> InputError | None:
        rows, cols = used_area(scan)
        if rows * cols <= self.limits.max_cells:
            return None
        ref = f"{col_letters(cols)}{rows}"
        return self._error(
            f"{self.verdicts.who} uses the area A1:{ref} in {self.where} ({_fmt(rows * cols)} cells), more than the "
            f"{_fmt(self.limits.max_cells)} cells this tool accepts. " + self.verdicts.smaller(
                "Remove unneeded columns or rows, or split the file, and upload it again.", "limits.max_cells"),
            cell=ref,
        )
