"""Every supported input format goes through the whole pipeline with the same result."""

import datetime as dt

import pytest

import hostile
from builders import ORDER_HEADERS, write_csv
from memberseg.pipeline import run_pipeline
from memberseg.rules import load_rules


@pytest.mark.parametrize("make", [
    hostile.valid_memberships_xlsx,
    hostile.valid_memberships_xlsm,
    hostile.valid_memberships_xls,
    lambda d: hostile.valid_memberships_csv(d, encoding="utf-8"),
    lambda d: hostile.valid_memberships_csv(d, encoding="utf-8-sig"),
    lambda d: hostile.valid_memberships_csv(d, encoding="cp1252"),
], ids=["xlsx", "xlsm", "xls", "csv-utf8", "csv-bom", "csv-cp1252"])
def test_each_format_reads_the_same_customers(tmp_path, make):
    (tmp_path / "ref").mkdir()
    orders = write_csv(tmp_path / "orders.csv", ORDER_HEADERS, [])
    reference = run_pipeline(hostile.valid_memberships_xlsx(tmp_path / "ref"), orders, load_rules(),
                             dt.date(2026, 11, 15))
    path = make(tmp_path)
    result = run_pipeline(path, tmp_path / "orders.csv", load_rules(), dt.date(2026, 11, 15))
    assert result.memberships.rows_in == reference.memberships.rows_in == 5
    assert sorted(result.members["customer_key"]) == sorted(reference.members["customer_key"])
    assert result.members["expiration"].tolist() == reference.members["expiration"].tolist()
    if path.suffix == ".csv":  # the CSV factory puts a non-ASCII name in the first row
        assert "Zoë Müller" in set(result.members["customer_name"])
