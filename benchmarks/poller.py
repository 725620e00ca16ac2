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
from dataclasses import dataclass

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


@dataclass
class _CtlSide:
    """One contender's register / modify / unregister calls with their
    arguments, one tuple per fd; every call is made the same way
    (``call(*args)``) for every contender."""

    calls: dict[str, tuple[Callable[..., object], list[tuple[object, ...]]]]
    close: Callable[[], None]

    def _run(self, op: str) -> None:
        call, arglist = self.calls[op]
        for args in arglist:
            call(*args)

    def rep(self, op: str) -> float:
        """ns per call of ``op``, with every fd registered beforehand unless
        ``op`` registers, and unregistered afterwards unless it unregisters."""
        if op != "register":
            self._run("register")
        call, arglist = self.calls[op]
        ns = time_per_op(lambda _loops: [call(*args) for args in arglist], 1, len(arglist))
        if op != "deregister":
            self._run("deregister")
        return ns


def _lowio_ctl(fds: list[int]) -> _CtlSide:
    p = Poll()
    reg = p.registry
    both = READ | Interest.WRITABLE
    return _CtlSide(
        {
            "register": (reg.register, [(fd, i, READ) for i, fd in enumerate(fds)]),
            "reregister": (reg.reregister, [(fd, i, both) for i, fd in enumerate(fds)]),
            "deregister": (reg.deregister, [(fd,) for fd in fds]),
        },
        p.close,
    )


def _epoll_ctl(fds: list[int]) -> _CtlSide:
    ep = select.epoll()
    edge_in = select.EPOLLIN | select.EPOLLET
    both = edge_in | select.EPOLLOUT
    return _CtlSide(
        {
            "register": (ep.register, [(fd, edge_in) for fd in fds]),
            "reregister": (ep.modify, [(fd, both) for fd in fds]),
            "deregister": (ep.unregister, [(fd,) for fd in fds]),
        },
        ep.close,
    )


def bench_ctl(count: int, reps: int) -> dict[str, dict[str, Sample]]:
    """{op: {contender: ns per call}} for register / reregister / deregister."""
    with ready_sources(count) as socks:
        fds = [s.fileno() for s in socks]
        sides = {"lowio.Poll": _lowio_ctl(fds), "select.epoll": _epoll_ctl(fds)}
        try:
            out = {}
            for op in ("register", "reregister", "deregister"):
                for side in sides.values():
                    side.rep(op)  # warm up
                out[op] = interleave(
                    {name: (lambda side=side, op=op: side.rep(op)) for name, side in sides.items()},
                    reps,
                )
            return out
        finally:
            for side in sides.values():
                side.close()
