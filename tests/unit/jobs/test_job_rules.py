"""A job folder's rules file may only tighten the limits; it is parsed in a worker under a time bound."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import job_rules
import memberseg
import pytest
from builders import ACME_PROFILE
from memberseg.errors import InputError
from memberseg.rules import load_rules

DEFAULT_TEXT = (Path(memberseg.__file__).parent / "default_rules.yaml").read_text()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def effective(tmp_path: Path, text: str, timeout_s: float = 5) -> dict:
    return json.loads(job_rules.prepare(write(tmp_path, text), tmp_path, timeout_s).path.read_text())


def test_looser_limits_in_a_job_folder_are_capped_at_the_defaults(tmp_path):
    defaults = load_rules().limits
    text = DEFAULT_TEXT.replace(f"timeout_seconds: {int(defaults.timeout_seconds)}", "timeout_seconds: 1000000000")
    text = text.replace(f"max_file_bytes: {defaults.max_file_bytes}", "max_file_bytes: 999999999999")
    text = text.replace(f"max_compression_ratio: {int(defaults.max_compression_ratio)}", "max_compression_ratio: 1e9")
    assert text.count("1000000000") == 1 and "999999999999" in text and "1e9" in text
    limits = effective(tmp_path, text)["limits"]
    assert limits["timeout_seconds"] == defaults.timeout_seconds
    assert limits["max_file_bytes"] == defaults.max_file_bytes
    assert limits["max_compression_ratio"] == defaults.max_compression_ratio


def test_tighter_limits_in_a_job_folder_are_kept(tmp_path):
    text = DEFAULT_TEXT.replace("timeout_seconds: 840", "timeout_seconds: 60")
    assert effective(tmp_path, text)["limits"]["timeout_seconds"] == 60


@pytest.mark.parametrize("key, value", [("max_rows_per_file", 1), ("max_bytes_per_file", 1024)])
def test_the_csv_part_count_is_capped(tmp_path, key, value):
    text, replaced = re.subn(rf"^(\s+{key}:) *\d+", rf"\g<1> {value}", DEFAULT_TEXT, flags=re.M)
    assert replaced == 1
    with pytest.raises(InputError) as caught:
        effective(tmp_path, text)
    assert caught.value.code == "invalid_rules" and f"hubspot.{key}" in caught.value.message
    assert caught.value.file == "rules.yaml"


def test_the_segment_count_is_capped():
    rules = load_rules()
    many = rules.model_copy(update={"segments": [rules.segments[0]] * (job_rules.MAX_SEGMENTS + 1)})
    with pytest.raises(InputError, match="at most"):
        job_rules.tightened(many, rules)


def test_an_alias_bomb_is_refused_within_the_time_bound(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    bomb = "version: 1\nthresholds:\n  big: *a8\n" + "\n".join(lines) + "\n"
    assert len(bomb) < job_rules.RULES_MAX_BYTES
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        effective(tmp_path, "\n".join(lines) + "\nversion: 1\nthresholds:\n  big: *a8\n", timeout_s=2)
    assert caught.value.code == "invalid_rules"
    assert time.monotonic() - started < 5


def test_a_rules_check_that_takes_too_long_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(job_rules, "_prepare_in_worker", lambda source, profiles, target, report: time.sleep(30))
    started = time.monotonic()
    with pytest.raises(InputError, match="could not be checked within 0.3 s"):
        job_rules.prepare(write(tmp_path, "version: 1\n"), tmp_path, 0.3)
    assert time.monotonic() - started < 5


# --- the organisation's profile files (profiles/*.yaml), checked with the rules file in the same worker

PROFILE = ACME_PROFILE


def profile(tmp_path: Path, name: str, text: str) -> tuple[str, Path]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return f"profiles/{name}.yaml", path


def test_profile_files_alone_are_prepared_and_keep_their_origin(tmp_path):
    prepared = job_rules.prepare(None, tmp_path, 5, [profile(tmp_path, "acme_members", PROFILE)])
    assert prepared.profile_sources == {"acme_members": ["input bucket profiles/acme_members.yaml"]}
    again = load_rules(prepared.path).with_profile_sources(prepared.profile_sources)
    assert again.profile_origin("acme_members") == "input bucket profiles/acme_members.yaml"
    assert "acme_members" in again.catalog


def test_a_profiles_segments_count_toward_the_job_cap_and_the_error_names_its_file(tmp_path):
    own = len(load_rules().segments)
    extra = job_rules.MAX_SEGMENTS - own + 1
    segments = "segments:\n" + "".join(
        f"  - {{property: acme_s{i}, label: Acme {i}, all: [{{field: status_class, op: eq, value: renewing}}]}}\n"
        for i in range(extra))
    with pytest.raises(InputError) as caught:
        job_rules.prepare(None, tmp_path, 5, [profile(tmp_path, "acme_members", PROFILE + segments)])
    assert caught.value.code == "invalid_rules"
    assert caught.value.file == "profiles/acme_members.yaml"
    assert f"the profile 'acme_members' adds {extra}; a job may have at most {job_rules.MAX_SEGMENTS}" in \
        caught.value.message
    fits = PROFILE + "segments:\n" + segments.split("\n", 1)[1].split("\n", 1)[1]      # one fewer
    assert job_rules.prepare(None, tmp_path, 5, [profile(tmp_path, "acme_members", fits)]).profile_sources


def test_a_broken_profile_file_names_its_key_and_what_to_do(tmp_path):
    with pytest.raises(InputError) as caught:
        job_rules.prepare(write(tmp_path, "version: 1\n"), tmp_path, 5,
                          [profile(tmp_path, "acme_members", "title: Acme\n")])
    assert caught.value.file == "profiles/acme_members.yaml"
    assert caught.value.message.startswith("The profile file input bucket profiles/acme_members.yaml is invalid.")
    assert caught.value.message.endswith("correct or remove profiles/acme_members.yaml, then upload the job's "
                                         "files again.")
    bad = tmp_path / "latin.yaml"
    bad.write_bytes(b"title: Caf\xe9\n")
    with pytest.raises(InputError, match="The profile file profiles/latin.yaml is not UTF-8 text. Every job reads"):
        job_rules.prepare(None, tmp_path, 5, [("profiles/latin.yaml", bad)])


def test_profile_files_that_take_too_long_are_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(job_rules, "_prepare_in_worker", lambda source, profiles, target, report: time.sleep(30))
    with pytest.raises(InputError, match="The profile files in profiles/ could not be checked within 0.3 s") as caught:
        job_rules.prepare(None, tmp_path, 0.3, [profile(tmp_path, "acme_members", PROFILE)])
    assert caught.value.file == "profiles/"
