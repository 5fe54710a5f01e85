"""A job folder's rules file may only tighten the limits; it is parsed in a worker under a time bound."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import job_rules
import memberseg
import pytest
from memberseg.errors import InputError
from memberseg.rules import load_rules

DEFAULT_TEXT = (Path(memberseg.__file__).parent / "default_rules.yaml").read_text()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def effective(tmp_path: Path, text: str, timeout_s: float = 5) -> dict:
    return json.loads(job_rules.prepare(write(tmp_path, text), tmp_path, timeout_s).read_text())


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
    monkeypatch.setattr(job_rules, "_prepare_in_worker", lambda source, target, report: time.sleep(30))
    started = time.monotonic()
    with pytest.raises(InputError, match="could not be checked within 0.3 s"):
        job_rules.prepare(write(tmp_path, "version: 1\n"), tmp_path, 0.3)
    assert time.monotonic() - started < 5
