"""The scheduler's step loop: what a task finds after a checkpoint
(``custom_sleep_data`` cleared), how an exception it is woken with reaches
it (raised inside the waiting frame, so that ``__context__`` and
``sys.exc_info()`` are right; CPython bpo-40694), and the I/O wait inlined
in the loop (instruments, callbacks and timers still see every wait); the
order within a batch (not promised: half of the batches run backwards,
reproducibly for a seed)."""

from __future__ import annotations

import socket
import sys
from contextlib import suppress
from typing import Any

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

import hypothesis
import outcome
import pytest
from conftest import no_cyclic_garbage

import lowio
from lowio._core._schedule_order import SCHEDULING_RNG
from lowio.lowlevel import (
    Abort,
    Task,
    cancel_shielded_checkpoint,
    checkpoint,
    current_task,
    reschedule,
    wait_readable,
    wait_task_rescheduled,
)
from lowio.testing import wait_all_tasks_blocked

# ---- custom_sleep_data ----


@pytest.mark.parametrize(
    "schedule_point",
    [checkpoint, cancel_shielded_checkpoint, lambda: lowio.sleep(0)],
    ids=["checkpoint", "cancel_shielded_checkpoint", "sleep0"],
)
def test_custom_sleep_data_is_cleared_at_every_schedule_point(schedule_point: Any) -> None:
    async def main() -> None:
        task = current_task()
        assert task.custom_sleep_data is None
        task.custom_sleep_data = "mine"
        assert task.custom_sleep_data == "mine"
        await schedule_point()
        assert task.custom_sleep_data is None

    lowio.run(main)


def test_custom_sleep_data_is_cleared_when_a_wait_ends() -> None:
    async def main() -> None:
        task = current_task()
        async with lowio.open_nursery() as nursery:

            async def sleeper() -> None:
                me = current_task()
                me.custom_sleep_data = "parked"
                assert await wait_task_rescheduled(lambda _: Abort.FAILED) == 7
                assert me.custom_sleep_data is None

            nursery.start_soon(sleeper)
            await wait_all_tasks_blocked()
            (child,) = nursery.child_tasks
            assert child.custom_sleep_data == "parked"  # kept while it is parked
            reschedule(child, outcome.Value(7))
        assert task.custom_sleep_data is None

    lowio.run(main)


# ---- an exception a task is woken with ----


def _woken_with(error: BaseException, child: Any) -> BaseException:
    """Runs ``child(report)`` in a nursery, wakes it (parked) with ``error``
    and returns what the nursery raised (the only exception of its group)."""
    found: list[Task] = []

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(child, found.append)
            await wait_all_tasks_blocked()
            reschedule(found[0], outcome.Error(error))

    with pytest.raises(BaseExceptionGroup) as info:
        lowio.run(main)
    (exc,) = info.value.exceptions
    return exc


def test_a_wake_error_chains_onto_what_the_inner_frame_handles() -> None:
    async def inner() -> None:
        try:
            raise IndexError
        except IndexError:
            await lowio.sleep_forever()

    async def child(report: Any) -> None:
        report(current_task())
        try:
            raise KeyError
        except KeyError:
            await inner()

    exc = _woken_with(ValueError("woken"), child)
    assert isinstance(exc, ValueError)
    assert isinstance(exc.__context__, IndexError)  # thrown in from outside: KeyError
    assert isinstance(exc.__context__.__context__, KeyError)


def test_a_suppressed_wake_error_leaves_exc_info_as_it_was() -> None:
    seen: list[object] = []

    async def inner(handling: BaseException) -> None:
        with suppress(ValueError):
            await lowio.sleep_forever()
        seen.append(sys.exc_info()[1] is handling)

    async def child(report: Any) -> None:
        report(current_task())
        try:
            raise KeyError
        except KeyError as exc:
            await inner(exc)
            raise

    exc = _woken_with(ValueError(), child)
    assert isinstance(exc, KeyError)
    assert exc.__context__ is None
    assert seen == [True]


def test_a_cancellation_chains_onto_what_the_waiting_frame_handles() -> None:
    contexts: list[object] = []

    async def main() -> None:
        with lowio.move_on_after(0.01):
            try:
                raise IndexError
            except IndexError:
                try:
                    await lowio.sleep_forever()
                except lowio.Cancelled as cancelled:
                    contexts.append(cancelled.__context__)
                    raise

    lowio.run(main)
    assert len(contexts) == 1
    assert isinstance(contexts[0], IndexError)


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="refcounting only")
def test_a_wake_error_leaves_no_cycle_through_the_waiting_frame() -> None:
    async def child() -> None:
        await wait_task_rescheduled(lambda _: Abort.FAILED)

    async def main() -> None:
        await checkpoint()
        with no_cyclic_garbage():
            try:
                async with lowio.open_nursery() as nursery:
                    nursery.start_soon(child)
                    await wait_all_tasks_blocked()
                    (task,) = nursery.child_tasks
                    reschedule(task, outcome.Error(KeyError("woken")))
                    del task
            except BaseExceptionGroup as group:
                assert isinstance(group.exceptions[0], KeyError)

    lowio.run(main)


def test_the_wait_returns_what_it_is_woken_with() -> None:
    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            got: list[object] = []

            async def sleeper() -> None:
                got.append(await wait_task_rescheduled(lambda _: Abort.FAILED))

            nursery.start_soon(sleeper)
            await wait_all_tasks_blocked()
            (child,) = nursery.child_tasks
            # a value that looks like anything the trap unwraps is returned as is
            sent = outcome.Error(KeyError())
            reschedule(child, outcome.Value(sent))
        assert got == [sent]

    lowio.run(main)


def test_an_error_woken_into_an_io_wait_is_raised_there() -> None:
    a, b = socket.socketpair()
    try:

        async def reader(report: Any) -> None:
            report(current_task())
            await wait_readable(a)

        exc = _woken_with(KeyError("io"), reader)
        assert isinstance(exc, KeyError)
        assert exc.args == ("io",)
    finally:
        a.close()
        b.close()


def test_an_abort_function_that_fails_is_asked_through_the_trap() -> None:
    asked: list[object] = []

    async def main() -> None:
        async with lowio.open_nursery() as nursery:

            async def sleeper() -> None:
                def abort(raise_cancel: Any) -> Abort:
                    asked.append(raise_cancel)
                    return Abort.FAILED

                assert await wait_task_rescheduled(abort) == "by hand"

            nursery.start_soon(sleeper)
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
            (child,) = nursery.child_tasks
            assert len(asked) == 1
            reschedule(child, outcome.Value("by hand"))

    lowio.run(main)


# ---- the I/O wait inlined in the loop ----


class _IOWaits:
    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def before_io_wait(self, timeout: float) -> None:
        self.calls.append(("before", timeout))

    def after_io_wait(self, timeout: float) -> None:
        self.calls.append(("after", timeout))


def test_instruments_see_every_io_wait_in_pairs_with_its_timeout() -> None:
    waits = _IOWaits()
    a, b = socket.socketpair()
    try:

        async def main() -> None:
            async with lowio.open_nursery() as nursery:

                async def echo() -> None:
                    await wait_readable(b)
                    b.send(b.recv(1))

                nursery.start_soon(echo)
                await wait_all_tasks_blocked()
                lowio.lowlevel.add_instrument(waits)
                a.send(b"x")
                await wait_readable(a)
                assert a.recv(1) == b"x"
                for _ in range(2 * lowio._core._run.POLL_EVERY):
                    await checkpoint()  # busy: non-blocking polls between batches
                await lowio.sleep(0.001)
                lowio.lowlevel.remove_instrument(waits)

        lowio.run(main)
    finally:
        a.close()
        b.close()
    kinds = [kind for kind, _ in waits.calls]
    assert kinds and kinds == ["before", "after"] * (len(kinds) // 2)
    for (_, before), (_, after) in zip(waits.calls[::2], waits.calls[1::2], strict=True):
        assert before == after
    timeouts = [t for _, t in waits.calls]
    assert 0.0 in timeouts  # tasks were runnable
    assert 86400.0 in timeouts  # blocked with nothing timed: no limit
    assert any(0.0 < t <= 0.001 for t in timeouts)  # the sleep's deadline


def test_a_callback_queued_while_tasks_run_is_run_before_the_next_batch() -> None:
    order: list[str] = []

    async def main() -> None:
        token = lowio.lowlevel.current_trio_token()
        token.run_sync_soon(order.append, "callback")
        order.append("queued")
        await checkpoint()
        order.append("after checkpoint")

    lowio.run(main)
    assert order == ["queued", "callback", "after checkpoint"]


def test_a_deadline_is_expired_by_a_blocking_wait_with_no_io() -> None:
    async def main() -> float:
        start = lowio.current_time()
        await lowio.sleep(0.01)
        return lowio.current_time() - start

    assert lowio.run(main) >= 0.01


# ---- the order within a batch ----


async def five_tracers() -> tuple[tuple[int, int], ...]:
    """Five tasks checkpointing in step, so that every batch holds all five;
    the order in which their steps ran."""
    seen: list[tuple[int, int]] = []

    async def tracer(name: int) -> None:
        for i in range(20):
            seen.append((name, i))
            await checkpoint()

    async with lowio.open_nursery() as nursery:
        for name in range(5):
            nursery.start_soon(tracer, name)
    return tuple(seen)


def test_the_order_of_tasks_woken_together_is_not_fixed() -> None:
    # half of the batches run backwards: ten runs give ten different traces
    # (for a given seed, so this cannot flake)
    traces = [lowio.run(five_tracers) for _ in range(10)]
    assert len(set(traces)) == 10
    for trace in traces:  # each task's own steps still run in order
        for name in range(5):
            assert [i for n, i in trace if n == name] == list(range(20))
        # and each batch holds each task once: the order is within batches
        for start in range(0, len(trace), 5):
            assert sorted(n for n, _ in trace[start : start + 5]) == list(range(5))


def test_seeding_the_coin_replays_the_order() -> None:
    def seeded(seed: int) -> tuple[tuple[int, int], ...]:
        SCHEDULING_RNG.seed(seed)
        return lowio.run(five_tracers)

    assert seeded(7) == seeded(7) == seeded(7)
    assert seeded(7) != seeded(8)


def test_a_batch_of_one_draws_no_coin() -> None:
    async def main() -> None:
        for _ in range(3 * 64):  # past a few of the busy loop's polls
            await lowio.sleep(0)

    state = SCHEDULING_RNG.getstate()
    lowio.run(main)
    assert SCHEDULING_RNG.getstate() == state


def test_a_task_woken_for_a_later_batch_runs_after_the_earlier_one() -> None:
    # `first` is woken while `main` is still to checkpoint: both are one
    # batch, in either order; `second` is woken after that checkpoint, so
    # it is in a later batch and runs after `first` whatever the coin says
    async def main() -> list[str]:
        record: list[str] = []
        early, late = lowio.Event(), lowio.Event()

        async def waiter(event: lowio.Event, name: str) -> None:
            await event.wait()
            record.append(name)

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(waiter, early, "first")
            nursery.start_soon(waiter, late, "second")
            await wait_all_tasks_blocked()
            early.set()
            await checkpoint()
            late.set()
        return record

    for seed in range(8):
        SCHEDULING_RNG.seed(seed)
        assert lowio.run(main) == ["first", "second"]


def test_hypothesis_replays_the_order_in_every_example() -> None:
    # lowio's `hypothesis` entry point registers the coin, so Hypothesis
    # seeds it the same way for each example
    traces = []

    @hypothesis.settings(max_examples=5, database=None, derandomize=True)
    @hypothesis.given(hypothesis.strategies.integers())
    def example(_: int) -> None:
        traces.append(lowio.run(five_tracers))

    example()
    assert len(traces) >= 2
    assert len(set(traces)) == 1


# ---- the usual steps in C (_step_core) and what they hand back ----


def test_an_error_from_a_step_in_c_carries_no_frame_of_the_loop() -> None:
    def boom() -> None:
        raise ValueError("from the task")

    async def child() -> None:
        await checkpoint()
        boom()

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(child)

    with pytest.raises(BaseExceptionGroup) as info:
        lowio.run(main)
    error = info.value.exceptions[0]
    assert isinstance(error, ValueError)
    names = []
    tb = error.__traceback__
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert names == ["child", "boom"]


def test_steps_in_c_count_schedule_and_cancel_points() -> None:
    async def main() -> None:
        task = current_task()
        before = (task._schedule_points, task._cancel_points)
        for _ in range(3):
            await checkpoint()  # a schedule point each, done in C
        await lowio.sleep(0.001)  # a park with nothing pending, in C
        after = (task._schedule_points, task._cancel_points)
        assert after[0] - before[0] >= 4
        assert after[1] - before[1] >= 4

    lowio.run(main)


def test_a_park_with_a_cancellation_pending_is_left_to_the_loop() -> None:
    async def main() -> None:
        with lowio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(lowio.Cancelled):
                await wait_task_rescheduled(lambda _: Abort.SUCCEEDED)
        assert scope.cancelled_caught is False

    lowio.run(main)


def test_a_task_that_yields_a_foreign_object_gets_a_type_error() -> None:
    @__import__("types").coroutine
    def foreign() -> Any:
        yield "not a lowio trap"

    async def main() -> None:
        with pytest.raises(TypeError, match="unrecognized yield message"):
            await foreign()

    lowio.run(main)
