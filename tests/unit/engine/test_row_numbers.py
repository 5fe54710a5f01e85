"""Row numbers are whole numbers everywhere: in the messages that point at a row and in every sheet's row
columns; a row without a number stays blank, never NaN or 0."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd

from builders import d, membership, order, run_rows
from memberseg.hubspot import select_contacts
from memberseg.workbook import WorkbookWriter, column
from memberseg.write import needs_attention, write_outputs


def test_the_message_for_a_taken_email_names_the_first_row_as_a_whole_number() -> None:
    # A blank email among the members used to turn the first-row lookup into floats ("row 3.0").
    members = pd.DataFrame({"row": np.array([2, 3, 4, 5], dtype=np.int64), "customer_id": ["1", "2", "3", "4"],
                            "customer_name": ["A", "B", "C", "D"],
                            "email": [None, "b@x.com", "b@x.com", None]})
    _, left_out = select_contacts(members)
    reasons = left_out.set_index("customer_id")["reason"]
    assert "already belongs to customer 2 (memberships row 3)," in reasons["3"], reasons["3"]
    assert left_out["row"].tolist() == [2, 4, 5] and left_out["row"].dtype == np.int64


def test_every_row_column_of_the_workbook_holds_whole_numbers(tmp_path: Path) -> None:
    result = run_rows(tmp_path, [
        membership(1, "Acme", d("2025-01-10"), d("2026-01-10"), "acme@x.com"),
        membership(1, "Acme", d("2026-01-10"), d("2027-01-10"), "acme@x.com"),   # a renewal: Kept Row
        membership(2, "Bolt", d("2026-02-01"), d("2027-02-01"), "acme@x.com"),   # taken email
        membership(3, "Blank", d("2026-02-01"), None, "blank@x.com"),             # rejected
        membership(4, "No Mail", d("2026-02-01"), d("2027-02-01"), None),          # no email
    ], [order(1, 10, d("2026-03-01")), order(None, 5, d("2026-03-01"), "Nobody")])
    attention = needs_attention(result)
    assert attention["row"].dtype == np.int64
    (tmp_path / "out").mkdir()
    write_outputs(result, tmp_path / "out")
    book = openpyxl.load_workbook(tmp_path / "out" / "membership_segments.xlsx")
    for sheet, header in (("Needs Attention", "Row"), ("Excluded Rows", "Row"), ("Duplicates Removed", "Kept Row")):
        ws = book[sheet]
        column = [c.value for c in ws[1]].index(header) + 1
        for (cell,) in ws.iter_rows(min_row=2, min_col=column, max_col=column):
            assert cell.value is None or float(cell.value).is_integer(), (sheet, cell.value)
            assert cell.number_format == "0", (sheet, cell.number_format)
    rows = {r[4]: r[3] for r in book["Needs Attention"].iter_rows(min_row=2, values_only=True)}
    assert rows["2"] == 4 and rows["3"] == 5 and rows["4"] == 6
    reasons = [r[6] for r in book["Needs Attention"].iter_rows(min_row=2, values_only=True)]
    assert any("(memberships row 3)," in reason for reason in reasons), reasons
    assert not any(".0)" in reason or "nan" in reason for reason in reasons), reasons
    assert [r[-2] for r in book["Duplicates Removed"].iter_rows(min_row=2, values_only=True)] == [3]


def test_a_row_without_a_number_is_blank(tmp_path: Path) -> None:
    writer = WorkbookWriter(tmp_path / "w.xlsx")
    writer.table("Rows", [column("Row", "integer", pd.Series([227, np.nan, 3]))], 3)
    writer.close()
    cells = [c for (c,) in openpyxl.load_workbook(tmp_path / "w.xlsx")["Rows"].iter_rows(min_row=2)]
    assert [c.value for c in cells] == [227, None, 3] and cells[0].number_format == "0"
