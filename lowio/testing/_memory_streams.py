"""In-memory byte streams for tests: ``MemorySendStream`` /
``MemoryReceiveStream`` with hooks, ``memory_stream_pump`` and the
``memory_stream_one_way_pair`` / ``memory_stream_pair`` constructors.

The buffers are unbounded: ``send_all`` never waits for the receiver.  Data
moves from a send stream's outgoing buffer to a receive stream's incoming
buffer only when someone calls ``memory_stream_pump`` (the pairs made here
do it from the send stream's hooks, so data flows as soon as it is sent).
"""

from __future__ import annotations

import operator
from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

from .._abc import ReceiveStream, SendStream
from .._core import (
    BrokenResourceError,
    ClosedResourceError,
    ParkingLot,
    WouldBlock,
    checkpoint,
)
from .._stapled_stream import StapledStream
from .._sync import _final
from ._conflict import ConflictDetector

AsyncHook: TypeAlias = Callable[[], Awaitable[object]]
SyncHook: TypeAlias = Callable[[], object]
SendStreamT = TypeVar("SendStreamT", bound=SendStream)
ReceiveStreamT = TypeVar("ReceiveStreamT", bound=ReceiveStream)

__all__ = [
    "MemoryReceiveStream",
    "MemorySendStream",
    "memory_stream_one_way_pair",
    "memory_stream_pair",
    "memory_stream_pump",
]


def check_max_bytes(max_bytes: int | None) -> int | None:
    """``max_bytes`` as an int (``TypeError`` for a non-integer), ``None``
    kept; ``ValueError`` below 1."""
    if max_bytes is None:
        return None
    max_bytes = operator.index(max_bytes)
    if max_bytes < 1:
        raise ValueError("max_bytes must be >= 1")
    return max_bytes


class _ByteQueue:
    """An unbounded byte buffer with one reader at a time.

    ``close()`` is end of file for the reader: ``put`` then raises
    ``ClosedResourceError`` and the getters drain what is left, then return
    an empty ``bytearray``."""

    __slots__ = ("_closed", "_data", "_lot", "_reading")

    def __init__(self) -> None:
        self._data = bytearray()
        self._closed = False
        self._lot = ParkingLot()
        self._reading = ConflictDetector("another task is already fetching data")

    def close(self) -> None:
        self._closed = True
        self._lot.unpark_all()

    def close_and_wipe(self) -> None:
        self._data = bytearray()
        self.close()

    def put(self, data: bytes | bytearray | memoryview) -> None:
        if self._closed:
            raise ClosedResourceError("virtual connection closed")
        self._data += data
        self._lot.unpark_all()

    def _take(self, max_bytes: int | None) -> bytearray:
        data = self._data
        if max_bytes is None or max_bytes >= len(data):
            self._data = bytearray()
            return data
        chunk = data[:max_bytes]
        del data[:max_bytes]
        return chunk

    def get_nowait(self, max_bytes: int | None) -> bytearray:
        with self._reading:
            max_bytes = check_max_bytes(max_bytes)
            if not self._data and not self._closed:
                raise WouldBlock
            return self._take(max_bytes)

    async def get(self, max_bytes: int | None) -> bytearray:
        with self._reading:
            max_bytes = check_max_bytes(max_bytes)
            if self._data or self._closed:
                await checkpoint()
            else:
                # an empty put() wakes the lot too: wait for data or EOF
                while not self._data and not self._closed:
                    await self._lot.park()
            return self._take(max_bytes)


@_final
class MemorySendStream(SendStream):
    """A ``SendStream`` that appends what it is sent to an internal buffer,
    read back with ``get_data`` / ``get_data_nowait``.

    Hooks (constructor arguments and public attributes, changeable at any
    time): ``send_all_hook`` (async, awaited by ``send_all`` after the data
    is buffered), ``wait_send_all_might_not_block_hook`` (async, awaited by
    ``wait_send_all_might_not_block``) and ``close_hook`` (sync, called by
    ``close`` / ``aclose``).  One task at a time may send
    (``BusyResourceError``); after close, sending raises
    ``ClosedResourceError``.
    """

    def __init__(
        self,
        send_all_hook: AsyncHook | None = None,
        wait_send_all_might_not_block_hook: AsyncHook | None = None,
        close_hook: SyncHook | None = None,
    ) -> None:
        self._sending = ConflictDetector("another task is using this stream")
        self._outgoing = _ByteQueue()
        self.send_all_hook = send_all_hook
        self.wait_send_all_might_not_block_hook = wait_send_all_might_not_block_hook
        self.close_hook = close_hook

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Buffers ``data``, then awaits ``send_all_hook``.  A checkpoint
        (two, to give an overlapping call the chance to collide)."""
        with self._sending:
            await checkpoint()
            await checkpoint()
            self._outgoing.put(data)
            if self.send_all_hook is not None:
                await self.send_all_hook()

    async def wait_send_all_might_not_block(self) -> None:
        """Awaits ``wait_send_all_might_not_block_hook``, then returns.  A
        checkpoint; ``ClosedResourceError`` once closed."""
        with self._sending:
            await checkpoint()
            await checkpoint()
            self._outgoing.put(b"")  # raises if closed
            if self.wait_send_all_might_not_block_hook is not None:
                await self.wait_send_all_might_not_block_hook()

    def close(self) -> None:
        """Marks the stream closed (the buffer's reader gets end of file
        after the remaining data), then calls ``close_hook``.  Not a
        checkpoint."""
        self._outgoing.close()
        if self.close_hook is not None:
            self.close_hook()

    async def aclose(self) -> None:
        """``close()``, then a checkpoint."""
        self.close()
        await checkpoint()

    async def get_data(self, max_bytes: int | None = None) -> bytearray:
        """Takes up to ``max_bytes`` (all, if ``None``) from the buffer,
        waiting until there is at least one byte; an empty ``bytearray``
        once the stream is closed and drained.  A checkpoint."""
        return await self._outgoing.get(max_bytes)

    def get_data_nowait(self, max_bytes: int | None = None) -> bytearray:
        """As ``get_data`` without waiting: ``WouldBlock`` if the buffer is
        empty and the stream open.  Not a checkpoint."""
        return self._outgoing.get_nowait(max_bytes)


@_final
class MemoryReceiveStream(ReceiveStream):
    """A ``ReceiveStream`` whose data is fed with ``put_data`` / ``put_eof``.

    Hooks (constructor arguments and attributes): ``receive_some_hook``
    (async, awaited by ``receive_some`` before it reads) and ``close_hook``
    (sync, called by ``close`` / ``aclose``).  One task at a time may
    receive (``BusyResourceError``).
    """

    def __init__(
        self,
        receive_some_hook: AsyncHook | None = None,
        close_hook: SyncHook | None = None,
    ) -> None:
        self._receiving = ConflictDetector("another task is using this stream")
        self._incoming = _ByteQueue()
        self._closed = False
        self.receive_some_hook = receive_some_hook
        self.close_hook = close_hook

    async def receive_some(self, max_bytes: int | None = None) -> bytearray:
        """Awaits ``receive_some_hook``, then returns up to ``max_bytes`` of
        buffered data, waiting for some; ``b""`` after ``put_eof``.  A
        checkpoint.  ``ClosedResourceError`` if this stream is closed (also
        when closed while waiting); ``ValueError`` / ``TypeError`` for a bad
        ``max_bytes``."""
        with self._receiving:
            await checkpoint()
            await checkpoint()
            if self._closed:
                raise ClosedResourceError
            if self.receive_some_hook is not None:
                await self.receive_some_hook()
            data = await self._incoming.get(max_bytes)
            # close() wakes a waiting reader with end of file: tell the two apart
            if self._closed:
                raise ClosedResourceError
            return data

    def close(self) -> None:
        """Drops the buffered data, marks the stream closed and calls
        ``close_hook``.  Not a checkpoint."""
        self._closed = True
        self._incoming.close_and_wipe()
        if self.close_hook is not None:
            self.close_hook()

    async def aclose(self) -> None:
        """``close()``, then a checkpoint."""
        self.close()
        await checkpoint()

    def put_data(self, data: bytes | bytearray | memoryview) -> None:
        """Appends ``data`` to the buffer.  ``ClosedResourceError`` after
        ``put_eof`` or ``close``."""
        self._incoming.put(data)

    def put_eof(self) -> None:
        """Marks end of file after the buffered data."""
        self._incoming.close()


def memory_stream_pump(
    memory_send_stream: MemorySendStream,
    memory_receive_stream: MemoryReceiveStream,
    *,
    max_bytes: int | None = None,
) -> bool:
    """Moves up to ``max_bytes`` (all, if ``None``) from the send stream's
    buffer to the receive stream's; a closed, drained send stream becomes
    end of file on the receive side.  Returns whether anything (data or the
    end of file) moved.  ``BrokenResourceError`` if the receive stream is
    closed.  Not a checkpoint."""
    try:
        data = memory_send_stream.get_data_nowait(max_bytes)
    except WouldBlock:
        return False
    try:
        if data:
            memory_receive_stream.put_data(data)
        else:
            memory_receive_stream.put_eof()
    except ClosedResourceError:
        raise BrokenResourceError("MemoryReceiveStream was closed") from None
    return True


def memory_stream_one_way_pair() -> tuple[MemorySendStream, MemoryReceiveStream]:
    """A connected ``(MemorySendStream, MemoryReceiveStream)`` with unbounded
    buffering: the send stream's ``send_all_hook`` and ``close_hook`` call
    ``memory_stream_pump``, so data (and closing) reach the receive stream
    at once.  Replace the hooks to stall or trickle the flow."""
    send_stream = MemorySendStream()
    receive_stream = MemoryReceiveStream()

    def pump() -> None:
        memory_stream_pump(send_stream, receive_stream)

    async def pump_after_send() -> None:
        pump()

    send_stream.send_all_hook = pump_after_send
    send_stream.close_hook = pump
    return send_stream, receive_stream


def stapled_pair(
    one_way_pair: Callable[[], tuple[SendStreamT, ReceiveStreamT]],
) -> tuple[
    StapledStream[SendStreamT, ReceiveStreamT],
    StapledStream[SendStreamT, ReceiveStreamT],
]:
    """Two ``StapledStream`` s wired crosswise from two one-way pairs."""
    a_to_b_send, a_to_b_receive = one_way_pair()
    b_to_a_send, b_to_a_receive = one_way_pair()
    return (
        StapledStream(a_to_b_send, b_to_a_receive),
        StapledStream(b_to_a_send, a_to_b_receive),
    )


def memory_stream_pair() -> tuple[
    StapledStream[MemorySendStream, MemoryReceiveStream],
    StapledStream[MemorySendStream, MemoryReceiveStream],
]:
    """Two connected two-way streams (``StapledStream`` s of
    ``memory_stream_one_way_pair`` s), an in-process ``socketpair``.  Each
    side's ``send_stream`` / ``receive_stream`` and their hooks are there to
    be rearranged by a test."""
    return stapled_pair(memory_stream_one_way_pair)
