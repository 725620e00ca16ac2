"""Generic stream helpers: ``StapledStream`` (two one-way streams used as
one two-way stream) and ``aclose_forcefully``."""

from __future__ import annotations

from typing import Generic, TypeVar

from ._abc import AsyncResource, HalfCloseableStream, ReceiveStream, SendStream
from ._core import CancelScope
from ._sync import _final

SendStreamT = TypeVar("SendStreamT", bound=SendStream)
ReceiveStreamT = TypeVar("ReceiveStreamT", bound=ReceiveStream)

__all__ = ["StapledStream", "aclose_forcefully"]


async def aclose_forcefully(resource: AsyncResource) -> None:
    """Closes ``resource`` at once, skipping any graceful goodbye.

    Calls ``await resource.aclose()`` inside an already cancelled scope:
    every ``AsyncResource`` promises that a cancelled ``aclose`` still
    releases the resource, so this cannot block (for a correct resource).
    A checkpoint; the scope swallows its own ``Cancelled``, so the caller
    only sees errors ``aclose`` itself raises (or an outer cancellation at
    a later checkpoint).
    """
    with CancelScope() as scope:
        scope.cancel(reason="cancelled during aclose_forcefully")
        await resource.aclose()


@_final
class StapledStream(HalfCloseableStream, Generic[SendStreamT, ReceiveStreamT]):
    """A two-way stream made of a ``SendStream`` and a ``ReceiveStream``.

    ``send_all`` and ``wait_send_all_might_not_block`` go to
    ``send_stream``, ``receive_some`` to ``receive_stream`` (both public,
    reassignable attributes).  Each method is exactly as much a checkpoint,
    and raises what, the stream it forwards to does.
    """

    send_stream: SendStreamT
    receive_stream: ReceiveStreamT

    def __init__(self, send_stream: SendStreamT, receive_stream: ReceiveStreamT) -> None:
        self.send_stream = send_stream
        self.receive_stream = receive_stream

    def __repr__(self) -> str:
        return (
            f"StapledStream(send_stream={self.send_stream!r}, "
            f"receive_stream={self.receive_stream!r})"
        )

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """``await self.send_stream.send_all(data)``."""
        await self.send_stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        """``await self.send_stream.wait_send_all_might_not_block()``."""
        await self.send_stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        """Ends the sending direction: ``send_stream.send_eof()`` if the send
        stream has that method, else ``send_stream.aclose()`` (a one-way
        stream's close is its end of file)."""
        stream = self.send_stream
        send_eof = getattr(stream, "send_eof", None)
        if send_eof is not None:
            await send_eof()
        else:
            await stream.aclose()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """``await self.receive_stream.receive_some(max_bytes)``."""
        return await self.receive_stream.receive_some(max_bytes)

    async def aclose(self) -> None:
        """Closes ``send_stream``, then ``receive_stream``; the second is
        closed even if closing the first raised (an error from the second
        then carries the first as its ``__context__``)."""
        try:
            await self.send_stream.aclose()
        finally:
            await self.receive_stream.aclose()
