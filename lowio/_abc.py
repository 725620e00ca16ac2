"""The abstract interfaces of lowio's high-level API: resources, byte streams,
listeners and object channels (the public names live in ``lowio.abc``).

They carry trio's names and method contracts, so that code typed against
``trio.abc`` types the same against ``lowio.abc``.  Each class states the
contract every implementation keeps; none of them does I/O itself.
"""

from __future__ import annotations

import abc
import socket as _stdlib_socket
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._core import Clock, EndOfChannel, Instrument

if TYPE_CHECKING:
    from typing_extensions import Self

    from .socket import SocketType

SendType = TypeVar("SendType", contravariant=True)
ReceiveType = TypeVar("ReceiveType", covariant=True)
T = TypeVar("T")
T_resource = TypeVar("T_resource", bound="AsyncResource", covariant=True)


class AsyncResource(abc.ABC):
    """Something that holds a resource until ``aclose`` releases it.

    ``async with resource:`` closes it on the way out, however the block ends.

    The contract of ``aclose`` for every implementation:

    * it is idempotent: closing a closed resource does nothing more (and does
      not raise);
    * it always closes, even when cancelled: a cancelled ``aclose`` may skip
      a graceful goodbye to the peer but still releases the resource before
      ``Cancelled`` propagates;
    * every other method called on a closed resource raises
      ``lowio.ClosedResourceError``.
    """

    __slots__ = ()

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release the resource.  A checkpoint; see the class contract."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class SendStream(AsyncResource):
    """The sending half of a byte stream.

    Only one task may be inside ``send_all`` or
    ``wait_send_all_might_not_block`` at a time: a second one gets
    ``lowio.BusyResourceError``.  A stream whose peer went away raises
    ``lowio.BrokenResourceError``; a closed one ``ClosedResourceError``.
    """

    __slots__ = ()

    @abc.abstractmethod
    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send every byte of ``data``, returning once all are handed to the
        transport (not necessarily delivered).  A checkpoint.

        If cancelled part-way, some of ``data`` may have been sent and the
        stream is left in an unknown state: the only safe thing to do with it
        then is ``aclose``.
        """

    @abc.abstractmethod
    async def wait_send_all_might_not_block(self) -> None:
        """Return when a ``send_all`` call would probably make progress at
        once.  A checkpoint; may return early (a hint, not a promise)."""


class ReceiveStream(AsyncResource):
    """The receiving half of a byte stream.

    Only one task may be inside ``receive_some`` at a time (else
    ``BusyResourceError``).  ``async for chunk in stream`` reads chunks of
    the implementation's default size until end of file.
    """

    __slots__ = ()

    @abc.abstractmethod
    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """Wait until some data is available and return at most ``max_bytes``
        of it (the implementation's default size when ``None``).  Returns an
        empty bytes object only at end of file.  A checkpoint.

        Raises ``ValueError`` for ``max_bytes < 1``.
        """

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes | bytearray:
        data = await self.receive_some()
        if not data:
            raise StopAsyncIteration
        return data


class Stream(SendStream, ReceiveStream):
    """A two-way byte stream: a ``SendStream`` and a ``ReceiveStream`` in one
    object.  One task may send while another receives."""

    __slots__ = ()


class HalfCloseableStream(Stream):
    """A ``Stream`` whose sending side can be closed on its own."""

    __slots__ = ()

    @abc.abstractmethod
    async def send_eof(self) -> None:
        """Tell the peer no more data will be sent; receiving still works.

        Idempotent.  A checkpoint.  Conflicts with a concurrent ``send_all``
        (``BusyResourceError``); after it, ``send_all`` raises
        ``ClosedResourceError``.
        """


class Listener(AsyncResource, Generic[T_resource]):
    """Something that accepts incoming connections, each as a resource
    (usually a ``Stream``)."""

    __slots__ = ()

    @abc.abstractmethod
    async def accept(self) -> T_resource:
        """Wait for and return the next connection.  A checkpoint.

        Raises ``ClosedResourceError`` if the listener is closed (also when it
        is closed by another task during the wait), ``BusyResourceError`` if
        another task is already accepting, and ``OSError`` for a failure the
        caller may want to handle (serve_listeners retries the resource
        shortages among them).
        """


class SendChannel(AsyncResource, Generic[SendType]):
    """The sending end of a channel of Python objects."""

    __slots__ = ()

    @abc.abstractmethod
    async def send(self, value: SendType) -> None:
        """Send ``value``, waiting while the channel is full.  A checkpoint.

        Raises ``BrokenResourceError`` once every receiving end is closed,
        ``ClosedResourceError`` if this end is closed (also while waiting),
        and, for implementations that allow one sender at a time,
        ``BusyResourceError``.
        """


class ReceiveChannel(AsyncResource, Generic[ReceiveType]):
    """The receiving end of a channel of Python objects.

    ``async for value in channel`` receives until ``EndOfChannel``.
    """

    __slots__ = ()

    @abc.abstractmethod
    async def receive(self) -> ReceiveType:
        """Wait for and return the next value.  A checkpoint.

        Raises ``EndOfChannel`` once every sending end is closed and the
        buffer is empty, ``ClosedResourceError`` if this end is closed (also
        while waiting), ``BrokenResourceError`` if the channel broke.
        """

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ReceiveType:
        try:
            return await self.receive()
        except EndOfChannel:
            raise StopAsyncIteration from None


class Channel(SendChannel[T], ReceiveChannel[T]):
    """A two-way channel: both ends in one object."""

    __slots__ = ()


class HostnameResolver(abc.ABC):
    """A custom name resolver for ``lowio.socket``
    (``lowio.socket.set_custom_hostname_resolver``)."""

    __slots__ = ()

    @abc.abstractmethod
    async def getaddrinfo(
        self,
        host: bytes | None,
        port: bytes | str | int | None,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[tuple[Any, Any, int, str, tuple[str, int] | tuple[str, int, int, int]]]:
        """As ``socket.getaddrinfo``, asynchronously.  ``host`` arrives
        already IDNA-encoded; numeric hosts never reach the resolver."""

    @abc.abstractmethod
    async def getnameinfo(
        self, sockaddr: tuple[str, int] | tuple[str, int, int, int], flags: int
    ) -> tuple[str, str]:
        """As ``socket.getnameinfo``, asynchronously."""


class SocketFactory(abc.ABC):
    """A custom maker of sockets for ``lowio.socket.socket``
    (``lowio.socket.set_custom_socket_factory``)."""

    __slots__ = ()

    @abc.abstractmethod
    def socket(
        self,
        family: _stdlib_socket.AddressFamily | int = _stdlib_socket.AF_INET,
        type: _stdlib_socket.SocketKind | int = _stdlib_socket.SOCK_STREAM,
        proto: int = 0,
    ) -> SocketType:
        """Return a new ``lowio.socket.SocketType`` (not a stdlib socket)."""


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
