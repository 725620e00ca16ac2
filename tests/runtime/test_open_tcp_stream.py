"""lowio.open_tcp_stream: real connections (success, refusal, local
addresses, bad arguments) and happy eyeballs with a fake resolver and
socket factory on a MockClock (order, staggering, early start after a
failure, the error naming every address, every losing socket closed,
cancellation)."""

from __future__ import annotations

import socket as stdlib_socket
import sys
from typing import Any

import pytest
from _socket_helpers import lowio_test

import lowio
import lowio.socket as lsocket
from lowio._open_tcp_stream import format_host_port, reorder_for_rfc_6555_section_5_4
from lowio.abc import HostnameResolver, SocketFactory
from lowio.testing import MockClock

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup

# ---- the helpers ----


def entry(family: int, ip: str) -> tuple[Any, ...]:
    return (family, stdlib_socket.SOCK_STREAM, 6, "", (ip, 80))


def test_reorder_moves_the_first_other_family_to_second_place() -> None:
    v4, v6 = stdlib_socket.AF_INET, stdlib_socket.AF_INET6
    cases = [
        ([], []),
        ([(v4, "a")], [(v4, "a")]),
        ([(v4, "a"), (v4, "b")], [(v4, "a"), (v4, "b")]),
        (
            [(v6, "a"), (v6, "b"), (v4, "c"), (v4, "d")],
            [(v6, "a"), (v4, "c"), (v6, "b"), (v4, "d")],
        ),
        ([(v6, "a"), (v4, "b"), (v6, "c")], [(v6, "a"), (v4, "b"), (v6, "c")]),
        (
            [(v4, "a"), (v4, "b"), (v4, "c"), (v6, "d")],
            [(v4, "a"), (v6, "d"), (v4, "b"), (v4, "c")],
        ),
    ]
    for given, expected in cases:
        targets = [entry(f, ip) for f, ip in given]
        reorder_for_rfc_6555_section_5_4(targets)
        assert targets == [entry(f, ip) for f, ip in expected]


def test_format_host_port() -> None:
    assert format_host_port("127.0.0.1", 80) == "127.0.0.1:80"
    assert format_host_port(b"example.com", "http") == "example.com:http"
    assert format_host_port("::1", 80) == "[::1]:80"


# ---- real sockets ----


@lowio_test
async def test_connects_and_returns_a_socket_stream() -> None:
    with lsocket.socket() as listener:
        await listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        for host in ("127.0.0.1", b"127.0.0.1", "localhost"):
            async with await lowio.open_tcp_stream(host, port) as client:
                assert isinstance(client, lowio.SocketStream)
                server, _ = await listener.accept()
                with server:
                    await client.send_all(b"hi")
                    assert await server.recv(10) == b"hi"


@lowio_test
async def test_refused_names_the_host_and_each_address() -> None:
    with lsocket.socket() as unused:
        await unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(
            OSError, match=rf"^all attempts to connect to 127\.0\.0\.1:{port} failed$"
        ) as info:
            await lowio.open_tcp_stream("127.0.0.1", port)
    group = info.value.__cause__
    assert isinstance(group, ExceptionGroup)
    assert str(group).startswith(str(info.value))
    (refused,) = group.exceptions
    assert isinstance(refused, ConnectionRefusedError)
    assert f"('127.0.0.1', {port})" in str(refused)


@lowio_test
async def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="host must be str or bytes"):
        await lowio.open_tcp_stream(123, 80)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="port must be int"):
        await lowio.open_tcp_stream("127.0.0.1", "80")  # type: ignore[arg-type]


def can_bind(address: str) -> bool:
    with stdlib_socket.socket() as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True


@lowio_test
async def test_local_address() -> None:
    with lsocket.socket() as listener:
        await listener.bind(("127.0.0.1", 0))
        listener.listen()
        host, port = listener.getsockname()
        local = "127.0.0.2" if can_bind("127.0.0.2") else "127.0.0.1"
        async with await lowio.open_tcp_stream(host, port, local_address=local) as client:
            assert client.socket.getsockname()[0] == local
            if hasattr(lsocket, "IP_BIND_ADDRESS_NO_PORT"):
                assert client.socket.getsockopt(lsocket.IPPROTO_IP, lsocket.IP_BIND_ADDRESS_NO_PORT)
            server, peer = await listener.accept()
            server.close()
            assert peer[0] == local
        with pytest.raises(OSError, match="all attempts to connect") as info:
            await lowio.open_tcp_stream(host, port, local_address="::")
        (mismatch,) = info.value.__cause__.exceptions  # type: ignore[union-attr]
        assert "local_address='::' is incompatible with remote address" in str(mismatch)


# ---- happy eyeballs on fakes ----


class FakeSocket(lsocket.SocketType):
    """A socket that never touches the kernel: ``connect`` sleeps the
    scenario's delay for its address, then succeeds or fails."""

    def __init__(self, scenario: Scenario, family: int, type_: int, proto: int) -> None:
        # no super().__init__: there is no real socket behind it
        self.scenario = scenario
        self._fake = (family, type_, proto)
        self.ip: str | None = None
        self.closed = False
        self.connected = False

    @property
    def family(self) -> Any:
        return self._fake[0]

    @property
    def type(self) -> Any:
        return self._fake[1]

    async def connect(self, address: Any) -> None:
        self.ip = address[0]
        self.scenario.started[address[0]] = lowio.current_time()
        delay, outcome = self.scenario.plan[address[0]]
        await lowio.sleep(delay)
        if outcome == "error":
            raise OSError(f"sorry, {address!r} said no")
        if outcome == "crash":
            raise RuntimeError("not an OSError")
        self.connected = True

    def setsockopt(self, *args: Any) -> None:
        if self.scenario.plan[str(self.ip)][1] == "fail-in-stream":
            raise KeyboardInterrupt  # not an OSError: SocketStream does not swallow it

    def close(self) -> None:
        self.closed = True


class Scenario(HostnameResolver, SocketFactory):
    """The resolver answers the addresses of ``plan`` (in order); each
    address: (connect delay, "success" / "error" / ...)."""

    def __init__(self, plan: list[tuple[str, float, str]], families: set[int] | None = None):
        self.order = [ip for ip, _, _ in plan]
        self.plan = {ip: (delay, outcome) for ip, delay, outcome in plan}
        self.families = families or {stdlib_socket.AF_INET, stdlib_socket.AF_INET6}
        self.sockets: list[FakeSocket] = []
        self.started: dict[str, float] = {}

    async def getaddrinfo(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> Any:
        assert (host, port, type) == (b"test.example.com", 80, stdlib_socket.SOCK_STREAM)
        return [
            (
                stdlib_socket.AF_INET6 if ":" in ip else stdlib_socket.AF_INET,
                stdlib_socket.SOCK_STREAM,
                6,
                "",
                (ip, 80, 0, 0) if ":" in ip else (ip, 80),
            )
            for ip in self.order
        ]

    async def getnameinfo(self, sockaddr: Any, flags: int) -> tuple[str, str]:
        raise AssertionError("not used")

    def socket(
        self, family: int | None = None, type: int | None = None, proto: int | None = None
    ) -> Any:
        assert family is not None and type is not None and proto is not None
        if family not in self.families:
            raise OSError("pretending not to support this family")
        sock = FakeSocket(self, family, type, proto)
        self.sockets.append(sock)
        return sock

    def losers_all_closed(self, winner: object) -> bool:
        return all(s.closed for s in self.sockets if s is not winner)


def run_scenario(
    plan: list[tuple[str, float, str]], families: set[int] | None = None, **kwargs: Any
) -> tuple[Scenario, Any, float]:
    """Runs open_tcp_stream("test.example.com", 80) on the scenario under
    a MockClock; returns the scenario, the stream or exception, the time."""
    scenario = Scenario(plan, families)

    async def main() -> tuple[Any, float]:
        lsocket.set_custom_hostname_resolver(scenario)
        lsocket.set_custom_socket_factory(scenario)
        try:
            result: Any = await lowio.open_tcp_stream("test.example.com", 80, **kwargs)
        except BaseException as exc:
            result = exc
        return result, lowio.current_time()

    result, elapsed = lowio.run(main, clock=MockClock(autojump_threshold=0))
    return scenario, result, elapsed


def test_one_address_success() -> None:
    _scenario, stream, elapsed = run_scenario([("1.1.1.1", 0.1, "success")])
    assert isinstance(stream, lowio.SocketStream)
    assert stream.socket.ip == "1.1.1.1"  # type: ignore[attr-defined]
    assert not stream.socket.closed  # type: ignore[attr-defined]
    assert elapsed == pytest.approx(0.1)


def test_attempts_are_staggered_by_the_delay_and_the_first_to_connect_wins() -> None:
    scenario, stream, elapsed = run_scenario(
        [("1.1.1.1", 10, "success"), ("2.2.2.2", 10, "success"), ("3.3.3.3", 0.1, "success")]
    )
    assert stream.socket.ip == "3.3.3.3"
    assert scenario.started == pytest.approx({"1.1.1.1": 0, "2.2.2.2": 0.25, "3.3.3.3": 0.5})
    assert elapsed == pytest.approx(0.6)
    assert len(scenario.sockets) == 3 and scenario.losers_all_closed(stream.socket)
    assert not stream.socket.closed


def test_custom_delay_and_none_means_the_default() -> None:
    plan = [("1.1.1.1", 10, "success"), ("2.2.2.2", 0.1, "success")]
    scenario, stream, elapsed = run_scenario(plan, happy_eyeballs_delay=1.0)
    assert scenario.started == pytest.approx({"1.1.1.1": 0, "2.2.2.2": 1.0})
    assert stream.socket.ip == "2.2.2.2" and elapsed == pytest.approx(1.1)
    scenario, stream, _ = run_scenario(plan, happy_eyeballs_delay=None)
    assert scenario.started["2.2.2.2"] == pytest.approx(0.25)


def test_a_failure_starts_the_next_attempt_at_once() -> None:
    scenario, stream, elapsed = run_scenario(
        [("1.1.1.1", 0.1, "error"), ("2.2.2.2", 0.05, "error"), ("3.3.3.3", 0.1, "success")]
    )
    assert scenario.started == pytest.approx({"1.1.1.1": 0, "2.2.2.2": 0.1, "3.3.3.3": 0.15})
    assert stream.socket.ip == "3.3.3.3" and elapsed == pytest.approx(0.25)
    assert scenario.losers_all_closed(stream.socket)


def test_the_other_family_goes_second() -> None:
    scenario, stream, _ = run_scenario(
        [("::1", 10, "success"), ("::2", 10, "success"), ("1.1.1.1", 10, "success")]
    )
    order = sorted(scenario.started, key=scenario.started.__getitem__)
    assert order == ["::1", "1.1.1.1", "::2"]
    assert stream.socket.ip == "::1"  # started first, connected first


def test_all_fail_names_every_address_tried() -> None:
    plan = [("::1", 0.1, "error"), ("1.1.1.1", 0.3, "error"), ("2.2.2.2", 0.2, "error")]
    scenario, exc, _ = run_scenario(plan, families={stdlib_socket.AF_INET6, stdlib_socket.AF_INET})
    assert isinstance(exc, OSError) and not isinstance(exc, ExceptionGroup)
    assert str(exc) == "all attempts to connect to test.example.com:80 failed"
    group = exc.__cause__
    assert isinstance(group, ExceptionGroup) and group.message == str(exc)
    assert len(group.exceptions) == 3
    text = " ".join(str(e) for e in group.exceptions)
    for ip, _, _ in plan:
        assert repr(ip) in text
    assert all(s.closed for s in scenario.sockets)


def test_an_unsupported_family_counts_as_a_failed_attempt() -> None:
    scenario, stream, _ = run_scenario(
        [("::1", 0.1, "success"), ("1.1.1.1", 0.1, "success")], families={stdlib_socket.AF_INET}
    )
    assert stream.socket.ip == "1.1.1.1"
    assert scenario.started == pytest.approx({"1.1.1.1": 0})  # started at once after ::1 failed
    scenario, exc, _ = run_scenario([("::1", 0.1, "success")], families={stdlib_socket.AF_INET})
    assert isinstance(exc, OSError)
    assert "pretending not to support" in str(exc.__cause__.exceptions[0])


def test_a_non_oserror_propagates_and_every_socket_is_closed() -> None:
    scenario, exc, _ = run_scenario([("1.1.1.1", 10, "success"), ("2.2.2.2", 0.3, "crash")])
    assert isinstance(exc, BaseExceptionGroup)
    assert exc.subgroup(RuntimeError) is not None
    assert len(scenario.sockets) == 2 and all(s.closed for s in scenario.sockets)


def test_failing_to_wrap_the_winner_closes_it_too() -> None:
    scenario, exc, _ = run_scenario(
        [("1.1.1.1", 0.1, "fail-in-stream"), ("2.2.2.2", 10, "success")]
    )
    assert isinstance(exc, KeyboardInterrupt)
    assert len(scenario.sockets) == 1 and scenario.sockets[0].closed


def test_cancellation_closes_every_attempt() -> None:
    scenario = Scenario([("1.1.1.1", 10, "success"), ("2.2.2.2", 10, "success")])

    async def main() -> None:
        lsocket.set_custom_hostname_resolver(scenario)
        lsocket.set_custom_socket_factory(scenario)
        with lowio.move_on_after(0.3) as scope:
            await lowio.open_tcp_stream("test.example.com", 80)
        assert scope.cancelled_caught
        assert lowio.current_time() == pytest.approx(0.3)

    lowio.run(main, clock=MockClock(autojump_threshold=0))
    assert len(scenario.sockets) == 2 and all(s.closed for s in scenario.sockets)


def test_no_addresses_found() -> None:
    class Empty(Scenario):
        async def getaddrinfo(self, *args: Any, **kwargs: Any) -> Any:
            return []

    async def main() -> None:
        lsocket.set_custom_hostname_resolver(Empty([]))
        with pytest.raises(
            OSError, match=r"no results found for hostname lookup: test\.example\.com:80"
        ):
            await lowio.open_tcp_stream("test.example.com", 80)

    lowio.run(main)
