"""Edge-triggered details where the poll(2) selector must behave as epoll
(and as mio's poll selector) does: what stays armed after an event, what an
event carries, and deregistering while another thread waits."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import until_blocked_in_kernel_wait

import lowio._sys.pollset as pollset
from lowio.poll import LEVEL, Event, Events, Interest, Poll

R, W = Interest.READABLE, Interest.WRITABLE


def poll_once(p: Poll, timeout: float = 0) -> list[Event]:
    events = Events(16)
    p.poll(events, timeout)
    return list(events)


def test_shutdown_after_an_undrained_read_event(poll: Poll, tcp_pair: Any) -> None:
    a, b = tcp_pair
    poll.registry.register(a, 1, R)
    b.send(b"x")
    (first,) = poll_once(poll, 5)  # returns as soon as the segment is in
    assert first.is_readable() and not first.is_read_closed()
    # not drained: IN stays disarmed, RDHUP is still armed
    b.shutdown(socket.SHUT_WR)
    (second,) = poll_once(poll, 5)
    assert second.token == 1
    assert second.is_readable() and second.is_read_closed()
    assert poll_once(poll) == []


def test_an_event_carries_the_full_readiness(poll: Poll, pair: Any) -> None:
    a, b = pair
    poll.registry.register(a, 1, R | W)
    (first,) = poll_once(poll)
    assert first.is_writable() and not first.is_readable()
    b.send(b"x")  # OUT was reported and is disarmed; IN fires now
    (second,) = poll_once(poll)
    assert second.is_readable() and second.is_writable()


@pytest.fixture
def two_sources(poll: Poll, pair: Any) -> Iterator[tuple[socket.socket, ...]]:
    """(a, b, c, d): ``a`` registered READABLE under token 1, ``c`` under 2;
    ``b`` and ``d`` their peers."""
    a, b = pair
    c, d = socket.socketpair()
    c.setblocking(False)
    with c, d:
        poll.registry.register(a, 1, R)
        poll.registry.register(c, 2, R)
        yield a, b, c, d


def test_deregister_during_a_wait_drops_the_source(
    poll: Poll, two_sources: tuple[socket.socket, ...], monkeypatch: Any
) -> None:
    # Deterministically in the window the race hits: the kernel's wait has
    # returned with both sources ready, and before the waiting thread
    # delivers it another thread deregisters one of them.
    a, b, _, d = two_sources
    b.send(b"x")
    d.send(b"x")
    if poll.selector == "poll":
        real_wait = pollset._pollset_wait
        calls = []

        def wait_then_deregister(ps: Any, events_c: Any) -> int:
            result: int = real_wait(ps, events_c)
            if not calls:
                calls.append(result)
                other = threading.Thread(target=poll.registry.deregister, args=(a,))
                other.start()
                other.join()
            return result

        monkeypatch.setattr(pollset, "_pollset_wait", wait_then_deregister)
    else:
        poll.registry.deregister(a)
    assert [e.token for e in poll_once(poll, 1)] == [2]
    assert poll_once(poll) == []


def test_deregister_wakes_and_restarts_a_blocked_wait(
    poll: Poll, two_sources: tuple[socket.socket, ...]
) -> None:
    a, b, _, d = two_sources
    got: list[list[int]] = []
    ids: list[int] = []

    def wait() -> None:
        ids.append(threading.get_native_id())
        got.append([e.token for e in poll_once(poll, 5)])

    waiter = threading.Thread(target=wait)
    waiter.start()
    until_blocked_in_kernel_wait(ids, 1)
    poll.registry.deregister(a)
    b.send(b"x")  # no longer watched
    until_blocked_in_kernel_wait(ids, 1)  # woke, dropped nothing it had, waits on
    assert waiter.is_alive() and got == []
    d.send(b"x")
    waiter.join(5)
    assert got == [[2]]


def test_a_closed_source_is_forgotten_when_its_number_is_reused(poll: Poll) -> None:
    # poll(2) knows only fd numbers: the old registration used to report the
    # new file under the old token
    a, b = socket.socketpair()
    a.setblocking(False)
    poll.registry.register(a, 1, W, mode=LEVEL)
    assert [e.token for e in poll_once(poll)] == [1]
    number = a.fileno()
    a.close()
    b.close()
    c, d = socket.socketpair()
    c.setblocking(False)
    with c, d:
        assert number in (c.fileno(), d.fileno())
        assert poll_once(poll) == []
        poll.registry.register(number, 2, W, mode=LEVEL)
        assert [e.token for e in poll_once(poll)] == [2]
