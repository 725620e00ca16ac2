"""TLS over TCP in one call: ``open_ssl_over_tcp_stream``,
``open_ssl_over_tcp_listeners`` and ``serve_ssl_over_tcp`` (trio's names),
``SSLStream`` / ``SSLListener`` on top of the TCP helpers."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import NoReturn

from ._core import TASK_STATUS_IGNORED, Nursery, TaskStatus
from ._open_tcp_stream import DEFAULT_DELAY, open_tcp_stream
from ._serve import serve_listeners
from ._socket_stream import SocketStream
from ._ssl import SSLListener, SSLStream
from ._tcp_listeners import open_tcp_listeners


async def open_ssl_over_tcp_stream(
    host: str | bytes,
    port: int,
    *,
    https_compatible: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    happy_eyeballs_delay: float | None = DEFAULT_DELAY,
) -> SSLStream[SocketStream]:
    """A TLS client connection to ``host``:``port``: ``open_tcp_stream``, then
    an ``SSLStream`` whose certificate check and SNI use ``host``.

    ``ssl_context`` defaults to ``ssl.create_default_context()`` (the
    system's trust store, hostname checking on).  The handshake is not done
    here: it runs on first use, or call ``do_handshake()``.  A checkpoint;
    raises what ``open_tcp_stream`` raises.
    """
    tcp_stream = await open_tcp_stream(host, port, happy_eyeballs_delay=happy_eyeballs_delay)
    if ssl_context is None:
        ssl_context = ssl.create_default_context()
    return SSLStream(
        tcp_stream, ssl_context, server_hostname=host, https_compatible=https_compatible
    )


async def open_ssl_over_tcp_listeners(
    port: int,
    ssl_context: ssl.SSLContext,
    *,
    host: str | bytes | None = None,
    https_compatible: bool = False,
    backlog: int | None = None,
) -> list[SSLListener[SocketStream]]:
    """``open_tcp_listeners(port, host=host, backlog=backlog)``, each wrapped
    in an ``SSLListener`` with ``ssl_context``.  A checkpoint; raises what
    ``open_tcp_listeners`` raises."""
    tcp_listeners = await open_tcp_listeners(port, host=host, backlog=backlog)
    return [
        SSLListener(listener, ssl_context, https_compatible=https_compatible)
        for listener in tcp_listeners
    ]


async def serve_ssl_over_tcp(
    handler: Callable[[SSLStream[SocketStream]], Awaitable[object]],
    port: int,
    ssl_context: ssl.SSLContext,
    *,
    host: str | bytes | None = None,
    https_compatible: bool = False,
    backlog: int | None = None,
    handler_nursery: Nursery | None = None,
    task_status: TaskStatus[list[SSLListener[SocketStream]]] = TASK_STATUS_IGNORED,
) -> NoReturn:
    """Serve TLS connections forever: ``open_ssl_over_tcp_listeners``, then
    ``serve_listeners``.  ``task_status.started`` gets the listeners.  Each
    handler gets an ``SSLStream`` whose handshake has not run yet; a client
    that fails it shows up as ``BrokenResourceError`` in that handler only.
    Returns only by raising (cancel it to stop)."""
    listeners = await open_ssl_over_tcp_listeners(
        port, ssl_context, host=host, https_compatible=https_compatible, backlog=backlog
    )
    await serve_listeners(
        handler, listeners, handler_nursery=handler_nursery, task_status=task_status
    )


__all__ = ["open_ssl_over_tcp_listeners", "open_ssl_over_tcp_stream", "serve_ssl_over_tcp"]
