"""``lowio.from_thread.run`` / ``run_sync``: from ``to_thread`` workers (in
the waiting task, its context, errors, cancellation, re-entry) and from
plain threads with a token (waking a sleeping loop, errors, the loop's
own thread refused, after and during the end of the run).

Every wait on another thread is bounded (``timeout=``), so that a broken
hand-off fails the test instead of hanging it."""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import AsyncGenerator, Callable
from functools import partial
from typing import Any, NoReturn

import pytest
import sniffio
from _thread_helpers import WAIT, run, wait_until

import lowio
from lowio import from_thread, to_thread
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

# ---- contextvars and sniffio ----


cvar: contextvars.ContextVar[str] = contextvars.ContextVar("cvar")


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
