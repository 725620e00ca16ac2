"""wait_readable / wait_writable, the hard cases: closes without
notify_closing and reused fd numbers, streaming through small buffers, the
owned fast path (its epoll_ctl count) and fork."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _io_wait_helpers import (
    drain_socket,
    fill_socket,
    io_manager,
    shrink_pipe,
    socket_at,
)

import lowio
from lowio.lowlevel import current_statistics, notify_closing, wait_readable, wait_writable
from lowio.poll import flags
from lowio.testing import assert_checkpoints, wait_all_tasks_blocked

Pair = tuple[socket.socket, socket.socket]


def waiting() -> tuple[int, int]:
    stats = current_statistics().io_statistics
    return stats.tasks_waiting_read, stats.tasks_waiting_write


class PollCounter(lowio.lowlevel.Instrument):
    def __init__(self) -> None:
        self.polls = 0

    def after_io_wait(self, timeout: float) -> None:
        self.polls += 1


def send_quietly(sock: socket.socket, data: bytes) -> None:
    """Sends unless the peer is gone (EPIPE once the other end closed)."""
    with contextlib.suppress(OSError):
        sock.send(data)


async def wait_allowing_oserror(wait: Callable[[Any], Any], source: object) -> None:
    """trio's acceptable outcomes for a wait on an fd closed under it:
    it returns, raises OSError, or stays parked until cancelled."""
    with contextlib.suppress(OSError):
        await wait(source)


# ---- closes without notify_closing ----


@pytest.mark.parametrize("how", ["cancel", "move_on_after"])
@pytest.mark.parametrize("with_dup", [False, True])
def test_unnotified_close_under_a_waiter_stays_cancellable(with_dup: bool, how: str) -> None:
    async def main() -> None:
        a, b = socket.socketpair()
        a.setblocking(False)
        dup = a.dup() if with_dup else None

        async def close_under_it() -> None:
            await wait_all_tasks_blocked()
            a.close()
            send_quietly(b, b"x")  # the old file (if a dup keeps it) gets data
            await wait_all_tasks_blocked()

        try:
            with lowio.fail_after(1):
                async with lowio.open_nursery() as nursery:
                    if how == "cancel":
                        nursery.start_soon(wait_allowing_oserror, wait_readable, a)
                        await close_under_it()
                        nursery.cancel_scope.cancel()
                    else:
                        nursery.start_soon(close_under_it)
                        with lowio.move_on_after(0.05):
                            await wait_allowing_oserror(wait_readable, a)
            assert waiting() == (0, 0)
        finally:
            a.close()
            b.close()
            if dup is not None:
                dup.close()

    lowio.run(main)


def test_unnotified_close_with_both_directions_waiting() -> None:
    """trio's case: a reader and a writer on one fd (a dup keeps the file
    alive), the fd closed, then one waiter woken by I/O and the other
    cancelled."""

    async def main() -> None:
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        with a, b, a.dup() as a2:
            fill_socket(a)
            woke: list[bool] = []

            async def a2_reader() -> None:
                await wait_readable(a2)
                woke.append(True)

            with lowio.fail_after(1):
                async with lowio.open_nursery() as nursery:
                    nursery.start_soon(wait_allowing_oserror, wait_readable, a)
                    nursery.start_soon(wait_allowing_oserror, wait_writable, a)
                    nursery.start_soon(a2_reader)
                    await wait_all_tasks_blocked()
                    a.close()
                    b.send(b"x")
                    while not woke:
                        await lowio.sleep(0.001)
                    await wait_all_tasks_blocked()
                    nursery.cancel_scope.cancel()
            assert waiting() == (0, 0)

    lowio.run(main)


@pytest.mark.parametrize("with_dup", [False, True])
def test_a_reused_fd_number_gets_the_new_sockets_readiness(with_dup: bool) -> None:
    counter = PollCounter()

    async def main() -> None:
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        fd = a.fileno()
        dup = a.dup() if with_dup else None
        try:
            # a waiter parks, the socket is closed under it, it is cancelled
            with lowio.move_on_after(0.02) as scope:
                await wait_readable(a)
            assert scope.cancelled_caught
            b.send(b"old")
            await wait_all_tasks_blocked()  # an edge, for the old file
            a.close()
            c, d = socket_at(fd)
            with c, d:
                send_quietly(b, b"older")  # more edges for the old file
                await wait_all_tasks_blocked()
                # The readiness cache may have kept one READY edge of the old
                # file: at most one early return (trio allows spurious
                # wake-ups after an unnotified close); then the new socket's
                # own readiness, whatever the old file does.
                spurious = 0
                while True:
                    with lowio.move_on_after(0.05) as scope:
                        await wait_readable(c)
                    if scope.cancelled_caught:
                        break
                    spurious += 1
                    assert spurious <= 1
                    with pytest.raises(BlockingIOError):
                        c.recv(1)
                async with lowio.open_nursery() as nursery:
                    nursery.start_soon(wait_readable, c)
                    await wait_all_tasks_blocked()
                    send_quietly(b, b"oldest")
                    await wait_all_tasks_blocked()
                    assert waiting() == (1, 0)  # the old file's edge is dropped
                    d.send(b"new")
                with lowio.fail_after(1):
                    await wait_readable(c)
                assert c.recv(10) == b"new"
                # the stale registration does not make the loop spin
                polls = counter.polls
                await lowio.sleep(0.05)
                assert counter.polls - polls <= 5
        finally:
            a.close()
            b.close()
            if dup is not None:
                dup.close()

    lowio.run(main, instruments=[counter])


def test_a_stale_registration_that_stays_readable_does_not_spin() -> None:
    """A dup keeps a closed fd's file registered (epoll cannot drop it) and
    that file stays readable: edge-triggered, it is reported once, not at
    every poll."""
    counter = PollCounter()

    async def main() -> None:
        a, b = socket.socketpair()
        a.setblocking(False)
        with b, a.dup() as a2:
            await wait_writable(a)  # registered (with EPOLLOUT)
            a.close()
            b.send(b"unread")  # a2 stays readable, a2 stays writable
            await wait_all_tasks_blocked()
            polls = counter.polls
            await lowio.sleep(0.1)
            assert counter.polls - polls <= 5
            assert a2.recv(10) == b"unread"

    lowio.run(main, instruments=[counter])


# ---- streaming ----


def small_tcp_pair(size: int) -> Pair:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        client.connect(listener.getsockname())
        server, _ = listener.accept()
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
    return client, server


def small_socketpair(size: int) -> Pair:
    a, b = socket.socketpair()
    for s in (a, b):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        s.setblocking(False)
    return a, b


class End:
    """One end of a duplex byte stream: ``rfd`` reads, ``wfd`` writes;
    ``pipe_fds`` holds the still-open fds of a pipe-made stream."""

    def __init__(
        self, source: object, rfd: int, wfd: int, pipe_fds: set[int] | None = None
    ) -> None:
        self.source = source
        self.rfd = rfd
        self.wfd = wfd
        self.pipe_fds = pipe_fds


@pytest.fixture(params=["socketpair", "tcp", "pipes"])
def duplex(request: pytest.FixtureRequest) -> Iterator[tuple[End, End]]:
    kind = request.param
    if kind == "pipes":
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        for fd in (r1, w1, r2, w2):
            os.set_blocking(fd, False)
        shrink_pipe(w1)
        shrink_pipe(w2)
        fds = {r1, w1, r2, w2}
        try:
            yield End(None, r1, w2, fds), End(None, r2, w1, fds)
        finally:
            for fd in fds:
                os.close(fd)
        return
    a, b = small_socketpair(4096) if kind == "socketpair" else small_tcp_pair(8192)
    with a, b:
        yield End(a, a.fileno(), a.fileno()), End(b, b.fileno(), b.fileno())


def write_eof(end: End) -> None:
    if end.pipe_fds is not None:
        notify_closing(end.wfd)
        end.pipe_fds.discard(end.wfd)
        os.close(end.wfd)
    else:
        end.source.shutdown(socket.SHUT_WR)  # type: ignore[attr-defined]


@pytest.mark.parametrize("style", ["public", "public-wait-first", "owned"])
def test_a_megabyte_each_way_through_small_buffers(duplex: tuple[End, End], style: str) -> None:
    size = 1 << 20
    rng = random.Random(1234)
    payloads = [rng.randbytes(size), rng.randbytes(size)]

    async def main() -> None:
        io = io_manager()
        if style == "owned":
            inner_r: Callable[[int], Any] = io.wait_owned_readable
            inner_w: Callable[[int], Any] = io.wait_owned_writable
        else:
            inner_r, inner_w = wait_readable, wait_writable
        results: dict[int, bytes] = {}
        waits = [0]

        async def wait_r(fd: int) -> None:
            waits[0] += 1
            await inner_r(fd)

        async def wait_w(fd: int) -> None:
            waits[0] += 1
            await inner_w(fd)

        async def sender(end: End, payload: bytes, seed: int) -> None:
            chunk_rng = random.Random(seed)
            view = memoryview(payload)
            sent = 0
            while sent < len(payload):
                if style == "public-wait-first" and chunk_rng.random() < 0.3:
                    await wait_w(end.wfd)
                chunk = chunk_rng.randint(1, 20000)
                try:
                    sent += os.write(end.wfd, view[sent : sent + chunk])
                except BlockingIOError:
                    await wait_w(end.wfd)
            write_eof(end)

        async def receiver(end: End, key: int, seed: int) -> None:
            chunk_rng = random.Random(seed)
            got = bytearray()
            while True:
                if style == "public-wait-first" and chunk_rng.random() < 0.3:
                    await wait_r(end.rfd)
                try:
                    data = os.read(end.rfd, chunk_rng.randint(1, 20000))
                except BlockingIOError:
                    await wait_r(end.rfd)
                    continue
                if not data:
                    break
                got += data
            results[key] = bytes(got)

        x, y = duplex
        with lowio.fail_after(10):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(sender, x, payloads[0], 1)
                nursery.start_soon(sender, y, payloads[1], 2)
                nursery.start_soon(receiver, y, 0, 3)
                nursery.start_soon(receiver, x, 1, 4)
        assert results[0] == payloads[0]
        assert results[1] == payloads[1]
        assert waits[0] > 100  # the small buffers made both sides wait, often
        assert waiting() == (0, 0)

    lowio.run(main)


# ---- the owned fast path (lowio's own sockets) ----


class CtlCounter:
    """Wraps the I/O manager's epoll_ctl calls with counters."""

    def __init__(self, io: Any) -> None:
        self.calls: list[str] = []
        for name in ("_add", "_mod", "_del"):
            setattr(io, name, self._wrap(name[1:], getattr(io, name)))

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return fn(*args, **kwargs)

        return counted

    def take(self) -> list[str]:
        calls, self.calls = self.calls, []
        return calls


def test_owned_read_waits_need_no_epoll_ctl(pair: Pair) -> None:
    a, b = pair

    async def main() -> None:
        io = io_manager()
        ctl = CtlCounter(io)
        fd = a.fileno()
        for i in range(10):
            with pytest.raises(BlockingIOError):
                a.recv(100)
            async with lowio.open_nursery() as nursery:

                async def feed(i: int = i) -> None:
                    await wait_all_tasks_blocked()
                    b.send(b"%d" % i)

                nursery.start_soon(feed)
                with lowio.fail_after(1), assert_checkpoints():
                    await io.wait_owned_readable(fd)
            assert a.recv(100) == b"%d" % i
            # the first wait registers the fd; later ones cost nothing
            assert ctl.take() == (["add"] if i == 0 else [])
        assert not io._states[fd].mask & flags.OUT  # no EPOLLOUT until a write waits

    lowio.run(main)


def test_owned_read_wait_ignores_a_stale_ready_flag(pair: Pair) -> None:
    """After EAGAIN a READY flag is stale: the owned wait parks anyway."""
    a, b = pair

    async def main() -> None:
        io = io_manager()
        fd = a.fileno()
        b.send(b"x")
        with lowio.fail_after(1):
            await wait_readable(a)
        b.send(b"y")
        await wait_all_tasks_blocked()
        assert io._states[fd].read_ready
        assert drain_socket(a) == b"xy"
        with lowio.move_on_after(0.05) as scope:
            await io.wait_owned_readable(fd)
        assert scope.cancelled_caught
        assert waiting() == (0, 0)
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(io.wait_owned_readable, fd)
            await wait_all_tasks_blocked()
            b.send(b"z")
        assert a.recv(1) == b"z"

    lowio.run(main)


def test_owned_write_waits_add_epollout_once(pair: Pair) -> None:
    a, b = pair

    async def main() -> None:
        io = io_manager()
        ctl = CtlCounter(io)
        fd = a.fileno()
        b.send(b"x")
        with lowio.fail_after(1):
            await io.wait_owned_readable(fd)
        assert a.recv(1) == b"x"
        assert ctl.take() == ["add"]
        assert not io._states[fd].mask & flags.OUT
        for i in range(5):
            fill_socket(a)
            async with lowio.open_nursery() as nursery:

                async def drain_later() -> None:
                    await wait_all_tasks_blocked()
                    drain_socket(b)

                nursery.start_soon(drain_later)
                with lowio.fail_after(1), assert_checkpoints():
                    await io.wait_owned_writable(fd)
            # EPOLLOUT joins the registration on the first write wait only
            assert ctl.take() == (["mod"] if i == 0 else [])
            assert io._states[fd].mask & flags.OUT

    lowio.run(main)


def test_owned_write_wait_on_a_new_fd_is_one_epoll_ctl(pair: Pair) -> None:
    a, b = pair

    async def main() -> None:
        io = io_manager()
        ctl = CtlCounter(io)
        fill_socket(a)
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(io.wait_owned_writable, a.fileno())
            await wait_all_tasks_blocked()
            drain_socket(b)
        assert ctl.take() == ["add"]

    lowio.run(main)


def test_owned_waits_are_busy_and_closable(pair: Pair) -> None:
    a, _ = pair

    async def main() -> None:
        io = io_manager()
        fd = a.fileno()
        fill_socket(a)
        async with lowio.open_nursery() as nursery:

            async def waiter(wait: Callable[[int], Any]) -> None:
                with pytest.raises(lowio.ClosedResourceError):
                    await wait(fd)

            nursery.start_soon(waiter, io.wait_owned_readable)
            nursery.start_soon(waiter, io.wait_owned_writable)
            await wait_all_tasks_blocked()
            assert waiting() == (1, 1)
            for wait in (io.wait_owned_readable, wait_readable):
                with pytest.raises(lowio.BusyResourceError):
                    await wait(fd)
            for wait in (io.wait_owned_writable, wait_writable):
                with pytest.raises(lowio.BusyResourceError):
                    await wait(fd)
            notify_closing(fd)
        assert waiting() == (0, 0)

    lowio.run(main)


# ---- fork ----


def wait_for_child(pid: int, deadline: float = 10.0) -> int:
    """The child's exit code; kills it if it does not exit in time."""
    end = time.monotonic() + deadline
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > end:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("the forked child did not exit in time")
        time.sleep(0.005)


def test_fork_inside_a_run() -> None:
    """In a child forked inside a task the parent's run is unusable
    (RuntimeError, even where the readiness cache would not need the
    kernel), and a fresh lowio.run works."""
    parent = os.getpid()

    async def child(a: socket.socket, b: socket.socket) -> int:
        failures = 0
        io = io_manager()
        # READY cached for reading a: still refused
        for attempt in (
            lambda: wait_readable(a),
            lambda: wait_writable(b),  # not registered yet
            lambda: wait_writable(a),
            lambda: io.wait_owned_readable(a.fileno()),
            lambda: io.wait_owned_writable(b.fileno()),
        ):
            try:
                await attempt()
            except RuntimeError:
                pass
            else:
                failures |= 1
        try:
            io.poll.poll(io.events, 0)  # what the run loop calls
        except RuntimeError:
            pass
        else:
            failures |= 2

        # a fresh run (in a new thread: this one is still inside the parent's run)
        outcome: list[object] = []

        async def fresh() -> bytes:
            c, d = socket.socketpair()
            with c, d:
                c.setblocking(False)
                d.send(b"child")
                with lowio.fail_after(1):
                    await wait_readable(c)
                return c.recv(10)

        def run_fresh() -> None:
            try:
                outcome.append(lowio.run(fresh))
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=run_fresh)
        thread.start()
        thread.join(5)
        if outcome != [b"child"]:
            failures |= 4
        return failures

    async def main() -> None:
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        with a, b:
            b.send(b"x")
            await wait_readable(a)
            b.send(b"y")
            await wait_all_tasks_blocked()
            assert io_manager()._states[a.fileno()].read_ready
            pid = os.fork()
            if pid == 0:
                code = 100
                try:
                    code = await child(a, b)
                finally:
                    os._exit(code)
            assert wait_for_child(pid) == 0
            # the parent's run is unaffected
            assert drain_socket(a) == b"xy"
            b.send(b"z")
            with lowio.fail_after(1):
                await wait_readable(a)
            assert a.recv(1) == b"z"

    try:
        lowio.run(main)
    finally:
        if os.getpid() != parent:
            os._exit(101)


def test_fork_outside_a_run_then_run_in_the_child() -> None:
    async def main() -> bytes:
        c, d = socket.socketpair()
        with c, d:
            c.setblocking(False)
            d.send(b"ok")
            with lowio.fail_after(1):
                await wait_readable(c)
            return c.recv(2)

    assert lowio.run(main) == b"ok"
    pid = os.fork()
    if pid == 0:
        code = 100
        try:
            code = 0 if lowio.run(main) == b"ok" else 1
        finally:
            os._exit(code)
    assert wait_for_child(pid) == 0
