"""SSLStream and SSLListener: handshake, data both ways, close rules, errors,
cancellation, https_compatible, unwrap (every test also checks fds and
threads come back to baseline: conftest's ``no_leaks``)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trustme

import lowio
from lowio import SSLListener, SSLStream
from lowio._ssl import NeedHandshakeError
from lowio.lowlevel import FdStream

CA = trustme.CA()
SERVER_CERT = CA.issue_cert("tls.example", "127.0.0.1")


def server_context(maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    SERVER_CERT.configure_cert(ctx)
    if maximum is not None:
        ctx.maximum_version = maximum
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    return ctx


def client_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    CA.configure_trust(ctx)
    ctx.set_alpn_protocols(["h2"])
    return ctx


def stream_pair() -> tuple[FdStream, FdStream]:
    a, b = socket.socketpair()
    return FdStream(a.detach()), FdStream(b.detach())


@asynccontextmanager
async def tls_pair(
    *,
    maximum: ssl.TLSVersion | None = None,
    client_https: bool = False,
    server_https: bool = False,
    hostname: str = "tls.example",
) -> AsyncIterator[tuple[SSLStream[FdStream], SSLStream[FdStream]]]:
    a, b = stream_pair()
    client = SSLStream(a, client_context(), server_hostname=hostname, https_compatible=client_https)
    server = SSLStream(b, server_context(maximum), server_side=True, https_compatible=server_https)
    try:
        yield client, server
    finally:
        await lowio.aclose_forcefully(client)
        await lowio.aclose_forcefully(server)


def run(fn: Callable[[], Awaitable[Any]]) -> Any:
    async def bounded() -> Any:
        with lowio.fail_after(10):
            return await fn()

    return lowio.run(bounded)


@pytest.mark.parametrize("maximum", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_echo_both_ways_and_attributes(maximum: ssl.TLSVersion) -> None:
    async def main() -> None:
        async with tls_pair(maximum=maximum) as (client, server):

            async def serve() -> None:
                while data := await server.receive_some():
                    await server.send_all(data.upper())
                await server.aclose()

            async with lowio.open_nursery() as nursery:
                nursery.start_soon(serve)
                await client.do_handshake()
                assert client.version() == maximum.name.replace("_", ".").replace(
                    "TLSv1.", "TLSv1."
                )
                assert client.selected_alpn_protocol() == "h2"
                assert client.getpeercert()["subjectAltName"][0] == ("DNS", "tls.example")
                assert client.server_hostname == "tls.example"
                assert client.server_side is False
                for size in (1, 1000, 100_000):
                    await client.send_all(b"x" * size)
                    got = b""
                    while len(got) < size:
                        got += await client.receive_some()
                    assert got == b"X" * size
                await client.aclose()

    run(main)


def test_attributes_that_need_the_handshake_raise_before_it() -> None:
    async def main() -> None:
        async with tls_pair() as (client, _):
            for name in ("getpeercert", "cipher", "version", "selected_alpn_protocol"):
                with pytest.raises(NeedHandshakeError, match=name):
                    getattr(client, name)
            assert client.context is not None  # no handshake needed
            assert isinstance(client.pending(), int)
            with pytest.raises(AttributeError):
                client.no_such_attribute  # type: ignore[attr-defined]  # noqa: B018

    run(main)


def test_bad_certificate_is_broken_resource_error_from_ssl_error() -> None:
    async def main() -> None:
        async with tls_pair(hostname="other.example") as (client, server):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(_expect_broken, server.do_handshake)
                with pytest.raises(lowio.BrokenResourceError) as info:
                    await client.do_handshake()
                await client.transport_stream.aclose()  # the server sees EOF
            assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
            # broken for good
            with pytest.raises(lowio.BrokenResourceError):
                await client.send_all(b"x")
            with pytest.raises(lowio.BrokenResourceError):
                await client.do_handshake()

    run(main)


def test_a_second_waiter_on_a_failed_handshake_is_told_not_hung() -> None:
    async def client_side(client: SSLStream[FdStream]) -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(_expect_broken, client.do_handshake)
            nursery.start_soon(_expect_broken, client.do_handshake)
        await client.transport_stream.aclose()

    async def main() -> None:
        async with (
            tls_pair(hostname="other.example") as (client, server),
            lowio.open_nursery() as nursery,
        ):
            nursery.start_soon(_expect_broken, server.do_handshake)
            nursery.start_soon(client_side, client)

    run(main)


async def _expect_broken(fn: Callable[[], Awaitable[object]]) -> None:
    with pytest.raises(lowio.BrokenResourceError):
        await fn()


def test_two_senders_or_two_receivers_are_busy() -> None:
    async def main() -> None:
        async with tls_pair() as (client, server):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(server.do_handshake)
                await client.do_handshake()
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(client.receive_some)
                await lowio.testing.wait_all_tasks_blocked()
                with pytest.raises(lowio.BusyResourceError, match="receiving"):
                    await client.receive_some()
                nursery.cancel_scope.cancel()
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(client.send_all, b"x" * 10_000_000)
                await lowio.testing.wait_all_tasks_blocked()
                with pytest.raises(lowio.BusyResourceError, match="sending"):
                    await client.send_all(b"y")
                with pytest.raises(lowio.BusyResourceError, match="sending"):
                    await client.wait_send_all_might_not_block()
                nursery.cancel_scope.cancel()

    run(main)


def test_full_duplex_large_transfers() -> None:
    size = 3_000_000

    async def pump(stream: SSLStream[FdStream], out: list[int]) -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(stream.send_all, b"a" * size)
            got = 0
            while got < size:
                got += len(await stream.receive_some())
            out.append(got)

    async def main() -> list[int]:
        out: list[int] = []
        async with tls_pair() as (client, server), lowio.open_nursery() as nursery:
            nursery.start_soon(pump, client, out)
            nursery.start_soon(pump, server, out)
        return out

    assert run(main) == [size, size]


def test_close_notify_reads_as_eof_and_closed_stream_refuses() -> None:
    async def main() -> None:
        async with tls_pair() as (client, server):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(server.send_all, b"bye")
                assert await client.receive_some() == b"bye"
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(client.aclose)
                assert await server.receive_some() == b""
            await client.aclose()  # idempotent
            for call in (client.send_all(b"x"), client.receive_some(), client.do_handshake()):
                with pytest.raises(lowio.ClosedResourceError):
                    await call
            await server.aclose()

    run(main)


@pytest.mark.parametrize("https_compatible", [False, True])
def test_ragged_eof(https_compatible: bool) -> None:
    async def main() -> None:
        async with tls_pair(client_https=https_compatible) as (client, server):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(server.do_handshake)
                await client.do_handshake()
            await server.transport_stream.aclose()  # no close_notify
            if https_compatible:
                assert await client.receive_some() == b""
            else:
                with pytest.raises(lowio.BrokenResourceError):
                    await client.receive_some()

    run(main)


def test_https_compatible_eof_before_handshake_is_eof() -> None:
    async def main() -> None:
        async with tls_pair(server_https=True) as (client, server):
            await client.transport_stream.aclose()
            assert await server.receive_some() == b""

    run(main)


def test_unwrap_returns_the_transport_and_trailing_bytes() -> None:
    async def main() -> None:
        async with tls_pair() as (client, server):

            async def server_side() -> None:
                await server.send_all(b"secret")
                transport, trailing = await server.unwrap()
                assert transport is not None
                data = trailing
                while len(data) < 5:
                    data += await transport.receive_some()
                assert data == b"plain"
                await transport.send_all(b"reply")

            async with lowio.open_nursery() as nursery:
                nursery.start_soon(server_side)
                assert await client.receive_some() == b"secret"
                transport, trailing = await client.unwrap()
                assert trailing == b""
                await transport.send_all(b"plain")
                reply = b""
                while len(reply) < 5:
                    reply += await transport.receive_some()
                assert reply == b"reply"
            assert client.transport_stream is None
            with pytest.raises(lowio.ClosedResourceError):
                await client.send_all(b"x")
            await transport.aclose()
            await server.aclose()

    run(main)


def test_cancelled_handshake_breaks_the_stream_and_leaks_nothing() -> None:
    async def main() -> None:
        async with tls_pair() as (client, _server):
            with lowio.move_on_after(0.05):
                await client.do_handshake()  # the server never answers
            with pytest.raises(lowio.BrokenResourceError):
                await client.send_all(b"x")
            await client.aclose()  # closes the transport all the same
            with pytest.raises(lowio.ClosedResourceError):
                await client.transport_stream.send_all(b"x")

    run(main)


def test_every_operation_is_a_checkpoint() -> None:
    async def main() -> None:
        async with tls_pair() as (client, server):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(server.do_handshake)
                await client.do_handshake()
            with lowio.CancelScope() as scope:
                scope.cancel()
                for op in (client.do_handshake(), client.send_all(b""), client.send_all(b"x")):
                    with pytest.raises(lowio.Cancelled):
                        await op

            with lowio.testing.assert_checkpoints():
                await client.do_handshake()
            with lowio.testing.assert_checkpoints():
                await client.send_all(b"")

    run(main)


def test_aclose_of_a_broken_stream_closes_the_transport() -> None:
    async def main() -> None:
        async with tls_pair(hostname="other.example") as (client, server):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(_expect_broken, server.do_handshake)
                await _expect_broken(client.do_handshake)
                await client.aclose()
            with pytest.raises(lowio.ClosedResourceError):
                await client.transport_stream.receive_some()

    run(main)


def test_bad_arguments() -> None:
    a, b = stream_pair()
    with pytest.raises(TypeError, match="SSLContext"):
        SSLStream(a, "not a context")  # type: ignore[arg-type]

    async def main() -> None:
        async with tls_pair() as (client, server):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(server.do_handshake)
                await client.do_handshake()
            with pytest.raises(ValueError, match="max_bytes"):
                await client.receive_some(0)
            with pytest.raises(TypeError):
                await client.receive_some(1.5)  # type: ignore[arg-type]
        await a.aclose()
        await b.aclose()

    run(main)


def test_ssl_listener_wraps_accepted_streams() -> None:
    class PairListener(lowio.abc.Listener[FdStream]):
        def __init__(self, stream: FdStream) -> None:
            self.stream = stream
            self.closed = False

        async def accept(self) -> FdStream:
            await lowio.lowlevel.checkpoint()
            return self.stream

        async def aclose(self) -> None:
            self.closed = True

    async def main() -> None:
        a, b = stream_pair()
        transport_listener = PairListener(b)
        listener = SSLListener(transport_listener, server_context(), https_compatible=True)
        server = await listener.accept()
        assert isinstance(server, SSLStream) and server.server_side
        client = SSLStream(a, client_context(), server_hostname="tls.example")
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(client.send_all, b"ping")
            assert await server.receive_some() == b"ping"
        await listener.aclose()
        assert transport_listener.closed
        await client.aclose()
        await server.aclose()

    run(main)


def test_idna_2008_server_hostname() -> None:
    a, b = stream_pair()
    stream = SSLStream(a, client_context(), server_hostname="fußball.de")
    assert stream.server_hostname == "xn--fuball-cta.de"

    async def close() -> None:
        await a.aclose()
        await b.aclose()

    lowio.run(close)


def test_serve_and_open_ssl_over_tcp() -> None:
    handler_errors: list[BaseException] = []

    async def handler(stream: SSLStream[lowio.SocketStream]) -> None:
        try:
            while data := await stream.receive_some():
                await stream.send_all(data[::-1])
        except lowio.BrokenResourceError as exc:
            handler_errors.append(exc)

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            listeners = await nursery.start(
                partial(lowio.serve_ssl_over_tcp, host="127.0.0.1"), handler, 0, server_context()
            )
            (listener,) = listeners
            assert isinstance(listener, SSLListener)
            port = listener.transport_listener.socket.getsockname()[1]

            stream = await lowio.open_ssl_over_tcp_stream(
                "127.0.0.1", port, ssl_context=client_context()
            )
            assert isinstance(stream.transport_stream, lowio.SocketStream)
            await stream.send_all(b"abc")
            assert await stream.receive_some() == b"cba"
            await stream.aclose()

            # a client that distrusts the server: its handshake fails, the
            # server's handler sees BrokenResourceError, the server goes on
            stranger = await lowio.open_ssl_over_tcp_stream(
                "127.0.0.1", port, ssl_context=ssl.create_default_context()
            )
            with pytest.raises(lowio.BrokenResourceError) as info:
                await stranger.do_handshake()
            assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
            await stranger.aclose()

            stream = await lowio.open_ssl_over_tcp_stream(
                "127.0.0.1", port, ssl_context=client_context(), https_compatible=True
            )
            await stream.send_all(b"xy")
            assert await stream.receive_some() == b"yx"
            await stream.aclose()
            while not handler_errors:
                await lowio.sleep(0.01)
            nursery.cancel_scope.cancel()
        assert isinstance(handler_errors[0].__cause__, ssl.SSLError)

    run(main)


def test_open_ssl_over_tcp_listeners_wraps_each_listener() -> None:
    async def main() -> None:
        listeners = await lowio.open_ssl_over_tcp_listeners(
            0, server_context(), host="127.0.0.1", https_compatible=True
        )
        assert [type(listener) for listener in listeners] == [SSLListener]
        assert isinstance(listeners[0].transport_listener, lowio.SocketListener)
        for listener in listeners:
            await listener.aclose()

    run(main)


def test_cancelled_in_the_middle_of_a_tcp_handshake_leaks_nothing() -> None:
    async def silent(stream: lowio.SocketStream) -> None:
        await lowio.sleep_forever()

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            (listener,) = await nursery.start(partial(lowio.serve_tcp, host="127.0.0.1"), silent, 0)
            port = listener.socket.getsockname()[1]
            stream = await lowio.open_ssl_over_tcp_stream(
                "127.0.0.1", port, ssl_context=client_context()
            )
            with lowio.move_on_after(0.05) as scope:
                await stream.do_handshake()
            assert scope.cancelled_caught
            await stream.aclose()
            nursery.cancel_scope.cancel()

    run(main)


@pytest.mark.parametrize("https_compatible", [False, True])
@pytest.mark.parametrize("maximum", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_sslstream_passes_the_generic_two_way_stream_checks(
    https_compatible: bool, maximum: ssl.TLSVersion
) -> None:
    """lowio.testing.check_two_way_stream on SSLStream pairs over memory
    streams, and over lockstep streams for the clogged checks."""

    def wrap(
        pair: tuple[lowio.abc.Stream, lowio.abc.Stream],
    ) -> tuple[SSLStream[lowio.abc.Stream], SSLStream[lowio.abc.Stream]]:
        client = SSLStream(
            pair[0],
            client_context(),
            server_hostname="tls.example",
            https_compatible=https_compatible,
        )
        server = SSLStream(
            pair[1], server_context(maximum), server_side=True, https_compatible=https_compatible
        )
        return client, server

    async def stream_maker() -> tuple[SSLStream[lowio.abc.Stream], SSLStream[lowio.abc.Stream]]:
        return wrap(lowio.testing.memory_stream_pair())

    async def clogged_stream_maker() -> tuple[
        SSLStream[lowio.abc.Stream], SSLStream[lowio.abc.Stream]
    ]:
        client, server = wrap(lowio.testing.lockstep_stream_pair())
        # the handshake first: over lockstep streams a one-sided first send
        # would wait for a handshake the other side never starts
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(client.do_handshake)
            nursery.start_soon(server.do_handshake)
        return client, server

    run(lambda: lowio.testing.check_two_way_stream(stream_maker, clogged_stream_maker))
