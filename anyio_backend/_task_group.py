"""anyio's ``TaskGroup`` on a lowio nursery.

* Exception groups are strict (lowio nurseries always group).
* When only cancellations escape the group, it raises one bare
  ``lowio.Cancelled`` (chained to the group) instead of a group of them, as
  anyio's trio backend does, so ``except get_cancelled_exc_class()`` works.
* ``start()``: the child runs under ``nursery.start``'s handshake; anyio's
  ``TaskStatus`` may also be told ``started()`` synchronously, by a plain
  function that returns the coroutine (the value is passed on once the
  child task runs).
* ``create_task(coro, name=, context=)`` runs the coroutine through anyio's
  ``TaskHandle`` (its own cancel scope, result, status).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from contextvars import Context
from types import CoroutineType, TracebackType
from typing import Any, Generic, TypeVar

import sniffio
from anyio import abc
from anyio._core._tasks import TaskHandle
from anyio.abc._tasks import call_for_coroutine, get_callable_name, get_coro_name

import lowio
from lowio._core import NurseryManager

from ._cancel_scope import CancelScope
from ._sync import Event

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class _NotStarted:
    def __repr__(self) -> str:
        return "<not started>"


_NOT_STARTED: Any = _NotStarted()


class TaskStatus(abc.TaskStatus[T], Generic[T]):
    """The ``task_status`` anyio code receives from ``TaskGroup.start``.

    Until the child task runs, ``started(value)`` only records the value
    (a synchronous wrapper may call it while making the coroutine); once it
    runs, calls go straight to lowio's task status.
    """

    __slots__ = ("early_value", "native")

    def __init__(self) -> None:
        self.early_value: Any = _NOT_STARTED
        self.native: lowio.TaskStatus[Any] | None = None

    def started(self, value: T | None = None) -> None:
        if self.native is not None:
            self.native.started(value)
        elif self.early_value is not _NOT_STARTED:
            raise RuntimeError("called 'started' twice on the same task status")
        else:
            self.early_value = value


class TaskGroup(abc.TaskGroup):
    def __init__(self) -> None:
        self._entered = False
        self._active = False
        self._manager = NurseryManager()
        self.cancel_scope = None  # type: ignore[assignment]  # set on entry

    async def __aenter__(self) -> TaskGroup:
        if self._entered:
            raise RuntimeError("TaskGroup cannot be entered more than once")
        self._entered = True
        self._nursery = await self._manager.__aenter__()
        self.cancel_scope = CancelScope(self._nursery.cancel_scope)
        self._active = True
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
            if group.split(lowio.Cancelled)[1] is None:
                # only cancellations: one bare Cancelled, as the trio backend
                first = _first_cancelled(group)
                raise lowio.Cancelled._create(
                    source=first.source, reason=first.reason, source_task=first.source_task
                ) from group
            raise
        finally:
            del exc_val, exc_tb
            self._active = False

    def _check_active(self, coro: Coroutine[Any, Any, Any] | None = None) -> None:
        if not self._active:
            if coro is not None:
                coro.close()  # no "never awaited" warning
            raise RuntimeError("This task group is not active; no new tasks can be started.")

    def create_task(
        self,
        coro: Coroutine[Any, Any, T_co],
        *,
        name: object = None,
        context: Context | None = None,
    ) -> TaskHandle[T_co]:
        if type(coro) is not CoroutineType and not isinstance(coro, Coroutine):
            raise TypeError(f"expected a coroutine, got {coro.__class__.__qualname__}")
        if not self._active:
            self._check_active(coro)
        handle = _new_handle(coro, get_coro_name(coro, name))
        if context is not None:
            # a copy (the same context cannot be entered by two tasks), where
            # sniffio says "lowio" whatever the caller's context says
            context = context.copy()
            context.run(sniffio.current_async_library_cvar.set, "lowio")
        runner = self._nursery._parent_task._runner
        try:
            runner.spawn_impl(handle._run_coro, (), self._nursery, handle.name, context=context)
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
        self._check_active()
        task_name = get_callable_name(func, name)
        holder: list[TaskHandle[Any]] = []

        async def run_started(*, task_status: lowio.TaskStatus[Any]) -> None:
            status: TaskStatus[Any] = TaskStatus()
            coro = call_for_coroutine(func, args, task_status=status)
            if status.early_value is not _NOT_STARTED:
                task_status.started(status.early_value)
            else:
                status.native = task_status
            handle = _new_handle(coro, task_name)
            holder.append(handle)
            await handle._run_coro()

        value = await self._nursery.start(run_started, name=task_name)
        if return_handle:
            handle = holder[0]
            handle._start_value = value
            return handle
        return value


def _new_handle(coro: Coroutine[Any, Any, T], name: str) -> TaskHandle[T]:
    """``TaskHandle(coro, name)``, built with this backend's scope and event
    directly: the handle's constructor would look the backend up twice and
    build each of them twice, and spawning is a hot path."""
    if not _HANDLE_FIELDS_KNOWN:  # pragma: no cover - another anyio 4.16.x layout
        return TaskHandle(coro, name, CancelScope._make())
    handle: TaskHandle[T] = _new_task_handle(TaskHandle)
    handle._coro = coro
    handle._cancel_scope = CancelScope._make()
    handle._finished_event = Event._make()
    handle._exception = None
    handle._name = name
    return handle


_new_task_handle = TaskHandle.__new__
# the fields _new_handle sets (those of anyio 4.16.0's TaskHandle)
_HANDLE_FIELDS_KNOWN = {"_coro", "_cancel_scope", "_finished_event", "_exception", "_name"} <= set(
    getattr(TaskHandle, "__slots__", ())
)


def _first_cancelled(group: BaseExceptionGroup[Any]) -> lowio.Cancelled:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first_cancelled(exc)
        assert isinstance(exc, lowio.Cancelled)
        return exc
    raise AssertionError("empty exception group")  # pragma: no cover
