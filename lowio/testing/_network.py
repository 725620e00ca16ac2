"""``lowio.testing.open_stream_to_socket_listener``: a client connection
to a ``SocketListener`` in the same test (trio's helper)."""

from __future__ import annotations

from .. import socket as lsocket
from .._socket_stream import SocketListener, SocketStream, connect_stream

# a listener bound to a wildcard address is reached over loopback
_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1"}


async def open_stream_to_socket_listener(socket_listener: SocketListener) -> SocketStream:
    """Connects to the address ``socket_listener`` listens on (a wildcard
    IPv4/IPv6 address is replaced by loopback; an ``AF_UNIX`` path is used
    as it is) and returns the client's ``SocketStream``.  A checkpoint.
    Raises what ``connect`` raises; the socket is closed on failure."""
    listening = socket_listener.socket
    family = listening.family
    sockaddr = listening.getsockname()
    if family in (lsocket.AF_INET, lsocket.AF_INET6):
        host, *rest = sockaddr
        sockaddr = (_LOOPBACK.get(host, host), *rest)
    return await connect_stream(family, sockaddr)


__all__ = ["open_stream_to_socket_listener"]
