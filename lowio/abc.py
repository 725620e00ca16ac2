"""``lowio.abc``: the abstract interfaces of lowio's high-level API, with the
names and contracts of ``trio.abc`` (streams, listeners, channels, clocks,
instruments, resolvers and socket factories)."""

from ._abc import (
    AsyncResource,
    Channel,
    Clock,
    HalfCloseableStream,
    HostnameResolver,
    Instrument,
    Listener,
    ReceiveChannel,
    ReceiveStream,
    SendChannel,
    SendStream,
    SocketFactory,
    Stream,
)

__all__ = [
    "AsyncResource",
    "Channel",
    "Clock",
    "HalfCloseableStream",
    "HostnameResolver",
    "Instrument",
    "Listener",
    "ReceiveChannel",
    "ReceiveStream",
    "SendChannel",
    "SendStream",
    "SocketFactory",
    "Stream",
]
