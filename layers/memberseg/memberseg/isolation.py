"""Run a function in a forked child process and collect its result over a pipe.

Two uses: the runner isolates a whole job (a reader that aborts the process
becomes an error instead of a dead service), and the pipeline reads the orders
file on the second core while the memberships file is consolidated.

The child sends length-prefixed pickle frames: ("stage", dict) progress
messages, then one of ("ok", value), ("input_error", InputError) or
("fault", traceback text).
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import time
import traceback
from collections.abc import Callable
from typing import Any

from .errors import InputError

_HEADER = struct.Struct("!Q")
Report = Callable[[str, dict], None]


class WorkerFault(RuntimeError):
    """A forked worker failed for a reason that is not the input's fault."""


class WorkerDied(WorkerFault):
    """The worker ended without a result (killed by a signal, or timed out)."""

    def __init__(self, how: str, last_stage: dict):
        super().__init__(f"the worker {how} during stage '{last_stage.get('stage', 'starting')}'")
        self.how = how
        self.last_stage = last_stage


def _send(fd: int, kind: str, payload: Any) -> None:
    data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class Forked:
    """`target(*args, report)` running in a child; `result()` returns its value or raises its error."""

    def __init__(self, target: Callable[..., Any], *args: Any, progress: Report | None = None,
                 new_process_group: bool = False):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child; its effects are asserted through the parent
            os.close(read_fd)
            if new_process_group:
                os.setpgid(0, 0)
            code = 0
            try:
                value = target(*args, lambda stage, info: _send(write_fd, "stage", {"stage": stage, **info}))
                _send(write_fd, "ok", value)
            except InputError as exc:
                _send(write_fd, "input_error", exc)
            except BaseException:  # noqa: BLE001 - reported to the parent as an internal fault
                code = 1
                try:
                    _send(write_fd, "fault", traceback.format_exc())
                except BaseException:  # noqa: BLE001
                    pass
            finally:
                os._exit(code)
        os.close(write_fd)
        self.pid = pid
        self._fd = read_fd
        self._progress = progress
        self._group = new_process_group
        self.last_stage: dict = {}
        self._reaped = False

    def _kill(self) -> None:
        try:
            if self._group:
                os.killpg(self.pid, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def cancel(self) -> None:
        """Stop the child and reap it (used when the parent fails first); harmless after result()."""
        if self._reaped:
            return
        self._kill()
        self._reap()

    def _reap(self) -> int:
        os.close(self._fd)
        _, status = os.waitpid(self.pid, 0)
        self._reaped = True
        return status

    def result(self, timeout: float | None = None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        buffer = bytearray()
        outcome: tuple[str, Any] | None = None
        timed_out = False
        try:
            while True:
                wait = None if deadline is None else deadline - time.monotonic()
                if wait is not None and wait <= 0:
                    timed_out = True
                    self._kill()
                    break
                ready, _, _ = select.select([self._fd], [], [], wait)
                if not ready:
                    continue
                chunk = os.read(self._fd, 1 << 20)
                if not chunk:
                    break
                buffer += chunk
                while len(buffer) >= _HEADER.size:
                    (size,) = _HEADER.unpack_from(buffer)
                    if len(buffer) < _HEADER.size + size:
                        break
                    kind, payload = pickle.loads(buffer[_HEADER.size:_HEADER.size + size])
                    del buffer[:_HEADER.size + size]
                    if kind == "stage":
                        self.last_stage = payload
                        if self._progress:
                            self._progress(payload["stage"], payload)
                    else:
                        outcome = (kind, payload)
        finally:
            status = self._reap()
        if timed_out:
            raise WorkerDied(f"did not finish within {timeout:g} s", self.last_stage)
        if outcome is None:
            how = (f"was stopped by signal {signal.Signals(os.WTERMSIG(status)).name}" if os.WIFSIGNALED(status)
                   else f"exited with status {os.WEXITSTATUS(status)}")
            raise WorkerDied(how, self.last_stage)
        kind, payload = outcome
        if kind == "input_error":
            raise payload
        if kind == "fault":
            raise WorkerFault(payload)
        return payload


def crash_error(died: WorkerDied) -> InputError | None:
    """If the worker died while a file was being parsed, blame the file (exit 2), not the tool."""
    stage = died.last_stage
    if stage.get("stage") != "parsing":
        return None
    role, file = stage.get("role", "input"), stage.get("file")
    return InputError(
        "reader_crashed",
        f"The {role} file '{file}' could not be read safely: the spreadsheet reader {died.how}. "
        "The file may be damaged or built to exhaust memory; open it in Excel, save a fresh copy and re-upload.",
        file=file,
    )
