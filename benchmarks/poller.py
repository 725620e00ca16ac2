"""The raw poller: ``lowio.Poll`` vs ``select.epoll`` vs ``selectors``.

* ``poll M``: M level-triggered sources that are always readable; one op is
  one non-blocking poll plus reading every event's token
  (``for ev in events: ev.token`` against ``for fd, mask in ep.poll(0)``).
* ``register`` / ``reregister`` / ``deregister``: ns per call over many fds.
"""

from __future__ import annotations

import select
import selectors
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from lowio.poll import LEVEL, Events, Interest, Poll

from .measure import Sample, interleave, time_per_op

READ = Interest.READABLE


@contextmanager
def ready_sources(count: int) -> Iterator[list[socket.socket]]:
    """``count`` non-blocking sockets that each have a byte waiting."""
    pairs = [socket.socketpair() for _ in range(count)]
    try:
        for reader, writer in pairs:
            reader.setblocking(False)
            writer.send(b"x")
        yield [reader for reader, _ in pairs]
    finally:
        for reader, writer in pairs:
            reader.close()
            writer.close()


def _lowio_poll(socks: list[socket.socket]) -> tuple[Callable[[int], None], Callable[[], None]]:
    p = Poll()
    for i, s in enumerate(socks):
        p.registry.register(s, i, READ, mode=LEVEL)
    events = Events(1024)
    poll = p.poll
    expected = len(socks)

    def run(loops: int) -> None:
        for _ in range(loops):
            poll(events, 0)
            for ev in events:
                ev.token  # noqa: B018 (the read is what is measured)
        assert len(events) == expected

    return run, p.close


def _epoll_poll(socks: list[socket.socket]) -> tuple[Callable[[int], None], Callable[[], None]]:
    ep = select.epoll()
    for s in socks:
        ep.register(s.fileno(), select.EPOLLIN)
    poll = ep.poll
    expected = len(socks)

    def run(loops: int) -> None:
        for _ in range(loops):
            for _fd, _mask in poll(0):
                pass
        assert len(poll(0)) == expected

    return run, ep.close


def _selectors_poll(socks: list[socket.socket]) -> tuple[Callable[[int], None], Callable[[], None]]:
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    select_ = sel.select
    expected = len(socks)

    def run(loops: int) -> None:
        for _ in range(loops):
            for key, _mask in select_(0):
                key.data  # noqa: B018 (the read is what is measured)
        assert len(select_(0)) == expected

    return run, sel.close


POLL_CONTENDERS = {
    "lowio.Poll": _lowio_poll,
    "select.epoll": _epoll_poll,
    "selectors": _selectors_poll,
}


def bench_poll(ready: int, reps: int, budget_ns: float) -> dict[str, Sample]:
    """ns per poll call with ``ready`` ready sources."""
    loops = max(20, int(budget_ns / (ready * 150 + 600)))
    with ready_sources(ready) as socks:
        built = {name: make(socks) for name, make in POLL_CONTENDERS.items()}
        try:
            for run, _ in built.values():
                run(max(1, loops // 10))  # warm up
            return interleave(
                {
                    name: (lambda run=run: time_per_op(run, loops, 1))
                    for name, (run, _) in built.items()
                },
                reps,
            )
        finally:
            for _, close in built.values():
                close()


def _lowio_ctl(socks: list[socket.socket]) -> dict[str, Callable[[], float]]:
    p = Poll()
    reg = p.registry
    fds = [s.fileno() for s in socks]
    n = len(fds)

    def register() -> float:
        r = reg.register
        return _timed(lambda: [r(fd, i, READ) for i, fd in enumerate(fds)], n, after=deregister_all)

    def reregister() -> float:
        for i, fd in enumerate(fds):
            reg.register(fd, i, READ)
        rr = reg.reregister
        both = READ | Interest.WRITABLE
        result = _timed(lambda: [rr(fd, i, both) for i, fd in enumerate(fds)], n)
        deregister_all()
        return result

    def deregister() -> float:
        for i, fd in enumerate(fds):
            reg.register(fd, i, READ)
        d = reg.deregister
        return _timed(lambda: [d(fd) for fd in fds], n)

    def deregister_all() -> None:
        for fd in fds:
            reg.deregister(fd)

    return {
        "register": register,
        "reregister": reregister,
        "deregister": deregister,
        "_close": p.close,
    }  # type: ignore[dict-item]


def _epoll_ctl(socks: list[socket.socket]) -> dict[str, Callable[[], float]]:
    ep = select.epoll()
    fds = [s.fileno() for s in socks]
    n = len(fds)
    IN = select.EPOLLIN | select.EPOLLET

    def register() -> float:
        r = ep.register
        return _timed(lambda: [r(fd, IN) for fd in fds], n, after=deregister_all)

    def reregister() -> float:
        for fd in fds:
            ep.register(fd, IN)
        m = ep.modify
        both = IN | select.EPOLLOUT
        result = _timed(lambda: [m(fd, both) for fd in fds], n)
        deregister_all()
        return result

    def deregister() -> float:
        for fd in fds:
            ep.register(fd, IN)
        u = ep.unregister
        return _timed(lambda: [u(fd) for fd in fds], n)

    def deregister_all() -> None:
        for fd in fds:
            ep.unregister(fd)

    return {
        "register": register,
        "reregister": reregister,
        "deregister": deregister,
        "_close": ep.close,
    }  # type: ignore[dict-item]


def _timed(fn: Callable[[], object], ops: int, after: Callable[[], None] | None = None) -> float:
    result = time_per_op(lambda _loops: fn(), 1, ops)
    if after is not None:
        after()
    return result


def bench_ctl(count: int, reps: int) -> dict[str, dict[str, Sample]]:
    """{op: {contender: ns per call}} for register / reregister / deregister."""
    with ready_sources(count) as socks:
        sides = {"lowio.Poll": _lowio_ctl(socks), "select.epoll": _epoll_ctl(socks)}
        try:
            out = {}
            for op in ("register", "reregister", "deregister"):
                for side in sides.values():
                    side[op]()  # warm up
                out[op] = interleave({name: side[op] for name, side in sides.items()}, reps)
            return out
        finally:
            for side in sides.values():
                side["_close"]()
