"""Registration semantics and every bad input, on both selectors."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import pytest
from conftest import epoll_registrations
from hypothesis import given, settings
from hypothesis import strategies as st

from lowio._sys import lib
from lowio.poll import LEVEL, ONESHOT, TOKEN_LIMIT, Events, Interest, Poll

R, W = Interest.READABLE, Interest.WRITABLE


def tokens(poll: Poll, timeout: float | None = 0) -> list[int]:
    events = Events(64)
    poll.poll(events, timeout)
    return [ev.token for ev in events]


def test_sources_int_socket_and_fileno_objects(
    poll: Poll, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair

    class HasFileno:
        def fileno(self) -> int:
            return b.fileno()

    poll.registry.register(a.fileno(), 1, W)
    poll.registry.register(HasFileno(), 2, W)
    assert sorted(tokens(poll)) == [1, 2]


def test_pipe_udp_and_unix_datagram_sources(poll: Poll) -> None:
    r, w = os.pipe()
    os.set_blocking(r, False)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setblocking(False)
    udp.bind(("127.0.0.1", 0))
    ua, ub = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    ua.setblocking(False)
    try:
        poll.registry.register(r, 1, R)
        poll.registry.register(udp, 2, R)
        poll.registry.register(ua, 3, R)
        assert tokens(poll) == []
        os.write(w, b"x")
        udp.sendto(b"x", udp.getsockname())
        ub.send(b"x")
        assert sorted(tokens(poll, 1.0)) == [1, 2, 3]
    finally:
        for fd in (r, w):
            os.close(fd)
        udp.close()
        ua.close()
        ub.close()


def test_reregister_replaces_token_and_interest(
    poll: Poll, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, _ = pair
    poll.registry.register(a, 1, R)
    assert tokens(poll) == []  # not readable, and WRITABLE was not asked for
    poll.registry.reregister(a, 2, W)
    events = Events(8)
    assert poll.poll(events, 0) == 1
    (ev,) = events
    assert ev.token == 2 and ev.is_writable() and not ev.is_readable()


def test_no_event_after_deregister(poll: Poll, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    poll.registry.register(a, 1, R, mode=LEVEL)
    b.send(b"x")
    assert tokens(poll, 1.0) == [1]
    poll.registry.deregister(a)
    assert tokens(poll, 0.05) == []
    poll.registry.register(a, 5, R, mode=LEVEL)  # and it can come back
    assert tokens(poll, 1.0) == [5]


def test_double_register_is_file_exists(
    poll: Poll, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, _ = pair
    poll.registry.register(a, 1, R)
    with pytest.raises(FileExistsError, match=f"fd {a.fileno()}"):
        poll.registry.register(a, 2, R)


def test_unknown_source_is_file_not_found(
    poll: Poll, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, _ = pair
    with pytest.raises(FileNotFoundError):
        poll.registry.reregister(a, 1, R)
    with pytest.raises(FileNotFoundError):
        poll.registry.deregister(a)


def test_regular_file_is_permission_error(poll: Poll, tmp_path: Path) -> None:
    with open(tmp_path / "f", "wb") as f, pytest.raises(PermissionError, match="regular files"):
        poll.registry.register(f, 1, R)


def test_dev_null_is_refused_by_epoll() -> None:
    with Poll("epoll") as p, open(os.devnull, "rb") as f, pytest.raises(PermissionError):
        p.registry.register(f, 1, R)


def test_closed_fd_is_ebadf(poll: Poll) -> None:
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError) as info:
        poll.registry.register(r, 1, R)
    assert info.value.errno == errno.EBADF


def test_closed_socket_object_is_value_error(poll: Poll) -> None:
    s = socket.socket()
    s.close()
    with pytest.raises(ValueError, match="closed"):
        poll.registry.register(s, 1, R)


def test_blocking_socket_is_refused(poll: Poll) -> None:
    a, b = socket.socketpair()
    with a, b, pytest.raises(ValueError, match="non-blocking"):
        poll.registry.register(a, 1, R)


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (-1, ValueError),
        (TOKEN_LIMIT, ValueError),
        (1.0, TypeError),
        (True, TypeError),
        ("1", TypeError),
    ],
)
def test_bad_token(
    poll: Poll, pair: tuple[socket.socket, socket.socket], token: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="token"):
        poll.registry.register(pair[0], token, R)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "error", "match"),
    [
        ("3", TypeError, "str"),
        (None, TypeError, "NoneType"),
        (True, TypeError, "bool"),
        (-1, ValueError, "non-negative"),
        (3.0, TypeError, "float"),
    ],
)
def test_bad_source(poll: Poll, source: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        poll.registry.register(source, 1, R)


def test_fileno_returning_garbage(poll: Poll) -> None:
    class Bad:
        def fileno(self) -> str:
            return "7"

    with pytest.raises(TypeError, match="fileno"):
        poll.registry.register(Bad(), 1, R)


def test_bad_interest_and_mode_through_registry(
    poll: Poll, pair: tuple[socket.socket, socket.socket]
) -> None:
    with pytest.raises(ValueError, match="empty"):
        poll.registry.register(pair[0], 1, Interest(0))
    with pytest.raises(TypeError, match="mode"):
        poll.registry.register(pair[0], 1, R, mode="edge")  # type: ignore[arg-type]


def test_largest_token_round_trips(poll: Poll, pair: tuple[socket.socket, socket.socket]) -> None:
    poll.registry.register(pair[0], TOKEN_LIMIT - 1, W)
    assert tokens(poll) == [TOKEN_LIMIT - 1]


def test_exclusive_on_epoll(pair: tuple[socket.socket, socket.socket]) -> None:
    with Poll("epoll") as p:
        with pytest.raises(ValueError, match="ONESHOT"):
            p.registry.register(pair[0], 1, R, mode=ONESHOT, exclusive=True)
        with pytest.raises(ValueError, match="PRIORITY"):
            p.registry.register(pair[0], 1, R | Interest.PRIORITY, exclusive=True)
        p.registry.register(pair[0], 1, R, exclusive=True)
        with pytest.raises(ValueError, match="register"):
            p.registry.reregister(pair[0], 1, R, exclusive=True)
        with pytest.raises(OSError, match="exclusive") as info:
            p.registry.reregister(pair[0], 1, W)
        assert info.value.errno == errno.EINVAL
        p.registry.deregister(pair[0])


def test_exclusive_and_wakeup_need_epoll(pair: tuple[socket.socket, socket.socket]) -> None:
    with Poll("poll") as p:
        with pytest.raises(ValueError, match="epoll"):
            p.registry.register(pair[0], 1, R, exclusive=True)
        with pytest.raises(ValueError, match="epoll"):
            p.registry.register(pair[0], 1, R, wakeup=True)


def test_wakeup_registers_on_epoll(pair: tuple[socket.socket, socket.socket]) -> None:
    with Poll("epoll") as p:
        p.registry.register(pair[0], 9, W, wakeup=True)
        assert tokens(p) == [9]


def test_kernel_sees_the_masks_we_mean(pair: tuple[socket.socket, socket.socket]) -> None:
    from lowio._sys import lib

    a, b = pair
    with Poll("epoll") as p:
        p.registry.register(a, 1, R)
        p.registry.register(b, 2, R, mode=LEVEL, exclusive=True)
        masks = {fd: mask for fd, (mask, _token) in epoll_registrations(p).items()}
        assert masks[a.fileno()] & (lib.EPOLLIN | lib.EPOLLRDHUP | lib.EPOLLET) == (
            lib.EPOLLIN | lib.EPOLLRDHUP | lib.EPOLLET
        )
        assert masks[b.fileno()] & lib.EPOLLEXCLUSIVE
        assert not masks[b.fileno()] & (lib.EPOLLRDHUP | lib.EPOLLET)


def test_try_clone_shares_the_poller(poll: Poll, pair: tuple[socket.socket, socket.socket]) -> None:
    clone = poll.registry.try_clone()
    clone.register(pair[0], 4, W)
    assert tokens(poll) == [4]
    assert "Registry" in repr(clone)


def test_reused_fd_number_after_unnotified_close(poll: Poll) -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    fd = a.fileno()
    poll.registry.register(a, 1, R)
    a.close()  # no deregister: epoll forgets the file on close
    b.close()
    c, d = socket.socketpair()
    try:
        c.setblocking(False)
        if c.fileno() != fd:
            c, d = d, c
            c.setblocking(False)
        assert c.fileno() == fd
        poll.registry.register(c, 2, R)  # not "already registered"
        d.send(b"x")
        assert tokens(poll, 1.0) == [2]
    finally:
        c.close()
        d.close()


@settings(max_examples=30, deadline=None)
@given(
    token=st.integers(0, TOKEN_LIMIT - 1),
    interest=st.sampled_from([R, W, R | W]),
    selector=st.sampled_from(["epoll", "poll"]),
)
def test_any_token_and_interest_round_trip(token: int, interest: Interest, selector: str) -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    with a, b, Poll(selector) as p:
        p.registry.register(a, token, interest, mode=LEVEL)
        b.send(b"x")
        events = Events(4)
        assert p.poll(events, 1.0) == 1
        (ev,) = events
        assert ev.token == token
        assert ev.is_readable() == bool(interest & R)
        assert ev.is_writable() == bool(interest & W)


class _Fileno:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd


@pytest.mark.parametrize("fd", [2**31, 2**32 + 3, 2**63, 2**70])
@pytest.mark.parametrize("wrap", [int, _Fileno], ids=["int", "fileno"])
def test_an_fd_beyond_a_c_int_is_value_error(poll: Poll, fd: int, wrap: type) -> None:
    # (cffi's OverflowError used to escape; the C fast path takes ints only
    # up to INT_MAX, so these go through the Python path on both selectors)
    source = wrap(fd)
    registry = poll.registry
    for call in (
        lambda: registry.register(source, 1, R),
        lambda: registry.reregister(source, 1, R),
        lambda: registry.deregister(source),
    ):
        with pytest.raises(ValueError, match=f"fd {fd} is out of range"):
            call()


@pytest.mark.parametrize("fd", [2**31, 2**63])
def test_raw_interface_fd_beyond_a_c_int_is_value_error(poll: Poll, fd: int) -> None:
    registry = poll.registry
    for call in (
        lambda: registry.register_mask(fd, 1, lib.EPOLLIN),
        lambda: registry.reregister_mask(fd, 1, lib.EPOLLIN),
        lambda: registry.rearm_fn(fd, 1, lib.EPOLLIN),
        lambda: poll._selector.deregister(fd),
    ):
        with pytest.raises(ValueError, match=f"fd {fd} is out of range"):
            call()


def test_a_stale_rearm_fn_does_not_reach_a_new_poll(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    # it used to keep the epoll fd number, which the next Poll reuses
    fd = pair[0].fileno()
    old = Poll("epoll")
    old.registry.register_mask(fd, 1, lib.EPOLLIN | lib.EPOLLET)
    rearm = old.registry.rearm_fn(fd, 1, lib.EPOLLOUT | lib.EPOLLET)
    number = old.fileno()
    old.close()
    with Poll("epoll") as new:
        assert new.fileno() == number  # the lowest free fd is reused
        new.registry.register_mask(fd, 2, lib.EPOLLIN)
        assert rearm() == -errno.EBADF
        ((mask, token),) = epoll_registrations(new).values()
        assert token == 2 and not mask & (lib.EPOLLOUT | lib.EPOLLET)


def test_rearm_fn_after_close_is_ebadf(
    poll: Poll, pair: tuple[socket.socket, socket.socket]
) -> None:
    fd = pair[0].fileno()
    poll.registry.register_mask(fd, 1, lib.EPOLLIN | lib.EPOLLET)
    rearm = poll.registry.rearm_fn(fd, 1, lib.EPOLLIN | lib.EPOLLET)
    assert rearm() == 0
    poll.close()
    assert rearm() == -errno.EBADF
