"""SteppedRun: one run advanced in pieces by a synchronous host (what
anyio's pytest runner needs), and lowio.run built on it."""

from __future__ import annotations

import pytest

import lowio
from lowio._core import SteppedRun


def test_pieces_run_until_the_condition_then_pause() -> None:
    log: list[str] = []

    async def main() -> str:
        for i in range(5):
            log.append(f"step {i}")
            await lowio.sleep(0)
        return "done"

    run = SteppedRun(main)
    assert log == []  # nothing runs before the first piece
    assert run.run_until(lambda: len(log) >= 2) is False
    paused_at = list(log)
    assert 2 <= len(paused_at) < 5
    with pytest.raises(RuntimeError):
        lowio.lowlevel.current_task()  # the thread is not inside the run between pieces
    assert log == paused_at  # and nothing ran meanwhile
    assert run.finish() == "done"
    assert run.finished
    assert len(log) == 5


def test_background_tasks_keep_running_across_pieces() -> None:
    requests: list[int] = []
    results: dict[int, int] = {}
    ticks: list[int] = []

    async def ticker() -> None:
        while True:
            ticks.append(1)
            await lowio.sleep(0)

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            while True:
                if requests:
                    n = requests.pop()
                    if n < 0:
                        nursery.cancel_scope.cancel()
                        return
                    await lowio.sleep(0.001)
                    results[n] = n * n
                await lowio.sleep(0)

    run = SteppedRun(main)
    for n in (2, 3):
        requests.append(n)
        before = len(ticks)
        run.run_until(lambda n=n: n in results)  # type: ignore[misc]
        assert results[n] == n * n
        assert len(ticks) > before
    requests.append(-1)
    assert run.finish() is None


def test_errors_propagate_and_finished_runs_refuse_more() -> None:
    async def main() -> None:
        await lowio.sleep(0)
        raise KeyError("boom")

    run = SteppedRun(main)
    with pytest.raises(KeyError):
        run.finish()
    with pytest.raises(RuntimeError, match="already finished"):
        run.run_until(None)


def test_a_piece_inside_a_run_is_refused() -> None:
    async def inner() -> None:
        pass

    async def main() -> None:
        with pytest.raises(RuntimeError, match="inside a run"):
            SteppedRun(inner)

    lowio.run(main)


def test_bad_async_fn_gets_the_hint_before_anything_starts() -> None:
    async def f() -> None:
        pass

    coro = f()
    with pytest.raises(TypeError, match="coroutine object"):
        SteppedRun(coro)  # type: ignore[arg-type]


def test_sniffio_names_lowio_inside_the_run_whatever_the_context() -> None:
    import contextvars
    import threading

    import sniffio

    seen: list[str | None] = []

    def callback() -> None:  # queued from a thread whose context says "other"
        seen.append(sniffio.current_async_library())

    async def main() -> None:
        token = lowio.lowlevel.current_token()
        context = contextvars.copy_context()
        context.run(sniffio.current_async_library_cvar.set, "other")
        thread = threading.Thread(target=context.run, args=(token.run_sync_soon, callback))
        thread.start()
        thread.join()
        while not seen:
            await lowio.sleep(0.001)

    previous = sniffio.thread_local.name
    lowio.run(main)
    assert seen == ["lowio"]
    assert sniffio.thread_local.name == previous  # restored between pieces and after


def test_a_crashed_run_closes_its_tasks_at_once() -> None:
    cleaned_up: list[str] = []
    started: list[str] = []

    async def sleeper() -> None:
        started.append("started")
        try:
            await lowio.sleep_forever()
        finally:
            cleaned_up.append("closed")

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            while True:  # runnable: the loop checks run_until's condition
                await lowio.sleep(0)

    run = SteppedRun(main)
    run.run_until(lambda: bool(started))

    def crash() -> bool:
        raise ZeroDivisionError  # e.g. a signal handler raising in the loop

    with pytest.raises(lowio.LowioInternalError):
        run.run_until(crash)
    assert cleaned_up == ["closed"]  # not left to the garbage collector
    assert not run._runner.tasks
