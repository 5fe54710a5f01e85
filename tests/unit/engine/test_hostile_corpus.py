"""The hostile-input corpus (tests/hostile.CORPUS): every hostile or careless input file, each through
`memberseg run` with its expected outcome. A refusal is exit 2 with error.json naming the case's code and no
other output; a case that must be read is exit 0 and its check of the outputs holds. The other tests name the
details (the message, the row, the byte, the limit); this one holds the table, and its count is in
README.md ("What it accepts")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hostile
from memberseg.cli import main

ORDERS = "Cust ID,Total Value\n1000,12.50\n"
REFUSAL_FILES = {"error.json", "proposal.json", "proposal.yaml"}   # a refusal writes no outputs
CORPUS_SIZE = 44        # README.md states it: a case added or removed changes both


def test_the_corpus_is_one_table_of_distinct_cases_whose_count_the_readme_states() -> None:
    ids = [case.id for case in hostile.CORPUS]
    assert len(ids) == len(set(ids)) == CORPUS_SIZE
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    assert f"hostile-input corpus of {CORPUS_SIZE} cases" in readme


@pytest.mark.parametrize("case", hostile.CORPUS, ids=lambda case: case.id)
def test_each_hostile_input_has_its_outcome(case: hostile.Case, tmp_path: Path, capsys) -> None:
    files = tmp_path / "in"
    files.mkdir()
    made = case.make(files)
    if case.role == "memberships":
        memberships, orders = made, files / "orders.csv"
        orders.write_text(ORDERS)
    else:
        memberships, orders = hostile.valid_memberships_csv(files), made
    args = ["run", "--memberships", str(memberships), "--orders", str(orders), "--out", str(tmp_path / "out"),
            "--as-of", "2026-11-15"]
    if case.rules is not None:
        (tmp_path / "rules.yaml").write_text(case.rules)
        args += ["--rules", str(tmp_path / "rules.yaml")]
    code = main(args)
    capsys.readouterr()
    out = tmp_path / "out"
    if case.code is not None:
        assert code == 2
        assert {p.name for p in out.iterdir()} <= REFUSAL_FILES
        assert (out / "error.json").exists()
        assert json.loads((out / "error.json").read_text())["error"]["code"] == case.code
    else:
        assert code == 0, (out / "error.json").read_text() if (out / "error.json").exists() else code
        assert case.check is not None and case.check(out) == ""
