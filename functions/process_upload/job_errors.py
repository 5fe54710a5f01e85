"""The job flow's errors: which faults end a job (FinalError, recorded FAILED with error.json and
never retried) and the messages of the failures the flow writes itself (timeout, internal fault,
an engine crash, no room in /tmp). Anything else a run raises is transient: Lambda retries it
(job_run.Run.on_fault).
"""

from __future__ import annotations

from job_ports import ObjectInfo
from memberseg.job_protocol import ErrorCode

NO_ROOM_MESSAGE = "The job's files and outputs do not fit in the function's temporary storage. Upload smaller files."


class FinalError(Exception):
    """A deterministic failure of this job: recorded as FAILED with error.json, never retried."""

    def __init__(self, code: str, message: str, file: str | None = None):
        super().__init__(message)
        self.error = {"error": {"code": str(code), "message": message, "file": file}}

    @classmethod
    def of(cls, error: dict) -> FinalError:
        """From an error.json body such as internal_error() (its file, if any, is not kept)."""
        return cls(error["error"]["code"], error["error"]["message"])


def internal_error() -> dict:
    return {"error": {"code": ErrorCode.INTERNAL_ERROR.value,
                      "message": "The job could not be completed because of an internal fault; it was retried "
                                 "and then given up. Upload the files again to retry.", "file": None}}


def timeout_error(limit_s: float | None = None) -> dict:
    limit = f" ({limit_s:,.0f} s)" if limit_s else ""
    return {"error": {"code": ErrorCode.TIMEOUT.value,
                      "message": f"The job took longer than its time limit{limit} and was stopped. "
                                 "Split the export into smaller files, or ask for a longer limit.", "file": None}}


def timeout(limit_s: float) -> FinalError:
    return FinalError(ErrorCode.TIMEOUT, timeout_error(limit_s)["error"]["message"])


def too_large(role: str, obj: ObjectInfo) -> FinalError:
    """An input that does not fit in /tmp (ENOSPC while downloading it)."""
    name = obj.name
    return FinalError(ErrorCode.FILE_TOO_LARGE, f"The {role} file {name} ({obj.size / 1e6:,.1f} MB) does not fit "
                      "in the function's temporary storage. Upload a smaller file.", file=name)


def no_room() -> FinalError:
    """The inputs and the engine's outputs together filled /tmp."""
    return FinalError(ErrorCode.FILE_TOO_LARGE, NO_ROOM_MESSAGE)


def engine_error(error_type: str, last_stage: dict) -> FinalError:
    """The engine's own code raised while parsing or computing these inputs: the same files fail the
    same way on every attempt, so this is final (the traceback is in the log, never in the message)."""
    stage = last_stage.get("stage")
    if stage == "parsing" and last_stage.get("file"):
        where = f" while reading the {last_stage.get('role', 'input')} file {last_stage['file']}"
    else:
        where = f" while {stage}" if stage else ""
    return FinalError(ErrorCode.ENGINE_ERROR, f"memberseg could not process these files: {error_type}{where}. "
                      "This is a bug in memberseg or an input it does not handle; uploading the same files again "
                      "will not help. The files were not changed.", file=last_stage.get("file"))


def raise_final_if_known(exc: Exception, *, elapsed: float, budget: float) -> None:
    """The engine's own timeout, the input errors and the crashes of its own code are final; anything
    else (a storage or network fault, a worker killed by a signal) may be transient."""
    from memberseg.errors import InputError
    from memberseg.isolation import WorkerDied, WorkerRaised

    if isinstance(exc, InputError):
        error = exc.to_dict()["error"]
        raise FinalError(error["code"], error["message"], error.get("file")) from exc
    if isinstance(exc, WorkerDied) and ("did not finish within" in str(exc) or elapsed >= budget - 0.5):
        raise timeout(budget) from exc
    if "[Errno 28]" in str(exc) or "No space left on device" in str(exc):     # ENOSPC inside the worker
        raise no_room() from exc
    if isinstance(exc, WorkerRaised) and not exc.os_error:        # parsing or computing raised: deterministic
        raise engine_error(exc.error_type, exc.last_stage) from exc
