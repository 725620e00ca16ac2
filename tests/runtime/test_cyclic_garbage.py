"""Errors and cancellation leave no cyclic garbage (CPython): a failing
child, cancelled nurseries and scopes, timeouts; a cancelled task's
locals are freed at once."""

from __future__ import annotations

import gc
import sys
from typing import NoReturn

import pytest
from conftest import no_cyclic_garbage

import lowio
from lowio.lowlevel import (
    checkpoint,
)
from lowio.testing import MockClock, wait_all_tasks_blocked

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="refcounting only")
def test_a_failing_child_creates_no_cyclic_garbage() -> None:
    async def crasher() -> NoReturn:
        raise ValueError("crash")

    async def main() -> None:
        await checkpoint()
        with no_cyclic_garbage():
            try:
                async with lowio.open_nursery() as nursery:
                    nursery.start_soon(crasher)
                    nursery.start_soon(lowio.sleep_forever)
            except BaseExceptionGroup as group:
                assert isinstance(group.exceptions[0], ValueError)

    lowio.run(main)


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="refcounting only")
def test_a_cancelled_nursery_creates_no_cyclic_garbage() -> None:
    async def crasher() -> NoReturn:
        raise ValueError("crash")

    async def main() -> None:
        await checkpoint()
        with no_cyclic_garbage():
            # an outer scope that filters Cancelled out of a group
            try:
                with lowio.CancelScope() as outer:
                    async with lowio.open_nursery() as nursery:
                        nursery.start_soon(lowio.sleep_forever)
                        outer.cancel()
                        nursery.start_soon(crasher)
            except BaseExceptionGroup as group:
                assert [type(e) for e in group.exceptions] == [ValueError]
            # a plain cancelled nursery
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(lowio.sleep_forever)
                nursery.cancel_scope.cancel()
            # cancelled scopes, a timeout and a fail_after
            with lowio.CancelScope() as scope:
                scope.cancel()
                await lowio.sleep_forever()
            with lowio.move_on_after(0.001):
                await lowio.sleep_forever()
            try:
                with lowio.fail_after(0.001):
                    await lowio.sleep_forever()
            except lowio.TooSlowError:
                pass

    lowio.run(main, clock=MockClock(autojump_threshold=0))


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="refcounting only")
def test_locals_of_a_cancelled_task_are_freed_promptly() -> None:
    freed: list[bool] = []

    class Marker:
        def __del__(self) -> None:
            freed.append(True)

    async def holder() -> None:
        marker = Marker()
        await lowio.sleep_forever()
        del marker  # pragma: no cover

    async def main() -> None:
        gc.disable()
        try:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(holder)
                await wait_all_tasks_blocked()
                nursery.cancel_scope.cancel()
            assert freed == [True]
        finally:
            gc.enable()

    lowio.run(main)
