"""lowio's async sockets (``lowio.socket``), shaped like ``trio.socket``.

Every I/O method is a checkpoint, as in trio.  They take the *owned fast
path* of docs/design.md §3.4: first a cancel check, then the system call; if it
succeeds, a schedule point and done; on EAGAIN the task parks on the fd's
persistent edge-triggered registration with **no epoll_ctl** (EAGAIN
proves that the next arrival is a new edge), and retries when woken.
An error other than EAGAIN from the first attempt is raised after a
schedule point (trio's ``_try_sync``: the call is a checkpoint whatever
its outcome).

A socket *claims* the fd's registration the first time it must wait (and
again whenever the readiness cache holds another entry for its fd, e.g.
left by a socket closed without ``notify_closing`` -- garbage collected,
or detached and closed -- whose fd number it reuses): one ``epoll_ctl``
that re-validates the registration.  Parking with no ``epoll_ctl`` is only
safe on a registration known to name this very file.

``close()`` calls ``notify_closing`` first, so tasks waiting on the socket
wake with ``ClosedResourceError``; operations on a closed socket raise
``OSError(EBADF)``.
"""

from __future__ import annotations

import os
import socket as _stdlib_socket
import types
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any, TypeVar

from ._core._exceptions import Cancelled
from ._core._io import FdState, IOManager
from ._core._local import GLOBAL_RUN_CONTEXT, no_run_error
from ._core._traps import (
    CHECKPOINT,
    abort_succeeded,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
)
from ._io_waits import notify_closing, wait_writable

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer as Buffer
    from _typeshed import WriteableBuffer

T = TypeVar("T")
Address = Any

_BlockingIOError = BlockingIOError


# ``_owned_io``, ``_recv`` and ``_send`` repeat the same owned-fast-path
# steps (cancel check, system call, claim, park, retry) on purpose: each is
# one flat generator specialised for speed on the hottest socket calls, so
# do not fold them into a shared helper.


@types.coroutine
def _owned_io(
    sock: SocketType, write: bool, fn: Callable[..., T], *args: Any
) -> Generator[Any, Any, T]:
    """``fn(*args)`` the lowio way (see the module docstring)."""
    task = GLOBAL_RUN_CONTEXT.task
    if task is None:
        raise no_run_error("socket I/O")
    task._cancel_points += 1
    if task._cancel_status.effectively_cancelled or task._ki_pending:
        yield abort_succeeded  # raises Cancelled
    try:
        result = fn(*args)
    except _BlockingIOError:
        pass
    except BaseException:
        yield CHECKPOINT  # trio's _try_sync: a schedule point, then the error
        raise
    else:
        yield CHECKPOINT  # a schedule point, never a cancel point
        return result
    io = task._runner.io
    io.claim(sock, write)
    wait = io.wait_owned_writable if write else io.wait_owned_readable
    fd = sock._fd
    while True:
        yield from wait(fd)
        try:
            return fn(*args)
        except _BlockingIOError:
            pass


@types.coroutine
def _recv(sock: SocketType, bufsize: int, flags: int) -> Generator[Any, Any, bytes]:
    """``_owned_io`` specialised for the hottest call (no ``*args`` tuple),
    with tokio's rule for stream sockets: a read shorter than asked for
    emptied the receive buffer, so the next ``recv`` waits for the next edge
    first instead of making a system call that would fail with EAGAIN (one
    system call less per message).  The cache's READY flag covers data that
    arrived meanwhile, and its read-closed flag an EOF or error that was
    reported together with the last data (no later edge would repeat it)."""
    task = GLOBAL_RUN_CONTEXT.task
    if task is None:
        raise no_run_error("socket I/O")
    task._cancel_points += 1
    if task._cancel_status.effectively_cancelled or task._ki_pending:
        yield abort_succeeded
    recv = sock._recv
    if sock._drained:
        sock._drained = False
        state = sock._state
        io = task._runner.io
        if (
            type(state) is FdState
            and not state.read_ready
            and not state.read_closed
            and state.read_task is None
            and io._states.get(sock._fd) is state
        ):
            fd = sock._fd
            wait = io.wait_owned_readable
            while True:
                yield from wait(fd)
                try:
                    data = recv(bufsize, flags)
                except _BlockingIOError:
                    continue
                if 0 < len(data) < bufsize and sock._stream and not flags:
                    sock._drained = True
                return data
    try:
        data = recv(bufsize, flags)
    except _BlockingIOError:
        pass
    except BaseException:
        yield CHECKPOINT
        raise
    else:
        if 0 < len(data) < bufsize and sock._stream and not flags:
            sock._drained = True
        yield CHECKPOINT
        return data
    io = task._runner.io
    fd = sock._fd
    io.claim(sock, False)
    wait = io.wait_owned_readable
    while True:
        yield from wait(fd)
        try:
            data = recv(bufsize, flags)
        except _BlockingIOError:
            continue
        if 0 < len(data) < bufsize and sock._stream and not flags:
            sock._drained = True
        return data


@types.coroutine
def _send(sock: SocketType, data: Any, flags: int) -> Generator[Any, Any, int]:
    task = GLOBAL_RUN_CONTEXT.task
    if task is None:
        raise no_run_error("socket I/O")
    task._cancel_points += 1
    if task._cancel_status.effectively_cancelled or task._ki_pending:
        yield abort_succeeded
    send = sock._send
    try:
        sent = send(data, flags)
    except _BlockingIOError:
        pass
    except BaseException:
        yield CHECKPOINT
        raise
    else:
        yield CHECKPOINT
        return sent
    io = task._runner.io
    fd = sock._fd
    io.claim(sock, True)
    wait = io.wait_owned_writable
    while True:
        yield from wait(fd)
        try:
            return send(data, flags)
        except _BlockingIOError:
            pass


def _is_fs_path(address: Any) -> bool:
    """An AF_UNIX address naming a file (not abstract, not autobind)."""
    return isinstance(address, (str, bytes)) and address[:1] not in ("", b"", "\0", b"\0")


class SocketType:
    """A lowio socket: a non-blocking ``socket.socket`` with async I/O
    methods (``lowio.socket.SocketType``).  Use the module's ``socket()``,
    ``socketpair()``, ``from_stdlib_socket()`` or ``fromfd()`` to make one.

    Not thread-safe: use it from its run's thread.  Two tasks waiting to
    receive (or to send) at once get ``lowio.BusyResourceError``.
    """

    __slots__ = (
        "__weakref__",
        "_did_shutdown_SHUT_WR",
        "_drained",
        "_fd",
        "_recv",
        "_send",
        "_sock",
        "_state",
        "_stream",
    )

    def __init__(self, sock: _stdlib_socket.socket) -> None:
        if type(sock) is not _stdlib_socket.socket:
            raise TypeError(f"expected object of type 'socket.socket', not '{type(sock).__name__}'")
        sock.setblocking(False)
        self._sock = sock
        self._fd = sock.fileno()
        self._recv = sock.recv
        self._send = sock.send
        self._state: FdState | object = IOManager.UNCLAIMED  # the registration this socket claimed
        self._did_shutdown_SHUT_WR = False
        # a stream socket whose last recv was short has an empty buffer: see _recv
        self._stream = sock.type == _stdlib_socket.SOCK_STREAM
        self._drained = False

    # ---- plain forwarded methods (not checkpoints) ----

    def detach(self) -> int:
        self._fd = -1
        self._state = IOManager.UNCLAIMED
        return self._sock.detach()

    def fileno(self) -> int:
        return self._sock.fileno()

    def getpeername(self) -> Address:
        return self._sock.getpeername()

    def getsockname(self) -> Address:
        return self._sock.getsockname()

    def getsockopt(self, level: int, optname: int, buflen: int | None = None) -> Any:
        if buflen is None:
            return self._sock.getsockopt(level, optname)
        return self._sock.getsockopt(level, optname, buflen)

    def setsockopt(self, level: int, optname: int, value: Any, optlen: int | None = None) -> None:
        if optlen is None:
            if value is None:
                raise TypeError(
                    "invalid value for argument 'value', must not be None when specifying optlen"
                )
            self._sock.setsockopt(level, optname, value)
        else:
            if value is not None:
                raise TypeError(
                    f"invalid value for argument 'value': {value!r}, "
                    "must be None when specifying optlen"
                )
            self._sock.setsockopt(level, optname, value, optlen)

    def listen(self, backlog: int = min(_stdlib_socket.SOMAXCONN, 128)) -> None:
        self._sock.listen(backlog)

    def get_inheritable(self) -> bool:
        return self._sock.get_inheritable()

    def set_inheritable(self, inheritable: bool) -> None:
        self._sock.set_inheritable(inheritable)

    @property
    def family(self) -> _stdlib_socket.AddressFamily:
        return self._sock.family

    @property
    def type(self) -> _stdlib_socket.SocketKind:
        return self._sock.type

    @property
    def proto(self) -> int:
        return self._sock.proto

    @property
    def did_shutdown_SHUT_WR(self) -> bool:
        return self._did_shutdown_SHUT_WR

    def __enter__(self) -> SocketType:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return repr(self._sock).replace("socket.socket", "lowio.socket.socket")

    def dup(self) -> SocketType:
        """A new lowio socket on a ``dup()`` of this one's fd."""
        return SocketType(self._sock.dup())

    def close(self) -> None:
        """Closes the socket; tasks waiting on it (in this run) wake with
        ``ClosedResourceError``.  Closing twice is fine.  Not a checkpoint."""
        if self._sock.fileno() != -1:
            if GLOBAL_RUN_CONTEXT.runner is not None:
                notify_closing(self._sock)
            self._sock.close()
        self._fd = -1
        self._state = IOManager.UNCLAIMED

    def shutdown(self, flag: int) -> None:
        self._sock.shutdown(flag)
        if flag in (_stdlib_socket.SHUT_WR, _stdlib_socket.SHUT_RDWR):
            self._did_shutdown_SHUT_WR = True

    def is_readable(self) -> bool:
        """Whether a receive would not block now (a ``poll(2)`` with no
        timeout).  Not a checkpoint."""
        import select

        p = select.poll()
        p.register(self._sock, select.POLLIN)
        return bool(p.poll(0))

    async def wait_writable(self) -> None:
        """Waits until the socket is writable (``wait_writable``)."""
        await wait_writable(self._sock)

    # ---- addresses ----

    async def _resolve(self, address: Address, *, local: bool) -> Address:
        if self.family == _stdlib_socket.AF_INET6:
            v6only = self._sock.getsockopt(_stdlib_socket.IPPROTO_IPV6, _stdlib_socket.IPV6_V6ONLY)
        else:
            v6only = False
        from ._socket_resolve import resolve_address

        return await resolve_address(
            self.type, self.family, self.proto, bool(v6only), address, local=local
        )

    async def bind(self, address: Address) -> None:
        """Binds to ``address`` (resolved first, in a worker thread if it is
        a name).  A checkpoint.  As in trio, an AF_UNIX filesystem path is
        bound in a worker thread (the path lookup can block)."""
        address = await self._resolve(address, local=True)
        if self._sock.family == _stdlib_socket.AF_UNIX and _is_fs_path(address):
            from . import to_thread

            await to_thread.run_sync(self._sock.bind, address)
            return
        await checkpoint()
        self._sock.bind(address)

    # ---- I/O (all checkpoints) ----

    async def accept(self) -> tuple[SocketType, Address]:
        """Waits for a connection; returns ``(lowio socket, address)``."""
        sock, address = await _owned_io(self, False, self._sock.accept)
        return SocketType(sock), address

    async def connect(self, address: Address) -> None:
        """Connects (non-blocking connect, then ``SO_ERROR``): raises e.g.
        ``ConnectionRefusedError``.  If cancelled, the socket is closed
        (its state would be undefined), as in trio."""
        try:
            address = await self._resolve(address, local=False)
            await checkpoint_if_cancelled()
            try:
                self._sock.connect(address)
            except _BlockingIOError:
                runner = GLOBAL_RUN_CONTEXT.runner
                assert runner is not None
                io = runner.io
                io.claim(self, True)
                await io.wait_owned_writable(self._fd)
            except BaseException:
                await cancel_shielded_checkpoint()  # as trio: a checkpoint, then the error
                raise
            else:
                await cancel_shielded_checkpoint()
                return
        except Cancelled:
            self.close()
            raise
        err = self._sock.getsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_ERROR)
        if err != 0:
            raise OSError(err, f"Error connecting to {address!r}: {os.strerror(err)}")

    def recv(self, bufsize: int, flags: int = 0, /) -> Awaitable[bytes]:
        return _recv(self, bufsize, flags)

    # recv_into / recvfrom_into take keywords, as socket.socket's (and so trio's) do
    def recv_into(
        self, /, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0
    ) -> Awaitable[int]:
        return _owned_io(self, False, self._sock.recv_into, buffer, nbytes, flags)

    def recvfrom(self, bufsize: int, flags: int = 0, /) -> Awaitable[tuple[bytes, Address]]:
        return _owned_io(self, False, self._sock.recvfrom, bufsize, flags)

    def recvfrom_into(
        self, /, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0
    ) -> Awaitable[tuple[int, Address]]:
        return _owned_io(self, False, self._sock.recvfrom_into, buffer, nbytes, flags)

    def recvmsg(
        self, bufsize: int, ancbufsize: int = 0, flags: int = 0, /
    ) -> Awaitable[tuple[bytes, list[tuple[int, int, bytes]], int, Any]]:
        return _owned_io(self, False, self._sock.recvmsg, bufsize, ancbufsize, flags)

    def recvmsg_into(
        self, buffers: Any, ancbufsize: int = 0, flags: int = 0, /
    ) -> Awaitable[tuple[int, list[tuple[int, int, bytes]], int, Any]]:
        return _owned_io(self, False, self._sock.recvmsg_into, buffers, ancbufsize, flags)

    def send(self, data: Buffer, flags: int = 0, /) -> Awaitable[int]:
        return _send(self, data, flags)

    async def sendto(self, data: Buffer, *args: Any) -> int:
        """``sendto(data, address)`` or ``sendto(data, flags, address)``."""
        *flags, address = args
        address = await self._resolve(address, local=False)
        return await _owned_io(self, True, self._sock.sendto, data, *flags, address)

    async def sendmsg(
        self,
        buffers: Any,
        ancdata: Any = (),
        flags: int = 0,
        address: Address | None = None,
        /,
    ) -> int:
        """Like ``socket.sendmsg`` (SCM_RIGHTS etc. in ``ancdata``)."""
        if address is None:
            return await _owned_io(self, True, self._sock.sendmsg, buffers, ancdata, flags)
        address = await self._resolve(address, local=False)
        return await _owned_io(self, True, self._sock.sendmsg, buffers, ancdata, flags, address)
