"""The per-thread run context: which run (and which task) this thread is in."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._run import Runner
    from ._task import Task


class RunContext(threading.local):
    """``runner`` is the current run, ``task`` the task being stepped."""

    runner: Runner | None = None
    task: Task | None = None


GLOBAL_RUN_CONTEXT = RunContext()


def no_run_error(what: str) -> RuntimeError:
    return RuntimeError(f"{what} must be called from inside lowio.run() (no run is active here)")
