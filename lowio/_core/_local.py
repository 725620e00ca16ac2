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


def in_run() -> bool:
    """Whether this thread is inside a ``lowio.run`` (in a task, a
    run_sync_soon callback or an instrument): exactly when
    ``current_time()`` would succeed.  trio's ``in_trio_run``."""
    return GLOBAL_RUN_CONTEXT.runner is not None


def in_task() -> bool:
    """Whether this code runs in a lowio task: exactly when
    ``lowio.lowlevel.current_task()`` would succeed.  trio's
    ``in_trio_task``."""
    return GLOBAL_RUN_CONTEXT.task is not None
