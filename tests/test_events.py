from __future__ import annotations

import pytest

from lowio._sys import lib
from lowio.poll import Event, Events

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
