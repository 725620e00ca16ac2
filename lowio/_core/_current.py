"""The run's accessors and hooks under trio's names: ``current_task``,
``current_time``, ``current_statistics``, ``current_token``, ``reschedule``,
``spawn_system_task``, the instruments, ``wait_all_tasks_blocked``.  Each
raises ``RuntimeError`` outside a run; none is a checkpoint except
``wait_all_tasks_blocked``.  The run's thread only (``current_token`` hands
out what other threads may use)."""

from __future__ import annotations

import contextvars
import heapq
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._clock import Clock
from ._entry_queue import RunToken
from ._local import GLOBAL_RUN_CONTEXT, no_run_error
from ._task import Task
from ._traps import Abort, wait_task_rescheduled

if TYPE_CHECKING:
    from ._run import Runner, RunStatistics

_NO_SEND: Any = object()


def _runner(what: str) -> Runner:
    runner = GLOBAL_RUN_CONTEXT.runner
    if runner is None:
        raise no_run_error(what)
    return runner


def current_task() -> Task:
    """The task calling this.  ``RuntimeError`` outside a run."""
    task = GLOBAL_RUN_CONTEXT.task
    if task is None:
        raise no_run_error("current_task()")
    return task


def current_root_task() -> Task | None:
    """The run's root (init) task."""
    return _runner("current_root_task()").init_task


def current_time() -> float:
    """The run's clock, in seconds.  ``RuntimeError`` outside a run."""
    return _runner("current_time()").clock.current_time()


def current_clock() -> Clock:
    return _runner("current_clock()").clock


def current_statistics() -> RunStatistics:
    return _runner("current_statistics()").statistics()


def current_token() -> RunToken:
    """This run's token, for ``run_sync_soon`` from other threads."""
    return _runner("current_token()").token


def current_effective_deadline() -> float:
    """The earliest deadline among the enclosing (unshielded) scopes;
    ``-inf`` if already cancelled, ``inf`` if none."""
    task = current_task()
    return task._cancel_status.effective_deadline()


def reschedule(task: Task, next_send: Any = _NO_SEND) -> None:
    """Wakes ``task``, parked in ``wait_task_rescheduled``.  ``next_send``
    is an ``outcome.Value`` / ``outcome.Error`` (any object with ``value`` or
    ``error``); the trap returns / raises it (default: returns None)."""
    runner = _runner("reschedule()")
    if task._abort is None or task._runner is not runner:
        raise RuntimeError(f"{task!r} is not blocked in wait_task_rescheduled in this run")
    if next_send is _NO_SEND:
        runner.reschedule(task)
    elif hasattr(next_send, "error"):
        runner.reschedule_raise(task, next_send.error)
    elif hasattr(next_send, "value"):
        runner.reschedule(task, next_send.value)
    else:
        raise TypeError("next_send must be an outcome.Value or outcome.Error")


def spawn_system_task(
    async_fn: Callable[..., Awaitable[object]],
    *args: object,
    name: object = None,
    context: contextvars.Context | None = None,
) -> Task:
    """Starts a system task: it runs until the main task has ended (then it
    is cancelled); if it raises, the run crashes with
    ``LowioInternalError``."""
    return _runner("spawn_system_task()").spawn_system_task_impl(async_fn, args, name, context)


def add_instrument(instrument: object) -> None:
    _runner("add_instrument()").instruments.add(instrument)


def remove_instrument(instrument: object) -> None:
    """``KeyError`` if it is not installed."""
    _runner("remove_instrument()").instruments.remove(instrument)


async def wait_all_tasks_blocked(cushion: float = 0.0) -> None:
    """Returns once every other task has been blocked (waiting, not
    runnable) for ``cushion`` seconds.  For tests."""
    task = current_task()
    runner = task._runner
    runner._idle_seq += 1
    entry = (float(cushion), runner._idle_seq, task)
    heapq.heappush(runner.waiting_for_idle, entry)

    def abort(_: object) -> Abort:
        runner.waiting_for_idle.remove(entry)
        heapq.heapify(runner.waiting_for_idle)
        return Abort.SUCCEEDED

    await wait_task_rescheduled(abort)
