"""anyio's networking and processes on lowio, through anyio's public API
(``anyio.run(..., backend="lowio")``): TCP and UNIX streams and listeners,
file-descriptor passing, UDP and UNIX datagram sockets, the exceptions
anyio specifies, checkpoints, subprocesses and the ``to_process`` pool.
The autouse fixture of ``conftest`` checks that fds and threads are back
to their baseline after each test."""

from __future__ import annotations

import array
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import anyio.to_process
import pytest
from anyio import (
    BrokenResourceError,
    BusyResourceError,
    ClosedResourceError,
    EndOfStream,
    create_task_group,
    wait_all_tasks_blocked,
)
from anyio.abc import SocketAttribute, SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream

import lowio.anyio
from lowio.testing import assert_checkpoints

lowio.anyio.register()

PY = sys.executable


def run(fn: Callable[[], Awaitable[object]]) -> None:
    anyio.run(fn, backend="lowio")


def python(code: str) -> list[str]:
    return [PY, "-c", code]


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short directory for UNIX socket paths (AF_UNIX paths are short)."""
    with tempfile.TemporaryDirectory() as path:
        yield Path(path)


async def close_while_busy(
    op: Callable[[], Awaitable[object]], close: Callable[[], Awaitable[None]], busy: str
) -> None:
    """A task blocked in ``op()`` gets ``ClosedResourceError`` when ``close()``
    runs; meanwhile a second ``op()`` is ``BusyResourceError`` (``busy``)."""

    async def blocked() -> None:
        with pytest.raises(ClosedResourceError):
            await op()

    async with create_task_group() as tg:
        tg.start_soon(blocked)
        await wait_all_tasks_blocked()
        with pytest.raises(BusyResourceError, match=busy):
            await op()
        await close()


async def tcp_pair() -> tuple[SocketStream, SocketStream]:
    """A connected pair of anyio TCP streams on loopback (client, server)."""
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(SocketAttribute.local_port)
        client = await anyio.connect_tcp("127.0.0.1", port)
        inner = listener.listeners[0]
        assert isinstance(inner, anyio.abc.SocketListener)
        server = await inner.accept()
    assert isinstance(server, SocketStream)
    return client, server


def fill(stream: SocketStream) -> None:
    """Fills the kernel buffers of ``stream``'s direction (non-blocking)."""
    raw = stream.extra(SocketAttribute.raw_socket)
    try:
        while True:
            raw.send(b"x" * 65536)
    except BlockingIOError:
        pass


# ---- TCP streams ----


def test_tcp_echo_server_with_a_task_group() -> None:
    async def handle(stream: SocketStream) -> None:
        async with stream:
            async for chunk in stream:
                await stream.send(chunk)

    async def client(port: int, index: int, results: dict[int, bytes]) -> None:
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            payload = b"%d:" % index + b"z" * (1000 * index)
            await stream.send(payload)
            await stream.send_eof()
            received = b""
            async for chunk in stream:
                received += chunk
            results[index] = received

    async def main() -> None:
        results: dict[int, bytes] = {}
        async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
            port = listener.extra(SocketAttribute.local_port)
            async with create_task_group() as tg:
                tg.start_soon(listener.serve, handle)
                async with create_task_group() as clients:
                    for index in range(10):
                        clients.start_soon(client, port, index, results)
                tg.cancel_scope.cancel()
        assert results == {i: b"%d:" % i + b"z" * (1000 * i) for i in range(10)}

    run(main)


def test_tcp_extra_attributes() -> None:
    async def main() -> None:
        client, server = await tcp_pair()
        async with client, server:
            raw = client.extra(SocketAttribute.raw_socket)
            assert isinstance(raw, socket.socket)
            assert raw.gettimeout() == 0.0
            assert client.extra(SocketAttribute.family) == socket.AF_INET
            assert client.extra(SocketAttribute.local_address) == raw.getsockname()
            assert client.extra(SocketAttribute.remote_address) == raw.getpeername()
            assert client.extra(SocketAttribute.local_port) == raw.getsockname()[1]
            assert client.extra(SocketAttribute.remote_port) == server.extra(
                SocketAttribute.local_port
            )
            for stream in (client, server):
                nodelay = stream.extra(SocketAttribute.raw_socket).getsockopt(
                    socket.IPPROTO_TCP, socket.TCP_NODELAY
                )
                assert nodelay != 0
            assert client._raw_socket is raw

    run(main)


def test_tcp_receive_max_bytes_and_invalid_values() -> None:
    async def main() -> None:
        client, server = await tcp_pair()
        async with client, server:
            await client.send(b"abcdef")
            await wait_all_tasks_blocked()
            assert await server.receive(4) == b"abcd"
            assert await server.receive() == b"ef"
            for bad in (0, -1):
                with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
                    await server.receive(bad)

    run(main)


def test_tcp_large_send_parks_until_the_peer_reads() -> None:
    payload = os.urandom(4 * 1024 * 1024)  # far more than the kernel buffers

    async def main() -> None:
        client, server = await tcp_pair()
        received = bytearray()

        async def reader() -> None:
            while len(received) < len(payload):
                received.extend(await server.receive())

        async with client, server, create_task_group() as tg:
            tg.start_soon(reader)
            await client.send(payload)
            await client.send(memoryview(b"tail"))  # type: ignore[arg-type]
            payload_with_tail = payload + b"tail"
            while len(received) < len(payload_with_tail):
                await anyio.sleep(0.001)
        assert bytes(received) == payload_with_tail

    run(main)


def test_tcp_send_accepts_other_bytes_like_objects() -> None:
    async def main() -> None:
        client, server = await tcp_pair()
        async with client, server:
            await client.send(bytearray(b"ab"))  # type: ignore[arg-type]
            await client.send(array.array("i", [1, 2]))  # type: ignore[arg-type]
            expected = b"ab" + array.array("i", [1, 2]).tobytes()
            received = b""
            while len(received) < len(expected):
                received += await server.receive()
            assert received == expected

    run(main)


def test_tcp_send_eof() -> None:
    async def main() -> None:
        client, server = await tcp_pair()
        async with client, server:
            await client.send(b"request")
            await client.send_eof()
            await client.send_eof()  # idempotent
            assert await server.receive() == b"request"
            with pytest.raises(EndOfStream):
                await server.receive()
            # the other direction still works
            await server.send(b"response")
            assert await client.receive() == b"response"
            with pytest.raises(BrokenResourceError) as info:
                await client.send(b"more")
            assert isinstance(info.value.__cause__, BrokenPipeError)
        with pytest.raises(ClosedResourceError):
            await client.send_eof()

    run(main)


def test_tcp_end_of_stream_and_iteration() -> None:
    async def main() -> None:
        client, server = await tcp_pair()
        async with client:
            await server.send(b"one")
            await server.aclose()
            chunks = [chunk async for chunk in client]
            assert chunks == [b"one"]
            with pytest.raises(EndOfStream):
                await client.receive()

    run(main)


def test_tcp_peer_reset_is_broken_resource() -> None:
    async def main() -> None:
        client, server = await tcp_pair()
        async with client:
            raw = server.extra(SocketAttribute.raw_socket)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            await server.aclose()
            with pytest.raises(BrokenResourceError) as info:
                await client.receive()
            assert isinstance(info.value.__cause__, ConnectionResetError)

    run(main)


def test_tcp_send_to_a_closed_peer_is_broken_resource() -> None:
    async def main() -> None:
        client, server = await tcp_pair()
        async with client:
            await server.aclose()
            with pytest.raises(BrokenResourceError) as info:
                for _ in range(1000):
                    await client.send(b"x")
            assert isinstance(info.value.__cause__, OSError)

    run(main)


def test_tcp_use_after_close_is_closed_resource() -> None:
    async def main() -> None:
        client, server = await tcp_pair()
        await server.aclose()
        await client.aclose()
        await client.aclose()  # twice is fine
        with pytest.raises(ClosedResourceError):
            await client.receive()
        with pytest.raises(ClosedResourceError):
            await client.send(b"x")
        with pytest.raises(ClosedResourceError):
            await client.send_eof()
        assert client.extra(SocketAttribute.raw_socket).fileno() == -1

    run(main)


def test_tcp_close_while_another_task_receives_or_sends() -> None:
    async def main() -> None:
        client, server = await tcp_pair()
        errors: list[type[BaseException]] = []

        async def receive() -> None:
            try:
                await client.receive()
            except ClosedResourceError as exc:
                errors.append(type(exc))

        async def send() -> None:
            try:
                while True:  # blocks once the buffers are full
                    await client.send(b"\0" * 65536)
            except ClosedResourceError as exc:
                errors.append(type(exc))

        async with server, create_task_group() as tg:
            tg.start_soon(receive)
            tg.start_soon(send)
            await wait_all_tasks_blocked()
            await client.aclose()
        assert errors == [ClosedResourceError, ClosedResourceError]

    run(main)


def test_tcp_concurrent_receivers_and_senders_are_busy() -> None:
    async def main() -> None:
        client, server = await tcp_pair()
        async with client, server, create_task_group() as tg:
            tg.start_soon(client.receive)
            fill(client)

            async def send_blocked() -> None:
                await client.send(b"y" * 65536)

            tg.start_soon(send_blocked)
            await wait_all_tasks_blocked()
            with pytest.raises(BusyResourceError, match="already reading from"):
                await client.receive()
            with pytest.raises(BusyResourceError, match="already writing to"):
                await client.send(b"z")
            tg.cancel_scope.cancel()

    run(main)


def test_tcp_cancelled_receive_loses_no_data() -> None:
    async def main() -> None:
        client, server = await tcp_pair()
        async with client, server:
            with anyio.move_on_after(0.01) as scope:
                await server.receive()
            assert scope.cancelled_caught
            await client.send(b"data")
            await wait_all_tasks_blocked()
            # data ready, but the scope is cancelled: the cancel check comes first
            with anyio.CancelScope() as scope:
                scope.cancel()
                await server.receive()
            assert scope.cancelled_caught
            assert await server.receive() == b"data"

    run(main)


def test_tcp_io_is_a_checkpoint() -> None:
    async def main() -> None:
        client, server = await tcp_pair()
        async with client, server:
            with assert_checkpoints():
                await client.send(b"ping")
            await wait_all_tasks_blocked()
            with assert_checkpoints():
                assert await server.receive() == b"ping"
            await client.send(b"pong")
            await wait_all_tasks_blocked()
            with assert_checkpoints():
                assert await server.__anext__() == b"pong"

    run(main)


def test_tcp_empty_send_is_a_checkpoint_without_a_system_call() -> None:
    """``send(b"")`` writes nothing: a cancel point and a schedule point, no
    ``send`` system call; closed, or after ``send_eof``, it fails as a
    non-empty send does."""

    class Counting:
        """Wraps the stream's socket object, counting its ``send`` calls."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner
            self.sends = 0

        def __call__(self, data: Any) -> Any:
            self.sends += 1
            return self.inner(data)

    async def main() -> None:
        client, server = await tcp_pair()
        async with client, server:
            native = client._lowio_socket  # type: ignore[attr-defined]
            counting = Counting(native._send)
            native._send = counting
            with assert_checkpoints():
                await client.send(b"")
            assert counting.sends == 0
            with anyio.CancelScope() as scope:
                scope.cancel()
                await client.send(b"")
                pytest.fail("a cancelled empty send returned")  # pragma: no cover
            assert scope.cancelled_caught
            await client.send(b"data")
            assert counting.sends == 1
            assert await server.receive() == b"data"
            await client.send_eof()
            with pytest.raises(BrokenResourceError):
                await client.send(b"")
        with pytest.raises(ClosedResourceError):
            await client.send(b"")

    run(main)


def test_tcp_connect_refused_and_cancelled_connect() -> None:
    async def main() -> None:
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            port = unused.getsockname()[1]
            with pytest.raises(OSError, match="All connection attempts failed") as info:
                await anyio.connect_tcp("127.0.0.1", port)
            assert isinstance(info.value.__cause__, ConnectionRefusedError)
        with anyio.CancelScope() as scope:
            scope.cancel()
            await anyio.connect_tcp("127.0.0.1", 9)
        assert scope.cancelled_caught

    run(main)


def test_tcp_connect_with_local_address() -> None:
    async def main() -> None:
        async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
            port = listener.extra(SocketAttribute.local_port)
            async with await anyio.connect_tcp("127.0.0.1", port, local_host="127.0.0.1") as c:
                assert c.extra(SocketAttribute.local_address)[0] == "127.0.0.1"

    run(main)


# ---- listeners ----


def test_listener_close_during_and_after_accept() -> None:
    async def main() -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        inner = listener.listeners[0]
        assert isinstance(inner, anyio.abc.SocketListener)

        await close_while_busy(inner.accept, listener.aclose, "already accepting connections")
        with pytest.raises(ClosedResourceError):
            await inner.accept()

    run(main)


def test_listener_from_socket_and_extra_attributes() -> None:
    async def main() -> None:
        raw = socket.create_server(("127.0.0.1", 0))
        raw.setblocking(False)
        listener = await anyio.abc.SocketListener.from_socket(raw)
        async with listener:
            assert listener.extra(SocketAttribute.raw_socket) is raw
            assert listener.extra(SocketAttribute.local_port) == raw.getsockname()[1]
            port = raw.getsockname()[1]
            async with await anyio.connect_tcp("127.0.0.1", port) as client:
                accepted = await listener.accept()
                async with accepted:
                    await client.send(b"hi")
                    assert await accepted.receive() == b"hi"
        assert raw.fileno() == -1

    run(main)


# ---- UNIX streams ----


def test_unix_stream_echo_and_send_eof(sock_dir: Path) -> None:
    path = sock_dir / "echo.sock"

    async def handle(stream: SocketStream) -> None:
        async with stream:
            data = b""
            async for chunk in stream:
                data += chunk
            await stream.send(data[::-1])

    async def main() -> None:
        async with await anyio.create_unix_listener(path) as listener, create_task_group() as tg:
            tg.start_soon(listener.serve, handle)
            async with await anyio.connect_unix(path) as stream:
                assert isinstance(stream, anyio.abc.UNIXSocketStream)
                assert stream.extra(SocketAttribute.family) == socket.AF_UNIX
                assert stream.extra(SocketAttribute.remote_address) == str(path)
                await stream.send(b"hello")
                await stream.send_eof()
                assert await stream.receive() == b"olleh"
                with pytest.raises(EndOfStream):
                    await stream.receive()
            tg.cancel_scope.cancel()

    run(main)


def test_unix_send_fds_and_receive_fds(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"first file")
    (tmp_path / "b").write_bytes(b"second file")

    async def main() -> None:
        left, right = socket.socketpair()
        async with (
            await anyio.abc.UNIXSocketStream.from_socket(left) as sender,
            await anyio.abc.UNIXSocketStream.from_socket(right) as receiver,
        ):
            with open(tmp_path / "a", "rb") as a, open(tmp_path / "b", "rb") as b:
                await sender.send_fds(b"two", [a, b.fileno()])
            message, fds = await receiver.receive_fds(10, 4)
            assert message == b"two"
            assert len(fds) == 2
            contents = []
            for fd in fds:
                with os.fdopen(fd, "rb") as file:
                    contents.append(file.read())
            assert contents == [b"first file", b"second file"]
            await sender.send_eof()
            with pytest.raises(EndOfStream):
                await receiver.receive_fds(10, 1)
            with pytest.raises(ValueError, match="msglen"):
                await receiver.receive_fds(-1, 1)
            with pytest.raises(ValueError, match="maxfds"):
                await receiver.receive_fds(1, 0)
            with pytest.raises(ValueError, match="message must not be empty"):
                await sender.send_fds(b"", [0])
            with pytest.raises(ValueError, match="fds must not be empty"):
                await sender.send_fds(b"x", [])
        with pytest.raises(ClosedResourceError):
            await receiver.receive_fds(1, 1)
        with pytest.raises(ClosedResourceError):
            await sender.send_fds(b"x", [0])

    run(main)


def test_unix_send_fds_with_a_large_message() -> None:
    message = os.urandom(1024 * 1024)

    async def main() -> None:
        left, right = socket.socketpair()
        left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        received = bytearray()
        passed: list[int] = []
        r, w = os.pipe()
        os.close(w)
        try:
            async with (
                await anyio.abc.UNIXSocketStream.from_socket(left) as sender,
                await anyio.abc.UNIXSocketStream.from_socket(right) as receiver,
            ):

                async def receive() -> None:
                    while True:
                        try:
                            chunk, fds = await receiver.receive_fds(65536, 4)
                        except EndOfStream:
                            return
                        received.extend(chunk)
                        passed.extend(fds)

                async with create_task_group() as tg:
                    tg.start_soon(receive)
                    await sender.send_fds(message, [r])
                    await sender.send_eof()
        finally:
            os.close(r)
            for fd in passed:
                os.close(fd)
        assert bytes(received) == message
        assert len(passed) == 1

    run(main)


def test_unix_connect_to_a_missing_path(sock_dir: Path) -> None:
    async def main() -> None:
        with pytest.raises(FileNotFoundError):
            await anyio.connect_unix(sock_dir / "missing.sock")

    run(main)


# ---- UDP ----


def test_udp_unconnected_and_connected() -> None:
    async def main() -> None:
        async with await anyio.create_udp_socket(local_host="127.0.0.1") as server:
            host = "127.0.0.1"
            port = server.extra(SocketAttribute.local_port)
            assert server.extra(SocketAttribute.local_address) == (host, port)
            assert server.extra(SocketAttribute.family) == socket.AF_INET
            async with await anyio.create_connected_udp_socket(host, port) as client:
                assert client.extra(SocketAttribute.remote_port) == port
                await client.send(b"ping")
                data, address = await server.receive()
                assert data == b"ping"
                assert address == client.extra(SocketAttribute.local_address)
                await server.sendto(b"pong", *address)
                assert await client.receive() == b"pong"
                await server.send((b"", address))  # an empty datagram is data
                assert await client.receive() == b""

    run(main)


def test_udp_close_during_receive_and_use_after_close() -> None:
    async def main() -> None:
        udp = await anyio.create_udp_socket(local_host="127.0.0.1")

        await close_while_busy(udp.receive, udp.aclose, "already reading from")
        with pytest.raises(ClosedResourceError):
            await udp.receive()
        with pytest.raises(ClosedResourceError):
            await udp.sendto(b"x", "127.0.0.1", 9)

    run(main)


def test_connected_udp_refused_is_broken_resource() -> None:
    async def main() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as unused:
            unused.bind(("127.0.0.1", 0))
            port = unused.getsockname()[1]
        async with await anyio.create_connected_udp_socket("127.0.0.1", port) as udp:
            await udp.send(b"anyone?")  # the ICMP error comes back on the next call
            with anyio.fail_after(1), pytest.raises(BrokenResourceError) as info:
                await udp.receive()
            assert isinstance(info.value.__cause__, ConnectionRefusedError)

    run(main)


# ---- UNIX datagrams ----


def test_unix_datagram_sockets(sock_dir: Path) -> None:
    server_path = sock_dir / "server.sock"
    client_path = sock_dir / "client.sock"

    async def main() -> None:
        async with await anyio.create_unix_datagram_socket(local_path=server_path) as server:
            assert server.extra(SocketAttribute.local_address) == str(server_path)
            async with await anyio.create_connected_unix_datagram_socket(
                server_path, local_path=client_path
            ) as client:
                assert client.extra(SocketAttribute.remote_address) == str(server_path)
                await client.send(b"hello")
                data, address = await server.receive()
                assert (data, address) == (b"hello", str(client_path))
                await server.sendto(b"world", address)
                assert await client.receive() == b"world"

    run(main)


def test_unix_datagram_send_waits_while_the_buffer_is_full(sock_dir: Path) -> None:
    peer_path = str(sock_dir / "peer.sock")

    async def main() -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as peer:
            peer.bind(peer_path)
            peer.setblocking(False)
            raw = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            raw.setblocking(False)
            # A small send buffer, so that it (not the peer's queue length)
            # limits the datagrams in flight: the kernel wakes a sender
            # whose buffer drains, but an unconnected sender refused by a
            # full peer queue is reported writable all along (every
            # backend spins on that).
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1024)
            count = 0
            try:
                while True:
                    raw.sendto(b"d" * 64, peer_path)
                    count += 1
            except BlockingIOError:
                pass
            sent = False
            async with await anyio.abc.UNIXDatagramSocket.from_socket(raw) as udp:

                async def send() -> None:
                    nonlocal sent
                    await udp.sendto(b"last", peer_path)
                    sent = True

                async with create_task_group() as tg:
                    tg.start_soon(send)
                    await wait_all_tasks_blocked()
                    assert not sent
                    for _ in range(count):
                        peer.recv(100)
                assert sent
                await anyio.wait_readable(peer)
                assert peer.recv(100) == b"last"

    run(main)


def test_connected_unix_datagram_close_during_receive() -> None:
    async def main() -> None:
        left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        right.close()
        udp = await anyio.abc.ConnectedUNIXDatagramSocket.from_socket(left)

        async def receive() -> None:
            with pytest.raises(ClosedResourceError):
                await udp.receive()

        async with create_task_group() as tg:
            tg.start_soon(receive)
            await wait_all_tasks_blocked()
            await udp.aclose()
        with pytest.raises(ClosedResourceError):
            await udp.send(b"x")

    run(main)


# ---- name resolution ----


def test_getaddrinfo_and_getnameinfo_numeric() -> None:
    async def main() -> None:
        result = await anyio.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM)
        assert result[0][0] == socket.AF_INET
        assert result[0][-1] == ("127.0.0.1", 80)
        host, port = await anyio.getnameinfo(
            ("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV
        )
        assert (host, port) == ("127.0.0.1", "80")

    run(main)


# ---- processes ----


def test_run_process_feeds_input_and_captures_output() -> None:
    async def main() -> None:
        result = await anyio.run_process(
            python("import sys; print(sys.stdin.read()[::-1])"), input=b"abc"
        )
        assert result.returncode == 0
        assert result.stdout.rstrip() == b"cba"
        shell = await anyio.run_process("echo from-the-shell")
        assert shell.stdout == b"from-the-shell\n"
        with pytest.raises(subprocess.CalledProcessError) as info:
            await anyio.run_process(
                python("import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)")
            )
        assert info.value.returncode == 3
        assert info.value.stdout.rstrip() == b"out"
        assert info.value.stderr.rstrip() == b"err"

    run(main)


def test_open_process_streams() -> None:
    async def main() -> None:
        async with await anyio.open_process(["cat"]) as process:
            assert process.pid > 0
            assert process.returncode is None
            assert process.stdin is not None
            assert process.stdout is not None
            await process.stdin.send(b"line\n")
            buffered = BufferedByteReceiveStream(process.stdout)
            assert await buffered.receive_until(b"\n", 100) == b"line"
            await process.stdin.aclose()
            with pytest.raises(EndOfStream):
                await process.stdout.receive()
            with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
                await process.stdout.receive(0)
            assert await process.wait() == 0
        assert process.returncode == 0
        with pytest.raises(ClosedResourceError):
            await process.stdout.receive()
        with pytest.raises(ClosedResourceError):
            await process.stdin.send(b"late")

    run(main)


def test_process_stdin_after_exit_is_broken_resource() -> None:
    async def main() -> None:
        async with await anyio.open_process(python("")) as process:
            await process.wait()
            assert process.stdin is not None
            with pytest.raises(BrokenResourceError):
                for _ in range(3):
                    await process.stdin.send(b"x")

    run(main)


def test_process_close_while_reading_and_busy_reader() -> None:
    async def main() -> None:
        async with await anyio.open_process(python("import time; time.sleep(5)")) as process:
            stdout = process.stdout
            assert stdout is not None

            await close_while_busy(stdout.receive, stdout.aclose, "already reading from")
            process.kill()
        assert process.returncode == -signal.SIGKILL

    run(main)


def test_process_aclose_kills_the_child_when_cancelled() -> None:
    async def main() -> None:
        with anyio.CancelScope() as scope:
            async with await anyio.open_process(python("import time; time.sleep(5)")) as process:
                scope.cancel()
        assert scope.cancelled_caught
        assert process.returncode == -signal.SIGKILL
        assert process.stdout is not None
        with pytest.raises(ClosedResourceError):
            await process.stdout.receive()

    run(main)


def test_run_process_cancelled_kills_the_child() -> None:
    async def main() -> None:
        with anyio.move_on_after(0.2) as scope:
            await anyio.run_process(python("import time; time.sleep(5)"))
        assert scope.cancelled_caught

    run(main)


def test_process_signals_and_terminate(tmp_path: Path) -> None:
    async def main() -> None:
        code = (
            "import signal, sys, time\n"
            "signal.signal(signal.SIGTERM, lambda *a: sys.exit(2))\n"
            "print('ready', flush=True)\n"
            "time.sleep(5)\n"
        )
        async with await anyio.open_process(python(code)) as process:
            assert process.stdout is not None
            buffered = BufferedByteReceiveStream(process.stdout)
            assert await buffered.receive_until(b"\n", 100) == b"ready"
            process.terminate()
            assert await process.wait() == 2
        async with await anyio.open_process(python("import time; time.sleep(5)")) as process:
            process.send_signal(signal.SIGINT)
            assert await process.wait() != 0

    run(main)


def _worker_pid() -> int:
    return os.getpid()


def test_to_process_workers_are_killed_when_the_run_ends() -> None:
    pids: list[int] = []

    async def main() -> None:
        pids.append(await anyio.to_process.run_sync(_worker_pid))
        assert await anyio.to_process.run_sync(_worker_pid) == pids[0]

    run(main)
    assert pids and pids[0] != os.getpid()
    with pytest.raises(ProcessLookupError):  # killed and reaped
        os.kill(pids[0], 0)


def test_streams_leave_no_registration_behind() -> None:
    """Closing a stream drops its fd from the run's readiness cache (the
    fd number can then be reused safely by the next socket)."""

    async def main() -> None:
        from lowio._core._local import GLOBAL_RUN_CONTEXT

        runner = GLOBAL_RUN_CONTEXT.runner
        assert runner is not None
        for _ in range(3):
            client, server = await tcp_pair()
            fd = client.extra(SocketAttribute.raw_socket).fileno()

            async def receive(stream: Any = client) -> None:
                with pytest.raises(ClosedResourceError):
                    await stream.receive()

            async with create_task_group() as tg:
                tg.start_soon(receive)
                await wait_all_tasks_blocked()
                assert fd in runner.io._states
                await client.aclose()
            assert fd not in runner.io._states
            await server.aclose()

    run(main)
