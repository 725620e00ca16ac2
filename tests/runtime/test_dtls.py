"""DTLSEndpoint and DTLSChannel: echo over IPv4/IPv6, the stateless cookie
exchange (a spoofed ClientHello makes no channel, a cookie is bound to its
address), garbage datagrams, retransmission with the configured timeout, a
cancelled handshake resumed, the MTU (respected, and the fall-back to the
minimum after losses), the incoming buffer limit, closing, replaced
associations, handshake failure, collection of unclosed endpoints (in and
after the run), bad arguments, the ImportError without pyOpenSSL, and
(Hypothesis) that the ClientHello parser raises nothing but
MalformedPacket.  Every test also checks that fds and threads come back to
baseline (conftest's ``no_leaks``).

Lossy paths are made with ``Relay``: a UDP socket between client and
server that forwards datagrams through a filter."""

from __future__ import annotations

import gc
import os
import socket as stdlib_socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st
from OpenSSL import SSL

import lowio
from lowio import DTLSChannel, DTLSEndpoint
from lowio._dtls_records import MalformedPacket, parse_client_hello_untrusted
from lowio.socket import SOCK_DGRAM, SocketType
from lowio.testing import MockClock, wait_all_tasks_blocked

CA = trustme.CA()
SERVER_CERT = CA.issue_cert("dtls.example")


def server_context() -> SSL.Context:
    ctx = SSL.Context(SSL.DTLS_METHOD)
    SERVER_CERT.configure_cert(ctx)
    return ctx


def client_context(ca: trustme.CA = CA) -> SSL.Context:
    ctx = SSL.Context(SSL.DTLS_METHOD)
    ca.configure_trust(ctx)
    ctx.set_verify(SSL.VERIFY_PEER)  # the certificate must chain to ``ca``
    return ctx


def udp_socket(family: int = stdlib_socket.AF_INET) -> SocketType:
    return lowio.socket.socket(family, SOCK_DGRAM)


def run(async_fn: Callable[[], Awaitable[Any]], *, autojump: bool = False) -> Any:
    async def bounded() -> Any:
        with lowio.fail_after(600 if autojump else 10):
            return await async_fn()

    return lowio.run(bounded, clock=MockClock(autojump_threshold=0) if autojump else None)


async def echo(channel: DTLSChannel) -> None:
    try:
        async for packet in channel:
            await channel.send(packet)
    except lowio.BrokenResourceError:
        pass  # the peer started a new association from the same address


@asynccontextmanager
async def echo_server(
    handler: Callable[[DTLSChannel], Awaitable[object]] = echo,
    family: int = stdlib_socket.AF_INET,
) -> AsyncIterator[DTLSEndpoint]:
    with DTLSEndpoint(udp_socket(family)) as server:
        await server.socket.bind(("::1" if family == stdlib_socket.AF_INET6 else "127.0.0.1", 0))
        async with lowio.open_nursery() as nursery:
            await nursery.start(server.serve, server_context(), handler)
            yield server
            nursery.cancel_scope.cancel()


class Relay:
    """A UDP hop on 127.0.0.1: the client sends to ``address``, the relay
    forwards to the server and back, and ``keep(datagram, from_client)``
    decides what gets through."""

    def __init__(self, server_address: Any, keep: Callable[[bytes, bool], bool]) -> None:
        self.server_address = server_address
        self.keep = keep
        self.sock = udp_socket()
        self.client_address: Any = None
        self.seen: list[tuple[bool, int]] = []  # (from_client, size) of every datagram

    async def run(self, *, task_status: lowio.TaskStatus[Any] = lowio.TASK_STATUS_IGNORED) -> None:
        with self.sock:
            await self.sock.bind(("127.0.0.1", 0))
            task_status.started(self.sock.getsockname())
            while True:
                data, source = await self.sock.recvfrom(65536)
                from_client = source != self.server_address
                if from_client:
                    self.client_address = source
                self.seen.append((from_client, len(data)))
                if self.keep(data, from_client):
                    await self.sock.sendto(
                        data, self.server_address if from_client else self.client_address
                    )


@pytest.mark.parametrize("family", [stdlib_socket.AF_INET, stdlib_socket.AF_INET6])
def test_echo_and_mtu(family: int) -> None:
    if family == stdlib_socket.AF_INET6 and not stdlib_socket.has_ipv6:
        pytest.skip("no IPv6")

    async def main() -> None:
        async with echo_server(family=family) as server:
            with DTLSEndpoint(udp_socket(family)) as client:
                host, port, *_ = server.socket.getsockname()
                # a plain (host, port) pair works on IPv6 too
                channel = client.connect((host, port), client_context())
                assert channel.endpoint is client and channel.peer_address == (host, port)
                with pytest.raises(lowio.NeedHandshakeError):
                    channel.get_cleartext_mtu()
                await channel.do_handshake()
                await channel.do_handshake()  # a no-op now
                for message in (b"hello", b"x" * 1000, b"goodbye"):
                    await channel.send(message)
                    assert await channel.receive() == message
                channel.set_ciphertext_mtu(1000)
                small = channel.get_cleartext_mtu()
                channel.set_ciphertext_mtu(4000)
                assert channel.get_cleartext_mtu() > small
                assert channel.statistics() == lowio.DTLSChannelStatistics(0)

    run(main)


def test_implicit_handshake_and_full_duplex() -> None:
    async def main() -> None:
        async def handler(channel: DTLSChannel) -> None:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(channel.send, b"from server")
                assert await channel.receive() == b"from client"

        async with echo_server(handler) as server:
            with DTLSEndpoint(udp_socket()) as client:
                channel = client.connect(server.socket.getsockname(), client_context())
                async with lowio.open_nursery() as nursery:
                    # both start the handshake; one performs it, one waits
                    nursery.start_soon(channel.send, b"from client")
                    assert await channel.receive() == b"from server"

    run(main)


def _client_hello() -> bytes:
    """A real first ClientHello (no cookie), made by OpenSSL in memory."""
    conn = SSL.Connection(client_context())
    conn.set_connect_state()
    conn.set_ciphertext_mtu(1400)
    with pytest.raises(SSL.WantReadError):
        conn.do_handshake()
    return conn.bio_read(65536)


def test_client_hello_without_cookie_makes_no_channel() -> None:
    async def main() -> None:
        handled: list[DTLSChannel] = []

        async def handler(channel: DTLSChannel) -> None:
            handled.append(channel)

        async with echo_server(handler) as server:
            address = server.socket.getsockname()
            hello = _client_hello()
            assert parse_client_hello_untrusted(hello).cookie == b""
            with udp_socket() as a, udp_socket() as b:
                await a.bind(("127.0.0.1", 0))
                await b.bind(("127.0.0.1", 0))
                await a.sendto(hello, address)
                reply = await a.recv(65536)
                # a HelloVerifyRequest (handshake record, message type 3)
                assert reply[0] == 22 and reply[13] == 3
                cookie = reply[28 : 28 + reply[27]]
                assert len(cookie) == 32
                await wait_all_tasks_blocked()
                assert handled == [] and len(server._channels) == 0
                # the same hello from another address is challenged anew,
                # with a different cookie: it costs the server nothing more
                await b.sendto(hello, address)
                assert (await b.recv(65536))[28:60] != cookie
                await wait_all_tasks_blocked()
                assert handled == [] and len(server._channels) == 0

    run(main)


GARBAGE = [
    b"",
    b"x",
    bytes(12),
    bytes(13),  # a record header and nothing else
    b"\x16" + bytes(12) + b"\x01",  # claims a ClientHello, is cut off
    b"\x16\xfe\xfd" + bytes(8) + b"\x00\x0c" + b"\x01" + bytes(11),  # empty ClientHello body
    b"\x16\xfe\xfd" + bytes(8) + b"\xff\xff" + b"\x01" + bytes(40),  # length past the end
    b"\x16\xfe\xfd"
    + bytes(8)
    + b"\x00\x30\x01\x00\x00\x30"
    + bytes(8)
    + b"\x00\x00\x30"
    + bytes(36),
    b"\x17\xfe\xfd" + bytes(8) + b"\x00\x05hello",  # application data, no association
    os.urandom(200),
]


_HELLO = _client_hello()


def _mutated_hello(at: int, flip: int, cut: bool) -> bytes:
    """A real ClientHello with one byte changed, or cut off before it."""
    packet = bytearray(_HELLO)
    packet[at] ^= flip
    return bytes(packet[:at] if cut else packet)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.builds(
            _mutated_hello, st.integers(0, len(_HELLO) - 1), st.integers(1, 255), st.booleans()
        ),
    )
)
def test_client_hello_parser_raises_only_malformed_packet(packet: bytes) -> None:
    try:
        hello = parse_client_hello_untrusted(packet)
    except MalformedPacket:
        return
    assert len(hello.cookie) <= 255


def test_garbage_datagrams_do_not_crash_server_or_client() -> None:
    async def main() -> None:
        async with echo_server() as server:
            address = server.socket.getsockname()
            with udp_socket() as attacker, DTLSEndpoint(udp_socket()) as client:
                for packet in GARBAGE:
                    await attacker.sendto(packet, address)
                hello = bytearray(_client_hello())
                for i in range(13, len(hello), 7):  # corrupted hellos
                    corrupt = bytearray(hello)
                    corrupt[i] ^= 0xFF
                    await attacker.sendto(bytes(corrupt), address)
                    await attacker.sendto(bytes(corrupt[:i]), address)
                channel = client.connect(address, client_context())
                await channel.send(b"still works")
                assert await channel.receive() == b"still works"
                # garbage from the server's address to the client, after the
                # handshake, is skipped too
                for packet in GARBAGE:
                    await server.socket.sendto(packet, client.socket.getsockname())
                await channel.send(b"and again")
                assert await channel.receive() == b"and again"

    run(main)


def test_first_flight_lost_is_retransmitted_after_the_initial_timeout() -> None:
    async def main() -> None:
        async with echo_server() as server:
            for timeout in (1, 2.5):
                dropped = False

                def drop_first(data: bytes, from_client: bool) -> bool:
                    nonlocal dropped
                    if not dropped:
                        dropped = True
                        return False
                    return True

                relay = Relay(server.socket.getsockname(), drop_first)
                async with lowio.open_nursery() as nursery:
                    address = await nursery.start(relay.run)
                    with DTLSEndpoint(udp_socket()) as client:
                        channel = client.connect(address, client_context())
                        start = lowio.current_time()
                        await channel.do_handshake(initial_retransmit_timeout=timeout)
                        assert lowio.current_time() - start == timeout
                    nursery.cancel_scope.cancel()

    run(main, autojump=True)


def test_a_cancelled_handshake_resumes_on_the_next_call() -> None:
    async def main() -> None:
        async with echo_server() as server:
            open_path = False
            relay = Relay(server.socket.getsockname(), lambda data, _: open_path)
            async with lowio.open_nursery() as nursery:
                address = await nursery.start(relay.run)
                with DTLSEndpoint(udp_socket()) as client:
                    channel = client.connect(address, client_context())
                    with lowio.move_on_after(5) as scope:
                        await channel.do_handshake(initial_retransmit_timeout=1)
                    assert scope.cancelled_caught
                    assert len(relay.seen) == 3  # sent at 0, 1 and 3 s: all lost
                    open_path = True
                    await channel.do_handshake(initial_retransmit_timeout=1)
                    await channel.send(b"resumed")
                    assert await channel.receive() == b"resumed"
                nursery.cancel_scope.cancel()

    run(main, autojump=True)


def test_tiny_mtu_is_respected_by_the_handshake() -> None:
    mtu = 300  # a ClientHello (~240 bytes) cannot be fragmented

    async def main() -> None:
        async def handler(channel: DTLSChannel) -> None:
            channel.set_ciphertext_mtu(mtu)
            await echo(channel)

        async with echo_server(handler) as server:
            relay = Relay(server.socket.getsockname(), lambda data, _: True)
            async with lowio.open_nursery() as nursery:
                address = await nursery.start(relay.run)
                with DTLSEndpoint(udp_socket()) as client:
                    channel = client.connect(address, client_context())
                    channel.set_ciphertext_mtu(mtu)
                    await channel.send(b"hi")
                    assert await channel.receive() == b"hi"
                nursery.cancel_scope.cancel()
            assert relay.seen and all(size <= mtu for _, size in relay.seen)
            # the server's certificate flight needed several datagrams
            assert sum(1 for from_client, _ in relay.seen if not from_client) > 3

    run(main)


def test_handshake_falls_back_to_the_minimum_mtu_after_losses() -> None:
    path_mtu = 576 - 28  # the IPv4 minimum; datagrams above it are lost

    async def main() -> None:
        async with echo_server() as server:
            relay = Relay(server.socket.getsockname(), lambda data, _: len(data) <= path_mtu)
            async with lowio.open_nursery() as nursery:
                address = await nursery.start(relay.run)
                with DTLSEndpoint(udp_socket()) as client:
                    channel = client.connect(address, client_context())
                    channel.set_ciphertext_mtu(9000)
                    await channel.send(b"xyz")
                    assert await channel.receive() == b"xyz"
                    # the fall-back is the handshake's; the user's MTU stands
                    assert channel.get_cleartext_mtu() > 8000
                nursery.cancel_scope.cancel()
            assert any(size > path_mtu for _, size in relay.seen)  # some were lost

    run(main, autojump=True)


def test_incoming_buffer_limit_drops_and_counts() -> None:
    async def main() -> None:
        async with echo_server() as server:
            with DTLSEndpoint(udp_socket(), incoming_packets_buffer=3) as client:
                assert client.incoming_packets_buffer == 3
                channel = client.connect(server.socket.getsockname(), client_context())
                await channel.do_handshake()
                for i in range(5):
                    await channel.send(str(i).encode())
                with lowio.fail_after(5):
                    while channel.statistics().incoming_packets_dropped_in_trio < 2:
                        await lowio.sleep(0.01)
                assert [await channel.receive() for _ in range(3)] == [b"0", b"1", b"2"]
                await channel.send(b"room again")
                assert await channel.receive() == b"room again"
                assert channel.statistics().incoming_packets_dropped_in_trio == 2

    run(main)


def test_close_wakes_receivers_and_refuses_later_calls() -> None:
    async def main() -> None:
        async with echo_server() as server:
            address = server.socket.getsockname()
            with DTLSEndpoint(udp_socket()) as client:
                channel = client.connect(address, client_context())
                await channel.do_handshake()
                async with lowio.open_nursery() as nursery:

                    async def waiting_receiver() -> None:
                        with pytest.raises(lowio.ClosedResourceError):
                            await channel.receive()

                    nursery.start_soon(waiting_receiver)
                    await wait_all_tasks_blocked()
                    channel.close()
                for call in (channel.send(b"x"), channel.receive()):
                    with pytest.raises(lowio.ClosedResourceError):
                        await call
                await channel.do_handshake()  # done already: nothing to do, as in trio
                channel.close()  # idempotent
                await channel.aclose()
                # the endpoint goes on: a new channel to the same server works
                other = client.connect(address, client_context())
                await other.send(b"ok")
                assert await other.receive() == b"ok"
                client.close()
                with pytest.raises(lowio.ClosedResourceError):
                    await other.send(b"x")
                with pytest.raises(lowio.ClosedResourceError):
                    client.connect(address, client_context())
                async with lowio.open_nursery() as nursery:
                    with pytest.raises(lowio.ClosedResourceError):
                        await nursery.start(client.serve, server_context(), echo)
                client.close()  # idempotent

    run(main)


def test_serve_returns_when_the_endpoint_closes_and_refuses_twice() -> None:
    async def main() -> None:
        with DTLSEndpoint(udp_socket()) as unbound, pytest.raises(RuntimeError, match="bound"):
            await unbound.serve(server_context(), echo)
        with DTLSEndpoint(udp_socket()) as server:
            await server.socket.bind(("127.0.0.1", 0))
            async with lowio.open_nursery() as nursery:
                await nursery.start(server.serve, server_context(), echo)
                with pytest.raises(lowio.BusyResourceError):
                    await server.serve(server_context(), echo)
                server.close()  # serve returns by itself: the nursery ends

    run(main)


def test_a_new_connect_replaces_the_association() -> None:
    async def main() -> None:
        async with echo_server() as server:
            address = server.socket.getsockname()
            with DTLSEndpoint(udp_socket()) as client:
                first = client.connect(address, client_context())
                await first.send(b"one")
                assert await first.receive() == b"one"
                second = client.connect(address, client_context())
                with pytest.raises(lowio.BrokenResourceError, match="start a new one"):
                    await first.send(b"stale")
                await second.send(b"two")
                assert await second.receive() == b"two"

    run(main)


def test_failed_certificate_check_raises_instead_of_hanging() -> None:
    async def main() -> None:
        server_errors: list[BaseException] = []

        async def handler(channel: DTLSChannel) -> None:
            try:
                await channel.do_handshake()
            except SSL.Error as exc:
                server_errors.append(exc)

        async with echo_server(handler) as server:
            with DTLSEndpoint(udp_socket()) as client:
                channel = client.connect(server.socket.getsockname(), client_context(trustme.CA()))
                with pytest.raises(SSL.Error):
                    await channel.do_handshake()
                with lowio.fail_after(5):
                    while not server_errors:
                        await lowio.sleep(0.01)

    run(main)


class _OpaqueSocket(SocketType):
    """A socket whose repr fails (as a custom socket factory's might)."""

    __slots__ = ()

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@pytest.mark.filterwarnings("always:unclosed DTLS:ResourceWarning")
def test_unclosed_endpoint_is_closed_when_collected() -> None:
    async def main() -> None:
        before = lowio.lowlevel.current_statistics().tasks_living

        async def start_and_drop() -> None:
            endpoint = DTLSEndpoint(_OpaqueSocket(stdlib_socket.socket(type=SOCK_DGRAM)))
            await endpoint.socket.bind(("127.0.0.1", 0))
            async with lowio.open_nursery() as nursery:
                await nursery.start(endpoint.serve, server_context(), echo)
                nursery.cancel_scope.cancel()
            assert lowio.lowlevel.current_statistics().tasks_living > before  # the receiver

        with pytest.warns(ResourceWarning, match="unclosed DTLS endpoint"):
            await start_and_drop()  # dropped on return (or by the collector)
            gc.collect()
        await wait_all_tasks_blocked()
        assert lowio.lowlevel.current_statistics().tasks_living == before

    run(main)


@pytest.mark.filterwarnings("always:unclosed DTLS:ResourceWarning")
def test_endpoint_collected_after_the_run_closes_its_socket() -> None:
    async def main() -> DTLSEndpoint:
        endpoint = DTLSEndpoint(udp_socket())
        await endpoint.socket.bind(("127.0.0.1", 0))
        return endpoint

    endpoint = lowio.run(main)
    sock = endpoint.socket
    with pytest.warns(ResourceWarning, match="unclosed DTLS endpoint"):
        del endpoint
        gc.collect()
    assert sock.fileno() == -1


def test_bad_arguments_are_named() -> None:
    async def main() -> None:
        with lowio.socket.socket() as stream, pytest.raises(ValueError, match=r"^DTLS requires a"):
            DTLSEndpoint(stream)
        with pytest.raises(TypeError, match="needs a lowio socket"):
            DTLSEndpoint(object())  # type: ignore[arg-type]
        plain = stdlib_socket.socket(type=SOCK_DGRAM)
        with plain, pytest.raises(TypeError, match="needs a lowio socket"):
            DTLSEndpoint(plain)  # type: ignore[arg-type]
        with udp_socket() as sock:
            with pytest.raises(ValueError, match="incoming_packets_buffer"):
                DTLSEndpoint(sock, incoming_packets_buffer=-1)
            with pytest.raises(TypeError, match="incoming_packets_buffer"):
                DTLSEndpoint(sock, incoming_packets_buffer="10")  # type: ignore[arg-type]
        with DTLSEndpoint(udp_socket()) as endpoint:
            with pytest.raises(TypeError, match=r"OpenSSL\.SSL\.Context"):
                endpoint.connect(("127.0.0.1", 1), ssl.create_default_context())  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="address"):
                endpoint.connect("127.0.0.1:1", client_context())  # type: ignore[arg-type]
            channel = endpoint.connect(("127.0.0.1", 1), client_context())
            for bad in (0, -1.0, float("nan"), float("inf")):
                with pytest.raises(ValueError, match="initial_retransmit_timeout"):
                    await channel.do_handshake(initial_retransmit_timeout=bad)
            with pytest.raises(ValueError, match="at least 26 bytes"):
                channel.set_ciphertext_mtu(10)
            with pytest.raises(TypeError, match="int"):
                channel.set_ciphertext_mtu(1000.0)  # type: ignore[arg-type]
            with pytest.raises(ValueError, match=r"^openssl doesn't support sending empty"):
                await channel.send(b"")
            with pytest.raises(TypeError, match="no public constructor"):
                DTLSChannel(endpoint, ("127.0.0.1", 1), client_context())

    run(main)


def test_missing_pyopenssl_is_named_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "OpenSSL", None)  # "import OpenSSL" now fails

    async def main() -> None:
        with (
            udp_socket() as sock,
            pytest.raises(ImportError, match=r"needs pyOpenSSL.*pip install"),
        ):
            DTLSEndpoint(sock)

    run(main)


def test_lowio_imports_without_pyopenssl() -> None:
    code = "import sys; sys.modules['OpenSSL'] = None; import lowio; print(lowio.DTLSEndpoint)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "DTLSEndpoint" in done.stdout
