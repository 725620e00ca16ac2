"""``lowio.open_unix_socket``: a connection to a UNIX-domain stream socket
(trio's function)."""

from __future__ import annotations

import os

from . import socket as lsocket
from ._socket_stream import SocketStream, connect_stream


async def open_unix_socket(
    filename: str | bytes | os.PathLike[str] | os.PathLike[bytes],
) -> SocketStream:
    """Connects to the ``AF_UNIX`` stream socket bound at ``filename`` and
    returns the connection as a ``SocketStream``.  A checkpoint; if it
    fails or is cancelled the socket is closed.

    Raises ``TypeError`` for a ``filename`` that is no path,
    ``FileNotFoundError`` if nothing is bound there,
    ``ConnectionRefusedError`` if nobody listens on it, other ``OSError``
    as ``connect`` gives them.
    """
    return await connect_stream(lsocket.AF_UNIX, os.fspath(filename))


__all__ = ["open_unix_socket"]
