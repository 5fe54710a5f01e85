"""The orders file's meaning compiled into SQL (`memberseg.orders_sql`, run by DuckDB) equals the pandas path's
(`memberseg.orders`): the per-key summary, every rejection and exclusion with its row and reason, the facts and
the source's entry in report.json, exactly (values, dtypes and the kind of missing value). Checked on every
bundled platform sample, the researched export fixtures with their profiles, and random files."""

from __future__ import annotations

import csv
import importlib.util
import string
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_orders_language import BRAINTREE_RULES, RECURLY_RULES, STRIPE_BALANCE_RULES

from memberseg.errors import InputError
from memberseg.orders import refunded_beyond_paid
from memberseg.orders_sql import EngineSettings, summarize_csv
from memberseg.pipeline import CheckedFile, summarize_orders
from memberseg.rules import Rules, load_rules, parse_rules

ROOT = Path(__file__).resolve().parents[3]
PLATFORM_ORDERS = sorted((ROOT / "examples" / "platforms").glob("*/orders.csv"))
EXPORTS = ROOT / "tests" / "fixtures" / "exports"
EXPORTS_WITH_PROFILES = {"braintree_orders": BRAINTREE_RULES, "recurly_orders": RECURLY_RULES,
                         "stripe_balance_orders": STRIPE_BALANCE_RULES}


def _script(name: str):
    """A script of scripts/, as a module: the test compares summaries as scripts/compare_orders.py does."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COMPARE = _script("compare_orders")


def in_pandas(rules: Rules) -> Rules:
    return rules.model_copy(update={"engine": rules.engine.model_copy(update={"csv_orders": "pandas"})})


def _both(path: Path, rules: Rules) -> tuple[dict, dict | None]:
    """(the pandas path's summary, the SQL's; None when the SQL declined the file), as comparable dicts."""
    try:
        summary = summarize_orders(path, in_pandas(rules), CheckedFile("csv", None))
        pandas_side = {"by_id": summary.by_id, "rejected": summary.rejected, "excluded": summary.excluded,
                       "facts": summary.facts, "source": summary.source.describe()}
    except InputError as error:
        pandas_side = {"error": error.to_dict()}
    try:
        found = summarize_csv(path, rules, EngineSettings(memory_limit="256MB", threads=1))
        if found is None:
            return pandas_side, None
        facts = found.facts
        if "row_types" in facts:
            facts["row_types"]["join_keys_refunded_beyond_paid"] = refunded_beyond_paid(found.by_id)
        sql_side = {"by_id": found.by_id, "rejected": found.rejected, "excluded": found.excluded, "facts": facts,
                    "source": found.source.describe()}
    except InputError as error:
        sql_side = {"error": error.to_dict()}
    return pandas_side, sql_side


def _assert_same(path: Path, rules: Rules) -> None:
    pandas_side, sql_side = _both(path, rules)
    assert sql_side is not None, f"the SQL declined {path}"
    assert COMPARE.difference(pandas_side, sql_side) is None, COMPARE.difference(pandas_side, sql_side)


@pytest.mark.parametrize("path", PLATFORM_ORDERS, ids=lambda path: path.parent.name)
def test_every_bundled_platform_sample_sums_the_same_in_sql(path):
    _assert_same(path, load_rules(None))


@pytest.mark.parametrize("folder", sorted(EXPORTS_WITH_PROFILES))
def test_the_researched_exports_sum_the_same_in_sql(folder):
    _assert_same(EXPORTS / folder / "orders.csv", parse_rules(EXPORTS_WITH_PROFILES[folder]))


def test_a_file_without_a_header_is_declined_and_left_to_the_pandas_path(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("nothing,here\n1,2\n", encoding="utf-8")
    assert summarize_csv(path, load_rules(None)) is None


def test_a_blank_line_is_declined_so_the_rows_keep_their_numbers(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("Customer ID,Total Value\nc1,5\n\nc2,7\n", encoding="utf-8")
    assert summarize_csv(path, load_rules(None)) is None


def test_the_standard_layout_with_bad_rows_sums_the_same(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("Customer ID,Customer Name,Total Value,Order Date\n"
                    "00123,Acme,\"1,234.50\",2026-01-05\n123,acme,(10.00),05/01/2026\n,Nobody,5,2026-01-01\n"
                    "c2,Beta,abc,2026-02-30\nc3,,1e400,\nc4,Gamma,,2026-03-01\n,,,\nc5,Δelta,USD 7,31/12/2025\n",
                    encoding="utf-8")
    _assert_same(path, load_rules(None))


# --- Random order files: amount formats, refunds, statuses, row types, currencies, line items, blank and odd rows ---

RICH = {"customer_id": "Customer Ref", "email": "Email", "first_name": "First", "last_name": "Last",
        "order_id": "Order", "order_value": "Amount", "refunded_value": "Refunded", "currency": "Currency",
        "status": "State", "row_type": "Kind", "order_date": "Date"}
OPTIONAL = [name for name in RICH if name != "order_value"]


def _rules(present: list[str], minor: bool, base: str, rates: dict[str, float]) -> Rules:
    fields = {name: {"aliases": [RICH[name]]} for name in present}
    fields["order_value"] = {"required": True, "aliases": [RICH["order_value"]]}
    spec: dict = {"signature": ["Amount", "Zeta Marker"], "names": "person", "fields": fields}
    if "status" in present:
        spec["statuses"] = {"ok": "paid", "Paid ": "paid", "failed": "unpaid", "refunded": "refunded"}
    if "row_type" in present:
        spec["row_types"] = {"sale": "payment", "refund": "refund", "dispute": "chargeback", "auth": "not_money"}
    if minor:
        spec["amount_unit"] = "minor"
    profile = {"title": "T", "platform": "P", "export": "E", "source": "S", "orders": spec}
    return parse_rules(yaml.safe_dump({"orders": {"base_currency": base, "currency_rates": rates},
                                       "profiles": {"random": profile}}))


AMOUNTS = st.one_of(
    st.integers(-5000, 10**6).map(str),
    st.decimals(-10**5, 10**6, places=2, allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["$1,234.50", "(12.00)", "12-", "USD 7.00", "1.000 JPY", "€ 3,50", "abc", "", "  ", "9e15",
                     "1e400", "0", "-0", "1 000", "1,000", "$250.00 $200.00", "++5", "12.5.6", "٣"]),
)
CELLS = {
    "customer_id": st.sampled_from(["c1", "c2", "C1", "007", "7", "", " c3 ", "12.0"]),
    "email": st.sampled_from(["a@x.io", "A@X.io", "b@y.org", "bad", "", "=x@y.z", "ｊｏｅ@example.com"]),
    "first_name": st.sampled_from(["Ann", "", "Bo", "J.", "Zoë"]),
    "last_name": st.sampled_from(["Lee", "", "O'Neil", "Smith"]),
    "order_id": st.sampled_from(["1001", "1002", "1003", "", "#1004", "1001.0"]),
    "refunded_value": st.sampled_from(["", "0", "5", "5.00", "1,000", "x", "12"]),
    "currency": st.sampled_from(["USD", "usd", "EUR", "JPY", "", "XYZ", "KWD"]),
    "status": st.sampled_from(["ok", "OK", "paid", "failed", "refunded", "", "weird"]),
    "row_type": st.sampled_from(["sale", "refund", "dispute", "auth", "", "payout", "SALE"]),
    "order_date": st.sampled_from(["2026-01-05", "05/01/2026", "2026-13-01", "", "45000", "Jan 5, 2026", "soon"]),
}


@st.composite
def order_files(draw):
    present = draw(st.lists(st.sampled_from(OPTIONAL), unique=True, max_size=len(OPTIONAL)))
    if not {"customer_id", "email", "first_name", "last_name"} & set(present):
        present.append("customer_id")
    minor = draw(st.booleans())
    base = draw(st.sampled_from(["auto", "USD", "EUR"]))
    rates = draw(st.sampled_from([{}, {"EUR": 1.08}, {"EUR": 1.1, "JPY": 0.0067, "USD": 1.0}]))
    columns = ["order_value", *present]
    rows = []
    for _ in range(draw(st.integers(1, 25))):
        row = {name: draw(CELLS[name]) for name in present}
        row["order_value"] = draw(AMOUNTS)
        if draw(st.integers(0, 9)) == 0:
            row = {name: "" for name in columns}        # a row of blank cells (still a line)
        rows.append(row)
    return columns, rows, _rules(present, minor, base, rates)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(drawn=order_files(), extra=st.sampled_from(["", "Notes"]))
def test_random_order_files_sum_the_same_in_sql(tmp_path, drawn, extra):
    columns, rows, rules = drawn
    headers = [RICH[name] for name in columns] + ["Zeta Marker"] + ([extra] if extra else [])
    path = tmp_path / "orders.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        for row in rows:
            writer.writerow([row[name] for name in columns] + [""] + ([""] if extra else []))
    _assert_same(path, rules)


def test_the_sums_are_exactly_the_pandas_sums_over_many_rows(tmp_path):
    """Thousands of cent amounts per key: the SQL adds them in file order with the same compensated sum as pandas'
    groupby, so the totals are the same floats, not merely close."""
    generator = np.random.default_rng(19)
    path = tmp_path / "orders.csv"
    keys = generator.integers(0, 40, 20_000)
    cents = generator.integers(1, 10**7, 20_000)
    letters = list(string.ascii_lowercase)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Customer ID", "Customer Name", "Total Value", "Order Date"])
        for key, amount in zip(keys, cents, strict=True):
            writer.writerow([f"C{key}", letters[key % 26], f"{amount / 100:.2f}", "2026-01-05"])
    _assert_same(path, load_rules(None))


def test_csv_orders_are_summed_in_duckdb_by_default_and_in_pandas_when_the_rules_say_so():
    path = PLATFORM_ORDERS[0]
    rules = load_rules(None)
    assert rules.engine.csv_orders == "duckdb"
    assert "summing orders in DuckDB" in summarize_orders(path, rules).timings
    assert "reading orders" in summarize_orders(path, in_pandas(rules)).timings


def test_a_file_the_sql_declines_is_summed_by_pandas(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("Customer ID,Total Value\nc1,5\n\nc2,7\n", encoding="utf-8")
    summary = summarize_orders(path, load_rules(None))
    assert "reading orders" in summary.timings
    assert summary.by_id["total"].to_dict() == {"c1": 5.0, "c2": 7.0}


def test_duckdb_spills_in_a_folder_of_its_own_under_temp_directory_and_removes_it(tmp_path):
    spill = tmp_path / "spill"
    spill.mkdir()
    rules = parse_rules(f"engine: {{memory_limit_mb: 64, temp_directory: '{spill}'}}")
    assert summarize_csv(PLATFORM_ORDERS[0], rules) is not None
    assert list(spill.iterdir()) == []
