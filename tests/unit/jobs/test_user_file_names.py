"""The user's own file names: cleaned to one safe path component, carried as percent-encoded
metadata, read back by the job flow and given to the engine, so every message, error.json and
report.json name the file as the user did (issue 15 B, item 4)."""

from __future__ import annotations

import unicodedata
from pathlib import Path, PurePosixPath

import jobs
import pytest
from fakes import FakeClock, InMemoryJobStore, InMemoryObjects, RecordingEvents, fake_engine
from hypothesis import given, settings
from hypothesis import strategies as st
from memberseg.job_protocol import (
    FILE_NAME_MAX_BYTES,
    FILE_NAME_MAX_CHARS,
    ORIGINAL_NAME_METADATA,
    clean_file_name,
    decode_original_name,
    encode_original_name,
    user_file_name,
)

IN, OUT = "in-bucket", "out-bucket"
HOSTILE = ["../../x", "..\\..\\x.xlsx", "a\x00b.xlsx", "x" * 10_000 + ".xlsx", "\u202egpj.xlsx",
           "...", ".", "..", " . . ", "/", "\x00", "\u200b\u200e", "ab\ud800c.csv", "C:\\fakepath\\Q4.xlsx",
           "line\nbreak.xlsx", "é" * 300 + ".csv", "x" * 300, "a." + "b" * 300, "=HYPERLINK(\"x\").xlsx"]


def assert_one_safe_component(name: str) -> None:
    assert name not in ("", ".", "..") and "/" not in name and "\\" not in name and "\x00" not in name
    assert PurePosixPath(name).name == name and len(PurePosixPath(name).parts) == 1
    assert len(name) <= FILE_NAME_MAX_CHARS and len(name.encode()) <= FILE_NAME_MAX_BYTES
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in name)
    assert name == unicodedata.normalize("NFC", name) and name == name.strip(" .")


# ------------------------------------------------------------------ cleaning and encoding, for any text
@settings(max_examples=400, deadline=None)
@given(st.text(max_size=600) | st.sampled_from(HOSTILE))
def test_any_text_cleans_to_one_safe_component_or_nothing(text):
    name = clean_file_name(text)
    if name:
        assert_one_safe_component(name)
    assert clean_file_name(name) == name                            # the job flow's second cleaning keeps it


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=600) | st.sampled_from(HOSTILE))
def test_the_metadata_value_is_plain_ascii_and_decodes_back_to_the_cleaned_name(text):
    name = clean_file_name(text)
    value = encode_original_name(name)
    assert value.isascii() and value.isprintable() and len(value) <= 3 * FILE_NAME_MAX_BYTES   # S3: 2 KB
    assert decode_original_name(value) == name


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.sampled_from(["memberships.xlsx", "orders.csv", "Memberships Q4.XLS", "orders.xlsm"]))
def test_the_local_name_always_ends_in_the_keys_extension(text, key_name):
    name = user_file_name(text, key_name)
    assert PurePosixPath(name).suffix.lower() == PurePosixPath(key_name).suffix.lower()
    assert "/" not in name and name not in (".", "..") and len(name.encode()) <= 255


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300).map(lambda b: "".join(f"%{x:02X}" for x in b)) | st.text(max_size=300))
def test_any_metadata_value_decodes_without_raising(value):
    name = decode_original_name(value)
    if name:
        assert_one_safe_component(name)


@pytest.mark.parametrize("raw, cleaned", [
    ("garbage.xlsx", "garbage.xlsx"),
    ("Mitglieder März 2026.xlsx", "Mitglieder März 2026.xlsx"),
    ("Mitglieder Ma\u0308rz.xlsx", "Mitglieder März.xlsx"),             # NFC
    ("C:\\fakepath\\Q4 members.xlsx", "Q4 members.xlsx"),                # old browsers send a path
    ("../../etc/passwd", "passwd"),
    ("\u202egpj.xlsx", "gpj.xlsx"),                                       # no right-to-left override
    ("a\x00b\tc.csv", "ab c.csv"),
    ("...", ""), ("..", ""), ("", ""), (" .hidden.csv. ", "hidden.csv"),
])
def test_cleaning_examples(raw, cleaned):
    assert clean_file_name(raw) == cleaned


def test_a_long_name_is_shortened_keeping_its_extension():
    assert clean_file_name("x" * 10_000 + ".xlsx") == "x" * (FILE_NAME_MAX_CHARS - 5) + ".xlsx"
    long_umlauts = clean_file_name("ä" * 300 + ".csv")
    assert long_umlauts.endswith("ä.csv") and len(long_umlauts.encode()) <= FILE_NAME_MAX_BYTES


def test_percent_encoding_of_a_non_ascii_name():
    assert encode_original_name("Mitglieder März.xlsx") == "Mitglieder%20M%C3%A4rz.xlsx"


@pytest.mark.parametrize("original, key_name, expected", [
    ("garbage.xlsx", "memberships.xlsx", "garbage.xlsx"),
    ("Garbage.XLSX", "memberships.xlsx", "Garbage.XLSX"),
    ("members.csv", "memberships.xlsx", "members.csv.xlsx"),   # the key's extension decides the kind
    ("members", "memberships.xlsx", "members.xlsx"),
    ("x.xlſx", "memberships.xlsx", "x.xlſx.xlsx"),             # not .xlsx to the engine's suffix.lower()
    ("...", "memberships.xlsx", "memberships.xlsx"), ("", "orders.csv", "orders.csv"),
    (None, "orders.csv", "orders.csv"),
])
def test_user_file_name(original, key_name, expected):
    assert user_file_name(original, key_name) == expected


# ------------------------------------------------------------------ the job flow gives the engine the user's names
class Flow:
    def __init__(self, engine=fake_engine):
        self.clock = FakeClock()
        self.objects = InMemoryObjects(self.clock)
        self.store = InMemoryJobStore()
        self.seen: dict[str, Path] = {}

        def engine_seeing_paths(memberships, orders, out_dir, **kwargs):
            self.seen = {"memberships": Path(memberships), "orders": Path(orders)}
            return engine(memberships, orders, out_dir, **kwargs)

        self.deps = jobs.Deps(objects=self.objects, jobs=self.store, events=RecordingEvents(),
                              run_job=engine_seeing_paths, clock=self.clock)
        self.settings = jobs.Settings(input_bucket=IN, output_bucket=OUT, heartbeat_s=3600)

    def upload(self, name: str, data: bytes, original: str | None = None) -> None:
        self.clock.advance(1.5)
        metadata = {ORIGINAL_NAME_METADATA: original} if original is not None else None
        self.objects.put(IN, f"uploads/j/{name}", data, metadata)

    def run(self) -> jobs.Outcome:
        return jobs.handle_object_created(IN, "uploads/j/orders.xlsx", self.deps, self.settings)


def test_the_engine_reads_each_file_under_the_users_own_name_in_its_role_folder():
    flow = Flow()
    flow.upload("memberships.xlsx", b"BAD", encode_original_name("Müll garbage.xlsx"))
    flow.upload("orders.xlsx", b"o", encode_original_name("Bestellungen.xlsx"))
    outcome = flow.run()
    assert outcome.action == "failed" and outcome.error["file"] == "Müll garbage.xlsx"
    assert flow.seen["memberships"].name == "Müll garbage.xlsx" and flow.seen["memberships"].parent.name == "memberships"
    assert flow.seen["orders"].name == "Bestellungen.xlsx" and flow.seen["orders"].parent.name == "orders"
    assert sorted(flow.objects.heads) == [("uploads/j/memberships.xlsx", "v1"), ("uploads/j/orders.xlsx", "v2")]


def test_without_metadata_a_file_keeps_its_keys_name():
    flow = Flow()
    flow.upload("memberships.xlsx", b"BAD")
    flow.upload("orders.xlsx", b"o")
    outcome = flow.run()
    assert outcome.error["file"] == "memberships.xlsx" and flow.seen["memberships"].name == "memberships.xlsx"


@pytest.mark.parametrize("hostile", HOSTILE + ["%2E%2E%2F%2E%2E%2Fx", "%00%00", "%ZZ%", "%C3", "%E2%80%AE.."])
def test_a_hostile_name_never_escapes_the_role_folder_nor_fails_the_job(hostile):
    flow = Flow()
    flow.upload("memberships.xlsx", b"m", encode_original_name(hostile))   # as the API would have sent it
    flow.upload("orders.xlsx", b"o", hostile)                              # as someone with bucket access might
    outcome = flow.run()
    assert outcome.action == "succeeded"
    for role, path in flow.seen.items():
        assert path.parent.name == role and path.parent.parent.name == "in" and path.suffix == ".xlsx"
        stem = path.name[:-len(".xlsx")]
        assert path.name == PurePosixPath(path.name).name and len(path.name.encode()) <= 255
        if stem and path.name not in ("memberships.xlsx", "orders.xlsx"):
            assert_one_safe_component(clean_file_name(path.name))
        assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in path.name)


def test_the_metadata_of_the_listed_version_is_read():
    flow = Flow()
    flow.upload("memberships.xlsx", b"BAD v1", encode_original_name("old.xlsx"))
    flow.upload("memberships.xlsx", b"BAD v2", encode_original_name("new.xlsx"))
    flow.upload("orders.xlsx", b"o")
    assert flow.run().error["file"] == "new.xlsx"
    assert ("uploads/j/memberships.xlsx", "v2") in flow.objects.heads


def test_an_oversized_file_is_named_as_the_user_named_it(monkeypatch):
    import job_rules

    monkeypatch.setattr(job_rules, "default_max_file_bytes", lambda: 100)
    flow = Flow()
    flow.upload("memberships.xlsx", b"m")
    flow.upload("orders.xlsx", b"x" * 101, encode_original_name("All orders 2026.xlsx"))
    outcome = flow.run()
    assert outcome.error["code"] == "file_too_large" and outcome.error["file"] == "All orders 2026.xlsx"
    assert "All orders 2026.xlsx" in outcome.error["message"] and flow.objects.downloads == []
