"""Issue 18, done when: a three-run series on the bundled samples with edited inputs (a renewal, an expiry,
a new member, a gone member) through the command line, each run compared with the one before (`--since`).

The inputs are built from examples/ by tests/series_inputs.py; what each run must write was worked out by
hand from those edits (tests/series_expected.py). The S3 flow runs the same series in
tests/integration/test_job_series.py.
"""

from __future__ import annotations

from pathlib import Path

from memberseg.cli import main
from memberseg.push.delta import AcceptedState, plan_delta, state_rows
from series_expected import SENTENCE, check_run
from series_inputs import write_series_inputs


def test_three_runs_on_the_edited_samples_through_the_cli(tmp_path: Path, capsys) -> None:
    inputs = write_series_inputs(tmp_path / "inputs")
    previous: Path | None = None
    for number in (1, 2, 3):
        memberships, orders, as_of = inputs.run(number)
        out = tmp_path / f"run-{number}"
        since = ["--since", str(previous)] if previous else []
        assert main(["run", "--memberships", str(memberships), "--orders", str(orders), "--out", str(out),
                     "--as-of", as_of.isoformat(), *since]) == 0
        check_run(out, number)
        if number == 2:
            assert f"changes:     {SENTENCE}" in capsys.readouterr().out
        previous = out

    second, third = tmp_path / "run-2", tmp_path / "run-3"
    # The third run (the same files, the same as-of date) leaves the second run's state, byte for byte ...
    assert (third / "customer_state.csv.gz").read_bytes() == (second / "customer_state.csv.gz").read_bytes()
    # ... and, HubSpot holding everything the second run sent, a push of what changed sends nothing.
    accepted = state_rows(second)
    assert accepted is not None
    plan = plan_delta(third, [third / "hubspot_contacts.csv"], second, AcceptedState.all_taken(accepted))
    assert plan is not None and plan.parts == {}
    assert plan.counts == {"added": 0, "changed": 0, "unchanged": len(accepted.keys), "cleared": 0}
