"""The per-thread run context: which run (and which task) this thread is in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._local_core import PerThread

if TYPE_CHECKING:
    from ._run import Runner
    from ._task import Task


class RunContext(PerThread):
    """``runner`` is the current run, ``task`` the task being stepped: per
    thread, as on a ``threading.local``, and read in one dictionary lookup
    when the same thread read last (``_local_core.c``)."""

    __slots__ = ()
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
