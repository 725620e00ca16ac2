"""Faults and load on lowio's runtime, CI-sized: peers resetting mid-send,
slow readers, many connections, a short soak, cancellation storms, threads
hammering a run.  Every test also passes the ``no_leaks`` fixture (fds and
threads back to baseline).  The minutes-long versions of the soak and of
the connection count are ``python -m benchmarks.soak``.

The epoll registration counts are read from /proc/self/fdinfo of the run's
own ``Poll``, reached through the run's I/O manager (a private path:
``tests._socket_helpers.io_manager``); no public API names that fd."""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import socket
import struct
import threading
import tracemalloc
from collections.abc import Callable

import pytest
from _socket_helpers import io_manager, lowio_test
from conftest import epoll_registrations

import lowio
from benchmarks import soak
from benchmarks.soak import connect, open_listener, recv_exactly, send_all
from lowio import socket as lsocket
from lowio.lowlevel import current_statistics, current_token, notify_closing, wait_readable
from lowio.testing import wait_all_tasks_blocked

LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


def registrations() -> int:
    """The number of fds registered with the current run's epoll."""
    return len(epoll_registrations(io_manager().poll))


def io_waiting() -> tuple[int, int]:
    stats = current_statistics().io_statistics
    return stats.tasks_waiting_read, stats.tasks_waiting_write


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Sleeps in 1 ms steps until ``condition()``; ``TooSlowError`` after
    ``timeout`` seconds."""
    with lowio.fail_after(timeout):
        while not condition():
            await lowio.sleep(0.001)


async def tcp_pair(
    listener: lsocket.SocketType, rcvbuf: int = 0
) -> tuple[lsocket.SocketType, lsocket.SocketType]:
    """(client, server) connected through ``listener``; ``rcvbuf`` sets the
    client's SO_RCVBUF before connecting."""
    client = lsocket.socket(lsocket.AF_INET, lsocket.SOCK_STREAM)
    if rcvbuf:
        client.setsockopt(lsocket.SOL_SOCKET, lsocket.SO_RCVBUF, rcvbuf)
    await client.connect(listener.getsockname())
    server, _ = await listener.accept()
    return client, server


# ---- 1. resets mid-send ----


@pytest.mark.parametrize("when", ["parked-in-send", "before-send", "parked-in-recv"])
@lowio_test
async def test_a_peer_reset_ends_the_server_task_with_econnreset(when: str) -> None:
    """The peer closes with SO_LINGER 0 (RST) while the server is parked in
    ``send`` on a full buffer, before it sends at all, or while it is parked
    in ``recv``: the server's call raises ``ConnectionResetError``
    (ECONNRESET), its task ends, and an echo connection served by the same
    run keeps working throughout."""
    resets = 20
    outcomes: list[BaseException] = []
    echoed = 0
    payload = memoryview(bytes(1 << 20))
    stop_echo = lowio.Event()
    # the echo client pauses between round trips on request, so that the
    # I/O statistics below count the victim's waits exactly
    pause_requested = False
    paused = resume = lowio.Event()

    async def victim(sock: lsocket.SocketType) -> None:
        try:
            with sock:
                if when == "parked-in-recv":
                    await sock.recv(100)
                while True:
                    await sock.send(payload)
        except OSError as exc:
            outcomes.append(exc)

    async def echo_client(address: tuple[str, int]) -> None:
        nonlocal echoed
        with await connect(address) as sock:
            while not stop_echo.is_set():
                if pause_requested:
                    paused.set()
                    await resume.wait()
                await send_all(sock, soak.MESSAGE)
                assert await recv_exactly(sock, len(soak.MESSAGE)) == soak.MESSAGE
                echoed += 1
                await lowio.sleep(0.001)

    with await open_listener() as listener:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(echo_client, listener.getsockname())
            echo_server, _ = await listener.accept()
            nursery.start_soon(soak.echo_handler, echo_server)
            for i in range(resets):
                client, server = await tcp_pair(listener, rcvbuf=65536)
                server.setsockopt(lsocket.SOL_SOCKET, lsocket.SO_SNDBUF, 65536)
                if when == "before-send":
                    client.setsockopt(lsocket.SOL_SOCKET, lsocket.SO_LINGER, LINGER_RST)
                    client.close()
                    nursery.start_soon(victim, server)
                else:
                    pause_requested, paused, resume = True, lowio.Event(), lowio.Event()
                    await paused.wait()
                    nursery.start_soon(victim, server)
                    if when == "parked-in-send":
                        await client.recv(1000)  # some arrived, then the buffers fill
                        await until(lambda: io_waiting() == (1, 1))  # echo handler, victim
                    else:
                        await until(lambda: io_waiting() == (2, 0))
                    client.setsockopt(lsocket.SOL_SOCKET, lsocket.SO_LINGER, LINGER_RST)
                    client.close()
                    pause_requested = False
                    resume.set()
                await until(lambda: len(outcomes) > i)  # noqa: B023
                served = echoed
                await until(lambda: echoed > served)  # noqa: B023  (still serving)
            stop_echo.set()
    assert len(outcomes) == resets
    for exc in outcomes:
        assert type(exc) is ConnectionResetError and exc.errno == errno.ECONNRESET, repr(exc)


@lowio_test
async def test_many_peers_resetting_at_once_each_end_their_server_task() -> None:
    """200 server tasks parked in ``send`` on full buffers, all peers reset
    in one go: every one of them raises ``ConnectionResetError``, no task is
    left waiting, and the run then serves a new connection."""
    n = 200
    outcomes: list[BaseException] = []
    payload = memoryview(bytes(1 << 20))

    async def victim(sock: lsocket.SocketType) -> None:
        try:
            with sock:
                while True:
                    await sock.send(payload)
        except OSError as exc:
            outcomes.append(exc)

    with await open_listener(backlog=n) as listener:
        async with lowio.open_nursery() as nursery:
            clients = []
            for _ in range(n):
                client, server = await tcp_pair(listener, rcvbuf=16384)
                server.setsockopt(lsocket.SOL_SOCKET, lsocket.SO_SNDBUF, 16384)
                clients.append(client)
                nursery.start_soon(victim, server)
            await until(lambda: io_waiting() == (0, n))
            for client in clients:
                client.setsockopt(lsocket.SOL_SOCKET, lsocket.SO_LINGER, LINGER_RST)
                client.close()
            await until(lambda: len(outcomes) == n)
        assert io_waiting() == (0, 0)
        async with lowio.open_nursery() as nursery:
            client, server = await tcp_pair(listener)
            nursery.start_soon(soak.echo_handler, server)
            with client:
                await send_all(client, soak.MESSAGE)
                assert await recv_exactly(client, len(soak.MESSAGE)) == soak.MESSAGE
    assert all(type(exc) is ConnectionResetError for exc in outcomes), outcomes[:3]


# ---- 2. slow readers ----


@lowio_test
async def test_a_slow_reader_parks_the_sender_without_buffering_in_python() -> None:
    """A server sends 16 MiB to a client reading 16 KiB at a time with
    pauses: ``send`` parks on the full kernel buffer (a task waits for
    writability), the bytes in flight stay within the kernel's buffers, and
    neither Python's heap (tracemalloc) nor the RSS grows with the total."""
    total = 16 << 20
    chunk = memoryview(bytes(1 << 20))
    sent = received = 0
    max_in_flight = parked_seen = 0
    with await open_listener() as listener:
        client, server = await tcp_pair(listener, rcvbuf=65536)
        server.setsockopt(lsocket.SOL_SOCKET, lsocket.SO_SNDBUF, 65536)
        bound = 2 * (
            client.getsockopt(lsocket.SOL_SOCKET, lsocket.SO_RCVBUF)
            + server.getsockopt(lsocket.SOL_SOCKET, lsocket.SO_SNDBUF)
        )

        async def writer() -> None:
            nonlocal sent
            with server:
                while sent < total:
                    sent += await server.send(chunk[: total - sent])

        rss_before = soak.rss_kib()
        tracemalloc.start()
        try:
            heap_before = tracemalloc.get_traced_memory()[0]
            with client:
                async with lowio.open_nursery() as nursery:
                    nursery.start_soon(writer)
                    while received < total:
                        data = await client.recv(16384)
                        assert data, "EOF before all the data"
                        received += len(data)
                        max_in_flight = max(max_in_flight, sent - received)
                        if io_waiting()[1] == 1:
                            parked_seen += 1
                        if received % (256 << 10) < 16384:
                            await lowio.sleep(0.002)
            heap_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert sent == received == total
    assert parked_seen > 100, parked_seen  # the writer was parked, not spinning
    assert max_in_flight <= bound, (max_in_flight, bound)
    assert heap_peak - heap_before < 512 << 10, heap_peak - heap_before
    assert soak.rss_kib() - rss_before < 8 << 10  # KiB: far below the 16 MiB sent


# ---- 3. many connections, 4. soak ----


def test_five_hundred_connections_open_at_once() -> None:
    result = soak.many_connections(500, timeout=30)
    assert result.client_report["verified"] == 500, result.summary()
    assert result.peak_open == 500, result.summary()
    assert result.echoed == 500, result.summary()
    assert result.fds_peak >= result.fds_before + 500, result.summary()
    assert result.fds_after == result.fds_before, result.summary()


def test_the_workloads_refuse_bad_sizes() -> None:
    with pytest.raises(ValueError, match="pairs and per_conn"):
        soak.soak(pairs=0)
    with pytest.raises(ValueError, match="n must be >= 1, not 0"):
        soak.many_connections(0)


def test_the_runner_reports_and_refuses_unknown_workloads(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soak.main(["--only", "connections", "--connections", "20"]) == 0
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == before  # restored
    out = capsys.readouterr().out
    assert "connections: 20 asked, peak 20 open at once" in out and "FAILED" not in out
    with pytest.raises(SystemExit):
        soak.main(["--only", "soak,nope"])
    assert "unknown workload(s) nope" in capsys.readouterr().err


def test_soak_leaves_no_fd_or_memory_drift() -> None:
    """A few seconds of churning echo connections: the fds at every
    quiescent point after warm-up are exactly the same (and the same as
    before the run once it is over); the RSS grows by less than 1 MiB."""
    result = soak.soak(round_trips=10**9, seconds=3.0, pairs=4, per_conn=500, warmup_phases=3)
    assert len(result.samples) >= 5, result.summary()
    assert len(set(result.fds_after_warmup)) == 1, result.fds_after_warmup
    assert result.fds_after == result.fds_before, result.summary()
    rss = [s.rss_kib for s in result.samples[result.warmup :]]
    assert max(rss) - rss[0] < 1024, (rss, result.summary())


# ---- 5. cancellation storms ----

STORM = 400  # tasks per kind of wait; four kinds


class StormFds:
    """The fds one storm round waits on: socketpairs (recv), listeners
    (accept), pipes (wait_readable on the read end)."""

    def __init__(self) -> None:
        self.pairs = [lsocket.socketpair() for _ in range(STORM)]
        self.listeners: list[lsocket.SocketType] = []
        for _ in range(STORM):
            listener = lsocket.from_stdlib_socket(socket.create_server(("127.0.0.1", 0)))
            self.listeners.append(listener)
        self.pipes = [os.pipe() for _ in range(STORM)]

    def close(self) -> None:
        for a, b in self.pairs:
            a.close()
            b.close()
        for listener in self.listeners:
            listener.close()
        for r, w in self.pipes:
            notify_closing(r)
            os.close(r)
            os.close(w)


async def storm_round(fds: StormFds, data_races_cancel: bool) -> None:
    """One storm: 4 x STORM tasks blocked, then all cancelled at once.  With
    ``data_races_cancel`` a byte is written to every recv task's socket:
    for half of them a poll has woken the task before the cancel (its
    ``recv`` returns the byte), for the other half the byte arrives in the
    same tick as the cancel (``Cancelled``, the byte stays in the socket):
    no byte is lost either way."""
    cancelled = 0
    got: dict[int, bytes] = {}

    async def counting(wait: object, *args: object) -> None:
        nonlocal cancelled
        try:
            result = await wait(*args)  # type: ignore[operator]
        except lowio.Cancelled:
            cancelled += 1
            raise
        if isinstance(result, bytes):
            got[args[0]] = result  # type: ignore[index]
        else:
            raise AssertionError(f"{wait} returned {result!r} before the cancel")

    async def recv_at(i: int) -> bytes:
        return await fds.pairs[i][0].recv(10)

    async with lowio.open_nursery() as nursery:
        for i in range(STORM):
            nursery.start_soon(counting, recv_at, i)
            nursery.start_soon(counting, fds.listeners[i].accept)
            nursery.start_soon(counting, wait_readable, fds.pipes[i][0])
            nursery.start_soon(counting, lowio.sleep, 1000)
        await wait_all_tasks_blocked()
        assert io_waiting() == (3 * STORM, 0)
        if data_races_cancel:
            # the first half's bytes are seen by a poll before the cancel
            # (their tasks are woken and scheduled: the cancel comes too
            # late for them), the second half's arrive in the same tick as
            # the cancel (they stay in the sockets)
            half = STORM // 2
            for _, b in fds.pairs[:half]:
                os.write(b.fileno(), b"x")
            with lowio.fail_after(5):
                while io_waiting()[0] > 3 * STORM - half:  # until a poll sees them
                    await lowio.lowlevel.cancel_shielded_checkpoint()
            for _, b in fds.pairs[half:]:
                os.write(b.fileno(), b"x")
        nursery.cancel_scope.cancel()
    assert io_waiting() == (0, 0)
    assert cancelled + len(got) == 4 * STORM
    assert set(got.values()) <= {b"x"}
    if data_races_cancel:
        # woken before the cancel: their recv completes; still parked: Cancelled
        assert sorted(got) == list(range(STORM // 2)), sorted(got)[:10]
        for i, (a, _) in enumerate(fds.pairs):
            left = b""
            with contextlib.suppress(BlockingIOError):
                left = os.read(a.fileno(), 10)  # non-blocking: lowio sockets are
            assert (got.get(i, b""), left) in ((b"x", b""), (b"", b"x")), (i, got.get(i), left)
    else:
        assert not got


@pytest.mark.parametrize("fresh_fds", [False, True], ids=["same-fds", "fresh-fds"])
@lowio_test
async def test_cancellation_storms_leave_no_waiters_or_registrations(fresh_fds: bool) -> None:
    """Rounds of 4 x 400 tasks blocked in ``recv``, ``accept``,
    ``wait_readable`` on a pipe and ``sleep``, all cancelled at once (every
    other round races data arriving with the cancel): every task ends with
    ``Cancelled`` (or with its data), no task is left waiting for I/O, the
    fds hold at most one epoll registration each (the count does not grow
    from round to round) and, once they are closed, the count is back to
    the run's baseline."""
    baseline = registrations()
    fds = StormFds()
    try:
        for round_ in range(4):
            await storm_round(fds, data_races_cancel=bool(round_ % 2))
            assert registrations() <= baseline + 3 * STORM
            if fresh_fds:
                fds.close()
                assert registrations() == baseline
                fds = StormFds()
    finally:
        fds.close()
    assert registrations() == baseline


# ---- 7. threads hammering a run ----


@lowio_test
async def test_threads_hammering_from_thread_get_every_result_right() -> None:
    """8 plain threads (with the run's token) and 8 ``to_thread`` workers
    call ``from_thread.run_sync`` and ``from_thread.run`` 300 times each,
    alternately, while 16 tasks make echo round trips: every call returns
    its own answer, in order, and every echo comes back intact."""
    calls = 300
    token = current_token()
    results: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    run_thread = threading.current_thread()

    def double(i: int) -> int:
        assert threading.current_thread() is run_thread
        return 2 * i

    async def triple(i: int) -> int:
        await lowio.sleep(0)
        return 3 * i

    def hammer(name: str, with_token: bool) -> None:
        extra = {"trio_token": token} if with_token else {}
        out = results.setdefault(name, [])
        try:
            for i in range(calls):
                if i % 2:
                    out.append(lowio.from_thread.run(triple, i, **extra))
                else:
                    out.append(lowio.from_thread.run_sync(double, i, **extra))
        except BaseException as exc:
            errors.append(exc)

    async def echo_task(i: int) -> None:
        a, b = lsocket.socketpair()
        with a, b:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(soak.echo_handler, b.dup())
                for j in range(100):
                    message = b"%d:%d" % (i, j)
                    await send_all(a, message)
                    assert await recv_exactly(a, len(message)) == message
                a.shutdown(lsocket.SHUT_WR)
                b.close()

    threads = [threading.Thread(target=hammer, args=(f"plain-{n}", True)) for n in range(8)]
    for t in threads:
        t.start()
    try:
        with lowio.fail_after(60):
            async with lowio.open_nursery() as nursery:
                for n in range(8):
                    nursery.start_soon(lowio.to_thread.run_sync, hammer, f"worker-{n}", False)
                for i in range(16):
                    nursery.start_soon(echo_task, i)
            while any(t.is_alive() for t in threads):
                await lowio.sleep(0.01)
    finally:
        for t in threads:
            t.join(30)
    assert not errors, errors
    expected = [3 * i if i % 2 else 2 * i for i in range(calls)]
    assert sorted(results) == sorted(
        [f"plain-{n}" for n in range(8)] + [f"worker-{n}" for n in range(8)]
    )
    for name, out in results.items():
        assert out == expected, name
    assert current_statistics().run_sync_soon_queue_size == 0
