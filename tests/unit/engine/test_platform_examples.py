"""examples/platforms/: made by a deterministic script, and each sample is read by its platform's profile."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from memberseg.rules import parse_rules
from platform_files import run

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "platforms"
EXPECTED = {
    "woocommerce": ("woocommerce_memberships", "woocommerce_analytics_orders"),
    "memberpress": ("memberpress_transactions", "memberpress_transactions"),
    "pmpro": ("pmpro_members", "pmpro_orders"),
    "shopify": ("members_sheet", "shopify_orders"),
    "stripe": ("stripe_subscriptions", "stripe_payments"),
    "wild_apricot": ("wild_apricot_contacts", "standard"),
    "sap_va05_de": ("standard", "sap_va05_de"),
}


def _script():
    spec = importlib.util.spec_from_file_location("make_platform_examples", ROOT / "scripts" /
                                                  "make_platform_examples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_script_rewrites_the_committed_samples_byte_for_byte(tmp_path):
    written = _script().write_all(tmp_path)
    assert {path.parent.name for path in written} == set(EXPECTED)
    for path in written:
        committed = EXAMPLES / path.parent.name / path.name
        assert committed.read_bytes() == path.read_bytes(), f"{committed} is stale: run make examples"


@pytest.mark.parametrize("platform", sorted(EXPECTED))
def test_each_sample_is_read_by_its_profile_and_every_row_is_accounted_for(platform, tmp_path):
    rules = parse_rules("orders: {currency_rates: {EUR: 1.08, USD: 0.92, JPY: 0.0062}}")
    result, report = run(tmp_path, EXAMPLES / platform / "memberships.csv", EXAMPLES / platform / "orders.csv",
                         rules)
    names = (report["inputs"]["memberships"]["profile"]["name"], report["inputs"]["orders"]["profile"]["name"])
    assert names == EXPECTED[platform]
    m, o = report["memberships"], report["orders"]
    assert m["rows_in"] == m["kept"] + m["consolidated"] + m["rejected"] + m["excluded"]
    assert o["rows_in"] == o["matched"] + o["unmatched"] + o["rejected"] + o["excluded"]
    assert m["rejected"] == 0 and o["rejected"] == 0   # the samples are clean exports
