"""``lowio.open_tcp_stream``: a TCP connection to a host name, made with
"happy eyeballs" (RFC 6555 / RFC 8305).

The resolver's addresses are tried in its order, except that the first
address of the other family (IPv4 after IPv6 or the reverse) moves up to
second place.  One attempt starts; whenever the newest attempt has neither
failed nor succeeded after ``happy_eyeballs_delay`` seconds -- or as soon
as it fails -- the next one starts alongside.  The first attempt to connect
wins: the others are cancelled and every socket but the winner's is
closed, whatever happens (failure, cancellation, an error closing).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import MutableSequence
from typing import Any

from . import socket as lsocket
from ._core import open_nursery
from ._socket import SocketType
from ._socket_stream import SocketStream
from ._sync import Event
from ._timeouts import move_on_after

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup  # type: ignore[import-not-found]

DEFAULT_DELAY = 0.250  # seconds before the next attempt starts alongside

AddrInfo = tuple[Any, Any, int, str, Any]


def reorder_for_rfc_6555_section_5_4(targets: MutableSequence[AddrInfo]) -> None:
    """Moves the first address whose family differs from the first
    address's up to second place, in place (RFC 6555 section 5.4: if the
    preferred family is broken, the second attempt already uses the other)."""
    first_family = targets[0][0] if targets else None
    for i in range(1, len(targets)):
        if targets[i][0] != first_family:
            targets.insert(1, targets.pop(i))
            return


def format_host_port(host: str | bytes, port: int | str) -> str:
    """``host:port``, with an IPv6 host in brackets (``[::1]:80``)."""
    text = host.decode("ascii") if isinstance(host, bytes) else host
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


def _close_all(sockets: set[SocketType]) -> None:
    """Closes every socket, even when closing one raises; the errors are
    then raised (alone, or as a ``BaseExceptionGroup``)."""
    errors: list[BaseException] = []
    for sock in sockets:
        try:
            sock.close()
        except BaseException as exc:
            errors.append(exc)
    sockets.clear()
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise BaseExceptionGroup("errors closing the losing sockets", errors)


async def open_tcp_stream(
    host: str | bytes,
    port: int,
    *,
    happy_eyeballs_delay: float | None = DEFAULT_DELAY,
    local_address: str | None = None,
) -> SocketStream:
    """Connects to ``host`` (a name, an IPv4 or an IPv6 address) on
    ``port`` over TCP and returns the connection as a ``SocketStream``.  A
    checkpoint; cancellable at any point, leaving no socket open.

    Every address the name resolves to is tried, staggered by
    ``happy_eyeballs_delay`` seconds (``None``: the default, 0.25 s; see
    the module docstring).  ``local_address``: bind each attempt's socket
    to that local IP (port 0) first; an attempt whose address family it
    does not fit fails with ``OSError``.

    Raises ``ValueError`` if ``host`` is not ``str``/``bytes``,
    ``TypeError`` if ``port`` is not an int, ``socket.gaierror`` if the
    lookup fails, ``OSError`` if it finds nothing, and when every attempt
    failed ``OSError("all attempts to connect to HOST:PORT failed")`` whose
    ``__cause__`` is an ``ExceptionGroup`` of each attempt's ``OSError``
    (each names the address it tried).
    """
    if not isinstance(host, (str, bytes)):
        raise ValueError(f"host must be str or bytes, not {host!r}")
    if not isinstance(port, int):
        raise TypeError(f"port must be int, not {port!r}")
    delay = DEFAULT_DELAY if happy_eyeballs_delay is None else happy_eyeballs_delay

    targets = await lsocket.getaddrinfo(host, port, type=lsocket.SOCK_STREAM)
    if not targets:
        raise OSError(f"no results found for hostname lookup: {format_host_port(host, port)}")
    reorder_for_rfc_6555_section_5_4(targets)

    failures: list[OSError] = []
    open_sockets: set[SocketType] = set()  # every socket made and not yet handed out
    winner: SocketType | None = None

    async def attempt(family: int, type_: int, proto: int, sockaddr: Any, failed: Event) -> None:
        nonlocal winner
        try:
            sock = lsocket.socket(family, type_, proto)
            open_sockets.add(sock)
            if local_address is not None:
                # a source address without a port: let connect() pick the
                # port, so that many attempts do not exhaust ephemeral ports
                with contextlib.suppress(OSError, AttributeError):
                    sock.setsockopt(lsocket.IPPROTO_IP, lsocket.IP_BIND_ADDRESS_NO_PORT, 1)
                try:
                    await sock.bind((local_address, 0))
                except OSError:
                    raise OSError(
                        f"local_address={local_address!r} is incompatible "
                        f"with remote address {sockaddr!r}"
                    ) from None
            await sock.connect(sockaddr)
        except OSError as exc:
            failures.append(exc)
            failed.set()
            return
        winner = sock
        nursery.cancel_scope.cancel(reason="successfully found a socket")

    try:
        async with open_nursery() as nursery:
            for family, type_, proto, _, sockaddr in targets:
                failed = Event()
                nursery.start_soon(attempt, family, type_, proto, sockaddr, failed)
                # the next attempt starts once this one failed, or after the delay
                with move_on_after(delay):
                    await failed.wait()
        if winner is None:
            message = f"all attempts to connect to {format_host_port(host, port)} failed"
            raise OSError(message) from ExceptionGroup(message, failures)
        stream = SocketStream(winner)
        open_sockets.discard(winner)
        return stream
    finally:
        _close_all(open_sockets)


__all__ = [
    "DEFAULT_DELAY",
    "format_host_port",
    "open_tcp_stream",
    "reorder_for_rfc_6555_section_5_4",
]
