"""Run a function in a forked child process and collect its result over a pipe.

Two uses: the runner isolates a whole job (a reader that aborts the process
becomes an error instead of a dead service), and the pipeline reads the orders
file on the second core while the memberships file is consolidated. A child can
stop at a named stage until the parent says go (`GoSignal`, `Forked.wait_for`).

`multiprocessing` with the fork context does the process and the framing: a
`Process` and a one-way `Pipe` (Queue and Pool need /dev/shm, which Lambda lacks).
The child sends ("stage", dict) progress messages, then one of ("ok", value),
("input_error", InputError) or ("fault", dict): the exception's class, whether it is an OSError, and
its traceback text.

The parent waits on the pipe and on the child's exit together: a child that dies ends the wait even
when a process it forked (now an orphan) still holds the pipe open. A child in its own process group
(`new_process_group`) takes everything it forked with it when it ends or is stopped.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from .errors import InputError
from .job_protocol import ErrorCode
from .memory import killed_for_memory, memory_limit, more_memory_advice, oom_kill_count
from .timing import Progress

_FORK = multiprocessing.get_context("fork")


class WorkerFault(RuntimeError):
    """A forked worker failed for a reason that is not the input's fault."""


class WorkerDied(WorkerFault):
    """The worker ended without a result (killed by a signal, or timed out). `for_memory`: it was
    killed by SIGKILL that memberseg did not send, and the kernel's evidence says out of memory
    (`memberseg.memory`)."""

    def __init__(self, how: str, last_stage: dict, for_memory: bool = False):
        super().__init__(f"the worker {how} during stage '{last_stage.get('stage', 'starting')}'")
        self.how = how
        self.last_stage = last_stage
        self.for_memory = for_memory


class WorkerRaised(WorkerFault):
    """The worker's own code raised (parsing or computing, not a signal or a timeout). str() is the
    child's traceback; `error_type` the exception's class name, `os_error` whether it is an OSError
    (the local disk, not the input), `last_stage` the stage it was in."""

    def __init__(self, fault: dict, last_stage: dict):
        super().__init__(fault["traceback"])
        self.error_type: str = fault["type"]
        self.os_error: bool = fault["os_error"]
        self.last_stage = last_stage


def _child(target: Callable[..., Any], args: tuple[Any, ...], sender: Connection, new_process_group: bool) -> None:
    if new_process_group:
        os.setpgid(0, 0)
    try:
        value = target(*args, lambda stage, info: sender.send(("stage", {"stage": stage, **info})))
        sender.send(("ok", value))
    except InputError as exc:
        sender.send(("input_error", exc))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as an internal fault
        sender.send(("fault", {"type": type(exc).__name__, "os_error": isinstance(exc, OSError),
                               "traceback": traceback.format_exc()}))
        raise SystemExit(1) from None
    finally:
        sender.close()


class GoSignal:
    """A one-shot go or stop from the parent to a child forked after it was made."""

    def __init__(self) -> None:
        self._receiver, self._sender = _FORK.Pipe(duplex=False)

    def wait(self) -> bool:
        """In the child: block until the parent decides; a parent that went away means stop."""
        self._sender.close()
        try:
            decision: bool = self._receiver.recv()
        except EOFError:
            return False
        return decision

    def give(self, go: bool) -> None:
        """In the parent: say go (True) or stop (False), once."""
        if not self._sender.closed:
            self._receiver.close()
            try:
                self._sender.send(go)
            except OSError:  # BrokenPipeError: the child has already ended
                pass
            finally:
                self._sender.close()


_POLL_S = 0.5


def _exit_signal(pid: int) -> int | None:
    """A file descriptor that becomes readable when `pid` ends (Linux's pidfd), or None. Unlike the pipe
    multiprocessing watches, no process the child forks can hold it open."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class Forked:
    """`target(*args, report)` running in a child; `result()` returns its value or raises its error."""

    def __init__(self, target: Callable[..., Any], *args: Any, progress: Progress | None = None,
                 new_process_group: bool = False):
        receiver, sender = _FORK.Pipe(duplex=False)
        self._oom_kills = oom_kill_count()
        self._process = _FORK.Process(target=_child, args=(target, args, sender, new_process_group))
        self._process.start()
        if new_process_group:          # here too, so that a kill right after the start reaches its group
            try:
                os.setpgid(self.pid, self.pid)
            except OSError:            # it has already ended, or done so itself
                pass
        sender.close()                 # the child holds the only writer: its exit means end of file
        self._ended = _exit_signal(self.pid)
        self._receiver = receiver
        self._progress = progress
        self._group = new_process_group
        self.last_stage: dict = {}
        self._reaped = False
        self._early: tuple[str, Any] | None = None   # an outcome that arrived while waiting for a stage

    @property
    def pid(self) -> int:
        return self._process.pid or 0

    def _kill(self) -> None:
        try:
            if self._group:
                os.killpg(self.pid, signal.SIGKILL)
            else:
                self._process.kill()
        except ProcessLookupError:
            pass

    def cancel(self) -> None:
        """Stop the child and reap it (used when the parent fails first); harmless after result()."""
        if not self._reaped:
            self._kill()
            self._reap()

    def _reap(self) -> None:
        self._receiver.close()
        if self._ended is not None:
            os.close(self._ended)
            self._ended = None
        self._process.join()
        if self._group:     # whatever it forked goes with it (an orphan would live on in its group)
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._reaped = True

    def _next_message(self, deadline: float | None) -> tuple[str, Any] | None:
        """The child's next message; None at end of file or once the child has ended without sending
        one; TimeoutError past the deadline."""
        while True:
            timeout = None if deadline is None else max(deadline - time.monotonic(), 0)
            if self._ended is None:    # no pidfd: look at the child twice a second
                timeout = _POLL_S if timeout is None else min(timeout, _POLL_S)
            ready = wait([self._receiver] + ([self._ended] if self._ended is not None else []), timeout)
            if self._receiver in ready or self._receiver.poll(0):
                break
            if ready or (self._ended is None and not self._process.is_alive()):
                return None     # the child ended, and a process it forked may still hold the pipe open
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError
        try:
            message: tuple[str, Any] = self._receiver.recv()
        except EOFError:
            return None
        return message

    def _outcome(self, deadline: float | None, until_stage: str | None = None) -> tuple[str, Any] | None:
        """The child's outcome, relaying its stages; with `until_stage`, ("stage", ...) once that stage is seen."""
        if self._early is not None:
            return self._early
        while (message := self._next_message(deadline)) is not None:
            kind, payload = message
            if kind != "stage":
                return message
            self.last_stage = payload
            if self._progress:
                self._progress(payload["stage"], payload)
            if payload["stage"] == until_stage:
                return message
        return None

    def wait_for(self, stage: str) -> bool:
        """Block until the child reports `stage` (True), or until it ends first (False; `result()` then
        gives its outcome)."""
        outcome = self._outcome(None, until_stage=stage)
        if outcome is not None and outcome[0] == "stage":
            return True
        self._early = outcome
        return False

    def result(self, timeout: float | None = None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            outcome = self._outcome(deadline)
        except TimeoutError:
            self._kill()
            raise WorkerDied(f"did not finish within {timeout:g} s", self.last_stage) from None
        finally:
            if not self._reaped:
                self._reap()
        if outcome is None:
            raise WorkerDied(self._how_it_ended(), self.last_stage,
                             for_memory=self._process.exitcode == -signal.SIGKILL
                             and killed_for_memory(self._oom_kills, oom_kill_count()))
        kind, payload = outcome
        if kind == "input_error":
            raise payload
        if kind == "fault":
            raise WorkerRaised(payload, self.last_stage)
        return payload

    def _how_it_ended(self) -> str:
        code = self._process.exitcode or 0
        if code < 0:
            return f"was stopped by signal {signal.Signals(-code).name}"
        return f"exited with status {code}"


def crash_error(died: WorkerDied, files: Sequence[Path] = ()) -> InputError | None:
    """If the worker was killed for memory, say so (`too_large_for_memory`, naming the file it was reading,
    else `files`); if it died while a file was being parsed, blame the file (exit 2), not the tool."""
    if died.for_memory:
        return memory_error(died, files)
    stage = died.last_stage
    if stage.get("stage") != "parsing":
        return None
    role, file = stage.get("role", "input"), stage.get("file")
    return InputError(
        "reader_crashed",
        f"The {role} file '{file}' could not be read safely: the spreadsheet reader {died.how}. "
        "The file may be damaged; open it in Excel, save a fresh copy and re-upload.",
        file=file,
    )


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 100_000 else f"{size / 1e3:,.1f} KB"


def memory_error(died: WorkerDied, files: Sequence[Path]) -> InputError:
    """`too_large_for_memory`: the file being read (else every input), its size and the memory the run had."""
    stage = died.last_stage
    limit = memory_limit()
    if stage.get("stage") == "parsing" and stage.get("file"):
        file = stage["file"]
        size = f" ({_megabytes(stage['bytes'])})" if "bytes" in stage else ""
        what = f"Reading the {stage.get('role', 'input')} file '{file}'{size}"
        fine = "The file is not damaged"
    else:
        file = None
        sizes = [f"'{path.name}' ({_megabytes(path.stat().st_size)})" for path in files if path.exists()]
        what = f"The job ({' and '.join(sizes)})" if sizes else "The job"
        if stage.get("stage"):
            what += f" while {stage['stage']}"
        fine = "The files are not damaged"
    return InputError(
        ErrorCode.TOO_LARGE_FOR_MEMORY.value,
        f"{what} needed more memory than {limit.words}, and the system stopped it. {fine} "
        f"and nothing was written. {more_memory_advice(limit)}",
        file=file,
        details={"memory_bytes": limit.bytes},
    )
