"""lowio.socket moving data: TCP echo with many clients, UDP, AF_UNIX
stream / datagram / seqpacket, SCM_RIGHTS, the *_into variants, and the
errors trio's sockets raise (see test_socket_waits.py for checkpoints and
the fast path, test_socket_api.py for constructors and addresses)."""

from __future__ import annotations

import errno
import hashlib
import os
import socket as stdlib_socket
import ssl
import struct
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from _socket_helpers import (
    WaitCounter,
    abstract_name,
    drain,
    fill,
    lowio_test,
    no_idle_workers,
)

import lowio
import lowio.socket as lsocket
from lowio.testing import assert_checkpoints, wait_all_tasks_blocked

__all__ = ["no_idle_workers"]  # a fixture, used by name


# ---- TCP ----


@lowio_test
async def test_tcp_echo_20_clients_200_round_trips() -> None:
    clients, rounds = 20, 200
    served: list[int] = []

    async def handle(conn: lsocket.SocketType) -> None:
        with conn:
            total = 0
            while True:
                data = await conn.recv(4096)
                if not data:
                    break
                total += len(data)
                view = memoryview(data)
                while view:
                    view = view[await conn.send(view) :]
            served.append(total)

    async def serve(listener: lsocket.SocketType, nursery: lowio.Nursery) -> None:
        for _ in range(clients):
            conn, address = await listener.accept()
            assert isinstance(conn, lsocket.SocketType)
            assert address == conn.getpeername()
            nursery.start_soon(handle, conn)

    async def client(i: int, address: tuple[str, int], sent: list[int]) -> None:
        with lsocket.socket() as sock:
            await sock.connect(address)
            for r in range(rounds):
                message = f"{i}:{r}:".encode() + bytes([i]) * (r % 97 + 1)
                await sock.send(message)
                echoed = b""
                while len(echoed) < len(message):
                    chunk = await sock.recv(len(message) - len(echoed))
                    assert chunk, "server closed early"
                    echoed += chunk
                assert echoed == message
                sent[0] += len(message)
            sock.shutdown(lsocket.SHUT_WR)
            assert await sock.recv(1) == b""

    with lsocket.socket() as listener, lowio.fail_after(30):
        await listener.bind(("127.0.0.1", 0))
        listener.listen(clients)
        sent = [0]
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(serve, listener, nursery)
            for i in range(clients):
                nursery.start_soon(client, i, listener.getsockname(), sent)
    assert len(served) == clients and sum(served) == sent[0]


@lowio_test
async def test_bulk_transfer_through_full_buffers() -> None:
    # 4 MiB one way: the sender hits EAGAIN and parks on EPOLLOUT many times
    payload = os.urandom(1 << 22)
    a, b = lsocket.socketpair()
    waits = WaitCounter()
    with a, b:
        a.setsockopt(lsocket.SOL_SOCKET, lsocket.SO_SNDBUF, 8192)
        received = hashlib.sha256()
        count = 0

        async def reader() -> None:
            nonlocal count
            while True:
                data = await b.recv(7919)
                if not data:
                    return
                count += len(data)
                received.update(data)

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(reader)
            view = memoryview(payload)
            while view:
                view = view[await a.send(view) :]
            a.shutdown(lsocket.SHUT_WR)
    assert waits.writes > 10
    assert count == len(payload)
    assert received.digest() == hashlib.sha256(payload).digest()


# ---- UDP ----


@lowio_test
async def test_udp_unconnected_sendto_recvfrom() -> None:
    with lsocket.socket(type=lsocket.SOCK_DGRAM) as a, lsocket.socket(type=lsocket.SOCK_DGRAM) as b:
        await a.bind(("127.0.0.1", 0))
        await b.bind(("127.0.0.1", 0))

        async def receive_two() -> list[tuple[bytes, object]]:
            got = [await b.recvfrom(100)]  # waits: nothing sent yet
            buf = bytearray(10)
            n, address = await b.recvfrom_into(buf)
            got.append((bytes(buf[:n]), address))
            return got

        results: list[list[tuple[bytes, object]]] = []

        async def collect() -> None:
            results.append(await receive_two())

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(collect)
            await wait_all_tasks_blocked()
            assert await a.sendto(b"first", b.getsockname()) == 5
            assert await a.sendto(b"second", 0, b.getsockname()) == 6  # with flags
        assert results == [[(b"first", a.getsockname()), (b"second", a.getsockname())]]
        # datagram boundaries: a short buffer truncates, the rest is gone
        await a.sendto(b"0123456789", b.getsockname())
        await a.sendto(b"next", b.getsockname())
        buf = bytearray(4)
        assert await b.recvfrom_into(buf, 3) == (3, a.getsockname())
        assert buf == b"012\0"
        assert await b.recvfrom(100) == (b"next", a.getsockname())
        # sendmsg with an address, recvmsg with flags out
        assert await a.sendmsg([b"ab", b"cd"], [], 0, b.getsockname()) == 4
        data, ancdata, msg_flags, address = await b.recvmsg(2)
        assert (data, ancdata, address) == (b"ab", [], a.getsockname())
        assert msg_flags & lsocket.MSG_TRUNC


@lowio_test
async def test_udp_connected_send_recv() -> None:
    with lsocket.socket(type=lsocket.SOCK_DGRAM) as a, lsocket.socket(type=lsocket.SOCK_DGRAM) as b:
        await b.bind(("127.0.0.1", 0))
        await a.connect(b.getsockname())
        await b.connect(a.getsockname())
        assert a.getpeername() == b.getsockname()
        await a.send(b"one")
        await a.send(b"two")
        assert await b.recv(100) == b"one"
        assert await b.recvfrom(100) == (b"two", a.getsockname())
        await b.send(b"back")
        buf = bytearray(8)
        assert await a.recv_into(buf) == 4 and buf[:4] == b"back"


# ---- AF_UNIX ----


@pytest.mark.parametrize("kind", ["str", "path", "bytes", "abstract"])
@lowio_test
async def test_unix_stream_bind_listen_accept_connect(kind: str, no_idle_workers: None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        address: str | bytes | Path = {
            "str": f"{tmp}/sock",
            "path": Path(tmp) / "sock",
            "bytes": os.fsencode(f"{tmp}/sock"),
            "abstract": abstract_name("stream"),
        }[kind]
        with lsocket.socket(lsocket.AF_UNIX) as listener:
            await listener.bind(address)
            listener.listen()
            with lsocket.socket(lsocket.AF_UNIX) as client:
                await client.connect(address)
                server, _ = await listener.accept()
                with server:
                    assert server.family == lsocket.AF_UNIX
                    await client.send(b"ping")
                    assert await server.recv(10) == b"ping"
                    await server.send(b"pong")
                    assert await client.recv(10) == b"pong"


@lowio_test
async def test_unix_datagram() -> None:
    a, b = lsocket.socketpair(lsocket.AF_UNIX, lsocket.SOCK_DGRAM)
    with a, b:
        await a.send(b"x" * 10)
        await a.send(b"y")
        assert await b.recv(100) == b"x" * 10  # one datagram per recv
        assert await b.recv(100) == b"y"
    # unconnected, to an abstract address
    name = abstract_name("dgram")
    with (
        lsocket.socket(lsocket.AF_UNIX, lsocket.SOCK_DGRAM) as server,
        lsocket.socket(lsocket.AF_UNIX, lsocket.SOCK_DGRAM) as client,
    ):
        await server.bind(name)
        client_name = abstract_name("dgram-client")
        await client.bind(client_name)
        assert await client.sendto(b"hello", name) == 5
        data, address = await server.recvfrom(100)
        assert (data, address) == (b"hello", client_name)
        await server.sendto(b"reply", address)
        assert await client.recv(100) == b"reply"


@lowio_test
async def test_unix_seqpacket_keeps_boundaries() -> None:
    a, b = lsocket.socketpair(lsocket.AF_UNIX, lsocket.SOCK_SEQPACKET)
    with a, b:
        assert a.type == lsocket.SOCK_SEQPACKET
        for message in (b"a", b"bb" * 100, b"ccc"):
            await a.send(message)
        assert await b.recv(1000) == b"a"
        data, _, msg_flags, _ = await b.recvmsg(5)  # truncated record
        assert data == b"bbbbb" and msg_flags & lsocket.MSG_TRUNC
        assert await b.recv(1000) == b"ccc"  # the rest of the record was dropped
        a.shutdown(lsocket.SHUT_WR)
        assert await b.recv(1000) == b""


@lowio_test
async def test_scm_rights_fd_passing() -> None:
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    a, b = lsocket.socketpair()
    try:
        with a, b:
            fds = struct.pack("ii", w1, w2)

            async def send_later() -> None:
                await wait_all_tasks_blocked()  # the receiver waits first
                sent = await a.sendmsg([b"fds"], [(lsocket.SOL_SOCKET, lsocket.SCM_RIGHTS, fds)])
                assert sent == 3

            async with lowio.open_nursery() as nursery:
                nursery.start_soon(send_later)
                space = lsocket.CMSG_SPACE(2 * struct.calcsize("i"))
                data, ancdata, msg_flags, _ = await b.recvmsg(10, space)
            assert data == b"fds" and msg_flags == 0
            ((level, kind, payload),) = ancdata
            assert (level, kind) == (lsocket.SOL_SOCKET, lsocket.SCM_RIGHTS)
            got = list(struct.unpack("ii", payload))
            assert not {w1, w2} & set(got)  # new fds in this process
            try:
                os.write(got[0], b"via passed fd 1")
                os.write(got[1], b"via passed fd 2")
            finally:
                for fd in got:
                    os.close(fd)
            assert os.read(r1, 100) == b"via passed fd 1"
            assert os.read(r2, 100) == b"via passed fd 2"
            # recvmsg_into receives an fd too
            await a.sendmsg([b"z"], [(lsocket.SOL_SOCKET, lsocket.SCM_RIGHTS, fds[:4])])
            buf = bytearray(4)
            n, ancdata, _, _ = await b.recvmsg_into([buf], space)
            ((_, _, payload),) = ancdata
            (fd,) = struct.unpack("i", payload[:4])
            os.close(fd)
            assert n == 1 and buf[:1] == b"z"
    finally:
        for fd in (r1, w1, r2, w2):
            os.close(fd)


@lowio_test
async def test_recv_into_variants() -> None:
    a, b = lsocket.socketpair()
    with a, b:
        await a.send(b"hello world")
        buf = bytearray(20)
        assert await b.recv_into(buf, 5) == 5  # nbytes limits the read
        assert buf[:5] == b"hello"
        view = memoryview(buf)[5:]
        assert await b.recv_into(view) == 6 and buf[:11] == b"hello world"
        # keywords, as socket.socket.recv_into takes them
        await a.send(b"kw")
        small = bytearray(1)
        assert await b.recv_into(buffer=small, nbytes=1) == 1 and small == b"k"
        assert await b.recv_into(small, flags=lsocket.MSG_PEEK) == 1 and small == b"w"
        assert await b.recv(10) == b"w"
        # recvmsg_into across several buffers
        await a.send(b"abcdef")
        first, second = bytearray(2), bytearray(10)
        n, ancdata, msg_flags, _ = await b.recvmsg_into([first, second])
        assert (n, ancdata, msg_flags) == (6, [], 0)
        assert first == b"ab" and second[:4] == b"cdef"
        # a buffer too small for nbytes is a ValueError
        with pytest.raises(ValueError):
            await b.recv_into(bytearray(1), 5)


# ---- errors ----


@lowio_test
async def test_operations_on_a_closed_socket_raise_ebadf(no_idle_workers: None) -> None:
    a, b = lsocket.socketpair()
    b.close()
    a.close()
    a.close()  # twice is fine
    assert a.fileno() == -1
    buf = bytearray(4)
    operations: dict[str, Callable[[], Awaitable[object]]] = {
        "recv": lambda: a.recv(1),
        "recv_into": lambda: a.recv_into(buf),
        "recvfrom": lambda: a.recvfrom(1),
        "recvfrom_into": lambda: a.recvfrom_into(buf),
        "recvmsg": lambda: a.recvmsg(1),
        "recvmsg_into": lambda: a.recvmsg_into([buf]),
        "send": lambda: a.send(b"x"),
        "sendto": lambda: a.sendto(b"x", abstract_name("nobody")),
        "sendmsg": lambda: a.sendmsg([b"x"]),
        "accept": lambda: a.accept(),
        "connect": lambda: a.connect(abstract_name("nobody")),
        "bind": lambda: a.bind(abstract_name("nobody")),
    }
    with lowio.fail_after(5):  # an error, never a hang
        for name, operation in operations.items():
            with assert_checkpoints(), pytest.raises(OSError) as info:
                await operation()
            assert info.value.errno == errno.EBADF, name
    for sync_op in (a.listen, lambda: a.shutdown(lsocket.SHUT_RDWR), a.getsockname):
        with pytest.raises(OSError) as info:
            sync_op()
        assert info.value.errno == errno.EBADF
    with pytest.raises(OSError):
        await a.wait_writable()


@lowio_test
async def test_close_wakes_blocked_tasks_with_closed_resource_error() -> None:
    a, b = lsocket.socketpair()
    with b:
        fill(a)
        outcomes: list[str] = []

        async def expect_closed(operation: str) -> None:
            with pytest.raises(lowio.ClosedResourceError):
                if operation == "recv":
                    await a.recv(1)
                else:
                    await a.send(b"x" * 100000)
            outcomes.append(operation)

        with lowio.fail_after(5):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(expect_closed, "recv")
                nursery.start_soon(expect_closed, "send")
                await wait_all_tasks_blocked()
                a.close()
        assert sorted(outcomes) == ["recv", "send"]
        with pytest.raises(OSError) as info:
            await a.recv(1)  # and afterwards: a closed socket
        assert info.value.errno == errno.EBADF
    # a blocked accept too
    listener = lsocket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen()
    with lowio.fail_after(5):
        async with lowio.open_nursery() as nursery:

            async def accept_closed() -> None:
                with pytest.raises(lowio.ClosedResourceError):
                    await listener.accept()

            nursery.start_soon(accept_closed)
            await wait_all_tasks_blocked()
            listener.close()


@lowio_test
async def test_two_waiters_in_one_direction_are_busy() -> None:
    r, r_peer = lsocket.socketpair()  # nothing sent: receives wait
    w, w_peer = lsocket.socketpair()
    listener = lsocket.socket()
    with r, r_peer, w, w_peer, listener:
        await listener.bind(("127.0.0.1", 0))
        listener.listen()
        fill(w)  # sends wait

        async def second_caller(operation: Callable[[], Awaitable[object]]) -> None:
            with pytest.raises(lowio.BusyResourceError):
                await operation()

        pairs: list[tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[object]]]] = [
            (lambda: r.recv(1), lambda: r.recv_into(bytearray(1))),
            (lambda: r.recvmsg(1), lambda: r.recvfrom(1)),
            (lambda: w.send(b"x"), lambda: w.sendmsg([b"y"])),
            (lambda: w.send(b"x"), lambda: w.send(b"z")),
            (listener.accept, listener.accept),
        ]
        for first, second in pairs:
            with lowio.fail_after(5):
                async with lowio.open_nursery() as nursery:
                    nursery.start_soon(first)
                    await wait_all_tasks_blocked()
                    await second_caller(second)
                    nursery.cancel_scope.cancel()
        # the directions are independent: a reader and a writer at once
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(w.recv, 1)
            nursery.start_soon(w.send, b"x")
            await wait_all_tasks_blocked()
            drain(w_peer)
            await w_peer.send(b"!")
        assert drain(w_peer) == b"x"


@lowio_test
async def test_connect_errors() -> None:
    # a bound TCP port with no listener refuses
    with lsocket.socket() as closed_port, lsocket.socket() as sock:
        await closed_port.bind(("127.0.0.1", 0))
        address = closed_port.getsockname()
        with pytest.raises(ConnectionRefusedError, match=r"Error connecting to \('127\.0\.0\.1'"):
            await sock.connect(address)
    # AF_UNIX fails at once
    with lsocket.socket(lsocket.AF_UNIX) as sock, pytest.raises(ConnectionRefusedError):
        await sock.connect(abstract_name("nobody-listens"))
    with lsocket.socket(lsocket.AF_UNIX) as sock, pytest.raises(FileNotFoundError):
        await sock.connect("/nonexistent/lowio/socket")


@lowio_test
async def test_peer_reset_while_another_connection_keeps_working() -> None:
    with lsocket.socket() as listener:
        await listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = listener.getsockname()
        victim, healthy = lsocket.socket(), lsocket.socket()
        with victim, healthy:
            await victim.connect(address)
            victim_peer, _ = await listener.accept()
            await healthy.connect(address)
            healthy_peer, _ = await listener.accept()
            with healthy_peer:
                done = lowio.Event()

                async def echo_until_done() -> None:
                    rounds = 0
                    while not done.is_set() or rounds < 50:
                        await healthy.send(b"%d" % rounds)
                        assert await healthy_peer.recv(100) == b"%d" % rounds
                        rounds += 1

                async def reset_victim() -> None:
                    blocked_recv = lowio.Event()

                    async def recv_reset() -> None:
                        blocked_recv.set()
                        with pytest.raises(ConnectionResetError):
                            await victim.recv(100)

                    async with lowio.open_nursery() as inner:
                        inner.start_soon(recv_reset)
                        await blocked_recv.wait()
                        victim_peer.setsockopt(
                            lsocket.SOL_SOCKET, lsocket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                        victim_peer.close()  # sends RST
                    with pytest.raises((BrokenPipeError, ConnectionResetError)):
                        for _ in range(100):
                            await victim.send(b"x" * 1000)
                    done.set()

                with lowio.fail_after(10):
                    async with lowio.open_nursery() as nursery:
                        nursery.start_soon(echo_until_done)
                        nursery.start_soon(reset_victim)


def test_wrong_types() -> None:
    with pytest.raises(TypeError, match=r"socket\.socket"):
        lsocket.from_stdlib_socket(1)  # type: ignore[arg-type]
    with tempfile.TemporaryFile() as file, pytest.raises(TypeError):
        lsocket.from_stdlib_socket(file)  # type: ignore[arg-type]

    class SubclassedSocket(stdlib_socket.socket):
        pass

    with SubclassedSocket() as sub, pytest.raises(TypeError, match="SubclassedSocket"):
        lsocket.from_stdlib_socket(sub)
    context = ssl.create_default_context()
    with stdlib_socket.socket() as raw:
        tls = context.wrap_socket(raw, server_hostname="example.org", do_handshake_on_connect=False)
        with tls, pytest.raises(TypeError, match="SSLSocket"):
            lsocket.from_stdlib_socket(tls)
    a, b = lsocket.socketpair()
    with a, b, pytest.raises(TypeError):
        lsocket.from_stdlib_socket(a)  # type: ignore[arg-type]
