"""Conformance suites for byte streams: ``check_one_way_stream``,
``check_two_way_stream``, ``check_half_closeable_stream``.

Each runs a stream implementation through the contract of ``lowio.abc``
(checkpoints, argument checks, one task at a time, close and broken
semantics, cancellation) and raises ``AssertionError`` on the first
violation.  They do not depend on pytest, so a library can run them from
any test framework.

A *stream maker* is an async function returning a fresh connected pair.  A
*clogged* stream maker returns a pair whose ``send_all`` and
``wait_send_all_might_not_block`` block until the other end calls
``receive_some`` (e.g. ``lockstep_stream_pair``); passing ``None`` skips the
checks that need one.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from .._abc import AsyncResource, HalfCloseableStream, ReceiveStream, SendStream, Stream
from .._core import (
    BrokenResourceError,
    BusyResourceError,
    Cancelled,
    CancelScope,
    ClosedResourceError,
    open_nursery,
    wait_all_tasks_blocked,
)
from .._stapled_stream import aclose_forcefully
from ._checkpoints import assert_checkpoints

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found]

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

Res1 = TypeVar("Res1", bound=AsyncResource)
Res2 = TypeVar("Res2", bound=AsyncResource)
StreamMaker: TypeAlias = Callable[[], Awaitable[tuple[Res1, Res2]]]

__all__ = ["check_half_closeable_stream", "check_one_way_stream", "check_two_way_stream"]


@asynccontextmanager
async def _fresh(maker: StreamMaker[Res1, Res2]) -> AsyncIterator[tuple[Res1, Res2]]:
    """A new pair from ``maker``, both ends force-closed afterwards (the
    second even if closing the first fails)."""
    first, second = await maker()
    try:
        yield first, second
    finally:
        try:
            await aclose_forcefully(first)
        finally:
            await aclose_forcefully(second)


@contextmanager
def _raises(expected: type[BaseException], *, in_group: bool = False) -> Iterator[None]:
    """The block must raise ``expected`` (bare, or as the only member of an
    exception group if ``in_group``); anything else is an AssertionError or
    propagates."""
    __tracebackhide__ = True
    try:
        yield
    except BaseExceptionGroup as group:
        if not in_group:
            raise AssertionError(
                f"expected {expected.__name__}, got an exception group: {group!r}"
            ) from group
        if len(group.exceptions) != 1 or not isinstance(group.exceptions[0], expected):
            raise AssertionError(
                f"expected a group holding one {expected.__name__}, got {group!r}"
            ) from group
    except expected as exc:
        if in_group:
            raise AssertionError(
                f"expected {expected.__name__} in an exception group, got it bare"
            ) from exc
    else:
        raise AssertionError(f"expected {expected.__name__} to be raised")


async def _run_together(*calls: Callable[[], Awaitable[object]]) -> None:
    """Runs the calls as concurrent tasks and waits for all of them."""
    async with open_nursery() as nursery:
        for call in calls:
            nursery.start_soon(call)


async def _expect_busy(*calls: Callable[[], Awaitable[object]]) -> None:
    """The calls, run concurrently, must collide: one raises
    ``BusyResourceError`` (the nursery cancels the rest).  Calls that all
    block instead fail the check once every task is blocked, rather than
    hanging it."""
    with _raises(BusyResourceError, in_group=True):
        async with open_nursery() as nursery:
            for call in calls:
                nursery.start_soon(call)
            await wait_all_tasks_blocked()
            raise AssertionError("overlapping calls all blocked: none raised BusyResourceError")


async def _finishes(
    call: Callable[[], Awaitable[object]],
    *,
    after: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Runs ``call`` in a task (it asserts its own outcome).  With
    ``after``: once ``call`` has blocked, runs ``after`` (which must wake
    it).  Either way ``call`` must be done by the time every task is blocked
    again: a call left blocked fails the check instead of hanging it."""
    finished = False

    async def run_call() -> None:
        nonlocal finished
        await call()
        finished = True

    async with open_nursery() as nursery:
        nursery.start_soon(run_call)
        if after is not None:
            await wait_all_tasks_blocked()
            await after()
        await wait_all_tasks_blocked()
        if not finished:
            nursery.cancel_scope.cancel()
            woken = "" if after is None else f" after {after!r}"
            raise AssertionError(f"{call!r} was still blocked{woken}")


class _Checked:
    """The operations of a one-way pair, each asserted to be a checkpoint
    (and ``send_all`` to return None)."""

    def __init__(self, s: SendStream, r: ReceiveStream) -> None:
        self.s = s
        self.r = r

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        with assert_checkpoints():
            result: Any = await self.s.send_all(data)  # type: ignore[func-returns-value]
        assert result is None, f"send_all returned {result!r}, not None"

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        with assert_checkpoints():
            return await self.r.receive_some(max_bytes)

    async def receive_closed(self) -> None:
        """receive_some must raise ClosedResourceError, without blocking."""

        async def receive() -> None:
            with _raises(ClosedResourceError):
                await self.receive_some(4096)

        await _finishes(receive)

    async def receive_1(self, expected: bytes) -> None:
        got = await self.receive_some(1)
        assert got == expected, f"receive_some(1) returned {got!r}, expected {expected!r}"

    async def wait_send(self) -> None:
        with assert_checkpoints():
            await self.s.wait_send_all_might_not_block()

    @staticmethod
    async def aclose(resource: AsyncResource) -> None:
        with assert_checkpoints():
            await resource.aclose()

    async def send_until_broken(self) -> None:
        with _raises(BrokenResourceError):
            while True:
                await self.send_all(b"x" * 100)


async def _check_basic_transfer(c: _Checked) -> None:
    await _run_together(lambda: c.send_all(b"x"), lambda: c.receive_1(b"x"))

    async def empty_then_y() -> None:
        await c.send_all(b"")  # an empty send means nothing special
        await c.send_all(b"y")

    await _run_together(empty_then_y, lambda: c.receive_1(b"y"))
    await _run_together(lambda: c.send_all(bytearray(b"1")), lambda: c.receive_1(b"1"))
    await _run_together(lambda: c.send_all(memoryview(b"2")), lambda: c.receive_1(b"2"))


async def _check_max_bytes(c: _Checked) -> None:
    for bad, exc_type in ((-1, ValueError), (0, ValueError), (1.5, TypeError)):
        with _raises(exc_type):
            await c.r.receive_some(bad)  # type: ignore[arg-type]
    for omitted in (False, True):
        async with open_nursery() as nursery:
            nursery.start_soon(c.send_all, b"x")
            got = await (c.receive_some() if omitted else c.receive_some(None))
            assert got == b"x", f"receive_some() returned {got!r}, expected b'x'"


async def _check_one_receiver_at_a_time(c: _Checked) -> None:
    await _expect_busy(lambda: c.receive_some(1), lambda: c.receive_some(1))


async def _check_wait_send_all_with_receiver_waiting(c: _Checked) -> None:
    # an idle stream with a receiver blocked in receive_some must let
    # wait_send_all_might_not_block return (a stream with no buffer may wait
    # for the receiver, hence the concurrent receive, cancelled afterwards)
    async with open_nursery() as nursery:

        async def waiter() -> None:
            await c.wait_send()
            nursery.cancel_scope.cancel()

        nursery.start_soon(waiter)
        nursery.start_soon(c.receive_some, 1)


async def _check_close_rules(c: _Checked) -> None:
    # closing the receiver breaks the sender (eventually) ...
    await _run_together(c.send_until_broken, lambda: c.aclose(c.r))
    # ... for good
    with _raises(BrokenResourceError):
        await c.send_all(b"x" * 100)
    await c.receive_closed()
    await c.aclose(c.r)  # closing again is fine
    await c.aclose(c.r)
    await c.aclose(c.s)
    for data in (b"x" * 100, b""):
        with _raises(ClosedResourceError):
            await c.send_all(data)
    with _raises(ClosedResourceError):
        await c.wait_send()
    await c.aclose(c.s)
    await c.aclose(c.s)


async def _check_data_then_eof(c: _Checked) -> None:
    async def send_then_close() -> None:
        await c.send_all(b"y")
        await c.aclose(c.s)

    async def receive_late() -> None:
        # the sender gets as far as it can first: data sent before a
        # graceful close must still arrive, then end of file
        await wait_all_tasks_blocked()
        await c.receive_1(b"y")
        await c.receive_1(b"")
        await c.aclose(c.r)

    await _run_together(send_then_close, receive_late)


async def _check_forceful_closes(maker: StreamMaker[SendStream, ReceiveStream]) -> None:
    async with _fresh(maker) as (s, r):
        c = _Checked(s, r)
        await aclose_forcefully(r)
        # (checked first: a receiver left open would let the sender below
        # fill an unbounded buffer forever)
        await c.receive_closed()
        await c.send_until_broken()
    async with _fresh(maker) as (s, r):
        c = _Checked(s, r)
        await aclose_forcefully(s)
        with _raises(ClosedResourceError):
            await c.send_all(b"123")
        # the receiver may see a clean end of file or BrokenResourceError,
        # but must neither hang nor get data
        with suppress(BrokenResourceError):
            await c.receive_1(b"")
    async with _fresh(maker) as (s, r):
        # a cancelled aclose still closes
        c = _Checked(s, r)
        for resource in (r, s):
            with CancelScope() as scope:
                scope.cancel()
                await resource.aclose()
        with _raises(ClosedResourceError):
            await c.send_all(b"123")
        await c.receive_closed()


async def _check_graceful_close_after_cancel(c: _Checked) -> None:
    async def expect_cancelled(call: Callable[[], Awaitable[object]]) -> None:
        with _raises(Cancelled):
            await call()

    with CancelScope() as scope:
        scope.cancel()
        await _run_together(
            lambda: expect_cancelled(lambda: c.send_all(b"x")),
            lambda: expect_cancelled(lambda: c.receive_some(1)),
        )
    await _run_together(lambda: c.aclose(c.s), lambda: c.aclose(c.r))


async def _check_close_wakes_receiver(c: _Checked) -> None:
    async def receive_expecting_closed() -> None:
        with _raises(ClosedResourceError):
            await c.r.receive_some(10)

    await _finishes(receive_expecting_closed, after=lambda: aclose_forcefully(c.r))


async def _check_clogged(clogged: StreamMaker[SendStream, ReceiveStream]) -> None:
    async with _fresh(clogged) as (s, r):
        # wait_send_all_might_not_block waits for the receiver, and wakes
        # when it arrives
        record: list[str] = []
        async with open_nursery() as nursery:

            async def waiter() -> None:
                record.append("waiter sleeping")
                with assert_checkpoints():
                    await s.wait_send_all_might_not_block()
                record.append("waiter wokeup")
                nursery.cancel_scope.cancel()

            async def receiver() -> None:
                await wait_all_tasks_blocked()
                record.append("receiver starting")
                while True:
                    await r.receive_some(16834)

            nursery.start_soon(waiter)
            await wait_all_tasks_blocked()
            nursery.start_soon(receiver)
        expected = ["waiter sleeping", "receiver starting", "waiter wokeup"]
        assert record == expected, f"events happened as {record}, expected {expected}"

    async with _fresh(clogged) as (s, r):
        # one task at a time on the send side; a conflict may leave the stream
        # unusable, hence a fresh pair for each
        await _expect_busy(s.wait_send_all_might_not_block, s.wait_send_all_might_not_block)
        await _expect_busy(s.wait_send_all_might_not_block, lambda: s.send_all(b"123"))
    async with _fresh(clogged) as (s, r):
        await _expect_busy(lambda: s.send_all(b"123"), lambda: s.send_all(b"123"))

    async def wait_send_tolerating_broken(s: SendStream) -> None:
        try:
            with assert_checkpoints():
                await s.wait_send_all_might_not_block()
        except BrokenResourceError:
            pass

    async with _fresh(clogged) as (s, r):
        # closing the receiver makes a waiting wait_send_all_might_not_block
        # return (or raise BrokenResourceError) ...
        async def close_later() -> None:
            await wait_all_tasks_blocked()
            await aclose_forcefully(r)

        await _run_together(lambda: wait_send_tolerating_broken(s), close_later)
    async with _fresh(clogged) as (s, r):
        # ... and one called after the close too
        await aclose_forcefully(r)
        await wait_send_tolerating_broken(s)

    # closing the send side wakes a task blocked in a send-side method
    blocked_calls: list[Callable[[SendStream], Awaitable[object]]] = [
        lambda s: s.send_all(b"xyzzy"),
        lambda s: s.wait_send_all_might_not_block(),
    ]
    for blocked in blocked_calls:
        async with _fresh(clogged) as (s, r):

            async def call_expecting_closed() -> None:
                with _raises(ClosedResourceError):
                    await blocked(s)  # noqa: B023 (awaited within the iteration)

            await _finishes(call_expecting_closed, after=lambda: aclose_forcefully(s))


async def check_one_way_stream(
    stream_maker: StreamMaker[SendStream, ReceiveStream],
    clogged_stream_maker: StreamMaker[SendStream, ReceiveStream] | None,
) -> None:
    """Runs the generic checks on a one-way stream implementation.

    ``stream_maker`` is an async function returning a connected
    ``(SendStream, ReceiveStream)``; ``clogged_stream_maker`` one whose send
    side blocks until the receiver reads (or ``None``).  Raises
    ``AssertionError`` describing the first violated rule.
    """
    async with _fresh(stream_maker) as (s, r):
        assert isinstance(s, SendStream), f"{s!r} is not a SendStream"
        assert isinstance(r, ReceiveStream), f"{r!r} is not a ReceiveStream"
        c = _Checked(s, r)
        await _check_basic_transfer(c)
        await _check_max_bytes(c)
        await _check_one_receiver_at_a_time(c)
        await _check_wait_send_all_with_receiver_waiting(c)
        await _check_close_rules(c)
    async with _fresh(stream_maker) as (s, r):
        await _check_data_then_eof(_Checked(s, r))
    await _check_forceful_closes(stream_maker)
    async with _fresh(stream_maker) as (s, r):
        await _check_graceful_close_after_cancel(_Checked(s, r))
    async with _fresh(stream_maker) as (s, r):
        await _check_close_wakes_receiver(_Checked(s, r))
    if clogged_stream_maker is not None:
        await _check_clogged(clogged_stream_maker)


def _flipped(maker: StreamMaker[Stream, Stream]) -> StreamMaker[Stream, Stream]:
    async def flipped() -> tuple[Stream, Stream]:
        first, second = await maker()
        return second, first

    return flipped


DUPLEX_TEST_SIZE = 2**20
CHUNK_SIZE_MAX = 2**14


async def _check_duplex(s1: Stream, s2: Stream) -> None:
    test_data = random.Random(0).randbytes(DUPLEX_TEST_SIZE)

    async def sender(s: Stream, data: bytes, seed: int) -> None:
        rng = random.Random(seed)
        view = memoryview(data)
        while view:
            size = rng.randint(1, CHUNK_SIZE_MAX)
            await s.send_all(view[:size])
            view = view[size:]

    async def receiver(s: Stream, data: bytes, seed: int) -> None:
        rng = random.Random(seed)
        got = bytearray()
        while len(got) < len(data):
            chunk = await s.receive_some(rng.randint(1, CHUNK_SIZE_MAX))
            assert chunk, f"end of file after {len(got)} of {len(data)} bytes"
            # checked chunk by chunk: lost or altered bytes fail here
            # instead of leaving the receiver waiting for more
            start = len(got)
            got += chunk
            assert got[start:] == data[start : len(got)], (
                f"bytes {start}..{len(got)} received differ from the bytes sent"
            )

    reverse = test_data[::-1]
    await _run_together(
        lambda: sender(s1, test_data, 0),
        lambda: sender(s2, reverse, 1),
        lambda: receiver(s1, reverse, 2),
        lambda: receiver(s2, test_data, 3),
    )

    async def expect_eof() -> None:
        got = await s2.receive_some(10)
        assert got == b"", f"receive_some after the peer closed returned {got!r}"
        await s2.aclose()

    await _run_together(expect_eof, s1.aclose)


async def check_two_way_stream(
    stream_maker: StreamMaker[Stream, Stream],
    clogged_stream_maker: StreamMaker[Stream, Stream] | None,
) -> None:
    """``check_one_way_stream`` in both directions, plus simultaneous
    traffic both ways and end of file on close.  The makers return two
    connected ``Stream`` s."""
    await check_one_way_stream(stream_maker, clogged_stream_maker)
    await check_one_way_stream(
        _flipped(stream_maker),
        None if clogged_stream_maker is None else _flipped(clogged_stream_maker),
    )
    async with _fresh(stream_maker) as (s1, s2):
        assert isinstance(s1, Stream), f"{s1!r} is not a Stream"
        assert isinstance(s2, Stream), f"{s2!r} is not a Stream"
        await _check_duplex(s1, s2)


async def check_half_closeable_stream(
    stream_maker: StreamMaker[HalfCloseableStream, HalfCloseableStream],
    clogged_stream_maker: StreamMaker[HalfCloseableStream, HalfCloseableStream] | None,
) -> None:
    """``check_two_way_stream`` plus ``send_eof``: the peer reads the data,
    then end of file; sending afterwards is ``ClosedResourceError``;
    ``send_eof`` is repeatable and a checkpoint; the other direction keeps
    working; ``send_eof`` during a blocked send-side call is
    ``BusyResourceError``."""
    await check_two_way_stream(stream_maker, clogged_stream_maker)
    async with _fresh(stream_maker) as (s1, s2):
        assert isinstance(s1, HalfCloseableStream), f"{s1!r} is not a HalfCloseableStream"
        assert isinstance(s2, HalfCloseableStream), f"{s2!r} is not a HalfCloseableStream"

        async def send_x_then_eof(s: HalfCloseableStream) -> None:
            await s.send_all(b"x")
            with assert_checkpoints():
                await s.send_eof()

        async def expect_x_then_eof(r: HalfCloseableStream) -> None:
            await wait_all_tasks_blocked()
            for expected in (b"x", b""):
                got = await r.receive_some(10)
                assert got == expected, f"receive_some returned {got!r}, expected {expected!r}"

        await _run_together(lambda: send_x_then_eof(s1), lambda: expect_x_then_eof(s2))
        with _raises(ClosedResourceError):
            await s1.send_all(b"y")
        with assert_checkpoints():
            await s1.send_eof()
        await _run_together(lambda: send_x_then_eof(s2), lambda: expect_x_then_eof(s1))

    if clogged_stream_maker is not None:
        blockers: list[Callable[[HalfCloseableStream], Awaitable[object]]] = [
            lambda s: s.send_all(b"x"),
            lambda s: s.wait_send_all_might_not_block(),
        ]
        for blocker in blockers:
            async with _fresh(clogged_stream_maker) as (s1, s2):
                with _raises(BusyResourceError, in_group=True):
                    async with open_nursery() as nursery:
                        nursery.start_soon(blocker, s1)
                        await wait_all_tasks_blocked()
                        nursery.start_soon(s1.send_eof)
                        await wait_all_tasks_blocked()
                        raise AssertionError(
                            "send_eof during a blocked send-side call did not raise "
                            "BusyResourceError"
                        )
