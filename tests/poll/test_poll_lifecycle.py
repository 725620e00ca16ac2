"""Creating, closing, forking, timeouts and bad arguments of ``Poll``."""

from __future__ import annotations

import gc
import math
import os
import socket
import threading

import pytest
from conftest import open_fds

from lowio.poll import Events, Interest, Poll, Waker
from lowio.poll._poll import MAX_TIMEOUT_MS, timeout_ms

R = Interest.READABLE


@pytest.mark.parametrize(
    ("timeout", "ms"),
    [
        (None, -1),
        (0, 0),
        (0.0, 0),
        (0.0001, 1),
        (0.001, 1),
        (0.0011, 2),
        (1, 1000),
        (1.5, 1500),
        (math.inf, -1),
        (1e12, MAX_TIMEOUT_MS),
    ],
)
def test_timeout_rounds_up_to_milliseconds(timeout: float | None, ms: int) -> None:
    assert timeout_ms(timeout) == ms


@pytest.mark.parametrize(
    ("timeout", "error"),
    [(-0.5, ValueError), (math.nan, ValueError), ("1", TypeError), (True, TypeError)],
)
def test_bad_timeout(poll: Poll, timeout: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="timeout"):
        poll.poll(Events(1), timeout)  # type: ignore[arg-type]


def test_events_must_be_events(poll: Poll) -> None:
    with pytest.raises(TypeError, match=r"lowio\.Events"):
        poll.poll([], 0)  # type: ignore[arg-type]


def test_unknown_selector() -> None:
    with pytest.raises(ValueError, match="epoll"):
        Poll("kqueue")
    with pytest.raises(ValueError, match="unknown selector"):
        Poll(3)  # type: ignore[arg-type]


def test_default_is_epoll_and_context_manager() -> None:
    with Poll() as p:
        assert p.selector == "epoll" and not p.closed
        assert p.fileno() >= 0
        assert "open" in repr(p)
    assert p.closed and "closed" in repr(p)


def test_use_after_close_is_a_clear_error(
    selector: str, pair: tuple[socket.socket, socket.socket]
) -> None:
    p = Poll(selector)
    registry = p.registry
    p.close()
    p.close()  # twice is fine
    for call in (
        lambda: p.poll(Events(1), 0),
        lambda: p.poll(Events(1), 0.01),
        lambda: registry.register(pair[0], 1, R),
        lambda: registry.reregister(pair[0], 1, R),
        lambda: registry.deregister(pair[0]),
        lambda: registry.try_clone(),
        lambda: Waker(registry, 1),
        p.fileno,
    ):
        with pytest.raises(ValueError, match="closed Poll"):
            call()


def test_a_second_thread_in_poll_is_refused(poll: Poll) -> None:
    waker = Waker(poll.registry, 1)
    inside = threading.Event()
    result: list[int] = []

    def blocked() -> None:
        inside.set()
        result.append(poll.poll(Events(4), 10.0))

    t = threading.Thread(target=blocked)
    t.start()
    inside.wait()
    try:
        for _ in range(200):  # until the thread is really inside the wait
            try:
                poll.poll(Events(4), 0)
            except RuntimeError as e:
                assert "another thread" in str(e)
                break
            threading.Event().wait(0.005)
        else:
            pytest.fail("a concurrent poll() was not refused")
    finally:
        waker.wake()
        t.join()
        waker.close()
    assert result == [1]


def test_forked_child_cannot_use_the_parent_poll(
    selector: str, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    with Poll(selector) as p:
        p.registry.register(a, 1, R)
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            for call in (
                lambda: p.poll(Events(1), 0),
                lambda: p.registry.deregister(a),
                lambda: p.registry.register(b, 2, R),
            ):
                try:
                    call()
                    code = 1
                except RuntimeError as e:
                    if "forked child" not in str(e):
                        code = 2
                except BaseException:
                    code = 3
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        b.send(b"x")  # the parent's registration is untouched
        events = Events(2)
        assert p.poll(events, 1.0) == 1 and [ev.token for ev in events] == [1]


def test_many_create_poll_close_cycles_leak_nothing(selector: str) -> None:
    before = open_fds()
    events = Events(8)
    for _ in range(2000):
        p = Poll(selector)
        p.poll(events, 0)
        p.close()
    assert open_fds() == before


def test_unclosed_poll_frees_its_fds_when_collected(selector: str) -> None:
    before = open_fds()
    p = Poll(selector)
    w = Waker(p.registry, 1)
    assert open_fds() != before
    del p, w
    gc.collect()
    assert open_fds() == before


def test_a_new_waker_on_a_closed_poll_is_value_error(selector: str) -> None:
    # with a live Waker, epoll used to answer "already has a Waker"
    # (RuntimeError) where the poll(2) selector said "closed" (ValueError)
    p = Poll(selector)
    with Waker(p.registry, 1):
        p.close()
        with pytest.raises(ValueError, match="closed Poll"):
            Waker(p.registry, 2)
