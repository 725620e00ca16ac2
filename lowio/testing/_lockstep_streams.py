"""Lockstep byte streams for tests: no buffering at all, so ``send_all``
returns only once a ``receive_some`` has taken every byte it was given
(``lockstep_stream_one_way_pair`` / ``lockstep_stream_pair``).  Useful for
testing flow control in the extreme case, and as the "clogged" streams of
the ``check_*`` suites."""

from __future__ import annotations

from collections.abc import Callable

from .._abc import ReceiveStream, SendStream
from .._core import BrokenResourceError, ClosedResourceError, ParkingLot, checkpoint
from .._stapled_stream import StapledStream
from ._conflict import ConflictDetector
from ._memory_streams import check_max_bytes, stapled_pair

__all__ = ["lockstep_stream_one_way_pair", "lockstep_stream_pair"]


class _Lockstep:
    """The state both ends share.  Every change wakes every waiter, and each
    re-checks its own condition (there are at most three waiters: a sender,
    a ``wait_send_all_might_not_block`` caller's stand-in and a receiver)."""

    __slots__ = (
        "_changed",
        "_data",
        "_receiving",
        "_sending",
        "receiver_closed",
        "receiver_waiting",
        "sender_closed",
    )

    def __init__(self) -> None:
        self._data = bytearray()
        self.sender_closed = False
        self.receiver_closed = False
        self.receiver_waiting = False
        self._changed = ParkingLot()
        self._sending = ConflictDetector("another task is already sending")
        self._receiving = ConflictDetector("another task is already receiving")

    def changed(self) -> None:
        self._changed.unpark_all()

    async def _wait_until(self, done: Callable[[], bool]) -> None:
        """Waits until ``done()`` or either end is closed.  Always a
        checkpoint."""
        parked = False
        while not done() and not (self.sender_closed or self.receiver_closed):
            await self._changed.park()
            parked = True
        if not parked:
            await checkpoint()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        with self._sending:
            if self.sender_closed:
                raise ClosedResourceError
            if self.receiver_closed:
                raise BrokenResourceError
            self._data += data
            self.changed()
            await self._wait_until(lambda: not self._data)
            if self.sender_closed:
                raise ClosedResourceError
            if self._data and self.receiver_closed:
                raise BrokenResourceError

    async def wait_send_all_might_not_block(self) -> None:
        with self._sending:
            if self.sender_closed:
                raise ClosedResourceError
            if self.receiver_closed:
                await checkpoint()
                return
            await self._wait_until(lambda: self.receiver_waiting)
            if self.sender_closed:
                raise ClosedResourceError

    async def receive_some(self, max_bytes: int | None) -> bytes | bytearray:
        with self._receiving:
            max_bytes = check_max_bytes(max_bytes)
            if self.receiver_closed:
                raise ClosedResourceError
            self.receiver_waiting = True
            self.changed()  # a wait_send_all_might_not_block may go now
            try:
                await self._wait_until(lambda: bool(self._data))
            finally:
                self.receiver_waiting = False
            if self.receiver_closed:
                raise ClosedResourceError
            if not self._data:
                return b""  # the sender closed: end of file
            if max_bytes is None or max_bytes >= len(self._data):
                got, self._data = self._data, bytearray()
            else:
                got = self._data[:max_bytes]
                del self._data[:max_bytes]
            self.changed()  # the sender may be done
            return got


class _LockstepSendStream(SendStream):
    """The sending end; ``close()`` closes synchronously."""

    def __init__(self, state: _Lockstep) -> None:
        self._state = state

    def close(self) -> None:
        self._state.sender_closed = True
        self._state.changed()

    async def aclose(self) -> None:
        self.close()
        await checkpoint()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._state.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._state.wait_send_all_might_not_block()


class _LockstepReceiveStream(ReceiveStream):
    """The receiving end; ``close()`` closes synchronously."""

    def __init__(self, state: _Lockstep) -> None:
        self._state = state

    def close(self) -> None:
        self._state.receiver_closed = True
        self._state.changed()

    async def aclose(self) -> None:
        self.close()
        await checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self._state.receive_some(max_bytes)


def lockstep_stream_one_way_pair() -> tuple[SendStream, ReceiveStream]:
    """A connected ``(SendStream, ReceiveStream)`` with no buffering:
    ``send_all`` blocks until ``receive_some`` calls have taken all its data,
    and ``wait_send_all_might_not_block`` until a receiver is waiting.  Both
    ends also have a synchronous ``close()``."""
    state = _Lockstep()
    return _LockstepSendStream(state), _LockstepReceiveStream(state)


def lockstep_stream_pair() -> tuple[
    StapledStream[SendStream, ReceiveStream],
    StapledStream[SendStream, ReceiveStream],
]:
    """Two connected two-way lockstep streams (``StapledStream`` s of
    ``lockstep_stream_one_way_pair`` s)."""
    return stapled_pair(lockstep_stream_one_way_pair)
