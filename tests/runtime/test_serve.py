"""lowio.open_tcp_listeners, serve_tcp, serve_listeners (handlers, the
listeners via task_status, retrying resource shortages on a fake listener
without spinning), open_unix_socket and
lowio.testing.open_stream_to_socket_listener."""

from __future__ import annotations

import errno
import logging
import socket as stdlib_socket
import sys
from pathlib import Path
from typing import Any

import pytest
from _socket_helpers import lowio_test

import lowio
import lowio.socket as lsocket
from lowio._tcp_listeners import _backlog
from lowio.abc import Listener, SocketFactory
from lowio.testing import MockClock, open_stream_to_socket_listener, wait_all_tasks_blocked

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup


def has_ipv6() -> bool:
    try:
        with stdlib_socket.socket(stdlib_socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


# ---- open_tcp_listeners ----


@lowio_test
async def test_listeners_on_every_local_address() -> None:
    listeners = await lowio.open_tcp_listeners(0)
    try:
        families = {listener.socket.family for listener in listeners}
        assert stdlib_socket.AF_INET in families
        for listener in listeners:
            sock = listener.socket
            assert sock.getsockopt(lsocket.SOL_SOCKET, lsocket.SO_ACCEPTCONN)
            assert sock.getsockopt(lsocket.SOL_SOCKET, lsocket.SO_REUSEADDR)
            if sock.family == lsocket.AF_INET6:
                assert sock.getsockopt(lsocket.IPPROTO_IPV6, lsocket.IPV6_V6ONLY)
            client = await open_stream_to_socket_listener(listener)
            async with client, await listener.accept() as server:
                await client.send_all(b"x")
                assert await server.receive_some() == b"x"
    finally:
        for listener in listeners:
            await listener.aclose()


@lowio_test
async def test_listeners_on_one_host() -> None:
    (listener,) = await lowio.open_tcp_listeners(0, host="127.0.0.1", backlog=5)
    async with listener:
        assert listener.socket.getsockname()[0] == "127.0.0.1"


def test_backlog() -> None:
    assert _backlog(None) == 0xFFFF
    assert _backlog(10) == 10
    assert _backlog(10**9) == 0xFFFF
    with pytest.raises(TypeError, match="backlog must be an int or None"):
        _backlog("10")  # type: ignore[arg-type]


@lowio_test
async def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="port must be an int"):
        await lowio.open_tcp_listeners("80")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="backlog"):
        await lowio.open_tcp_listeners(0, backlog=1.5)  # type: ignore[arg-type]


@pytest.mark.skipif(not has_ipv6(), reason="no IPv6")
@lowio_test
async def test_a_failed_bind_closes_the_listeners_made_so_far() -> None:
    # the wildcard lookup gives 0.0.0.0 then ::; take the IPv6 port first
    with stdlib_socket.socket(stdlib_socket.AF_INET6) as taken:
        taken.setsockopt(stdlib_socket.IPPROTO_IPV6, stdlib_socket.IPV6_V6ONLY, 1)
        taken.bind(("::", 0))
        port = taken.getsockname()[1]
        with pytest.raises(OSError) as info:
            await lowio.open_tcp_listeners(port)
        assert info.value.errno == errno.EADDRINUSE
    # (the autouse fd check fails the test if the IPv4 listener stayed open)


class RefuseFamilies(SocketFactory):
    def __init__(self, refused: set[int]) -> None:
        self.refused = refused

    def socket(
        self, family: int | None = None, type: int | None = None, proto: int | None = None
    ) -> Any:
        assert family is not None and type is not None and proto is not None
        if family in self.refused:
            raise OSError(errno.EAFNOSUPPORT, "address family not supported")
        return lsocket.SocketType(stdlib_socket.socket(family, type, proto))


@pytest.mark.skipif(not has_ipv6(), reason="no IPv6")
@lowio_test
async def test_unsupported_families_are_skipped() -> None:
    lsocket.set_custom_socket_factory(RefuseFamilies({stdlib_socket.AF_INET6}))
    listeners = await lowio.open_tcp_listeners(0)
    for listener in listeners:
        await listener.aclose()
    assert [listener.socket.family for listener in listeners] == [stdlib_socket.AF_INET]
    lsocket.set_custom_socket_factory(
        RefuseFamilies({stdlib_socket.AF_INET, stdlib_socket.AF_INET6})
    )
    with pytest.raises(OSError, match="doesn't support any of the kinds of socket") as info:
        await lowio.open_tcp_listeners(0)
    assert info.value.errno == errno.EAFNOSUPPORT
    group = info.value.__cause__
    assert isinstance(group, ExceptionGroup) and len(group.exceptions) == 2


@lowio_test
async def test_other_socket_errors_propagate() -> None:
    class Broken(SocketFactory):
        def socket(self, *args: Any) -> Any:
            raise OSError(errno.EMFILE, "too many open files")

    lsocket.set_custom_socket_factory(Broken())
    with pytest.raises(OSError) as info:
        await lowio.open_tcp_listeners(0, host="127.0.0.1")
    assert info.value.errno == errno.EMFILE


# ---- serve_tcp ----


async def echo_once(stream: lowio.SocketStream) -> None:
    data = await stream.receive_some()
    await stream.send_all(data.upper())


@lowio_test
async def test_serve_tcp_gives_the_listeners_and_serves() -> None:
    async with lowio.open_nursery() as nursery:
        listeners = await nursery.start(lowio.serve_tcp, echo_once, 0)
        assert listeners and all(isinstance(x, lowio.SocketListener) for x in listeners)
        for listener in listeners:
            for _ in range(3):
                async with await open_stream_to_socket_listener(listener) as client:
                    await client.send_all(b"hello")
                    assert await client.receive_some() == b"HELLO"
                    # the handler returned: the server closed its side
                    assert await client.receive_some() == b""
        nursery.cancel_scope.cancel()
    # cancelled: the listeners are closed
    assert all(listener.socket.fileno() == -1 for listener in listeners)


@lowio_test
async def test_serve_tcp_with_a_handler_nursery() -> None:
    handled: list[lowio.SocketStream] = []

    async def handler(stream: lowio.SocketStream) -> None:
        handled.append(stream)
        await lowio.sleep_forever()

    async with lowio.open_nursery() as handlers:
        async with lowio.open_nursery() as nursery:
            (listener,) = await nursery.start(
                lambda task_status: lowio.serve_tcp(
                    handler, 0, host="127.0.0.1", handler_nursery=handlers, task_status=task_status
                )
            )
            client = await open_stream_to_socket_listener(listener)
            await wait_all_tasks_blocked()
            assert len(handled) == 1
            nursery.cancel_scope.cancel()  # stops serving ...
        assert listener.socket.fileno() == -1
        assert handled[0].socket.fileno() != -1  # ... the handler runs on
        handlers.cancel_scope.cancel()
    assert handled[0].socket.fileno() == -1  # closed when its handler ended
    await client.aclose()


@lowio_test
async def test_a_handler_error_ends_the_serving() -> None:
    async def handler(stream: lowio.SocketStream) -> None:
        raise ValueError("handler failed")

    with pytest.raises(ExceptionGroup) as info:
        async with lowio.open_nursery() as nursery:
            (listener,) = await nursery.start(
                lambda task_status: lowio.serve_tcp(
                    handler, 0, host="127.0.0.1", task_status=task_status
                )
            )
            async with await open_stream_to_socket_listener(listener):
                await lowio.sleep_forever()
    assert info.value.subgroup(ValueError) is not None
    assert listener.socket.fileno() == -1


# ---- serve_listeners on a fake listener ----


class FakeStream(lowio.abc.AsyncResource):
    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True
        await lowio.lowlevel.checkpoint()


class ScriptedListener(Listener[FakeStream]):
    """accept() raises each scripted errno in turn, then hands out streams."""

    def __init__(self, errors: list[int]) -> None:
        self.errors = errors
        self.accept_times: list[float] = []
        self.closed = False

    async def accept(self) -> FakeStream:
        await lowio.lowlevel.checkpoint()
        self.accept_times.append(lowio.current_time())
        if self.errors:
            code = self.errors.pop(0)
            raise OSError(code, f"scripted {errno.errorcode[code]}")
        await lowio.sleep(1000)
        return FakeStream()

    async def aclose(self) -> None:
        self.closed = True
        await lowio.lowlevel.checkpoint()


@pytest.mark.parametrize("code", [errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS])
def test_resource_shortages_are_logged_and_retried_after_a_sleep(
    code: int, caplog: pytest.LogCaptureFixture
) -> None:
    listener = ScriptedListener([code] * 5)
    handled: list[FakeStream] = []

    async def handler(stream: FakeStream) -> None:
        handled.append(stream)

    async def main() -> None:
        with lowio.move_on_after(1500):
            await lowio.serve_listeners(handler, [listener])

    with caplog.at_level(logging.ERROR, logger="lowio.serve_listeners"):
        lowio.run(main, clock=MockClock(autojump_threshold=0))
    # five failures, 0.1 s apart (no spinning), then a connection at t=1000.5
    assert listener.accept_times == pytest.approx([0, 0.1, 0.2, 0.3, 0.4, 0.5, 1000.5])
    assert len(handled) == 1 and handled[0].closed
    assert listener.closed
    records = [r for r in caplog.records if r.name == "lowio.serve_listeners"]
    assert len(records) == 5
    assert errno.errorcode[code] in records[0].getMessage()
    assert "retrying in 0.1 seconds" in records[0].getMessage()
    assert records[0].exc_info is not None


def test_other_accept_errors_end_the_serving() -> None:
    listener = ScriptedListener([errno.EMFILE, errno.EINVAL])

    async def handler(stream: FakeStream) -> None:
        raise AssertionError("no stream expected")

    async def main() -> None:
        await lowio.serve_listeners(handler, [listener])

    with pytest.raises(ExceptionGroup) as info:
        lowio.run(main, clock=MockClock(autojump_threshold=0))
    (error,) = info.value.exceptions
    assert isinstance(error, OSError) and error.errno == errno.EINVAL
    assert listener.closed


def test_serve_listeners_task_status_gives_the_listeners_back() -> None:
    listeners = [ScriptedListener([]), ScriptedListener([])]

    async def handler(stream: FakeStream) -> None:
        pass

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            got = await nursery.start(lowio.serve_listeners, handler, listeners)
            assert got is listeners
            nursery.cancel_scope.cancel()

    lowio.run(main, clock=MockClock(autojump_threshold=0))
    assert all(listener.closed for listener in listeners)


# ---- open_unix_socket and open_stream_to_socket_listener ----


@lowio_test
async def test_open_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "server.sock"
    with lsocket.socket(lsocket.AF_UNIX) as raw:
        await raw.bind(str(path))
        raw.listen()
        listener = lowio.SocketListener(raw)
        for name in (path, str(path), bytes(path)):
            client = await lowio.open_unix_socket(name)
            async with client, await listener.accept() as server:
                await client.send_all(b"over unix")
                assert await server.receive_some() == b"over unix"
        async with await open_stream_to_socket_listener(listener) as client:
            assert client.socket.family == lsocket.AF_UNIX
            (await listener.accept()).socket.close()
    with pytest.raises(ConnectionRefusedError):
        await lowio.open_unix_socket(path)  # bound once, nobody listens now
    with pytest.raises(FileNotFoundError):
        await lowio.open_unix_socket(tmp_path / "missing.sock")
    with pytest.raises(TypeError):
        await lowio.open_unix_socket(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("family", "wildcard", "loopback"),
    [(stdlib_socket.AF_INET, "0.0.0.0", "127.0.0.1"), (stdlib_socket.AF_INET6, "::", "::1")],
)
def test_stream_to_a_wildcard_listener_uses_loopback(
    family: int, wildcard: str, loopback: str
) -> None:
    if family == stdlib_socket.AF_INET6 and not has_ipv6():
        pytest.skip("no IPv6")

    async def main() -> None:
        with lsocket.socket(family) as raw:
            await raw.bind((wildcard, 0))
            raw.listen()
            listener = lowio.SocketListener(raw)
            async with await open_stream_to_socket_listener(listener) as client:
                assert client.socket.getpeername()[0] == loopback
                (await listener.accept()).socket.close()

    lowio.run(main)
