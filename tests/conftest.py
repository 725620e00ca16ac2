"""Shared fixtures: every test runs on both selectors where it takes
``selector``, every test must leave fds and threads as it found them, and
every test starts with the scheduler's coin seeded (``seeded_scheduling``)."""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from lowio._core._schedule_order import SCHEDULING_RNG
from lowio._core._thread_cache import stop_idle_workers
from lowio.poll import Poll

SELECTORS = ["epoll", "poll"]
# The order within a batch of runnable tasks is not promised: the scheduler
# runs half of them backwards (lowio/_core/_schedule_order.py).  Each test
# seeds that coin from this and its own id, so a run is reproducible and a
# test's order does not depend on which tests ran before it; run with
# another LOWIO_SCHEDULING_SEED to try other orders.
SCHEDULING_SEED = os.environ.get("LOWIO_SCHEDULING_SEED", "0")


def pytest_report_header() -> str:
    return f"lowio scheduling seed: {SCHEDULING_SEED} (LOWIO_SCHEDULING_SEED)"


@pytest.fixture(autouse=True)
def seeded_scheduling(request: pytest.FixtureRequest) -> None:
    """Seeds the scheduler's coin from ``SCHEDULING_SEED`` and the test's id."""
    SCHEDULING_RNG.seed(f"{SCHEDULING_SEED}:{request.node.nodeid}")


def in_both_orders(scenario: Callable[[], bool], tries: int = 32) -> None:
    """Runs ``scenario`` (a whole ``lowio.run``, which returns which of the
    two orders its batch of interest ran in, and checks the outcome that
    order must give) with the scheduler's coin seeded 0, 1, ... until both
    orders ran; ``AssertionError`` if one never did.  For a test of what
    happens when one task runs before another of the same batch, which no
    code can arrange: it checks both, deterministically."""
    seen = set()
    for seed in range(tries):
        SCHEDULING_RNG.seed(seed)
        seen.add(scenario())
        if len(seen) == 2:
            return
    raise AssertionError(f"in {tries} seeds the batch ran only one way: {seen}")


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fails a test that leaves an fd open or a thread running.

    Idle workers of the thread cache (``to_thread.run_sync``) are not leaks
    (they would exit after their idle timeout): they are ended before
    counting.  A worker still busy with a job counts until it is done."""
    gc.collect()
    stop_idle_workers()
    fds_before = open_fds()
    threads_before = threading.active_count()
    yield
    deadline = time.monotonic() + 2.0
    while True:
        gc.collect()
        stop_idle_workers()
        leaked = open_fds() - fds_before
        extra_threads = threading.active_count() - threads_before
        if (not leaked and extra_threads <= 0) or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert not leaked, f"leaked fds: {sorted(leaked)}"
    assert extra_threads <= 0, f"{extra_threads} thread(s) still running"


@pytest.fixture(params=SELECTORS)
def selector(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def poll(selector: str) -> Iterator[Poll]:
    p = Poll(selector)
    yield p
    p.close()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected, non-blocking AF_UNIX stream socket pair."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected, non-blocking TCP pair on loopback."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    client.setblocking(False)
    server.setblocking(False)
    yield client, server
    client.close()
    server.close()


def drain(sock: socket.socket) -> bytes:
    """Reads until EAGAIN."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


def epoll_registrations(p: Poll) -> dict[int, tuple[int, int]]:
    """fd -> (event mask, token) of an epoll ``Poll``'s registrations, as
    the kernel reports them (/proc/self/fdinfo)."""
    found = {}
    with open(f"/proc/self/fdinfo/{p.fileno()}") as f:
        for line in f:
            if line.startswith("tfd:"):
                fields = line.split()
                found[int(fields[1])] = (int(fields[3], 16), int(fields[5], 16))
    return found


@contextlib.contextmanager
def no_cyclic_garbage() -> Iterator[None]:
    """Fails if the block leaves reference cycles for the collector
    (CPython: what refcounting alone does not free)."""
    gc.collect()
    old = gc.get_debug()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield
        gc.collect()
        garbage = [type(x).__name__ for x in gc.garbage]
        assert not garbage, f"cyclic garbage: {garbage[:20]}"
    finally:
        gc.set_debug(old)
        gc.garbage.clear()


# what /proc/self/task/TID/wchan names while a thread sleeps in the kernel's
# wait: epoll_wait, poll(2) (its sleeping helper, whose symbol may carry a
# compiler suffix such as ".constprop.0")
KERNEL_WAITS = ("do_epoll_wait", "do_sys_poll", "poll_schedule_timeout")


def until_blocked_in_kernel_wait(native_ids: list[int], count: int) -> None:
    """Waits until ``count`` threads (native ids) are asleep inside
    epoll_wait or poll(2), as the kernel reports them, not for a guessed
    time.  ``AssertionError`` after 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ids = list(native_ids)
        if len(ids) == count and all(_wchan(tid).split(".")[0] in KERNEL_WAITS for tid in ids):
            return
        time.sleep(0.001)
    raise AssertionError(f"threads {native_ids} never all blocked in the kernel's wait")


def _wchan(tid: int) -> str:
    try:
        with open(f"/proc/self/task/{tid}/wchan") as f:
            return f.read().strip()
    except OSError:
        return ""
