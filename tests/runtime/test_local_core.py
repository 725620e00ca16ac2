"""``PerThread`` (``_local_core.c``), the base of the run context: per-thread
attributes like ``threading.local``'s, with the last thread's dictionary
remembered.  Each case where the remembered dictionary would be the wrong
one (another thread, a thread that ended, a new thread) is driven here."""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any

import pytest

import lowio
from lowio._core._local import GLOBAL_RUN_CONTEXT, RunContext
from lowio._core._local_core import PerThread


class Slots(PerThread):
    __slots__ = ()
    value: Any = "default"


class Token:
    pass


def in_thread(fn: Any) -> Any:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(fn()))
    thread.start()
    thread.join()
    return result[0]


def test_each_thread_sees_its_own_attributes() -> None:
    slots = Slots()
    slots.value = "main"
    assert in_thread(lambda: slots.value) == "default"

    def set_and_read() -> Any:
        slots.value = "other"
        return slots.value, slots.__dict__

    assert in_thread(set_and_read) == ("other", {"value": "other"})
    assert slots.value == "main"
    assert slots.__dict__ == {"value": "main"}


def test_threads_taking_turns() -> None:
    slots = Slots()
    barrier = threading.Barrier(2)
    seen: list[tuple[str, Any]] = []

    def worker(name: str) -> None:
        slots.value = name
        for _ in range(50):
            barrier.wait()
            seen.append((name, slots.value))

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(name == value for name, value in seen)
    assert len(seen) == 100


def test_a_new_thread_does_not_see_an_ended_threads_attributes() -> None:
    slots = Slots()
    for n in range(20):

        def set_then_end(n: int = n) -> Any:
            before = slots.value
            slots.value = n
            return before

        assert in_thread(set_then_end) == "default"
    assert slots.value == "default"


def test_an_ended_threads_values_are_released() -> None:
    slots = Slots()

    def keep() -> weakref.ref[Token]:
        token = Token()
        slots.value = token
        return weakref.ref(token)

    ref = in_thread(keep)
    # the object remembers the ended thread's dictionary until another
    # thread uses it
    assert slots.value == "default"
    gc.collect()
    assert ref() is None


def test_deleting_and_bad_names() -> None:
    slots = Slots()
    with pytest.raises(AttributeError, match="no attribute 'value'"):
        del slots.value
    slots.value = 1
    del slots.value
    assert slots.value == "default"
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        slots.missing  # noqa: B018
    with pytest.raises(AttributeError, match="read-only"):
        slots.__dict__ = {}  # type: ignore[misc]
    with pytest.raises(AttributeError, match="read-only"):
        slots.__class__ = Slots
    with pytest.raises(TypeError, match="attribute name must be"):
        setattr(slots, 1, 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes no arguments"):
        Slots(1)  # type: ignore[call-arg]
    assert slots.__dict__ == {}


def test_the_run_context_inside_and_outside_a_run() -> None:
    assert isinstance(GLOBAL_RUN_CONTEXT, RunContext)
    assert GLOBAL_RUN_CONTEXT.task is None

    async def main() -> None:
        task = lowio.lowlevel.current_task()
        assert GLOBAL_RUN_CONTEXT.task is task
        # a worker thread is in no run
        assert await lowio.to_thread.run_sync(lambda: GLOBAL_RUN_CONTEXT.task) is None
        assert GLOBAL_RUN_CONTEXT.task is task

    lowio.run(main)
    assert GLOBAL_RUN_CONTEXT.task is None
    assert GLOBAL_RUN_CONTEXT.runner is None


def test_runs_in_two_threads_at_once() -> None:
    results: dict[str, bool] = {}
    ready = threading.Barrier(2)

    def run(name: str) -> None:
        async def main() -> None:
            task = lowio.lowlevel.current_task()
            ready.wait()
            for _ in range(200):
                await lowio.sleep(0)
                assert lowio.lowlevel.current_task() is task
            results[name] = True

        lowio.run(main)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"a": True, "b": True}
