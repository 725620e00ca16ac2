"""The worker-thread cache (``lowio.lowlevel.start_thread_soon``): value and
error outcomes, daemon workers reused last-in first-out, idle workers
exiting after trio's idle timeout (and the race of that exit with a new
job), errors in ``deliver``, thread names, and an empty cache in a forked
child.

Every wait on another thread is bounded (``timeout=``), so that a broken
hand-off fails the test instead of hanging it."""

from __future__ import annotations

import os
import queue
import re
import threading
import traceback
import warnings
from functools import partial
from typing import Any, NoReturn

import pytest
from _thread_helpers import WAIT

from lowio._core import _thread_cache
from lowio._core._outcome import Error, Outcome, Value
from lowio._core._thread_cache import THREAD_CACHE, ThreadCache, start_thread_soon

pytestmark = pytest.mark.timeout(10)


def test_cache_delivers_value_and_error_outcomes() -> None:
    results: queue.Queue[Outcome[Any]] = queue.Queue()

    def failing() -> NoReturn:
        raise KeyError("nope")

    start_thread_soon(lambda: 42, results.put)
    start_thread_soon(failing, results.put)
    got = [results.get(timeout=WAIT), results.get(timeout=WAIT)]
    values = [o for o in got if isinstance(o, Value)]
    errors = [o for o in got if isinstance(o, Error)]
    assert len(values) == 1 and values[0].unwrap() == 42
    assert len(errors) == 1 and isinstance(errors[0].error, KeyError)
    # the traceback starts at the failing function (the cache's own frame is cut)
    frames = traceback.extract_tb(errors[0].error.__traceback__)
    assert [f.name for f in frames] == ["failing"]
    with pytest.raises(KeyError, match="nope"):
        errors[0].unwrap()


def test_cache_workers_are_daemons_and_reused_lifo() -> None:
    cache = ThreadCache()
    try:
        seen: queue.Queue[threading.Thread] = queue.Queue()
        gate = threading.Event()
        # three busy workers, then all idle
        for _ in range(3):
            cache.start_thread_soon(
                lambda: gate.wait(WAIT), lambda _: seen.put(threading.current_thread())
            )
        gate.set()
        first = [seen.get(timeout=WAIT) for _ in range(3)]
        assert len(set(first)) == 3
        assert all(t.daemon for t in first)
        assert cache.idle_count() == 3
        # LIFO: the most recently idle worker takes the next job
        cache.start_thread_soon(lambda: None, lambda _: seen.put(threading.current_thread()))
        assert seen.get(timeout=WAIT) is first[-1]
    finally:
        assert cache.stop_idle_workers() == 3
    assert not any(t.is_alive() for t in first)


def test_cache_job_started_from_deliver_reuses_the_same_thread() -> None:
    cache = ThreadCache()
    seen: set[threading.Thread] = set()
    done = threading.Event()

    def deliver(n: int, _: object) -> None:
        seen.add(threading.current_thread())
        if n == 0:
            done.set()
        else:
            cache.start_thread_soon(lambda: None, partial(deliver, n - 1))

    try:
        cache.start_thread_soon(lambda: None, partial(deliver, 5))
        assert done.wait(WAIT)
        # the worker marked itself idle before deliver, so it got every job
        assert len(seen) == 1
    finally:
        cache.stop_idle_workers()


def test_cache_idle_workers_exit_after_the_idle_timeout() -> None:
    cache = ThreadCache(idle_timeout=0.02)
    seen: queue.Queue[threading.Thread] = queue.Queue()
    cache.start_thread_soon(lambda: None, lambda _: seen.put(threading.current_thread()))
    worker = seen.get(timeout=WAIT)
    worker.join(WAIT)
    assert not worker.is_alive()
    assert cache.idle_count() == 0
    # and the cache still works: a new worker is started
    cache.start_thread_soon(lambda: None, lambda _: seen.put(threading.current_thread()))
    assert seen.get(timeout=WAIT) is not worker
    cache.stop_idle_workers()


def test_default_idle_timeout_is_trios() -> None:
    assert _thread_cache.IDLE_TIMEOUT == 10
    assert THREAD_CACHE.idle_timeout == 10


def test_cache_race_between_idle_exit_and_job_assignment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker whose wait "times out" just as a job is handed to it must
    notice it was taken out of the idle set and run the job."""

    class LyingLock:
        """Pretends the first timed acquires timed out (after getting the
        lock and giving it back)."""

        def __init__(self) -> None:
            self._lock = threading.Lock()
            self._lies = 3

        def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
            got = self._lock.acquire(timeout=timeout)
            if timeout == -1:
                return True
            if got and self._lies > 0:
                self._lies -= 1
                self._lock.release()
                return False
            return got

        def release(self) -> None:
            self._lock.release()

    monkeypatch.setattr(_thread_cache, "Lock", LyingLock)
    cache = ThreadCache()
    done = threading.Event()
    cache.start_thread_soon(lambda: None, lambda _: done.set())
    assert done.wait(WAIT)
    done.clear()
    cache.start_thread_soon(lambda: None, lambda _: done.set())  # the same worker
    assert done.wait(WAIT)
    assert cache.stop_idle_workers() == 1


def test_cache_error_in_deliver_is_printed_and_the_worker_survives(
    capfd: pytest.CaptureFixture[str],
) -> None:
    seen: list[threading.Thread] = []
    done = threading.Event()

    def bad_deliver(_: object) -> NoReturn:
        done.set()
        raise RuntimeError("don't do this")

    start_thread_soon(lambda: seen.append(threading.current_thread()), bad_deliver)
    assert done.wait(WAIT)
    done2 = threading.Event()
    start_thread_soon(lambda: seen.append(threading.current_thread()), lambda _: done2.set())
    assert done2.wait(WAIT)
    assert len(set(seen)) == 1
    err = capfd.readouterr().err
    assert "don't do this" in err
    assert "delivering result" in err


def test_stop_idle_workers_leaves_busy_workers_alone() -> None:
    cache = ThreadCache()
    gate = threading.Event()
    done = threading.Event()
    cache.start_thread_soon(lambda: gate.wait(WAIT), lambda _: done.set())
    assert cache.stop_idle_workers() == 0  # the only worker is busy
    gate.set()
    assert done.wait(WAIT)
    assert cache.stop_idle_workers() == 1


def test_stop_idle_workers_from_a_deliver_callback() -> None:
    cache = ThreadCache()
    stopped: queue.Queue[int] = queue.Queue()
    # the worker is idle (and so stopped) while it runs deliver: it must
    # not try to join itself
    cache.start_thread_soon(lambda: None, lambda _: stopped.put(cache.stop_idle_workers()))
    assert stopped.get(timeout=WAIT) == 1
    assert cache.idle_count() == 0


def test_worker_thread_names() -> None:
    seen: queue.Queue[tuple[str, str, str]] = queue.Queue()

    def names() -> tuple[str, str, str]:
        thread = threading.current_thread()
        with open(f"/proc/self/task/{thread.native_id}/comm") as f:
            comm = f.read().strip()
        return thread.name, comm, thread.name

    start_thread_soon(names, lambda o: seen.put(o.unwrap()), name="a-rather-long-thread-name")
    name, comm, _ = seen.get(timeout=WAIT)
    assert name == "a-rather-long-thread-name"
    assert comm == "a-rather-long-t"  # the OS keeps 15 bytes
    # without a name, the worker's own: "lowio thread N", restored after a job
    start_thread_soon(names, lambda o: seen.put(o.unwrap()))
    name, comm, _ = seen.get(timeout=WAIT)
    assert re.fullmatch(r"lowio thread \d+", name)
    assert comm == name[:15]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_cache_is_empty_in_a_forked_child() -> None:
    done = threading.Event()
    start_thread_soon(lambda: None, lambda _: done.set())
    assert done.wait(WAIT)
    assert THREAD_CACHE.idle_count() == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            if THREAD_CACHE.idle_count() == 0:
                ok = threading.Event()
                start_thread_soon(lambda: None, lambda _: ok.set())
                code = 0 if ok.wait(WAIT) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
