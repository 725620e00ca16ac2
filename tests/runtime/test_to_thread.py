"""``lowio.to_thread.run_sync``: round trips (a checkpoint, the worker's
traceback, thread names, cached workers), context variables and sniffio
in workers, cancellation (``abandon_on_cancel``, ``from_thread.check_cancelled``)
and capacity limiters (bounds, the default of 40 per run, custom
limiters, release errors), with trio's semantics.

Every wait on another thread is bounded (``timeout=``), so that a broken
hand-off fails the test instead of hanging it."""

from __future__ import annotations

import contextvars
import gc
import queue
import re
import threading
import time
import traceback
import warnings
import weakref
from functools import partial
from typing import Any, NoReturn

import pytest
import sniffio
from _thread_helpers import WAIT, run, wait_until

import lowio
from lowio import from_thread, to_thread
from lowio._core._outcome import Outcome
from lowio._core._thread_cache import THREAD_CACHE, start_thread_soon
from lowio.lowlevel import (
    Task,
    checkpoint,
    current_task,
)
from lowio.testing import active_thread_count, wait_all_tasks_blocked, wait_all_threads_completed

pytestmark = pytest.mark.timeout(10)

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
        task = lowio.lowlevel.current_task()
        before = task._schedule_points
        await to_thread.run_sync(lambda: None)
        assert task._schedule_points > before  # a schedule point
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
