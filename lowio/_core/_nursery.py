"""Nurseries: ``async with lowio.open_nursery() as nursery`` and the
``task_status`` handshake of ``nursery.start``."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from .._warnings import TrioDeprecationWarning
from ._cancel import CancelReason, CancelScope
from ._cancel_status import CancelStatus
from ._exceptions import LowioInternalError, NoPublicConstructor, final
from ._exits import LOOSE_GROUP_NOTE, exit_with, raise_keeping_context
from ._local import GLOBAL_RUN_CONTEXT, no_run_error
from ._traps import (
    Abort,
    RaiseCancel,
    RaiseCancelT,
    cancel_shielded_checkpoint,
    wait_task_rescheduled,
)

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found]

if TYPE_CHECKING:
    from ._task import Task

StatusT = TypeVar("StatusT")

# builds the objects whose classes refuse public construction, without the
# metaclass's _create round trip (each is then initialised by its __init__)
_new_object = object.__new__


@final
class Nursery(metaclass=NoPublicConstructor):
    """Where child tasks live; made by ``open_nursery()``.

    ``async with`` exits only when every child has finished.  If the body or
    a child raises, the nursery's ``cancel_scope`` is cancelled (cancelling
    all its children and the body) and the errors leave the nursery as one
    ``BaseExceptionGroup`` (strict: always a group; a deprecated *loose*
    nursery raises a single error bare).

    Lifecycle: the nursery is *open* while anything that may still add a
    child or an error is alive: the ``async with`` body, a child, or a
    ``start()`` call still waiting for its task.  When the last of these
    ends the nursery *closes* (``start_soon`` and ``start`` then raise
    ``RuntimeError``) and the task waiting in ``__aexit__`` wakes.  The
    errors are handed out once, as the group ``__aexit__`` raises; after
    that ``_errors`` is None, and a child that still finishes (its parent
    misnested the nursery and left without waiting) has nowhere to report.
    """

    def __init__(
        self, parent_task: Task, cancel_scope: CancelScope, strict_exception_groups: bool = True
    ) -> None:
        self._strict = strict_exception_groups
        self._parent_task = parent_task
        parent_task._child_nurseries.append(self)
        # children start at the node of the nursery's own scope
        self._cancel_status: CancelStatus = parent_task._cancel_status
        self.cancel_scope = cancel_scope
        self._children: set[Task] = set()
        self._errors: list[BaseException] | None = []
        self._body_running = True
        self._starting = 0  # start() calls whose task has not called started()
        self._exit_waiting = False  # the parent task is parked in __aexit__
        self._closed = False

    @property
    def child_tasks(self) -> frozenset[Task]:
        """The children still running."""
        return frozenset(self._children)

    @property
    def parent_task(self) -> Task:
        """The task that opened this nursery."""
        return self._parent_task

    # ---- bookkeeping (not checkpoints) ----

    def _record_error(self, exc: BaseException, reason: CancelReason | None) -> None:
        """Keeps ``exc`` for the group and cancels everything in the
        nursery (``reason`` None: keep the reason of an earlier cancel)."""
        if self._errors is not None:
            self._errors.append(exc)
        self.cancel_scope._cancel(reason)

    def _close_if_idle(self) -> None:
        """Closes the nursery once nothing in it is alive (see the class
        docstring) and wakes the parent waiting in ``__aexit__``."""
        if self._body_running or self._children or self._starting:
            return
        self._closed = True
        if self._exit_waiting:
            self._exit_waiting = False
            self._parent_task._runner.reschedule(self._parent_task)

    def _child_finished(self, task: Task, error: BaseException | None) -> None:
        """Called by the scheduler when a child task has exited."""
        self._children.remove(task)
        if self._errors is None:
            return  # the nursery has exited already (it was misnested)
        if error is not None:
            # Only the first cancel names its cause: a later reason would
            # be dropped anyway, so none is built.
            reason = None
            if not self.cancel_scope._cancel_called:
                reason = CancelReason(
                    "nursery", f"child task raised exception {error!r}", repr(task)
                )
            self._record_error(error, reason)
        self._close_if_idle()

    # ---- the parent's side of __aexit__ ----

    async def _body_exited(self, body_exc: BaseException | None) -> BaseException | None:
        """The ``async with`` body is done (raising ``body_exc``): waits for
        the children and returns the group of every error (None if none).

        Waiting for children cannot be cancelled (cancellation reaches them
        through the nursery's scope and they finish); a ``KeyboardInterrupt``
        delivered meanwhile joins the errors.  With no child to wait for,
        this is a schedule point that is never a cancel point.
        """
        if body_exc is not None:
            self._record_error(
                body_exc,
                CancelReason(
                    "nursery",
                    f"Code block inside nursery contextmanager raised exception {body_exc!r}",
                    repr(self._parent_task),
                ),
            )
        self._body_running = False
        self._close_if_idle()
        if self._closed:
            try:
                await cancel_shielded_checkpoint()
            except BaseException as exc:  # a KeyboardInterrupt
                self._record_error(exc, None)
        else:

            def keep_keyboard_interrupt(raise_cancel: RaiseCancelT) -> Abort:
                if isinstance(raise_cancel, RaiseCancel) and raise_cancel.is_keyboard_interrupt:
                    self._record_error(
                        raise_cancel.exc,
                        CancelReason("KeyboardInterrupt", None, repr(self._parent_task)),
                    )
                return Abort.FAILED  # _close_if_idle wakes us

            self._exit_waiting = True
            await wait_task_rescheduled(keep_keyboard_interrupt)

        innermost = self._parent_task._child_nurseries.pop()
        assert innermost is self, "Nursery misnesting detected!"
        errors, self._errors = self._errors, None
        if not errors:
            return None
        if not self._strict and len(errors) == 1:
            return errors[0]
        group = BaseExceptionGroup("Exceptions from lowio nursery", errors)
        if not self._strict:
            # a scope that strips Cancelled from it may collapse what is left
            group.add_note(LOOSE_GROUP_NOTE)
        result: BaseException = group
        return result

    # ---- spawning ----

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
        calls ``task_status.started(value)``; returns ``value``.  A
        checkpoint.  ``RuntimeError`` if the nursery has closed, or if the
        task returns without calling ``started()``.

        Until ``started()`` the task is the only child of a private nursery
        of this call, inside the caller's cancel scopes: cancelling the
        caller cancels it, and its error propagates from here, unwrapped.
        ``started()`` moves it into this nursery (``_adopt``).
        """
        if self._closed:
            raise RuntimeError("Nursery is closed to new arrivals")
        caller = GLOBAL_RUN_CONTEXT.task
        if caller is None:
            raise no_run_error("Nursery.start()")
        self._starting += 1
        failed: BaseException | None = None
        remaining: BaseException | None = None
        try:
            try:
                # ``async with open_nursery() as private:`` around the spawn,
                # spelled out (no manager, no __aenter__/__aexit__ frames)
                private = _open(caller, True)
                task_status: TaskStatus[Any] = _new_object(TaskStatus)
                TaskStatus.__init__(task_status, private, self)

                def with_status(*a: object) -> Awaitable[object]:
                    return async_fn(*a, task_status=task_status)

                try:
                    task = self._parent_task._runner.spawn_impl(
                        with_status, args, private, async_fn if name is None else name
                    )
                    task._eventual_parent_nursery = self
                except BaseException as exc:
                    failed = exc
                group = await private._body_exited(failed)
                remaining = private.cancel_scope._close(group)
                del group
                if remaining is not None:
                    raise_keeping_context(remaining)
            except BaseExceptionGroup as group:
                # the task is the private nursery's only child: its error
                # is the group's only member
                if len(group.exceptions) != 1:
                    raise LowioInternalError(
                        "the nursery of a starting task must hold only that task"
                    ) from group
                sole = group.exceptions[0]
                del group
                try:
                    raise_keeping_context(sole)
                finally:
                    del sole
            if task_status._value is _NOT_STARTED:
                raise RuntimeError("child exited without calling task_status.started()")
            return task_status._value
        finally:
            del failed, remaining
            self._starting -= 1
            self._close_if_idle()

    def _adopt(self, private: Nursery) -> None:
        """Moves the task of ``start()``'s private nursery into this one:
        it becomes our child, and the cancel scopes it entered (nodes under
        the private nursery's) and the tasks it runs at that node move under
        our scope, so that from now on our cancellation reaches them."""
        moving, private._children = private._children, set()
        for task in moving:
            task._parent_nursery = self
            task._eventual_parent_nursery = None
            self._children.add(task)
        source = private._cancel_status
        target = self._cancel_status
        for node in source.children():
            node.attach(target)
        for task in list(source._tasks):
            if task is not private._parent_task:  # the start() caller stays
                task._activate_cancel_status(target)
        private._close_if_idle()

    def __repr__(self) -> str:
        return f"<lowio.Nursery at {id(self):#x}>"


def _open(task: Task, strict_exception_groups: bool) -> Nursery:
    """A new nursery of ``task`` with its cancel scope entered: what
    entering ``open_nursery()`` does (``Nursery._create`` without the
    metaclass's two calls)."""
    scope = CancelScope()
    scope.__enter__()
    nursery: Nursery = _new_object(Nursery)
    Nursery.__init__(nursery, task, scope, strict_exception_groups)
    return nursery


class _NotStarted:
    def __repr__(self) -> str:
        return "<task status not started>"


_NOT_STARTED: Any = _NotStarted()


class TaskStatus(Generic[StatusT], metaclass=NoPublicConstructor):
    """Passed as ``task_status`` by ``nursery.start``; call ``started()``
    once the task is ready (not a checkpoint)."""

    def __init__(self, private: Nursery, target: Nursery) -> None:
        self._private = private
        self._target = target
        self._value: Any = _NOT_STARTED

    def __repr__(self) -> str:
        return f"<lowio task status object at {id(self):#x}>"

    def started(self, value: Any = None) -> None:
        """Hands ``value`` to ``nursery.start`` and moves the task into the
        target nursery.  ``RuntimeError`` if called twice, or if the target
        nursery has closed meanwhile.  If the ``start()`` call was cancelled
        meanwhile, the task stays where it is (and unwinds there)."""
        if self._value is not _NOT_STARTED:
            raise RuntimeError("called 'started' twice on the same task status")
        self._value = value
        if self._private._cancel_status.effectively_cancelled:
            return
        if self._target._closed:
            raise RuntimeError("Nursery is closed to new arrivals")
        self._target._adopt(self._private)


class _TaskStatusIgnored(TaskStatus[Any]):
    """The type of ``TASK_STATUS_IGNORED``: ``started()`` does nothing."""

    def __init__(self) -> None:
        self._value = _NOT_STARTED

    def __repr__(self) -> str:
        return "TASK_STATUS_IGNORED"

    def started(self, value: Any = None) -> None:
        pass


# final from here on: _TaskStatusIgnored is its one subclass
final(TaskStatus)


TASK_STATUS_IGNORED: TaskStatus[Any] = _TaskStatusIgnored._create()
"""The default for a ``task_status`` parameter, so that a function written
for ``nursery.start`` can also be awaited directly."""


class NurseryManager:
    """The async context manager returned by ``open_nursery()``: entering
    enters the nursery's cancel scope, exiting waits for the children and
    then exits the scope (which catches the nursery's own ``Cancelled``)."""

    __slots__ = ("_nursery", "_strict")

    def __init__(self, strict_exception_groups: bool | None = True) -> None:
        self._strict = strict_exception_groups  # None: the run's setting

    async def __aenter__(self) -> Nursery:
        task = GLOBAL_RUN_CONTEXT.task
        if task is None:
            raise no_run_error("open_nursery()")
        strict = self._strict
        if strict is None:
            strict = task._runner.strict_exception_groups
        nursery = self._nursery = _open(task, strict)
        return nursery

    async def __aexit__(
        self,
        etype: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        group = await self._nursery._body_exited(exc)
        try:
            return exit_with(exc, self._nursery.cancel_scope._close(group))
        finally:
            del group, exc

    def __enter__(self) -> NoReturn:
        raise RuntimeError("use 'async with open_nursery(...)', not 'with open_nursery(...)'")

    def __exit__(self, *args: object) -> None:  # pragma: no cover
        raise AssertionError("never called")


def warn_loose_groups(thing: str, stacklevel: int) -> None:
    """The deprecation warning of ``strict_exception_groups=False``."""
    warnings.warn(
        TrioDeprecationWarning(
            f"{thing} is deprecated; use the default value of True and rewrite "
            "exception handlers to handle ExceptionGroups (see trio's "
            "'designing for multiple errors', https://github.com/python-trio/trio/issues/2929)"
        ),
        stacklevel=stacklevel,
    )


def open_nursery(strict_exception_groups: bool | None = None) -> NurseryManager:
    """``async with lowio.open_nursery() as nursery:`` opens a nursery.

    Entering is not a checkpoint; exiting waits for the children, and if it
    has nothing to wait for it is a schedule point (never a cancel point).

    ``strict_exception_groups``: None (the default) takes the run's setting
    (``lowio.run(..., strict_exception_groups=...)``, True unless changed);
    True always raises a ``BaseExceptionGroup``; False (deprecated,
    ``TrioDeprecationWarning``) raises a single error bare.
    """
    if strict_exception_groups is not None:
        if not strict_exception_groups:
            warn_loose_groups("open_nursery(strict_exception_groups=False)", stacklevel=3)
        strict_exception_groups = bool(strict_exception_groups)
    return NurseryManager(strict_exception_groups)
