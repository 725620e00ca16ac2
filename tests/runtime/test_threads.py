"""Threads in the runtime: the worker-thread cache
(``lowio.lowlevel.start_thread_soon``), ``lowio.to_thread.run_sync`` and
``lowio.from_thread`` (``run``, ``run_sync``, ``check_cancelled``), with
trio's semantics.

Every wait on another thread is bounded (``timeout=``), so that a broken
hand-off fails the test instead of hanging it."""

from __future__ import annotations

import contextvars
import gc
import os
import queue
import re
import threading
import time
import traceback
import warnings
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from functools import partial
from typing import Any, NoReturn, TypeVar

import pytest
import sniffio

import lowio
from lowio import from_thread, to_thread
from lowio._core import _thread_cache
from lowio._core._outcome import Error, Outcome, Value
from lowio._core._thread_cache import THREAD_CACHE, ThreadCache, start_thread_soon
from lowio.lowlevel import (
    Abort,
    RunToken,
    Task,
    checkpoint,
    current_task,
    current_token,
    wait_task_rescheduled,
)
from lowio.testing import active_thread_count, wait_all_tasks_blocked, wait_all_threads_completed

pytestmark = pytest.mark.timeout(10)

T = TypeVar("T")
WAIT = 2.0  # seconds: the bound of every cross-thread wait below


def run(async_fn: Callable[..., Awaitable[T]], *args: object) -> T:
    return lowio.run(async_fn, *args)


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Polls ``predicate`` (state changed by other threads) from the loop."""
    with lowio.fail_after(WAIT):
        while not predicate():
            await lowio.sleep(0.002)


# ---- the thread cache ----


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


# ---- to_thread.run_sync: round trips ----


def test_run_sync_round_trip() -> None:
    async def main() -> None:
        loop_thread = threading.current_thread()

        def add(x: int, y: int) -> tuple[int, threading.Thread]:
            return x + y, threading.current_thread()

        total, worker = await to_thread.run_sync(add, 1, 2)
        assert total == 3
        assert worker is not loop_thread and worker.daemon

    run(main)


def test_run_sync_is_a_checkpoint() -> None:
    async def main() -> None:
        ran: list[str] = []

        async def other() -> None:
            ran.append("other")

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(other)
            await to_thread.run_sync(lambda: None)
            assert ran == ["other"]  # a schedule point
        called: list[bool] = []
        with lowio.CancelScope() as scope:
            scope.cancel()
            await to_thread.run_sync(lambda: called.append(True))  # a cancel point
        assert scope.cancelled_caught
        assert called == []  # no thread was started

    run(main)


def test_run_sync_reraises_with_the_workers_traceback() -> None:
    async def main() -> None:
        def failing_in_worker() -> NoReturn:
            raise ValueError(threading.current_thread().name)

        with pytest.raises(ValueError) as info:
            await to_thread.run_sync(failing_in_worker, thread_name="worker-x")
        assert info.value.args == ("worker-x",)
        names = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
        assert names[-1] == "failing_in_worker"  # raised there...
        assert "main" in names  # ...and seen by the caller

    run(main)


def test_run_sync_rejects_an_async_function() -> None:
    async def main() -> None:
        async def async_fn() -> None:  # pragma: no cover - never run
            pass

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "coroutine was never awaited"
            with pytest.raises(TypeError, match="expected a sync function"):
                await to_thread.run_sync(async_fn)  # type: ignore[unused-coroutine]
            gc.collect()

    run(main)


def test_run_sync_thread_name() -> None:
    async def main() -> None:
        def name() -> str:
            return threading.current_thread().name

        assert await to_thread.run_sync(name) == f"name from {current_task().name}"
        assert await to_thread.run_sync(name, thread_name="custom") == "custom"

    run(main)


def test_run_sync_reuses_cached_workers() -> None:
    async def main() -> None:
        idents = {await to_thread.run_sync(threading.get_ident) for _ in range(20)}
        assert len(idents) == 1  # one worker, reused (it was idle before we woke)
        assert THREAD_CACHE.idle_count() == 1

    before = threading.active_count()
    run(main)
    assert threading.active_count() == before + 1  # the idle worker, cached


def test_run_sync_outside_a_run() -> None:
    coro = to_thread.run_sync(lambda: None)
    with pytest.raises(RuntimeError, match=r"inside lowio\.run"):
        coro.send(None)
    with pytest.raises(RuntimeError, match=r"inside lowio\.run"):
        to_thread.current_default_thread_limiter()


def test_abandon_on_cancel_flag_is_evaluated_at_once() -> None:
    class BadBool:
        def __bool__(self) -> bool:
            raise NotImplementedError

    async def main() -> None:
        with pytest.raises(NotImplementedError):
            await to_thread.run_sync(int, abandon_on_cancel=BadBool())  # type: ignore[arg-type]

    run(main)


# ---- contextvars and sniffio ----

cvar: contextvars.ContextVar[str] = contextvars.ContextVar("cvar")


def test_run_sync_copies_contextvars_into_the_worker() -> None:
    async def main() -> None:
        cvar.set("main")

        def worker() -> tuple[str, str]:
            seen = cvar.get()
            cvar.set("worker")
            return seen, cvar.get()

        assert await to_thread.run_sync(worker) == ("main", "worker")
        assert cvar.get() == "main"  # the worker's change stays there

    run(main)


def test_sniffio_finds_no_library_in_workers() -> None:
    async def main() -> None:
        assert sniffio.current_async_library() == "lowio"

        def worker() -> tuple[object, object]:
            with pytest.raises(sniffio.AsyncLibraryNotFoundError):
                sniffio.current_async_library()
            return sniffio.thread_local.name, sniffio.current_async_library_cvar.get()

        assert await to_thread.run_sync(worker) == (None, None)
        # even if the task's context names a library
        sniffio.current_async_library_cvar.set("lowio")
        assert await to_thread.run_sync(worker) == (None, None)
        assert sniffio.current_async_library() == "lowio"

    run(main)


def test_from_thread_contexts() -> None:
    """``from_thread`` calls run in a copy of the worker's context (their
    changes do not come back), where sniffio says "lowio"."""

    async def main() -> None:
        cvar.set("main")

        def back_in_loop() -> tuple[str, str]:
            seen = cvar.get()
            cvar.set("back")
            return seen, sniffio.current_async_library()

        async def async_back_in_loop() -> tuple[str, str]:
            await checkpoint()
            return back_in_loop()

        def worker(via: Callable[..., Any], fn: Callable[[], Any]) -> tuple[Any, str, object]:
            cvar.set("worker")
            result = via(fn)
            return result, cvar.get(), sniffio.current_async_library_cvar.get()

        for abandon in (False, True):
            vias: list[tuple[Callable[..., Any], Callable[[], Any]]] = [
                (from_thread.run_sync, back_in_loop),
                (from_thread.run, async_back_in_loop),
            ]
            for via, fn in vias:
                result = await to_thread.run_sync(worker, via, fn, abandon_on_cancel=abandon)
                assert result == (("worker", "lowio"), "worker", None)
                assert cvar.get() == "main"

    run(main)


def test_worker_does_not_keep_the_context_alive() -> None:
    class Thing:
        pass

    async def main() -> None:
        thing_var: contextvars.ContextVar[Thing] = contextvars.ContextVar("thing")
        thing = Thing()
        ref = weakref.ref(thing)
        thing_var.set(thing)
        await to_thread.run_sync(lambda: None)
        thing_var.set(Thing())
        del thing
        gc.collect()
        assert ref() is None  # the (idle, cached) worker holds nothing of the job

    run(main)


# ---- cancellation ----


def test_abandon_on_cancel_false_waits_for_the_thread() -> None:
    async def main() -> None:
        gate = threading.Event()
        record: list[object] = []

        def blocking() -> str:
            gate.wait(WAIT)
            return "done"

        async def child() -> None:
            with lowio.CancelScope() as scope:
                record.append(await to_thread.run_sync(blocking))
            record.append(scope.cancelled_caught)

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(child)
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
            with lowio.CancelScope(shield=True):
                for _ in range(10):
                    await checkpoint()
            assert record == []  # still waiting for the thread
            gate.set()
        # the result came back; the cancellation waits for a checkpoint
        assert record == ["done", False]

    run(main)


def test_abandon_on_cancel_true_returns_at_once_and_drops_the_result() -> None:
    async def main() -> None:
        gate = threading.Event()
        finished = threading.Event()
        limiter = lowio.CapacityLimiter(1)

        def blocking() -> NoReturn:
            gate.wait(WAIT)
            finished.set()
            raise ValueError("dropped")  # nobody sees this

        with lowio.move_on_after(0.01) as scope:
            await to_thread.run_sync(blocking, abandon_on_cancel=True, limiter=limiter)
        assert scope.cancelled_caught
        assert not finished.is_set()  # the thread still runs...
        assert limiter.borrowed_tokens == 1  # ...and holds its token
        gate.set()
        await wait_until(lambda: limiter.borrowed_tokens == 0)
        assert finished.is_set()

    run(main)


def test_abandoned_thread_finishing_after_the_run(capfd: pytest.CaptureFixture[str]) -> None:
    gate = threading.Event()
    finished: queue.Queue[threading.Thread] = queue.Queue()

    def blocking() -> None:
        gate.wait(WAIT)
        finished.put(threading.current_thread())

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(partial(to_thread.run_sync, blocking, abandon_on_cancel=True))
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()

    run(main)
    gate.set()
    worker = finished.get(timeout=WAIT)
    # once idle, stopping the worker waits for its deliver (where
    # run_sync_soon raised RunFinishedError) to end
    deadline = time.monotonic() + WAIT
    while worker.is_alive() and time.monotonic() < deadline:
        THREAD_CACHE.stop_idle_workers()
        time.sleep(0.002)
    assert not worker.is_alive()
    out, err = capfd.readouterr()
    assert "Exception" not in out + err


def test_check_cancelled_without_abandon() -> None:
    async def main() -> None:
        gate = threading.Event()
        seen: queue.Queue[str] = queue.Queue()

        def worker() -> None:
            from_thread.check_cancelled()  # not cancelled yet: returns
            seen.put("not cancelled")
            gate.wait(WAIT)
            from_thread.check_cancelled()  # raises Cancelled into the caller

        record: list[str] = []
        with lowio.CancelScope() as scope:
            async with lowio.open_nursery() as nursery:

                async def child() -> None:
                    try:
                        await to_thread.run_sync(worker)
                    except lowio.Cancelled as exc:
                        record.append(str(exc))
                        raise

                nursery.start_soon(child)
                await wait_all_tasks_blocked()
                assert seen.get(timeout=WAIT) == "not cancelled"
                scope.cancel()
                gate.set()
        assert scope.cancelled_caught
        assert re.fullmatch(r"cancelled due to explicit from task <Task .*>", record[0])

    run(main)


def test_check_cancelled_with_abandon() -> None:
    async def main() -> None:
        gate = threading.Event()
        seen: queue.Queue[BaseException | str] = queue.Queue()

        def worker() -> None:
            gate.wait(WAIT)
            try:
                from_thread.check_cancelled()
            except BaseException as exc:
                seen.put(exc)
            else:  # pragma: no cover - a failure
                seen.put("not cancelled")

        with lowio.CancelScope() as scope:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(partial(to_thread.run_sync, worker, abandon_on_cancel=True))
                await wait_all_tasks_blocked()
                scope.cancel()
        assert scope.cancelled_caught  # we did not wait for the thread
        gate.set()
        exc = seen.get(timeout=WAIT)
        assert isinstance(exc, lowio.Cancelled)
        assert str(exc).startswith("cancelled due to explicit")
        await wait_all_threads_completed()

    run(main)


def test_check_cancelled_outside_workers() -> None:
    with pytest.raises(RuntimeError, match="wasn't created by lowio"):
        from_thread.check_cancelled()  # a plain thread (pytest's)
    results: queue.Queue[Outcome[None]] = queue.Queue()
    start_thread_soon(from_thread.check_cancelled, results.put)  # a bare cache worker
    with pytest.raises(RuntimeError, match="wasn't created by lowio"):
        results.get(timeout=WAIT).unwrap()

    async def main() -> None:
        with pytest.raises(RuntimeError, match="wasn't created by lowio"):
            from_thread.check_cancelled()  # the run's own thread

    run(main)


# ---- limiters ----


@pytest.mark.parametrize("abandon", [False, True])
@pytest.mark.parametrize("use_default", [False, True])
def test_limiter_bounds_concurrent_threads(abandon: bool, use_default: bool) -> None:
    MAX, COUNT = 3, 7

    async def main() -> None:
        gate = threading.Event()
        lock = threading.Lock()
        state = {"running": 0, "high": 0, "ran": 0}
        if use_default:
            limiter = to_thread.current_default_thread_limiter()
            limiter.total_tokens = MAX
            limiter_arg = None
        else:
            limiter = lowio.CapacityLimiter(MAX)
            limiter_arg = limiter

        def work() -> None:
            with lock:
                state["running"] += 1
                state["ran"] += 1
                state["high"] = max(state["high"], state["running"])
            gate.wait(WAIT)
            with lock:
                state["running"] -= 1

        async with lowio.open_nursery() as nursery:
            for _ in range(COUNT):
                nursery.start_soon(
                    partial(
                        to_thread.run_sync, work, abandon_on_cancel=abandon, limiter=limiter_arg
                    )
                )
            await wait_until(
                lambda: (
                    state["running"] == MAX and limiter.statistics().tasks_waiting == COUNT - MAX
                )
            )
            assert limiter.borrowed_tokens == MAX
            assert active_thread_count() == MAX  # the others wait for a token
            if abandon:
                # abandoned calls keep their token until their thread ends
                nursery.cancel_scope.cancel()
            else:
                gate.set()
        if abandon:
            assert limiter.borrowed_tokens == MAX
            assert state["ran"] == MAX
            gate.set()
            await wait_until(lambda: limiter.borrowed_tokens == 0)
        else:
            assert state["ran"] == COUNT
        assert state["high"] == MAX
        assert active_thread_count() == 0

    run(main)


def test_default_limiter_is_40_and_per_run() -> None:
    async def get() -> lowio.CapacityLimiter:
        limiter = to_thread.current_default_thread_limiter()
        assert limiter is to_thread.current_default_thread_limiter()
        assert limiter.total_tokens == 40

        def borrowers_seen_from_worker() -> list[object]:
            return from_thread.run_sync(lambda: limiter.statistics().borrowers)

        (placeholder,) = await to_thread.run_sync(borrowers_seen_from_worker)
        assert repr(placeholder).startswith("ThreadPlaceholder(name='lowio.to_thread.run_sync-")
        assert limiter.borrowed_tokens == 0
        limiter.total_tokens = 3  # must not leak into the next run
        return limiter

    first = run(get)
    second = run(get)
    assert first is not second


def test_custom_limiter_protocol() -> None:
    record: list[str] = []

    class Limiter:
        borrower: object = None

        async def acquire_on_behalf_of(self, borrower: object) -> None:
            record.append("acquire")
            self.borrower = borrower

        def release_on_behalf_of(self, borrower: object) -> None:
            record.append("release")
            assert borrower is self.borrower

    async def main() -> None:
        def work() -> None:
            record.append("work")

        await to_thread.run_sync(work, limiter=Limiter())  # type: ignore[arg-type]
        assert record == ["acquire", "work", "release"]
        assert not isinstance(Limiter.borrower, Task)

    run(main)


def test_limiter_release_error_replaces_the_result() -> None:
    class BadLimiter:
        async def acquire_on_behalf_of(self, borrower: object) -> None:
            pass

        def release_on_behalf_of(self, borrower: object) -> NoReturn:
            raise ValueError("release on behalf")

    async def main() -> None:
        bad: Any = BadLimiter()
        with pytest.raises(ValueError, match=r"^release on behalf$") as info:
            await to_thread.run_sync(lambda: 1, limiter=bad)
        assert info.value.__context__ is None
        with pytest.raises(ValueError, match=r"^release on behalf$") as info:
            await to_thread.run_sync(lambda: {"y": 1}["x"], limiter=bad)
        assert isinstance(info.value.__context__, KeyError)

    run(main)


def test_failure_to_start_a_thread_releases_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    def cannot_start(*args: object) -> NoReturn:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(lowio._threads, "start_thread_soon", cannot_start)

    async def main() -> None:
        limiter = to_thread.current_default_thread_limiter()
        with pytest.raises(RuntimeError, match="can't start new thread"):
            await to_thread.run_sync(lambda: None)
        assert limiter.borrowed_tokens == 0
        assert active_thread_count() == 0

    run(main)


# ---- from_thread, from workers ----


def test_from_thread_from_a_worker_runs_in_the_waiting_task() -> None:
    async def main() -> None:
        task = current_task()
        loop_thread = threading.current_thread()

        async def where() -> tuple[Task, threading.Thread]:
            await checkpoint()
            return current_task(), threading.current_thread()

        def sync_where() -> tuple[Task, threading.Thread]:
            return current_task(), threading.current_thread()

        assert await to_thread.run_sync(from_thread.run, where) == (task, loop_thread)
        assert await to_thread.run_sync(from_thread.run_sync, sync_where) == (task, loop_thread)
        # the worker gets the run's token implicitly
        assert await to_thread.run_sync(from_thread.run_sync, current_token) is current_token()
        # abandon_on_cancel=True: a system task / a run_sync_soon callback
        other, thread = await to_thread.run_sync(from_thread.run, where, abandon_on_cancel=True)
        assert other is not task and thread is loop_thread
        other, thread = await to_thread.run_sync(
            from_thread.run_sync, sync_where, abandon_on_cancel=True
        )
        assert other is not task and thread is loop_thread

    run(main)


def test_from_thread_run_of_an_async_fn_that_checkpoints_raises_or_is_cancelled() -> None:
    async def main() -> None:
        async def sleeps_then_returns() -> int:
            await lowio.sleep(0.001)
            await checkpoint()
            return 3

        async def raises() -> NoReturn:
            await checkpoint()
            raise KeyError("from the loop")

        def worker() -> tuple[int, str]:
            value = from_thread.run(sleeps_then_returns)
            try:
                from_thread.run(raises)
            except KeyError as exc:
                return value, exc.args[0]
            raise AssertionError("not raised")  # pragma: no cover

        assert await to_thread.run_sync(worker) == (3, "from the loop")

        # raised in the loop, through the worker, out of to_thread.run_sync
        with pytest.raises(KeyError):
            await to_thread.run_sync(from_thread.run, raises)

        # cancelled: the async fn runs under the waiting task's scopes
        async def time_bomb() -> None:
            scope.cancel()
            with lowio.fail_after(WAIT):
                await lowio.sleep_forever()

        with lowio.CancelScope() as scope:
            await to_thread.run_sync(from_thread.run, time_bomb)
        assert scope.cancelled_caught

    run(main)


def test_from_thread_and_a_cancelled_waiting_task() -> None:
    """trio's rules: a sync callback never sees ``Cancelled``; an async one
    sees it at its checkpoints only."""

    async def main() -> None:
        seen: queue.Queue[bool] = queue.Queue()

        async def no_checkpoint() -> bool:
            return True

        def check(call: Callable[[], object]) -> None:
            from_thread.run_sync(scope.cancel)
            try:
                call()
            except lowio.Cancelled:  # pragma: no cover - a failure
                seen.put(True)
            else:
                seen.put(False)

        for call in [partial(from_thread.run_sync, bool), partial(from_thread.run, no_checkpoint)]:
            with lowio.CancelScope() as scope:
                await to_thread.run_sync(check, call)
            assert not scope.cancelled_caught  # the call returned normally
            assert seen.get(timeout=WAIT) is False

            with lowio.CancelScope() as scope:
                await to_thread.run_sync(check, call, abandon_on_cancel=True)
            assert scope.cancelled_caught  # abandoned at once
            # (the abandoned worker still needs the loop: wait off-loop)
            assert await to_thread.run_sync(partial(seen.get, timeout=WAIT)) is False
            await wait_all_threads_completed()

    run(main)


def test_from_thread_type_errors() -> None:
    async def main() -> None:
        async def async_fn() -> None:  # pragma: no cover - never run
            pass

        def sync_fn() -> None:  # pragma: no cover - never run
            pass

        with pytest.raises(TypeError, match="expected a synchronous function"):
            await to_thread.run_sync(from_thread.run_sync, async_fn)  # type: ignore[unused-coroutine]
        with pytest.raises(TypeError, match="appears to be synchronous"):
            await to_thread.run_sync(from_thread.run, sync_fn)  # type: ignore[arg-type]

    run(main)


def test_recursive_to_thread() -> None:
    async def main() -> None:
        def reenter() -> tuple[int, int]:
            return threading.get_ident(), from_thread.run(to_thread.run_sync, threading.get_ident)

        outer, inner = await to_thread.run_sync(reenter)
        assert outer != inner  # the outer worker is busy: a second one

    run(main)


def test_reentry_does_not_deadlock() -> None:
    async def main() -> None:
        count = [0]

        async def child() -> None:
            while True:
                await to_thread.run_sync(from_thread.run, lowio.sleep, 0)
                count[0] += 1

        with lowio.move_on_after(0.2):
            async with lowio.open_nursery() as nursery:
                for _ in range(4):
                    nursery.start_soon(child)
        assert count[0] > 4

    run(main)


def test_wait_all_threads_completed() -> None:
    async def main() -> None:
        events = [lowio.Event(), lowio.Event()]
        exited = [lowio.Event(), lowio.Event()]
        all_done: list[bool] = []

        async def wait_in_thread(i: int) -> None:
            await to_thread.run_sync(from_thread.run, events[i].wait)
            exited[i].set()

        async def waiter() -> None:
            await wait_all_threads_completed()
            all_done.append(True)

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(wait_in_thread, 0)
            nursery.start_soon(wait_in_thread, 1)
            await wait_all_tasks_blocked()
            nursery.start_soon(waiter)
            await wait_all_tasks_blocked()
            assert active_thread_count() == 2 and not all_done
            events[0].set()
            await exited[0].wait()
            await wait_all_tasks_blocked()
            assert active_thread_count() == 1 and not all_done
            events[1].set()
            await exited[1].wait()
            await wait_all_tasks_blocked()
            assert active_thread_count() == 0 and all_done

    run(main)


# ---- from_thread, from plain threads ----


def test_run_sync_soon_wakes_a_sleeping_loop_quickly() -> None:
    async def main() -> None:
        token = current_token()
        with lowio.CancelScope() as scope:
            timer = threading.Timer(0.02, token.run_sync_soon, (scope.cancel,))
            start = time.monotonic()
            timer.start()
            await lowio.sleep_forever()
        timer.join(WAIT)
        assert time.monotonic() - start < 0.25
        assert scope.cancelled_caught

    run(main)


@pytest.mark.parametrize("via", ["run_sync", "run"])
def test_from_thread_with_a_token_wakes_a_sleeping_loop_quickly(via: str) -> None:
    async def main() -> None:
        token = current_token()
        results: queue.Queue[object] = queue.Queue()
        loop_thread = threading.current_thread()

        def cancel() -> threading.Thread:
            scope.cancel()
            return threading.current_thread()

        async def acancel() -> threading.Thread:
            await checkpoint()
            return cancel()

        def plain_thread() -> None:
            time.sleep(0.02)
            if via == "run_sync":
                results.put(from_thread.run_sync(cancel, trio_token=token))
            else:
                results.put(from_thread.run(acancel, trio_token=token))

        thread = threading.Thread(target=plain_thread)
        with lowio.CancelScope() as scope:
            start = time.monotonic()
            thread.start()
            await lowio.sleep_forever()
        assert time.monotonic() - start < 0.25
        thread.join(WAIT)
        assert results.get(timeout=WAIT) is loop_thread

    run(main)


def test_from_thread_with_a_token_raises_what_the_function_raises() -> None:
    async def main() -> None:
        token = current_token()
        results: queue.Queue[str] = queue.Queue()

        def fails() -> NoReturn:
            raise ValueError("sync")

        async def afails() -> NoReturn:
            await checkpoint()
            raise KeyError("async")

        def plain_thread() -> None:
            for call in [
                partial(from_thread.run_sync, fails, trio_token=token),
                partial(from_thread.run, afails, trio_token=token),
            ]:
                try:
                    call()
                except Exception as exc:
                    results.put(type(exc).__name__)

        thread = threading.Thread(target=plain_thread)
        thread.start()
        await wait_until(lambda: not thread.is_alive())
        assert [results.get_nowait(), results.get_nowait()] == ["ValueError", "KeyError"]

    run(main)


def test_from_thread_needs_a_token_in_plain_threads() -> None:
    results: queue.Queue[BaseException] = queue.Queue()

    def plain_thread() -> None:
        for call in [
            partial(from_thread.run_sync, lambda: None),
            partial(from_thread.run_sync, lambda: None, trio_token="not a token"),  # type: ignore[arg-type]
        ]:
            try:
                call()
            except BaseException as exc:
                results.put(exc)

    thread = threading.Thread(target=plain_thread)
    thread.start()
    thread.join(WAIT)
    first, second = results.get_nowait(), results.get_nowait()
    assert isinstance(first, RuntimeError) and "pass kwarg trio_token" in str(first)
    assert isinstance(second, RuntimeError) and "not of type" in str(second)


def test_from_thread_in_the_loop_thread_is_a_runtime_error() -> None:
    async def main() -> None:
        token = current_token()

        def not_called() -> None:  # pragma: no cover - a failure
            raise AssertionError

        async def anot_called() -> None:  # pragma: no cover - a failure
            raise AssertionError

        for call in [
            partial(from_thread.run_sync, not_called, trio_token=token),
            partial(from_thread.run, anot_called, trio_token=token),
        ]:
            with pytest.raises(RuntimeError, match="call it from a thread"):
                call()
        with pytest.raises(RuntimeError):
            from_thread.run_sync(not_called)  # no token either

        # nor from a run_sync_soon callback (still the loop's thread)
        errors: list[BaseException] = []

        def callback() -> None:
            try:
                from_thread.run_sync(not_called, trio_token=token)
            except RuntimeError as exc:
                errors.append(exc)

        token.run_sync_soon(callback)
        await wait_until(lambda: bool(errors))

    run(main)


def test_from_thread_after_the_run_is_run_finished_error() -> None:
    async def main() -> RunToken:
        return current_token()

    token = run(main)
    with pytest.raises(lowio.RunFinishedError):
        token.run_sync_soon(lambda: None)
    with pytest.raises(lowio.RunFinishedError):
        from_thread.run_sync(lambda: None, trio_token=token)
    with pytest.raises(lowio.RunFinishedError):
        from_thread.run(checkpoint, trio_token=token)


def test_from_thread_run_is_cancelled_when_the_run_ends() -> None:
    record: list[str] = []
    sleeping = threading.Event()

    async def parks_forever() -> None:
        record.append("sleeping")
        sleeping.set()
        await wait_task_rescheduled(lambda _: Abort.SUCCEEDED)

    def plain_thread(token: RunToken) -> None:
        try:
            from_thread.run(parks_forever, trio_token=token)
        except lowio.Cancelled:
            record.append("cancelled")

    async def main() -> threading.Thread:
        thread = threading.Thread(target=plain_thread, args=(current_token(),))
        thread.start()
        await wait_until(sleeping.is_set)
        return thread

    thread = run(main)
    thread.join(WAIT)
    assert record == ["sleeping", "cancelled"]


def test_from_thread_during_shutdown() -> None:
    """In an async generator finalized at the end of the run, the system
    nursery is closed: ``from_thread.run`` with a token cannot start a
    system task (``RunFinishedError``), through the waiting task it can."""
    record: list[str] = []
    saved: list[AsyncGenerator[None, None]] = []

    async def agen(token: RunToken | None) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with lowio.CancelScope(shield=True):
                try:
                    await to_thread.run_sync(
                        partial(from_thread.run, lowio.sleep, 0, trio_token=token)
                    )
                except lowio.RunFinishedError:
                    record.append("finished")
                else:
                    record.append("clean")

    async def main(use_token: bool) -> None:
        saved.append(agen(current_token() if use_token else None))
        await saved[-1].asend(None)

    run(main, True)
    run(main, False)
    assert record == ["finished", "clean"]
