"""``LowioBackend``: anyio's ``AsyncBackend`` on lowio.

Every method of anyio 4.16's backend interface.  The core (run loop,
cancellation, tasks, synchronization, threads, testing) maps onto lowio's
runtime in the sibling modules; networking and subprocesses live in
``_sockets`` and ``_process``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from anyio import BusyResourceError, ClosedResourceError
from anyio.abc import AsyncBackend

import lowio
import lowio.lowlevel
import lowio.testing

from . import _process, _sockets, _tasks, _threads
from ._cancel_scope import CancelScope
from ._signals import open_signal_receiver
from ._sync import CapacityLimiter, Event, Lock, Semaphore
from ._task_group import TaskGroup
from ._testing import TestRunner

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


def _as_coroutine_function(
    func: Callable[..., Awaitable[T]],
) -> Callable[..., Coroutine[Any, Any, T]]:
    """``lowio.run`` wants a coroutine; anyio accepts any awaitable."""

    def call(*args: Any) -> Any:
        awaitable = func(*args)
        if isinstance(awaitable, Coroutine) or not isinstance(awaitable, Awaitable):
            return awaitable  # lowio reports a non-awaitable itself

        async def wrapper() -> T:
            return await awaitable

        return wrapper()

    # the main task is named after func
    call.__module__ = getattr(func, "__module__", call.__module__)
    call.__qualname__ = getattr(func, "__qualname__", call.__qualname__)
    return call


class LowioBackend(AsyncBackend):
    """anyio calls these as classmethods (``get_async_backend().sleep(1)``).
    Where lowio (or a sibling module) already has the function with anyio's
    signature and semantics, the attribute *is* that function, as a
    ``staticmethod``: no forwarding frame on hot paths such as
    ``checkpoint`` and ``sleep``.  Each function's own docstring states its
    contract.  The methods written out below adapt something."""

    # ---- the run and its clock ----

    @classmethod
    def run(
        cls,
        func: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: dict[str, Any],
    ) -> T:
        assert not kwargs, "anyio passes no keyword arguments"
        return lowio.run(_as_coroutine_function(func), *args, **options)

    current_token = staticmethod(lowio.lowlevel.current_token)
    current_time = staticmethod(lowio.current_time)
    checkpoint = staticmethod(lowio.lowlevel.checkpoint)
    checkpoint_if_cancelled = staticmethod(lowio.lowlevel.checkpoint_if_cancelled)
    cancel_shielded_checkpoint = staticmethod(lowio.lowlevel.cancel_shielded_checkpoint)
    # anyio passes the delay positionally (lowio names it ``seconds``);
    # sleep(0) is a plain checkpoint
    sleep = staticmethod(lowio.sleep)  # type: ignore[assignment]

    @classmethod
    def cancelled_exception_class(cls) -> type[BaseException]:
        return lowio.Cancelled

    # ---- cancellation and tasks ----

    create_cancel_scope = staticmethod(CancelScope._new)  # (*, deadline=inf, shield=False)
    current_effective_deadline = staticmethod(lowio.current_effective_deadline)
    create_task_group = staticmethod(TaskGroup)

    # ---- synchronization ----

    create_event = staticmethod(Event._make)
    create_lock = staticmethod(Lock._make)  # (*, fast_acquire)
    create_semaphore = staticmethod(Semaphore)  # (initial_value, *, max_value, fast_acquire)
    create_capacity_limiter = staticmethod(CapacityLimiter)  # (total_tokens)

    # ---- threads (in _threads) ----

    @classmethod
    async def run_sync_in_worker_thread(
        cls,
        func: Callable[..., T],
        args: tuple[Any, ...],
        abandon_on_cancel: bool = False,
        limiter: Any = None,
    ) -> T:
        return await _threads.run_sync_in_worker_thread(cls, func, args, abandon_on_cancel, limiter)

    check_cancelled = staticmethod(_threads.check_cancelled)
    run_async_from_thread = staticmethod(_threads.run_async_from_thread)
    run_sync_from_thread = staticmethod(_threads.run_sync_from_thread)
    run_sync_soon = staticmethod(_threads.run_sync_soon)
    current_default_thread_limiter = staticmethod(_threads.current_default_thread_limiter)

    # ---- subprocesses (in _process) ----

    open_process = staticmethod(_process.open_process)
    setup_process_pool_exit_at_shutdown = staticmethod(_process.setup_process_pool_exit_at_shutdown)

    # ---- networking (in _sockets) ----

    connect_tcp = staticmethod(_sockets.connect_tcp)
    connect_unix = staticmethod(_sockets.connect_unix)
    create_tcp_listener = staticmethod(_sockets.create_tcp_listener)
    create_unix_listener = staticmethod(_sockets.create_unix_listener)
    create_udp_socket = staticmethod(_sockets.create_udp_socket)
    create_unix_datagram_socket = staticmethod(_sockets.create_unix_datagram_socket)  # type: ignore[assignment]  # anyio's is overloaded on remote_path
    getaddrinfo = staticmethod(_sockets.getaddrinfo)
    getnameinfo = staticmethod(_sockets.getnameinfo)
    wrap_listener_socket = staticmethod(_sockets.wrap_listener_socket)
    wrap_stream_socket = staticmethod(_sockets.wrap_stream_socket)
    wrap_unix_stream_socket = staticmethod(_sockets.wrap_unix_stream_socket)
    wrap_udp_socket = staticmethod(_sockets.wrap_udp_socket)
    wrap_connected_udp_socket = staticmethod(_sockets.wrap_connected_udp_socket)
    wrap_unix_datagram_socket = staticmethod(_sockets.wrap_unix_datagram_socket)
    wrap_connected_unix_datagram_socket = staticmethod(_sockets.wrap_connected_unix_datagram_socket)

    # ---- readiness of raw file descriptors: anyio's exceptions ----

    @classmethod
    async def wait_readable(cls, obj: FileDescriptorLike) -> None:
        try:
            await lowio.lowlevel.wait_readable(obj)
        except lowio.ClosedResourceError as exc:
            raise ClosedResourceError().with_traceback(exc.__traceback__) from None
        except lowio.BusyResourceError:
            raise BusyResourceError("reading from") from None

    @classmethod
    async def wait_writable(cls, obj: FileDescriptorLike) -> None:
        try:
            await lowio.lowlevel.wait_writable(obj)
        except lowio.ClosedResourceError as exc:
            raise ClosedResourceError().with_traceback(exc.__traceback__) from None
        except lowio.BusyResourceError:
            raise BusyResourceError("writing to") from None

    notify_closing = staticmethod(lowio.lowlevel.notify_closing)  # type: ignore[assignment]  # positional

    # ---- signals, introspection, testing ----

    open_signal_receiver = staticmethod(open_signal_receiver)
    get_current_task = staticmethod(_tasks.get_current_task)
    get_running_tasks = staticmethod(_tasks.get_running_tasks)
    wait_all_tasks_blocked = staticmethod(lowio.testing.wait_all_tasks_blocked)

    @classmethod
    def create_test_runner(cls, options: dict[str, Any]) -> TestRunner:
        return TestRunner(**options)
