"""``Task``: one coroutine stepped by the scheduler, with its context and
its place in the nursery tree."""

from __future__ import annotations

import contextvars
import functools
import gc
from collections.abc import Callable, Coroutine, Iterator
from types import AsyncGeneratorType, FrameType
from typing import TYPE_CHECKING, Any

from ._cancel import MISNESTING_REASON
from ._cancel_status import CancelStatus
from ._exceptions import LowioInternalError, NoPublicConstructor, final
from ._traps import Abort, ParkRaisingHere, RaiseCancel, RaiseCancelT

if TYPE_CHECKING:
    from ._nursery import Nursery
    from ._run import Runner


def task_name(name: object) -> str:
    if isinstance(name, functools.partial):
        name = name.func
    if isinstance(name, str):
        return name
    try:
        return f"{name.__module__}.{name.__qualname__}"  # type: ignore[attr-defined]
    except AttributeError:
        return repr(name)


def _frame_and_awaited(link: Any) -> tuple[FrameType | None, object]:
    """One step down an await chain: the frame of ``link`` and what it is
    awaiting (None at the bottom).  Coroutines and ``@types.coroutine``
    generators say so in attributes.  An async generator being stepped
    (``async for``, ``asend``/``athrow``) is awaited through a wrapper that
    CPython gives no attribute for, but holds as a reference: gc finds it."""
    if hasattr(link, "cr_frame"):
        return link.cr_frame, link.cr_await
    if hasattr(link, "gi_frame"):
        return link.gi_frame, link.gi_yieldfrom
    if type(link).__name__ in ("async_generator_asend", "async_generator_athrow"):
        for referent in gc.get_referents(link):
            if isinstance(referent, AsyncGeneratorType):
                return referent.ag_frame, referent.ag_await
    return None, None


@final
class Task(metaclass=NoPublicConstructor):
    """A running task (``lowio.lowlevel.current_task()``).

    Attributes: ``name``, ``coro``, ``context`` (its ``contextvars``
    context), ``parent_nursery`` (None for the root task),
    ``eventual_parent_nursery`` (set while started with ``nursery.start``),
    ``child_nurseries`` and ``custom_sleep_data`` (free for the code that
    parks the task).
    """

    __slots__ = (
        "__weakref__",
        "_abort",
        "_arg",
        "_cancel_points",
        "_cancel_status",
        "_child_nurseries",
        "_eventual_parent_nursery",
        "_fn",
        "_ki_pending",
        "_ki_protected",
        "_name",
        "_name_source",
        "_parent_nursery",
        "_runner",
        "_schedule_points",
        "_send",
        "_throw",
        "context",
        "coro",
        "custom_sleep_data",
    )

    def __init__(
        self,
        coro: Coroutine[Any, Any, Any],
        runner: Runner,
        name_source: object,
        parent_nursery: Nursery | None,
        context: contextvars.Context,
    ) -> None:
        self.coro = coro
        self.context = context
        self._runner = runner
        self._name: str | None = None
        self._name_source = name_source
        self._parent_nursery = parent_nursery
        self._eventual_parent_nursery: Nursery | None = None
        self._child_nurseries: list[Nursery] = []
        self._send = coro.send
        self._throw = coro.throw
        # What the next step does: ``_fn(_arg)`` is ``coro.send(value)`` or
        # ``coro.throw(exception)``.  ``_abort`` is the abort function of
        # the wait the task is parked in (None while it is runnable).
        self._fn: Callable[[Any], Any] = self._send
        self._arg: object = None
        self._abort: Callable[[RaiseCancelT], Abort] | None = None
        self._cancel_status: CancelStatus = None  # type: ignore[assignment]
        self._cancel_points = 0
        self._schedule_points = 0
        self._ki_pending = False
        self._ki_protected = False  # system tasks: Ctrl-C waits for a checkpoint of main
        self.custom_sleep_data: Any = None

    @property
    def name(self) -> str:
        name = self._name
        if name is None:
            name = self._name = task_name(self._name_source)
            self._name_source = None
        return name

    @property
    def parent_nursery(self) -> Nursery | None:
        return self._parent_nursery

    @property
    def eventual_parent_nursery(self) -> Nursery | None:
        return self._eventual_parent_nursery

    @property
    def child_nurseries(self) -> list[Nursery]:
        return list(self._child_nurseries)

    def iter_await_frames(self) -> Iterator[tuple[FrameType, int]]:
        """The frames of this task's await chain, outermost first, each with
        its current line number (for stack dumps of a blocked task).  Not a
        checkpoint; any thread may call it, but the chain is only stable
        while the task is not running."""
        link: object = self.coro
        while link is not None:
            frame, link = _frame_and_awaited(link)
            if frame is not None:
                yield frame, frame.f_lineno

    def __repr__(self) -> str:
        return f"<Task {self.name!r} at {id(self):#x}>"

    # ---- cancellation plumbing ----

    def _activate_cancel_status(self, status: CancelStatus | None) -> None:
        if self._cancel_status is not None:
            self._cancel_status._tasks.discard(self)
        self._cancel_status = status  # type: ignore[assignment]
        if status is not None:
            status._tasks.add(self)
            if status.effectively_cancelled:
                self._attempt_delivery_of_any_pending_cancel()

    def _attempt_abort(self, raise_cancel: RaiseCancel) -> None:
        """Offers ``raise_cancel`` to the wait the task is parked in (its
        abort function runs now, in whatever task is cancelling); a wait
        that gives up reschedules the task with the exception."""
        abort = self._abort
        if abort is None:
            return  # runnable: the next checkpoint raises it
        if type(abort) is ParkRaisingHere:
            abort = abort.abort  # the same call, one Python frame less
        success = abort(raise_cancel)
        if type(success) is not Abort:
            raise LowioInternalError("abort function must return lowio.lowlevel.Abort")
        if success is Abort.SUCCEEDED:
            self._runner.reschedule_raise(self, raise_cancel.exc)

    def _attempt_delivery_of_any_pending_cancel(self) -> None:
        if self._abort is None or not self._cancel_status.effectively_cancelled:
            return
        reason = self._cancel_status._scope._cancel_reason or MISNESTING_REASON
        self._attempt_abort(RaiseCancel(reason.exception))

    def _attempt_delivery_of_pending_ki(self) -> None:
        def consume() -> BaseException:
            # the KeyboardInterrupt is delivered only if the abort takes it
            # (succeeds, or a nursery keeps it); a refused abort leaves it
            # pending for the next checkpoint
            self._ki_pending = False
            self._runner.ki_pending = False
            self._runner.ki_offered = False
            return KeyboardInterrupt()

        self._attempt_abort(RaiseCancel(consume, keyboard_interrupt=True))
