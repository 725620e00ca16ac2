"""anyio's ``TaskGroup`` on a lowio nursery.

Contract (anyio's, as lowio meets it):

* A task group is entered once; while its ``async with`` body runs and until
  its last task has finished it accepts new tasks (``start_soon``,
  ``start``, ``create_task``); afterwards they raise ``RuntimeError``.
* Errors leave it as a ``BaseExceptionGroup`` (lowio nurseries are strict).
  When only cancellations escape, it raises one bare ``lowio.Cancelled``
  instead (the group is its ``__cause__``), so that ``except
  get_cancelled_exc_class()`` in the enclosing code sees a cancellation.
* ``start()``: the task runs under ``nursery.start``'s handshake, and
  anyio's ``task_status.started()`` may even be called synchronously by a
  plain function that returns the coroutine.
* ``create_task(coro, name=, context=)`` runs the coroutine through anyio's
  ``TaskHandle`` (its own cancel scope, result and status).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from contextvars import Context
from types import CoroutineType, TracebackType
from typing import Any, Generic, NoReturn, TypeVar

import sniffio
from anyio import abc
from anyio._core._tasks import TaskHandle
from anyio.abc._tasks import get_callable_name, get_coro_name

import lowio
from lowio import _internal_api as lowio_api

from ._cancel_scope import CancelScope, WrappedCancelScope
from ._sync import Event

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

_INACTIVE = "This task group is not active; no new tasks can be started."


class _Unset:
    def __repr__(self) -> str:
        return "<not started>"


_UNSET: Any = _Unset()


class TaskStatus(abc.TaskStatus[T], Generic[T]):
    """The ``task_status`` anyio code receives from ``TaskGroup.start``.

    It forwards ``started(value)`` to lowio's task status once the task
    runs (``bind``).  Called earlier, while the coroutine is being made, it
    keeps the value for ``bind`` to pass on.  ``RuntimeError`` if called
    twice."""

    __slots__ = ("_lowio_status", "_value")

    def __init__(self) -> None:
        self._value: Any = _UNSET
        self._lowio_status: lowio.TaskStatus[Any] | None = None

    def started(self, value: T | None = None) -> None:
        if self._lowio_status is not None:
            self._lowio_status.started(value)
        elif self._value is not _UNSET:
            raise RuntimeError("called 'started' twice on the same task status")
        else:
            self._value = value

    def bind(self, lowio_status: lowio.TaskStatus[Any]) -> None:
        """From now on ``started`` goes to ``lowio_status`` (a value given
        before goes there at once)."""
        if self._value is not _UNSET:
            lowio_status.started(self._value)
        else:
            self._lowio_status = lowio_status


class _StartedTask:
    """The body of a task made by ``TaskGroup.start``: builds the coroutine
    with anyio's task status bound to lowio's, and runs it in a handle (or,
    when the caller wants no handle, in the cancel scope the handle's
    ``_run_coro`` would enter, without the handle and its event)."""

    __slots__ = ("args", "func", "handle", "name", "wants_handle")

    def __init__(
        self,
        func: Callable[..., Coroutine[Any, Any, Any]],
        args: tuple[Any, ...],
        name: str,
        wants_handle: bool,
    ) -> None:
        self.func = func
        self.args = args
        self.name = name
        self.wants_handle = wants_handle
        self.handle: TaskHandle[Any] | None = None

    async def run(self, *, task_status: lowio.TaskStatus[Any]) -> None:
        status: TaskStatus[Any] = TaskStatus()
        coro = self.func(*self.args, task_status=status)
        if type(coro) is not CoroutineType and not isinstance(coro, Coroutine):
            _not_a_coroutine(self.func, coro)
        status.bind(task_status)
        if not self.wants_handle:
            # Nobody could reach the handle (``start()`` returns the start
            # value), nor cancel its scope; the scope stays: exiting it is
            # what reports a cancel scope the coroutine left open.
            del self
            with lowio.CancelScope():
                await coro
            return
        handle = self.handle = _new_handle(coro, self.name)
        del coro
        if not _HANDLE_FIELDS_KNOWN:  # pragma: no cover - another anyio 4.16.x layout
            await handle._run_coro()
            return
        # the handle's _run_coro(), inline: one coroutine less in the task
        __tracebackhide__ = True  # pytest hides the frame, as in _run_coro
        with handle._cancel_scope:
            try:
                retval = await handle._coro
            except BaseException as exc:
                handle._exception = exc
                raise
            else:
                handle._return_value = retval
            finally:
                handle._finished_event.set()
                # the exception's traceback holds this frame: no cycle
                # through the handle, nor through this body (self.handle)
                del handle, self


class TaskGroup(abc.TaskGroup):
    """See the module docstring."""

    def __init__(self) -> None:
        self._manager = lowio.open_nursery(strict_exception_groups=True)
        self._entered = False
        self._nursery: lowio.Nursery | None = None  # set while the group accepts tasks
        self.cancel_scope = None  # type: ignore[assignment]  # set on entry

    async def __aenter__(self) -> TaskGroup:
        if self._entered:
            raise RuntimeError("TaskGroup cannot be entered more than once")
        self._entered = True
        self._nursery = await self._manager.__aenter__()
        self.cancel_scope = WrappedCancelScope(self._nursery.cancel_scope)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool:
        try:
            return await self._manager.__aexit__(exc_type, exc_val, exc_tb)
        except BaseExceptionGroup as group:
            if group.split(lowio.Cancelled)[1] is not None:
                raise
            raise _one_cancelled(group) from group
        finally:
            del exc_val, exc_tb
            self._nursery = None

    def _active_nursery(self, coro: Coroutine[Any, Any, Any] | None = None) -> lowio.Nursery:
        """The nursery to spawn in; ``RuntimeError`` if the group is not
        active (``coro`` is closed first, so it warns of no missing await)."""
        nursery = self._nursery
        if nursery is None:
            if coro is not None:
                coro.close()
            raise RuntimeError(_INACTIVE)
        return nursery

    def create_task(
        self,
        coro: Coroutine[Any, Any, T_co],
        *,
        name: object = None,
        context: Context | None = None,
    ) -> TaskHandle[T_co]:
        if type(coro) is not CoroutineType and not isinstance(coro, Coroutine):
            raise TypeError(f"expected a coroutine, got {coro.__class__.__qualname__}")
        nursery = self._active_nursery(coro)
        handle = _new_handle(coro, get_coro_name(coro, name))
        if context is not None:
            # the task runs in a copy (two tasks cannot share one context),
            # where sniffio says "lowio" whatever the caller's context says
            context = context.copy()
            context.run(sniffio.current_async_library_cvar.set, "lowio")
        try:
            if context is None:
                nursery.start_soon(handle._run_coro, name=handle.name)
            else:
                lowio_api.start_soon_in_context(nursery, handle._run_coro, handle.name, context)
        except BaseException:
            coro.close()
            raise
        return handle

    async def start(
        self,
        func: Callable[..., Coroutine[Any, Any, Any]],
        *args: object,
        name: object = None,
        return_handle: bool = False,
    ) -> Any:
        nursery = self._active_nursery()
        body = _StartedTask(func, args, get_callable_name(func, name), return_handle)
        value = await nursery.start(body.run, name=body.name)
        if not return_handle:
            return value
        assert body.handle is not None  # made before the task could call started()
        body.handle._start_value = value
        return body.handle


def _not_a_coroutine(func: Callable[..., Any], value: object) -> NoReturn:
    """The ``TypeError`` of anyio's ``call_for_coroutine`` (``func``
    returned ``value``, which is not a coroutine)."""
    prefix = f"{func.__module__}." if hasattr(func, "__module__") else ""
    raise TypeError(
        f"Expected {prefix}{func.__qualname__}() to return a coroutine, but "
        f"the return value ({value!r}) is not a coroutine object"
    )


def _new_handle(coro: Coroutine[Any, Any, T], name: str) -> TaskHandle[T]:
    """``TaskHandle(coro, name)``, built with a lowio scope and this
    backend's event directly: the handle's constructor would look the
    backend up twice and build each of them twice, and spawning is a hot
    path."""
    if not _HANDLE_FIELDS_KNOWN:  # pragma: no cover - another anyio 4.16.x layout
        return TaskHandle(coro, name, CancelScope._new())
    handle: TaskHandle[T] = _new_task_handle(TaskHandle)
    handle._coro = coro
    # The handle only enters, cancels and asks cancel_called of its scope,
    # which lowio's scope does as anyio's would: the wrapper's extra calls
    # on every task's start and end are saved.
    handle._cancel_scope = lowio.CancelScope()  # type: ignore[assignment]
    handle._finished_event = Event._make()
    handle._exception = None
    handle._name = name
    return handle


_new_task_handle = TaskHandle.__new__
# the fields _new_handle sets (those of anyio 4.16.0's TaskHandle)
_HANDLE_FIELDS_KNOWN = {"_coro", "_cancel_scope", "_finished_event", "_exception", "_name"} <= set(
    getattr(TaskHandle, "__slots__", ())
)


def _one_cancelled(group: BaseExceptionGroup[Any]) -> lowio.Cancelled:
    """A new ``Cancelled`` standing for a group of nothing but
    cancellations: it carries the first one's source, reason and task."""
    first: BaseException = group
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    assert isinstance(first, lowio.Cancelled)
    return lowio_api.cancelled_like(first)
