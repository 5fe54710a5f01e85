"""A job's runs form a series (issue 18 §1): each committed run's customer state is what the next run in
the same job folder compares with, and the job keeps its last `changes.states_kept` states under
results/{job_id}/states/, listed by the status item that commits the run. Moto in-process, the real engine.

The second test runs the three-run series on the edited bundled samples (tests/series_inputs.py) through one job
folder and checks each committed run against the hand-worked outcome the CLI series is checked against
(tests/series_expected.py)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from builders import MEMBERSHIP_HEADERS, ORDER_HEADERS, d, membership, order, write_xlsx
from memberseg.job_protocol import state_key
from series_expected import check_run
from series_inputs import write_series_inputs

ACME = membership(1001, "Acme Inc", d("2026-01-10"), d("2030-01-10"), "acme@x.com")
BETA = membership(1002, "Beta Co", d("2026-01-01"), d("2030-05-01"), "beta@x.com")
GAMMA = membership(1003, "Gamma Co", d("2026-01-01"), d("2030-05-01"), "gamma@x.com")


def _files(folder: Path, rows: list[list]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return (write_xlsx(folder / "memberships.xlsx", MEMBERSHIP_HEADERS, rows),
            write_xlsx(folder / "orders.xlsx", ORDER_HEADERS, [order(1001, 20, d("2026-02-01"))]))


def _states(world, job: str) -> list[str]:
    return [key for key in world.results(job) if key.startswith(f"results/{job}/states/")]


def test_each_run_compares_with_the_last_committed_state_and_the_last_n_are_kept(world, tmp_path: Path) -> None:
    job = "series"
    world.put(f"uploads/{job}/rules.yaml", b"changes:\n  states_kept: 2\n")
    memberships, orders = _files(tmp_path / "one", [ACME, BETA, GAMMA])
    world.upload_and_deliver(f"uploads/{job}/orders.xlsx", orders)
    first = world.upload_and_deliver(f"uploads/{job}/memberships.xlsx", memberships)
    assert first["action"] == "succeeded"
    report = world.read_committed(job, "report.json")
    assert (report["changes"]["since"], report["changes"]["new"]) == (None, 3)
    first_state = state_key(job, first["run_id"])
    assert world.status(job)["states"] == [first_state]
    committed_state = world.s3.get_object(Bucket=world.output_bucket,
                                          Key=world.committed_prefix(job) + "customer_state.csv.gz")["Body"].read()
    kept = world.s3.get_object(Bucket=world.output_bucket, Key=first_state)["Body"].read()
    assert kept == committed_state and gzip.decompress(kept).startswith(b"as_of,customer_key,")

    world.next_second()                                     # Gamma leaves
    second = world.upload_and_deliver(f"uploads/{job}/memberships.xlsx", _files(tmp_path / "two", [ACME, BETA])[0])
    assert second["action"] == "succeeded"
    report = world.read_committed(job, "report.json")
    assert report["changes"]["since"] == report["as_of"]
    assert (report["changes"]["new"], report["changes"]["gone"]) == (0, 1)
    assert report["hubspot"]["cleared"] == 1
    assert world.status(job)["states"] == [first_state, state_key(job, second["run_id"])]

    world.next_second()                                     # a bad file: FAILED, the states stay as they were
    failed = world.upload_and_deliver(f"uploads/{job}/memberships.xlsx", b"not a workbook")
    assert failed["action"] == "failed"
    assert world.status(job)["states"] == [first_state, state_key(job, second["run_id"])]

    world.next_second()                                     # Gamma is back: compared with the second run
    third = world.upload_and_deliver(f"uploads/{job}/memberships.xlsx",
                                     _files(tmp_path / "three", [ACME, BETA, GAMMA])[0])
    assert third["action"] == "succeeded"
    report = world.read_committed(job, "report.json")
    assert (report["changes"]["new"], report["changes"]["gone"]) == (1, 0)
    kept_states = [state_key(job, second["run_id"]), state_key(job, third["run_id"])]
    assert world.status(job)["states"] == kept_states
    assert _states(world, job) == sorted(kept_states)       # the first state is gone: two are kept


def _download_committed(world, job: str, folder: Path) -> Path:
    folder.mkdir(parents=True)
    prefix = world.committed_prefix(job)
    for name in world.committed(job):
        body = world.s3.get_object(Bucket=world.output_bucket, Key=prefix + name)["Body"].read()
        (folder / name).write_bytes(body)
    return folder


def test_three_runs_of_the_edited_samples_in_one_job_folder(world, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18, done when: the series through the S3 flow. Each run's as-of date is the function's
    JOB_AS_OF; the orders are uploaded once, the memberships file three times (the third time unchanged)."""
    job = "samples-series"
    inputs = write_series_inputs(tmp_path / "inputs")
    runs = []
    for number in (1, 2, 3):
        memberships, orders, as_of = inputs.run(number)
        monkeypatch.setenv("JOB_AS_OF", as_of.isoformat())
        world.app.reload_env()
        if number == 1:
            world.upload_and_deliver(f"uploads/{job}/orders.xlsx", orders)
        else:
            world.next_second()
        outcome = world.upload_and_deliver(f"uploads/{job}/memberships.xlsx", memberships)
        assert outcome["action"] == "succeeded"
        runs.append(outcome["run_id"])
        check_run(_download_committed(world, job, tmp_path / f"run-{number}"), number)

    assert world.status(job)["states"] == [state_key(job, run_id) for run_id in runs]
    second, third = (world.s3.get_object(Bucket=world.output_bucket, Key=state_key(job, run_id))["Body"].read()
                     for run_id in runs[1:])
    assert third == second            # the same files on the same as-of date: the same state
