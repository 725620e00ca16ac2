"""``lowio.SocketStream`` and ``lowio.SocketListener``: a connected stream
socket as a ``lowio.abc.HalfCloseableStream``, a listening one as a
``lowio.abc.Listener`` of them (trio's classes of the same names).

Both sit on the public methods of ``lowio.socket.SocketType`` -- ``recv``,
``send``, ``accept``, ``shutdown``, ``wait_writable``, ``setsockopt`` /
``getsockopt``, ``close`` -- which already take the owned fast path (the
system call first, a park on the fd's persistent registration only on
EAGAIN).  This module adds the stream contract on top: one sender and one
receiver at a time, socket errors turned into the stream exceptions, and
the defaults trio sets on TCP sockets.

Error mapping (the stream contract of ``lowio.abc``):

* an operation on a closed stream (``EBADF`` / ``ENOTSOCK`` from the
  socket) raises ``ClosedResourceError`` -- so does a task waiting in the
  stream when another task closes it (the socket's ``close`` calls
  ``notify_closing``);
* any other ``OSError`` (``EPIPE``, ``ECONNRESET``, ...) raises
  ``BrokenResourceError`` with the ``OSError`` as its ``__cause__``.
"""

from __future__ import annotations

import contextlib
import errno
import socket as _stdlib_socket
from typing import TYPE_CHECKING, NoReturn, overload

from . import socket as lsocket
from ._abc import HalfCloseableStream, Listener
from ._core._exceptions import BrokenResourceError, BusyResourceError, ClosedResourceError, final
from ._core._traps import checkpoint
from ._socket import SocketType

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

DEFAULT_RECEIVE_SIZE = 65536  # receive_some()'s max_bytes when None

# what the socket layer raises for a socket that has been closed
_CLOSED_ERRNOS = frozenset({errno.EBADF, errno.ENOTSOCK})

# TCP_NOTSENT_LOWAT: writability (wait_send_all_might_not_block) reported
# only while less than this much sent data is still unsent
_NOTSENT_LOWAT = 2**14

_SEND_BUSY = "another task is currently sending data on this SocketStream"
_RECEIVE_BUSY = "another task is currently receiving data on this SocketStream"


def _raise_stream_error(exc: OSError) -> NoReturn:
    """Raises the stream exception for an ``OSError`` of the socket layer:
    ``ClosedResourceError`` for a closed socket, else
    ``BrokenResourceError`` from ``exc``."""
    if exc.errno in _CLOSED_ERRNOS:
        raise ClosedResourceError("this socket was already closed") from None
    raise BrokenResourceError(f"socket connection broken: {exc}") from exc


async def _send_rest(sock: SocketType, view: memoryview, sent: int) -> None:
    """Sends ``view[sent:]``, looping on partial sends (each slice is a
    view, released at once: no copy, no export left behind)."""
    length = view.nbytes
    while sent < length:
        with view[sent:] as rest:
            sent += await sock.send(rest)


def _check_stream_socket(socket: object, who: str) -> None:
    if not isinstance(socket, SocketType):
        raise TypeError(f"{who} requires a lowio socket object, not {type(socket).__name__!r}")
    if socket.type != _stdlib_socket.SOCK_STREAM:
        raise ValueError(f"{who} requires a SOCK_STREAM socket")


@final
class SocketStream(HalfCloseableStream):
    """A ``lowio.abc.HalfCloseableStream`` on a connected ``SOCK_STREAM``
    socket (``lowio.socket.SocketType``), which it owns from now on:
    ``aclose()`` closes it.

    ``TypeError`` if ``socket`` is not a lowio socket, ``ValueError`` if it
    is not a ``SOCK_STREAM`` socket.  On TCP sockets it sets ``TCP_NODELAY``
    and ``TCP_NOTSENT_LOWAT`` (16 KiB); ``setsockopt``
    overrides them.  The wrapped socket is the ``socket`` attribute.

    Use it from its run's thread.  One task may send and another receive at
    the same time; a second concurrent sender (``send_all``,
    ``wait_send_all_might_not_block``, ``send_eof``) or receiver gets
    ``BusyResourceError``.
    """

    __slots__ = ("_receiving", "_sending", "socket")

    socket: SocketType

    def __init__(self, socket: SocketType) -> None:
        _check_stream_socket(socket, "SocketStream")
        self.socket = socket
        self._sending = False
        self._receiving = False
        # a SocketType subclass need not wrap a real socket (tests' fakes):
        # with no family known, try the TCP options anyway
        family = getattr(socket, "family", None)
        if family is None or family in (_stdlib_socket.AF_INET, _stdlib_socket.AF_INET6):
            # an option the kernel refuses is not worth failing the stream for
            with contextlib.suppress(OSError):
                socket.setsockopt(_stdlib_socket.IPPROTO_TCP, _stdlib_socket.TCP_NODELAY, True)
            lowat = getattr(_stdlib_socket, "TCP_NOTSENT_LOWAT", None)
            if lowat is not None:
                with contextlib.suppress(OSError):
                    socket.setsockopt(_stdlib_socket.IPPROTO_TCP, lowat, _NOTSENT_LOWAT)

    # ---- sending ----

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Sends every byte of ``data`` (any contiguous bytes-like object),
        waiting while the socket's send buffer is full; a partial send goes
        on from a ``memoryview`` of the rest (no copy).  A checkpoint.  If
        cancelled part-way, an unknown prefix of ``data`` was sent.

        Raises ``BusyResourceError`` if another task is sending,
        ``ClosedResourceError`` after ``send_eof`` or ``aclose``,
        ``BrokenResourceError`` (from the ``OSError``) if the peer reset
        the connection or another socket error happened.
        """
        if self._sending:
            raise BusyResourceError(_SEND_BUSY)
        sock = self.socket
        if sock.did_shutdown_SHUT_WR:
            raise ClosedResourceError("can't send data after sending EOF")
        self._sending = True
        try:
            if type(data) is bytes and data:
                # the common case: one send() that takes it all, no view made
                sent = await sock.send(data)
                if sent < len(data):
                    with memoryview(data) as view:
                        await _send_rest(sock, view, sent)
            else:
                # other buffers as byte-sized items, so that lengths count bytes
                with memoryview(data) as view, view.cast("B") as octets:
                    if not octets.nbytes:
                        if sock.fileno() == -1:
                            raise ClosedResourceError("this socket was already closed")
                        await checkpoint()
                        return
                    await _send_rest(sock, octets, 0)
        except OSError as exc:
            _raise_stream_error(exc)
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        """Returns when the socket is writable (with ``TCP_NOTSENT_LOWAT``:
        when little sent data is still unsent).  A checkpoint.
        ``BusyResourceError`` if another task is sending,
        ``ClosedResourceError`` if the stream is (or gets) closed."""
        if self._sending:
            raise BusyResourceError(_SEND_BUSY)
        self._sending = True
        try:
            if self.socket.fileno() == -1:
                raise ClosedResourceError("this socket was already closed")
            await self.socket.wait_writable()
        except OSError as exc:
            _raise_stream_error(exc)
        finally:
            self._sending = False

    async def send_eof(self) -> None:
        """Shuts the sending side down (``shutdown(SHUT_WR)``): the peer
        reads end of file, this side can still receive.  Idempotent.  A
        checkpoint (before the shutdown).  ``BusyResourceError`` if a
        ``send_all`` is running, ``ClosedResourceError`` after ``aclose``."""
        if self._sending:
            raise BusyResourceError(_SEND_BUSY)
        self._sending = True
        try:
            await checkpoint()
            sock = self.socket
            if sock.did_shutdown_SHUT_WR:
                return
            try:
                sock.shutdown(_stdlib_socket.SHUT_WR)
            except OSError as exc:
                _raise_stream_error(exc)
        finally:
            self._sending = False

    # ---- receiving ----

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Waits for data and returns between 1 and ``max_bytes`` bytes
        (default ``DEFAULT_RECEIVE_SIZE``, 64 KiB) of it; ``b""`` once the
        peer has sent end of file.  A checkpoint; data is never lost to a
        cancellation.

        Raises ``ValueError`` for ``max_bytes < 1``, ``BusyResourceError``
        if another task is receiving, ``ClosedResourceError`` if the stream
        is (or gets) closed, ``BrokenResourceError`` (from the ``OSError``)
        if the peer reset the connection.
        """
        if self._receiving:
            raise BusyResourceError(_RECEIVE_BUSY)
        if max_bytes is None:
            max_bytes = DEFAULT_RECEIVE_SIZE
        elif max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        self._receiving = True
        try:
            return await self.socket.recv(max_bytes)
        except OSError as exc:
            _raise_stream_error(exc)
        finally:
            self._receiving = False

    # ---- closing ----

    async def aclose(self) -> None:
        """Closes the socket (tasks waiting in the stream wake with
        ``ClosedResourceError``), then a checkpoint; closed even if that
        checkpoint raises ``Cancelled``.  Idempotent."""
        self.socket.close()
        await checkpoint()

    # ---- socket options (not checkpoints) ----

    @overload
    def setsockopt(self, level: int, option: int, value: int | ReadableBuffer) -> None: ...
    @overload
    def setsockopt(self, level: int, option: int, value: None, length: int) -> None: ...
    def setsockopt(
        self, level: int, option: int, value: int | ReadableBuffer | None, length: int | None = None
    ) -> None:
        """``socket.setsockopt`` on the wrapped socket (``value=None`` with
        ``length``: an option without a value; ``TypeError`` otherwise)."""
        self.socket.setsockopt(level, option, value, length)

    @overload
    def getsockopt(self, level: int, option: int) -> int: ...
    @overload
    def getsockopt(self, level: int, option: int, buffersize: int) -> bytes: ...
    def getsockopt(self, level: int, option: int, buffersize: int = 0) -> int | bytes:
        """``socket.getsockopt`` on the wrapped socket (``buffersize``: the
        raw option as bytes)."""
        if buffersize == 0:
            return self.socket.getsockopt(level, option)  # type: ignore[no-any-return]
        return self.socket.getsockopt(level, option, buffersize)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<lowio.SocketStream {self.socket!r}>"


async def connect_stream(family: int, address: object) -> SocketStream:
    """A new ``SOCK_STREAM`` socket of ``family`` connected to ``address``,
    as a ``SocketStream``; the socket is closed if connecting fails or is
    cancelled.  A checkpoint."""
    sock = lsocket.socket(family, _stdlib_socket.SOCK_STREAM)
    try:
        await sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return SocketStream(sock)


# accept() errors about one connection that died before it was accepted
# (and errors Linux passes on from the new socket): skipped,
# and accept() goes on to the next connection
_SKIPPED_ACCEPT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "EPERM",
        "ECONNABORTED",
        "EPROTO",
        "ENETDOWN",
        "ENOPROTOOPT",
        "EHOSTDOWN",
        "ENONET",
        "EHOSTUNREACH",
        "EOPNOTSUPP",
        "ENETUNREACH",
        "ENOSR",
        "ESOCKTNOSUPPORT",
        "EPROTONOSUPPORT",
        "ETIMEDOUT",
        "ECONNRESET",
    )
    if hasattr(errno, name)
)


@final
class SocketListener(Listener[SocketStream]):
    """A ``lowio.abc.Listener`` on a listening ``SOCK_STREAM`` socket,
    which it owns from now on (``aclose()`` closes it); its connections
    are ``SocketStream`` objects.  The socket is the ``socket`` attribute.

    ``TypeError`` if ``socket`` is not a lowio socket, ``ValueError`` if it
    is not a listening ``SOCK_STREAM`` socket.  Use it from its run's
    thread.
    """

    __slots__ = ("socket",)

    socket: SocketType

    def __init__(self, socket: SocketType) -> None:
        _check_stream_socket(socket, "SocketListener")
        try:
            listening = socket.getsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_ACCEPTCONN)
        except OSError:
            pass  # the option is not known for this socket: trust the caller
        else:
            if not listening:
                raise ValueError("SocketListener requires a listening socket")
        self.socket = socket

    async def accept(self) -> SocketStream:
        """Waits for the next connection and returns it as a
        ``SocketStream``.  A checkpoint.

        Connections that failed before they were accepted (``ECONNABORTED``
        and the like) are skipped.  Raises ``ClosedResourceError`` if the
        listener is closed, also by another task during the wait;
        ``BusyResourceError`` if another task is accepting; any other
        ``OSError`` as it is -- resource exhaustion (``EMFILE``,
        ``ENFILE``, ``ENOBUFS``, ``ENOMEM``) included: ``serve_listeners``
        retries those.
        """
        accept = self.socket.accept
        while True:
            try:
                sock, _ = await accept()
            except OSError as exc:
                if exc.errno in _CLOSED_ERRNOS:
                    raise ClosedResourceError("this listener was already closed") from None
                if exc.errno not in _SKIPPED_ACCEPT_ERRNOS:
                    raise
            else:
                return SocketStream(sock)

    async def aclose(self) -> None:
        """Closes the listening socket (a task in ``accept`` wakes with
        ``ClosedResourceError``), then a checkpoint.  Idempotent."""
        self.socket.close()
        await checkpoint()

    def __repr__(self) -> str:
        return f"<lowio.SocketListener {self.socket!r}>"


__all__ = ["DEFAULT_RECEIVE_SIZE", "SocketListener", "SocketStream"]
