"""Progress reports and stage timings, shared by the pipeline, the write stage, the runner and push.

The two callback types, one name each:
- `Progress(stage, info)`: a stage started (the pipeline, the writer, the isolated worker);
- `MessageCallback(text)`: one line of progress for a person to read (the runner, push).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Progress = Callable[[str, dict], None]
MessageCallback = Callable[[str], None]


def no_progress(stage: str, info: dict) -> None:
    return None


@contextmanager
def timed(timings: dict[str, float], stage: str, progress: Progress, **info) -> Iterator[None]:
    """Report `stage` as started, then record how long the block took under its name."""
    progress(stage, info)
    started = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - started, 3)
