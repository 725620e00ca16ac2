"""Nurseries: ``async with lowio.open_nursery() as nursery`` and the
``task_status`` handshake of ``nursery.start``."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from ._cancel import CancelReason, CancelScope, CancelStatus
from ._exceptions import LowioInternalError, NoPublicConstructor, final
from ._local import GLOBAL_RUN_CONTEXT, no_run_error
from ._traps import Abort, RaiseCancel, cancel_shielded_checkpoint, wait_task_rescheduled

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found]

if TYPE_CHECKING:
    from ._task import Task

StatusT = TypeVar("StatusT")


class _NoStatus:
    pass


@final
class Nursery(metaclass=NoPublicConstructor):
    """Where child tasks live; made by ``open_nursery()``.

    ``async with`` exits only when every child has finished.  If the body or
    a child raises, the nursery's ``cancel_scope`` is cancelled (cancelling
    all its children and the body) and the errors leave the nursery as one
    ``BaseExceptionGroup`` (strict: always a group).
    """

    def __init__(self, parent_task: Task, cancel_scope: CancelScope) -> None:
        self._parent_task = parent_task
        parent_task._child_nurseries.append(self)
        status = parent_task._cancel_status
        self._cancel_status: CancelStatus = status
        self.cancel_scope = cancel_scope
        self._children: set[Task] = set()
        self._pending_excs: list[BaseException] = []
        self._nested_child_running = True
        self._parent_waiting_in_aexit = False
        self._pending_starts = 0
        self._closed = False

    @property
    def child_tasks(self) -> frozenset[Task]:
        """The children still running."""
        return frozenset(self._children)

    @property
    def parent_task(self) -> Task:
        """The task that opened this nursery."""
        return self._parent_task

    def _add_exc(self, exc: BaseException, reason: CancelReason | None) -> None:
        self._pending_excs.append(exc)
        self.cancel_scope._cancel(reason)

    def _check_nursery_closed(self) -> None:
        if not (self._nested_child_running or self._children or self._pending_starts):
            self._closed = True
            if self._parent_waiting_in_aexit:
                self._parent_waiting_in_aexit = False
                self._parent_task._runner.reschedule(self._parent_task)

    def _child_finished(self, task: Task, error: BaseException | None) -> None:
        self._children.remove(task)
        if self._closed and not hasattr(self, "_pending_excs"):
            # as in trio: the nursery was abandoned by misnesting and has
            # already exited; the child's result is lost
            return
        if error is not None:
            self._add_exc(
                error,
                None
                if self.cancel_scope._cancel_called  # the reason would be dropped
                else CancelReason("nursery", f"child task raised exception {error!r}", repr(task)),
            )
        self._check_nursery_closed()

    async def _nested_child_finished(
        self, nested_child_exc: BaseException | None
    ) -> BaseException | None:
        if nested_child_exc is not None:
            self._add_exc(
                nested_child_exc,
                CancelReason(
                    "nursery",
                    "Code block inside nursery contextmanager raised exception "
                    f"{nested_child_exc!r}",
                    repr(self._parent_task),
                ),
            )
        self._nested_child_running = False
        self._check_nursery_closed()

        if not self._closed:
            # Wait for the children.  Cancellation of the body's scope reaches
            # them through the cancel status tree; a KeyboardInterrupt is
            # kept with the nursery's errors.
            def aborted(raise_cancel: RaiseCancel) -> Abort:
                if isinstance(raise_cancel, RaiseCancel) and raise_cancel.is_keyboard_interrupt:
                    self._add_exc(
                        raise_cancel.exc,
                        CancelReason("KeyboardInterrupt", None, repr(self._parent_task)),
                    )
                return Abort.FAILED

            self._parent_waiting_in_aexit = True
            await wait_task_rescheduled(aborted)  # type: ignore[arg-type]
        else:
            # nothing to wait for: a schedule point, never a cancel point
            try:
                await cancel_shielded_checkpoint()
            except BaseException as exc:
                self._add_exc(exc, None)

        popped = self._parent_task._child_nurseries.pop()
        assert popped is self, "nursery misnesting detected"
        if self._pending_excs:
            try:
                group: BaseException = BaseExceptionGroup(
                    "Exceptions from lowio nursery", self._pending_excs
                )
                return group
            finally:
                del self._pending_excs
        return None

    def start_soon(
        self, async_fn: Callable[..., Awaitable[object]], *args: object, name: object = None
    ) -> None:
        """Starts ``async_fn(*args)`` as a child task; returns at once (not a
        checkpoint).  ``name`` is for debugging (default: the function's
        qualified name).  ``RuntimeError`` if the nursery has closed."""
        self._parent_task._runner.spawn_impl(async_fn, args, self, name)

    async def start(
        self, async_fn: Callable[..., Awaitable[object]], *args: object, name: object = None
    ) -> Any:
        """Starts ``async_fn(*args, task_status=...)`` and waits until it
        calls ``task_status.started(value)``; returns ``value``.  The child
        runs under this call until then (its errors propagate here,
        unwrapped), and in this nursery afterwards.  A checkpoint."""
        if self._closed:
            raise RuntimeError("Nursery is closed to new arrivals")
        try:
            self._pending_starts += 1
            try:
                async with NurseryManager() as old_nursery:
                    task_status: TaskStatus[Any] = TaskStatus._create(old_nursery, self)

                    def thunk(*a: object) -> Awaitable[object]:
                        return async_fn(*a, task_status=task_status)

                    task = self._parent_task._runner.spawn_impl(
                        thunk, args, old_nursery, async_fn if name is None else name
                    )
                    task._eventual_parent_nursery = self
            except BaseExceptionGroup as exc:
                if len(exc.exceptions) == 1:
                    inner = exc.exceptions[0]
                    context = inner.__context__
                    try:
                        raise inner
                    finally:
                        inner.__context__ = context
                        del inner, exc
                raise LowioInternalError(
                    "the nursery of a starting task must hold only that task"
                ) from exc
            if task_status._value is _NoStatus:
                raise RuntimeError("child exited without calling task_status.started()")
            return task_status._value
        finally:
            self._pending_starts -= 1
            self._check_nursery_closed()

    def __repr__(self) -> str:
        return f"<lowio.Nursery at {id(self):#x}>"


class TaskStatus(Generic[StatusT], metaclass=NoPublicConstructor):
    """Passed as ``task_status`` by ``nursery.start``; call ``started()``
    once the task is ready (not a checkpoint)."""

    def __init__(self, old_nursery: Nursery, new_nursery: Nursery) -> None:
        self._old_nursery = old_nursery
        self._new_nursery = new_nursery
        self._value: Any = _NoStatus

    def __repr__(self) -> str:
        return f"<lowio task status object at {id(self):#x}>"

    def started(self, value: Any = None) -> None:
        """Hands ``value`` to ``nursery.start`` and moves the task into the
        target nursery.  ``RuntimeError`` if called twice."""
        if self._value is not _NoStatus:
            raise RuntimeError("called 'started' twice on the same task status")
        self._value = value
        old = self._old_nursery
        if old._cancel_status.effectively_cancelled:
            # the start() call was cancelled: the task stays where it is and
            # unwinds there
            return
        new = self._new_nursery
        if new._closed:
            raise RuntimeError("Nursery is closed to new arrivals")
        tasks = old._children
        old._children = set()
        for task in tasks:
            task._parent_nursery = new
            task._eventual_parent_nursery = None
            new._children.add(task)
        # Move the task's cancel statuses (and scopes nested in it) under
        # the new nursery.
        old_status = old._cancel_status
        children = list(old_status._children)
        moved_tasks = set(old_status._tasks)
        moved_tasks.discard(old._parent_task)
        for status in children:
            status.parent = None
        for task in moved_tasks:
            task._activate_cancel_status(None)
        for status in children:
            status.parent = new._cancel_status
        for task in moved_tasks:
            task._activate_cancel_status(new._cancel_status)
        old._check_nursery_closed()


class _TaskStatusIgnored(TaskStatus[Any]):
    """The type of ``TASK_STATUS_IGNORED``: ``started()`` does nothing."""

    def __init__(self) -> None:
        self._value = _NoStatus

    def __repr__(self) -> str:
        return "TASK_STATUS_IGNORED"

    def started(self, value: Any = None) -> None:
        pass


TASK_STATUS_IGNORED: TaskStatus[Any] = _TaskStatusIgnored._create()
"""The default for a ``task_status`` parameter (trio's), so that a function
written for ``nursery.start`` can also be awaited directly."""


class NurseryManager:
    """The async context manager returned by ``open_nursery()``."""

    __slots__ = ("_nursery", "_scope")

    async def __aenter__(self) -> Nursery:
        task = GLOBAL_RUN_CONTEXT.task
        if task is None:
            raise no_run_error("open_nursery()")
        self._scope = CancelScope()
        self._scope.__enter__()
        self._nursery = Nursery._create(task, self._scope)
        return self._nursery

    async def __aexit__(
        self,
        etype: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        new_exc = await self._nursery._nested_child_finished(exc)
        combined = self._scope._close(new_exc)
        if combined is None:
            return True
        if combined is exc:
            return False
        old_context = combined.__context__
        try:
            raise combined
        finally:
            combined.__context__ = old_context
            del combined, new_exc, exc

    def __enter__(self) -> NoReturn:
        raise RuntimeError("use 'async with open_nursery(...)', not 'with open_nursery(...)'")

    def __exit__(self, *args: object) -> None:  # pragma: no cover
        raise AssertionError("never called")


def open_nursery() -> NurseryManager:
    """``async with lowio.open_nursery() as nursery:`` opens a nursery.

    Entering is not a checkpoint; exiting waits for the children, and if it
    has nothing to wait for it is a schedule point (never a cancel point).
    """
    return NurseryManager()
