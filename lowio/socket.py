"""``lowio.socket``: the async socket module, shaped like ``trio.socket``.

Constructors return ``SocketType`` objects whose I/O methods are async and
checkpoints; name lookups run in worker threads.  The constants, exceptions
and non-blocking helpers of the standard ``socket`` module are re-exported
(``lowio.socket.AF_INET``, ``lowio.socket.gaierror``, ``htons``, ...);
blocking functions such as ``gethostbyname`` are not.
"""

from __future__ import annotations

import socket as _stdlib_socket
from socket import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    AI_NUMERICHOST,
    AI_PASSIVE,
    IPPROTO_IPV6,
    IPPROTO_TCP,
    IPV6_V6ONLY,
    MSG_PEEK,
    SCM_RIGHTS,
    SHUT_RD,
    SHUT_RDWR,
    SHUT_WR,
    SO_ERROR,
    SO_RCVBUF,
    SO_REUSEADDR,
    SO_SNDBUF,
    SOCK_DGRAM,
    SOCK_SEQPACKET,
    SOCK_STREAM,
    SOL_SOCKET,
    SOMAXCONN,
    TCP_NODELAY,
    AddressFamily,
    SocketKind,
    gaierror,
    herror,
    htonl,
    htons,
    inet_aton,
    inet_ntoa,
    inet_ntop,
    inet_pton,
    ntohl,
    ntohs,
)
from typing import Any

from ._socket import SocketType
from ._socket_resolve import getaddrinfo, getnameinfo, getprotobyname

error = OSError
timeout = TimeoutError

_BLOCKING = frozenset(
    {
        "create_connection",
        "create_server",
        "getaddrinfo",
        "getfqdn",
        "gethostbyaddr",
        "gethostbyname",
        "gethostbyname_ex",
        "getnameinfo",
        "getprotobyname",
        "getservbyname",
        "getservbyport",
    }
)


def __getattr__(name: str) -> Any:
    """Other constants and non-blocking helpers of the ``socket`` module."""
    if name not in _BLOCKING and not name.startswith("_") and hasattr(_stdlib_socket, name):
        value = getattr(_stdlib_socket, name)
        if not isinstance(value, type) or issubclass(value, BaseException):
            return value
    raise AttributeError(f"module 'lowio.socket' has no attribute {name!r}")


def from_stdlib_socket(sock: _stdlib_socket.socket) -> SocketType:
    """Wraps a standard ``socket.socket`` (which it makes non-blocking);
    the lowio socket owns it from now on."""
    return SocketType(sock)


def socket(
    family: int = AF_INET, type: int = SOCK_STREAM, proto: int = 0, fileno: int | None = None
) -> SocketType:
    """A new lowio socket, like ``socket.socket`` (``fileno``: wrap that fd,
    sniffing the family/type/proto it really has)."""
    if fileno is not None:
        return fromfd(fileno, family, type, proto, _dup=False)
    return SocketType(_stdlib_socket.socket(family, type, proto))


def socketpair(
    family: int | None = None, type: int = SOCK_STREAM, proto: int = 0
) -> tuple[SocketType, SocketType]:
    """A connected pair of lowio sockets (AF_UNIX by default)."""
    a, b = _stdlib_socket.socketpair(family, type, proto)
    return SocketType(a), SocketType(b)


def fromfd(
    fd: int, family: int = AF_INET, type: int = SOCK_STREAM, proto: int = 0, *, _dup: bool = True
) -> SocketType:
    """A lowio socket on a ``dup()`` of ``fd`` (``socket.fromfd``); the
    family, type and protocol are read from the fd itself."""
    probe = _stdlib_socket.socket(fileno=fd)  # reads SO_DOMAIN/SO_TYPE/SO_PROTOCOL
    try:
        family, type, proto = probe.family, probe.type, probe.proto
    finally:
        probe.detach()
    if _dup:
        return SocketType(_stdlib_socket.fromfd(fd, family, type, proto))
    return SocketType(_stdlib_socket.socket(family, type, proto, fd))


__all__ = [
    "AF_INET",
    "AF_INET6",
    "AF_UNIX",
    "AI_NUMERICHOST",
    "AI_PASSIVE",
    "IPPROTO_IPV6",
    "IPPROTO_TCP",
    "IPV6_V6ONLY",
    "MSG_PEEK",
    "SCM_RIGHTS",
    "SHUT_RD",
    "SHUT_RDWR",
    "SHUT_WR",
    "SOCK_DGRAM",
    "SOCK_SEQPACKET",
    "SOCK_STREAM",
    "SOL_SOCKET",
    "SOMAXCONN",
    "SO_ERROR",
    "SO_RCVBUF",
    "SO_REUSEADDR",
    "SO_SNDBUF",
    "TCP_NODELAY",
    "AddressFamily",
    "SocketKind",
    "SocketType",
    "error",
    "from_stdlib_socket",
    "fromfd",
    "gaierror",
    "getaddrinfo",
    "getnameinfo",
    "getprotobyname",
    "herror",
    "htonl",
    "htons",
    "inet_aton",
    "inet_ntoa",
    "inet_ntop",
    "inet_pton",
    "ntohl",
    "ntohs",
    "socket",
    "socketpair",
    "timeout",
]
