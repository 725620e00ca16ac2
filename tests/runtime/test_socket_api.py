"""lowio.socket's module and object surface, as trio.socket's:
constructors, the forwarded methods, re-exports, address handling and
name resolution (numeric addresses inline, names in worker threads)."""

from __future__ import annotations

import contextlib
import os
import select
import socket as stdlib_socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from _socket_helpers import abstract_name, drain, fill, lowio_test, no_idle_workers

import lowio
import lowio.socket as lsocket
import lowio.to_thread
from lowio._core._thread_cache import THREAD_CACHE
from lowio._socket_resolve import resolve_address
from lowio.testing import assert_checkpoints, wait_all_tasks_blocked

__all__ = ["no_idle_workers"]  # a fixture, used by name


# ---- the module ----


def test_constants_and_helpers_are_reexported() -> None:
    assert lsocket.AF_INET == stdlib_socket.AF_INET
    assert lsocket.SOCK_STREAM == stdlib_socket.SOCK_STREAM
    assert lsocket.SOL_SOCKET == stdlib_socket.SOL_SOCKET
    assert lsocket.TCP_NODELAY == stdlib_socket.TCP_NODELAY
    assert lsocket.gaierror is stdlib_socket.gaierror
    assert lsocket.herror is stdlib_socket.herror
    assert lsocket.ntohs is stdlib_socket.ntohs
    assert lsocket.inet_pton is stdlib_socket.inet_pton
    assert lsocket.gethostname is stdlib_socket.gethostname  # not blocking
    for name in stdlib_socket.__all__:  # every constant this Python has
        if name.isupper():
            assert getattr(lsocket, name) == getattr(stdlib_socket, name), name
            assert name in dir(lsocket)


@pytest.mark.parametrize(
    "name",
    [
        "gethostbyname",
        "gethostbyname_ex",
        "gethostbyaddr",
        "getfqdn",
        "getservbyname",
        "getservbyport",
        "create_connection",
        "create_server",
        "setdefaulttimeout",
        "os",
        "selectors",
    ],
)
def test_blocking_and_private_stdlib_names_are_not_exported(name: str) -> None:
    with pytest.raises(AttributeError):
        getattr(lsocket, name)


def test_every_public_name_of_trio_socket_exists() -> None:
    trio_socket = pytest.importorskip("trio.socket")
    public = {name for name in dir(trio_socket) if not name.startswith("_")}
    missing = {name for name in public if not hasattr(lsocket, name)}
    assert missing <= {"annotations"}, missing  # trio's own `from __future__`
    # and a star import brings them all too (trio.socket has no __all__)
    star: dict[str, Any] = {}
    exec("from lowio.socket import *", star)
    assert public - {"annotations"} <= set(star)
    assert "gethostbyname" not in star


# ---- constructors ----


def test_socket_and_socketpair() -> None:
    with lsocket.socket() as sock:
        assert isinstance(sock, lsocket.SocketType)
        assert (sock.family, sock.type, sock.proto) == (lsocket.AF_INET, lsocket.SOCK_STREAM, 0)
        assert not sock._sock.getblocking()
        assert repr(sock).startswith("<lowio.socket.socket fd=")
    with lsocket.socket(lsocket.AF_INET6, lsocket.SOCK_DGRAM) as sock:
        assert (sock.family, sock.type) == (lsocket.AF_INET6, lsocket.SOCK_DGRAM)
    a, b = lsocket.socketpair()
    with a, b:
        assert a.family == lsocket.AF_UNIX and isinstance(b, lsocket.SocketType)
    a, b = lsocket.socketpair(lsocket.AF_UNIX, lsocket.SOCK_DGRAM)
    with a, b:
        assert a.type == lsocket.SOCK_DGRAM


@lowio_test
async def test_from_stdlib_socket_takes_ownership() -> None:
    sa, sb = stdlib_socket.socketpair()
    with sa, sb:
        ta = lsocket.from_stdlib_socket(sa)
        assert ta.fileno() == sa.fileno() and not sa.getblocking()
        await ta.send(b"x")
        assert sb.recv(1) == b"x"
        ta.close()
        assert sa.fileno() == -1  # closing the lowio socket closed it


@lowio_test
async def test_fromfd_dups_and_sniffs() -> None:
    for family, kind in [
        (lsocket.AF_INET, lsocket.SOCK_DGRAM),
        (lsocket.AF_INET6, lsocket.SOCK_STREAM),
        (lsocket.AF_UNIX, lsocket.SOCK_SEQPACKET),
    ]:
        with stdlib_socket.socket(family, kind) as original:
            # the given family/type are wrong on purpose: the fd's own win
            with lsocket.fromfd(original.fileno(), lsocket.AF_INET, lsocket.SOCK_STREAM) as dup:
                assert dup.fileno() != original.fileno()
                assert (dup.family, dup.type) == (family, kind)
            assert original.fileno() != -1  # the original is untouched
            fd = original.detach()
            wrapped = lsocket.socket(fileno=fd)  # the same fd, not a dup
            assert wrapped.fileno() == fd and (wrapped.family, wrapped.type) == (family, kind)
            wrapped.close()
    sa, sb = stdlib_socket.socketpair()
    with sa, sb, lsocket.fromfd(sa.fileno(), sa.family, sa.type) as ta:
        await ta.send(b"via dup")
        assert sb.recv(10) == b"via dup"
    r, w = os.pipe()
    try:
        with pytest.raises(OSError):
            lsocket.fromfd(r)  # not a socket
    finally:
        os.close(r)
        os.close(w)


@lowio_test
async def test_dup_detach_close_context_manager() -> None:
    a, b = lsocket.socketpair()
    with a, b:
        a2 = a.dup()
        with a2:
            assert isinstance(a2, lsocket.SocketType) and a2.fileno() != a.fileno()
            a.close()
            await a2.send(b"x")  # the dup still works
            assert await b.recv(1) == b"x"
        assert a2.fileno() == -1  # the context manager closed it
    with lsocket.socket() as sock:
        fd = sock.fileno()
        assert sock.detach() == fd and sock.fileno() == -1
    stdlib_socket.socket(fileno=fd).close()  # detached: still open, ours to close
    with lsocket.socket() as sock:
        pass
    assert sock.fileno() == -1


@lowio_test
async def test_shutdown_and_did_shutdown_SHUT_WR() -> None:
    for how, expected in [
        (lsocket.SHUT_WR, True),
        (lsocket.SHUT_RDWR, True),
        (lsocket.SHUT_RD, False),
    ]:
        a, b = lsocket.socketpair()
        with a, b:
            assert not a.did_shutdown_SHUT_WR
            a.shutdown(how)
            assert a.did_shutdown_SHUT_WR is expected
            assert not b.did_shutdown_SHUT_WR
            if expected:
                assert await b.recv(1) == b""  # EOF
            if how == lsocket.SHUT_WR:
                await b.send(b"y")  # the other direction is still open
                assert await a.recv(1) == b"y"
    with lsocket.socket() as sock, pytest.raises(OSError):
        sock.shutdown(lsocket.SHUT_WR)  # not connected
    assert not sock.did_shutdown_SHUT_WR  # only set if it worked


def test_sockopts_and_inheritable() -> None:
    with lsocket.socket() as sock:
        sock.setsockopt(lsocket.IPPROTO_TCP, lsocket.TCP_NODELAY, False)
        assert not sock.getsockopt(lsocket.IPPROTO_TCP, lsocket.TCP_NODELAY)
        sock.setsockopt(lsocket.IPPROTO_TCP, lsocket.TCP_NODELAY, True)
        assert sock.getsockopt(lsocket.IPPROTO_TCP, lsocket.TCP_NODELAY)
        linger = sock.getsockopt(lsocket.SOL_SOCKET, lsocket.SO_LINGER, 8)
        assert isinstance(linger, bytes) and len(linger) == 8
        with pytest.raises(TypeError, match="invalid value for argument 'value'"):
            sock.setsockopt(lsocket.IPPROTO_TCP, lsocket.TCP_NODELAY, False, 5)
        with pytest.raises(TypeError, match="invalid value for argument 'value'"):
            sock.setsockopt(lsocket.IPPROTO_TCP, lsocket.TCP_NODELAY, None)
        with contextlib.suppress(PermissionError):  # unprivileged on old kernels
            # the (None, optlen) form reaches the kernel
            sock.setsockopt(lsocket.SOL_SOCKET, lsocket.SO_BINDTODEVICE, None, 0)
        assert not sock.get_inheritable()
        sock.set_inheritable(True)
        assert sock.get_inheritable()
        with pytest.raises(AttributeError):
            sock.no_such_attribute  # type: ignore[attr-defined]  # noqa: B018


@lowio_test
async def test_is_readable_and_wait_writable() -> None:
    a, b = lsocket.socketpair()
    with a, b:
        assert not a.is_readable()
        await b.send(b"x")
        assert a.is_readable()
        with assert_checkpoints():
            await a.wait_writable()  # writable already: still a checkpoint
        fill(a)
        done = []

        async def wait() -> None:
            await a.wait_writable()
            done.append(True)

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(wait)
            await wait_all_tasks_blocked()
            assert not done  # it really waits
            drain(b)
        assert done


# ---- addresses ----


@pytest.fixture
def no_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Records (and refuses) every to_thread.run_sync call."""
    calls: list[Any] = []

    async def refuse(fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append((fn, args))
        raise AssertionError(f"unexpected worker thread for {fn}{args}")

    monkeypatch.setattr(lowio.to_thread, "run_sync", refuse)
    yield calls
    assert not calls


@lowio_test
async def test_numeric_addresses_need_no_thread(no_threads: list[Any]) -> None:
    threads = threading.active_count()
    with lsocket.socket() as listener, lsocket.socket() as client:
        await listener.bind(("127.0.0.1", 0))
        listener.listen()
        await client.connect(listener.getsockname())
        conn, _ = await listener.accept()
        conn.close()
    with lsocket.socket(type=lsocket.SOCK_DGRAM) as a, lsocket.socket(type=lsocket.SOCK_DGRAM) as b:
        await a.bind(("", 0))  # "" = any address, as in the stdlib
        assert a.getsockname()[0] == "0.0.0.0"
        await b.bind(("127.0.0.1", 0))
        await a.sendto(b"x", ("127.0.0.1", b.getsockname()[1]))
        await a.sendto(b"y", 0, b.getsockname())
        assert (await b.recvfrom(1))[0] == b"x"
        await a.sendmsg([b"z"], [], 0, b.getsockname())
        # a numeric address costs nothing: one schedule point per sendto,
        # as in trio (no getaddrinfo round)
        task = lowio.lowlevel.current_task()
        before = task._schedule_points
        await a.sendto(b"w", b.getsockname())
        assert task._schedule_points == before + 1
    # "<broadcast>" means 255.255.255.255, as in the stdlib
    broadcast = await resolve_address(
        lsocket.SOCK_DGRAM, lsocket.AF_INET, 0, False, ("<broadcast>", 9), local=False
    )
    assert broadcast == ("255.255.255.255", 9)
    assert await lsocket.getaddrinfo("127.0.0.1", 80) != []
    assert await lsocket.getaddrinfo(None, 0, flags=lsocket.AI_PASSIVE) != []
    assert threading.active_count() == threads


@lowio_test
async def test_ipv6_addresses() -> None:
    with lsocket.socket(lsocket.AF_INET6) as listener, lsocket.socket(lsocket.AF_INET6) as client:
        await listener.bind(("::1", 0))
        listener.listen()
        host, port, flowinfo, scope_id = listener.getsockname()
        assert (host, flowinfo, scope_id) == ("::1", 0, 0)
        await client.connect(("::1", port))  # a 2-tuple is fine
        conn, address = await listener.accept()
        with conn:
            assert address == client.getsockname() and len(address) == 4
            await conn.send(b"6")
            assert await client.recv(1) == b"6"
    with (
        lsocket.socket(lsocket.AF_INET6, lsocket.SOCK_DGRAM) as sock,
        lsocket.socket(type=lsocket.SOCK_DGRAM) as v4,
    ):
        await sock.bind(("::1", 0, 0, 0))  # the full 4-tuple
        assert sock.getsockname()[0] == "::1"
        await v4.bind(("127.0.0.1", 0))
        # a dual-stack socket reaches an IPv4 address as a v4-mapped one
        sock2 = lsocket.socket(lsocket.AF_INET6, lsocket.SOCK_DGRAM)
        with sock2:
            sock2.setsockopt(lsocket.IPPROTO_IPV6, lsocket.IPV6_V6ONLY, 0)
            await sock2.sendto(b"mapped", v4.getsockname())
            data, (host, _) = await v4.recvfrom(10)
            assert data == b"mapped" and host == "127.0.0.1"


@lowio_test
async def test_bad_address_shapes() -> None:
    with lsocket.socket() as sock:
        for bad in ["localhost", ("127.0.0.1",), ("127.0.0.1", 80, 0)]:
            with pytest.raises(ValueError, match=r"address should be a \(host, port\) tuple"):
                await sock.connect(bad)
        assert sock.fileno() != -1  # only a cancelled connect closes it
    with lsocket.socket(lsocket.AF_INET6) as sock, pytest.raises(ValueError, match="flowinfo"):
        await sock.bind(("::1", 0, 0, 0, 0))


# ---- name resolution (worker threads) ----


@lowio_test
async def test_names_resolve_in_a_worker_thread(
    monkeypatch: pytest.MonkeyPatch, no_idle_workers: None
) -> None:
    calls: list[Any] = []
    real_run_sync = lowio.to_thread.run_sync

    async def recording(fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append((fn.__name__, args[0], kwargs))
        return await real_run_sync(fn, *args, **kwargs)

    monkeypatch.setattr(lowio.to_thread, "run_sync", recording)
    with assert_checkpoints():
        result = await lsocket.getaddrinfo("localhost", 80, lsocket.AF_INET, lsocket.SOCK_STREAM)
    assert ("127.0.0.1", 80) in [entry[-1] for entry in result]
    assert calls == [("getaddrinfo", b"localhost", {"abandon_on_cancel": True})]
    with lsocket.socket() as listener, lsocket.socket() as client:
        await listener.bind(("localhost", 0))
        assert listener.getsockname()[0] == "127.0.0.1"
        listener.listen()
        await client.connect(("localhost", listener.getsockname()[1]))
        assert client.getpeername() == listener.getsockname()
    assert [name for name, _, _ in calls] == ["getaddrinfo"] * 3
    with lsocket.socket() as sock, pytest.raises(lsocket.gaierror):
        await sock.bind(("1.2:3", -1))  # nonsense: the resolver's error comes out
    assert await lsocket.getprotobyname("tcp") == stdlib_socket.IPPROTO_TCP


@lowio_test
async def test_unix_path_bind_uses_a_thread(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, no_idle_workers: None
) -> None:
    used: list[object] = []
    real_run_sync = lowio.to_thread.run_sync

    async def recording(fn: Any, *args: Any, **kwargs: Any) -> Any:
        used.append(args)
        return await real_run_sync(fn, *args, **kwargs)

    monkeypatch.setattr(lowio.to_thread, "run_sync", recording)
    with lsocket.socket(lsocket.AF_UNIX) as sock:
        await sock.bind(tmp_path / "s")  # a path: the filesystem lookup may block
    assert used == [(str(tmp_path / "s"),)]
    with lsocket.socket(lsocket.AF_UNIX) as sock:
        await sock.bind(abstract_name("bind"))  # abstract: no filesystem
    assert len(used) == 1


@lowio_test
async def test_getnameinfo(no_idle_workers: None) -> None:
    numeric = lsocket.NI_NUMERICHOST | lsocket.NI_NUMERICSERV
    with assert_checkpoints():
        assert await lsocket.getnameinfo(("127.0.0.1", 1234), numeric) == ("127.0.0.1", "1234")
    with assert_checkpoints(), pytest.raises(lsocket.gaierror):
        await lsocket.getnameinfo(("localhost", 80), 0)  # must be numeric
    expected = stdlib_socket.getnameinfo(("127.0.0.1", 80), lsocket.NI_NUMERICSERV)
    assert await lsocket.getnameinfo(("127.0.0.1", 80), lsocket.NI_NUMERICSERV) == expected


@lowio_test
async def test_a_slow_lookup_is_cancellable(
    monkeypatch: pytest.MonkeyPatch, no_idle_workers: None
) -> None:
    release = threading.Event()
    entered = threading.Event()
    returned = threading.Event()
    real = stdlib_socket.getaddrinfo

    def slow_getaddrinfo(host: Any, *args: Any) -> Any:
        if host == b"slow.invalid":
            entered.set()
            release.wait(10)
            returned.set()
            return [(lsocket.AF_INET, lsocket.SOCK_STREAM, 6, "", ("127.0.0.9", 1))]
        return real(host, *args)

    monkeypatch.setattr(stdlib_socket, "getaddrinfo", slow_getaddrinfo)
    with lsocket.socket() as sock:
        outcome: list[str] = []

        async def connect() -> None:
            with pytest.raises(lowio.Cancelled):
                await sock.connect(("slow.invalid", 80))
            outcome.append("cancelled")

        with lowio.fail_after(5):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(connect)
                while not entered.is_set():  # the loop is not blocked meanwhile
                    await lowio.sleep(0.001)
                nursery.cancel_scope.cancel()  # abandons the lookup at once
        assert outcome == ["cancelled"]
        assert not returned.is_set()  # the worker is still stuck in it
        assert sock.fileno() == -1  # a cancelled connect closes the socket
    idle = THREAD_CACHE.idle_count()
    release.set()
    with lowio.fail_after(5):  # the abandoned worker finishes and goes idle
        while THREAD_CACHE.idle_count() <= idle:
            await lowio.sleep(0.001)


@lowio_test
async def test_idna_and_custom_resolver() -> None:
    seen: list[Any] = []

    class Resolver:
        async def getaddrinfo(self, host: Any, port: Any, *args: Any) -> Any:
            seen.append(host)
            return [(lsocket.AF_INET, lsocket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

        async def getnameinfo(self, sockaddr: Any, flags: int) -> Any:
            return ("custom", str(sockaddr[1]))

    resolver = Resolver()
    assert lsocket.set_custom_hostname_resolver(resolver) is None
    await lsocket.getaddrinfo("faß.de", 80)  # IDNA 2008, not 2003's "fass.de"
    await lsocket.getaddrinfo("Example.ORG", 80)  # ASCII: unchanged
    await lsocket.getaddrinfo(b"xn--fa-hia.de", 80)
    assert await lsocket.getaddrinfo("127.0.0.1", 80) != []  # numeric: never asked
    assert seen == [b"xn--fa-hia.de", b"Example.ORG", b"xn--fa-hia.de"]
    assert await lsocket.getnameinfo(("127.0.0.1", 7), 0) == ("custom", "7")
    # resolved by the custom resolver, then refused
    with lsocket.socket() as sock, pytest.raises(OSError):
        await sock.connect(("anything.example", 1))
    assert seen[-1] == b"anything.example"
    assert lsocket.set_custom_hostname_resolver(None) is resolver


@lowio_test
async def test_custom_socket_factory() -> None:
    made: list[tuple[int, int, int]] = []

    class Factory:
        def socket(self, family: int, type: int, proto: int) -> lsocket.SocketType:
            made.append((family, type, proto))
            return lsocket.from_stdlib_socket(stdlib_socket.socket(family, type, proto))

    assert lsocket.set_custom_socket_factory(Factory()) is None
    with lsocket.socket(lsocket.AF_INET, lsocket.SOCK_DGRAM):
        pass
    assert made == [(lsocket.AF_INET, lsocket.SOCK_DGRAM, 0)]
    with stdlib_socket.socket() as raw:  # fileno= bypasses the factory
        lsocket.socket(fileno=raw.fileno()).detach()
    assert len(made) == 1
    assert isinstance(lsocket.set_custom_socket_factory(None), Factory)


def test_overrides_need_a_run_and_last_one_run() -> None:
    with pytest.raises(RuntimeError):
        lsocket.set_custom_socket_factory(None)
    with pytest.raises(RuntimeError):
        lsocket.set_custom_hostname_resolver(None)

    async def set_it() -> None:
        lsocket.set_custom_socket_factory(object())

    async def check_it() -> None:
        # a new run starts with no factory
        assert lsocket.set_custom_socket_factory(None) is None

    lowio.run(set_it)
    lowio.run(check_it)
    with lsocket.socket():  # outside a run: a plain lowio socket
        pass


def test_is_readable_uses_poll_without_a_run() -> None:
    # sync methods need no run (trio: same)
    a, b = lsocket.socketpair()
    with a, b:
        b._sock.send(b"x")
        assert a.is_readable()
        assert select.select([a], [], [], 0)[0] == [a]  # fileno() works for select
