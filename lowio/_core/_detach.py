"""Handing a task's coroutine to another coroutine runner and back (trio's
``permanently_detach_coroutine_object``, ``temporarily_detach_coroutine_object``
and ``reattach_detached_coroutine_object``): for experts bridging lowio
with another framework inside one coroutine."""

from __future__ import annotations

import types
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from ._local import GLOBAL_RUN_CONTEXT, no_run_error
from ._traps import Abort, Park, RaiseCancelT

if TYPE_CHECKING:
    from ._task import Task


class Detach:
    """The message a task yields to leave the run for good; the run treats
    it as the task's exit with ``final_outcome``."""

    __slots__ = ("final_outcome",)

    def __init__(self, final_outcome: Any) -> None:
        self.final_outcome = final_outcome

    def result(self) -> tuple[Any, BaseException | None]:
        """``(value, error)`` of the outcome (``outcome.Value`` / ``Error``)."""
        error = getattr(self.final_outcome, "error", None)
        if error is not None:
            return None, error
        return getattr(self.final_outcome, "value", None), None

    def __repr__(self) -> str:
        return f"<permanently detach with {self.final_outcome!r}>"


@types.coroutine
def _yield(message: object) -> Generator[Any, Any, Any]:
    return (yield message)


class _Reattaching:
    def __repr__(self) -> str:
        return "<reattaching>"


_REATTACHING = _Reattaching()


async def permanently_detach_coroutine_object(final_outcome: Any) -> Any:
    """Leaves the run for good: the task counts as exited with
    ``final_outcome`` (an ``outcome.Value`` / ``outcome.Error``: what its
    nursery sees), and its coroutine (``Task.coro``) is left suspended here
    for another coroutine runner; returns what that runner sends first.
    ``RuntimeError`` if the task has open nurseries (their children would
    be orphaned) or outside a task."""
    task = GLOBAL_RUN_CONTEXT.task
    if task is None:
        raise no_run_error("permanently_detach_coroutine_object()")
    if task._child_nurseries:
        raise RuntimeError("can't permanently detach a coroutine object with open nurseries")
    if not (hasattr(final_outcome, "value") or hasattr(final_outcome, "error")):
        raise TypeError(
            f"final_outcome must be an outcome.Value or outcome.Error, not {final_outcome!r}"
        )
    return await _yield(Detach(final_outcome))


async def temporarily_detach_coroutine_object(
    abort_func: Callable[[RaiseCancelT], Abort],
) -> Any:
    """Parks the task (as ``wait_task_rescheduled``; ``abort_func`` is
    called if it is cancelled meanwhile) and lends its coroutine to another
    runner, which drives it with ``Task.coro.send``; returns what that
    runner sends first.  Give it back with
    ``reattach_detached_coroutine_object``."""
    return await _yield(Park(abort_func))


async def reattach_detached_coroutine_object(task: Task, yield_value: object) -> None:
    """Gives a temporarily detached coroutine back to its task: yields
    ``yield_value`` to the foreign runner driving it (its ``send`` returns
    that), and returns once lowio runs the task again.  ``RuntimeError`` if
    ``task`` is not the task whose coroutine is calling (a rough check: its
    coroutine must be running)."""
    coro: Any = task.coro
    if not getattr(coro, "cr_running", getattr(coro, "gi_running", False)):
        raise RuntimeError("given task does not match calling coroutine")
    task._runner.reschedule(task, _REATTACHING)
    value = await _yield(yield_value)
    if value is not _REATTACHING:
        raise RuntimeError(f"the reattached task was resumed with {value!r}")
