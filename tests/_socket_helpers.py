"""Helpers shared by test_socket*.py."""

from __future__ import annotations

import functools
import os
import socket
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

import lowio
from lowio._core import GLOBAL_RUN_CONTEXT
from lowio._core._io import HELD, FdState
from lowio._core._thread_cache import THREAD_CACHE


def lowio_test(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Runs the async test function (with its fixtures) in ``lowio.run``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        lowio.run(functools.partial(fn, *args, **kwargs))

    return wrapper


@pytest.fixture
def no_idle_workers() -> Iterator[None]:
    """For tests that use worker threads: end the idle ones afterwards so
    that the thread-leak check sees the baseline."""
    yield
    THREAD_CACHE.stop_idle_workers()


def io_manager() -> Any:
    runner = GLOBAL_RUN_CONTEXT.runner
    assert runner is not None
    return runner.io


def write_until_eagain(write: Callable[[bytes], int], byte: bytes) -> int:
    """Calls ``write`` (non-blocking) with 64 KiB of ``byte`` until EAGAIN;
    returns how many bytes went in."""
    total = 0
    chunk = byte * 65536
    while True:
        try:
            total += write(chunk)
        except BlockingIOError:
            return total


def fill(sock: socket.socket | lowio.socket.SocketType) -> int:
    """Sends (non-blocking, through the stdlib object) until EAGAIN."""
    raw: socket.socket = sock._sock if isinstance(sock, lowio.socket.SocketType) else sock
    assert not raw.getblocking()
    return write_until_eagain(raw.send, b"f")


def drain(sock: socket.socket | lowio.socket.SocketType) -> bytes:
    """Receives (non-blocking, through the stdlib object) until EAGAIN/EOF."""
    raw: socket.socket = sock._sock if isinstance(sock, lowio.socket.SocketType) else sock
    data = b""
    while True:
        try:
            chunk = raw.recv(1 << 20)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


def abstract_name(tag: str) -> bytes:
    """A fresh address in Linux's abstract AF_UNIX namespace."""
    return b"\0lowio-test-" + tag.encode() + b"-" + os.urandom(8).hex().encode()


class EpollCtlCounter:
    """Counts the run's ``epoll_ctl`` calls (ADD, MOD, DEL and prepared
    re-arms) by wrapping the I/O manager's registry functions."""

    def __init__(self) -> None:
        self.io = io = io_manager()
        self.calls: Counter[str] = Counter()
        for attr, label in (("_add", "add"), ("_mod", "mod"), ("_del", "del")):
            setattr(io, attr, self._counted(getattr(io, attr), label))
        make_rearm = io._rearm_fn

        def rearm_fn(*args: Any) -> Any:
            return self._counted(make_rearm(*args), "rearm")

        io._rearm_fn = rearm_fn
        for state in io._states.values():
            if state.rearm is not None:
                state.rearm = self._counted(state.rearm, "rearm")

    def _counted(self, fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[label] += 1
            return fn(*args, **kwargs)

        return counted

    @property
    def total(self) -> int:
        return sum(self.calls.values())


class WaitCounter:
    """Counts the tasks parking on an fd (the owned fast path parks inline,
    without calling ``wait_owned_readable/writable``): every time a task
    becomes an entry's ``read_task`` / ``write_task``.  The counting
    properties replace ``FdState``'s slots once per test process (they
    behave the same); the latest ``WaitCounter`` counts."""

    current: WaitCounter | None = None

    def __init__(self) -> None:
        self.reads = 0
        self.writes = 0
        WaitCounter.current = self
        if not isinstance(FdState.__dict__["read_task"], property):
            FdState.read_task = _counting_slot("read_task", "reads")  # type: ignore[method-assign]
            FdState.write_task = _counting_slot("write_task", "writes")  # type: ignore[method-assign]


def _counting_slot(name: str, counter: str) -> property:
    slot = FdState.__dict__[name]

    def get(state: FdState) -> Any:
        return slot.__get__(state, FdState)

    def set_(state: FdState, task: Any) -> None:
        current = WaitCounter.current
        if task is not None and task is not HELD and current is not None:
            setattr(current, counter, getattr(current, counter) + 1)
        slot.__set__(state, task)

    return property(get, set_)
