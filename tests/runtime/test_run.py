"""``lowio.run`` and the run-wide machinery around it: argument checking,
foreign awaitables, contextvars, sniffio, async-generator finalization,
instruments, statistics, the task tree, system tasks, ``run_sync_soon``,
garbage from exceptions and Ctrl-C."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import itertools
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types
import warnings
from collections.abc import AsyncGenerator, Iterator
from typing import Any, NoReturn

import pytest
import sniffio
from conftest import no_cyclic_garbage

import lowio
from lowio.lowlevel import (
    Instrument,
    Task,
    add_instrument,
    checkpoint,
    current_root_task,
    current_statistics,
    current_task,
    current_token,
    remove_instrument,
    spawn_system_task,
)
from lowio.testing import MockClock, wait_all_tasks_blocked

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup


def leaves(exc: BaseException) -> list[BaseException]:
    """The non-group exceptions inside ``exc``, depth first."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


def cause_chain(exc: BaseException | None) -> list[BaseException]:
    """``exc`` and everything reachable from it through ``__cause__`` and
    group members."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo.append(current.__cause__)
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
    return seen


# ---- run: value, errors, arguments ----


def test_run_returns_the_value_and_passes_positional_args() -> None:
    async def main(a: int, b: str, *, c: int = 0) -> tuple[int, str, int]:
        await checkpoint()
        return a, b, c

    assert lowio.run(main, 1, "two") == (1, "two", 0)


def test_run_raises_the_main_task_exception_unwrapped() -> None:
    error = KeyError("the one")

    async def main() -> NoReturn:
        await checkpoint()
        raise error

    with pytest.raises(KeyError) as info:
        lowio.run(main)
    assert info.value is error


def test_run_propagates_base_exceptions_from_main() -> None:
    class Custom(BaseException):
        pass

    async def main() -> NoReturn:
        raise Custom

    with pytest.raises(Custom):
        lowio.run(main)


def test_run_can_run_again_after_a_crash() -> None:
    async def crash() -> NoReturn:
        raise ValueError

    async def fine() -> str:
        await lowio.sleep(0)
        return "ok"

    with pytest.raises(ValueError):
        lowio.run(crash)
    assert lowio.run(fine) == "ok"


def test_run_rejects_a_sync_function_with_a_hint() -> None:
    def sync_fn() -> int:
        return 1

    with pytest.raises(TypeError, match=r"async function") as info:
        lowio.run(sync_fn)  # type: ignore[arg-type]
    assert "synchronous" in str(info.value)


def test_run_rejects_a_coroutine_object_and_closes_it() -> None:
    async def main() -> None:
        pass

    coro = main()
    with pytest.raises(TypeError, match=r"coroutine object") as info:
        lowio.run(coro)  # type: ignore[arg-type]
    assert "parentheses" in str(info.value) or "(...)" in str(info.value)
    # closed, so no "never awaited" warning later
    assert coro.cr_frame is None


def test_run_rejects_an_async_generator_function() -> None:
    async def agen() -> AsyncGenerator[int, None]:
        yield 1

    with pytest.raises(TypeError, match=r"async generator"):
        lowio.run(agen)  # type: ignore[arg-type]


def test_start_soon_rejects_non_async_functions_at_the_call() -> None:
    def sync_fn() -> None:
        pass

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            with pytest.raises(TypeError, match=r"async function"):
                nursery.start_soon(sync_fn)  # type: ignore[arg-type]
            coro = lowio.sleep(0)
            with pytest.raises(TypeError, match=r"coroutine object"):
                nursery.start_soon(coro)  # type: ignore[arg-type]
            assert nursery.child_tasks == frozenset()

    lowio.run(main)


def test_run_inside_a_run_raises_runtime_error() -> None:
    async def inner() -> None:
        pass  # pragma: no cover

    async def main() -> str:
        with pytest.raises(RuntimeError, match=r"inside"):
            lowio.run(inner)
        await checkpoint()
        return "still fine"

    assert lowio.run(main) == "still fine"


def test_accessors_outside_a_run_raise_runtime_error() -> None:
    for accessor in (
        current_task,
        lowio.current_time,
        current_token,
        current_statistics,
        current_root_task,
        lowio.current_effective_deadline,
    ):
        with pytest.raises(RuntimeError):
            accessor()


# ---- foreign awaitables ----


def test_awaiting_an_asyncio_future_is_a_clear_type_error() -> None:
    loop = asyncio.new_event_loop()
    try:

        async def main() -> str:
            fut = loop.create_future()
            with pytest.raises(TypeError, match=r"asyncio"):
                await fut
            await checkpoint()  # the task still works afterwards
            return "survived"

        assert lowio.run(main) == "survived"
    finally:
        loop.close()


def test_a_bare_yield_awaitable_is_a_type_error_not_a_hang() -> None:
    @types.coroutine
    def bare_yield() -> Iterator[None]:
        yield

    @types.coroutine
    def yield_a_class() -> Iterator[type]:
        yield int

    async def main() -> None:
        with pytest.raises(TypeError, match=r"unrecognized yield message"):
            await bare_yield()
        with pytest.raises(TypeError, match=r"unrecognized yield message"):
            await yield_a_class()

    lowio.run(main)


def test_unhandled_foreign_yield_crashes_the_run_not_hangs() -> None:
    @types.coroutine
    def bare_yield() -> Iterator[str]:
        yield "hello"

    async def child() -> None:
        await bare_yield()

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(child)
            await lowio.sleep_forever()

    with pytest.raises(BaseExceptionGroup) as info:
        lowio.run(main)
    [exc] = leaves(info.value)
    assert isinstance(exc, TypeError)


# ---- contextvars ----

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


# ---- sniffio ----


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


# ---- async generators ----


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


# ---- instruments ----


class Recorder(Instrument):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def before_run(self) -> None:
        self.events.append(("before_run", None))

    def after_run(self) -> None:
        self.events.append(("after_run", None))

    def task_spawned(self, task: Task) -> None:
        self.events.append(("spawned", task))

    def task_scheduled(self, task: Task) -> None:
        self.events.append(("scheduled", task))

    def before_task_step(self, task: Task) -> None:
        assert task is current_task()
        self.events.append(("before", task))

    def after_task_step(self, task: Task) -> None:
        assert task is current_task()
        self.events.append(("after", task))

    def task_exited(self, task: Task) -> None:
        self.events.append(("exited", task))

    def before_io_wait(self, timeout: float) -> None:
        self.events.append(("before_io_wait", timeout))

    def after_io_wait(self, timeout: float) -> None:
        self.events.append(("after_io_wait", timeout))

    def for_task(self, task: Task) -> list[str]:
        return [kind for kind, arg in self.events if arg is task]


def test_instrument_hooks_are_called_in_order() -> None:
    recorder = Recorder()
    child_task: list[Task] = []

    async def child() -> None:
        child_task.append(current_task())
        await checkpoint()
        await checkpoint()

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(child)

    lowio.run(main, instruments=[recorder])
    kinds = [kind for kind, _ in recorder.events]
    assert kinds[0] == "before_run"
    assert kinds[-1] == "after_run"
    (task,) = child_task
    # three steps (start, after each checkpoint); a checkpoint reschedules
    # the task before after_task_step fires, and the last step reports the
    # exit before after_task_step, as in trio
    assert recorder.for_task(task) == [
        "spawned",
        "scheduled",
        "before",
        "scheduled",
        "after",
        "before",
        "scheduled",
        "after",
        "before",
        "exited",
        "after",
    ]


def test_io_wait_hooks_get_the_timeout() -> None:
    recorder = Recorder()

    async def main() -> None:
        await lowio.sleep(10)

    lowio.run(main, clock=MockClock(autojump_threshold=0), instruments=[recorder])
    timeouts = [arg for kind, arg in recorder.events if kind == "before_io_wait"]
    assert timeouts and all(isinstance(t, float | int) and t >= 0 for t in timeouts)
    befores = [arg for kind, arg in recorder.events if kind == "before_io_wait"]
    afters = [arg for kind, arg in recorder.events if kind == "after_io_wait"]
    assert befores == afters


def test_add_and_remove_instruments_during_the_run() -> None:
    first = Recorder()
    second = Recorder()

    async def main() -> None:
        add_instrument(second)
        add_instrument(second)  # idempotent
        await checkpoint()
        remove_instrument(first)
        with pytest.raises(KeyError):
            remove_instrument(first)
        n_first = len(first.events)
        await checkpoint()
        assert len(first.events) == n_first
        remove_instrument(second)
        n_second = len(second.events)
        await checkpoint()
        assert len(second.events) == n_second

    lowio.run(main, instruments=[first])
    assert first.events[0] == ("before_run", None)
    assert ("before_run", None) not in second.events
    # each hook ran once per event even though the instrument was added twice
    assert second.events
    assert all(a != b for a, b in itertools.pairwise(second.events))


def test_a_raising_instrument_is_removed_and_the_run_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    class Broken(Instrument):
        def before_task_step(self, task: Task) -> None:
            calls.append("before_task_step")
            raise RuntimeError("instrument bug")

        def after_run(self) -> None:
            calls.append("after_run")  # pragma: no cover

    healthy = Recorder()

    async def main() -> str:
        for _ in range(5):
            await checkpoint()
        return "done"

    with caplog.at_level(logging.ERROR):
        assert lowio.run(main, instruments=[Broken(), healthy]) == "done"
    assert calls == ["before_task_step"]  # removed after the first failure
    assert healthy.events[-1] == ("after_run", None)
    assert any("before_task_step" in r.getMessage() for r in caplog.records)


def test_plain_objects_can_be_instruments() -> None:
    seen: list[str] = []

    class Duck:
        def before_run(self) -> None:
            seen.append("before_run")

        def after_run(self) -> None:
            seen.append("after_run")

    async def main() -> None:
        await checkpoint()

    lowio.run(main, instruments=[Duck()])
    assert seen == ["before_run", "after_run"]


# ---- statistics ----


def test_current_statistics() -> None:
    async def child() -> None:
        await lowio.sleep_forever()

    async def main() -> None:
        await wait_all_tasks_blocked()
        base = current_statistics()
        assert base.tasks_living >= 2  # at least the root task and us
        assert base.seconds_to_next_deadline == float("inf")
        assert base.run_sync_soon_queue_size == 0
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(child)
            nursery.start_soon(child)
            await wait_all_tasks_blocked()
            stats = current_statistics()
            assert stats.tasks_living == base.tasks_living + 2
            assert stats.tasks_runnable == 0
            current_token().run_sync_soon(lambda: None)
            current_token().run_sync_soon(lambda: None, idempotent=True)
            assert current_statistics().run_sync_soon_queue_size == 2
            nursery.cancel_scope.cancel()
            assert current_statistics().tasks_runnable == 2
        await checkpoint()
        assert current_statistics().tasks_living == base.tasks_living
        with lowio.CancelScope(deadline=lowio.current_time() + 5):
            assert current_statistics().seconds_to_next_deadline == 5
            with lowio.CancelScope(deadline=lowio.current_time() + 2):
                assert current_statistics().seconds_to_next_deadline == 2
            assert current_statistics().seconds_to_next_deadline == 5
        assert current_statistics().seconds_to_next_deadline == float("inf")

    lowio.run(main, clock=MockClock())


def test_statistics_repr_mentions_the_fields() -> None:
    async def main() -> str:
        return repr(current_statistics())

    text = lowio.run(main)
    for field in ("tasks_living", "tasks_runnable", "seconds_to_next_deadline"):
        assert field in text


# ---- the task tree ----


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


# ---- system tasks ----


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


# ---- run_sync_soon ----


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


# ---- no cyclic garbage ----


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


# ---- KeyboardInterrupt (in a child process) ----

KI_PRELUDE = """
import os, signal, sys, threading, time
import lowio

started = threading.Event()

def send_sigint_when_started():
    started.wait(20)
    time.sleep(0.2)
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=send_sigint_when_started, daemon=True).start()

def report(exc):
    group = getattr(exc, "exceptions", None)
    if isinstance(exc, KeyboardInterrupt):
        print("KI")
    elif group is not None and exc.subgroup(KeyboardInterrupt) is not None:
        print("KI-in-group")
    else:
        print("OTHER", repr(exc))
"""


KI_RUN = """
try:
    lowio.run(main)
except BaseException as exc:
    report(exc)
else:
    print("returned normally")
"""


def run_child(body: str) -> list[str]:
    """Run ``body`` (which defines ``main``) under lowio in a child process
    that sends itself SIGINT once ``started`` is set; return the words it
    printed, the last being the outcome reported by ``report``."""
    script = KI_PRELUDE + textwrap.dedent(body) + KI_RUN
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_ctrl_c_while_blocked_in_sleep_forever_ends_the_run() -> None:
    words = run_child(
        """
        async def sleeper():
            try:
                await lowio.sleep_forever()
            finally:
                print("sleeper unwound")

        async def main():
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(sleeper)
                started.set()
                await lowio.sleep_forever()
        """
    )
    assert "sleeper" in words and words[-1] in ("KI", "KI-in-group"), words


def test_ctrl_c_while_main_blocks_alone_raises_bare_keyboard_interrupt() -> None:
    words = run_child(
        """
        async def main():
            started.set()
            await lowio.sleep_forever()
        """
    )
    assert words == ["KI"], words


def test_ctrl_c_interrupts_a_task_spinning_without_checkpoints() -> None:
    words = run_child(
        """
        async def main():
            started.set()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                pass
            print("spin finished without interruption")
        """
    )
    assert words == ["KI"], words


def test_ctrl_c_interrupts_a_spinning_child_task() -> None:
    words = run_child(
        """
        async def spinner():
            started.set()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                pass

        async def main():
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(spinner)
        """
    )
    assert words[-1] in ("KI", "KI-in-group"), words


def test_ctrl_c_in_a_system_task_goes_to_the_main_task() -> None:
    # system tasks are protected, as in trio: the run ends with a plain
    # KeyboardInterrupt, not a crashed system task (LowioInternalError)
    words = run_child(
        """
        from lowio.lowlevel import spawn_system_task

        async def spinner():
            started.set()
            deadline = time.monotonic() + 1
            while time.monotonic() < deadline:
                pass
            await lowio.sleep(0)

        async def main():
            spawn_system_task(spinner)
            await lowio.sleep(20)
        """
    )
    assert words == ["KI"], words


def test_sigint_handler_is_restored_after_the_run() -> None:
    async def main() -> object:
        return signal.getsignal(signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    during = lowio.run(main)
    assert signal.getsignal(signal.SIGINT) is before
    if before is signal.default_int_handler:
        assert during is not before  # lowio installed its own while running


def test_a_custom_sigint_handler_is_left_alone() -> None:
    def mine(signum: int, frame: object) -> None:
        pass  # pragma: no cover

    old = signal.signal(signal.SIGINT, mine)
    try:

        async def main() -> object:
            return signal.getsignal(signal.SIGINT)

        assert lowio.run(main) is mine
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, old)


def test_run_in_a_thread_does_not_touch_signals() -> None:
    results: list[object] = []

    async def main() -> str:
        await lowio.sleep(0)
        return sniffio.current_async_library()

    thread = threading.Thread(target=lambda: results.append(lowio.run(main)))
    thread.start()
    thread.join(30)
    assert results == ["lowio"]
    assert os.getpid() > 0


def test_ctrl_c_during_an_uncancellable_wait_is_kept_for_the_next_checkpoint() -> None:
    """A wait that refuses the abort (a worker thread that cannot be
    abandoned) must not lose the KeyboardInterrupt: it arrives at the main
    task's next checkpoint, as in trio."""
    words = run_child(
        """
        import time

        def worker():
            started.set()
            time.sleep(0.3)  # Ctrl-C arrives meanwhile
            return 1

        async def main():
            await lowio.to_thread.run_sync(worker)
            print("worker done")
            await lowio.sleep(0)
            print("not interrupted")
        """
    )
    assert words == ["worker", "done", "KI"], words
