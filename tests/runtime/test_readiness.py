"""What events say and when they come, on both selectors (mio's cases)."""

from __future__ import annotations

import os
import socket
import struct
import time

from conftest import drain

from lowio.poll import LEVEL, ONESHOT, Event, Events, Interest, Poll

R, W, P = Interest.READABLE, Interest.WRITABLE, Interest.PRIORITY


def poll_events(poll: Poll, timeout: float | None = 0, capacity: int = 64) -> list[Event]:
    events = Events(capacity)
    n = poll.poll(events, timeout)
    got = list(events)
    assert len(got) == n == len(events)
    return got


def test_edge_fires_once_and_rearms_after_would_block(
    poll: Poll, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    poll.registry.register(a, 1, R)
    assert poll_events(poll) == []
    b.send(b"hello")
    (ev,) = poll_events(poll, 1.0)
    assert ev.token == 1 and ev.is_readable()
    assert poll_events(poll) == []  # no new edge while we did not read
    assert drain(a) == b"hello"
    poll.registry.reregister(a, 1, R)  # mio's do_io: re-arm after WouldBlock
    assert poll_events(poll) == []
    b.send(b"again")
    (ev,) = poll_events(poll, 1.0)
    assert ev.token == 1 and ev.is_readable()


def test_epoll_edges_need_no_rearm(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    with Poll("epoll") as p:
        p.registry.register(a, 1, R)
        b.send(b"x")
        assert len(poll_events(p, 1.0)) == 1
        b.send(b"y")  # new data is a new edge even though we did not read
        assert len(poll_events(p, 1.0)) == 1
        drain(a)
        b.send(b"z")
        assert len(poll_events(p, 1.0)) == 1


def test_level_repeats_until_drained(poll: Poll, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    poll.registry.register(a, 1, R, mode=LEVEL)
    b.send(b"x")
    for _ in range(3):
        assert [ev.token for ev in poll_events(poll, 1.0)] == [1]
    drain(a)
    assert poll_events(poll) == []


def test_oneshot_until_reregistered(poll: Poll, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    poll.registry.register(a, 1, R, mode=ONESHOT)
    b.send(b"x")
    assert len(poll_events(poll, 1.0)) == 1
    b.send(b"y")
    assert poll_events(poll, 0.02) == []
    poll.registry.reregister(a, 2, R, mode=ONESHOT)
    assert [ev.token for ev in poll_events(poll, 1.0)] == [2]


def test_read_closed_on_peer_shutdown(
    poll: Poll, tcp_pair: tuple[socket.socket, socket.socket]
) -> None:
    client, server = tcp_pair
    poll.registry.register(server, 1, R)
    client.shutdown(socket.SHUT_WR)
    (ev,) = poll_events(poll, 1.0)
    assert ev.is_readable() and ev.is_read_closed() and not ev.is_write_closed()


def test_read_closed_on_pipe_whose_writer_closed(poll: Poll) -> None:
    r, w = os.pipe()
    os.set_blocking(r, False)
    try:
        poll.registry.register(r, 1, R)
        os.close(w)
        (ev,) = poll_events(poll, 1.0)
        assert ev.is_read_closed()
    finally:
        os.close(r)


def test_write_closed_on_pipe_whose_reader_closed(poll: Poll) -> None:
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        poll.registry.register(w, 1, W)
        (ev,) = poll_events(poll, 1.0)
        assert ev.is_writable() and not ev.is_write_closed()
        os.close(r)
        poll.registry.reregister(w, 1, W)
        (ev,) = poll_events(poll, 1.0)
        assert ev.is_write_closed() and ev.is_error()
    finally:
        os.close(w)


def test_reset_connection(poll: Poll, tcp_pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = tcp_pair
    poll.registry.register(server, 1, R | W)
    assert [ev.is_writable() for ev in poll_events(poll, 1.0)] == [True]
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # RST
    (ev,) = poll_events(poll, 1.0)
    assert ev.is_error() and ev.is_read_closed() and ev.is_write_closed()


def test_priority_with_oob_data(poll: Poll, tcp_pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = tcp_pair
    poll.registry.register(server, 1, P)
    assert poll_events(poll) == []
    client.send(b"!", socket.MSG_OOB)
    (ev,) = poll_events(poll, 1.0)
    assert ev.is_priority() and ev.is_readable()


def test_more_ready_than_capacity_arrive_later(poll: Poll) -> None:
    pairs = [socket.socketpair() for _ in range(10)]
    try:
        for i, (a, b) in enumerate(pairs):
            a.setblocking(False)
            poll.registry.register(a, i, R)
            b.send(b"x")
        seen: list[int] = []
        sizes = []
        for _ in range(3):
            got = poll_events(poll, 1.0, capacity=4)
            sizes.append(len(got))
            seen += [ev.token for ev in got]
        assert sizes == [4, 4, 2]
        assert sorted(seen) == list(range(10))
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_level_sources_beyond_capacity_are_not_starved(poll: Poll) -> None:
    pairs = [socket.socketpair() for _ in range(6)]
    try:
        for i, (a, b) in enumerate(pairs):
            a.setblocking(False)
            poll.registry.register(a, i, R, mode=LEVEL)
            b.send(b"x")
        seen: set[int] = set()
        for _ in range(6):
            seen |= {ev.token for ev in poll_events(poll, 1.0, capacity=2)}
        assert seen == set(range(6))
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_zero_timeout_asks_the_kernel(
    poll: Poll, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    poll.registry.register(a, 1, R, mode=LEVEL)
    assert poll_events(poll, 0) == []
    b.send(b"x")
    assert len(poll_events(poll, 0)) == 1  # no cached "nothing ready"


def test_short_timeouts_are_not_rounded_down(poll: Poll) -> None:
    for timeout in (0.0001, 0.0015, 0.02):
        start = time.monotonic()
        assert poll_events(poll, timeout) == []
        assert time.monotonic() - start >= timeout


def test_one_source_two_interests_one_event(
    poll: Poll, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    b.send(b"x")
    poll.registry.register(a, 1, R | W)
    (ev,) = poll_events(poll, 1.0)
    assert ev.is_readable() and ev.is_writable()
