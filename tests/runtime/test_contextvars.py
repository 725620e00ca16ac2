"""Context variables in a run: the main task runs in a copy of the caller's
context, children copy their parent's at spawn, system tasks use the
run's own; and sniffio names lowio inside a run (whatever the spawner's
context or thread-local says) and raises outside."""

from __future__ import annotations

import contextvars
from typing import Any

import pytest
import sniffio

import lowio
from lowio._core import _library_name
from lowio.lowlevel import (
    checkpoint,
    spawn_system_task,
)
from lowio.testing import wait_all_tasks_blocked

cvar: contextvars.ContextVar[str] = contextvars.ContextVar("cvar", default="unset")


def test_main_task_sees_the_callers_context_but_does_not_leak_into_it() -> None:
    token = cvar.set("from caller")
    try:

        async def main() -> str:
            seen = cvar.get()
            cvar.set("changed in main")
            return seen

        assert lowio.run(main) == "from caller"
        assert cvar.get() == "from caller"
    finally:
        cvar.reset(token)


def test_children_copy_the_parents_context_at_spawn() -> None:
    record: list[tuple[str, str]] = []

    async def child(label: str) -> None:
        record.append((label, cvar.get()))
        cvar.set(f"set by {label}")
        await checkpoint()
        record.append((label + " after", cvar.get()))

    async def main() -> None:
        cvar.set("parent 1")
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(child, "a")
            cvar.set("parent 2")  # after spawning a: a must not see this
            nursery.start_soon(child, "b")
            await checkpoint()
            assert cvar.get() == "parent 2"
        assert cvar.get() == "parent 2"

    lowio.run(main)
    assert sorted(record) == [
        ("a", "parent 1"),
        ("a after", "set by a"),
        ("b", "parent 2"),
        ("b after", "set by b"),
    ]


def test_system_tasks_use_the_runs_context_not_the_spawners() -> None:
    seen: list[str] = []

    async def system() -> None:
        seen.append(cvar.get())

    async def main() -> None:
        cvar.set("main's value")
        spawn_system_task(system)
        await wait_all_tasks_blocked()

    lowio.run(main)
    assert seen == ["unset"]


def test_spawn_system_task_with_an_explicit_context() -> None:
    seen: list[str] = []

    async def system() -> None:
        seen.append(cvar.get())
        cvar.set("changed by the system task")

    async def main() -> None:
        ctx = contextvars.copy_context()
        ctx.run(cvar.set, "given context")
        spawn_system_task(system, context=ctx)
        await wait_all_tasks_blocked()
        assert ctx[cvar] == "changed by the system task"  # it ran in that very context

    lowio.run(main)
    assert seen == ["given context"]


def test_sniffio_says_lowio_inside_and_raises_outside() -> None:
    with pytest.raises(sniffio.AsyncLibraryNotFoundError):
        sniffio.current_async_library()
    seen: list[str] = []

    async def child() -> None:
        seen.append(sniffio.current_async_library())

    async def main() -> None:
        seen.append(sniffio.current_async_library())
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(child)
        spawn_system_task(child)
        await wait_all_tasks_blocked()

    lowio.run(main)
    assert seen == ["lowio", "lowio", "lowio"]
    with pytest.raises(sniffio.AsyncLibraryNotFoundError):
        sniffio.current_async_library()


def test_spawned_function_sees_lowio_whatever_the_spawner_set() -> None:
    import sniffio

    seen: list[str] = []

    def returns_coroutine() -> Any:
        seen.append(sniffio.current_async_library())
        return lowio.sleep(0)

    async def main() -> None:
        local = sniffio.thread_local
        async with lowio.open_nursery() as nursery:
            previous, local.name = local.name, "nullio"
            try:
                nursery.start_soon(returns_coroutine)
            finally:
                local.name = previous

    lowio.run(main)
    assert seen == [_library_name.library_name()]
