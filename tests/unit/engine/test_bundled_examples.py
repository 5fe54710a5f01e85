"""examples/README.md says what the demo reports, and the demo reports exactly that."""

from __future__ import annotations

import re
from pathlib import Path

from platform_files import AS_OF, run

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_the_readme_states_the_customers_and_statuses_the_demo_reports(tmp_path):
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    stated = re.search(r"The demo reports (\d+) customers \(([^)]*)\)", readme)
    assert stated, "examples/README.md no longer says what the demo reports"
    counts = dict((name.strip(), int(n)) for name, n in re.findall(r"([A-Za-z ]+?) (\d+)(?:,|$)", stated[2]))

    _, report = run(tmp_path, EXAMPLES / "memberships.xlsx", EXAMPLES / "orders.xlsx", as_of=AS_OF)

    assert report["memberships"]["kept"] == int(stated[1])
    assert {k: v for k, v in report["status_counts"].items() if v} == counts
