"""``lowio.testing``'s stream kit: memory streams and their hooks,
``memory_stream_pump``, lockstep streams, ``Sequencer``, and the
``check_*_stream`` suites, run on lowio's streams and on deliberately broken
ones (each breakage must make the suite fail)."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from _socket_helpers import lowio_test

import lowio
from lowio import StapledStream, aclose_forcefully
from lowio.abc import HalfCloseableStream, ReceiveStream, SendStream
from lowio.testing import (
    MemoryReceiveStream,
    MemorySendStream,
    Sequencer,
    assert_checkpoints,
    check_half_closeable_stream,
    check_one_way_stream,
    check_two_way_stream,
    lockstep_stream_one_way_pair,
    lockstep_stream_pair,
    memory_stream_one_way_pair,
    memory_stream_pair,
    memory_stream_pump,
    wait_all_tasks_blocked,
)
from lowio.testing._check_streams import _raises
from lowio.testing._memory_streams import _ByteQueue

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup


async def _memory_one_way() -> tuple[MemorySendStream, MemoryReceiveStream]:
    return memory_stream_one_way_pair()


async def _memory_two_way() -> tuple[Any, Any]:
    return memory_stream_pair()


async def _lockstep_one_way() -> tuple[SendStream, ReceiveStream]:
    return lockstep_stream_one_way_pair()


async def _lockstep_two_way() -> tuple[Any, Any]:
    return lockstep_stream_pair()


# ---- the byte queue under the memory streams ----


@lowio_test
async def test_byte_queue() -> None:
    q = _ByteQueue()
    q.put(b"123")
    q.put(b"456")
    assert q.get_nowait(1) == b"1"
    assert q.get_nowait(10) == b"23456"
    q.put(b"789")
    assert q.get_nowait(None) == b"789"
    for max_bytes in (10, None):
        with pytest.raises(lowio.WouldBlock):
            q.get_nowait(max_bytes)
    with pytest.raises(TypeError):
        q.put("text")  # type: ignore[arg-type]
    q.put(b"abc")
    with assert_checkpoints():
        assert await q.get(10) == b"abc"
    q.put(b"def")
    q.put(b"ghi")
    with assert_checkpoints():
        assert await q.get(1) == b"d"
    with assert_checkpoints():
        assert await q.get(None) == b"efghi"

    async def getter(expected: bytes) -> None:
        with assert_checkpoints():
            assert await q.get(None) == expected

    async def put_later(data: bytes) -> None:
        await wait_all_tasks_blocked()
        q.put(b"")  # an empty put wakes the getter, which must wait on
        await wait_all_tasks_blocked()
        q.put(data)

    async with lowio.open_nursery() as nursery:
        nursery.start_soon(getter, b"xyz")
        nursery.start_soon(put_later, b"xyz")
    with _raises(lowio.BusyResourceError, in_group=True):
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(getter, b"")
            nursery.start_soon(getter, b"")
    for bad, exc in ((0, ValueError), (-1, ValueError), (1.5, TypeError)):
        with pytest.raises(exc):
            q.get_nowait(bad)  # type: ignore[arg-type]
    q.close()
    q.close()  # idempotent
    with pytest.raises(lowio.ClosedResourceError):
        q.put(b"---")
    assert q.get_nowait(10) == b""
    assert await q.get(None) == b""

    q2 = _ByteQueue()

    async def close_later() -> None:
        await wait_all_tasks_blocked()
        q2.close()

    async with lowio.open_nursery() as nursery:
        nursery.start_soon(lambda: q2.get(None))
        nursery.start_soon(close_later)


# ---- MemorySendStream / MemoryReceiveStream ----


@lowio_test
async def test_memory_send_stream() -> None:
    mss = MemorySendStream()
    with assert_checkpoints():
        await mss.send_all(b"123")
    assert mss.get_data_nowait(1) == b"1"
    assert mss.get_data_nowait() == b"23"
    with assert_checkpoints():
        await mss.wait_send_all_might_not_block()
    with pytest.raises(lowio.WouldBlock):
        mss.get_data_nowait()
    await mss.send_all(b"456")
    with assert_checkpoints():
        assert await mss.get_data() == b"456"

    busy = 0

    async def send_counting_busy() -> None:
        nonlocal busy
        try:
            await mss.send_all(b"xxx")
        except lowio.BusyResourceError:
            busy += 1

    async with lowio.open_nursery() as nursery:
        nursery.start_soon(send_counting_busy)
        nursery.start_soon(send_counting_busy)
    assert busy == 1
    with assert_checkpoints():
        await mss.aclose()
    assert await mss.get_data() == b"xxx"
    assert await mss.get_data() == b""
    with pytest.raises(lowio.ClosedResourceError):
        await mss.send_all(b"---")
    with pytest.raises(lowio.ClosedResourceError):
        await mss.wait_send_all_might_not_block()

    assert (mss.send_all_hook, mss.wait_send_all_might_not_block_hook, mss.close_hook) == (
        None,
        None,
        None,
    )
    record: list[str] = []

    async def send_all_hook() -> None:
        assert mss2.get_data_nowait() == b"abc"  # runs after the data is buffered
        record.append("send_all_hook")

    async def wait_hook() -> None:
        record.append("wait_send_all_might_not_block_hook")

    def close_hook() -> None:
        record.append("close_hook")

    mss2 = MemorySendStream(send_all_hook, wait_hook, close_hook)
    assert mss2.send_all_hook is send_all_hook
    assert mss2.wait_send_all_might_not_block_hook is wait_hook
    assert mss2.close_hook is close_hook
    await mss2.send_all(b"abc")
    await mss2.wait_send_all_might_not_block()
    await aclose_forcefully(mss2)
    mss2.close()
    assert record == [
        "send_all_hook",
        "wait_send_all_might_not_block_hook",
        "close_hook",
        "close_hook",
    ]


@lowio_test
async def test_memory_receive_stream() -> None:
    mrs = MemoryReceiveStream()

    async def receive(max_bytes: int | None) -> bytes | bytearray:
        with assert_checkpoints():
            return await mrs.receive_some(max_bytes)

    mrs.put_data(b"abc")
    assert await receive(1) == b"a"
    assert await receive(10) == b"bc"
    mrs.put_data(b"abc")
    assert await receive(None) == b"abc"
    with _raises(lowio.BusyResourceError, in_group=True):
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(receive, 10)
            nursery.start_soon(receive, 10)
    assert mrs.receive_some_hook is None
    mrs.put_data(b"def")
    mrs.put_eof()
    mrs.put_eof()
    assert await receive(10) == b"def"
    assert await receive(10) == b""
    assert await receive(10) == b""
    with pytest.raises(lowio.ClosedResourceError):
        mrs.put_data(b"---")

    record: list[str] = []

    async def receive_some_hook() -> None:
        mrs2.put_data(b"xxx")

    mrs2 = MemoryReceiveStream(receive_some_hook, lambda: record.append("closed"))
    assert mrs2.receive_some_hook is receive_some_hook
    mrs2.put_data(b"yyy")
    assert await mrs2.receive_some(10) == b"yyyxxx"
    assert await mrs2.receive_some(10) == b"xxx"
    mrs2.receive_some_hook = None
    mrs2.put_data(b"zzz")
    assert await mrs2.receive_some(10) == b"zzz"
    mrs2.put_data(b"lost on close")
    with assert_checkpoints():
        await mrs2.aclose()
    assert record == ["closed"]
    with pytest.raises(lowio.ClosedResourceError):
        await mrs2.receive_some(10)


@lowio_test
async def test_memory_receive_stream_closing() -> None:
    mrs = MemoryReceiveStream()
    mrs.close()
    with pytest.raises(lowio.ClosedResourceError):
        await mrs.receive_some(10)
    mrs.close()
    with pytest.raises(lowio.ClosedResourceError):
        mrs.put_data(b"123")
    mrs2 = MemoryReceiveStream()
    mrs2.put_data(b"xyz")
    mrs2.close()  # pending data is dropped: closed, not data
    with pytest.raises(lowio.ClosedResourceError):
        await mrs2.receive_some(10)
    mrs3 = MemoryReceiveStream()

    async def receive_expecting_closed() -> None:
        with pytest.raises(lowio.ClosedResourceError):
            await mrs3.receive_some(10)

    async with lowio.open_nursery() as nursery:
        nursery.start_soon(receive_expecting_closed)
        await wait_all_tasks_blocked()
        mrs3.close()


@lowio_test
async def test_memory_stream_pump() -> None:
    mss = MemorySendStream()
    mrs = MemoryReceiveStream()
    assert not memory_stream_pump(mss, mrs)
    await mss.send_all(b"123")
    assert memory_stream_pump(mss, mrs)
    assert await mrs.receive_some(10) == b"123"
    await mss.send_all(b"456")
    assert memory_stream_pump(mss, mrs, max_bytes=1)
    assert await mrs.receive_some(10) == b"4"
    assert memory_stream_pump(mss, mrs, max_bytes=1)
    assert memory_stream_pump(mss, mrs, max_bytes=1)
    assert not memory_stream_pump(mss, mrs, max_bytes=1)
    assert await mrs.receive_some(10) == b"56"
    mss.close()
    assert memory_stream_pump(mss, mrs)
    assert await mrs.receive_some(10) == b""
    # into a closed receive stream: broken
    mss2 = MemorySendStream()
    await mss2.send_all(b"x")
    mrs.close()
    with pytest.raises(lowio.BrokenResourceError, match="MemoryReceiveStream was closed"):
        memory_stream_pump(mss2, mrs)


@lowio_test
async def test_memory_stream_one_way_pair() -> None:
    s, r = memory_stream_one_way_pair()
    assert s.send_all_hook is not None
    assert s.wait_send_all_might_not_block_hook is None
    assert s.close_hook is not None
    assert r.receive_some_hook is None
    await s.send_all(b"123")
    assert await r.receive_some(10) == b"123"

    async def receiver(expected: bytes) -> None:
        assert await r.receive_some(10) == expected

    # pumped by send_all_hook (a receiver already waiting sees the data) ...
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(receiver, b"abc")
        await wait_all_tasks_blocked()
        await s.send_all(b"abc")
    # ... and by close_hook (aclose and close)
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(receiver, b"")
        await wait_all_tasks_blocked()
        await s.aclose()
    s, r = memory_stream_one_way_pair()
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(receiver, b"")
        await wait_all_tasks_blocked()
        s.close()
    # without the hook, data stays in the send stream
    s, r = memory_stream_one_way_pair()
    old_hook = s.send_all_hook
    s.send_all_hook = None
    await s.send_all(b"456")
    with lowio.move_on_after(0.01) as scope:
        await r.receive_some(10)
    assert scope.cancelled_caught
    s.send_all_hook = old_hook
    await s.send_all(b"789")
    assert await r.receive_some(10) == b"456789"


@lowio_test
async def test_memory_stream_pair() -> None:
    a, b = memory_stream_pair()
    assert isinstance(a, StapledStream)
    await a.send_all(b"123")
    await b.send_all(b"abc")
    assert await b.receive_some(10) == b"123"
    assert await a.receive_some(10) == b"abc"
    await a.send_eof()
    assert await b.receive_some(10) == b""

    async def send_later() -> None:
        await wait_all_tasks_blocked()
        await b.send_all(b"xyz")

    async def receiver() -> None:
        assert await a.receive_some(10) == b"xyz"

    async with lowio.open_nursery() as nursery:
        nursery.start_soon(receiver)
        nursery.start_soon(send_later)


# ---- lockstep streams ----


@lowio_test
async def test_lockstep_send_waits_for_the_receiver() -> None:
    s, r = lockstep_stream_one_way_pair()
    record: list[str] = []

    async def sender() -> None:
        await s.send_all(b"abcd")
        record.append("sent")

    async with lowio.open_nursery() as nursery:
        nursery.start_soon(sender)
        await wait_all_tasks_blocked()
        assert record == []  # no buffering: still blocked
        assert await r.receive_some(2) == b"ab"
        await wait_all_tasks_blocked()
        assert record == []  # half the data is still waiting
        assert await r.receive_some() == b"cd"
    assert record == ["sent"]
    with pytest.raises(ValueError, match="max_bytes must be >= 1"):
        await r.receive_some(0)
    await s.aclose()
    assert await r.receive_some(10) == b""
    await r.aclose()


@lowio_test
async def test_lockstep_receiver_closed_breaks_a_blocked_send() -> None:
    s, r = lockstep_stream_one_way_pair()

    async def close_later() -> None:
        await wait_all_tasks_blocked()
        await r.aclose()

    async with lowio.open_nursery() as nursery:
        nursery.start_soon(close_later)
        with pytest.raises(lowio.BrokenResourceError):
            await s.send_all(b"x")
    with pytest.raises(lowio.BrokenResourceError):
        await s.send_all(b"x")
    with assert_checkpoints():
        await s.wait_send_all_might_not_block()  # returns: a send won't block now


# ---- the check_* suites pass on lowio's streams ----


@lowio_test
async def test_check_suites_pass_on_memory_streams() -> None:
    await check_one_way_stream(_memory_one_way, None)
    await check_half_closeable_stream(_memory_two_way, None)


@lowio_test
async def test_check_suites_pass_on_lockstep_streams() -> None:
    await check_one_way_stream(_lockstep_one_way, _lockstep_one_way)
    await check_two_way_stream(_lockstep_two_way, _lockstep_two_way)


@lowio_test
async def test_check_half_closeable_on_stapled_memory_and_lockstep() -> None:
    # a StapledStream over send streams without send_eof: send_eof closes
    async def maker() -> tuple[Any, Any]:
        a_send, a_receive = memory_stream_one_way_pair()
        b_send, b_receive = lockstep_stream_one_way_pair()
        return StapledStream(a_send, b_receive), StapledStream(b_send, a_receive)

    await check_half_closeable_stream(maker, None)


# ---- _raises, the suites' own pytest-free assertion ----


def test_raises_helper() -> None:
    with pytest.raises(AssertionError, match="expected RuntimeError"), _raises(RuntimeError):
        pass
    with pytest.raises(TypeError), _raises(RuntimeError):
        raise TypeError
    with _raises(RuntimeError):
        raise RuntimeError
    with pytest.raises(AssertionError, match="exception group"), _raises(RuntimeError):
        raise ExceptionGroup("g", [RuntimeError()])
    with pytest.raises(AssertionError, match="bare"), _raises(RuntimeError, in_group=True):
        raise RuntimeError
    two = ExceptionGroup("g", [RuntimeError(), RuntimeError()])
    with (
        pytest.raises(AssertionError, match="one RuntimeError"),
        _raises(RuntimeError, in_group=True),
    ):
        raise two
    with _raises(RuntimeError, in_group=True):
        raise ExceptionGroup("g", [RuntimeError()])


# ---- the suites fail on broken streams ----


class _Wrapped(HalfCloseableStream):
    """A stream forwarding to ``inner``, with one behaviour replaced by a
    test: the base for the broken streams below."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def send_eof(self) -> None:
        await self.inner.send_eof()

    async def aclose(self) -> None:
        await self.inner.aclose()


class _NoCheckpointOnClose(_Wrapped):
    async def aclose(self) -> None:
        self.inner.send_stream.close()
        self.inner.receive_stream.close()


class _ZeroMaxBytesAllowed(_Wrapped):
    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if max_bytes is not None and max_bytes < 1:
            await lowio.lowlevel.checkpoint()
            return b""
        return await self.inner.receive_some(max_bytes)


class _ReturnsOnSend(_Wrapped):
    async def send_all(self, data: bytes | bytearray | memoryview) -> Any:
        await self.inner.send_all(data)
        return len(data)


class _CorruptsData(_Wrapped):
    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return bytes(await self.inner.receive_some(max_bytes)).swapcase()


class _SendAfterCloseWorks(_Wrapped):
    """Sending on a closed stream quietly does nothing."""

    closed = False

    async def aclose(self) -> None:
        self.closed = True
        await self.inner.aclose()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self.closed:
            await lowio.lowlevel.checkpoint()
        else:
            await self.inner.send_all(data)


class _EofAllowsSend(_Wrapped):
    """Sending after send_eof quietly does nothing."""

    eof = False

    async def send_eof(self) -> None:
        self.eof = True
        await self.inner.send_eof()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self.eof:
            await lowio.lowlevel.checkpoint()
        else:
            await self.inner.send_all(data)


class _ConcurrentReceivesAllowed(_Wrapped):
    """Overlapping receive_some calls queue on a lock instead of raising
    BusyResourceError."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.lock = lowio.Lock()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        async with self.lock:
            return await self.inner.receive_some(max_bytes)


class _CancelledCloseLeavesOpen(_Wrapped):
    async def aclose(self) -> None:
        await lowio.lowlevel.checkpoint()  # a cancelled close never closes
        await self.inner.aclose()


class _CloseDoesNotWakeReceiver(_Wrapped):
    """A receive_some blocked when the stream is closed stays blocked."""

    closed = False

    async def aclose(self) -> None:
        self.closed = True
        await self.inner.aclose()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        closed_before = self.closed
        try:
            return await self.inner.receive_some(max_bytes)
        except lowio.ClosedResourceError:
            if closed_before:
                raise
            await lowio.sleep_forever()
            raise


class _LosesBytes(_Wrapped):
    """Sends only the first half of a chunk of more than one byte."""

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data[: max(1, len(data) // 2)])


# each broken stream with the suites it must fail
BROKEN: list[tuple[type[_Wrapped], tuple[str, ...]]] = [
    (_NoCheckpointOnClose, ("one_way", "half_closeable")),
    (_ZeroMaxBytesAllowed, ("one_way", "half_closeable")),
    (_ReturnsOnSend, ("one_way", "half_closeable")),
    (_CorruptsData, ("one_way", "half_closeable")),
    (_SendAfterCloseWorks, ("one_way", "half_closeable")),
    (_ConcurrentReceivesAllowed, ("one_way", "half_closeable")),
    (_CancelledCloseLeavesOpen, ("one_way", "half_closeable")),
    (_CloseDoesNotWakeReceiver, ("one_way", "half_closeable")),
    (_LosesBytes, ("two_way", "half_closeable")),
    (_EofAllowsSend, ("half_closeable",)),
]
SUITES: dict[str, Callable[..., Awaitable[None]]] = {
    "one_way": check_one_way_stream,
    "two_way": check_two_way_stream,
    "half_closeable": check_half_closeable_stream,
}


def _broken_maker(cls: type[_Wrapped]) -> Callable[[], Awaitable[tuple[Any, Any]]]:
    async def maker() -> tuple[Any, Any]:
        a, b = memory_stream_pair()
        return cls(a), cls(b)

    return maker


def _fails_an_assertion(main: Callable[[], Awaitable[None]]) -> None:
    """``lowio.run(main)`` must fail with an AssertionError, bare or inside
    exception groups (a check that runs in a nursery raises it grouped)."""
    with pytest.raises((AssertionError, BaseExceptionGroup)) as info:
        lowio.run(main)
    if isinstance(info.value, BaseExceptionGroup):
        matched, rest = info.value.split(AssertionError)
        assert matched is not None and rest is None, f"not only AssertionErrors: {info.value!r}"


@pytest.mark.parametrize(
    ("broken", "suite"),
    [(cls, suite) for cls, suites in BROKEN for suite in suites],
    ids=lambda x: getattr(x, "__name__", x),
)
def test_check_suite_fails_on_a_broken_stream(broken: type[_Wrapped], suite: str) -> None:
    async def main() -> None:
        with lowio.fail_after(10):  # a hang would be a TooSlowError: not a pass
            await SUITES[suite](_broken_maker(broken), None)

    _fails_an_assertion(main)


def test_broken_streams_pass_the_suites_they_are_not_listed_for() -> None:
    # the mutants are otherwise sound: each fails only for its own breakage
    async def main() -> None:
        await check_one_way_stream(_broken_maker(_LosesBytes), None)
        await check_two_way_stream(_broken_maker(_EofAllowsSend), None)

    lowio.run(main)


# ---- Sequencer ----


@lowio_test
async def test_sequencer_orders_blocks_across_tasks() -> None:
    record: list[tuple[str, int]] = []
    seq = Sequencer()

    async def first(seq: Sequencer) -> None:
        for n in (1, 3, 4):
            async with seq(n):
                record.append(("first", n))

    async def second(seq: Sequencer) -> None:
        for n in (0, 2):
            async with seq(n):
                record.append(("second", n))

    async with lowio.open_nursery() as nursery:
        nursery.start_soon(first, seq)
        nursery.start_soon(second, seq)
        async with seq(5):
            assert record == [
                ("second", 0),
                ("first", 1),
                ("second", 2),
                ("first", 3),
                ("first", 4),
            ]
    with pytest.raises(RuntimeError, match="reuse sequence point 0"):
        async with seq(0):
            pass


@lowio_test
async def test_sequencer_cancelled_wait_breaks_the_sequence() -> None:
    record: list[str] = []
    seq = Sequencer()

    async def child(n: int) -> None:
        with lowio.CancelScope() as scope:
            if n == 1:
                scope.cancel()
            try:
                async with seq(n):
                    record.append(f"ran {n}")
            except RuntimeError as exc:
                record.append(f"seq({n}): {exc}")

    async with lowio.open_nursery() as nursery:
        nursery.start_soon(child, 1)
        nursery.start_soon(child, 2)
        async with seq(0):  # entered before the children run
            pass
    assert record == [
        "seq(1): Sequencer wait cancelled -- sequence broken",
        "seq(2): sequence broken!",
    ]
    with pytest.raises(RuntimeError, match="sequence broken!"):
        async with seq(3):
            pass


# ---- the clogged-stream checks fail on broken send sides ----


class _WrappedSend(SendStream):
    """A lockstep send stream with one behaviour replaced by a test."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self.inner.aclose()


class _WaitSendReturnsAtOnce(_WrappedSend):
    async def wait_send_all_might_not_block(self) -> None:
        await lowio.lowlevel.checkpoint()


class _OverlappingSendsQueue(_WrappedSend):
    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.lock = lowio.Lock()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        async with self.lock:
            await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        async with self.lock:
            await self.inner.wait_send_all_might_not_block()


class _CloseDoesNotWakeSender(_WrappedSend):
    """A send_all blocked when the stream is closed stays blocked."""

    closed = False

    async def aclose(self) -> None:
        self.closed = True
        await self.inner.aclose()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        closed_before = self.closed
        try:
            await self.inner.send_all(data)
        except lowio.ClosedResourceError:
            if closed_before:
                raise
            await lowio.sleep_forever()


@pytest.mark.parametrize(
    "broken",
    [_WaitSendReturnsAtOnce, _OverlappingSendsQueue, _CloseDoesNotWakeSender],
    ids=lambda cls: cls.__name__,
)
def test_clogged_checks_fail_on_a_broken_send_side(broken: type[_WrappedSend]) -> None:
    async def maker() -> tuple[SendStream, ReceiveStream]:
        s, r = lockstep_stream_one_way_pair()
        return broken(s), r

    async def sound_maker() -> tuple[SendStream, ReceiveStream]:
        s, r = lockstep_stream_one_way_pair()
        return _WrappedSend(s), r

    async def main() -> None:
        with lowio.fail_after(10):
            await check_one_way_stream(maker, maker)

    lowio.run(check_one_way_stream, sound_maker, sound_maker)  # the wrapper itself is sound
    _fails_an_assertion(main)
