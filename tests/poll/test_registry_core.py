"""The C methods of ``Registry`` (``lowio/poll/_registry_core.c``) and of
``Events`` (``lowio/poll/_events_core.c``) behave exactly like their Python
halves: same registrations in the kernel, same exceptions, same messages."""

from __future__ import annotations

import enum
import gc
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import epoll_registrations
from hypothesis import given, settings
from hypothesis import strategies as st

from lowio.poll import EDGE, LEVEL, ONESHOT, TOKEN_LIMIT, Events, Interest, Poll
from lowio.poll._registry import Registry

R, W, P = Interest.READABLE, Interest.WRITABLE, Interest.PRIORITY


class FdEnum(enum.IntEnum):
    pass


class Tok(int):
    pass


class FilenoOf:
    def __init__(self, value: object) -> None:
        self.value = value

    def fileno(self) -> object:
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value


@pytest.fixture
def sock() -> Iterator[socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    with a, b:
        yield a


def outcome(call: Any, *args: object, **kwargs: object) -> tuple[str, str]:
    try:
        call(*args, **kwargs)
    except Exception as exc:
        return type(exc).__name__, str(exc)
    return "ok", ""


def sources(s: socket.socket) -> list[object]:
    fd = s.fileno()
    return [
        s,
        fd,
        FdEnum("fd", [("S", fd)]).S,  # type: ignore[attr-defined]
        FilenoOf(fd),
        FilenoOf(True),
        FilenoOf("7"),
        FilenoOf(OSError(9, "gone")),
        True,
        -1,
        2**40,
        "3",
        None,
        3.0,
        1_000_000,  # not an open fd
    ]


TOKENS: list[object] = [0, 5, TOKEN_LIMIT - 1, TOKEN_LIMIT, -1, 2**64, True, 1.0, "1", Tok(7)]
INTERESTS: list[object] = [R, W, R | W, R | W | P, P, Interest(0), 1, 3, 8, True, "r"]
MODES: list[dict[str, object]] = [
    {},
    {"mode": EDGE},
    {"mode": LEVEL},
    {"mode": ONESHOT},
    {"mode": "edge"},
    {"mode": None},
]
EXTRAS: list[dict[str, object]] = [
    {},
    {"exclusive": True},
    {"exclusive": False},
    {"wakeup": True},
    {"bogus": 1},
]


def same_on_both_paths(
    s: socket.socket, method: str, args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    """``method`` through the C fast path and through the Python half, on
    two fresh epoll polls (the source registered first for reregister and
    deregister): the same outcome and the same kernel state."""
    results = []
    for fast in (True, False):
        with Poll("epoll") as p:
            reg = p.registry
            if method != "register":
                reg.register(s, 1, R)
            call = getattr(reg, method if fast else f"_{method}_slow")
            results.append((outcome(call, *args, **kwargs), epoll_registrations(p)))
    assert results[0] == results[1]


WELL_FORMED_INTERESTS = [R, W, P, R | W, R | P, W | P, R | W | P]


@pytest.mark.parametrize("method", ["register", "reregister"])
def test_well_formed_calls_match_the_python_half(sock: socket.socket, method: str) -> None:
    """Every call the C method handles itself."""
    fd = sock.fileno()
    for source, token in zip(
        [sock, fd, FilenoOf(fd), sock], [0, 5, TOKEN_LIMIT - 1, 2**40], strict=True
    ):
        for interest in WELL_FORMED_INTERESTS:
            for mode in MODES[:4]:
                same_on_both_paths(sock, method, (source, token, interest), mode)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_call_matches_the_python_half(data: st.DataObject) -> None:
    """Every kind of argument, well-formed or not, in any combination."""
    a, b = socket.socketpair()
    a.setblocking(False)
    with a, b:
        method = data.draw(st.sampled_from(["register", "reregister"]))
        args = (
            data.draw(st.sampled_from(sources(a))),
            data.draw(st.sampled_from(TOKENS)),
            data.draw(st.sampled_from(INTERESTS)),
        )
        kwargs = {**data.draw(st.sampled_from(MODES)), **data.draw(st.sampled_from(EXTRAS))}
        same_on_both_paths(a, method, args, kwargs)


@pytest.mark.parametrize("index", range(14))
def test_deregister_matches_the_python_half(sock: socket.socket, index: int) -> None:
    same_on_both_paths(sock, "deregister", (sources(sock)[index],), {})
    same_on_both_paths(sock, "deregister", (), {"source": sources(sock)[index]})


def test_argument_count_errors_name_the_method(sock: socket.socket) -> None:
    with Poll("epoll") as p:
        with pytest.raises(TypeError, match=r"^register\(\) takes 4 positional"):
            p.registry.register(sock, 1, R, EDGE)  # type: ignore[misc]
        with pytest.raises(TypeError, match=r"^reregister\(\) missing 1 required"):
            p.registry.reregister(sock, 1)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match=r"^deregister\(\) takes 2 positional"):
            p.registry.deregister(sock, 1)  # type: ignore[call-arg]


def test_kernel_errors_from_the_fast_path(sock: socket.socket, tmp_path: Any) -> None:
    with Poll("epoll") as p:
        reg = p.registry
        reg.register(sock, 1, R)
        with pytest.raises(FileExistsError, match=r"epoll_ctl\(ADD\)"):
            reg.register(sock, 1, R)
        reg.deregister(sock)
        with pytest.raises(FileNotFoundError, match=r"epoll_ctl\(MOD\)"):
            reg.reregister(sock, 1, R)
        with pytest.raises(FileNotFoundError, match=r"epoll_ctl\(DEL\)"):
            reg.deregister(sock)
        with open(tmp_path / "f", "w") as f, pytest.raises(PermissionError):
            reg.register(f, 1, R)
        blocking, other = socket.socketpair()
        with blocking, other, pytest.raises(ValueError, match="non-blocking"):
            reg.register(blocking, 1, R)
    with pytest.raises(ValueError, match="closed Poll"):
        reg.register(sock, 1, R)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fast_path_in_a_forked_child(sock: socket.socket) -> None:
    with Poll("epoll") as p:
        pid = os.fork()
        if pid == 0:  # the child: every fast call must refuse
            code = 0
            for call in (
                lambda: p.registry.register(sock, 1, R),
                lambda: p.registry.reregister(sock, 1, R),
                lambda: p.registry.deregister(sock),
            ):
                try:
                    call()
                    code = 1
                except RuntimeError as exc:
                    code |= 0 if "forked child" in str(exc) else 2
                except BaseException:
                    code = 3
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        p.registry.register(sock, 1, R)  # the parent's poller is untouched


def test_poll_selector_takes_the_python_half(sock: socket.socket) -> None:
    with Poll("poll") as p:
        p.registry.register(sock, 3, W, mode=LEVEL)
        events = Events(4)
        p.poll(events, 0)
        assert [ev.token for ev in events] == [3]


@pytest.mark.skipif(not hasattr(sys, "getrefcount"), reason="CPython refcounts")
def test_fast_and_error_paths_keep_no_references(sock: socket.socket) -> None:
    token = 2**40 + 12345  # a fresh int object: its refcount is exact
    with Poll("epoll") as p:
        reg = p.registry
        fd = sock.fileno()  # a small int: shared, so its count may drift a little
        before = sys.getrefcount(token), sys.getrefcount(sock), sys.getrefcount(R)
        fd_before = sys.getrefcount(fd)
        for _ in range(1000):
            reg.register(sock, token, R, mode=LEVEL)
            reg.reregister(sock, token, R | W)
            with pytest.raises(FileExistsError):
                reg.register(sock, token, R)
            reg.deregister(sock)
        gc.collect()
        assert (sys.getrefcount(token), sys.getrefcount(sock), sys.getrefcount(R)) == before
        assert abs(sys.getrefcount(fd) - fd_before) < 100


def test_registry_is_collected_with_its_poll() -> None:
    p = Poll("epoll")
    clone = p.registry.try_clone()
    assert isinstance(clone, Registry)
    assert clone._selector is p.registry._selector
    p.close()
    del p, clone
    gc.collect()


# ---- Events: iteration and len() in C ----


def test_iteration_is_a_snapshot(sock: socket.socket) -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    with a, b, Poll("epoll") as p:
        p.registry.register(sock, 1, W, mode=LEVEL)
        p.registry.register(a, 2, W, mode=LEVEL)
        events = Events(8)
        assert p.poll(events, 0) == 2 == len(events)
        first = iter(events)
        assert next(first).token in (1, 2)
        p.registry.deregister(a)
        assert p.poll(events, 0) == 1 == len(events)
        assert len(list(first)) == 1  # the earlier iterator keeps its events
        assert [ev.token for ev in events] == [1]
        events.clear()
        assert len(events) == 0 and list(events) == []


def test_iteration_without_interning(sock: socket.socket) -> None:
    with Poll("epoll") as p:
        p.registry.register(sock, 6, W, mode=LEVEL)
        events = Events(8, objects=False)
        p.poll(events, 0)
        assert [(ev.token, ev.is_writable()) for ev in events] == [(6, True)]


def test_iteration_of_a_buffer_not_filled_by_poll() -> None:
    events = Events(4)
    events._n = 1  # id 0: nothing interned for it
    with pytest.raises(RuntimeError, match="no Event object"):
        iter(events)
    events._n = 5
    with pytest.raises(RuntimeError, match="5 events held, capacity 4"):
        iter(events)


def test_a_crafted_selector_cannot_crash_the_process() -> None:
    # Registry(obj) used to read obj.ep_address as a C pointer
    code = """
import socket
import subprocess
from lowio.poll import Interest, Registry
from lowio.poll._registry_core import RegistryCore
from lowio._sys import EpollSelector

class Crafted:
    ep_address = 16
    def _ctl_error(self, *args):
        return ValueError("no")

class Sub(EpollSelector):
    ep_address = 16

a, b = socket.socketpair()
a.setblocking(False)
for make in (lambda: Registry(Crafted()), lambda: RegistryCore(Crafted())):
    try:
        make().register(a, 1, Interest.READABLE)
    except (TypeError, AttributeError) as exc:
        print(type(exc).__name__)
sub = Sub()
Registry(sub).register(a, 1, Interest.READABLE)  # its Python path: a real epoll fd
sub.close()
print("alive")
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["TypeError", "AttributeError", "alive"]
