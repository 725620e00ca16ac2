"""The body of test_poll_fuzz.py, run in a child process (so that a crash
is a failed test, not a dead test run): every public entry point of
``lowio.poll`` gets ill-formed arguments from hypothesis, and every error
must be a documented exception type with a message.

Run directly: ``PYTHONPATH=tests/poll:tests python tests/poll/_poll_fuzz.py EXAMPLES``;
it prints a JSON summary (examples run, calls made, exceptions seen by type).
"""

from __future__ import annotations

import collections
import contextlib
import json
import math
import os
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_registry_core import FilenoOf as Fileno
from test_registry_core import Tok

from lowio.poll import EDGE, LEVEL, ONESHOT, Event, Events, Interest, Poll, Registry, Waker

# What the poller's docstrings and error table (docs/poller.md) allow.
DOCUMENTED = (TypeError, ValueError, OSError, RuntimeError)


class FilenoBoom(Exception):
    """Raised by a source's own fileno(): it must propagate unchanged."""


class BadIndex:
    def __index__(self) -> int:
        raise FilenoBoom("__index__ raised")


class Crafted:
    """Looks like a selector to a careless C extension."""

    name = "epoll"
    ep_address = 16

    def _ctl_error(self, *args: object) -> Exception:
        return ValueError("crafted")


class World:
    """The live objects the calls use; remade when a call closed them."""

    def __init__(self) -> None:
        self.polls = {name: Poll(name) for name in ("epoll", "poll")}
        self.socks = [socket.socketpair() for _ in range(2)]
        for a, _ in self.socks:
            a.setblocking(False)
        self.closed_sock = socket.socket()
        self.closed_sock.close()
        self.blocking = socket.socketpair()
        r, w = os.pipe()
        self.pipe = (r, w)
        self.wakers: list[Waker] = []
        self.events = [Events(1), Events(8, objects=False)]
        self.busy: threading.Thread | None = None

    def poll(self, name: str) -> Poll:
        p = self.polls[name]
        if p.closed:
            p = self.polls[name] = Poll(name)
        return p


def values(world: World) -> st.SearchStrategy[Any]:
    ints = st.one_of(
        st.integers(-3, 40),
        st.sampled_from([2**31 - 1, 2**31, 2**32, 2**47 - 1, 2**47, 2**63, 2**64, 2**100]),
        st.sampled_from([-1, -(2**31), -(2**63), -(2**64)]),
    )
    junk = st.one_of(
        st.none(),
        st.booleans(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=3),
        st.binary(max_size=3),
        st.just([]),
        st.just(object()),
        ints.map(Tok),
        st.just(BadIndex()),
        st.just(Crafted()),
    )
    sources = st.one_of(
        st.sampled_from([a for a, _ in world.socks]),
        st.sampled_from(list(world.pipe)),
        st.just(world.closed_sock),
        st.just(world.blocking[0]),
        st.one_of(ints, junk, st.just(FilenoBoom("fileno raised"))).map(Fileno),
    )
    interests = st.one_of(
        st.sampled_from(list(Interest)),
        st.sampled_from([Interest(3), Interest(7), Interest(0)]),
        ints,
    )
    modes = st.sampled_from([EDGE, LEVEL, ONESHOT, "edge", None, 0])
    return st.one_of(ints, junk, sources, interests, modes)


def calls(world: World, draw: Callable[..., Any]) -> Callable[[], object]:
    """One entry point with drawn arguments, as a thunk."""
    v = values(world)
    p = world.poll(draw(st.sampled_from(["epoll", "poll"])))
    reg = p.registry
    kind = draw(
        st.sampled_from(
            [
                "register",
                "reregister",
                "deregister",
                "register_mask",
                "reregister_mask",
                "rearm",
                "try_clone",
                "Registry",
                "Poll",
                "poll",
                "Events",
                "Waker",
                "wake",
                "Interest",
                "Event",
                "iterate",
                "close",
                "busy",
            ]
        )
    )
    kwargs: dict[str, Any] = {}
    for name in ("mode", "exclusive", "wakeup"):
        if draw(st.booleans()):
            kwargs[name] = draw(v)
    if kind in ("register", "reregister"):
        args = [draw(v) for _ in range(draw(st.sampled_from([3, 3, 3, 2, 4])))]
        return lambda: getattr(reg, kind)(*args, **kwargs)
    if kind == "deregister":
        args = [draw(v) for _ in range(draw(st.sampled_from([1, 1, 0, 2])))]
        return lambda: reg.deregister(*args)
    if kind == "register_mask":
        fd, token, mask = draw(v), draw(v), draw(v)
        return lambda: reg.register_mask(fd, token, mask, any_source=draw(v))
    if kind == "reregister_mask":
        fd, token, mask = draw(v), draw(v), draw(v)
        return lambda: reg.reregister_mask(fd, token, mask)
    if kind == "rearm":
        fd, token, mask = draw(v), draw(v), draw(v)
        return lambda: reg.rearm_fn(fd, token, mask)()
    if kind == "try_clone":
        return reg.try_clone
    if kind == "Registry":
        arg = draw(st.one_of(v, st.just(p._selector)))
        return lambda: Registry(arg)
    if kind == "Poll":
        arg = draw(st.one_of(v, st.sampled_from(["epoll", "poll", "kqueue"])))
        return lambda: Poll(arg).close()
    if kind == "poll":
        events = draw(st.one_of(st.sampled_from(world.events), v))
        # never a timeout that could block: junk, negative, NaN or at most 1 ms
        timeout = draw(st.sampled_from([0, 0.0, 0.001, -1, -0.5, math.nan, "0", False, b""]))
        return lambda: p.poll(events, timeout)
    if kind == "Events":
        capacity = draw(v)
        return lambda: Events(capacity, objects=draw(v))
    if kind == "Waker":
        token = draw(v)
        registry = draw(st.one_of(st.just(reg), v))

        def make_waker() -> None:
            world.wakers = [*world.wakers[-7:], Waker(registry, token)]

        return make_waker
    if kind == "wake":
        # (drawn the same way whatever the world holds: hypothesis replays)
        index, close = draw(st.integers(0, 7)), draw(st.booleans())
        if not world.wakers:
            return lambda: None
        waker = world.wakers[index % len(world.wakers)]
        return waker.close if close else waker.wake
    if kind == "Interest":
        a = draw(v)
        op = draw(st.sampled_from(["new", "or", "and", "invert", "contains"]))
        return {
            "new": lambda: Interest(a),
            "or": lambda: Interest.READABLE | a,
            "and": lambda: Interest.WRITABLE & a,
            "invert": lambda: ~Interest(a),
            "contains": lambda: a in Interest.READABLE,
        }[op]
    if kind == "Event":
        token, flags = draw(v), draw(v)

        def accessors() -> None:
            ev = Event(token, flags)
            for name in ("is_readable", "is_writable", "is_error", "is_read_closed"):
                getattr(ev, name)()
            ev.is_write_closed()
            ev.is_priority()
            repr(ev)
            hash(ev)

        return accessors
    if kind == "iterate":
        events = draw(st.sampled_from(world.events))
        return lambda: (list(events), len(events), list(events.packed()), repr(events))
    if kind == "close":
        return p.close
    # "busy": another thread polls while this one calls
    if world.busy is None or not world.busy.is_alive():
        own = Events(4)
        world.busy = threading.Thread(target=lambda: _quiet(lambda: p.poll(own, 0.002)))
        world.busy.start()
    return lambda: p.poll(world.events[0], 0)


def _quiet(call: Callable[[], object]) -> None:
    with contextlib.suppress(DOCUMENTED):
        call()


def main(examples: int) -> dict[str, Any]:
    world = World()
    seen: collections.Counter[str] = collections.Counter()
    counts = {"examples": 0, "calls": 0}

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def fuzz(data: st.DataObject) -> None:
        counts["examples"] += 1
        for _ in range(data.draw(st.integers(1, 5))):
            thunk = calls(world, data.draw)
            counts["calls"] += 1
            try:
                thunk()
            except FilenoBoom:
                seen["FilenoBoom (the source's own)"] += 1
            except DOCUMENTED as exc:
                assert str(exc), f"{type(exc).__name__} without a message"
                seen[type(exc).__name__] += 1
            else:
                seen["ok"] += 1

    fuzz()
    if world.busy is not None:
        world.busy.join()
    return {"counts": counts, "outcomes": dict(seen)}


if __name__ == "__main__":
    summary = main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
    print(json.dumps(summary, sort_keys=True))
    sys.stdout.flush()
    os._exit(0)  # the world's fds die with the process
