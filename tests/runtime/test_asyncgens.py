"""Async generators a run's tasks abandon: finalized inside the run (with a
``ResourceWarning``, an ``await`` in their ``finally`` cancelled), those
still alive at the end closed before ``lowio.run`` returns, finalizer
errors logged, exhausted ones left alone, and foreign ones closed as
CPython would."""

from __future__ import annotations

import gc
import logging
import sys
import warnings
from collections.abc import AsyncGenerator
from typing import Any

import pytest

import lowio
from lowio.lowlevel import (
    checkpoint,
    current_task,
)
from lowio.testing import wait_all_tasks_blocked


def test_abandoned_async_generator_is_finalized_inside_the_run() -> None:
    record: list[str] = []

    async def agen() -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2  # pragma: no cover
        finally:
            # lowio's machinery works here: we are in a task of the run
            record.append(f"finally in {current_task().name}")
            record.append(f"deadline {lowio.current_effective_deadline()}")

    async def main() -> None:
        gen = agen()
        assert await gen.__anext__() == 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            del gen
            gc.collect()
        assert record == []  # not closed synchronously in the GC
        await wait_all_tasks_blocked()
        assert len(record) == 2
        assert record[1] == "deadline -inf"  # closed in a cancelled scope, as trio does

    lowio.run(main)
    assert "agen" in record[0]


def test_abandoned_async_generator_gets_a_resource_warning() -> None:
    async def agen() -> AsyncGenerator[int, None]:
        yield 1
        yield 2  # pragma: no cover

    async def main() -> None:
        gen = agen()
        await gen.__anext__()
        with pytest.warns(ResourceWarning, match=r"garbage collected before"):
            del gen
            gc.collect()
        await wait_all_tasks_blocked()

    lowio.run(main)


def test_await_in_finally_of_abandoned_generator_is_cancelled() -> None:
    record: list[str] = []

    async def agen() -> AsyncGenerator[int, None]:
        try:
            yield 1
        finally:
            try:
                await checkpoint()
            except lowio.Cancelled:
                record.append("cancelled")
            else:  # pragma: no cover
                record.append("ran on")

    async def main() -> None:
        gen = agen()
        await gen.__anext__()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            del gen
            gc.collect()
        await wait_all_tasks_blocked()

    lowio.run(main)
    assert record == ["cancelled"]


def test_async_generator_alive_at_the_end_is_closed_before_run_returns() -> None:
    record: list[str] = []
    keep: list[AsyncGenerator[int, None]] = []

    async def agen() -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2  # pragma: no cover
        finally:
            record.append(f"closed in {current_task().name}")
            try:
                await checkpoint()
            except lowio.Cancelled:
                record.append("await cancelled")

    async def main() -> None:
        gen = agen()
        keep.append(gen)
        assert await gen.__anext__() == 1

    lowio.run(main)
    assert record == ["closed in <init>", "await cancelled"]
    assert keep[0].ag_frame is None


def test_error_while_finalizing_an_async_generator_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    keep: list[AsyncGenerator[int, None]] = []

    async def agen() -> AsyncGenerator[int, None]:
        try:
            yield 1
        finally:
            raise ValueError("boom in finally")

    async def main() -> None:
        keep.append(agen())
        await keep[0].__anext__()

    with caplog.at_level(logging.ERROR):
        lowio.run(main)  # does not raise
    [rec] = [r for r in caplog.records if r.exc_info]
    assert rec.exc_info is not None and isinstance(rec.exc_info[1], ValueError)


def test_exhausted_async_generators_are_left_alone() -> None:
    record: list[int] = []

    async def agen() -> AsyncGenerator[int, None]:
        for i in range(3):
            yield i
        record.append(-1)

    async def main() -> None:
        async for x in agen():
            record.append(x)

    lowio.run(main)
    assert record == [0, 1, 2, -1]


def test_foreign_async_generator_without_hooks_is_closed_as_cpython_would() -> None:
    import gc

    async def awaits_after_yield() -> Any:
        try:
            yield 42
        finally:
            await lowio.lowlevel.cancel_shielded_checkpoint()

    reported: list[str] = []
    holder: list[Any] = []

    class StepOutsideTasks(lowio.abc.Instrument):
        def before_io_wait(self, timeout: float) -> None:
            if not holder:
                agen = awaits_after_yield()
                with pytest.raises(StopIteration):
                    agen.asend(None).send(None)  # first iterated outside any task
                holder.append(agen)

    async def main() -> None:
        await lowio.sleep(0.001)
        holder.clear()  # collected inside the run: our finalizer decides
        gc.collect()

    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda u: reported.append(str(u.exc_value))
    try:
        lowio.run(main, instruments=[StepOutsideTasks()])
    finally:
        sys.unraisablehook = old_hook
    assert any("awaited something during finalization" in r for r in reported), reported
