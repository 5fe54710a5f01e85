"""Errors that carry enough context to tell a non-programmer what to fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class InputError(Exception):
    """Bad input: the user can fix it. The CLI exits 2 and writes error.json.

    `code` is a stable machine-readable slug; `message` is one plain sentence
    (or two) that names the file, sheet, row or column where known.
    """

    code: str
    message: str
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # exceptions pickle through args by default, which would lose the fields
        return (type(self), (self.code, self.message, self.file, self.sheet, self.row, self.column, self.details))

    def to_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "file": self.file}
        for key in ("sheet", "row", "column"):
            value = getattr(self, key)
            if value is not None:
                error[key] = value
        if self.details:
            error["details"] = self.details
        return {"error": error}
