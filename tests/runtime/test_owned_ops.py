"""lowio._owned_ops: a socket's recv and send as C awaitables doing the
owned fast path's usual cases, handing the rest to its Python generators
(lowio/_owned_fast_path.py).  These tests drive each hand-over point and
the coroutine protocol; the socket test files check the behaviour itself."""

from __future__ import annotations

import errno
import gc
import socket as stdlib_socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from _socket_helpers import lowio_test

import lowio
import lowio.socket as lsocket
from lowio._owned_fast_path import NEVER
from lowio._sys._sockio import SockIO
from lowio.testing import assert_checkpoints, wait_all_tasks_blocked


def tcp_pair() -> tuple[lsocket.SocketType, stdlib_socket.socket]:
    with stdlib_socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = stdlib_socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    client.setsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_NODELAY, 1)
    return lsocket.from_stdlib_socket(server), client


@pytest.fixture
def pair() -> Iterator[tuple[lsocket.SocketType, stdlib_socket.socket]]:
    sock, peer = tcp_pair()
    with sock, peer:
        yield sock, peer


@lowio_test
async def test_an_operation_is_lazy_and_awaited_once(pair: Any) -> None:
    sock, peer = pair
    peer.sendall(b"abc")
    op = sock.recv(1)
    assert "lowio recv operation" in repr(op)
    await lowio.sleep(0.05)
    assert await sock.recv(10) == b"abc"  # the first op never read
    op.close()
    second = sock.send(b"x")
    assert await second == 1
    with pytest.raises(RuntimeError, match="cannot reuse already awaited"):
        await second


def test_outside_a_run_it_raises_as_the_generators_do() -> None:
    sock, peer = tcp_pair()
    with sock, peer:
        for op in (sock.recv(1), sock.send(b"x")):
            with pytest.raises(RuntimeError, match=r"must be called from inside lowio\.run\(\)"):
                op.send(None)


@lowio_test
async def test_flags_and_sizes_of_other_types_take_the_generator(pair: Any) -> None:
    sock, peer = pair
    peer.sendall(b"hello")
    await wait_readable_data(sock)
    assert await sock.recv(10, stdlib_socket.MSG_PEEK) == b"hello"
    assert await sock.recv(True) == b"h"  # an int, not exactly one
    assert await sock.send(b"ok", 0) == 2
    assert peer.recv(10) == b"ok"


async def wait_readable_data(sock: lsocket.SocketType) -> None:
    await lowio.lowlevel.wait_readable(sock)


@lowio_test
async def test_an_error_is_raised_after_a_schedule_point(pair: Any) -> None:
    sock, _ = pair
    with assert_checkpoints(), pytest.raises(TypeError):
        await sock.recv(1.5)  # type: ignore[arg-type]
    sock.shutdown(stdlib_socket.SHUT_WR)
    with assert_checkpoints(), pytest.raises(BrokenPipeError):
        await sock.send(b"x")


@lowio_test
async def test_cancelled_before_nothing_is_read(pair: Any) -> None:
    sock, peer = pair
    peer.sendall(b"data")
    with lowio.CancelScope() as scope:
        scope.cancel()
        await sock.recv(10)
    assert scope.cancelled_caught
    with lowio.CancelScope() as scope:
        scope.cancel()
        await sock.send(b"lost")
    assert scope.cancelled_caught
    assert await sock.recv(10) == b"data"


@lowio_test
async def test_cancel_while_parked_after_eagain_and_after_a_short_read(pair: Any) -> None:
    sock, peer = pair
    for _ in range(2):  # the first park follows EAGAIN, the second a short read
        with lowio.move_on_after(0.05) as scope:
            await sock.recv(10)
        assert scope.cancelled_caught
        assert sock._state.read_task is None
        peer.sendall(b"x")
        assert await sock.recv(10) == b"x"  # short: the drained rule applies next
        assert sock._state.drained


@lowio_test
async def test_a_second_reader_is_busy(pair: Any) -> None:
    sock, peer = pair
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(sock.recv, 10)
        await wait_all_tasks_blocked()
        with pytest.raises(lowio.BusyResourceError):
            await sock.recv(10)
        peer.sendall(b"z")


@lowio_test
async def test_a_wake_up_whose_read_hits_eagain_parks_again(pair: Any) -> None:
    sock, peer = pair
    real = sock._recv
    calls: list[str] = []

    def recv(bufsize: int, flags: int = 0) -> bytes:
        calls.append("recv")
        if len(calls) <= 2:  # before parking, and once more after the first wake-up
            raise BlockingIOError
        return real(bufsize, flags)

    sock._recv = recv  # type: ignore[method-assign]
    sock._drain = NEVER
    got: list[bytes] = []
    async with lowio.open_nursery() as nursery:

        async def reader() -> None:
            got.append(await sock.recv(10))

        nursery.start_soon(reader)
        await wait_all_tasks_blocked()
        peer.sendall(b"1")  # wakes it; its read "hits EAGAIN": parks again
        await wait_all_tasks_blocked()
        assert not got and sock._state.read_task is not None
        peer.sendall(b"2")
    assert got == [b"12"] and len(calls) == 3


@lowio_test
async def test_a_send_that_hits_eagain_parks_until_writable(pair: Any) -> None:
    sock, peer = pair
    sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_SNDBUF, 4096)
    chunk = b"y" * 65536
    sent = 0
    with lowio.move_on_after(0.2):
        while True:
            sent += await sock.send(chunk)
    received = 0
    async with lowio.open_nursery() as nursery:

        async def writer() -> None:
            nonlocal sent
            sent += await sock.send(b"last")

        nursery.start_soon(writer)
        await wait_all_tasks_blocked()
        peer.setblocking(False)
        while received < sent or nursery.child_tasks:
            try:
                received += len(peer.recv(1 << 20))
            except BlockingIOError:
                await lowio.sleep(0.001)
    peer.setblocking(True)
    while received < sent:
        received += len(peer.recv(1 << 20))
    assert received == sent


@lowio_test
async def test_subclass_owners_use_plain_attribute_access() -> None:
    class Sub(lsocket.SocketType):
        __slots__ = ()

    a, b = stdlib_socket.socketpair()
    x, y = Sub(a), Sub(b)
    with x, y:
        assert await x.send(b"ping") == 4
        assert await y.recv(10) == b"ping"


def test_the_coroutine_protocol() -> None:
    sock, peer = tcp_pair()
    with sock, peer:
        op = sock.recv(1)
        assert op.__await__() is op and iter(op) is op
        with pytest.raises(ValueError, match="boom"):
            op.throw(ValueError("boom"))  # not started: raised at once
        with pytest.raises(RuntimeError, match="cannot reuse"):
            op.send(None)
        op = sock.send(b"x")
        with pytest.raises(TypeError, match="exceptions must be"):
            op.throw(42)  # type: ignore[arg-type]
        op = sock.send(b"x")
        with pytest.raises(KeyError):
            op.throw(KeyError)


@lowio_test
async def test_no_reference_is_leaked_on_any_path(pair: Any) -> None:
    sock, peer = pair
    payload = b"p" * 100

    async def every_path(times: int) -> None:
        for _ in range(times):
            assert await sock.send(payload) == 100  # send, checkpointed
            peer.sendall(b"q")
            await sock.recv(1, stdlib_socket.MSG_PEEK)  # delegated from the start
            with lowio.move_on_after(0.001):  # parked after EAGAIN or a short read
                while True:
                    await sock.recv(1000)
            peer.recv(1000)
        with pytest.raises(TypeError):
            await sock.recv(1.5)  # type: ignore[arg-type]

    await every_path(1)  # the socket's registration claimed
    gc.collect()  # cancelled tracebacks hold frames in cycles
    before = (sys.getrefcount(sock), sys.getrefcount(payload), sys.getrefcount(sock._state))
    await every_path(200)
    gc.collect()
    after = (sys.getrefcount(sock), sys.getrefcount(payload), sys.getrefcount(sock._state))
    assert after == before


SWAPPED_SLOT = """
import socket, lowio
from lowio._core._io import FdState

slot = FdState.__dict__["read_task"]
stores = []

def store(state, task):
    stores.append(task)
    slot.__set__(state, task)

async def main():
    a, b = socket.socketpair()
    sock = lowio.socket.from_stdlib_socket(a)
    with sock, b:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(sock.recv, 10)
            await lowio.testing.wait_all_tasks_blocked()
            # a class changed after the operations read its slots' offsets
            FdState.read_task = property(slot.__get__, store)
            stores.clear()
            b.sendall(b"x")
            await lowio.testing.wait_all_tasks_blocked()
            nursery.start_soon(sock.recv, 10)
            await lowio.testing.wait_all_tasks_blocked()
            b.sendall(b"y")
    print(sum(1 for task in stores if task is not None))

lowio.run(main)
"""


def test_a_class_changed_later_is_used_through_its_attributes() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SWAPPED_SLOT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"  # the second recv's park went through the property


def test_runs_in_several_threads_each_find_their_own_task() -> None:
    # the operations cache where this thread's run context lives: threads
    # at once, threads started after others ended, then the main thread
    done: list[bool] = []

    def one_run() -> None:
        async def main() -> None:
            a, b = lsocket.socketpair()
            with a, b:
                for _ in range(200):
                    assert await a.send(b"x") == 1
                    assert await b.recv(1) == b"x"
                    await lowio.sleep(0)
            done.append(True)

        lowio.run(main)

    for batch in (4, 1, 1, 1):
        threads = [threading.Thread(target=one_run) for _ in range(batch)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    one_run()
    assert len(done) == 8


BLOCKED_ELSEWHERE = """
import threading, lowio
from lowio.testing import wait_all_tasks_blocked

cached, release = threading.Event(), threading.Event()

def blocked_run():
    async def main():
        a, b = lowio.socket.socketpair()
        with a, b:
            assert await a.send(b"x") == 1
            assert await b.recv(1) == b"x"
        cached.set()
        release.wait(30)  # blocks inside its task: that task stays current there

    lowio.run(main)

async def main():
    a, b = lowio.socket.socketpair()
    got = []
    with a, b, lowio.fail_after(10):
        async with lowio.open_nursery() as nursery:

            async def reader():
                got.append(await b.recv(1))  # parks as this run's task

            nursery.start_soon(reader)
            await wait_all_tasks_blocked()
            assert await a.send(b"y") == 1
    assert got == [b"y"]

thread = threading.Thread(target=blocked_run)
thread.start()
try:
    assert cached.wait(30)
    lowio.run(main)  # the first operations of this thread: the other one's were cached
finally:
    release.set()
    thread.join()
print("ok")
"""


def test_a_run_blocked_in_another_thread_never_lends_its_task() -> None:
    # in a fresh process, so that the other thread's context is the one cached
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_ELSEWHERE], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# ---- SockIO's methods, called through _sockio's C interface ----


@lowio_test
async def test_eagain_through_the_c_interface_parks_and_reads_when_woken(pair: Any) -> None:
    # recv(bufsize) filled exactly: no short read, so the next recv makes
    # its system call, which says EAGAIN with no BlockingIOError raised
    sock, peer = pair
    assert type(sock._recv.__self__) is SockIO
    peer.sendall(b"abcd")
    await wait_readable_data(sock)
    assert await sock.recv(4) == b"abcd"
    assert not sock._state.drained
    async with lowio.open_nursery() as nursery:
        got: list[bytes] = []

        async def reader() -> None:
            got.append(await sock.recv(4))

        nursery.start_soon(reader)
        await wait_all_tasks_blocked()
        assert sock._state.read_task is not None  # parked after EAGAIN
        peer.sendall(b"efgh")
    assert got == [b"efgh"]


@lowio_test
async def test_other_errors_through_the_c_interface_are_raised(pair: Any) -> None:
    sock, peer = pair
    peer.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
    peer.close()  # linger 0: a reset
    await lowio.sleep(0.05)
    with assert_checkpoints(), pytest.raises(ConnectionResetError):
        await sock.recv(10)
    with assert_checkpoints(), pytest.raises((BrokenPipeError, ConnectionResetError)):
        await sock.send(b"x")


@lowio_test
async def test_a_sockio_method_of_another_kind_or_socket_is_called_as_itself(pair: Any) -> None:
    sock, _ = pair
    other, other_peer = tcp_pair()
    with other, other_peer:
        # the send method where the recv one belongs: called as send (of an int)
        sock._recv = other._send  # type: ignore[method-assign]
        with pytest.raises(TypeError):
            await sock.recv(10)
        # another socket's recv method: that socket is read, through the C interface
        sock._recv = other._recv  # type: ignore[method-assign]
        other_peer.sendall(b"there")
        await wait_readable_data(other)
        assert await sock.recv(10) == b"there"
        sock._send = other._send  # type: ignore[method-assign]
        assert await sock.send(b"back") == 4
        assert other_peer.recv(10) == b"back"


# ---- recv's schedule point comes before its read ----
# (each test steps the operation by hand, inside a task: the first step
# yields the schedule point, the second does the read)


def _recv_ways(sock: lsocket.SocketType) -> list[Any]:
    """The C operation and the reference generator it follows."""
    from lowio import _owned_fast_path as fast

    return [sock.recv(10), fast.recv(sock, 10)]


async def _queued(pair: Any, data: bytes) -> lsocket.SocketType:
    """The pair's lowio socket, once ``data`` from its peer is there."""
    sock, peer = pair
    peer.sendall(data)
    await wait_readable_data(sock)
    return sock  # type: ignore[no-any-return]


def _finish(step: Any) -> Any:
    """The second step: the operation's return value."""
    with pytest.raises(StopIteration) as stop:
        step.send(None)
    return stop.value.value


@pytest.mark.parametrize("way", [0, 1], ids=["op", "reference"])
@lowio_test
async def test_data_sent_during_recvs_schedule_point_is_read_without_parking(
    pair: Any, way: int
) -> None:
    from lowio._core._traps import CHECKPOINT

    sock, peer = pair
    step = _recv_ways(sock)[way]
    assert step.send(None) is CHECKPOINT  # nothing queued yet, nothing read yet
    peer.sendall(b"hi")  # (on loopback the bytes are queued when it returns)
    assert _finish(step) == b"hi"
    assert sock._state.read_task is None  # never parked


@pytest.mark.parametrize("way", [0, 1], ids=["op", "reference"])
@lowio_test
async def test_a_cancel_during_recvs_schedule_point_loses_no_data(pair: Any, way: int) -> None:
    sock = await _queued(pair, b"kept")
    with lowio.CancelScope() as scope:
        step = _recv_ways(sock)[way]
        step.send(None)  # the cancel check passed: the schedule point
        scope.cancel()
        assert _finish(step) == b"kept"  # the read is the last step
        await lowio.lowlevel.checkpoint()  # the cancellation is delivered here
    assert scope.cancelled_caught


@pytest.mark.parametrize("way", [0, 1], ids=["op", "reference"])
@lowio_test
async def test_a_close_during_recvs_schedule_point_is_ebadf(pair: Any, way: int) -> None:
    sock = await _queued(pair, b"late")
    step = _recv_ways(sock)[way]
    step.send(None)
    sock.close()  # by another task, while this one is in the schedule point
    with pytest.raises(OSError) as info:
        step.send(None)
    assert info.value.errno == errno.EBADF
