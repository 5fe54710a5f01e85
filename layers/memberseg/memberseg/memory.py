"""How much memory a run has, and whether a killed process was killed for memory.

A process killed by the kernel's out-of-memory killer (Lambda's, a container's or a laptop's) gets
SIGKILL and leaves no result. The kernel counts those kills in /proc/vmstat (`oom_kill`, memory
cgroups' kills included), so a parent that reads the count before and after its child can tell an
out-of-memory kill from a SIGKILL someone sent. Where the count cannot be read, a SIGKILL nobody in
memberseg sent is taken as one: nothing else kills a worker whose parent is still alive.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

VMSTAT = Path("/proc/vmstat")
LAMBDA_MEMORY_ENV = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"   # the function's memory in MB, set by Lambda
LAMBDA_MAX_MEMORY_MB = 10_240


def oom_kill_count(vmstat: Path = VMSTAT) -> int | None:
    """The kernel's count of out-of-memory kills so far; None where it cannot be read."""
    try:
        for line in vmstat.read_text(encoding="ascii").splitlines():
            name, _, value = line.partition(" ")
            if name == "oom_kill":
                return int(value)
    except (OSError, ValueError):
        return None
    return None


def killed_for_memory(before: int | None, after: int | None) -> bool:
    """For a child that died of SIGKILL: was it the out-of-memory killer (see the module's docstring)?"""
    return before is None or after is None or after > before


@dataclass(frozen=True)
class MemoryLimit:
    bytes: int
    words: str          # "the function's 6,144 MB", "this machine's 16.0 GB"
    on_lambda: bool


def _gigabytes(size: int) -> str:
    return f"{size / 2**30:,.1f} GB"


def _cgroup_limit() -> int | None:
    """The memory limit of this process's cgroup (v2 memory.max, or v1 memory.limit_in_bytes)."""
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            candidate = Path("/sys/fs/cgroup") / path.lstrip("/") / "memory.max"
        elif "memory" in controllers.split(","):
            candidate = Path("/sys/fs/cgroup/memory") / path.lstrip("/") / "memory.limit_in_bytes"
        else:
            continue
        try:
            text = candidate.read_text(encoding="ascii").strip()
        except OSError:
            continue
        if text.isdigit():
            return int(text)
    return None


def memory_limit() -> MemoryLimit:
    """The memory this run may use: the Lambda function's, else the smallest of the cgroup's limit,
    the address-space limit and the machine's memory."""
    mb = os.environ.get(LAMBDA_MEMORY_ENV, "")
    if mb.isdigit():
        return MemoryLimit(int(mb) * 2**20, f"the function's {int(mb):,} MB", True)
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limits = [(machine, f"this machine's {_gigabytes(machine)}")]
    cgroup = _cgroup_limit()
    if cgroup is not None:
        limits.append((cgroup, f"the container's limit of {_gigabytes(cgroup)}"))
    address_space, _ = resource.getrlimit(resource.RLIMIT_AS)
    if address_space != resource.RLIM_INFINITY:
        limits.append((address_space, f"the process's limit of {_gigabytes(address_space)}"))
    size, words = min(limits)
    return MemoryLimit(size, words, False)


def more_memory_advice(limit: MemoryLimit) -> str:
    """What to do: give the run more memory. Never fewer rows per file: orders split across jobs would
    give each customer a partial total."""
    if limit.on_lambda:
        return (f"Raise the processing function's memory (FunctionMemoryMB, up to {LAMBDA_MAX_MEMORY_MB:,} MB), "
                "or run the job with the memberseg command on a computer with more memory.")
    return "Run it again on a computer with more memory, or raise the memory limit it runs under."
