"""``Poll.prepared_waits`` / ``Poll.complete_wait``: an event loop's two
usual waits as zero-argument calls, on both selectors."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest

from lowio.poll import WAIT_SLOW, Events, Interest, Poll, PreparedWaits, Waker

R = Interest.READABLE


def _settle(poll: Poll, events: Events, result: int, timeout: float | None) -> int:
    return poll.complete_wait(events, result, timeout) if result & WAIT_SLOW else result


def _watching(poll: Poll, sock: socket.socket, token: int) -> tuple[Events, PreparedWaits]:
    """A buffer and its prepared waits, with ``sock`` registered readable."""
    events = Events(8, objects=False)
    poll.registry.register(sock, token, R)
    return events, poll.prepared_waits(events)


def test_both_waits_report_what_poll_reports(
    poll: Poll, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    events, waits = _watching(poll, a, 7)
    assert isinstance(waits, PreparedWaits)
    assert _settle(poll, events, waits.now(), 0) == 0
    b.send(b"x")
    n = _settle(poll, events, waits.forever(), None)
    assert n == 1
    raw = list(waits.raw[:n])
    # the same packing as poll() and packed()
    a.recv(8)
    poll.registry.reregister(a, 7, R)  # the poll(2) selector's edges need it
    b.send(b"y")
    assert poll.poll(events, 0) == 1
    assert list(events.packed()) == raw
    assert raw[0] >> 16 == 7


def test_len_and_iteration_describe_the_last_poll_only(
    poll: Poll, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    events, waits = _watching(poll, a, 3)
    assert poll.poll(events, 0) == 0
    b.send(b"x")
    assert _settle(poll, events, waits.now(), 0) == 1
    assert len(events) == 0  # as documented: the prepared wait leaves it alone


def test_forever_ignores_an_earlier_polls_timeout(poll: Poll) -> None:
    """poll() writes its timeout into the buffer; the prepared forever wait
    must not wait that long instead of until woken."""
    events = Events(4, objects=False)
    waker = Waker(poll.registry, 9)
    try:
        assert poll.poll(events, 0.001) == 0  # leaves a 1 ms timeout behind
        waits = poll.prepared_waits(events)
        timer = threading.Timer(0.2, waker.wake)
        start = time.monotonic()
        timer.start()
        n = _settle(poll, events, waits.forever(), None)
        elapsed = time.monotonic() - start
        timer.join()
        assert n == 1 and waits.raw[0] >> 16 == 9
        assert elapsed >= 0.15  # it waited for the wake-up, not 1 ms
    finally:
        waker.close()


def test_an_interrupted_forever_wait_is_completed(poll: Poll) -> None:
    """A signal whose handler returns: the wait's result carries the slow
    bit (EINTR), and complete_wait waits on until the event."""
    events = Events(4, objects=False)
    waker = Waker(poll.registry, 5)
    seen: list[int] = []
    old = signal.signal(signal.SIGUSR1, lambda signum, frame: seen.append(signum))
    try:
        waits = poll.prepared_waits(events)
        main = threading.get_ident()

        def interrupt_then_wake() -> None:
            time.sleep(0.1)
            signal.pthread_kill(main, signal.SIGUSR1)
            time.sleep(0.1)
            waker.wake()

        t = threading.Thread(target=interrupt_then_wake)
        t.start()
        result = waits.forever()
        assert result & WAIT_SLOW  # epoll_wait and poll(2) are never restarted
        n = poll.complete_wait(events, result, None)
        t.join()
        assert seen == [signal.SIGUSR1]
        assert n == 1 and waits.raw[0] >> 16 == 5
    finally:
        signal.signal(signal.SIGUSR1, old)
        waker.close()


def test_an_error_result_raises_from_complete_wait(selector: str) -> None:
    poll = Poll(selector)
    events = Events(4, objects=False)
    waits = poll.prepared_waits(events)
    poll.close()
    result = waits.now()  # raises nothing itself
    assert result & WAIT_SLOW
    with pytest.raises(ValueError, match="closed Poll"):
        poll.complete_wait(events, result, 0)


def test_bad_arguments(poll: Poll) -> None:
    with pytest.raises(TypeError, match=r"events must be lowio\.Events"):
        poll.prepared_waits([])  # type: ignore[arg-type]
    closed = Poll()
    closed.close()
    with pytest.raises(ValueError, match="closed Poll"):
        closed.prepared_waits(Events(1))


def test_a_buffer_bound_to_another_poll_is_taken_over(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    events = Events(4, objects=False)
    with Poll() as first, Poll() as second:
        first.poll(events, 0)  # bound to the first
        second.registry.register(a, 4, R)
        waits = second.prepared_waits(events)
        b.send(b"x")
        assert _settle(second, events, waits.now(), 0) == 1
        assert waits.raw[0] >> 16 == 4


def test_a_forked_child_gets_the_forked_child_error(selector: str) -> None:
    with Poll(selector) as poll:
        events = Events(4, objects=False)
        waits = poll.prepared_waits(events)
        pid = os.fork()
        if pid == 0:  # child
            code = 1
            try:
                _settle(poll, events, waits.now(), 0)
            except RuntimeError as e:
                code = 0 if "forked child" in str(e) else 2
            except BaseException:
                code = 3
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
