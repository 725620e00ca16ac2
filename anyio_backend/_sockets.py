"""anyio's sockets on lowio -- TCP and UNIX streams and listeners, UDP and
UNIX datagram sockets (connected and not) -- and the backend's networking
entry points (``connect_tcp``, ``create_tcp_listener``,
``create_udp_socket``, ``getaddrinfo``, ``wrap_*_socket``, ...).

Each object holds a ``lowio.socket.SocketType``, so its I/O takes lowio's
owned fast path (docs/design.md §3.4, through ``lowio._internal_api``): a cancel check, the
system call on the non-blocking socket, a schedule point if it succeeded;
on EAGAIN (or a short write) the task parks on the fd's persistent
edge-triggered registration with no ``epoll_ctl`` and retries when woken.  Every
``receive`` / ``send`` / ``accept`` is therefore a checkpoint.  A datagram
``send`` returns once the kernel has taken the datagram (it waits while the
send buffer is full; cancelled meanwhile, the datagram is not sent).

Errors are anyio's, as on its trio backend: ``ClosedResourceError`` for
an object closed by this side (also when another task closes it while
this one waits), ``BrokenResourceError`` (with the ``OSError`` as its
cause) for a reset, a broken pipe or another OS error, ``EndOfStream``
once the peer has sent EOF, ``BusyResourceError`` for a second task
receiving (or sending, or accepting) at once.
"""

from __future__ import annotations

import array
import socket
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from io import IOBase
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from anyio import BrokenResourceError, BusyResourceError, ClosedResourceError, EndOfStream, abc
from anyio._core._sockets import convert_ipv6_sockaddr
from anyio.abc import IPSockAddrType, UDPPacketType, UNIXDatagramPacketType

from lowio import BusyResourceError as LowioBusyResourceError
from lowio import ClosedResourceError as LowioClosedResourceError
from lowio import _internal_api as lowio_api
from lowio.lowlevel import cancel_shielded_checkpoint, checkpoint, checkpoint_if_cancelled
from lowio.socket import SocketType
from lowio.socket import getaddrinfo as _lowio_getaddrinfo
from lowio.socket import getnameinfo as _lowio_getnameinfo
from lowio.socket import socket as _lowio_socket

if TYPE_CHECKING:
    from collections.abc import Sequence

_FD_SIZE = array.array("i").itemsize
_RECEIVE_SIZE = 65536  # what one receive asks for by default (anyio's)
_ERRORS = (OSError, LowioClosedResourceError, LowioBusyResourceError)  # what _convert maps


@contextmanager
def _closed_on_error(sock: SocketType) -> Iterator[None]:
    """Closes ``sock`` if the block fails or is cancelled (then re-raises)."""
    try:
        yield
    except BaseException:
        sock.close()
        raise


# ---- shared plumbing ----


class _LowioSocketMixin:
    """Holds the lowio socket; ``aclose()`` and the error mapping."""

    def __init__(self, lowio_socket: SocketType) -> None:
        self._lowio_socket = lowio_socket
        self.__raw_socket = lowio_api.stdlib_socket(lowio_socket)
        self._closed = False

    @property
    def _raw_socket(self) -> socket.socket:
        return self.__raw_socket

    async def aclose(self) -> None:
        """Closes the socket (tasks waiting on it get ``ClosedResourceError``),
        then a checkpoint: in a cancelled scope the socket is closed and the
        cancellation raised."""
        self._closed = True
        self._lowio_socket.close()  # notify_closing, then close
        await checkpoint()

    def _convert(self, exc: BaseException, action: str) -> NoReturn:
        """Re-raises a lowio or OS error of an I/O call as anyio's."""
        if isinstance(exc, LowioClosedResourceError):
            raise ClosedResourceError from exc
        if self._closed:
            raise ClosedResourceError from None
        if isinstance(exc, LowioBusyResourceError):
            raise BusyResourceError(action) from None
        if isinstance(exc, OSError):
            raise BrokenResourceError from exc
        raise exc


# ---- streams ----


class SocketStream(_LowioSocketMixin, abc.SocketStream):
    """A TCP (or other stream socket) connection."""

    def __init__(self, lowio_socket: SocketType) -> None:
        super().__init__(lowio_socket)
        self._receiving = False
        self._sending = False

    async def receive(self, max_bytes: int = _RECEIVE_SIZE) -> bytes:
        if max_bytes < 1:
            raise ValueError("max_bytes must be a positive integer")
        if self._receiving:
            raise BusyResourceError("reading from")
        self._receiving = True
        try:
            data = await lowio_api.recv(self._lowio_socket, max_bytes, 0)
        except _ERRORS as exc:
            self._convert(exc, "reading from")
        finally:
            self._receiving = False
        if data:
            return data
        raise EndOfStream

    async def __anext__(self) -> bytes:
        # receive() inlined: the hot loop of ``async for chunk in stream``
        if self._receiving:
            raise BusyResourceError("reading from")
        self._receiving = True
        try:
            data = await lowio_api.recv(self._lowio_socket, _RECEIVE_SIZE, 0)
        except _ERRORS as exc:
            self._convert(exc, "reading from")
        finally:
            self._receiving = False
        if data:
            return data
        raise StopAsyncIteration

    async def send(self, item: bytes) -> None:
        if self._sending:
            raise BusyResourceError("writing to")
        sock = self._lowio_socket
        if (
            type(item) is bytes
            and not item
            and not sock.did_shutdown_SHUT_WR
            and sock.fileno() != -1
        ):
            # Nothing to write (HTTP servers send an empty end of message):
            # the checkpoint without the system call, as trio and asyncio
            # skip it.  A connection error the kernel holds is then left
            # for the next receive or non-empty send to report.
            self._sending = True
            try:
                await checkpoint_if_cancelled()
                await cancel_shielded_checkpoint()
            finally:
                self._sending = False
            return
        self._sending = True
        try:
            await lowio_api.send_all(sock, item)
        except _ERRORS as exc:
            self._convert(exc, "writing to")
        finally:
            self._sending = False

    async def send_eof(self) -> None:
        """Shuts the sending direction down (the peer sees EOF); does nothing
        the second time.  ``ClosedResourceError`` once the stream is closed,
        ``BrokenResourceError`` if the connection is gone.  Not a
        checkpoint (as on anyio's built-in backends)."""
        if self._closed:
            raise ClosedResourceError
        sock = self._lowio_socket
        if sock.did_shutdown_SHUT_WR:
            return
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            self._convert(exc, "writing to")


class UNIXSocketStream(SocketStream, abc.UNIXSocketStream):
    """A UNIX stream (or seqpacket) connection; can pass file descriptors."""

    async def receive_fds(self, msglen: int, maxfds: int) -> tuple[bytes, list[int]]:
        if not isinstance(msglen, int) or msglen < 0:
            raise ValueError("msglen must be a non-negative integer")
        if not isinstance(maxfds, int) or maxfds < 1:
            raise ValueError("maxfds must be a positive integer")
        if self._receiving:
            raise BusyResourceError("reading from")
        self._receiving = True
        sock = self._lowio_socket
        try:
            message, ancdata, _flags, _addr = await sock.recvmsg(
                msglen, socket.CMSG_LEN(maxfds * _FD_SIZE)
            )
        except _ERRORS as exc:
            self._convert(exc, "reading from")
        finally:
            self._receiving = False
        if not message and not ancdata:
            raise EndOfStream
        fds = array.array("i")
        for cmsg_level, cmsg_type, cmsg_data in ancdata:
            if cmsg_level != socket.SOL_SOCKET or cmsg_type != socket.SCM_RIGHTS:
                raise RuntimeError(
                    f"Received unexpected ancillary data; message = {message!r}, "
                    f"cmsg_level = {cmsg_level}, cmsg_type = {cmsg_type}"
                )
            fds.frombytes(cmsg_data[: len(cmsg_data) - (len(cmsg_data) % _FD_SIZE)])
        return message, list(fds)

    async def send_fds(self, message: bytes, fds: Collection[int | IOBase]) -> None:
        if not message:
            raise ValueError("message must not be empty")
        if not fds:
            raise ValueError("fds must not be empty")
        filenos: list[int] = []
        for fd in fds:
            if isinstance(fd, int):
                filenos.append(fd)
            elif isinstance(fd, IOBase):
                filenos.append(fd.fileno())
        ancdata: list[Any] = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", filenos))]
        if self._sending:
            raise BusyResourceError("writing to")
        self._sending = True
        sock = self._lowio_socket
        view = memoryview(message)
        try:
            while view:
                sent = await sock.sendmsg([view], ancdata)
                view = view[sent:]
                ancdata = []  # the descriptors went with the first successful write
        except _ERRORS as exc:
            self._convert(exc, "writing to")
        finally:
            self._sending = False


# ---- listeners ----


class _SocketListener(_LowioSocketMixin, abc.SocketListener):
    """What the TCP and UNIX listeners share."""

    def __init__(self, raw_socket: socket.socket) -> None:
        super().__init__(SocketType(raw_socket))
        self._accepting = False

    async def _accept(self) -> SocketType:
        if self._accepting:
            raise BusyResourceError("accepting connections from")
        self._accepting = True
        try:
            sock, _addr = await self._lowio_socket.accept()
        except _ERRORS as exc:
            self._convert(exc, "accepting connections from")
        finally:
            self._accepting = False
        return sock


class TCPSocketListener(_SocketListener):
    """Accepts TCP connections (``TCP_NODELAY`` set on each)."""

    async def accept(self) -> SocketStream:
        sock = await self._accept()
        with _closed_on_error(sock):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return SocketStream(sock)


class UNIXSocketListener(_SocketListener):
    """Accepts UNIX stream connections."""

    async def accept(self) -> UNIXSocketStream:
        return UNIXSocketStream(await self._accept())


# ---- datagram sockets ----


class _DatagramMixin(_LowioSocketMixin):
    """The receive / send guards and the shared calls."""

    def __init__(self, lowio_socket: SocketType) -> None:
        super().__init__(lowio_socket)
        self._receiving = False
        self._sending = False

    async def _recvfrom(self) -> tuple[bytes, object]:
        if self._receiving:
            raise BusyResourceError("reading from")
        self._receiving = True
        try:
            return await self._lowio_socket.recvfrom(_RECEIVE_SIZE)
        except _ERRORS as exc:
            self._convert(exc, "reading from")
        finally:
            self._receiving = False

    async def _receive_bytes(self) -> bytes:
        if self._receiving:
            raise BusyResourceError("reading from")
        self._receiving = True
        try:
            return await lowio_api.recv(self._lowio_socket, _RECEIVE_SIZE, 0)
        except _ERRORS as exc:
            self._convert(exc, "reading from")
        finally:
            self._receiving = False

    async def _sendto(self, data: bytes, address: object) -> None:
        if self._sending:
            raise BusyResourceError("writing to")
        self._sending = True
        try:
            await self._lowio_socket.sendto(data, address)
        except _ERRORS as exc:
            self._convert(exc, "writing to")
        finally:
            self._sending = False

    async def _send_bytes(self, data: bytes) -> None:
        if self._sending:
            raise BusyResourceError("writing to")
        self._sending = True
        try:
            await lowio_api.send(self._lowio_socket, data, 0)
        except _ERRORS as exc:
            self._convert(exc, "writing to")
        finally:
            self._sending = False


class UDPSocket(_DatagramMixin, abc.UDPSocket):
    """An unconnected UDP socket: ``(data, (host, port))`` packets."""

    async def receive(self) -> tuple[bytes, IPSockAddrType]:
        data, address = await self._recvfrom()
        return data, convert_ipv6_sockaddr(address)  # type: ignore[arg-type]

    async def send(self, item: UDPPacketType) -> None:
        data, address = item
        await self._sendto(data, address)


class _ConnectedDatagramMixin(_DatagramMixin):
    """A datagram socket connected to one peer: ``bytes`` packets."""

    async def receive(self) -> bytes:
        return await self._receive_bytes()

    async def send(self, item: bytes) -> None:
        await self._send_bytes(item)


class ConnectedUDPSocket(_ConnectedDatagramMixin, abc.ConnectedUDPSocket):
    """A UDP socket connected to one peer: ``bytes`` packets."""


class UNIXDatagramSocket(_DatagramMixin, abc.UNIXDatagramSocket):
    """An unconnected UNIX datagram socket: ``(data, path)`` packets."""

    async def receive(self) -> UNIXDatagramPacketType:
        data, address = await self._recvfrom()
        return data, address  # type: ignore[return-value]

    async def send(self, item: UNIXDatagramPacketType) -> None:
        data, path = item
        await self._sendto(data, path)


class ConnectedUNIXDatagramSocket(_ConnectedDatagramMixin, abc.ConnectedUNIXDatagramSocket):
    """A UNIX datagram socket connected to one peer: ``bytes`` packets."""


# ---- the backend's entry points for datagrams ----


async def create_udp_socket(
    family: socket.AddressFamily,
    local_address: IPSockAddrType | None,
    remote_address: IPSockAddrType | None,
    reuse_port: bool,
) -> UDPSocket | ConnectedUDPSocket:
    sock = _lowio_socket(family, socket.SOCK_DGRAM)
    with _closed_on_error(sock):
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if local_address:
            await sock.bind(local_address)
        if remote_address:
            await sock.connect(remote_address)
            return ConnectedUDPSocket(sock)
        return UDPSocket(sock)


async def create_unix_datagram_socket(
    raw_socket: socket.socket, remote_path: str | bytes | None
) -> UNIXDatagramSocket | ConnectedUNIXDatagramSocket:
    """Wraps ``raw_socket`` (bound by anyio if asked), connected to
    ``remote_path`` if given; the socket is closed if connecting fails."""
    sock = SocketType(raw_socket)
    if not remote_path:
        return UNIXDatagramSocket(sock)
    with _closed_on_error(sock):
        await sock.connect(remote_path)
    return ConnectedUNIXDatagramSocket(sock)


async def wrap_udp_socket(sock: socket.socket) -> UDPSocket:
    return UDPSocket(SocketType(sock))


async def wrap_connected_udp_socket(sock: socket.socket) -> ConnectedUDPSocket:
    return ConnectedUDPSocket(SocketType(sock))


async def wrap_unix_datagram_socket(sock: socket.socket) -> UNIXDatagramSocket:
    return UNIXDatagramSocket(SocketType(sock))


async def wrap_connected_unix_datagram_socket(sock: socket.socket) -> ConnectedUNIXDatagramSocket:
    return ConnectedUNIXDatagramSocket(SocketType(sock))


# ---- the backend's entry points ----


async def connect_tcp(
    host: str, port: int, local_address: IPSockAddrType | None = None
) -> SocketStream:
    """One TCP connection attempt to a numeric ``host`` (anyio's
    ``connect_tcp`` does the name resolution and happy eyeballs); the
    socket is closed if it fails or is cancelled."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = _lowio_socket(family)
    with _closed_on_error(sock):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if local_address:
            await sock.bind(local_address)
        await sock.connect((host, port))
    return SocketStream(sock)


async def connect_unix(
    path: str | bytes,
    kind: Literal[socket.SocketKind.SOCK_STREAM, socket.SocketKind.SOCK_SEQPACKET] = (
        socket.SOCK_STREAM
    ),
) -> UNIXSocketStream:
    sock = _lowio_socket(socket.AF_UNIX, kind)
    with _closed_on_error(sock):
        await sock.connect(path)
    return UNIXSocketStream(sock)


def create_tcp_listener(sock: socket.socket) -> abc.SocketListener:
    return TCPSocketListener(sock)


def create_unix_listener(sock: socket.socket) -> abc.SocketListener:
    return UNIXSocketListener(sock)


async def getaddrinfo(
    host: bytes | str | None,
    port: str | int | None,
    *,
    family: int | socket.AddressFamily = 0,
    type: int | socket.SocketKind = 0,
    proto: int = 0,
    flags: int = 0,
) -> Sequence[
    tuple[
        socket.AddressFamily,
        socket.SocketKind,
        int,
        str,
        tuple[str, int] | tuple[str, int, int, int] | tuple[int, bytes],
    ]
]:
    return await _lowio_getaddrinfo(host, port, family, type, proto, flags)


async def getnameinfo(sockaddr: IPSockAddrType, flags: int = 0) -> tuple[str, str]:
    return await _lowio_getnameinfo(sockaddr, flags)


async def wrap_listener_socket(sock: socket.socket) -> abc.SocketListener:
    if sock.family == socket.AF_UNIX:
        return UNIXSocketListener(sock)
    return TCPSocketListener(sock)


async def wrap_stream_socket(sock: socket.socket) -> SocketStream:
    return SocketStream(SocketType(sock))


async def wrap_unix_stream_socket(sock: socket.socket) -> UNIXSocketStream:
    return UNIXSocketStream(SocketType(sock))


__all__ = [
    "ConnectedUDPSocket",
    "ConnectedUNIXDatagramSocket",
    "SocketStream",
    "TCPSocketListener",
    "UDPSocket",
    "UNIXDatagramSocket",
    "UNIXSocketListener",
    "UNIXSocketStream",
    "connect_tcp",
    "connect_unix",
    "create_tcp_listener",
    "create_udp_socket",
    "create_unix_datagram_socket",
    "create_unix_listener",
    "getaddrinfo",
    "getnameinfo",
    "wrap_connected_udp_socket",
    "wrap_connected_unix_datagram_socket",
    "wrap_listener_socket",
    "wrap_stream_socket",
    "wrap_udp_socket",
    "wrap_unix_datagram_socket",
    "wrap_unix_stream_socket",
]
