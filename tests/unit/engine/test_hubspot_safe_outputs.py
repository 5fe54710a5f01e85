"""Outputs HubSpot takes without silent damage, whatever the files held (issue 17, deliverable 6).

No number is inf or NaN (an order too large to add up is rejected with the reason); no control character
reaches the CSV; emails are NFKC-normalised, and an invisible character or a mix of scripts leaves the
customer out with the reason; text past HubSpot's 65,536 characters is cut and listed, as is every workbook
cell cut at Excel's 32,767.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import MEMBERSHIP_HEADERS, d, membership, order, rules_with, run_rows, write_csv
from memberseg.enrich import enrich
from memberseg.hubspot import HUBSPOT_MAX_VALUE_CHARS, changed_values, csv_text, money_text, render_files
from memberseg.orders import MAX_ORDER_VALUE
from memberseg.runner import run_job
from memberseg.values import email_problems, valid_email
from memberseg.workbook import EXCEL_MAX_STRING, WorkbookWriter, column

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
NUMBER_COLUMNS = ("renewal_count", "total_order_value", "order_count", "estimated_savings")
AS_OF = dt.date(2026, 11, 15)


def csv_rows(result, contacts: pd.DataFrame | None = None) -> list[dict]:
    (data,) = render_files(result.hubspot.contacts if contacts is None else contacts, result.rules).values()
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def member(cust_id, email, name="Member"):
    return membership(cust_id, name, d("2024-01-01"), d("2027-06-01"), email)


# --- numbers: an order too large to add up is rejected, never inf -------------------------------------

def test_two_orders_of_1e308_are_rejected_with_a_reason_and_never_add_up_to_inf(tmp_path):
    result = run_rows(tmp_path, [member(1, "a@x.com")], [order(1, 1e308), order(1, 1e308), order(1, 250.0)])
    reasons = result.orders_rejected["reason"].tolist()
    assert reasons == ["order value '1e+308' is too large to add up (an order is below 1,000,000,000,000,000)"] * 2
    (row,) = csv_rows(result)
    assert (row["total_order_value"], row["order_count"], row["order_value_tier"]) == ("250.00", "1", "Bronze")
    assert row["estimated_savings"] == "20.00"


def test_the_bound_is_below_a_thousand_trillion_either_sign(tmp_path):
    just_below = 999_999_999_999_000.0
    result = run_rows(tmp_path, [member(1, "a@x.com")],
                      [order(1, just_below), order(1, MAX_ORDER_VALUE), order(1, -MAX_ORDER_VALUE)])
    assert result.orders_rejected["row"].tolist() == [3, 4]
    assert result.members["total_order_value"].tolist() == [just_below]


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "1" + "0" * 400, "Infinity"])
def test_inf_nan_and_numbers_past_a_double_are_not_numbers(tmp_path, text):
    result = run_rows(tmp_path, [member(1, "a@x.com")], [order(1, text)])
    (reason,) = result.orders_rejected["reason"]
    assert reason.startswith("order value '") and reason.endswith("' is not a number")
    assert csv_rows(result)[0]["total_order_value"] == "0.00"


def test_an_amount_that_grows_past_the_bound_when_converted_is_rejected(tmp_path):
    rules = rules_with({"orders": {"base_currency": "USD", "currency_rates": {"EUR": 2.0}}})
    result = run_rows(tmp_path, [member(1, "a@x.com")],
                      [order(1, "EUR 900000000000000"), order(1, "USD 10")], rules=rules)
    (reason,) = result.orders_rejected["reason"]
    assert "is too large to add up" in reason
    assert result.members["total_order_value"].tolist() == [10.0]


def test_a_total_that_is_no_finite_number_is_a_fault_never_an_output():
    with pytest.raises(RuntimeError, match="not a finite number"):
        money_text(pd.Series([1.0, math.inf]))
    customers = pd.DataFrame({"customer_id": ["1"]}, index=pd.Index([0], name="customer"))
    links = pd.DataFrame({"key": ["1", "2"], "customer": [0, 0]})
    per_id = pd.DataFrame({"total": [1e308, 1e308], "order_count": [1, 1], "rows": [1, 1],
                           "last_order": pd.to_datetime(["2025-01-01"] * 2),
                           "first_paid": pd.to_datetime(["2025-01-01"] * 2), "customer_id": ["1", "2"],
                           "customer_name": [None, None]}, index=pd.Index(["1", "2"], name="id_key"))
    with np.errstate(over="ignore"), pytest.raises(RuntimeError, match="not a finite number"):
        enrich(customers, links, per_id, rules_with({}))


# --- control characters: none reaches the CSV ------------------------------------------------------------

def test_control_characters_never_reach_the_csv_and_each_change_is_listed(tmp_path):
    result = run_rows(tmp_path, [member(1, "a@x.com"), member(2, "b@x.com"), member(3, "c@x.com"),
                                 member(4, "d@x.com"), member(5, "e@x.com")])
    contacts = result.hubspot.contacts.copy()
    hostile = {"1": "Acme\x00 Inc", "2": "Esc\x1b[31mRed", "3": "Next\x85Line\r\nand\ttab\u2028end",
               "4": "\t=cmd()", "5": "\x00=HYPERLINK(1)"}
    contacts["company"] = contacts["customer_id"].map(hostile)
    rows = {row["cust_id"]: row for row in csv_rows(result, contacts)}
    assert {key: row["company"] for key, row in rows.items()} == {
        "1": "Acme Inc", "2": "Esc[31mRed", "3": "Next Line  and tab end",
        "4": "' =cmd()",          # a formula start before the clean-up keeps its prefix
        "5": "'=HYPERLINK(1)"}   # and so does one that starts a formula once the NUL is gone
    changed = changed_values(contacts)
    assert changed["customer_id"].tolist() == ["1", "2", "3", "4", "5"]
    assert set(changed["column"]) == {"company"} and changed["cleaned"].all()
    assert changed["reason"].eq("company in the HubSpot file: control characters taken out "
                                "(a line break or tab became a space)").all()


def test_a_name_with_an_escape_from_the_file_is_cleaned_and_listed_under_needs_attention(tmp_path):
    result = run_rows(tmp_path, [membership(1, "Bad\x1bName", d("2024-01-01"), d("2027-06-01"), "a@x.com")])
    assert csv_rows(result)[0]["company"] == "BadName"
    (change,) = result.hubspot.changed.to_dict("records")
    assert (change["row"], change["customer_id"], change["column"], change["cleaned"]) == (2, "1", "company", True)


def test_clean_text_is_unchanged_and_the_formula_prefix_is_kept():
    values = pd.Series(["=1+1", "+1", "-x", "@SUM(A1)", "\tTab", "\rCR", "plain", "a=b", None, "Zoë"], dtype=object)
    fitted = csv_text(values)
    assert fitted.cells.tolist() == ["'=1+1", "'+1", "'-x", "'@SUM(A1)", "' Tab", "' CR", "plain", "a=b", "",
                                     "Zoë"]
    assert fitted.cleaned.tolist() == [False] * 4 + [True, True] + [False] * 4
    assert fitted.cut_from.eq(0).all()


# --- emails: NFKC, invisible characters, mixed scripts -------------------------------------------------------

def test_a_fullwidth_email_is_the_same_address_after_nfkc_and_so_a_duplicate(tmp_path):
    assert valid_email(pd.Series(["ｊｏｅ＠ｅｘａｍｐｌｅ.com", " ＪＯＥ@example.com "])).tolist() == [
        "joe@example.com", "joe@example.com"]
    result = run_rows(tmp_path, [member(1, "joe@example.com"), member(2, "ｊｏｅ＠ｅｘａｍｐｌｅ.com")])
    assert [row["email"] for row in csv_rows(result)] == ["joe@example.com"]
    (reason,) = result.hubspot.left_out["reason"]
    assert reason.startswith("email joe@example.com already belongs to customer 1")


def test_an_email_with_a_zero_width_space_is_left_out_with_the_character_named(tmp_path):
    result = run_rows(tmp_path, [member(1, "jo\u200be@x.com"), member(2, "fine@x.com")])
    assert [row["email"] for row in csv_rows(result)] == ["fine@x.com"]
    (left,) = result.hubspot.left_out.to_dict("records")
    assert left["customer_id"] == "1"
    assert left["reason"] == ("email 'jo<U+200B>e@x.com' contains an invisible or control character "
                              "(U+200B ZERO WIDTH SPACE), so the customer is not in the HubSpot file")


def test_an_email_with_a_cyrillic_homoglyph_is_left_out_as_mixed_scripts(tmp_path):
    result = run_rows(tmp_path, [member(1, "j\u043ee@example.com"), member(2, "joe@ex\u0430mple.com")])
    assert csv_rows(result) == []
    reasons = result.hubspot.left_out.set_index("customer_id")["reason"]
    assert "mixes Cyrillic and Latin letters in its local part" in reasons["1"]
    assert "mixes Cyrillic and Latin letters in its domain label 'ex\u0430mple'" in reasons["2"]


@pytest.mark.parametrize("email, problem", [
    ("jo\u00ade@x.com", "U+00AD SOFT HYPHEN"),
    ("\ufeffjoe@x.com", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ("joe\u202e@x.com", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("jo\u2066e@x.com", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("jo\u200de@x.com", "U+200D ZERO WIDTH JOINER"),
    ("jo\u2060e@x.com", "U+2060 WORD JOINER"),
    ("jo\x00e@x.com", "U+0000"),
    ("\u03b1lpha@x.com", "mixes Greek and Latin letters in its local part"),
    ("a" * 250 + "@x.com", "is 256 characters long, more than the 254 an address can have"),
])
def test_email_problems_name_the_problem(email, problem):
    (email_text,) = valid_email(pd.Series([email]))
    assert problem in email_problems(pd.Series([email_text]))[0]


@pytest.mark.parametrize("email", ["joe@example.com", "иван@пример.рф", "ivan@пример.com", "用户@例子.广告",
                                   "tanaka@日本語ドメイン.jp", "田中たなか@example.jp", "김@example.kr",
                                   "josé.müller@exämple.de"])
def test_single_script_and_cjk_addresses_are_fine(email):
    (email_text,) = valid_email(pd.Series([email]))
    assert email_problems(pd.Series([email_text])).tolist() == [""]


# --- text limits: HubSpot's 65,536 and Excel's 32,767 ---------------------------------------------------------

def test_text_past_hubspots_limit_is_cut_to_it_and_listed():
    values = pd.Series(["n" * 70_000, "=" + "x" * 70_000, "\U0001F600" * 40_000, "y" * HUBSPOT_MAX_VALUE_CHARS],
                       dtype=object)
    fitted = csv_text(values)
    cells = fitted.cells.tolist()
    assert cells[0] == "n" * HUBSPOT_MAX_VALUE_CHARS
    assert cells[1] == "'=" + "x" * (HUBSPOT_MAX_VALUE_CHARS - 2)        # the prefix counts
    assert cells[2] == "\U0001F600" * (HUBSPOT_MAX_VALUE_CHARS // 2)    # an emoji is two UTF-16 units
    assert cells[3] == values[3]                                          # at the limit: kept whole
    assert fitted.cut_from.tolist() == [70_000, 70_002, 40_000, 0]


def test_a_70000_character_company_is_cut_in_the_csv_and_listed_everywhere(tmp_path):
    long_name = "N" * 70_000
    members = write_csv(tmp_path / "memberships.csv", MEMBERSHIP_HEADERS, [
        member(1, "a@x.com", long_name), member(2, "b@x.com", "Short")])
    orders = write_csv(tmp_path / "orders.csv", ["Sold-To Party", "Customer Name", "Order Date", "Net Value"],
                       [order(2, "10.00")])
    outcome = run_job(members, orders, tmp_path / "out", as_of=AS_OF, isolate=False)
    assert outcome.ok, outcome.error
    out = tmp_path / "out"
    rows = list(csv.DictReader(io.StringIO((out / "hubspot_contacts.csv").read_text(encoding="utf-8"))))
    company = {row["cust_id"]: row["company"] for row in rows}
    assert company == {"1": "N" * HUBSPOT_MAX_VALUE_CHARS, "2": "Short"}
    report = json.loads((out / "report.json").read_text())
    assert report["hubspot"]["cut_values"] == [{"row": 2, "customer_id": "1", "column": "company", "length": 70_000}]
    assert (report["hubspot"]["changed_values"], report["hubspot"]["cleaned_values"]) == (1, 0)
    # The same name is cut at Excel's limit in the workbook: Members, and the Needs Attention row naming it.
    members_sheet = next(s for s in report["workbook"]["cut_cells"] if s["sheet"] == "Members")
    assert members_sheet["column"] == "Customer Name" and members_sheet["length"] == 70_000
    # A first run's Changes sheet lists every customer as new, the long name too.
    assert {cell["sheet"] for cell in report["workbook"]["cut_cells"]} == {"Members", "Needs Attention", "Changes"}
    assert report["workbook"]["truncated_cells"] == len(report["workbook"]["cut_cells"])
    book = openpyxl.load_workbook(out / "membership_segments.xlsx", read_only=True)
    attention = [row for row in book["Needs Attention"].iter_rows(min_row=2, values_only=True)]
    (hubspot_row,) = [row for row in attention if row[0] == "HubSpot export"]
    assert hubspot_row[4] == "1" and hubspot_row[6] == (
        "company in the HubSpot file: cut from 70,000 to 65,536 characters, HubSpot's limit for a value")
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True) if row[0]}
    assert summary["Values changed for HubSpot (see Needs Attention)"] == 1
    assert summary["Cells cut to 32,767 characters (Excel's limit)"] == 3      # Members, Needs Attention, Changes
    assert summary[f"Members, row {members_sheet['row']}, Customer Name"] == "70,000 characters"
    assert book.sheetnames[:2] == ["Members", "Summary"]


def test_a_40000_character_workbook_cell_is_cut_and_listed(tmp_path):
    writer = WorkbookWriter(tmp_path / "w.xlsx")
    writer.table("Data", [column("Id", "text", pd.Series(["a", "b", "c"])),
                          column("Notes", "text", pd.Series(["short", "z" * 40_000, "y" * EXCEL_MAX_STRING]))], 3)
    writer.close()
    assert writer.cut_cells == [{"sheet": "Data", "row": 3, "column": "Notes", "length": 40_000}]
    assert writer.truncated_cells == 1
    sheet = openpyxl.load_workbook(tmp_path / "w.xlsx")["Data"]
    assert sheet["B3"].value == "z" * EXCEL_MAX_STRING


def test_a_run_without_cuts_or_changes_shows_no_extra_summary_lines(tmp_path):
    members = write_csv(tmp_path / "memberships.csv", MEMBERSHIP_HEADERS, [member(1, "a@x.com")])
    orders = write_csv(tmp_path / "orders.csv", ["Sold-To Party", "Customer Name", "Order Date", "Net Value"], [])
    assert run_job(members, orders, tmp_path / "out", as_of=AS_OF, isolate=False).ok
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["hubspot"]["cut_values"] == [] and report["hubspot"]["changed_values"] == 0
    assert report["workbook"]["cut_cells"] == []
    book = openpyxl.load_workbook(tmp_path / "out" / "membership_segments.xlsx", read_only=True)
    labels = [row[0] for row in book["Summary"].iter_rows(values_only=True)]
    assert "Workbook" not in labels and "Values changed for HubSpot (see Needs Attention)" not in labels


# --- properties over random values ---------------------------------------------------------------------------

HOSTILE_TEXT = st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Z", "Cc", "Cf"]),
                       max_size=30)
AMOUNTS = st.one_of(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e308, max_value=1e308),
                    st.sampled_from(["inf", "-inf", "nan", "1e400", "9" * 400, "$1,234.50", "(100.00)"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(HOSTILE_TEXT, st.none()), min_size=1, max_size=8))
def test_csv_text_never_holds_a_control_character_nor_an_unneutralised_formula(texts):
    fitted = csv_text(pd.Series(texts, dtype=object), limit=20)
    for before, cell in zip(texts, fitted.cells, strict=True):
        assert not CONTROL.search(cell)
        assert len(cell.encode("utf-16-le")) <= 40
        assert not cell.startswith(("=", "+", "-", "@"))   # a formula start always gets its ' first
        if (before or "").startswith(("=", "+", "-", "@", "\t", "\r")):
            assert cell.startswith("'")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(names=st.lists(HOSTILE_TEXT, min_size=3, max_size=3), amounts=st.lists(AMOUNTS, min_size=4, max_size=4))
def test_no_control_character_and_no_non_finite_number_ever_reaches_the_csv(tmp_path_factory, names, amounts):
    folder = tmp_path_factory.mktemp("random")
    result = run_rows(folder, [membership(n, "x" + name, d("2024-01-01"), d("2027-06-01"), f"m{n}@x.com")
                               for n, name in enumerate(names, start=1)],
                      [order(1 + n % 3, amount) for n, amount in enumerate(amounts)])
    (data,) = render_files(result.hubspot.contacts, result.rules).values()
    text = data.decode("utf-8")
    assert not CONTROL.search(text.replace("\n", ""))          # "\n" ends a record, and only that
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(result.hubspot.contacts) == text.count("\n") - 1
    for row in rows:
        for name in NUMBER_COLUMNS:
            if row[name]:
                assert np.isfinite(float(row[name])), (name, row[name])
    assert np.isfinite(result.members["total_order_value"]).all()
    assert np.isfinite(result.order_match.unmatched_total)
