"""``RunToken.run_sync_soon``: wakes a blocked loop from another thread,
runs callbacks in order (FIFO per thread) in the run's context,
``idempotent=True`` coalesces, ``RunFinishedError`` after the run, and a
crashing callback ends the run with ``LowioInternalError`` while the
later callbacks still run."""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from typing import Any, NoReturn

import pytest
import sniffio
from _exception_helpers import cause_chain
from _thread_helpers import WAIT, run

import lowio
from lowio.lowlevel import (
    current_token,
)
from lowio.testing import wait_all_tasks_blocked

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

cvar: contextvars.ContextVar[str] = contextvars.ContextVar("cvar", default="unset")


def test_run_sync_soon_from_another_thread_wakes_a_blocked_loop() -> None:
    async def main() -> float:
        token = current_token()
        assert token is current_token()
        with lowio.CancelScope() as scope:

            def poke() -> None:
                time.sleep(0.05)
                token.run_sync_soon(scope.cancel)

            thread = threading.Thread(target=poke)
            thread.start()
            start = time.monotonic()
            await lowio.sleep_forever()  # no deadline: only the waker can wake us
        elapsed = time.monotonic() - start
        thread.join()
        assert scope.cancelled_caught
        return elapsed

    assert lowio.run(main) < 30


def test_run_sync_soon_runs_callbacks_in_order_with_args() -> None:
    record: list[int] = []

    async def main() -> None:
        token = current_token()
        for i in range(50):
            token.run_sync_soon(record.append, i)
        assert record == []  # not synchronous
        await wait_all_tasks_blocked()
        assert record == list(range(50))

    lowio.run(main)


def test_run_sync_soon_idempotent_coalesces_pending_calls() -> None:
    record: list[int] = []

    async def main() -> None:
        token = current_token()
        for _ in range(3):
            token.run_sync_soon(record.append, 1, idempotent=True)
        token.run_sync_soon(record.append, 2, idempotent=True)
        token.run_sync_soon(record.append, 1)  # not idempotent: always queued
        await wait_all_tasks_blocked()
        assert sorted(record) == [1, 1, 2]
        # once a call has run, the same call may be queued again
        token.run_sync_soon(record.append, 2, idempotent=True)
        await wait_all_tasks_blocked()
        assert sorted(record) == [1, 1, 2, 2]
        # idempotent calls run in first-queued order
        record.clear()
        for _ in range(3):
            for i in range(20):
                token.run_sync_soon(record.append, i, idempotent=True)
        await wait_all_tasks_blocked()
        assert record == list(range(20))

    lowio.run(main)


def test_run_sync_soon_callbacks_run_in_the_runs_context() -> None:
    seen: list[str] = []

    def callback() -> None:
        seen.append(sniffio.current_async_library())
        seen.append(cvar.get())
        lowio.current_time()  # lowio's accessors work in callbacks

    async def main() -> None:
        cvar.set("main's value")  # the callback does not see the caller's task
        current_token().run_sync_soon(callback)
        await wait_all_tasks_blocked()

    lowio.run(main)
    assert seen == ["lowio", "unset"]


def test_run_sync_soon_after_the_run_raises_run_finished_error() -> None:
    async def main() -> lowio.lowlevel.RunToken:
        return current_token()

    token = lowio.run(main)
    with pytest.raises(lowio.RunFinishedError):
        token.run_sync_soon(lambda: None)
    assert isinstance(lowio.RunFinishedError(), RuntimeError)
    # each run has its own token
    assert lowio.run(main) is not token


def test_run_sync_soon_queued_as_main_exits_still_runs() -> None:
    record: list[str] = []

    async def main() -> NoReturn:
        current_token().run_sync_soon(record.append, "callback")
        raise ValueError("main failed")

    with pytest.raises(ValueError, match=r"main failed"):
        lowio.run(main)
    assert record == ["callback"]


def test_crashing_run_sync_soon_callback_ends_the_run_cleanly() -> None:
    record: list[str] = []

    def bad() -> None:
        raise KeyError("callback bug")

    async def main() -> None:
        token = current_token()
        token.run_sync_soon(bad)
        token.run_sync_soon(record.append, "second callback ran")
        try:
            await lowio.sleep_forever()
        except lowio.Cancelled:
            record.append("main cancelled")
            raise

    with pytest.raises(lowio.LowioInternalError) as info:
        lowio.run(main)
    assert record == ["second callback ran", "main cancelled"]
    assert any(isinstance(e, KeyError) for e in cause_chain(info.value))


def test_run_sync_soon_from_many_threads() -> None:
    record: list[int] = []

    async def main() -> None:
        token = current_token()

        def spam(base: int) -> None:
            for i in range(200):
                token.run_sync_soon(record.append, base + i)

        threads = [threading.Thread(target=spam, args=(k * 1000,)) for k in range(4)]
        for thread in threads:
            thread.start()
        with lowio.fail_after(30):
            while len(record) < 800:
                await lowio.sleep(0.001)
        for thread in threads:
            thread.join()
        for k in range(4):  # FIFO per thread
            mine = [x for x in record if k * 1000 <= x < (k + 1) * 1000]
            assert mine == [k * 1000 + i for i in range(200)]

    lowio.run(main)


def test_run_sync_soon_crash_after_the_system_nursery_closed() -> None:
    record: list[str] = []
    saved: list[Any] = []

    async def agen() -> Any:
        token = lowio.lowlevel.current_token()
        try:
            yield 1
        finally:
            token.run_sync_soon(lambda: {}["nope"])
            token.run_sync_soon(lambda: record.append("2nd ran"))

    async def main() -> None:
        saved.append(agen())
        await saved[-1].asend(None)  # finalized once the system nursery is gone

    with pytest.raises(lowio.LowioInternalError) as info:
        lowio.run(main)
    cause = info.value.__cause__
    assert isinstance(cause, BaseExceptionGroup)
    assert [type(e) for e in cause.exceptions] == [KeyError]
    assert record == ["2nd ran"]  # the later callback still ran


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
