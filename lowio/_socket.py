"""lowio's async sockets (``lowio.socket``), shaped like ``trio.socket``.

Every I/O method is a checkpoint (a cancel point before the system call, a
schedule point after it), and takes the owned fast path
(``lowio._owned_fast_path``, docs/design.md §3.4): a cancel check, the system call, a schedule
point; on EAGAIN the task parks on the fd's persistent edge-triggered
registration with no ``epoll_ctl`` and retries when woken.  ``recv`` on a
TCP socket also follows the fast path's drained rule (after a short read
it waits for the next edge before its system call).

``close()`` calls ``notify_closing`` first, so tasks waiting on the socket
wake with ``ClosedResourceError``; operations on a closed socket raise
``OSError(EBADF)``.
"""

from __future__ import annotations

import os
import socket as _stdlib_socket
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from . import _owned_fast_path as fast
from ._core._exceptions import Cancelled
from ._core._io import UNCLAIMED, FdState
from ._core._local import GLOBAL_RUN_CONTEXT
from ._core._traps import cancel_shielded_checkpoint, checkpoint, checkpoint_if_cancelled
from ._io_waits import notify_closing
from ._sys._sockio import SockIO

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer as Buffer
    from _typeshed import WriteableBuffer

Address = Any

_BlockingIOError = BlockingIOError


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
        "_drain",
        "_fd",
        "_read_extra",
        "_recv",
        "_send",
        "_short_write_full",
        "_sock",
        "_state",
    )

    def __init__(self, sock: _stdlib_socket.socket) -> None:
        if type(sock) is not _stdlib_socket.socket:
            raise TypeError(f"expected object of type 'socket.socket', not '{type(sock).__name__}'")
        sock.setblocking(False)
        self._sock = sock
        self._fd = sock.fileno()
        try:
            io = SockIO(sock)  # recv and send in C, keeping the GIL
        except TypeError:  # a Python whose socket objects it cannot read
            self._recv, self._send = sock.recv, sock.send
        else:
            self._recv, self._send = io.recv, io.send
        self._state: FdState = UNCLAIMED  # the registration this socket claimed
        self._did_shutdown_SHUT_WR = False
        # the owned fast path's rules for this kind of socket
        self._drain, self._read_extra, self._short_write_full = fast.socket_rules(sock)

    # ---- plain forwarded methods (not checkpoints) ----

    def detach(self) -> int:
        """Gives the fd up (returned; the socket is closed to lowio): waits
        on it no longer trust the cache's READY."""
        state = self._state
        state.owned = state.drained = False
        self._fd = -1
        self._state = UNCLAIMED
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
        """``socket.setsockopt``; ``value=None`` needs ``optlen`` (an option of
        that length with no value).
        Setting ``SO_RCVLOWAT`` or ``TCP_ULP`` makes ``recv`` check the
        socket again before it next skips a system call (the fast path's
        drained rule).  Not a checkpoint."""
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
        fast.note_sockopt(self, level, optname)

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
        self._state = UNCLAIMED

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
        """Waits until the socket is writable (``wait_writable``; the
        socket's own registration, so a writable edge lowio saw since the
        last send hit EAGAIN returns at once).  A checkpoint."""
        await fast.wait(self, True)

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
        sock, address = await fast.call(self, False, self._sock.accept)
        return SocketType(sock), address

    async def connect(self, address: Address) -> None:
        """Connects (non-blocking connect, then ``SO_ERROR``): raises e.g.
        ``ConnectionRefusedError``.  If cancelled, the socket is closed
        (its state would be undefined) and ``Cancelled`` propagates."""
        try:
            address = await self._resolve(address, local=False)
            await checkpoint_if_cancelled()
            try:
                self._sock.connect(address)
            except _BlockingIOError:
                await fast.park(self, True)
            except BaseException:
                await cancel_shielded_checkpoint()  # failing is a schedule point too
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

    if TYPE_CHECKING:

        def recv(self, bufsize: int, flags: int = 0, /) -> Awaitable[bytes]: ...

        def send(self, data: Buffer, flags: int = 0, /) -> Awaitable[int]: ...

    else:
        # the fast path's operations themselves (C awaitables), not methods
        # calling them (one Python call less per operation)
        recv = fast.recv_op
        send = fast.send_op

    # recv_into / recvfrom_into take keywords, as socket.socket's (and so trio's) do
    def recv_into(
        self, /, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0
    ) -> Awaitable[int]:
        return fast.call(self, False, self._sock.recv_into, buffer, nbytes, flags)

    def recvfrom(self, bufsize: int, flags: int = 0, /) -> Awaitable[tuple[bytes, Address]]:
        return fast.call(self, False, self._sock.recvfrom, bufsize, flags)

    def recvfrom_into(
        self, /, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0
    ) -> Awaitable[tuple[int, Address]]:
        return fast.call(self, False, self._sock.recvfrom_into, buffer, nbytes, flags)

    def recvmsg(
        self, bufsize: int, ancbufsize: int = 0, flags: int = 0, /
    ) -> Awaitable[tuple[bytes, list[tuple[int, int, bytes]], int, Any]]:
        return fast.call(self, False, self._sock.recvmsg, bufsize, ancbufsize, flags)

    def recvmsg_into(
        self, buffers: Any, ancbufsize: int = 0, flags: int = 0, /
    ) -> Awaitable[tuple[int, list[tuple[int, int, bytes]], int, Any]]:
        return fast.call(self, False, self._sock.recvmsg_into, buffers, ancbufsize, flags)

    async def sendto(self, data: Buffer, *args: Any) -> int:
        """``sendto(data, address)`` or ``sendto(data, flags, address)``."""
        *flags, address = args
        address = await self._resolve(address, local=False)
        return await fast.call(self, True, self._sock.sendto, data, *flags, address)

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
            return await fast.call(self, True, self._sock.sendmsg, buffers, ancdata, flags)
        address = await self._resolve(address, local=False)
        return await fast.call(self, True, self._sock.sendmsg, buffers, ancdata, flags, address)


fast.bind_owner(SocketType)  # the C operations read its slots directly
