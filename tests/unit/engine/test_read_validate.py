"""Reading inputs (sheet, header row, aliases, blank rows, CSV dialects) and the validation rules."""

import pytest

from builders import (
    MEMBERSHIP_HEADERS,
    ORDER_HEADERS,
    d,
    membership,
    order,
    rules_with,
    run_rows,
    write_csv,
    write_xlsx,
)
from memberseg.errors import InputError
from memberseg.orders import validate_orders
from memberseg.pipeline import read_input, summarize_orders
from memberseg.read import SourceFacts
from memberseg.rules import load_rules
from platform_files import SHOPIFY, write

ROWS = [membership(1, "Acme", d("2024-01-01"), d("2025-01-01"), "a@acme.com")]


def read(path, rules=None):
    return read_input(path, "memberships", rules or load_rules())


def test_header_matching_ignores_case_spaces_and_punctuation(tmp_path):
    headers = ["CUST. ID", "customer_name", " created-date ", "EXPIRY DATE"]
    table = read(write_xlsx(tmp_path / "m.xlsx", headers, [ROWS[0][:4]]))
    assert table.fields == {"customer_id": 0, "customer_name": 1, "created_date": 2, "expiration_date": 3}


def test_header_on_row_3_under_title_rows(tmp_path):
    table = read(write_xlsx(tmp_path / "m.xlsx", MEMBERSHIP_HEADERS, ROWS,
                            title_rows=["Membership export", "Generated today"]))
    assert table.header_row == 3
    assert table.rows.tolist() == [4]


def test_header_beyond_the_search_window_is_not_found(tmp_path):
    path = write_xlsx(tmp_path / "m.xlsx", MEMBERSHIP_HEADERS, ROWS, title_rows=[f"title {i}" for i in range(20)])
    with pytest.raises(InputError) as caught:
        read(path)
    assert caught.value.code == "missing_column"
    assert read(path, rules_with({"inputs": {"header_search_rows": 25}})).header_row == 21


def test_first_sheet_with_the_required_columns_wins(tmp_path):
    table = read(write_xlsx(tmp_path / "m.xlsx", MEMBERSHIP_HEADERS, ROWS, sheet="Data",
                            sheets_before=["Read me"]))
    assert table.sheet == "Data"
    assert table.rows_in == 1


def test_configured_sheet_name(tmp_path):
    path = write_xlsx(tmp_path / "m.xlsx", MEMBERSHIP_HEADERS, ROWS, sheet="Data", sheets_before=["Other"])
    rules = rules_with({"inputs": {"memberships": {"sheet": "Other"}}})
    with pytest.raises(InputError) as caught:
        read(path, rules)
    assert caught.value.code == "missing_column" and caught.value.sheet == "Other"
    rules = rules_with({"inputs": {"memberships": {"sheet": "Missing"}}})
    with pytest.raises(InputError) as caught:
        read(path, rules)
    assert caught.value.code == "sheet_not_found"
    assert "Data" in caught.value.message and "Other" in caught.value.message


def test_leftmost_of_two_matching_headers_wins(tmp_path):
    headers = ["Cust ID", "Customer Name", "Company", "Created", "Expires"]
    path = write_xlsx(tmp_path / "m.xlsx", headers, [[1, "Left name", "Right name", d("2024-01-01"),
                                                      d("2025-01-01")]])
    table = read(path)
    assert table.fields["customer_name"] == 1


def test_blank_rows_inside_the_data_are_skipped_and_not_counted(tmp_path):
    rows = [ROWS[0], [None] * 6, [None] * 6, membership(2, "Beta", d("2024-01-01"), d("2025-01-01"))]
    table = read(write_xlsx(tmp_path / "m.xlsx", MEMBERSHIP_HEADERS, rows))
    assert table.rows_in == 2
    assert table.rows.tolist() == [2, 5]   # Excel's own row numbers


@pytest.mark.parametrize("write", [write_xlsx, write_csv])
def test_orders_row_with_cells_only_in_an_unused_column_is_no_blank_row(tmp_path, write):
    """Orders keep only their fields' columns, but a row is blank only when every column of the sheet is."""
    rows = [order(1, 10.0, d("2024-01-01"), "Acme") + [None, None],
            [None, None, None, None, None, "call back"],
            [None] * 6,
            order(2, 20.0, d("2024-02-01"), "Beta") + ["note", None]]
    path = write(tmp_path / f"o.{'xlsx' if write is write_xlsx else 'csv'}", ORDER_HEADERS + ["Notes", ""], rows)
    table = read_input(path, "orders", load_rules())
    assert table.headers == ORDER_HEADERS
    assert table.rows.tolist() == [2, 3, 5]
    assert table.column("customer_id").tolist()[1] in ("", None)


def _line_items(tmp_path):
    """One Shopify order of two line items: the order-level cells are on its first row only."""
    return write(tmp_path / "orders_export.csv", SHOPIFY, [
        {"Name": "#1001", "Email": "mia@example.com", "Financial Status": "paid", "Currency": "USD",
         "Total": "1,250.00", "Created at": "2026-05-01 23:30:11 -0400", "Lineitem name": "Hat"},
        {"Name": "#1001", "Lineitem name": "Scarf"},
    ])


def test_validating_orders_returns_its_decisions_and_leaves_the_table_as_read(tmp_path):
    rules = load_rules()
    table = read_input(_line_items(tmp_path), "orders", rules)
    as_read = table.frame.copy()
    validated = validate_orders(table, rules)
    assert table.frame.equals(as_read) and list(table.frame.columns) == list(as_read.columns)
    assert table.column("order_value").tolist()[1] in ("", None)   # the continuation row's own cell
    assert validated.valid["value"].tolist() == [1250.0, 0.0]      # the order counts once
    assert validated.valid["id_key"].tolist() == ["mia@example.com"] * 2
    assert validated.locale["decimal_separator"] == "." and validated.locale["decimal_separator_decided_by"] == \
        "values"
    assert validated.locale["date_order"] == table.facts(validated.locale).locale["date_order"]


def test_the_orders_summary_carries_the_source_facts_not_the_table(tmp_path):
    path = _line_items(tmp_path)
    summary = summarize_orders(path, load_rules())
    assert isinstance(summary.source, SourceFacts)
    assert (summary.source.file, summary.source.sheet, summary.source.header_row, summary.source.rows_in) == \
        (path.name, None, 1, 2)
    assert summary.source.profile == "shopify_orders" and summary.source.profile_chosen_by == "headers"
    described = summary.source.describe()
    assert described["rows"] == 2 and described["profile"]["name"] == "shopify_orders"
    assert described["decimal_separator"] == "." and "date_order_decided_by" in described
    assert summary.by_id["order_count"].tolist() == [1] and summary.facts["orders_in"] == 1


def test_missing_required_column_message(tmp_path):
    headers = ["Cust ID", "Customer Name", "Created Date", "Expiry Dt"]
    path = write_xlsx(tmp_path / "members.xlsx", headers, [ROWS[0][:4]], sheet="Export")
    with pytest.raises(InputError) as caught:
        read(path)
    error = caught.value
    assert (error.code, error.file, error.sheet, error.column) == ("missing_column", "members.xlsx", "Export",
                                                                   "expiration_date")
    for part in ("members.xlsx", "Export", "expiration_date", "Expiration Date, Expiry Date", "Expiry Dt",
                 "closest header is 'Expiry Dt'"):
        assert part in error.message


def test_empty_workbook(tmp_path):
    import xlsxwriter

    book = xlsxwriter.Workbook(str(tmp_path / "empty.xlsx"))
    book.add_worksheet()
    book.close()
    with pytest.raises(InputError) as caught:
        read(tmp_path / "empty.xlsx")
    assert caught.value.code == "empty_file"


@pytest.mark.parametrize("delimiter, encoding", [(",", "utf-8"), (";", "utf-8-sig"), ("\t", "cp1252"),
                                                 (",", "utf-8-sig")])
def test_csv_dialects_and_encodings(tmp_path, delimiter, encoding):
    rows = [[1, "Café Zoë", "01/02/2024", "2025-01-02", "z@cafe.com", "Enrolled"]]
    path = write_csv(tmp_path / "m.csv", MEMBERSHIP_HEADERS, rows, delimiter=delimiter, encoding=encoding)
    table = read(path)
    assert table.column("customer_name").tolist() == ["Café Zoë"]
    assert table.rows.tolist() == [2]


def test_csv_with_title_rows_and_blank_lines(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("Membership export\n\n" + ",".join(MEMBERSHIP_HEADERS) + "\n"
                    "1,Acme,2024-01-01,2025-01-01,a@acme.com,Enrolled\n\n"
                    "2,Beta,2024-01-01,2025-01-01,,\n", encoding="utf-8")
    table = read(path)
    assert table.header_row == 3
    assert table.rows.tolist() == [4, 6]


@pytest.mark.parametrize("row, reason", [
    (membership(None, None, d("2024-01-01"), d("2025-01-01")), "no customer ID and no customer name"),
    (membership(1, "A", None, d("2025-01-01")), "created date is missing"),
    (membership(1, "A", "yesterday", d("2025-01-01")), "created date 'yesterday' is not a date"),
    (membership(1, "A", d("2024-01-01"), None), "expiration date is missing"),
    (membership(1, "A", d("2024-01-01"), "31/31/2025"), "expiration date '31/31/2025' is not a date"),
    (membership(1, "A", d("2024-01-02"), d("2024-01-01")), "expiration date is before created date"),
])
def test_membership_rejections(tmp_path, row, reason):
    result = run_rows(tmp_path, [row, membership(2, "Fine", d("2024-01-01"), d("2025-01-01"))])
    rejected = result.member_validation.rejected
    assert rejected["row"].tolist() == [2]
    assert rejected["reason"].iloc[0] == reason
    assert len(result.members) == 1


def test_a_row_with_only_a_name_or_only_an_id_is_valid(tmp_path):
    result = run_rows(tmp_path, [membership(None, "Name only", d("2024-01-01"), d("2025-01-01")),
                                 membership(5, None, d("2024-01-01"), d("2025-01-01"))])
    assert len(result.members) == 2
    assert result.member_validation.rejected.empty


def test_same_day_created_and_expiration_is_valid(tmp_path):
    result = run_rows(tmp_path, [membership(1, "A", d("2024-01-01"), d("2024-01-01"))])
    assert result.member_validation.rejected.empty


def test_members_sheet_id_shows_file_text(tmp_path):
    result = run_rows(tmp_path, [membership(2001.0, "A", d("2024-01-01"), d("2025-01-01")),
                                 membership("00123", "B", d("2024-01-01"), d("2025-01-01"))])
    assert sorted(result.members["customer_id"]) == ["00123", "2001"]
