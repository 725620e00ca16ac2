from __future__ import annotations

import pytest

from lowio._sys import lib
from lowio.poll import Event, Events, Poll, Waker

IN, OUT, PRI = lib.EPOLLIN, lib.EPOLLOUT, lib.EPOLLPRI
ERR, HUP, RDHUP = lib.EPOLLERR, lib.EPOLLHUP, lib.EPOLLRDHUP


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (IN, {"readable"}),
        (PRI, {"readable", "priority"}),
        (OUT, {"writable"}),
        (IN | RDHUP, {"readable", "read_closed"}),
        (RDHUP, set()),  # RDHUP alone is not read-closed (mio)
        (HUP, {"read_closed", "write_closed"}),
        (OUT | ERR, {"writable", "error", "write_closed"}),
        (ERR, {"error", "write_closed"}),
        (IN | ERR, {"readable", "error"}),
    ],
)
def test_event_flag_logic(flags: int, expected: set[str]) -> None:
    ev = Event(7, flags)
    got = {
        name
        for name in ("readable", "writable", "error", "read_closed", "write_closed", "priority")
        if getattr(ev, f"is_{name}")()
    }
    assert got == expected
    assert ev.token == 7


def test_event_is_an_immutable_value() -> None:
    ev = Event(3, IN)
    assert ev == Event(3, IN) and hash(ev) == hash(Event(3, IN))
    assert ev != Event(3, OUT) and ev != Event(4, IN)
    assert ev != (3, IN)
    with pytest.raises(AttributeError):
        ev.token = 4
    assert repr(ev) == "Event(token=3, readable)"
    assert repr(Event(1, 0)) == "Event(token=1, none)"


def test_events_buffer_basics() -> None:
    events = Events(4)
    assert events.capacity == 4 and len(events) == 0 and events.is_empty()
    assert list(events) == []
    assert Events().capacity == 1024
    assert repr(events) == "Events(len=0, capacity=4)"


@pytest.mark.parametrize(
    ("capacity", "error"),
    [
        (0, ValueError),
        (-5, ValueError),
        (2**21, ValueError),
        (1.5, TypeError),
        (True, TypeError),
        ("8", TypeError),
    ],
)
def test_events_bad_capacity(capacity: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="capacity"):
        Events(capacity)  # type: ignore[arg-type]


def _fill(events: Events, packed: list[int]) -> list[tuple[int, int]]:
    """Plays a wait that returned ``packed`` with nothing interned yet."""
    from lowio.poll._events import _MISSES

    for i, value in enumerate(packed):
        events._mv[i] = value
        events._ids_mv[i] = 0
    assert events._filled(len(packed) | _MISSES) == len(packed)
    return [(ev.token, ev._flags) for ev in events]


def test_interning_survives_many_distinct_values() -> None:
    from lowio.poll._events import TABLE_SIZE

    events = Events(3 * TABLE_SIZE)
    for batch in range(4):  # more distinct values than the table holds, several times
        values = [((batch * 10**6 + i) << 16) | IN for i in range(TABLE_SIZE + 100)]
        got = _fill(events, values)
        assert got == [(v >> 16, IN) for v in values]
        assert events._interned <= TABLE_SIZE // 2
    small = [(7 << 16) | OUT, (8 << 16) | IN]
    assert _fill(events, small) == [(7, OUT), (8, IN)]


@pytest.mark.parametrize("objects", [True, False])
@pytest.mark.parametrize("selector", ["epoll", "poll"])
def test_events_without_objects_decode_the_same(objects: bool, selector: str) -> None:
    """objects=False skips the intern table; iteration and packed() agree."""
    import socket

    from lowio.poll import Interest, Poll

    socks = [socket.socketpair() for _ in range(3)]
    try:
        with Poll(selector) as poll:
            for token, (a, b) in enumerate(socks, start=10):
                a.setblocking(False)
                b.send(b"x")
                poll.registry.register(a, token, Interest.READABLE)
            events = Events(8, objects=objects)
            for n_ready in (3, 1):
                assert poll.poll(events, 1) == n_ready
                got = sorted((ev.token, ev.is_readable()) for ev in events)
                assert got == sorted((v >> 16, True) for v in events.packed())
                assert {t for t, _ in got} <= {10, 11, 12}
                first = socks[0][0]
                first.recv(10)  # drain and re-arm token 10 (poll(2) emulation needs it)
                poll.registry.reregister(first, 10, Interest.READABLE)
                socks[0][1].send(b"y")
    finally:
        for a, b in socks:
            a.close()
            b.close()


@pytest.mark.parametrize("selector", ["epoll", "poll"])
def test_waker_event_without_interning(selector: str) -> None:
    # the poll(2) selector adds the waker's event itself: with objects=False
    # it must not ask Events to intern it (that raised AssertionError)
    with Poll(selector) as p, Waker(p.registry, 5) as waker:
        events = Events(4, objects=False)
        waker.wake()
        assert p.poll(events, 0) == 1
        assert list(events.packed()) == [5 << lib.LOWIO_FLAG_BITS | IN]
        assert [(e.token, e.is_readable()) for e in events] == [(5, True)]
