"""Lending a task's coroutine to another coroutine runner: permanently,
and temporarily with reattachment (including cancellation meanwhile)."""

from __future__ import annotations

import sys
import types
from collections.abc import Generator
from typing import Any

import pytest

import lowio
from lowio._core._outcome import Error, Value
from lowio.lowlevel import (
    Abort,
    Task,
    current_task,
    permanently_detach_coroutine_object,
    reattach_detached_coroutine_object,
    temporarily_detach_coroutine_object,
)

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup


@types.coroutine
def foreign_yield(value: object) -> Generator[Any, Any, Any]:
    return (yield value)


def test_permanent_detach_counts_as_exit_and_leaves_the_coroutine() -> None:
    tasks: list[Task] = []
    got: list[object] = []

    async def detaching(final: Any) -> None:
        tasks.append(current_task())
        got.append(await permanently_detach_coroutine_object(final))
        await foreign_yield("outside")

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(detaching, Value(None))
        assert tasks[0].coro.send("first") == "outside"
        assert got == ["first"]
        with pytest.raises(StopIteration):
            tasks[0].coro.send(None)

        tasks.clear()
        with pytest.raises(ExceptionGroup) as info:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(detaching, Error(KeyError("k")))
        assert [type(e) for e in info.value.exceptions] == [KeyError]
        tasks[0].coro.close()

        async with lowio.open_nursery():
            with pytest.raises(RuntimeError, match="open nurser"):
                await permanently_detach_coroutine_object(Value(None))
        with pytest.raises(TypeError, match="outcome"):
            await permanently_detach_coroutine_object("not an outcome")

    lowio.run(main)


def test_temporary_detach_and_reattach() -> None:
    tasks: list[Task] = []
    aborted: list[bool] = []

    def abort(_: object) -> Abort:
        aborted.append(True)
        return Abort.FAILED

    async def lent(other: Task) -> None:
        await lowio.sleep(0)
        task = current_task()
        tasks.append(task)
        assert await temporarily_detach_coroutine_object(abort) == "hello"
        await foreign_yield(1)
        with pytest.raises(RuntimeError, match="does not match"):
            await reattach_detached_coroutine_object(other, None)
        await reattach_detached_coroutine_object(task, "bye")
        with pytest.raises(lowio.Cancelled):
            await lowio.sleep(0)

    async def main() -> None:
        unrelated: list[Task] = []

        async def record_self() -> None:
            unrelated.append(current_task())

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(record_self)
            await lowio.testing.wait_all_tasks_blocked()
            # (not the main task: it runs the coroutine, so it looks "calling")
            nursery.start_soon(lent, unrelated[0])
            await lowio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()  # the abort function says FAILED
            assert aborted == [True]
            coro = tasks[0].coro
            assert coro.send("hello") == 1
            assert coro.send(None) == "bye"
            # back in lowio: its next checkpoint sees the cancellation

    lowio.run(main)
