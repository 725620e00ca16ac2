"""``lowio.lowlevel.spawn_system_task``: a system task lives until the main
task ends and is then cancelled; one that crashes ends the run with
``LowioInternalError`` (its error in the cause); sync functions are
refused."""

from __future__ import annotations

import sys
from typing import NoReturn

import pytest
from _exception_helpers import cause_chain

import lowio
from lowio.lowlevel import (
    current_task,
    spawn_system_task,
)
from lowio.testing import wait_all_tasks_blocked

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup


def test_system_task_runs_until_main_ends_then_is_cancelled() -> None:
    record: list[str] = []

    async def system(x: int) -> None:
        record.append(f"started {x}")
        try:
            await lowio.sleep_forever()
        except lowio.Cancelled:
            record.append("cancelled")
            raise

    async def main() -> str:
        task = spawn_system_task(system, 7, name="sys")
        assert task.name == "sys"
        assert task.parent_nursery is not current_task().parent_nursery
        await wait_all_tasks_blocked()
        await lowio.sleep(0)
        assert record == ["started 7"]  # still alive while main runs
        return "main done"

    assert lowio.run(main) == "main done"
    assert record == ["started 7", "cancelled"]


def test_crashing_system_task_ends_the_run_with_internal_error() -> None:
    record: list[str] = []

    async def crasher() -> NoReturn:
        raise KeyError("system boom")

    async def main() -> None:
        spawn_system_task(crasher)
        try:
            await lowio.sleep_forever()
        except lowio.Cancelled:
            record.append("main cancelled")
            raise

    with pytest.raises(lowio.LowioInternalError) as info:
        lowio.run(main)
    assert record == ["main cancelled"]
    assert any(isinstance(e, KeyError) for e in cause_chain(info.value))


def test_spawn_system_task_rejects_sync_functions() -> None:
    def sync_fn() -> None:
        pass

    async def main() -> None:
        with pytest.raises(TypeError):
            spawn_system_task(sync_fn)  # type: ignore[arg-type]

    lowio.run(main)


def test_system_task_crash_cause_is_wrapped_as_in_trio() -> None:
    async def crasher() -> None:
        raise KeyError("k")

    async def main() -> None:
        lowio.lowlevel.spawn_system_task(crasher)
        await lowio.sleep_forever()

    with pytest.raises(lowio.LowioInternalError) as info:
        lowio.run(main)
    cause = info.value.__cause__
    # the system nursery's group inside the outer (run_sync_soon) nursery's
    assert isinstance(cause, BaseExceptionGroup)
    (inner,) = cause.exceptions
    assert isinstance(inner, BaseExceptionGroup)
    assert [type(e) for e in inner.exceptions] == [KeyError]
