"""The I/O manager's event hand-out: ``_io_core.dispatch`` (C, runs without
instruments) and the Python loop of ``IOManager._process`` (with
instruments) decide the same for every kind of event."""

from __future__ import annotations

import array
from typing import Any

import pytest

import lowio
from lowio import socket as lsocket
from lowio._core import _io_core
from lowio._core._io import (
    FLAG_MASK,
    HELD,
    READ_BITS,
    SHIFT,
    SLOT_BITS,
    UNSURE_BITS,
    WRITE_BITS,
    FdState,
    IOManager,
)
from lowio._core._task import Task
from lowio.poll import flags

SLOT = 5
TOKEN = 3 << SLOT_BITS | SLOT


def _packed(*values: int) -> memoryview:
    return memoryview(array.array("Q", values)).cast("B").cast("Q")


def _event(token: int, bits: int) -> int:
    return token << SHIFT | bits


def _parked_task() -> Task:
    task = Task.__new__(Task)

    def send(value: Any) -> None:
        raise AssertionError("never stepped")

    task._send = send
    task._fn = task._throw = send  # type: ignore[assignment]
    task._arg = "parked"
    task._abort = lambda _: None  # type: ignore[assignment,return-value]
    task.custom_sleep_data = "sleeping"
    return task


def _state(read_task: Any = None, write_task: Any = None) -> FdState:
    state = FdState(10, SLOT, TOKEN)
    state.read_task = read_task
    state.write_task = write_task
    return state


class _Runner:
    """What ``IOManager._process`` uses of the runner."""

    def __init__(self, instrumented: bool) -> None:
        self.runq: list[Task] = []
        self.scheduled: list[Task] = []
        self.instruments = self

    @property
    def active(self) -> bool:
        return self._instrumented

    def call(self, hook: str, task: Task) -> None:
        assert hook == "task_scheduled"
        self.scheduled.append(task)


def _process(instrumented: bool, slots: list[Any], *values: int) -> _Runner:
    runner = _Runner(instrumented)
    runner._instrumented = instrumented  # type: ignore[attr-defined]
    manager = IOManager.__new__(IOManager)
    manager._runner = runner  # type: ignore[assignment]
    manager._slots = slots
    manager._process(_packed(*values))
    return runner


BOTH = pytest.mark.parametrize("instrumented", [False, True], ids=["C", "Python"])


def _woken(task: Task) -> None:
    assert task._fn == task._send and task._arg is None
    assert task._abort is None and task.custom_sleep_data is None


@BOTH
def test_a_parked_reader_is_woken(instrumented: bool) -> None:
    lowio.run(lowio.sleep, 0)  # configures the C side (an IOManager was made)
    task = _parked_task()
    state = _state(read_task=task)
    slots: list[Any] = [None] * (SLOT + 1)
    slots[SLOT] = state
    runner = _process(instrumented, slots, _event(TOKEN, flags.IN))
    assert runner.runq == [task] and state.read_task is None
    assert not state.read_ready and not state.read_unsure
    _woken(task)
    assert runner.scheduled == ([task] if instrumented else [])


@BOTH
def test_nobody_waiting_or_held_sets_ready(instrumented: bool) -> None:
    lowio.run(lowio.sleep, 0)
    state = _state(read_task=HELD)
    slots: list[Any] = [None] * (SLOT + 1)
    slots[SLOT] = state
    runner = _process(instrumented, slots, _event(TOKEN, flags.IN | flags.OUT))
    assert runner.runq == []
    assert state.read_ready and state.write_ready and state.read_task is HELD


@BOTH
def test_one_event_wakes_both_directions(instrumented: bool) -> None:
    lowio.run(lowio.sleep, 0)
    reader, writer = _parked_task(), _parked_task()
    state = _state(reader, writer)
    slots: list[Any] = [None] * (SLOT + 1)
    slots[SLOT] = state
    runner = _process(instrumented, slots, _event(TOKEN, flags.IN | flags.OUT))
    assert runner.runq == [reader, writer]
    assert state.read_task is None and state.write_task is None
    _woken(reader)
    _woken(writer)


@BOTH
@pytest.mark.parametrize("bit", [flags.ERR, flags.HUP, flags.RDHUP, flags.PRI])
def test_eof_error_and_urgent_data_make_reads_unsure(instrumented: bool, bit: int) -> None:
    lowio.run(lowio.sleep, 0)
    assert bit & UNSURE_BITS and bit & READ_BITS
    state = _state()
    slots: list[Any] = [None] * (SLOT + 1)
    slots[SLOT] = state
    _process(instrumented, slots, _event(TOKEN, bit))
    assert state.read_unsure and state.read_ready
    assert state.write_ready == bool(bit & WRITE_BITS)


@BOTH
def test_stale_unknown_and_out_of_range_events_are_dropped(instrumented: bool) -> None:
    lowio.run(lowio.sleep, 0)
    task = _parked_task()
    state = _state(read_task=task)
    slots: list[Any] = [None] * (SLOT + 1)
    slots[SLOT] = state
    stale = 2 << SLOT_BITS | SLOT  # an older generation of the same slot
    values = [_event(stale, flags.IN), _event(0, flags.IN), _event(1, flags.IN)]
    runner = _process(instrumented, slots, *values)
    assert runner.runq == [] and state.read_task is task and not state.read_ready
    if not instrumented:  # (the Python loop would raise IndexError)
        _io_core.dispatch(_packed(_event(SLOT + 7, flags.IN)), slots, runner.runq)
        assert runner.runq == []


def test_flag_bits_outside_the_mask_are_ignored() -> None:
    lowio.run(lowio.sleep, 0)
    state = _state()
    slots: list[Any] = [None] * (SLOT + 1)
    slots[SLOT] = state
    _io_core.dispatch(_packed(_event(TOKEN, ~FLAG_MASK & ((1 << SHIFT) - 1))), slots, [])
    assert not state.read_ready and not state.write_ready


def test_dispatch_refuses_bad_arguments() -> None:
    lowio.run(lowio.sleep, 0)
    with pytest.raises(TypeError, match="dispatch"):
        _io_core.dispatch(_packed(), (), [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not an FdState"):
        _io_core.dispatch(_packed(_event(TOKEN, flags.IN)), [None] * SLOT + [object()], [])
    state = _state(read_task=object())  # truthy, not a task
    with pytest.raises(TypeError, match="not a Task"):
        _io_core.dispatch(_packed(_event(TOKEN, flags.IN)), [None] * SLOT + [state], [])
    with pytest.raises(TypeError, match="not a __slots__ attribute"):
        _io_core.configure(object, Task, SHIFT, 1, 1, 1, 1, 1)


class _Scheduled:
    def __init__(self) -> None:
        self.count = 0

    def task_scheduled(self, task: Task) -> None:
        self.count += 1


def test_socket_ping_pong_with_instruments_takes_the_python_loop() -> None:
    counter = _Scheduled()

    async def main() -> None:
        a, b = lsocket.socketpair()
        with a, b:

            async def echo() -> None:
                for _ in range(50):
                    await b.send(await b.recv(10))

            async with lowio.open_nursery() as nursery:
                nursery.start_soon(echo)
                for i in range(50):
                    await a.send(bytes([i]))
                    assert await a.recv(10) == bytes([i])

    lowio.run(main, instruments=[counter])
    assert counter.count >= 100  # the I/O wake-ups reached the hook too


def test_dispatch_reads_only_the_first_count_entries() -> None:
    """The run loop passes the whole buffer and a prepared wait's count."""
    lowio.run(lowio.sleep, 0)
    first, second = _parked_task(), _parked_task()
    state = _state(read_task=first, write_task=second)
    slots: list[Any] = [None] * (SLOT + 1)
    slots[SLOT] = state
    runq: list[Task] = []
    buffer = _packed(_event(TOKEN, flags.IN), _event(TOKEN, flags.OUT))
    _io_core.dispatch(buffer, slots, runq, 1)
    assert runq == [first] and state.write_task is second
    _io_core.dispatch(buffer, slots, runq, 0)
    assert runq == [first]
    _io_core.dispatch(buffer, slots, runq, 99)  # more than the buffer holds: all of it
    assert runq == [first, second]
    with pytest.raises(ValueError, match="count"):
        _io_core.dispatch(buffer, slots, runq, -1)
    with pytest.raises(TypeError):
        _io_core.dispatch(buffer, slots, runq, "1")  # type: ignore[arg-type]
