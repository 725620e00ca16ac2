"""Memory channels: ``open_memory_channel`` (sizes, the generic spelling),
send/receive with and without waiting, close and clone rules, statistics,
FIFO fairness, iteration, and cancellation at every checkpoint never losing
or duplicating a value."""

from __future__ import annotations

import math
from typing import Any

import pytest
from _socket_helpers import lowio_test

import lowio
from lowio import (
    BrokenResourceError,
    ClosedResourceError,
    EndOfChannel,
    MemoryChannelStatistics,
    MemoryReceiveChannel,
    MemorySendChannel,
    WouldBlock,
    open_memory_channel,
)
from lowio.lowlevel import checkpoint
from lowio.testing import assert_checkpoints, assert_no_checkpoints, wait_all_tasks_blocked


def test_buffer_size_is_checked() -> None:
    for bad in (1.0, "1", None, True):
        with pytest.raises(TypeError, match=r"^max_buffer_size must be an integer or math\.inf$"):
            open_memory_channel(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^max_buffer_size must be >= 0$"):
        open_memory_channel(-1)
    s, _ = open_memory_channel(math.inf)
    assert s.statistics().max_buffer_size == math.inf
    s2, r2 = open_memory_channel[int](3)
    assert isinstance(s2, MemorySendChannel)
    assert isinstance(r2, MemoryReceiveChannel)
    assert isinstance(s2, lowio.abc.SendChannel)
    assert isinstance(r2, lowio.abc.ReceiveChannel)


def test_no_public_constructor_and_final() -> None:
    s, _ = open_memory_channel[int](0)
    with pytest.raises(TypeError):
        MemorySendChannel(s._state)
    with pytest.raises(TypeError):
        MemoryReceiveChannel(s._state)
    with pytest.raises(TypeError):

        class Sub(MemorySendChannel):  # type: ignore[misc, type-arg]
            pass


@lowio_test
async def test_basic_buffered_channel() -> None:
    s, r = open_memory_channel[int | str | None](2)
    assert "send channel at" in repr(s)
    assert "receive channel at" in repr(r)
    with assert_no_checkpoints():
        s.send_nowait(1)
    with assert_checkpoints():
        await s.send(2)
    with pytest.raises(WouldBlock):
        s.send_nowait(None)
    with assert_checkpoints():
        assert await r.receive() == 1
    with assert_no_checkpoints():
        assert r.receive_nowait() == 2
    with pytest.raises(WouldBlock):
        r.receive_nowait()
    s.send_nowait("last")
    with assert_checkpoints():
        await s.aclose()
    with pytest.raises(ClosedResourceError):
        await s.send("too late")
    with pytest.raises(ClosedResourceError):
        s.send_nowait("too late")
    with pytest.raises(ClosedResourceError):
        s.clone()
    await s.aclose()
    assert r.receive_nowait() == "last"  # the buffer drains after the close
    with pytest.raises(EndOfChannel):
        await r.receive()
    with pytest.raises(EndOfChannel):
        r.receive_nowait()
    await r.aclose()
    with pytest.raises(ClosedResourceError):
        await r.receive()
    with pytest.raises(ClosedResourceError):
        r.receive_nowait()
    with pytest.raises(ClosedResourceError):
        r.clone()
    await r.aclose()


@lowio_test
async def test_unbuffered_channel_hands_over() -> None:
    s, r = open_memory_channel[int](0)
    with pytest.raises(WouldBlock):
        r.receive_nowait()
    with pytest.raises(WouldBlock):
        s.send_nowait(1)

    async def send(value: int) -> None:
        with assert_checkpoints():
            await s.send(value)

    async with lowio.open_nursery() as nursery:
        nursery.start_soon(send, 1)
        with assert_checkpoints():
            assert await r.receive() == 1
    with pytest.raises(WouldBlock):
        r.receive_nowait()
    # a waiting receiver takes a send_nowait
    async with lowio.open_nursery() as nursery:

        async def receive_expecting(value: int) -> None:
            assert await r.receive() == value

        nursery.start_soon(receive_expecting, 7)
        await wait_all_tasks_blocked()
        s.send_nowait(7)


@lowio_test
async def test_infinite_buffer_and_iteration() -> None:
    s, r = open_memory_channel[int](math.inf)
    with s:
        for i in range(100):
            s.send_nowait(i)
    assert [i async for i in r] == list(range(100))


@lowio_test
async def test_timeout_on_receive_then_send() -> None:
    # a cancelled receive leaves nothing behind: a later send buffers
    s, r = open_memory_channel[str](1)
    with lowio.move_on_after(0.01) as scope:
        await r.receive()
    assert scope.cancelled_caught
    assert r.statistics().tasks_waiting_receive == 0
    await s.send("after timeout")
    assert r.receive_nowait() == "after timeout"


@lowio_test
async def test_multiple_producers_with_clones() -> None:
    async def producer(channel: MemorySendChannel[int], i: int) -> None:
        async with channel:
            for j in range(3 * i, 3 * (i + 1)):
                await channel.send(j)

    s, r = open_memory_channel[int](0)
    async with lowio.open_nursery() as nursery:
        async with s:
            for i in range(10):
                nursery.start_soon(producer, s.clone(), i)
        got = sorted([value async for value in r])
    assert got == list(range(30))


@lowio_test
async def test_multiple_consumers_share_the_values() -> None:
    receivers: set[int] = set()
    received: list[int] = []

    async def consumer(channel: MemoryReceiveChannel[int], i: int) -> None:
        async for value in channel:
            receivers.add(i)
            received.append(value)

    async with lowio.open_nursery() as nursery:
        s, r = open_memory_channel[int](1)
        async with s:
            for i in range(5):
                nursery.start_soon(consumer, r, i)
            await wait_all_tasks_blocked()
            for i in range(10):
                await s.send(i)
    assert receivers == set(range(5))
    assert sorted(received) == list(range(10))


async def _expect(exc: type[BaseException], call: Any) -> None:
    with pytest.raises(exc):
        await call()


@pytest.mark.parametrize("sync_close", [False, True])
@lowio_test
async def test_close_rules(sync_close: bool) -> None:
    async def close(channel: Any) -> None:
        if sync_close:
            with assert_no_checkpoints():
                channel.close()
        else:
            await channel.aclose()

    # closing a send handle: its blocked sender gets ClosedResourceError
    s, r = open_memory_channel[None](0)
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(_expect, ClosedResourceError, lambda: s.send(None))
        await wait_all_tasks_blocked()
        await close(s)
    with pytest.raises(ClosedResourceError):
        s.send_nowait(None)
    with pytest.raises(ClosedResourceError):
        await s.send(None)
    # ... and, the last one, receivers get EndOfChannel
    with pytest.raises(EndOfChannel):
        r.receive_nowait()
    with pytest.raises(EndOfChannel):
        await r.receive()
    # a receiver already waiting gets it too
    s, r = open_memory_channel[None](0)
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(_expect, EndOfChannel, r.receive)
        await wait_all_tasks_blocked()
        await close(s)
    # closing the receive end: blocked senders get BrokenResourceError
    s, r = open_memory_channel[None](0)
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(_expect, BrokenResourceError, lambda: s.send(None))
        await wait_all_tasks_blocked()
        await close(r)
    with pytest.raises(BrokenResourceError):
        s.send_nowait(None)
    with pytest.raises(BrokenResourceError):
        await s.send(None)
    # closing a receive handle: its blocked receiver gets ClosedResourceError
    s, r = open_memory_channel[None](0)
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(_expect, ClosedResourceError, r.receive)
        await wait_all_tasks_blocked()
        await close(r)
    with pytest.raises(ClosedResourceError):
        r.receive_nowait()
    with pytest.raises(ClosedResourceError):
        await r.receive()


@lowio_test
async def test_closing_receivers_drops_the_buffer() -> None:
    s, r = open_memory_channel[int](5)
    s.send_nowait(1)
    s.send_nowait(2)
    r.close()
    assert s.statistics().current_buffer_used == 0
    with pytest.raises(BrokenResourceError):
        s.send_nowait(3)


@lowio_test
async def test_sync_context_managers_close() -> None:
    s, r = open_memory_channel[int](1)
    with s as s_entered, r as r_entered:
        assert s_entered is s and r_entered is r
    with pytest.raises(ClosedResourceError):
        s.send_nowait(1)
    with pytest.raises(ClosedResourceError):
        r.receive_nowait()
    s, r = open_memory_channel[int](1)
    async with s, r:
        pass
    assert s.statistics().open_send_channels == 0
    assert s.statistics().open_receive_channels == 0


@lowio_test
async def test_receive_clone_and_close() -> None:
    s, r = open_memory_channel[None](10)
    r2 = r.clone()
    r3 = r.clone()
    s.send_nowait(None)
    await r.aclose()
    with r2:
        pass
    for closed in (r, r2):
        with pytest.raises(ClosedResourceError):
            closed.clone()
    s.send_nowait(None)  # r3 is still open
    await r3.aclose()
    with pytest.raises(BrokenResourceError):
        s.send_nowait(None)


@lowio_test
async def test_send_clone_and_close() -> None:
    s, r = open_memory_channel[int](10)
    s2 = s.clone()
    s.close()
    s2.send_nowait(1)  # the clone still works
    assert r.receive_nowait() == 1
    with pytest.raises(WouldBlock):
        r.receive_nowait()
    s3 = s2.clone()
    s2.close()
    s3.send_nowait(2)
    s3.close()
    assert r.receive_nowait() == 2
    with pytest.raises(EndOfChannel):
        r.receive_nowait()


@lowio_test
async def test_closing_one_send_handle_wakes_only_its_senders() -> None:
    s1, r = open_memory_channel[str](0)
    s2 = s1.clone()
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(_expect, ClosedResourceError, lambda: s1.send("nope"))
        nursery.start_soon(s2.send, "ok")
        await wait_all_tasks_blocked()
        await s1.aclose()
        assert await r.receive() == "ok"


@lowio_test
async def test_closing_one_receive_handle_wakes_only_its_receivers() -> None:
    s, r1 = open_memory_channel[str](0)
    r2 = r1.clone()

    async def receive_ok() -> None:
        assert await r2.receive() == "ok"

    async with lowio.open_nursery() as nursery:
        nursery.start_soon(_expect, ClosedResourceError, r1.receive)
        nursery.start_soon(receive_ok)
        await wait_all_tasks_blocked()
        await r1.aclose()
        await s.send("ok")


@lowio_test
async def test_statistics() -> None:
    s, r = open_memory_channel[None](2)
    assert s.statistics() == r.statistics()
    assert s.statistics() == MemoryChannelStatistics(
        current_buffer_used=0,
        max_buffer_size=2,
        open_send_channels=1,
        open_receive_channels=1,
        tasks_waiting_send=0,
        tasks_waiting_receive=0,
        peak_buffer_used=0,
    )
    s.send_nowait(None)
    assert s.statistics().current_buffer_used == 1
    assert s.statistics().peak_buffer_used == 1
    s2 = s.clone()
    assert s.statistics().open_send_channels == 2
    await s.aclose()
    assert s2.statistics().open_send_channels == 1
    r2 = r.clone()
    assert s2.statistics().open_receive_channels == 2
    await r2.aclose()
    assert s2.statistics().open_receive_channels == 1
    async with lowio.open_nursery() as nursery:
        s2.send_nowait(None)
        assert s.statistics().current_buffer_used == 2
        nursery.start_soon(s2.send, None)
        nursery.start_soon(s2.send, None)
        await wait_all_tasks_blocked()
        assert s.statistics().tasks_waiting_send == 2
        nursery.cancel_scope.cancel()
    assert s.statistics().tasks_waiting_send == 0
    while True:
        try:
            r.receive_nowait()
        except WouldBlock:
            break
    assert s.statistics().current_buffer_used == 0
    assert s.statistics().peak_buffer_used == 2  # a high-water mark
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(r.receive)
        await wait_all_tasks_blocked()
        assert s.statistics().tasks_waiting_receive == 1
        nursery.cancel_scope.cancel()
    assert s.statistics().tasks_waiting_receive == 0


@lowio_test
async def test_fairness() -> None:
    # with no-one waiting, we can take back what we just sent
    s, r = open_memory_channel[int | None](1)
    s.send_nowait(1)
    assert r.receive_nowait() == 1
    # but a waiting receiver owns the next value, even though we run first
    result: list[int | None] = []

    async def receive() -> None:
        result.append(await r.receive())

    async with lowio.open_nursery() as nursery:
        nursery.start_soon(receive)
        await wait_all_tasks_blocked()
        s.send_nowait(2)
        with pytest.raises(WouldBlock):
            r.receive_nowait()
    assert result == [2]
    # and a waiting sender owns the space freed in the buffer
    s, r = open_memory_channel[int | None](1)
    s.send_nowait(1)
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(s.send, 2)
        await wait_all_tasks_blocked()
        assert r.receive_nowait() == 1
        with pytest.raises(WouldBlock):
            s.send_nowait(3)
        assert await r.receive() == 2


@lowio_test
async def test_waiters_are_served_in_fifo_order() -> None:
    s, r = open_memory_channel[int](0)
    got: list[tuple[int, int]] = []

    async def receiver(i: int) -> None:
        got.append((i, await r.receive()))

    async with lowio.open_nursery() as nursery:
        for i in range(5):
            nursery.start_soon(receiver, i)
            await wait_all_tasks_blocked()
        for value in range(5):
            s.send_nowait(value * 10)  # to the oldest waiting receiver
    # each receiver got the value its place in the queue gave it; they ran
    # (and appended) in one batch, in no promised order
    assert sorted(got) == [(i, i * 10) for i in range(5)]

    # senders, with a buffer: values come out in the order the sends began
    s, r = open_memory_channel[int](2)
    async with lowio.open_nursery() as nursery:
        for i in range(6):
            nursery.start_soon(s.send, i)
            await wait_all_tasks_blocked()
        assert s.statistics().tasks_waiting_send == 4
        assert [await r.receive() for _ in range(6)] == list(range(6))


@lowio_test
async def test_cancelled_before_the_operation_does_nothing() -> None:
    # a cancelled scope: send and receive raise at their cancel point, even
    # when they could complete at once, and change nothing
    s, r = open_memory_channel[int](1)
    with lowio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(lowio.Cancelled):
            await s.send(1)
    assert s.statistics().current_buffer_used == 0
    s.send_nowait(2)
    with lowio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(lowio.Cancelled):
            await r.receive()
    assert r.receive_nowait() == 2
    # ... even on closed handles or an ended channel (cancel point first)
    s.close()
    with lowio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(lowio.Cancelled):
            await r.receive()
        with pytest.raises(lowio.Cancelled):
            await s.send(3)


@lowio_test
async def test_cancelled_while_waiting_leaves_the_channel_unchanged() -> None:
    s, r = open_memory_channel[str](0)
    # a cancelled blocked sender's value is never delivered
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(_expect, lowio.Cancelled, lambda: s.send("cancelled"))
        await wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    with pytest.raises(WouldBlock):
        r.receive_nowait()
    # a cancelled blocked receiver takes nothing: the value goes to the next
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(_expect, lowio.Cancelled, r.receive)
        await wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert r.statistics().tasks_waiting_receive == 0
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(s.send, "kept")
        await wait_all_tasks_blocked()
        assert r.receive_nowait() == "kept"


@lowio_test
async def test_a_value_handed_to_a_receiver_being_cancelled_is_not_lost() -> None:
    # the sender hands the value over, then the receiver's scope is
    # cancelled before it runs: receive still returns the value (the
    # cancellation comes at the next checkpoint)
    s, r = open_memory_channel[str](0)
    got: list[str] = []
    async with lowio.open_nursery() as nursery:
        scope = lowio.CancelScope()

        async def receiver() -> None:
            with scope:
                got.append(await r.receive())
                await checkpoint()
                got.append("not reached")

        nursery.start_soon(receiver)
        await wait_all_tasks_blocked()
        s.send_nowait("handed over")
        scope.cancel()
    assert got == ["handed over"]
    assert scope.cancelled_caught
    # the same for a sender whose value was taken by receive_nowait
    s, r = open_memory_channel[str](0)
    outcome: list[str] = []
    async with lowio.open_nursery() as nursery:
        send_scope = lowio.CancelScope()

        async def sender() -> None:
            with send_scope:
                await s.send("taken")
                outcome.append("send returned")

        nursery.start_soon(sender)
        await wait_all_tasks_blocked()
        assert r.receive_nowait() == "taken"
        send_scope.cancel()
    assert outcome == ["send returned"]  # the send did happen: no Cancelled


@lowio_test
async def test_cancellation_storm_never_loses_or_duplicates() -> None:
    # many senders and receivers, cancelled at random points; every value
    # is received at most once, and exactly the values whose send returned
    import random

    rng = random.Random(1)
    s, r = open_memory_channel[int](rng.choice([0, 1, 3]))
    sent: list[int] = []
    received: list[int] = []

    async def sender(value: int) -> None:
        with lowio.CancelScope() as scope:
            if rng.random() < 0.3:
                scope.cancel()
            for _ in range(rng.randrange(3)):
                await checkpoint()
            await s.send(value)
            sent.append(value)

    async def receiver() -> None:
        while True:
            with lowio.move_on_after(rng.choice([0, 1e-4, 1])):
                received.append(await r.receive())

    async with lowio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(receiver)
        async with lowio.open_nursery() as senders:
            for value in range(300):
                senders.start_soon(sender, value)
        while r.statistics().current_buffer_used:
            await checkpoint()
        await wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert len(received) == len(set(received))
    assert sorted(received) == sorted(sent)
    assert 0 < len(sent) < 300


@lowio_test
async def test_send_and_receive_outside_blocking_paths_are_checkpoints() -> None:
    s, r = open_memory_channel[int](1)
    for op in (lambda: s.send(1), r.receive):
        with assert_checkpoints():
            await op()
    # EndOfChannel: only a cancel point (as trio)
    s.close()
    with pytest.raises(EndOfChannel):
        await r.receive()


def test_outside_a_run() -> None:
    s, r = open_memory_channel[int](1)
    with pytest.raises(RuntimeError, match=r"inside lowio\.run"):
        s.send(1).send(None)
    with pytest.raises(RuntimeError, match=r"inside lowio\.run"):
        r.receive().send(None)
    s.send_nowait(5)  # the sync operations work anywhere
    assert r.receive_nowait() == 5


@lowio_test
async def test_trio_code_runs_unchanged_shapes() -> None:
    # the async iteration protocol and aclose of the abc
    s, r = open_memory_channel[int](0)

    async def produce() -> None:
        async with s:
            for i in range(3):
                await s.send(i)

    async with lowio.open_nursery() as nursery:
        nursery.start_soon(produce)
        assert [v async for v in r] == [0, 1, 2]
    with pytest.raises(StopAsyncIteration):
        await r.__anext__()
