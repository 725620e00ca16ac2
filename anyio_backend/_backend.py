"""``LowioBackend``: anyio's ``AsyncBackend`` on lowio.

Every method of anyio 4.16's backend interface.  The core (run loop,
cancellation, tasks, synchronization, threads, testing) maps onto lowio's
runtime in the sibling modules; networking and subprocesses live in
``_sockets`` and ``_process``.
"""

from __future__ import annotations

import math
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import AbstractContextManager
from signal import Signals
from socket import AddressFamily, SocketKind, socket
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar

from anyio import BusyResourceError, ClosedResourceError, TaskInfo
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
    from anyio.abc import (
        ConnectedUDPSocket,
        ConnectedUNIXDatagramSocket,
        IPSockAddrType,
        Process,
        SocketListener,
        SocketStream,
        UDPSocket,
        UNIXDatagramSocket,
        UNIXSocketStream,
    )
    from anyio.abc._eventloop import StrOrBytesPath

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

    @classmethod
    def current_token(cls) -> object:
        return lowio.lowlevel.current_token()

    @classmethod
    def current_time(cls) -> float:
        return lowio.current_time()

    @classmethod
    def cancelled_exception_class(cls) -> type[BaseException]:
        return lowio.Cancelled

    @classmethod
    async def checkpoint(cls) -> None:
        await lowio.lowlevel.checkpoint()

    @classmethod
    async def checkpoint_if_cancelled(cls) -> None:
        await lowio.lowlevel.checkpoint_if_cancelled()

    @classmethod
    async def cancel_shielded_checkpoint(cls) -> None:
        await lowio.lowlevel.cancel_shielded_checkpoint()

    @classmethod
    async def sleep(cls, delay: float) -> None:
        if delay == 0:
            await lowio.lowlevel.checkpoint()
        else:
            await lowio.sleep(delay)

    # ---- cancellation and tasks ----

    @classmethod
    def create_cancel_scope(cls, *, deadline: float = math.inf, shield: bool = False) -> Any:
        return CancelScope(deadline=deadline, shield=shield)

    @classmethod
    def current_effective_deadline(cls) -> float:
        return lowio.current_effective_deadline()

    @classmethod
    def create_task_group(cls) -> TaskGroup:
        return TaskGroup()

    # ---- synchronization ----

    @classmethod
    def create_event(cls) -> Event:
        return Event()

    @classmethod
    def create_lock(cls, *, fast_acquire: bool) -> Lock:
        return Lock(fast_acquire=fast_acquire)

    @classmethod
    def create_semaphore(
        cls, initial_value: int, *, max_value: int | None = None, fast_acquire: bool = False
    ) -> Semaphore:
        return Semaphore(initial_value, max_value=max_value, fast_acquire=fast_acquire)

    @classmethod
    def create_capacity_limiter(cls, total_tokens: float) -> CapacityLimiter:
        return CapacityLimiter(total_tokens)

    # ---- threads ----

    @classmethod
    async def run_sync_in_worker_thread(
        cls,
        func: Callable[..., T],
        args: tuple[Any, ...],
        abandon_on_cancel: bool = False,
        limiter: Any = None,
    ) -> T:
        return await _threads.run_sync_in_worker_thread(cls, func, args, abandon_on_cancel, limiter)

    @classmethod
    def check_cancelled(cls) -> None:
        _threads.check_cancelled()

    @classmethod
    def run_async_from_thread(
        cls,
        func: Callable[..., Coroutine[Any, Any, T_co]],
        args: tuple[Any, ...],
        token: object,
    ) -> T_co:
        return _threads.run_async_from_thread(func, args, token)

    @classmethod
    def run_sync_from_thread(
        cls, func: Callable[..., T], args: tuple[Any, ...], token: object
    ) -> T:
        return _threads.run_sync_from_thread(func, args, token)

    @classmethod
    def run_sync_soon(
        cls, func: Callable[..., object], args: tuple[Any, ...], token: object
    ) -> None:
        _threads.run_sync_soon(func, args, token)

    @classmethod
    def current_default_thread_limiter(cls) -> CapacityLimiter:
        return _threads.current_default_thread_limiter()

    # ---- subprocesses (in _process) ----

    @classmethod
    async def open_process(
        cls,
        command: StrOrBytesPath | Sequence[StrOrBytesPath],
        *,
        stdin: int | IO[Any] | None,
        stdout: int | IO[Any] | None,
        stderr: int | IO[Any] | None,
        cwd: StrOrBytesPath | None = None,
        env: Mapping[str, str] | None = None,
        startupinfo: Any = None,
        creationflags: int = 0,
        start_new_session: bool = False,
        pass_fds: Sequence[int] = (),
        user: str | int | None = None,
        group: str | int | None = None,
        extra_groups: Iterable[str | int] | None = None,
        umask: int = -1,
        **kwargs: Any,
    ) -> Process:
        return await _process.open_process(
            command,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            env=env,
            startupinfo=startupinfo,
            creationflags=creationflags,
            start_new_session=start_new_session,
            pass_fds=pass_fds,
            user=user,
            group=group,
            extra_groups=extra_groups,
            umask=umask,
            **kwargs,
        )

    @classmethod
    def setup_process_pool_exit_at_shutdown(cls, workers: set[Process]) -> None:
        _process.setup_process_pool_exit_at_shutdown(workers)

    # ---- networking (in _sockets) ----

    @classmethod
    async def connect_tcp(
        cls, host: str, port: int, local_address: IPSockAddrType | None = None
    ) -> SocketStream:
        return await _sockets.connect_tcp(host, port, local_address)

    @classmethod
    async def connect_unix(
        cls,
        path: str | bytes,
        kind: Literal[SocketKind.SOCK_STREAM, SocketKind.SOCK_SEQPACKET],
    ) -> UNIXSocketStream:
        return await _sockets.connect_unix(path, kind)

    @classmethod
    def create_tcp_listener(cls, sock: socket) -> SocketListener:
        return _sockets.create_tcp_listener(sock)

    @classmethod
    def create_unix_listener(cls, sock: socket) -> SocketListener:
        return _sockets.create_unix_listener(sock)

    @classmethod
    async def create_udp_socket(
        cls,
        family: AddressFamily,
        local_address: IPSockAddrType | None,
        remote_address: IPSockAddrType | None,
        reuse_port: bool,
    ) -> UDPSocket | ConnectedUDPSocket:
        return await _sockets.create_udp_socket(family, local_address, remote_address, reuse_port)

    @classmethod
    async def create_unix_datagram_socket(  # type: ignore[override]
        cls, raw_socket: socket, remote_path: str | bytes | None
    ) -> UNIXDatagramSocket | ConnectedUNIXDatagramSocket:
        return await _sockets.create_unix_datagram_socket(raw_socket, remote_path)

    @classmethod
    async def getaddrinfo(
        cls,
        host: bytes | str | None,
        port: str | int | None,
        *,
        family: int | AddressFamily = 0,
        type: int | SocketKind = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> Sequence[
        tuple[
            AddressFamily,
            SocketKind,
            int,
            str,
            tuple[str, int] | tuple[str, int, int, int] | tuple[int, bytes],
        ]
    ]:
        return await _sockets.getaddrinfo(
            host, port, family=family, type=type, proto=proto, flags=flags
        )

    @classmethod
    async def getnameinfo(cls, sockaddr: IPSockAddrType, flags: int = 0) -> tuple[str, str]:
        return await _sockets.getnameinfo(sockaddr, flags)

    @classmethod
    async def wrap_listener_socket(cls, sock: socket) -> SocketListener:
        return await _sockets.wrap_listener_socket(sock)

    @classmethod
    async def wrap_stream_socket(cls, sock: socket) -> SocketStream:
        return await _sockets.wrap_stream_socket(sock)

    @classmethod
    async def wrap_unix_stream_socket(cls, sock: socket) -> UNIXSocketStream:
        return await _sockets.wrap_unix_stream_socket(sock)

    @classmethod
    async def wrap_udp_socket(cls, sock: socket) -> UDPSocket:
        return await _sockets.wrap_udp_socket(sock)

    @classmethod
    async def wrap_connected_udp_socket(cls, sock: socket) -> ConnectedUDPSocket:
        return await _sockets.wrap_connected_udp_socket(sock)

    @classmethod
    async def wrap_unix_datagram_socket(cls, sock: socket) -> UNIXDatagramSocket:
        return await _sockets.wrap_unix_datagram_socket(sock)

    @classmethod
    async def wrap_connected_unix_datagram_socket(cls, sock: socket) -> ConnectedUNIXDatagramSocket:
        return await _sockets.wrap_connected_unix_datagram_socket(sock)

    # ---- readiness of raw file descriptors ----

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

    @classmethod
    def notify_closing(cls, obj: FileDescriptorLike) -> None:
        lowio.lowlevel.notify_closing(obj)

    # ---- signals, introspection, testing ----

    @classmethod
    def open_signal_receiver(
        cls, *signals: Signals
    ) -> AbstractContextManager[AsyncIterator[Signals]]:
        return open_signal_receiver(*signals)

    @classmethod
    def get_current_task(cls) -> TaskInfo:
        return _tasks.get_current_task()

    @classmethod
    def get_running_tasks(cls) -> Sequence[TaskInfo]:
        return _tasks.get_running_tasks()

    @classmethod
    async def wait_all_tasks_blocked(cls) -> None:
        await lowio.testing.wait_all_tasks_blocked()

    @classmethod
    def create_test_runner(cls, options: dict[str, Any]) -> TestRunner:
        return TestRunner(**options)
