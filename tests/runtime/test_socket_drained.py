"""The owned fast path's drained rule (``lowio._owned_fast_path``): after a
short ``recv`` a TCP socket waits for the next edge before its next system
call.  One test per case where a short read does *not* mean "the buffer is
empty" (each stalled before the rule was made sound; each is bounded by
``fail_after``), and the tests that the saving is kept where it is sound."""

from __future__ import annotations

import array
import contextlib
import os
import pty
import socket as stdlib_socket
import termios
from collections.abc import Awaitable, Callable, Iterator

import anyio
import pytest
from _socket_helpers import lowio_test

import lowio
import lowio.anyio
import lowio.socket as lsocket
from lowio import _owned_fast_path as fast
from lowio.lowlevel import FdStream
from lowio.testing import wait_all_tasks_blocked

lowio.anyio.register()

PAYLOAD = b"a" * 10
AFTER = b"b" * 10


def with_urgent_byte(sender: stdlib_socket.socket) -> None:
    """10 bytes, one byte of urgent data, 10 more: a recv stops at the mark."""
    sender.send(PAYLOAD)
    sender.send(b"!", stdlib_socket.MSG_OOB)
    sender.send(AFTER)


def with_passed_fd(sender: stdlib_socket.socket) -> None:
    """10 bytes carrying an fd (SCM_RIGHTS), 10 more: a recv stops after the
    first message.  The fd is dropped by the kernel (no control buffer)."""
    r, w = os.pipe()
    try:
        fds = array.array("i", [r])
        sender.sendmsg([PAYLOAD], [(stdlib_socket.SOL_SOCKET, stdlib_socket.SCM_RIGHTS, fds)])
    finally:
        os.close(r)
        os.close(w)
    sender.send(AFTER)


@contextlib.contextmanager
def tcp_pair() -> Iterator[tuple[stdlib_socket.socket, lsocket.SocketType]]:
    """(a blocking stdlib client, the lowio socket of the accepted end)."""
    with stdlib_socket.create_server(("127.0.0.1", 0)) as listener:
        client = stdlib_socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    with client, lsocket.from_stdlib_socket(server) as lserver:
        yield client, lserver


@contextlib.contextmanager
def unix_pair() -> Iterator[tuple[stdlib_socket.socket, lsocket.SocketType]]:
    a, b = stdlib_socket.socketpair()
    with a, lsocket.from_stdlib_socket(b) as lb:
        yield a, lb


async def read_while_sent(
    read: Callable[[], Awaitable[object]], send: Callable[[], None], reads: int = 2
) -> list[object]:
    """Parks a task in ``read``, then ``send``s (all of it before the task
    wakes, so one edge announces it all) and collects ``reads`` reads."""
    got: list[object] = []

    async def reader() -> None:
        for _ in range(reads):
            got.append(await read())

    with lowio.fail_after(2):
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(reader)
            await wait_all_tasks_blocked()
            send()
    return got


# ---- the cases where a short read does not mean "empty" ----


@lowio_test
async def test_tcp_urgent_mark_does_not_stall_the_next_recv() -> None:
    with tcp_pair() as (client, server):
        got = await read_while_sent(lambda: server.recv(65536), lambda: with_urgent_byte(client))
        assert got == [PAYLOAD, AFTER]


@lowio_test
async def test_tcp_urgent_mark_then_a_drained_read_ready_entry() -> None:
    """The urgent data arrives while nobody waits (READY), after the rule
    had started to save system calls on the socket."""
    with tcp_pair() as (client, server):
        client.send(b"first")
        assert await read_while_sent(lambda: server.recv(65536), lambda: None, 1) == [b"first"]
        with_urgent_byte(client)
        await wait_all_tasks_blocked()
        with lowio.fail_after(2):
            assert await server.recv(65536) == PAYLOAD
            assert await server.recv(65536) == AFTER


@lowio_test
async def test_recv_msg_oob_after_a_read_stopped_at_the_mark() -> None:
    with tcp_pair() as (client, server):

        def send() -> None:
            client.send(PAYLOAD)
            client.send(b"!", stdlib_socket.MSG_OOB)

        got = await read_while_sent(lambda: server.recv(65536), send, 1)
        assert got == [PAYLOAD]
        with lowio.fail_after(2):
            assert await server.recv(1, stdlib_socket.MSG_OOB) == b"!"


@lowio_test
async def test_unix_stream_scm_rights_boundary_does_not_stall() -> None:
    with unix_pair() as (a, b):
        got = await read_while_sent(lambda: b.recv(65536), lambda: with_passed_fd(a))
        assert got == [PAYLOAD, AFTER]


@lowio_test
async def test_unix_stream_oob_mark_does_not_stall() -> None:
    with unix_pair() as (a, b):
        try:
            a.send(b"?", stdlib_socket.MSG_OOB)
        except OSError:
            pytest.skip("this kernel has no AF_UNIX MSG_OOB")
        assert b._sock.recv(1, stdlib_socket.MSG_OOB) == b"?"
        got = await read_while_sent(lambda: b.recv(65536), lambda: with_urgent_byte(a))
        assert got == [PAYLOAD, AFTER]


def _rcvlowat(sock: stdlib_socket.socket | lsocket.SocketType, value: int) -> None:
    sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_RCVLOWAT, value)


async def _less_than_rcvlowat_after_a_short_read(
    client: stdlib_socket.socket, server: lsocket.SocketType
) -> None:
    """With SO_RCVLOWAT 100 no edge comes for 10 bytes, but a recv returns
    them at once (as trio's does): the rule must be off."""
    got = await read_while_sent(lambda: server.recv(65536), lambda: client.send(b"x" * 150), 1)
    assert got == [b"x" * 150]
    client.send(PAYLOAD)
    with lowio.fail_after(2):
        assert await server.recv(65536) == PAYLOAD


@lowio_test
async def test_so_rcvlowat_set_before_wrapping() -> None:
    with stdlib_socket.create_server(("127.0.0.1", 0)) as listener:
        client = stdlib_socket.create_connection(listener.getsockname())
        raw, _ = listener.accept()
    _rcvlowat(raw, 100)
    with client, lsocket.from_stdlib_socket(raw) as server:
        await _less_than_rcvlowat_after_a_short_read(client, server)
        assert server._drain == fast.NEVER


@lowio_test
async def test_so_rcvlowat_set_after_the_rule_was_checked() -> None:
    with tcp_pair() as (client, server):
        got = await read_while_sent(lambda: server.recv(65536), lambda: client.send(b"hi"), 1)
        assert got == [b"hi"] and server._drain == fast.SOUND
        _rcvlowat(server, 100)
        await _less_than_rcvlowat_after_a_short_read(client, server)


@pytest.mark.parametrize("flags", [0, stdlib_socket.MSG_PEEK])
@lowio_test
async def test_a_raw_wait_that_consumed_the_edge(flags: int) -> None:
    """After a short read, a wait_readable takes the edge of new data: the
    next recv must not wait for another one."""
    with tcp_pair() as (client, server):
        got = await read_while_sent(lambda: server.recv(65536), lambda: client.send(b"hi"), 1)
        assert got == [b"hi"]
        await read_while_sent(
            lambda: lowio.lowlevel.wait_readable(server),
            lambda: client.send(PAYLOAD),
            1,
        )
        with lowio.fail_after(2):
            assert await server.recv(65536, flags) == PAYLOAD


@pytest.mark.parametrize("variant", ["recv_into", "recvfrom", "recvmsg", "small recv"])
@lowio_test
async def test_another_read_call_that_consumed_the_edge(variant: str) -> None:
    """A read call with a small buffer parks, takes the edge and part of the
    data: the next recv gets the rest at once."""
    with tcp_pair() as (client, server):
        got = await read_while_sent(lambda: server.recv(65536), lambda: client.send(b"hi"), 1)
        assert got == [b"hi"]

        async def small_read() -> bytes:
            if variant == "recv_into":
                buffer = bytearray(4)
                return bytes(buffer[: await server.recv_into(buffer)])
            if variant == "recvfrom":
                return (await server.recvfrom(4))[0]
            if variant == "recvmsg":
                return (await server.recvmsg(4))[0]
            return await server.recv(4)

        assert await read_while_sent(small_read, lambda: client.send(PAYLOAD), 1) == [b"aaaa"]
        with lowio.fail_after(2):
            assert await server.recv(65536) == b"aaaaaa"


@pytest.mark.parametrize("kind", [stdlib_socket.SOCK_DGRAM, stdlib_socket.SOCK_SEQPACKET])
@lowio_test
async def test_message_sockets_return_every_queued_message(kind: int) -> None:
    a, b = lsocket.socketpair(stdlib_socket.AF_UNIX, kind)
    with a, b:

        def send() -> None:
            a._sock.send(PAYLOAD)
            a._sock.send(AFTER)

        assert await read_while_sent(lambda: b.recv(65536), send) == [PAYLOAD, AFTER]


@lowio_test
async def test_a_buffer_smaller_than_the_queued_data() -> None:
    with tcp_pair() as (client, server):
        got = await read_while_sent(lambda: server.recv(4), lambda: client.send(PAYLOAD), 3)
        assert got == [b"aaaa", b"aaaa", b"aa"]


@lowio_test
async def test_eof_reported_with_the_last_data_is_not_lost() -> None:
    """An EOF that came in the same event as the last data has no later
    edge: the recv after the short read must still see it."""
    with tcp_pair() as (client, server):

        def send() -> None:
            client.send(b"last")
            client.shutdown(stdlib_socket.SHUT_WR)

        assert await read_while_sent(lambda: server.recv(100), send) == [b"last", b""]


# ---- FdStream: pipes and TTYs never use the rule ----


@lowio_test
async def test_fd_stream_packet_pipe_returns_every_packet() -> None:
    r, w = os.pipe2(os.O_DIRECT)
    async with FdStream(r) as stream:
        try:

            def send() -> None:
                os.write(w, PAYLOAD)
                os.write(w, AFTER)

            assert await read_while_sent(stream.receive_some, send) == [PAYLOAD, AFTER]
        finally:
            os.close(w)


@lowio_test
async def test_fd_stream_canonical_tty_returns_every_line() -> None:
    master, slave = pty.openpty()
    async with FdStream(slave) as stream:
        try:
            attrs = termios.tcgetattr(slave)
            attrs[3] &= ~termios.ECHO  # canonical mode, no echo back to the master
            termios.tcsetattr(slave, termios.TCSANOW, attrs)

            def send() -> None:
                os.write(master, b"one\ntwo\n")

            got = await read_while_sent(stream.receive_some, send)
            assert got == [b"one\n", b"two\n"]
        finally:
            os.close(master)


# ---- anyio's streams on lowio ----


def _anyio_first_two_receives(
    pair: Callable[[], contextlib.AbstractContextManager[tuple[stdlib_socket.socket, int]]],
    send: Callable[[stdlib_socket.socket], None],
) -> list[bytes]:
    got: list[bytes] = []

    async def main() -> None:
        with pair() as (peer, fd):
            stream = await anyio_stream(fd)
            async with stream:

                async def reader() -> None:
                    got.append(await stream.receive())
                    got.append(await stream.receive())

                with anyio.fail_after(2):
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(reader)
                        await anyio.wait_all_tasks_blocked()
                        send(peer)

    anyio.run(main, backend="lowio")
    return got


async def anyio_stream(fd: int) -> anyio.abc.SocketStream:
    sock = stdlib_socket.socket(fileno=fd)
    if sock.family == stdlib_socket.AF_UNIX:
        return await anyio.abc.UNIXSocketStream.from_socket(sock)
    return await anyio.abc.SocketStream.from_socket(sock)


@contextlib.contextmanager
def raw_tcp() -> Iterator[tuple[stdlib_socket.socket, int]]:
    with stdlib_socket.create_server(("127.0.0.1", 0)) as listener:
        client = stdlib_socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    with client:
        yield client, server.detach()


@contextlib.contextmanager
def raw_unix() -> Iterator[tuple[stdlib_socket.socket, int]]:
    a, b = stdlib_socket.socketpair()
    with a:
        yield a, b.detach()


def test_anyio_receive_after_an_urgent_mark() -> None:
    assert _anyio_first_two_receives(raw_tcp, with_urgent_byte) == [PAYLOAD, AFTER]


def test_anyio_unix_receive_after_a_passed_fd() -> None:
    assert _anyio_first_two_receives(raw_unix, with_passed_fd) == [PAYLOAD, AFTER]


# ---- the saving, where the rule is sound ----


def _count_recvs(sock: lsocket.SocketType) -> list[int]:
    """Wraps the socket's recv: -1 for each EAGAIN, else the length read."""
    calls: list[int] = []
    real_recv = sock._recv

    def counting_recv(bufsize: int, flags: int = 0) -> bytes:
        try:
            data = real_recv(bufsize, flags)
        except BlockingIOError:
            calls.append(-1)
            raise
        calls.append(len(data))
        return data

    sock._recv = counting_recv  # type: ignore[method-assign]
    return calls


async def _ping_pong(ours: lsocket.SocketType, theirs: lsocket.SocketType, rounds: int) -> None:
    async def echo_back() -> None:
        for _ in range(rounds):
            await theirs.send(await theirs.recv(100))

    async with lowio.open_nursery() as nursery:
        nursery.start_soon(echo_back)
        for i in range(rounds):
            await ours.send(b"msg%d" % i)
            assert await ours.recv(100) == b"msg%d" % i


@lowio_test
async def test_tcp_keeps_the_saving() -> None:
    with lsocket.socket() as listener:
        await listener.bind(("127.0.0.1", 0))
        listener.listen()
        with lsocket.socket() as client:
            await client.connect(listener.getsockname())
            server, _ = await listener.accept()
            with server:
                calls = _count_recvs(client)
                await _ping_pong(client, server, 20)
                assert client._drain == fast.SOUND
        # the first recv finds the buffer empty; after that a short read
        # means "drained" and the next recv waits first
        assert calls.count(-1) <= 1, calls


@lowio_test
async def test_unix_stream_makes_the_system_call() -> None:
    a, b = lsocket.socketpair()
    with a, b:
        calls = _count_recvs(a)
        for i in range(5):
            # each recv starts before its message is sent: after the short
            # read before it, the drained rule would park it with no call
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(a.recv, 100)
                await wait_all_tasks_blocked()
                await b.send(b"msg%d" % i)
        assert a._drain == fast.NEVER
    assert calls.count(-1) == 5, calls


def test_rules_by_kind() -> None:
    cases = [
        (stdlib_socket.AF_INET, stdlib_socket.SOCK_STREAM, 0, fast.VERIFY),
        (stdlib_socket.AF_INET6, stdlib_socket.SOCK_STREAM, 0, fast.VERIFY),
        (stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM, 0, fast.NEVER),
        (stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM, 0, fast.NEVER),
        (stdlib_socket.AF_UNIX, stdlib_socket.SOCK_SEQPACKET, 0, fast.NEVER),
    ]
    for family, kind, proto, drain in cases:
        with contextlib.suppress(OSError), stdlib_socket.socket(family, kind, proto) as raw:
            assert fast.socket_rules(raw)[0] == drain, (family, kind)
