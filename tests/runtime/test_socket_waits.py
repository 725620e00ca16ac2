"""lowio.socket's waits: every I/O method is a checkpoint (succeeding at
once, after waiting, or failing at once), a cancelled scope stops it
before the system call, cancelled operations leak no fd, and the owned
fast path does no epoll_ctl per wait (docs/design.md §3.4)."""

from __future__ import annotations

import contextlib
import errno
import gc
import socket as stdlib_socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from _socket_helpers import (
    EpollCtlCounter,
    WaitCounter,
    abstract_name,
    drain,
    fill,
    io_manager,
    lowio_test,
)

import lowio
import lowio.socket as lsocket
from lowio._core._io import BASE_MASK, WRITE_MASK
from lowio.testing import assert_checkpoints, wait_all_tasks_blocked

# ---- one table of operations ----


class Case:
    """One I/O method on a fresh socket.  ``run()`` performs it; ``ready()``
    makes it able to complete; ``block()`` makes it have to wait;
    ``untouched()`` says whether the system call never happened."""

    run: Callable[[], Awaitable[Any]]
    ready: Callable[[], object]
    block: Callable[[], object] = staticmethod(lambda: None)
    untouched: Callable[[], bool]

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self.stack = stack

    def socketpair(self, *args: Any) -> tuple[lsocket.SocketType, stdlib_socket.socket]:
        a, b = stdlib_socket.socketpair(*args)
        self.stack.enter_context(a)
        self.stack.enter_context(b)
        b.setblocking(False)
        return lsocket.from_stdlib_socket(a), b


def read_case(method: str) -> Callable[[contextlib.ExitStack], Case]:
    def make(stack: contextlib.ExitStack) -> Case:
        case = Case(stack)
        sock, peer = case.socketpair()
        buf = bytearray(10)
        call = {
            "recv": lambda: sock.recv(10),
            "recv_into": lambda: sock.recv_into(buf),
            "recvfrom": lambda: sock.recvfrom(10),
            "recvfrom_into": lambda: sock.recvfrom_into(buf),
            "recvmsg": lambda: sock.recvmsg(10),
            "recvmsg_into": lambda: sock.recvmsg_into([buf]),
        }[method]
        case.run = call
        case.ready = lambda: peer.send(b"x")
        case.untouched = lambda: drain(sock) == b"x"
        return case

    return make


def stream_write_case(method: str) -> Callable[[contextlib.ExitStack], Case]:
    def make(stack: contextlib.ExitStack) -> Case:
        case = Case(stack)
        sock, peer = case.socketpair()
        case.run = {
            "send": lambda: sock.send(b"data"),
            "sendmsg": lambda: sock.sendmsg([b"da", b"ta"]),
        }[method]
        received = bytearray()  # the filler is all b"f"
        case.block = lambda: fill(sock)
        case.ready = lambda: received.extend(drain(peer))
        case.untouched = lambda: b"d" not in received + drain(peer)
        return case

    return make


def datagram_write_case(method: str) -> Callable[[contextlib.ExitStack], Case]:
    def make(stack: contextlib.ExitStack) -> Case:
        case = Case(stack)
        address = abstract_name("sendto")
        receiver = stack.enter_context(stdlib_socket.socket(lsocket.AF_UNIX, lsocket.SOCK_DGRAM))
        receiver.bind(address)
        receiver.setblocking(False)
        sock = lsocket.socket(lsocket.AF_UNIX, lsocket.SOCK_DGRAM)
        stack.enter_context(sock)
        # connected (sendto still names the address): only then does the
        # kernel report a full receiver as "not writable" and wake the
        # sender when it drains.  An unconnected AF_UNIX sender polls
        # writable all the time, and trio and lowio would both spin.
        sock._sock.connect(address)
        case.run = {
            "sendto": lambda: sock.sendto(b"data", address),
            "sendmsg_to": lambda: sock.sendmsg([b"data"], [], 0, address),
        }[method]

        def block() -> None:
            with contextlib.suppress(BlockingIOError):
                while True:
                    sock._sock.sendto(b"filler", address)

        received: list[bytes] = []

        def drain_all() -> None:
            with contextlib.suppress(BlockingIOError):
                while True:
                    received.append(receiver.recv(100))

        def untouched() -> bool:
            drain_all()
            return b"data" not in received

        case.block = block
        case.ready = drain_all
        case.untouched = untouched
        return case

    return make


def accept_case(stack: contextlib.ExitStack) -> Case:
    case = Case(stack)
    listener = stack.enter_context(lsocket.socket())
    listener._sock.bind(("127.0.0.1", 0))
    listener.listen()

    async def accept() -> lsocket.SocketType:
        conn, _ = await listener.accept()
        stack.enter_context(conn)
        return conn

    def connect() -> None:
        client = stack.enter_context(stdlib_socket.socket())
        client.connect(listener.getsockname())

    def untouched() -> bool:
        listener._sock.accept()[0].close()  # the connection is still queued
        return True

    case.run = accept
    case.ready = connect
    case.untouched = untouched
    return case


def tcp_connect_case(stack: contextlib.ExitStack) -> Case:
    # always waits (EINPROGRESS): it completes with no help
    case = Case(stack)
    listener = stack.enter_context(stdlib_socket.create_server(("127.0.0.1", 0)))
    sock = stack.enter_context(lsocket.socket())
    case.run = lambda: sock.connect(listener.getsockname())
    case.ready = lambda: None
    case.untouched = lambda: sock.fileno() == -1  # a cancelled connect closes
    return case


def unix_connect_case(stack: contextlib.ExitStack) -> Case:
    # completes at once (the listener's backlog has room)
    case = Case(stack)
    address = abstract_name("connect")
    listener = stack.enter_context(stdlib_socket.socket(lsocket.AF_UNIX))
    listener.bind(address)
    listener.listen()
    sock = stack.enter_context(lsocket.socket(lsocket.AF_UNIX))
    case.run = lambda: sock.connect(address)
    case.ready = lambda: None
    case.untouched = lambda: sock.fileno() == -1
    return case


CASES: dict[str, Callable[[contextlib.ExitStack], Case]] = {
    **{m: read_case(m) for m in ("recv", "recv_into", "recvfrom", "recvfrom_into")},
    **{m: read_case(m) for m in ("recvmsg", "recvmsg_into")},
    "send": stream_write_case("send"),
    "sendmsg": stream_write_case("sendmsg"),
    "sendto": datagram_write_case("sendto"),
    "sendmsg_to": datagram_write_case("sendmsg_to"),
    "accept": accept_case,
}
IMMEDIATE = [*CASES, "connect_unix"]
WAITING = [*CASES, "connect_tcp"]
ALL_CASES = {**CASES, "connect_unix": unix_connect_case, "connect_tcp": tcp_connect_case}


@contextlib.contextmanager
def case_for(name: str) -> Iterator[Case]:
    with contextlib.ExitStack() as stack:
        yield ALL_CASES[name](stack)


@pytest.mark.parametrize("name", IMMEDIATE)
@lowio_test
async def test_immediate_success_is_a_checkpoint(name: str) -> None:
    with case_for(name) as case:
        case.ready()
        waits = WaitCounter()
        with assert_checkpoints():
            await case.run()
        assert waits.reads == waits.writes == 0  # it did not wait


@pytest.mark.parametrize("name", WAITING)
@lowio_test
async def test_success_after_waiting_is_a_checkpoint(name: str) -> None:
    with case_for(name) as case:
        case.block()
        waits = WaitCounter()

        async def operation() -> None:
            with assert_checkpoints():
                await case.run()

        with lowio.fail_after(5):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(operation)
                await wait_all_tasks_blocked()
                case.ready()
        assert waits.reads + waits.writes >= 1  # it did wait


@pytest.mark.parametrize("name", [*CASES, "connect_unix", "connect_tcp"])
@lowio_test
async def test_cancelled_before_the_call(name: str) -> None:
    with case_for(name) as case:
        case.ready()  # it could complete at once, and still must not
        with lowio.CancelScope() as scope:
            scope.cancel()
            with assert_checkpoints(), pytest.raises(lowio.Cancelled):
                await case.run()
        assert case.untouched()


@pytest.mark.parametrize("name", WAITING)
@lowio_test
async def test_cancelled_while_waiting(name: str) -> None:
    with case_for(name) as case:
        case.block()
        outcome: list[str] = []

        async def operation() -> None:
            with assert_checkpoints(), pytest.raises(lowio.Cancelled):
                await case.run()
            outcome.append("cancelled")

        with lowio.fail_after(5):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(operation)
                # cancel in the same batch as the task parks: no poll in
                # between, so even a connect that completes by itself is
                # still waiting
                await lowio.lowlevel.cancel_shielded_checkpoint()
                nursery.cancel_scope.cancel()
        assert outcome == ["cancelled"]
        if name.startswith("connect"):
            assert case.untouched()
        else:
            case.ready()
            assert case.untouched()


@lowio_test
async def test_immediate_failures_are_checkpoints() -> None:
    a, b = lsocket.socketpair()
    with a, b:
        checks: list[tuple[Callable[[], Awaitable[object]], type[BaseException]]] = [
            (lambda: a.recv("ten"), TypeError),  # type: ignore[arg-type]
            (lambda: a.recv_into(bytearray(1), 5), ValueError),
            (lambda: a.accept(), OSError),  # not listening: EINVAL
            (lambda: a.sendto(b"x", b"\0lowio-nobody"), OSError),  # EISCONN
        ]
        a.shutdown(lsocket.SHUT_WR)
        checks.append((lambda: a.send(b"x"), BrokenPipeError))
        checks.append((lambda: a.sendmsg([b"x"]), BrokenPipeError))
        for operation, error in checks:
            with assert_checkpoints(), pytest.raises(error):
                await operation()
    with (
        lsocket.socket(lsocket.AF_UNIX) as sock,
        assert_checkpoints(),
        pytest.raises(ConnectionRefusedError),
    ):
        await sock.connect(abstract_name("nobody"))
    with assert_checkpoints(), pytest.raises(lsocket.gaierror):
        await lsocket.getaddrinfo("127.0.0.1", 80, lsocket.AF_INET6)
    with assert_checkpoints(), pytest.raises(OSError):
        await lsocket.getaddrinfo("127.0.0.1", 80.5)  # type: ignore[arg-type]


@lowio_test
async def test_bind_and_numeric_getaddrinfo_are_checkpoints() -> None:
    with lsocket.socket() as sock:
        with lowio.CancelScope() as scope:
            scope.cancel()
            with assert_checkpoints(), pytest.raises(lowio.Cancelled):
                await sock.bind(("127.0.0.1", 0))
        assert sock.getsockname() == ("0.0.0.0", 0)  # not bound
        with assert_checkpoints():
            await sock.bind(("127.0.0.1", 0))
        assert sock.getsockname()[0] == "127.0.0.1"
    with assert_checkpoints():
        result = await lsocket.getaddrinfo("127.0.0.1", 80, type=lsocket.SOCK_STREAM)
    assert result == [(lsocket.AF_INET, lsocket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))]
    with lowio.CancelScope() as scope:
        scope.cancel()
        with assert_checkpoints(), pytest.raises(lowio.Cancelled):
            await lsocket.getaddrinfo("127.0.0.1", 80)


@lowio_test
async def test_cancelled_accept_connect_recv_race_with_completion() -> None:
    # The operation becomes possible and is cancelled in the same step:
    # the cancellation wins and nothing is taken (no fd, no data).
    with lsocket.socket() as listener:
        await listener.bind(("127.0.0.1", 0))
        listener.listen()
        with stdlib_socket.socket() as client:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(listener.accept)
                await wait_all_tasks_blocked()
                client.connect(listener.getsockname())  # queued, not yet polled
                nursery.cancel_scope.cancel()
            conn, _ = await listener.accept()  # still there
            conn.close()
    a, b = lsocket.socketpair()
    with a, b:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(a.recv, 10)
            await wait_all_tasks_blocked()
            await b.send(b"kept")
            nursery.cancel_scope.cancel()
        assert await a.recv(10) == b"kept"


# ---- the owned fast path ----


@lowio_test
async def test_steady_echo_does_no_epoll_ctl_per_wait() -> None:
    a, b = lsocket.socketpair()
    with a, b:
        counter = EpollCtlCounter()
        waits = WaitCounter()
        rounds = 200

        async def echo() -> None:
            for _ in range(rounds):
                await b.send(await b.recv(1))

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(echo)
            for i in range(rounds):
                if i == 3:
                    assert counter.calls == {"add": 2}, counter.calls  # one per socket
                    counter.calls.clear()
                    waits.reads = 0
                await a.send(b"x")
                assert await a.recv(1) == b"x"
        assert waits.reads >= rounds  # both sides really waited, every round
        assert counter.total == 0, counter.calls
        io = io_manager()
        # no send ever hit EAGAIN: EPOLLOUT was never added
        assert io._states[a.fileno()].mask == io._states[b.fileno()].mask == BASE_MASK


@lowio_test
async def test_epollout_added_lazily_on_the_first_blocked_send() -> None:
    a, b = lsocket.socketpair()
    with a, b:
        counter = EpollCtlCounter()
        await a.send(b"no wait")
        assert counter.total == 0  # a send that succeeds registers nothing
        waits = WaitCounter()
        async with lowio.open_nursery() as nursery:

            async def reader() -> None:
                while True:
                    await lowio.sleep(0.001)
                    drain(b)

            nursery.start_soon(reader)
            for _ in range(3):
                fill(a)
                assert await a.send(b"y") == 1  # has to wait for the reader
            nursery.cancel_scope.cancel()
        assert waits.writes >= 3
        # one ADD (with EPOLLOUT) when the first send had to wait, then none
        assert counter.calls == {"add": 1}, counter.calls
        assert io_manager()._states[a.fileno()].mask == WRITE_MASK


@lowio_test
async def test_a_read_registration_gains_epollout_with_one_mod() -> None:
    a, b = lsocket.socketpair()
    with a, b:
        counter = EpollCtlCounter()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(a.recv, 1)  # registers for reading
            await wait_all_tasks_blocked()
            await b.send(b"x")
        assert counter.calls == {"add": 1}
        fill(a)
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(a.send, b"z")
            await wait_all_tasks_blocked()
            drain(b)
        assert counter.calls == {"add": 1, "mod": 1}, counter.calls
        a.close()
        assert counter.calls["del"] == 1  # close = notify_closing: one DEL


@pytest.mark.parametrize("how", ["garbage", "detach"])
@lowio_test
async def test_reused_fd_number_after_an_unnotified_close(how: str) -> None:
    # A socket that waited once and then was closed behind lowio's back
    # (garbage collected, or detached and closed) leaves its registration
    # in the cache; a new socket on the same fd number must still wake.
    gc.collect()  # no other fd may be freed meanwhile: the number must come back
    old, old_peer = lsocket.socketpair()
    fd = old.fileno()
    with lowio.move_on_after(0.01):
        await old.recv(1)  # registers fd
    old_peer.close()
    if how == "garbage":
        old._sock.close()  # what the stdlib socket's finalizer does
    else:
        stdlib_socket.socket(fileno=old.detach()).close()
    del old
    gc.collect()
    new, new_peer = lsocket.socketpair()
    with new, new_peer:
        sock, peer = (new, new_peer) if new.fileno() == fd else (new_peer, new)
        assert sock.fileno() == fd  # the number came back
        counter = EpollCtlCounter()
        async with lowio.open_nursery() as nursery:

            async def send_later() -> None:
                await wait_all_tasks_blocked()
                await peer.send(b"z")

            nursery.start_soon(send_later)
            with lowio.fail_after(5):
                assert await sock.recv(1) == b"z"
        assert counter.total == 2, counter.calls  # re-validated once (MOD -> re-ADD)
        # and from then on the fast path again
        counter.calls.clear()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(send_later)
            assert await sock.recv(1) == b"z"
        assert counter.total == 0, counter.calls


@lowio_test
async def test_closed_while_waiting_on_a_reused_registration_fails_cleanly() -> None:
    # close() of a socket whose task waits: ClosedResourceError, the
    # registration is dropped (one DEL), and the fd number's next socket
    # registers afresh
    a, b = lsocket.socketpair()
    fd = a.fileno()
    with b:
        async with lowio.open_nursery() as nursery:

            async def reader() -> None:
                with pytest.raises(lowio.ClosedResourceError):
                    await a.recv(1)

            nursery.start_soon(reader)
            await wait_all_tasks_blocked()
            a.close()
        assert fd not in io_manager()._states
        with pytest.raises(OSError) as info:
            await a.recv(1)
        assert info.value.errno == errno.EBADF
