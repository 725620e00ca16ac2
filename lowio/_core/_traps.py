"""Traps: the only places a task yields to the scheduler.

A task's coroutine yields one of lowio's two trap objects:

* ``CHECKPOINT``: "reschedule me at once" (a schedule point).  The scheduler
  sends the ``Task`` back when it resumes it.
* a ``Park`` holding an *abort function*: "I am blocked until someone calls
  ``reschedule``".  If the task's cancel scope is (or becomes) cancelled,
  the scheduler calls ``abort_fn(raise_cancel)``; if it returns
  ``Abort.SUCCEEDED`` the task is rescheduled with the ``Cancelled``
  exception.

Anything else (an asyncio future, a bare ``yield``, some other library's
callable) is another library's awaitable: the scheduler throws a
``TypeError`` ("lowio.run received unrecognized yield message ...") into
the task, which may catch it and carry on.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, NoReturn

from ._exceptions import final
from ._local import GLOBAL_RUN_CONTEXT, no_run_error

if TYPE_CHECKING:
    from ._task import Task


class Abort(enum.Enum):
    """What an abort function returns: ``SUCCEEDED`` if the task is no
    longer waiting (the scheduler reschedules it with the cancellation),
    ``FAILED`` if it will be rescheduled later by someone else."""

    SUCCEEDED = 1
    FAILED = 2


RaiseCancelT = Callable[[], NoReturn]


class _Checkpoint:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<lowio checkpoint trap>"


CHECKPOINT: Any = _Checkpoint()


@final
class Park:
    """The trap a blocking task yields: park me until ``reschedule``, and
    call ``abort`` if I am cancelled meanwhile.  A trap object may be yielded
    any number of times (a wait that happens often can keep one)."""

    __slots__ = ("abort",)

    def __init__(self, abort: Callable[[RaiseCancelT], Abort]) -> None:
        self.abort = abort

    def __repr__(self) -> str:
        return f"<lowio park trap, abort={self.abort!r}>"


@final
class ParkRaisingHere:
    """The trap ``wait_task_rescheduled`` yields: a ``Park`` whose
    exception, if the task is woken with one, is raised by the trap itself,
    in its own frame.  The scheduler sends it in wrapped in a ``RaiseHere``
    instead of throwing it: an exception thrown into a suspended coroutine
    chain is raised while the frames above the trap are not running, so it
    gets the wrong ``__context__`` and can leave the wrong
    ``sys.exc_info()`` behind (CPython bpo-40694); one raised in the frame
    chains onto what the waiting code is handling, as with trio.

    While the task is parked its ``_abort`` holds the trap itself (calling
    it calls the abort function), which is how ``reschedule_raise`` knows
    to send the exception rather than throw it."""

    __slots__ = ("abort",)

    def __init__(self, abort: Callable[[RaiseCancelT], Abort]) -> None:
        self.abort = abort

    def __call__(self, raise_cancel: RaiseCancelT) -> Abort:
        return self.abort(raise_cancel)

    def __repr__(self) -> str:
        return f"<lowio park trap raising in place, abort={self.abort!r}>"


@final
class RaiseHere:
    """What a ``ParkRaisingHere`` trap is woken with to raise ``exc``; it
    never leaves the trap."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class RaiseCancel:
    """The ``raise_cancel`` given to abort functions: calling it raises the
    pending ``Cancelled`` (or ``KeyboardInterrupt``).  The exception is made
    only when needed (an abort that fails never needs it)."""

    __slots__ = ("_exc", "_make", "is_keyboard_interrupt")

    def __init__(
        self, make: Callable[[], BaseException], *, keyboard_interrupt: bool = False
    ) -> None:
        self._make = make
        self._exc: BaseException | None = None
        self.is_keyboard_interrupt = keyboard_interrupt

    @property
    def exc(self) -> BaseException:
        exc = self._exc
        if exc is None:
            exc = self._exc = self._make()
        return exc

    def __call__(self) -> NoReturn:
        raise self.exc


def abort_succeeded(_: object) -> Abort:
    return Abort.SUCCEEDED


# Parks a task whose cancellation (or KeyboardInterrupt) is due: the
# scheduler aborts it at once, which reschedules it with the exception.
DELIVER_PENDING = Park(abort_succeeded)


# The traps below (and the copies of their cancel check in lowio._owned_fast_path)
# repeat a few lines on purpose: each is one flat generator for speed, with
# no nested ``yield from``; do not fold them.


@types.coroutine
def wait_task_rescheduled(abort_func: Callable[[RaiseCancelT], Abort]) -> Generator[Any, Any, Any]:
    """Puts the current task to sleep until ``reschedule(task, outcome)`` is
    called; returns (or raises) what that outcome holds.

    A checkpoint.  ``abort_func(raise_cancel)`` is called (in whatever task
    cancels) if the task is cancelled while it sleeps; see ``Abort``.
    An exception it raises is raised in this frame (see ``ParkRaisingHere``).
    """
    value = yield ParkRaisingHere(abort_func)
    if type(value) is RaiseHere:
        exc = value.exc
        del value
        try:
            raise exc
        finally:
            del exc  # this frame is in its traceback: no cycle through it
    return value


@types.coroutine
def cancel_shielded_checkpoint() -> Generator[Any, Any, None]:
    """A schedule point that is never a cancel point: lets other tasks run,
    never raises ``Cancelled``."""
    yield CHECKPOINT


@types.coroutine
def checkpoint() -> Generator[Any, Any, None]:
    """A checkpoint: lets other tasks run, then raises ``Cancelled`` if the
    enclosing scope is cancelled (or ``KeyboardInterrupt`` in the main task
    after Ctrl-C)."""
    task: Task = yield CHECKPOINT
    task._cancel_points += 1
    if task._cancel_status.effectively_cancelled or task._ki_pending:
        yield DELIVER_PENDING


@types.coroutine
def checkpoint_if_cancelled() -> Generator[Any, Any, None]:
    """Raises ``Cancelled`` if the enclosing scope is cancelled (a cancel
    point); otherwise returns without letting other tasks run."""
    task = GLOBAL_RUN_CONTEXT.task
    if task is None:
        raise no_run_error("checkpoint_if_cancelled()")
    task._cancel_points += 1
    if task._cancel_status.effectively_cancelled or task._ki_pending:
        yield DELIVER_PENDING
