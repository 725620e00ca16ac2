"""The threading model: one thread polls, any thread registers and wakes."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from conftest import until_blocked_in_kernel_wait

from lowio.poll import Events, Interest, Poll, Waker

R, W = Interest.READABLE, Interest.WRITABLE


def test_waker_unblocks_a_blocking_poll(poll: Poll) -> None:
    with Waker(poll.registry, 42) as waker:
        timer = threading.Timer(0.05, waker.wake)
        timer.start()
        events = Events(4)
        start = time.monotonic()
        assert poll.poll(events, None) == 1
        assert time.monotonic() - start < 5
        (ev,) = events
        assert ev.token == 42 and ev.is_readable()
        timer.join()


def test_wakes_coalesce(poll: Poll) -> None:
    with Waker(poll.registry, 7) as waker:
        for _ in range(5):
            waker.wake()
        events = Events(8)
        assert poll.poll(events, 1.0) == 1
        assert poll.poll(events, 0) == 0
        waker.wake()  # and it keeps working afterwards
        assert poll.poll(events, 1.0) == 1


def test_one_waker_per_poll(poll: Poll) -> None:
    first = Waker(poll.registry, 1)
    with pytest.raises(RuntimeError, match="one at a time"):
        Waker(poll.registry, 2)
    first.close()
    first.close()
    with pytest.raises(ValueError, match="closed"):
        first.wake()
    with Waker(poll.registry, 3) as second:
        assert second.token == 3 and "open" in repr(second)
        second.wake()
        events = Events(2)
        poll.poll(events, 1.0)
        assert [ev.token for ev in events] == [3]


def test_waker_bad_arguments(poll: Poll) -> None:
    with pytest.raises(TypeError, match="Registry"):
        Waker(poll, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="token"):
        Waker(poll.registry, -1)


def test_register_from_another_thread_reaches_a_blocked_poll(
    poll: Poll, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    b.send(b"x")  # already readable before it is registered
    registry = poll.registry.try_clone()
    timer = threading.Timer(0.05, registry.register, (a, 9, R))
    timer.start()
    events = Events(4)
    start = time.monotonic()
    assert poll.poll(events, 10.0) == 1
    assert time.monotonic() - start < 5
    assert [ev.token for ev in events] == [9]
    timer.join()


def test_concurrent_registration_from_cloned_registries(poll: Poll) -> None:
    """Four threads churn registrations while the owner polls; then every
    thread's final sources are all reported."""
    n_threads, churn, keep = 4, 100, 5
    errors: list[BaseException] = []
    kept: list[tuple[socket.socket, socket.socket]] = []
    lock = threading.Lock()

    def worker(t: int) -> None:
        registry = poll.registry.try_clone()
        try:
            for i in range(churn):
                a, b = socket.socketpair()
                with a, b:
                    a.setblocking(False)
                    registry.register(a, 1000 + i, R)
                    registry.reregister(a, 2000 + i, R | W)
                    registry.deregister(a)
            for k in range(keep):
                a, b = socket.socketpair()
                a.setblocking(False)
                with lock:
                    kept.append((a, b))
                registry.register(a, t * 100 + k, W)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    events = Events(64)
    seen: set[int] = set()
    try:
        while any(t.is_alive() for t in threads):
            poll.poll(events, 0.01)
            seen |= {ev.token for ev in events}
        for t in threads:
            t.join()
        assert errors == []
        # A poll in progress may still report a source deregistered meanwhile
        # (as in mio); a poll that starts afterwards must not.
        after: set[int] = set()
        while poll.poll(events, 0.05):
            after |= {ev.token for ev in events}
        expected = {t * 100 + k for t in range(n_threads) for k in range(keep)}
        assert expected <= seen | after
        assert not {tok for tok in after if tok >= 1000}
    finally:
        for a, b in kept:
            a.close()
            b.close()


def test_one_fd_in_two_polls_gets_edges_in_both(
    selector: str, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    with Poll(selector) as p1, Poll(selector) as p2:
        p1.registry.register(a, 1, R)
        p2.registry.register(a, 2, R)
        b.send(b"x")
        e1, e2 = Events(2), Events(2)
        assert p1.poll(e1, 1.0) == 1 and p2.poll(e2, 1.0) == 1
        assert [ev.token for ev in e1] == [1] and [ev.token for ev in e2] == [2]


def _wakeups_for_one_connection(exclusive: bool) -> int:
    """Three threads, each polling its own Poll on one shared listener."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    polls = [Poll("epoll") for _ in range(3)]
    woken = []
    lock = threading.Lock()
    native_ids: list[int] = []

    def waiter(p: Poll) -> None:
        events = Events(2)
        with lock:
            native_ids.append(threading.get_native_id())
        if p.poll(events, 1.0):
            with lock:
                woken.append(p)

    try:
        for i, p in enumerate(polls):
            p.registry.register(listener, i, R, exclusive=exclusive)
        threads = [threading.Thread(target=waiter, args=(p,)) for p in polls]
        for t in threads:
            t.start()
        until_blocked_in_kernel_wait(native_ids, 3)
        with socket.create_connection(listener.getsockname()):
            for t in threads:
                t.join()
        return len(woken)
    finally:
        for p in polls:
            p.close()
        listener.close()


def test_shared_listener_wakes_every_poller() -> None:
    assert _wakeups_for_one_connection(exclusive=False) == 3


def test_exclusive_listener_wakes_fewer_pollers() -> None:
    # EPOLLEXCLUSIVE promises "one or more" wakeups; with idle waiters the
    # kernel wakes the first exclusive waiter only.
    assert 1 <= _wakeups_for_one_connection(exclusive=True) < 3
