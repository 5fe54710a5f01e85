"""memberseg.memory: the kernel's evidence of an out-of-memory kill, and the memory a run had."""

from __future__ import annotations

from pathlib import Path

from memberseg.memory import LAMBDA_MEMORY_ENV, killed_for_memory, memory_limit, more_memory_advice, oom_kill_count


def test_the_oom_kill_count_is_read_from_vmstat(tmp_path: Path) -> None:
    vmstat = tmp_path / "vmstat"
    vmstat.write_text("nr_free_pages 12\noom_kill 3\npgfault 9\n")
    assert oom_kill_count(vmstat) == 3
    vmstat.write_text("nr_free_pages 12\n")          # a kernel before 4.13 has no count
    assert oom_kill_count(vmstat) is None
    assert oom_kill_count(tmp_path / "absent") is None


def test_a_sigkill_is_for_memory_when_the_count_rose_or_cannot_be_read() -> None:
    assert killed_for_memory(3, 4)
    assert not killed_for_memory(3, 3)               # someone else sent the SIGKILL
    assert killed_for_memory(None, None)


def test_the_lambda_functions_memory_comes_first_and_the_advice_never_splits(monkeypatch) -> None:
    monkeypatch.setenv(LAMBDA_MEMORY_ENV, "6144")
    limit = memory_limit()
    assert limit.bytes == 6144 * 2**20 and limit.words == "the function's 6,144 MB" and limit.on_lambda
    assert "FunctionMemoryMB" in more_memory_advice(limit) and "split" not in more_memory_advice(limit).lower()
    monkeypatch.delenv(LAMBDA_MEMORY_ENV)
    local = memory_limit()
    assert not local.on_lambda and 0 < local.bytes and "GB" in local.words
    assert "split" not in more_memory_advice(local).lower()
