"""The task tree: ``current_root_task``, ``current_task`` and a task's
attributes (parent and child nurseries, coroutine, name), default task
names, ``repr`` and ``iter_await_frames``."""

from __future__ import annotations

from typing import Any

import lowio
from lowio.lowlevel import (
    current_root_task,
    current_task,
)
from lowio.testing import wait_all_tasks_blocked


def test_current_root_task_and_current_task_attributes() -> None:
    async def child(record: dict[str, Any]) -> None:
        me = current_task()
        record["name"] = me.name
        record["parent_nursery"] = me.parent_nursery
        record["coro_name"] = me.coro.cr_code.co_name  # type: ignore[attr-defined]

    async def main() -> None:
        root = current_root_task()
        assert root is not None
        assert root.parent_nursery is None
        assert root.eventual_parent_nursery is None
        me = current_task()
        assert me is not root
        assert me.parent_nursery is not None
        assert me.parent_nursery.parent_task is root
        assert me.coro.cr_code is main.__code__  # type: ignore[attr-defined]
        assert me.name.endswith("main")
        assert me.child_nurseries == []
        record: dict[str, Any] = {}
        async with lowio.open_nursery() as outer:
            assert me.child_nurseries == [outer]
            async with lowio.open_nursery() as inner:
                assert me.child_nurseries == [outer, inner]
                inner.start_soon(child, record, name="custom name")
            assert me.child_nurseries == [outer]
            assert outer.parent_task is me
        assert me.child_nurseries == []
        assert record == {
            "name": "custom name",
            "parent_nursery": inner,
            "coro_name": "child",
        }

    lowio.run(main)


def test_task_names_default_to_the_qualified_function_name() -> None:
    names: list[str] = []

    async def worker() -> None:
        names.append(current_task().name)

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(worker)
            nursery.start_soon(worker, name="explicit")
            nursery.start_soon(worker, name=42)

    lowio.run(main)
    [default] = [n for n in names if n.endswith("worker")]
    assert "test_task_names_default_to_the_qualified_function_name" in default
    assert sorted(names) == sorted([default, "explicit", "42"])


def test_task_repr_and_child_tasks() -> None:
    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(lowio.sleep_forever, name="sleeper")
            await wait_all_tasks_blocked()
            [task] = nursery.child_tasks
            assert "sleeper" in repr(task)
            frames = list(task.iter_await_frames())
            assert frames and frames[0][0].f_code.co_name == "sleep_forever"
            nursery.cancel_scope.cancel()
        assert nursery.child_tasks == frozenset()

    lowio.run(main)
