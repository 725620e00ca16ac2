"""lowio.SocketStream and lowio.SocketListener: the stream contract on TCP
and UNIX socket pairs (send/receive, partial sends, EOF and half-close,
conflicts, close rules, peer resets, cancellation at each checkpoint) and
the listener's accept/close/error rules."""

from __future__ import annotations

import array
import errno
import os
import resource
import socket as stdlib_socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from _socket_helpers import lowio_test

import lowio
import lowio.socket as lsocket
from lowio._socket_stream import DEFAULT_RECEIVE_SIZE
from lowio.testing import (
    assert_checkpoints,
    check_half_closeable_stream,
    open_stream_to_socket_listener,
    wait_all_tasks_blocked,
)

FAMILIES = ["tcp", "unix"]

StreamPair = tuple[lowio.SocketStream, lowio.SocketStream]


@asynccontextmanager
async def stream_pair(kind: str) -> AsyncIterator[StreamPair]:
    """A connected (client, server) SocketStream pair over TCP loopback or
    an AF_UNIX socketpair; both closed on the way out."""
    if kind == "unix":
        a, b = lsocket.socketpair()
        pair = (lowio.SocketStream(a), lowio.SocketStream(b))
    else:
        listeners = await lowio.open_tcp_listeners(0, host="127.0.0.1")
        async with listeners[0]:
            client = await open_stream_to_socket_listener(listeners[0])
            server = await listeners[0].accept()
        pair = (client, server)
    try:
        yield pair
    finally:
        for stream in pair:
            await stream.aclose()


async def receive_exactly(stream: lowio.SocketStream, count: int) -> bytes:
    got = bytearray()
    while len(got) < count:
        chunk = await stream.receive_some()
        assert chunk, f"end of file after {len(got)} of {count} bytes"
        got += chunk
    return bytes(got)


async def fill_send_buffer(stream: lowio.SocketStream) -> None:
    """Sends through the raw socket until the kernel says EAGAIN."""
    raw = stream.socket._sock
    with pytest.raises(BlockingIOError):
        while True:
            raw.send(b"f" * 65536)


def reset_by_peer(stream: lowio.SocketStream) -> None:
    """Closes the TCP ``stream`` with SO_LINGER 0: the peer gets an RST."""
    stream.socket.setsockopt(lsocket.SOL_SOCKET, lsocket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.socket.close()


# ---- construction ----


@lowio_test
async def test_constructor_checks_the_socket() -> None:
    with pytest.raises(TypeError, match="lowio socket"):
        lowio.SocketStream(stdlib_socket.socket())  # type: ignore[arg-type]
    with lsocket.socket(lsocket.AF_INET, lsocket.SOCK_DGRAM) as udp:
        with pytest.raises(ValueError, match="SOCK_STREAM"):
            lowio.SocketStream(udp)
        with pytest.raises(ValueError, match="SOCK_STREAM"):
            lowio.SocketListener(udp)
    with pytest.raises(TypeError, match="lowio socket"):
        lowio.SocketListener(object())  # type: ignore[arg-type]
    with lsocket.socket() as unbound, pytest.raises(ValueError, match="listening"):
        lowio.SocketListener(unbound)


@lowio_test
async def test_tcp_options_as_trio_sets_them() -> None:
    async with stream_pair("tcp") as (client, server):
        for stream in (client, server):
            assert stream.getsockopt(lsocket.IPPROTO_TCP, lsocket.TCP_NODELAY)
            if hasattr(lsocket, "TCP_NOTSENT_LOWAT"):
                assert stream.getsockopt(lsocket.IPPROTO_TCP, lsocket.TCP_NOTSENT_LOWAT) == 2**14
        client.setsockopt(lsocket.IPPROTO_TCP, lsocket.TCP_NODELAY, False)
        assert not client.getsockopt(lsocket.IPPROTO_TCP, lsocket.TCP_NODELAY)
        raw = client.getsockopt(lsocket.IPPROTO_TCP, lsocket.TCP_NODELAY, 4)
        assert isinstance(raw, bytes) and len(raw) == 4
        with pytest.raises(TypeError, match="must not be None"):
            client.setsockopt(lsocket.IPPROTO_TCP, lsocket.TCP_NODELAY, None)
        with pytest.raises(TypeError, match="must be None"):
            client.setsockopt(lsocket.IPPROTO_TCP, lsocket.TCP_NODELAY, 1, 4)
        assert isinstance(client.socket, lsocket.SocketType)
        assert "SocketStream" in repr(client)


def test_a_socket_subclass_wrapping_no_real_socket() -> None:
    # test doubles subclass SocketType without a socket under them (trio's
    # own tests do): the stream must not need the family
    options: list[tuple[int, int, object]] = []

    class FakeSocket(lsocket.SocketType):
        def __init__(self) -> None:
            pass

        type = lsocket.SOCK_STREAM

        def setsockopt(self, level: int, optname: int, value: Any, optlen: Any = None) -> None:
            options.append((level, optname, value))

    lowio.SocketStream(FakeSocket())
    assert (lsocket.IPPROTO_TCP, lsocket.TCP_NODELAY, True) in options


@lowio_test
async def test_unix_streams_need_no_tcp_options() -> None:
    async with stream_pair("unix") as (a, b):
        await a.send_all(b"x")
        assert await b.receive_some() == b"x"


# ---- data ----


@pytest.mark.parametrize("kind", FAMILIES)
@lowio_test
async def test_round_trip_and_receive_sizes(kind: str) -> None:
    async with stream_pair(kind) as (a, b):
        await a.send_all(b"hello")
        assert await b.receive_some() == b"hello"
        await a.send_all(b"0123456789")
        assert await b.receive_some(4) == b"0123"
        assert await b.receive_some(100) == b"456789"
        with pytest.raises(ValueError, match="max_bytes must be >= 1"):
            await b.receive_some(0)
        big = b"y" * (3 * DEFAULT_RECEIVE_SIZE)
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(a.send_all, big)
            await lowio.sleep(0.05)  # let it all arrive
            first = await b.receive_some()
            assert 0 < len(first) <= DEFAULT_RECEIVE_SIZE == 65536
            assert first + await receive_exactly(b, len(big) - len(first)) == big


@pytest.mark.parametrize("kind", FAMILIES)
@lowio_test
async def test_big_send_all_against_a_slow_reader(kind: str) -> None:
    # many partial sends: every byte arrives once, in order
    payload = bytes(range(256)) * (16 * 1024)  # 4 MiB
    async with stream_pair(kind) as (a, b):
        got = bytearray()

        async def slow_reader() -> None:
            while len(got) < len(payload):
                got.extend(await b.receive_some(50_000))
                await lowio.sleep(0)

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(slow_reader)
            await a.send_all(payload)
        assert got == payload


@lowio_test
async def test_send_all_takes_any_buffer_and_keeps_no_view() -> None:
    async with stream_pair("unix") as (a, b):
        data = bytearray(b"z" * 300_000)
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(receive_exactly, b, len(data))
            await a.send_all(data)  # partial sends on views of it
        data.extend(b"more")  # BufferError if a view were still exported
        ints = array.array("i", [1, 2, 3])  # itemsize 4: 12 bytes, not 3
        await a.send_all(memoryview(ints))
        assert await receive_exactly(b, 12) == ints.tobytes()
        # partial sends of a multi-byte format resume at the right byte
        many = array.array("i", range(200_000))
        async with lowio.open_nursery() as nursery:
            got: list[bytes] = []

            async def collect() -> None:
                got.append(await receive_exactly(b, len(many) * many.itemsize))

            nursery.start_soon(collect)
            await a.send_all(memoryview(many))
        assert got == [many.tobytes()]
        await a.send_all(memoryview(b"abcdef")[2:4])
        assert await b.receive_some() == b"cd"


@pytest.mark.parametrize("kind", FAMILIES)
@lowio_test
async def test_send_eof_half_closes(kind: str) -> None:
    async with stream_pair(kind) as (a, b):
        await a.send_all(b"last words")
        with assert_checkpoints():
            await a.send_eof()
        assert await receive_exactly(b, 10) == b"last words"
        assert await b.receive_some() == b""
        assert await b.receive_some() == b""  # EOF stays EOF
        await a.send_eof()  # idempotent
        with pytest.raises(lowio.ClosedResourceError, match="after sending EOF"):
            await a.send_all(b"more")
        # the other direction still works
        await b.send_all(b"reply")
        assert await a.receive_some() == b"reply"
        await b.send_eof()
        assert await a.receive_some() == b""


@lowio_test
async def test_async_iteration_reads_until_eof() -> None:
    async with stream_pair("unix") as (a, b):
        await a.send_all(b"abc")
        await a.send_eof()
        assert b"".join([chunk async for chunk in b]) == b"abc"


@lowio_test
async def test_empty_send_all_is_a_checkpoint_and_sees_close() -> None:
    async with stream_pair("unix") as (a, _b):
        with assert_checkpoints():
            await a.send_all(b"")
        await a.aclose()
        with pytest.raises(lowio.ClosedResourceError):
            await a.send_all(b"")


# ---- conflicts ----


@pytest.mark.parametrize("kind", FAMILIES)
@lowio_test
async def test_two_senders_or_receivers_conflict(kind: str) -> None:
    async with stream_pair(kind) as (a, b):
        # receivers: the first waits, the second is refused at once
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(b.receive_some)
            await wait_all_tasks_blocked()
            with pytest.raises(lowio.BusyResourceError, match="receiving"):
                await b.receive_some()
            await a.send_all(b"x")  # lets the first one finish
        # senders: fill the pipe so that the first send_all waits
        await fill_send_buffer(a)
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(a.send_all, b"y" * 1000)
            await wait_all_tasks_blocked()
            for busy in (
                a.send_all(b"z"),
                a.wait_send_all_might_not_block(),
                a.send_eof(),
            ):
                with pytest.raises(lowio.BusyResourceError, match="sending"):
                    await busy
            nursery.cancel_scope.cancel()
        # a sender and a receiver at once are fine
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(a.receive_some)
            nursery.start_soon(b.send_all, b"both ways")
            await wait_all_tasks_blocked()


# ---- closing ----


@pytest.mark.parametrize("kind", FAMILIES)
@lowio_test
async def test_everything_raises_closed_after_aclose(kind: str) -> None:
    async with stream_pair(kind) as (a, _b):
        with assert_checkpoints():
            await a.aclose()
        await a.aclose()  # idempotent
        with pytest.raises(lowio.ClosedResourceError):
            await a.send_all(b"x")
        with pytest.raises(lowio.ClosedResourceError):
            await a.receive_some()
        with pytest.raises(lowio.ClosedResourceError):
            await a.send_eof()
        with pytest.raises(lowio.ClosedResourceError):
            await a.wait_send_all_might_not_block()


@pytest.mark.parametrize("kind", FAMILIES)
@lowio_test
async def test_close_by_another_task_wakes_waiters(kind: str) -> None:
    async with stream_pair(kind) as (a, _b):
        await fill_send_buffer(a)
        errors: list[BaseException] = []

        async def expect_closed(fn: Callable[[], Awaitable[Any]]) -> None:
            with pytest.raises(lowio.ClosedResourceError) as info:
                await fn()
            errors.append(info.value)

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(expect_closed, a.receive_some)
            nursery.start_soon(expect_closed, lambda: a.send_all(b"w" * 1000))
            await wait_all_tasks_blocked()
            await a.aclose()
        assert len(errors) == 2


@lowio_test
async def test_aclose_closes_even_when_cancelled() -> None:
    async with stream_pair("unix") as (a, _b):
        with lowio.CancelScope() as scope:
            scope.cancel()
            await a.aclose()
        assert a.socket.fileno() == -1


# ---- a peer that reset the connection ----


@lowio_test
async def test_peer_reset_is_broken_resource_with_the_oserror_as_cause() -> None:
    async with stream_pair("tcp") as (a, b):
        await a.send_all(b"unread")  # unread data: close() sends an RST
        await lowio.sleep(0.01)
        reset_by_peer(b)
        await lowio.sleep(0.01)
        with pytest.raises(lowio.BrokenResourceError, match="socket connection broken") as info:
            await a.receive_some()
        assert isinstance(info.value.__cause__, ConnectionResetError)
        with pytest.raises(lowio.BrokenResourceError) as info:
            for _ in range(10):  # the first send may still be accepted
                await a.send_all(b"x" * 65536)
        cause = info.value.__cause__
        assert isinstance(cause, OSError)
        assert cause.errno in (errno.EPIPE, errno.ECONNRESET)


@lowio_test
async def test_send_to_a_closed_unix_peer_is_broken() -> None:
    async with stream_pair("unix") as (a, b):
        await b.aclose()
        with pytest.raises(lowio.BrokenResourceError) as info:
            await a.send_all(b"x")
        assert isinstance(info.value.__cause__, BrokenPipeError)


# ---- cancellation ----


@pytest.mark.parametrize("kind", FAMILIES)
@lowio_test
async def test_every_operation_is_a_checkpoint(kind: str) -> None:
    async with stream_pair(kind) as (a, b):
        with assert_checkpoints():
            await a.send_all(b"x")
        with assert_checkpoints():
            await b.receive_some()  # data ready: no wait, still a checkpoint
        with assert_checkpoints():
            await a.wait_send_all_might_not_block()


@pytest.mark.parametrize("kind", FAMILIES)
@lowio_test
async def test_cancelled_operations_lose_nothing(kind: str) -> None:
    async with stream_pair(kind) as (a, b):
        await a.send_all(b"kept")
        with lowio.CancelScope() as scope:
            scope.cancel()
            await b.receive_some()  # cancelled before the recv: data stays
            pytest.fail("not cancelled")
        with lowio.CancelScope() as scope:
            scope.cancel()
            await a.send_all(b"never sent")
            pytest.fail("not cancelled")
        with lowio.CancelScope() as scope:
            scope.cancel()
            await a.send_eof()
            pytest.fail("not cancelled")
        assert not a.socket.did_shutdown_SHUT_WR
        with lowio.CancelScope() as scope:
            scope.cancel()
            await a.wait_send_all_might_not_block()
            pytest.fail("not cancelled")
        # a receive cancelled while waiting
        with lowio.move_on_after(0.01):
            await a.receive_some()
            pytest.fail("not cancelled")
        await a.send_eof()
        assert await b.receive_some() == b"kept"
        assert await b.receive_some() == b""
        # the flags are cleared after a cancellation: no false conflicts
        await b.send_all(b"ok")
        assert await a.receive_some() == b"ok"


@lowio_test
async def test_send_all_cancelled_part_way_then_closable() -> None:
    async with stream_pair("unix") as (a, b):
        data = bytearray(1 << 22)
        with lowio.move_on_after(0.02):
            await a.send_all(data)  # nobody reads: it waits part-way
            pytest.fail("not cancelled")
        data.extend(b"x")  # the view of the cancelled send was released
        # the stream can still send once the peer drains
        async with lowio.open_nursery() as nursery:

            async def drain() -> None:
                while await b.receive_some():
                    pass

            nursery.start_soon(drain)
            await a.send_all(b"after")
            await a.send_eof()


@lowio_test
async def test_wait_send_all_might_not_block_waits_for_room() -> None:
    async with stream_pair("unix") as (a, b):
        await fill_send_buffer(a)
        woke = lowio.Event()

        async def waiter() -> None:
            await a.wait_send_all_might_not_block()
            woke.set()

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await wait_all_tasks_blocked()
            assert not woke.is_set()
            while not woke.is_set():
                await b.receive_some()
                await lowio.sleep(0.001)


# ---- SocketListener ----


@lowio_test
async def test_listener_accepts_streams() -> None:
    (listener,) = await lowio.open_tcp_listeners(0, host="127.0.0.1")
    async with listener:
        assert "SocketListener" in repr(listener)
        client = await open_stream_to_socket_listener(listener)
        with assert_checkpoints():
            server = await listener.accept()
        assert isinstance(server, lowio.SocketStream)
        async with client, server:
            await client.send_all(b"ping")
            assert await server.receive_some() == b"ping"
    with pytest.raises(lowio.ClosedResourceError):
        await listener.accept()
    await listener.aclose()  # idempotent


@lowio_test
async def test_listener_closed_by_another_task_during_accept() -> None:
    (listener,) = await lowio.open_tcp_listeners(0, host="127.0.0.1")
    async with lowio.open_nursery() as nursery:

        async def accept() -> None:
            with pytest.raises(lowio.ClosedResourceError):
                await listener.accept()

        nursery.start_soon(accept)
        await wait_all_tasks_blocked()
        await listener.aclose()


@lowio_test
async def test_two_accepts_conflict() -> None:
    (listener,) = await lowio.open_tcp_listeners(0, host="127.0.0.1")
    async with listener, lowio.open_nursery() as nursery:
        nursery.start_soon(listener.accept)
        await wait_all_tasks_blocked()
        with pytest.raises(lowio.BusyResourceError):
            await listener.accept()
        nursery.cancel_scope.cancel()


class ScriptedListeningSocket(lsocket.SocketType):
    """A real listening socket whose ``accept`` first raises the scripted
    errors, one per call."""

    def __init__(self, errors: list[int]) -> None:
        sock = stdlib_socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        super().__init__(sock)
        self.errors = errors
        self.calls = 0

    async def accept(self) -> tuple[lsocket.SocketType, Any]:
        self.calls += 1
        await lowio.lowlevel.checkpoint()
        if self.errors:
            code = self.errors.pop(0)
            raise OSError(code, f"scripted {errno.errorcode[code]}")
        return await super().accept()


@lowio_test
async def test_listener_skips_connection_errors_and_raises_others() -> None:
    sock = ScriptedListeningSocket([errno.ECONNABORTED, errno.EPROTO, errno.ECONNRESET])
    async with lowio.SocketListener(sock) as listener:
        client = await open_stream_to_socket_listener(listener)
        async with client, await listener.accept():
            assert sock.calls == 4
        sock.errors = [errno.EMFILE]
        with pytest.raises(OSError) as info:
            await listener.accept()
        assert info.value.errno == errno.EMFILE
        sock.errors = [errno.EBADF]
        with pytest.raises(lowio.ClosedResourceError):
            await listener.accept()


@lowio_test
async def test_listener_real_emfile_propagates() -> None:
    (listener,) = await lowio.open_tcp_listeners(0, host="127.0.0.1")
    async with listener:
        client = await open_stream_to_socket_listener(listener)
        async with client:
            await lowio.sleep(0.01)  # the connection is queued
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            lowest_free = os.dup(0)  # dup() takes the lowest free fd number
            os.close(lowest_free)
            resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))
            try:
                with pytest.raises(OSError) as info:
                    await listener.accept()
            finally:
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            assert info.value.errno == errno.EMFILE
            async with await listener.accept():  # the connection is still there
                pass


# ---- the generic stream checks of lowio.testing ----


async def make_pair(kind: str) -> StreamPair:
    if kind == "unix":
        a, b = lsocket.socketpair()
        return lowio.SocketStream(a), lowio.SocketStream(b)
    (listener,) = await lowio.open_tcp_listeners(0, host="127.0.0.1")
    async with listener:
        client = await open_stream_to_socket_listener(listener)
        return client, await listener.accept()


async def clog(stream: lowio.SocketStream) -> None:
    """send_all until it blocks (the peer's receive buffer and ours full)."""
    async with lowio.open_nursery() as nursery:

        async def sender() -> None:
            while True:
                await stream.send_all(b"x" * 10_000)

        nursery.start_soon(sender)
        await wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("kind", FAMILIES)
def test_check_half_closeable_stream(kind: str) -> None:
    async def maker() -> StreamPair:
        return await make_pair(kind)

    async def clogged_maker() -> StreamPair:
        a, b = await make_pair(kind)
        await clog(a)
        await clog(b)
        return a, b

    lowio.run(check_half_closeable_stream, maker, clogged_maker)
