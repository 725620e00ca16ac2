"""``lowio.open_tcp_listeners`` and ``lowio.serve_tcp``: listening TCP
sockets on every local address a host resolves to (trio's functions)."""

from __future__ import annotations

import errno
import sys
from collections.abc import Awaitable, Callable

from . import socket as lsocket
from ._core import TASK_STATUS_IGNORED, Nursery, TaskStatus
from ._serve import serve_listeners
from ._socket_stream import SocketListener, SocketStream

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup  # type: ignore[import-not-found]

_MAX_BACKLOG = 0xFFFF  # the kernel caps it at net.core.somaxconn anyway


def _backlog(backlog: int | None) -> int:
    if backlog is None:
        return _MAX_BACKLOG
    if not isinstance(backlog, int):
        raise TypeError(f"backlog must be an int or None, not {backlog!r}")
    return min(backlog, _MAX_BACKLOG)


async def open_tcp_listeners(
    port: int, *, host: str | bytes | None = None, backlog: int | None = None
) -> list[SocketListener]:
    """Listening sockets for ``port`` on every address ``host`` resolves to
    (``None``: every local address, IPv4 and IPv6 where the system has
    them), one ``SocketListener`` each.  ``port=0``: the kernel picks a
    free port, per listener (read it from ``listener.socket.getsockname()``).
    ``backlog``: ``listen()``'s queue length (default: as long as the
    kernel allows).  A checkpoint.

    Each socket gets ``SO_REUSEADDR``, and IPv6 ones ``IPV6_V6ONLY`` (so the
    IPv4 and IPv6 listeners on one port do not collide).  On failure every
    socket made so far is closed.

    Raises ``TypeError`` for a ``port`` or ``backlog`` that is not an int,
    ``socket.gaierror`` if the lookup fails, ``OSError`` from ``bind`` (e.g.
    ``EADDRINUSE``), and ``OSError(EAFNOSUPPORT)`` if the system supports
    none of the address families found.
    """
    if not isinstance(port, int):
        raise TypeError(f"port must be an int not {port!r}")
    queue = _backlog(backlog)
    addresses = await lsocket.getaddrinfo(
        host, port, type=lsocket.SOCK_STREAM, flags=lsocket.AI_PASSIVE
    )
    listeners: list[SocketListener] = []
    unsupported: list[OSError] = []
    try:
        for family, type_, proto, _, sockaddr in addresses:
            try:
                sock = lsocket.socket(family, type_, proto)
            except OSError as exc:
                if exc.errno != errno.EAFNOSUPPORT:
                    raise
                unsupported.append(exc)  # e.g. IPv6 compiled out: use the others
                continue
            try:
                sock.setsockopt(lsocket.SOL_SOCKET, lsocket.SO_REUSEADDR, 1)
                if family == lsocket.AF_INET6:
                    sock.setsockopt(lsocket.IPPROTO_IPV6, lsocket.IPV6_V6ONLY, 1)
                await sock.bind(sockaddr)
                sock.listen(queue)
                listeners.append(SocketListener(sock))
            except BaseException:
                sock.close()
                raise
    except BaseException:
        for listener in listeners:
            listener.socket.close()
        raise
    if unsupported and not listeners:
        message = (
            "This system doesn't support any of the kinds of socket that that address could use"
        )
        raise OSError(errno.EAFNOSUPPORT, message) from ExceptionGroup(message, unsupported)
    return listeners


async def serve_tcp(
    handler: Callable[[SocketStream], Awaitable[object]],
    port: int,
    *,
    host: str | bytes | None = None,
    backlog: int | None = None,
    handler_nursery: Nursery | None = None,
    task_status: TaskStatus[list[SocketListener]] = TASK_STATUS_IGNORED,
) -> None:
    """``open_tcp_listeners(port, host=host, backlog=backlog)``, then
    ``serve_listeners(handler, listeners, ...)`` on them: serves TCP
    connections forever (cancel it to stop).  With ``nursery.start``,
    ``task_status.started`` gets the listeners (so ``port=0`` callers learn
    the port).  Raises what those two raise."""
    listeners = await open_tcp_listeners(port, host=host, backlog=backlog)
    await serve_listeners(
        handler, listeners, handler_nursery=handler_nursery, task_status=task_status
    )


__all__ = ["open_tcp_listeners", "serve_tcp"]
