"""The job flow's side of the page's as-of date and of an upload's pair of files (in-memory ports): the date
each data file carries reaches the engine in preference to the function's default, a run of half a newer
upload steps aside for the run of the whole pair, and the upload token that pairs them spends each request's
forms (docs/job-protocol.md, "Upload tokens")."""

from __future__ import annotations

import datetime as dt

import jobs
from fakes import FakeClock, InMemoryJobStore, InMemoryObjects, RecordingEvents, fake_engine
from memberseg.job_protocol import AS_OF_METADATA, STATUS_SK, UPLOAD_TOKEN_ATTRIBUTE, UPLOAD_TOKEN_METADATA

IN, OUT = "in", "out"


class Flow:
    def __init__(self, default_as_of: dt.date | None = None):
        self.clock = FakeClock()
        self.objects = InMemoryObjects(self.clock)
        self.store = InMemoryJobStore()
        self.as_of_seen: list[dt.date | None] = []

        def engine(memberships, orders, out_dir, **kwargs):
            self.as_of_seen.append(kwargs.get("as_of"))
            return fake_engine(memberships, orders, out_dir, **kwargs)

        self.deps = jobs.Deps(objects=self.objects, jobs=self.store, events=RecordingEvents(), run_job=engine,
                              clock=self.clock)
        self.settings = jobs.Settings(input_bucket=IN, output_bucket=OUT, heartbeat_s=3600, as_of=default_as_of)

    def upload(self, role: str, data: bytes, **metadata: str) -> jobs.Outcome:
        self.clock.advance(1.5)
        key = f"uploads/j/{role}.xlsx"
        self.objects.put(IN, key, data, {{"as_of": AS_OF_METADATA, "upload_token": UPLOAD_TOKEN_METADATA}[k]: v
                                         for k, v in metadata.items()})
        return jobs.handle_object_created(IN, key, self.deps, self.settings)


def test_the_memberships_files_date_else_the_orders_files_else_the_default():
    flow = Flow(default_as_of=dt.date(2026, 11, 15))
    flow.upload("memberships", b"m1", as_of="2026-10-01")
    assert flow.upload("orders", b"o1", as_of="2026-09-01").action == "succeeded"
    assert flow.as_of_seen == [dt.date(2026, 10, 1)]                    # the memberships file's
    assert flow.upload("memberships", b"m2").action == "succeeded"     # a plain drop: no date of its own
    assert flow.as_of_seen[-1] == dt.date(2026, 9, 1)                  # the orders file's
    assert flow.upload("orders", b"o3").action == "succeeded"
    assert flow.as_of_seen[-1] == dt.date(2026, 11, 15)                # neither: the function's default


def test_a_bad_date_fails_the_job_naming_the_file_and_never_runs_the_engine():
    flow = Flow()
    flow.upload("orders", b"o")
    outcome = flow.upload("memberships", b"m", as_of="2026-02-30")
    assert outcome.action == "failed" and outcome.error["code"] == "invalid_as_of"
    assert outcome.error["file"] == "memberships.xlsx" and "as_of" in outcome.error["message"]
    assert flow.as_of_seen == []


def test_half_of_a_newer_upload_steps_aside_for_the_whole_pair():
    flow = Flow()
    flow.upload("memberships", b"m1", upload_token="first")
    assert flow.upload("orders", b"o1", upload_token="first").action == "succeeded"
    committed = flow.store.get_status("j")["committed_run"]
    half = flow.upload("memberships", b"m2", upload_token="second")
    assert half.action == "superseded" and "other file of the same upload" in half.reason
    status = flow.store.get_status("j")
    assert status["committed_run"] == committed and status["status"] == "SUCCEEDED"     # the last result stands
    assert len(flow.as_of_seen) == 1                                                     # no engine run of the mix
    assert flow.upload("orders", b"o2", upload_token="second").action == "succeeded"
    assert flow.store.get_status("j")["committed_run"] != committed


def test_a_plain_drop_pairs_with_anything():
    flow = Flow()
    flow.upload("memberships", b"m1", upload_token="first")
    assert flow.upload("orders", b"o1").action == "succeeded"            # dropped straight into the bucket
    assert flow.upload("memberships", b"m2").action == "succeeded"       # and a newer plain file


def test_the_token_the_api_keeps_spends_each_requests_forms():
    """A job the API gave forms: the status item holds its current upload token (POST /jobs, then renewed by each
    POST /jobs/{id}/uploads). After a run began, a changed file version carrying an older token, or the current
    one its role's bound version carries already, is refused; the current token's first use runs; no token runs."""
    flow = Flow()
    status = flow.store._item("j", STATUS_SK)
    status[UPLOAD_TOKEN_ATTRIBUTE] = "first"
    flow.upload("memberships", b"m1", upload_token="first")
    assert flow.upload("orders", b"o1", upload_token="first").action == "succeeded"
    assert flow.upload("orders", b"o1 again", upload_token="first").action == "refused"    # used already
    assert flow.upload("orders", b"o1", upload_token="first").action == "refused"          # the same bytes: too
    status[UPLOAD_TOKEN_ATTRIBUTE] = "second"                       # POST /jobs/{id}/uploads
    assert flow.upload("memberships", b"m1 again", upload_token="first").action == "refused"   # replaced
    assert flow.upload("memberships", b"m2", upload_token="second").action == "refused"   # orders: still a replay
    assert flow.upload("orders", b"o2", upload_token="second").action == "succeeded"       # first use of both
    assert len(flow.as_of_seen) == 2
    assert flow.upload("orders", b"o2 again", upload_token="second").action == "refused"  # used already
    assert flow.upload("orders", b"o3").action == "succeeded"                             # a plain drop
