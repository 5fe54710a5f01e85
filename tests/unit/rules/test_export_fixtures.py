"""The export fixtures under tests/fixtures/exports stay consistent with their truth files and with the
vocabulary: each truth key is a column of the file, each customer in the truth is in that column, and the
vocabulary knows the identity column and every status / row-type word the fixture holds."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from memberseg.rules.model import normalize_header
from memberseg.rules.vocabulary import header_fields, value_class

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "exports"
PLATFORMS = sorted(path.name for path in FIXTURES.iterdir() if path.is_dir())
KINDS = {("memberships", "status"): "membership_status", ("orders", "status"): "order_status",
         ("orders", "row_type"): "row_type"}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_there_are_at_least_eight_platforms():
    assert len(PLATFORMS) >= 8


@pytest.mark.parametrize("platform", PLATFORMS)
def test_truth_customers_are_in_the_key_column(platform):
    folder = FIXTURES / platform
    truth = yaml.safe_load((folder / "truth.yaml").read_text(encoding="utf-8"))
    assert (folder / "SOURCE.md").is_file()
    keys: set[str] = set()
    for name in truth["files"]:
        rows = _rows(folder / name)
        assert truth["key"] in rows[0], f"{platform}/{name} has no column {truth['key']!r}"
        keys |= {row[truth["key"]].strip() for row in rows}
    missing = set(truth["customers"]) - keys
    assert not missing, f"{platform}: truth customers not in the file: {sorted(missing)}"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_vocabulary_reads_the_identity_and_every_status_word(platform):
    folder = FIXTURES / platform
    truth = yaml.safe_load((folder / "truth.yaml").read_text(encoding="utf-8"))
    for name in truth["files"]:
        role = "memberships" if name.startswith("memberships") else "orders"
        fields = header_fields(role)
        assert fields.get(normalize_header(truth["key"])) in {"email", "customer_id"}
        rows = _rows(folder / name)
        unknown = []
        for header in rows[0]:
            kind = KINDS.get((role, fields.get(normalize_header(header), "")))
            if kind is None:
                continue
            words = {row[header] for row in rows if row[header].strip() and row[header] != "Totals"}
            unknown += [f"{header}={word!r}" for word in sorted(words) if value_class(kind, word) is None]
        assert not unknown, f"{platform}/{name}: words the vocabulary does not know: {unknown}"
