"""Instruments (``lowio.abc.Instrument`` and plain objects with hook
methods): the order of the hooks, the I/O-wait timeout, adding and
removing during a run, a raising instrument removed with a log, a hook
whose lookup raises, and ``after_run`` still inside the run."""

from __future__ import annotations

import itertools
import logging
from typing import Any

import pytest

import lowio
from lowio.lowlevel import (
    Instrument,
    Task,
    add_instrument,
    checkpoint,
    current_task,
    remove_instrument,
)
from lowio.testing import MockClock


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


def test_instrument_whose_hook_lookup_raises_is_not_installed() -> None:
    class Evil(lowio.abc.Instrument):
        def task_exited(self, task: object) -> None:
            raise AssertionError("never called")  # pragma: no cover

        @property
        def after_run(self) -> None:
            raise ValueError("oops")

    async def main() -> None:
        with pytest.raises(ValueError, match=r"^oops$"):
            lowio.lowlevel.add_instrument(Evil())
        instruments = lowio.lowlevel.current_task()._runner.instruments
        assert "task_exited" not in instruments
        assert "after_run" not in instruments
        assert not instruments

    lowio.run(main)


def test_after_run_sees_the_run() -> None:
    seen: list[tuple[str, bool, bool]] = []

    class Probe(lowio.abc.Instrument):
        def before_run(self) -> None:
            seen.append(("before", lowio.lowlevel.in_run(), lowio.lowlevel.in_task()))

        def after_run(self) -> None:
            seen.append(("after", lowio.lowlevel.in_run(), lowio.lowlevel.in_task()))

    async def main() -> None:
        pass

    lowio.run(main, instruments=[Probe()])
    assert seen == [("before", True, False), ("after", True, False)]
    assert not lowio.lowlevel.in_run()
