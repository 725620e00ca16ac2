"""Time: ``sleep``, ``sleep_until``, ``sleep_forever`` and the timeout
scopes ``move_on_after/at``, ``fail_after/at`` (trio's)."""

from __future__ import annotations

import math
import types
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from ._core._cancel import CancelScope
from ._core._current import current_time
from ._core._exceptions import TooSlowError
from ._core._local import GLOBAL_RUN_CONTEXT, no_run_error
from ._core._traps import Abort, Park, abort_succeeded, checkpoint, wait_task_rescheduled


@types.coroutine
def _sleep_until(deadline: float) -> Generator[Any, Any, None]:
    task = GLOBAL_RUN_CONTEXT.task
    if task is None:
        raise no_run_error("sleep()")
    runner = task._runner
    timers = runner.timers
    entry = timers.add(deadline, lambda: runner.reschedule(task))

    def abort(_: object) -> Abort:
        timers.cancel(entry)
        return Abort.SUCCEEDED

    yield Park(abort)
    if entry[2] is not None:
        # woken by hand (reschedule), not by the timer: drop the timer so
        # that it cannot wake the task later in some other wait (trio raises
        # this too)
        timers.cancel(entry)
        raise RuntimeError("Should never have been rescheduled!")


def _check(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number, not {type(value).__name__}")
    if math.isnan(value):
        raise ValueError(f"{what} must not be NaN")
    return value


async def sleep_forever() -> NoReturn:
    """Sleeps until cancelled.  A checkpoint.  ``RuntimeError`` if the task
    is woken by hand (``reschedule``), as in trio."""
    await wait_task_rescheduled(abort_succeeded)
    raise RuntimeError("Should never have been rescheduled!")


async def sleep_until(deadline: float) -> None:
    """Sleeps until the run's clock reaches ``deadline`` (a past deadline is
    a plain checkpoint).  A checkpoint; ``TypeError`` unless a number,
    ``ValueError`` for NaN."""
    if _check(deadline, "deadline") == math.inf:
        await sleep_forever()
    else:
        await _sleep_until(deadline)


async def sleep(seconds: float) -> None:
    """Sleeps ``seconds`` (``sleep(0)`` is a checkpoint that lets the other
    runnable tasks go first).  A checkpoint.  ``TypeError`` unless a number,
    ``ValueError`` if negative or NaN."""
    if seconds == 0:
        await checkpoint()
        return
    if _check(seconds, "`seconds`") < 0:
        raise ValueError("`seconds` must be non-negative")
    if seconds == math.inf:
        await sleep_forever()
    else:
        await _sleep_until(current_time() + seconds)


def _timeout(seconds: float) -> float:
    if _check(seconds, "`seconds`") < 0:
        raise ValueError("`seconds` must be non-negative")
    return seconds


def move_on_at(deadline: float, *, shield: bool = False) -> CancelScope:
    """A cancel scope that cancels itself at ``deadline``; the block is
    abandoned silently (check ``cancelled_caught``).  Not a checkpoint
    (neither is entering or leaving the scope).  ``TypeError`` unless a
    number, ``ValueError`` for NaN."""
    return CancelScope(deadline=_check(deadline, "deadline"), shield=shield)


def move_on_after(seconds: float, *, shield: bool = False) -> CancelScope:
    """A cancel scope that cancels itself ``seconds`` after it is entered.
    Not a checkpoint.  ``TypeError`` unless a number, ``ValueError`` if
    negative or NaN."""
    return CancelScope(relative_deadline=_timeout(seconds), shield=shield)


@contextmanager
def _fail(scope: CancelScope) -> Iterator[CancelScope]:
    with scope:
        yield scope
    if scope.cancelled_caught:
        raise TooSlowError


def fail_at(deadline: float, *, shield: bool = False) -> Any:
    """Like ``move_on_at``, but raises ``TooSlowError`` if the deadline
    cancelled the block."""
    return _fail(move_on_at(deadline, shield=shield))


def fail_after(seconds: float, *, shield: bool = False) -> Any:
    """Like ``move_on_after``, but raises ``TooSlowError`` if the deadline
    cancelled the block."""
    return _fail(move_on_after(seconds, shield=shield))
