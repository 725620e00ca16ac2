"""wait_readable / wait_writable / notify_closing: trio's contract, on
socketpairs, TCP pairs and pipes (see also test_io_waits_edge.py)."""

from __future__ import annotations

import errno
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _io_wait_helpers import (
    KINDS,
    Channel,
    drain_socket,
    fill_socket,
    io_manager,
    make_channel,
    pipe_channel,
    socket_at,
)
from conftest import in_both_orders

import lowio
from lowio import BusyResourceError, ClosedResourceError
from lowio.lowlevel import current_statistics, notify_closing, wait_readable, wait_writable
from lowio.testing import assert_checkpoints, assert_no_checkpoints, wait_all_tasks_blocked

Pair = tuple[socket.socket, socket.socket]


@pytest.fixture(params=KINDS)
def channel(request: pytest.FixtureRequest) -> Iterator[Channel]:
    yield from make_channel(request.param, request)


class IOWaitCounter(lowio.lowlevel.Instrument):
    """Counts the run loop's polls."""

    def __init__(self) -> None:
        self.polls = 0

    def after_io_wait(self, timeout: float) -> None:
        self.polls += 1


def waiting() -> tuple[int, int]:
    stats = current_statistics().io_statistics
    return stats.tasks_waiting_read, stats.tasks_waiting_write


async def make_writable_edge_cached(channel: Channel) -> None:
    """Fills the channel, then drains it until an EPOLLOUT edge arrives
    while nobody waits (so that the write side is READY in the cache)."""
    state = io_manager()._states[channel.wfd]
    channel.fill()
    for _ in range(200):
        channel.drain()
        await lowio.sleep(0.001)
        if state.write_ready:
            return
    raise AssertionError("no writable edge was cached")


# ---- always a checkpoint ----


def test_wait_readable_is_a_checkpoint_on_every_path(channel: Channel) -> None:
    async def main() -> None:
        # 1. it has to park: another task writes later
        async with lowio.open_nursery() as nursery:

            async def feed() -> None:
                await wait_all_tasks_blocked()
                channel.write(b"a")

            nursery.start_soon(feed)
            with assert_checkpoints():
                await wait_readable(channel.r)
        assert channel.drain() == b"a"
        state = io_manager()._states[channel.rfd]

        # 2. already readable, nothing cached: the epoll_ctl(MOD) path
        channel.write(b"b")
        assert not state.read_ready
        with assert_checkpoints():
            await wait_readable(channel.r)
        assert channel.drain() == b"b"

        # 3. an edge arrived while nobody waited: the READY fast path
        channel.write(b"c")
        await wait_all_tasks_blocked()
        assert state.read_ready
        with assert_checkpoints():
            await wait_readable(channel.r)
        assert not state.read_ready
        assert channel.drain() == b"c"

    lowio.run(main)


def test_wait_writable_is_a_checkpoint_on_every_path(channel: Channel) -> None:
    async def main() -> None:
        # 1. a fresh fd that is writable: registered, then reported
        with assert_checkpoints():
            await wait_writable(channel.w)

        # 2. an edge cached while nobody waited: the READY fast path
        await make_writable_edge_cached(channel)
        state = io_manager()._states[channel.wfd]
        with assert_checkpoints():
            await wait_writable(channel.w)
        assert not state.write_ready

        # 3. full: it parks until another task drains the other end
        channel.fill()
        async with lowio.open_nursery() as nursery:

            async def drain_forever() -> None:
                await wait_all_tasks_blocked()
                while True:
                    channel.drain()
                    await lowio.sleep(0.001)

            nursery.start_soon(drain_forever)
            with lowio.fail_after(1), assert_checkpoints():
                await wait_writable(channel.w)
            nursery.cancel_scope.cancel()

    lowio.run(main)


@pytest.mark.parametrize("direction", ["read", "write"])
def test_a_cancelled_scope_wins_on_every_path(channel: Channel, direction: str) -> None:
    """Like trio: in a cancelled scope the wait raises Cancelled even when
    the fd is ready, cached READY or not."""

    async def main() -> None:
        wait: Callable[[Any], Any] = wait_readable if direction == "read" else wait_writable
        fd = channel.r if direction == "read" else channel.w
        if direction == "read":
            channel.write(b"x")
        paths = ["fresh", "cached", "parked"]
        for path in paths:
            if path == "cached":
                await wait(fd)  # registered
                if direction == "read":
                    channel.write(b"y")
                    await wait_all_tasks_blocked()
                    assert io_manager()._states[channel.rfd].read_ready
                else:
                    await make_writable_edge_cached(channel)
            elif path == "parked":
                channel.drain() if direction == "read" else channel.fill()
            with lowio.CancelScope() as scope:
                scope.cancel()
                await wait(fd)
            assert scope.cancelled_caught, path
            assert waiting() == (0, 0)

    lowio.run(main)


# ---- readiness ----


def test_a_partial_read_never_hangs_the_next_wait(channel: Channel) -> None:
    async def main() -> None:
        payload = bytes(range(100))
        assert channel.write(payload) == 100
        got = b""
        while len(got) < 100:
            with lowio.fail_after(1):
                await wait_readable(channel.r)
            got += channel.read(10)
        assert got == payload
        # nothing left: now the wait blocks
        with lowio.move_on_after(0.05) as scope:
            await wait_readable(channel.r)
        assert scope.cancelled_caught

    lowio.run(main)


def test_a_partial_write_drain_never_hangs_the_next_wait(channel: Channel) -> None:
    """The writable side: after a fill, each partial drain by the peer lets
    the next wait_writable return (or keeps it parked until there is room)."""

    async def main() -> None:
        await wait_writable(channel.w)
        total = channel.fill()
        async with lowio.open_nursery() as nursery:

            async def reader() -> None:
                got = 0
                while got < total:
                    try:
                        got += len(channel.read(1000))
                    except BlockingIOError:
                        await wait_readable(channel.r)

            nursery.start_soon(reader)
            with lowio.fail_after(1):
                await wait_writable(channel.w)
            assert channel.write(b"z") == 1

    lowio.run(main)


@pytest.mark.parametrize("busy_reader", [False, True])
def test_a_self_draining_reader_parks_instead_of_spinning(
    channel: Channel, busy_reader: bool
) -> None:
    """A reader that waits, then reads until EAGAIN: one wake-up per
    message.  If more data comes while it is busy (an edge with nobody
    waiting, so READY in the cache), one more wake-up, never a spin."""
    counter = IOWaitCounter()

    async def main() -> None:
        wakeups = 0
        received = bytearray()

        async def reader() -> None:
            nonlocal wakeups
            while True:
                await wait_readable(channel.r)
                wakeups += 1
                if busy_reader:
                    await lowio.sleep(0.002)
                received.extend(channel.drain())

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(reader)
            await wait_all_tasks_blocked()
            assert wakeups == 0
            expected = bytearray()
            rounds = 20
            for i in range(rounds):
                for part in (b"%d," % i, b"%d;" % i) if busy_reader else (b"%d," % i,):
                    channel.write(part)
                    expected += part
                    await wait_all_tasks_blocked()
                with lowio.fail_after(1):
                    while received != expected:
                        await lowio.sleep(0.001)
            if busy_reader:
                assert rounds <= wakeups <= 2 * rounds + 1
            else:
                assert rounds <= wakeups <= rounds + 1
            # idle with the reader parked: no wake-ups, and the loop sleeps
            await wait_all_tasks_blocked()
            before, polls = wakeups, counter.polls
            await lowio.sleep(0.1)
            assert wakeups == before
            assert counter.polls - polls <= 5
            assert waiting() == (1, 0)
            nursery.cancel_scope.cancel()
        assert waiting() == (0, 0)

    lowio.run(main, instruments=[counter])


def test_read_and_write_waiters_on_one_fd_are_independent(pair: Pair) -> None:
    a, b = pair

    async def main() -> None:
        fill_socket(a)
        with lowio.fail_after(1):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(wait_readable, a)
                nursery.start_soon(wait_writable, a)
                await wait_all_tasks_blocked()
                assert waiting() == (1, 1)
                b.send(b"x")  # wakes the reader only
                await wait_all_tasks_blocked()
                assert waiting() == (0, 1)
                drain_socket(b)  # now the writer
        assert waiting() == (0, 0)

    lowio.run(main)


# ---- one waiter per fd and direction ----


def test_two_waiters_on_one_fd_and_direction_are_busy(pair: Pair) -> None:
    a, b = pair

    async def main() -> None:
        fill_socket(a)
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(wait_readable, a)
            nursery.start_soon(wait_writable, a)
            await wait_all_tasks_blocked()
            for source in (a, a.fileno()):
                with lowio.fail_after(1), pytest.raises(BusyResourceError):
                    await wait_readable(source)
                with lowio.fail_after(1), pytest.raises(BusyResourceError):
                    await wait_writable(source)
            assert waiting() == (1, 1)
            nursery.cancel_scope.cancel()
        # the waiters are gone: waiting again is fine
        b.send(b"x")
        drain_socket(b)
        with lowio.fail_after(1):
            await wait_readable(a)
            await wait_writable(a)

    lowio.run(main)


# ---- notify_closing ----


@pytest.mark.parametrize("by_fileno", [False, True])
def test_notify_closing_wakes_both_directions(by_fileno: bool) -> None:
    async def main() -> None:
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        fd = a.fileno()
        fill_socket(a)
        results: list[str] = []

        async def waiter(wait: Callable[[Any], Any]) -> None:
            with pytest.raises(ClosedResourceError):
                await wait(fd if by_fileno else a)
            results.append(wait.__name__)

        try:
            with lowio.fail_after(1):
                async with lowio.open_nursery() as nursery:
                    nursery.start_soon(waiter, wait_readable)
                    nursery.start_soon(waiter, wait_writable)
                    await wait_all_tasks_blocked()
                    with assert_no_checkpoints():
                        notify_closing(fd if by_fileno else a)
                    a.close()
            assert sorted(results) == ["wait_readable", "wait_writable"]
            assert waiting() == (0, 0)

            # the number comes back as another socket: its own readiness
            c, d = socket_at(fd)
            with c, d:
                with lowio.fail_after(1):
                    await wait_writable(c)
                with lowio.move_on_after(0.05) as scope:
                    await wait_readable(c)
                assert scope.cancelled_caught
                d.send(b"new")
                with lowio.fail_after(1):
                    await wait_readable(c)
                assert c.recv(10) == b"new"
        finally:
            a.close()
            b.close()

    lowio.run(main)


@pytest.mark.parametrize("direction", ["read", "write"])
def test_notify_closing_during_the_ready_fast_path(direction: str) -> None:
    """A wait that found READY in the cache is still working during its
    checkpoint: notify_closing then makes it raise ClosedResourceError, as
    a parked wait would (trio's contract).  The waiter and the closer start
    in one batch, in either order: a notify_closing before the wait began
    only forgets the fd, and the wait then finds it ready."""

    def scenario() -> bool:
        a, b = socket.socketpair()
        with a, b:
            a.setblocking(False)
            b.setblocking(False)
            return lowio.run(closing_during_the_checkpoint, a, b)

    async def closing_during_the_checkpoint(a: socket.socket, b: socket.socket) -> bool:
        io = io_manager()
        if direction == "read":
            wait: Callable[[Any], Any] = wait_readable
            b.send(b"x")
            await wait_readable(a)
            b.send(b"y")
            await wait_all_tasks_blocked()
            assert io._states[a.fileno()].read_ready
        else:
            wait = wait_writable
            channel = Channel("socketpair", b, a, b.recv, a.send)
            await wait_writable(a)
            await make_writable_edge_cached(channel)
        outcome: list[str] = []
        during: list[bool] = []

        async def waiter() -> None:
            try:
                await wait(a)
            except ClosedResourceError:
                outcome.append("closed")
            else:
                outcome.append("returned")

        async def closer() -> None:
            state = io._states.get(a.fileno())
            taken = state is not None and (state.read_task or state.write_task) is not None
            during.append(taken)  # the waiter is in its checkpoint
            notify_closing(a)

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            nursery.start_soon(closer)
        assert outcome == (["closed"] if during[0] else ["returned"])
        assert waiting() == (0, 0)
        return during[0]

    in_both_orders(scenario)


def test_notify_closing_without_closing_then_wait_again(pair: Pair) -> None:
    """notify_closing forgets the fd; if it stays open it can be waited on
    again from scratch."""
    a, b = pair

    async def main() -> None:
        async with lowio.open_nursery() as nursery:

            async def reader() -> None:
                with pytest.raises(ClosedResourceError):
                    await wait_readable(a)

            nursery.start_soon(reader)
            await wait_all_tasks_blocked()
            notify_closing(a)
        assert a.fileno() not in io_manager()._states
        with lowio.move_on_after(0.05) as scope:
            await wait_readable(a)
        assert scope.cancelled_caught
        b.send(b"x")
        with lowio.fail_after(1):
            await wait_readable(a)

    lowio.run(main)


def test_notify_closing_on_an_unknown_fd_is_a_noop(pair: Pair) -> None:
    a, _ = pair

    async def main() -> None:
        with assert_no_checkpoints():
            notify_closing(a)
            notify_closing(a.fileno())
        with pytest.raises(TypeError):
            notify_closing("3")
        assert waiting() == (0, 0)

    lowio.run(main)


def test_notify_closing_wakes_both_directions_on_every_kind(channel: Channel) -> None:
    async def main() -> None:
        channel.fill()
        async with lowio.open_nursery() as nursery:

            async def waiter(wait: Callable[[Any], Any], fd: object) -> None:
                with pytest.raises(ClosedResourceError):
                    await wait(fd)

            nursery.start_soon(waiter, wait_writable, channel.w)
            nursery.start_soon(waiter, wait_readable, channel.w)
            await wait_all_tasks_blocked()
            assert waiting() == (1, 1)
            notify_closing(channel.w)
        assert waiting() == (0, 0)

    lowio.run(main)


# ---- bad fds ----


def closed_fd() -> int:
    s = socket.socket()
    fd = s.fileno()
    s.close()
    return fd


def test_closed_fds_raise_ebadf() -> None:
    async def main() -> None:
        for wait in (wait_readable, wait_writable):
            with pytest.raises(OSError) as info:
                await wait(closed_fd())
            assert info.value.errno == errno.EBADF
            s = socket.socket()
            s.close()
            with pytest.raises(OSError) as info:
                await wait(s)
            assert info.value.errno == errno.EBADF
            with pytest.raises(OSError) as info:
                await wait(-1)
            assert info.value.errno == errno.EBADF
        assert waiting() == (0, 0)

    lowio.run(main)


def test_a_known_fd_closed_without_notify_raises_ebadf() -> None:
    async def main() -> None:
        a, b = socket.socketpair()
        a.setblocking(False)
        with b:
            fd = a.fileno()
            await wait_writable(a)
            assert fd in io_manager()._states
            a.close()  # no notify_closing
            for wait in (wait_readable, wait_writable):
                with pytest.raises(OSError) as info:
                    await wait(fd)
                assert info.value.errno == errno.EBADF
            # the number comes back: it works as the new socket
            c, d = socket_at(fd)
            with c, d:
                d.send(b"x")
                with lowio.fail_after(1):
                    await wait_readable(c)
                    await wait_writable(c)
                assert c.recv(1) == b"x"

    lowio.run(main)


def test_regular_files_and_dev_null_raise_eperm() -> None:
    async def main() -> None:
        with tempfile.TemporaryFile() as f, open(os.devnull, "rb") as null:
            for source in (f, f.fileno(), null, null.fileno()):
                for wait in (wait_readable, wait_writable):
                    with pytest.raises(OSError) as info:
                        await wait(source)
                    assert info.value.errno == errno.EPERM
            assert f.fileno() not in io_manager()._states
            assert waiting() == (0, 0)

    lowio.run(main)


class BadFileno:
    def fileno(self) -> str:
        return "3"


@pytest.mark.parametrize("bad", ["3", 3.0, None, b"3", object(), True, BadFileno()], ids=repr)
def test_wrong_types_raise_type_error(bad: object) -> None:
    async def main() -> None:
        with pytest.raises(TypeError):
            await wait_readable(bad)
        with pytest.raises(TypeError):
            await wait_writable(bad)
        with pytest.raises(TypeError):
            notify_closing(bad)

    lowio.run(main)


def test_outside_a_run_is_a_runtime_error(pair: Pair) -> None:
    a, _ = pair
    for wait in (wait_readable, wait_writable):
        coro = wait(a)
        with pytest.raises(RuntimeError):
            coro.send(None)
        coro.close()
    with pytest.raises(RuntimeError):
        notify_closing(a)


def test_nothing_happens_until_awaited(pair: Pair) -> None:
    """The waits return the I/O manager's generator, not a coroutine: as
    with trio's async functions, calling one does nothing, raises nothing."""
    a, b = pair

    async def main() -> None:
        bad = wait_readable(object())  # no TypeError yet
        never = wait_readable(a.fileno())
        assert current_statistics().io_statistics.tasks_waiting_read == 0
        never.close()  # type: ignore[attr-defined]
        with pytest.raises(TypeError):
            await bad
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(wait_readable, a.fileno())  # a valid async callable
            await wait_all_tasks_blocked()
            assert current_statistics().io_statistics.tasks_waiting_read == 1
            b.send(b"x")
        assert a.recv(1) == b"x"

    lowio.run(main)


# ---- kinds of fds ----


@pytest.mark.parametrize("kind", ["socketpair", "tcp"])
def test_blocking_sockets_are_accepted(kind: str) -> None:
    if kind == "socketpair":
        a, b = socket.socketpair()
    else:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            a = socket.create_connection(listener.getsockname())
            b, _ = listener.accept()
    with a, b:
        assert a.getblocking()

        async def main() -> None:
            with lowio.fail_after(1):
                await wait_writable(a)
                async with lowio.open_nursery() as nursery:
                    nursery.start_soon(wait_readable, a)
                    await wait_all_tasks_blocked()
                    b.send(b"x")
            assert a.recv(1) == b"x"

        lowio.run(main)
        assert a.getblocking()


def test_dup_fds_are_separate_waiters(pair: Pair) -> None:
    a, b = pair

    async def main() -> None:
        with a.dup() as a2:
            woke: list[str] = []

            async def reader(sock: socket.socket, name: str) -> None:
                await wait_readable(sock)
                woke.append(name)

            with lowio.fail_after(1):
                # both numbers wait on the same file: not busy, both wake
                async with lowio.open_nursery() as nursery:
                    nursery.start_soon(reader, a, "a")
                    nursery.start_soon(reader, a2, "a2")
                    await wait_all_tasks_blocked()
                    assert waiting() == (2, 0)
                    b.send(b"x")
                assert sorted(woke) == ["a", "a2"]
                assert drain_socket(a) == b"x"

                # closing the dup (notified) leaves the original alone
                async with lowio.open_nursery() as nursery:
                    nursery.start_soon(reader, a, "a again")

                    async def closed_reader() -> None:
                        with pytest.raises(ClosedResourceError):
                            await wait_readable(a2)

                    nursery.start_soon(closed_reader)
                    await wait_all_tasks_blocked()
                    notify_closing(a2)
                    a2.close()
                    await wait_all_tasks_blocked()
                    assert waiting() == (1, 0)
                    b.send(b"y")
                assert woke[-1] == "a again"
                assert drain_socket(a) == b"y"

    lowio.run(main)


def test_peer_close_wakes_a_reader(channel: Channel) -> None:
    async def main() -> None:
        with lowio.fail_after(1):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(wait_readable, channel.r)
                await wait_all_tasks_blocked()
                assert waiting() == (1, 0)
                if isinstance(channel.w, socket.socket):
                    channel.w.shutdown(socket.SHUT_WR)
                else:
                    os.close(channel.wfd)
        assert channel.read(10) == b""

    lowio.run(main)


def test_reader_close_wakes_a_blocked_pipe_writer() -> None:
    channel, close = pipe_channel()
    try:

        async def main() -> None:
            channel.fill()
            with lowio.fail_after(1):
                async with lowio.open_nursery() as nursery:
                    nursery.start_soon(wait_writable, channel.w)
                    await wait_all_tasks_blocked()
                    assert waiting() == (0, 1)
                    os.close(channel.rfd)
            with pytest.raises(BrokenPipeError):
                channel.write(b"x")

        lowio.run(main)
    finally:
        close()


# ---- statistics and cancellation ----


def test_statistics_count_waiters() -> None:
    async def main() -> None:
        socks = [s for _ in range(3) for s in socket.socketpair()]
        for s in socks:
            s.setblocking(False)
        a1, b1, a2, b2, a3, _b3 = socks
        closed: list[object] = []

        async def wait_noting_close(wait: Callable[[Any], Any], sock: socket.socket) -> None:
            try:
                await wait(sock)
            except ClosedResourceError:
                closed.append(sock)

        try:
            base = waiting()
            assert base == (0, 0)
            fill_socket(a1)
            fill_socket(a3)
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(wait_writable, a1)
                nursery.start_soon(wait_readable, a2)
                nursery.start_soon(wait_noting_close, wait_readable, b2)
                nursery.start_soon(wait_writable, a3)
                nursery.start_soon(wait_readable, a3)
                await wait_all_tasks_blocked()
                assert waiting() == (3, 2)
                b2.send(b"x")  # wakes the reader of a2
                await wait_all_tasks_blocked()
                assert waiting() == (2, 2)
                drain_socket(b1)  # wakes the writer of a1
                await wait_all_tasks_blocked()
                assert waiting() == (2, 1)
                notify_closing(b2)  # wakes the reader of b2
                await wait_all_tasks_blocked()
                assert closed == [b2]
                assert waiting() == (1, 1)
                nursery.cancel_scope.cancel()
            assert waiting() == base
            # a wait that raised before parking leaves nothing behind
            with pytest.raises(OSError):
                await wait_readable(closed_fd())
            assert waiting() == base
        finally:
            for s in socks:
                s.close()

    lowio.run(main)


@pytest.mark.parametrize("direction", ["read", "write"])
def test_cancelling_a_blocked_wait_leaves_no_waiter(pair: Pair, direction: str) -> None:
    a, b = pair

    async def main() -> None:
        wait: Callable[[Any], Any] = wait_readable if direction == "read" else wait_writable
        if direction == "write":
            fill_socket(a)
        # by a deadline
        with lowio.move_on_after(0.02) as scope:
            await wait(a)
        assert scope.cancelled_caught
        assert waiting() == (0, 0)
        state = io_manager()._states[a.fileno()]
        assert state.read_task is None and state.write_task is None
        # by another task
        inner = lowio.CancelScope()
        async with lowio.open_nursery() as nursery:

            async def waiter() -> None:
                with inner:
                    await wait(a)

            nursery.start_soon(waiter)
            await wait_all_tasks_blocked()
            assert sum(waiting()) == 1
            inner.cancel()
        assert inner.cancelled_caught
        assert waiting() == (0, 0)
        # and the next wait works and gets the next readiness
        with lowio.fail_after(1):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(wait, a)
                await wait_all_tasks_blocked()
                with pytest.raises(BusyResourceError):
                    await wait(a)
                if direction == "read":
                    b.send(b"x")
                else:
                    drain_socket(b)
        assert waiting() == (0, 0)

    lowio.run(main)


def test_cancel_and_readiness_in_the_same_tick(pair: Pair) -> None:
    """Data arrives and the scope is cancelled before the loop polls: the
    waiter is cancelled, and the readiness is not lost."""
    a, b = pair

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            scope = lowio.CancelScope()

            async def reader() -> None:
                with scope:
                    await wait_readable(a)

            nursery.start_soon(reader)
            await wait_all_tasks_blocked()
            b.send(b"x")
            scope.cancel()
        assert scope.cancelled_caught
        with lowio.fail_after(1):
            await wait_readable(a)
        assert a.recv(1) == b"x"

    lowio.run(main)


def test_waiting_on_a_closed_fd_raises_the_plain_ebadf() -> None:
    async def main() -> None:
        for wait in (lowio.lowlevel.wait_readable, lowio.lowlevel.wait_writable):
            with socket.socket() as sock:
                fd = sock.fileno()
            with pytest.raises(OSError, match=r"^\[Errno 9\] Bad file descriptor$"):
                await wait(fd)

    lowio.run(main)
