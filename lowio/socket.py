"""``lowio.socket``: the async socket module, shaped like ``trio.socket``.

Constructors return ``SocketType`` objects whose I/O methods are async and
checkpoints; name lookups run in worker threads.  As in ``trio.socket``,
the upper-case constants of the standard ``socket`` module (the ones this
Python has: ``lowio.socket.AF_INET``, ``SO_REUSEPORT``, ...) and its
exceptions and non-blocking helpers (``gaierror``, ``htons``,
``inet_pton``, ...) are re-exported; blocking functions such as
``gethostbyname`` or ``create_connection`` are not.  A few aliases trio does
not have are kept for convenience: ``error``, ``timeout``, ``ntohl``,
``AddressFamily``, ``SocketKind``.
"""

from __future__ import annotations

import socket as _stdlib_socket
import sys as _sys
from contextlib import suppress as _suppress
from operator import index as _index
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any
from typing import SupportsIndex as _SupportsIndex

# Every upper-case constant of this Python's socket module (which ones
# exist depends on the platform and the Python version).
globals().update(
    {_name: getattr(_stdlib_socket, _name) for _name in _stdlib_socket.__all__ if _name.isupper()}
)
if not hasattr(_stdlib_socket, "IP_BIND_ADDRESS_NO_PORT") and _sys.platform == "linux":
    IP_BIND_ADDRESS_NO_PORT = 24  # Linux's value; older Pythons lack the name

from socket import (  # noqa: E402
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
    gethostname,
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

with _suppress(ImportError):
    from socket import if_indextoname as if_indextoname
    from socket import if_nameindex as if_nameindex
    from socket import if_nametoindex as if_nametoindex
with _suppress(ImportError):
    from socket import sethostname as sethostname

from ._socket import SocketType  # noqa: E402
from ._socket_resolve import (  # noqa: E402
    current_socket_factory as _current_socket_factory,
)
from ._socket_resolve import (  # noqa: E402
    getaddrinfo,
    getnameinfo,
    getprotobyname,
    set_custom_hostname_resolver,
    set_custom_socket_factory,
)

error = OSError
timeout = TimeoutError

if _TYPE_CHECKING:
    # the constants re-exported above by name are invisible to type
    # checkers; at run time a name this module lacks is an AttributeError
    def __getattr__(name: str) -> _Any: ...


def from_stdlib_socket(sock: _stdlib_socket.socket) -> SocketType:
    """Wraps a standard ``socket.socket`` (which it makes non-blocking);
    the lowio socket owns it from now on.  ``TypeError`` for anything
    else, including subclasses such as ``ssl.SSLSocket``."""
    return SocketType(sock)


def socket(
    family: int = AF_INET, type: int = SOCK_STREAM, proto: int = 0, fileno: int | None = None
) -> SocketType:
    """A new lowio socket, like ``socket.socket`` (``fileno``: wrap that fd,
    sniffing the family/type/proto it really has).  Inside a run, a factory
    set with ``set_custom_socket_factory`` makes it (unless ``fileno``)."""
    if fileno is not None:
        family, type, proto = _sniff(fileno)
        return SocketType(_stdlib_socket.socket(family, type, proto, fileno))
    factory = _current_socket_factory()
    if factory is not None:
        return factory.socket(family, type, proto)  # type: ignore[no-any-return]
    return SocketType(_stdlib_socket.socket(family, type, proto))


def socketpair(
    family: int | None = None, type: int = SOCK_STREAM, proto: int = 0
) -> tuple[SocketType, SocketType]:
    """A connected pair of lowio sockets (AF_UNIX by default)."""
    a, b = _stdlib_socket.socketpair(family, type, proto)
    return SocketType(a), SocketType(b)


def fromfd(
    fd: _SupportsIndex, family: int = AF_INET, type: int = SOCK_STREAM, proto: int = 0
) -> SocketType:
    """A lowio socket on a ``dup()`` of ``fd`` (``socket.fromfd``); the
    family, type and protocol are read from the fd itself (the arguments
    are ignored on Linux: the fd's own values win)."""
    fd = _index(fd)
    family, type, proto = _sniff(fd)
    return SocketType(_stdlib_socket.fromfd(fd, family, type, proto))


def _sniff(fd: int) -> tuple[int, int, int]:
    """The family, type and protocol of the socket ``fd`` (``OSError``
    if it is no socket)."""
    probe = _stdlib_socket.socket(fileno=fd)  # reads SO_DOMAIN/SO_TYPE/SO_PROTOCOL
    try:
        return probe.family, probe.type, probe.proto
    finally:
        probe.detach()


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
    "gethostname",
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
    "set_custom_hostname_resolver",
    "set_custom_socket_factory",
    "socket",
    "socketpair",
    "timeout",
]
# ``from lowio.socket import *`` brings every constant too
__all__ += [_n for _n in dict(globals()) if _n.isupper() and _n not in __all__]
__all__ += [
    _n
    for _n in ("if_indextoname", "if_nameindex", "if_nametoindex", "sethostname")
    if _n in globals()
]
