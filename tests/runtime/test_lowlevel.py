"""``lowio.lowlevel``: checkpoints, ``wait_task_rescheduled`` /
``reschedule`` / ``Abort``, ``ParkingLot``, and the ``lowio.testing``
helpers ``wait_all_tasks_blocked``, ``assert_checkpoints`` and
``assert_no_checkpoints``."""

from __future__ import annotations

import gc
import math
import time
import warnings
from typing import Any

import outcome
import pytest

import lowio
from lowio.lowlevel import (
    Abort,
    ParkingLot,
    ParkingLotStatistics,
    RaiseCancelT,
    Task,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_task,
    reschedule,
    wait_task_rescheduled,
)
from lowio.testing import (
    MockClock,
    assert_checkpoints,
    assert_no_checkpoints,
    wait_all_tasks_blocked,
)

# ---- the three checkpoints ----


async def ran_meanwhile(fn: Any) -> bool:
    """Whether another task got to run while ``await fn()`` executed."""
    flag: list[bool] = []

    async def other() -> None:
        flag.append(True)

    async with lowio.open_nursery() as nursery:
        nursery.start_soon(other)
        for _ in range(20):  # lowio runs a batch in order; trio shuffles it
            await fn()
        result = bool(flag)
        await checkpoint()  # let it run before the nursery exits
    return result


def test_checkpoint_is_a_schedule_point_and_a_cancel_point() -> None:
    async def main() -> None:
        assert await ran_meanwhile(checkpoint)
        with lowio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(lowio.Cancelled):
                await checkpoint()
        with assert_checkpoints():
            await checkpoint()

    lowio.run(main)


def test_checkpoint_if_cancelled_is_only_a_cancel_point() -> None:
    async def main() -> None:
        assert not await ran_meanwhile(checkpoint_if_cancelled)
        with lowio.CancelScope() as scope:
            await checkpoint_if_cancelled()  # not cancelled: nothing happens
            scope.cancel()
            with pytest.raises(lowio.Cancelled):
                await checkpoint_if_cancelled()
        # not a full checkpoint:
        with pytest.raises(AssertionError), assert_checkpoints():
            await checkpoint_if_cancelled()

    lowio.run(main)


def test_cancel_shielded_checkpoint_is_only_a_schedule_point() -> None:
    async def main() -> None:
        assert await ran_meanwhile(cancel_shielded_checkpoint)
        with lowio.CancelScope() as scope:
            scope.cancel()
            await cancel_shielded_checkpoint()  # never raises
            await cancel_shielded_checkpoint()
        assert not scope.cancelled_caught
        with pytest.raises(AssertionError), assert_checkpoints():
            await cancel_shielded_checkpoint()
        # but the two halves together make a checkpoint
        with assert_checkpoints():
            await checkpoint_if_cancelled()
            await cancel_shielded_checkpoint()

    lowio.run(main)


def test_checkpoints_can_be_spawned_as_tasks() -> None:
    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(checkpoint)
            nursery.start_soon(cancel_shielded_checkpoint)
            nursery.start_soon(checkpoint_if_cancelled)

    lowio.run(main)


def test_yielding_lets_every_runnable_task_go_first() -> None:
    record: list[str] = []

    async def looper(label: str) -> None:
        for i in range(3):
            record.append(f"{label}{i}")
            await checkpoint()

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(looper, "a")
            nursery.start_soon(looper, "b")

    lowio.run(main)
    # round-robin: nobody runs twice before the other ran once
    for i in range(3):
        assert sorted(record[2 * i : 2 * i + 2]) == [f"a{i}", f"b{i}"]


# ---- wait_task_rescheduled / reschedule / Abort ----


def test_reschedule_with_a_value_an_error_or_nothing() -> None:
    async def main() -> None:
        me = current_task()
        results: list[object] = []

        async def waker(what: Any) -> None:
            await wait_all_tasks_blocked()
            if what is None:
                reschedule(me)
            else:
                reschedule(me, what)

        for what in (outcome.Value(42), outcome.Error(KeyError("from waker")), None):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(waker, what)
                try:
                    results.append(await wait_task_rescheduled(lambda _: Abort.SUCCEEDED))
                except KeyError as exc:
                    results.append(exc)
        assert results[0] == 42
        assert isinstance(results[1], KeyError) and str(results[1]) == "'from waker'"
        assert results[2] is None

    lowio.run(main)


def test_abort_succeeded_delivers_cancelled_and_runs_in_the_cancelling_task() -> None:
    record: list[Any] = []

    async def sleeper() -> None:
        def abort(raise_cancel: RaiseCancelT) -> Abort:
            record.append(("abort called in", current_task().name))
            record.append(("raise_cancel gives", type(outcome.capture(raise_cancel).error)))
            return Abort.SUCCEEDED

        try:
            await wait_task_rescheduled(abort)
        except lowio.Cancelled:
            record.append("sleeper cancelled")
            raise

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
            # the abort function ran synchronously, inside cancel()
            assert record == [
                ("abort called in", current_task().name),
                ("raise_cancel gives", lowio.Cancelled),
            ]
        assert record[-1] == "sleeper cancelled"

    lowio.run(main)


def test_abort_failed_keeps_the_task_waiting_until_rescheduled() -> None:
    record: list[str] = []

    async def main() -> None:
        me = current_task()
        pending: list[RaiseCancelT] = []

        def abort(raise_cancel: RaiseCancelT) -> Abort:
            record.append("abort")
            pending.append(raise_cancel)
            return Abort.FAILED

        async def finisher() -> None:
            await wait_all_tasks_blocked()
            scope.cancel()
            await wait_all_tasks_blocked()
            record.append("still waiting")
            # deliver the cancellation ourselves, as a failed abort allows
            reschedule(me, outcome.capture(pending[0]))

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(finisher)
            with lowio.CancelScope() as scope:
                await wait_task_rescheduled(abort)
            assert scope.cancelled_caught

    lowio.run(main)
    assert record == ["abort", "still waiting"]


def test_abort_failed_then_a_normal_value() -> None:
    async def main() -> None:
        me = current_task()

        async def finisher() -> None:
            await wait_all_tasks_blocked()
            scope.cancel()
            reschedule(me, outcome.Value("done anyway"))

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(finisher)
            with lowio.CancelScope() as scope:
                assert await wait_task_rescheduled(lambda _: Abort.FAILED) == "done anyway"
                # the scope is still cancelled: the next checkpoint raises
                with pytest.raises(lowio.Cancelled):
                    await checkpoint()

    lowio.run(main)


def test_already_cancelled_wait_aborts_immediately() -> None:
    calls: list[str] = []

    async def main() -> None:
        with lowio.CancelScope() as scope:
            scope.cancel()

            def abort(_: RaiseCancelT) -> Abort:
                calls.append("abort")
                return Abort.SUCCEEDED

            await wait_task_rescheduled(abort)
        assert scope.cancelled_caught

    lowio.run(main)
    assert calls == ["abort"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_abort_returning_garbage_is_an_internal_error() -> None:
    async def main() -> None:
        await checkpoint()
        with lowio.CancelScope() as scope:
            scope.cancel()
            await wait_task_rescheduled(lambda _: None)  # type: ignore[arg-type,return-value]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(lowio.LowioInternalError):
            lowio.run(main)
        gc.collect()  # the abandoned coroutines complain here, not later


def test_reschedule_misuse() -> None:
    async def main() -> None:
        me = current_task()
        with pytest.raises(RuntimeError):
            reschedule(me)  # we are running, not waiting

        async def sleeper(*, task_status: Any) -> None:
            task_status.started(current_task())
            await wait_task_rescheduled(lambda _: Abort.SUCCEEDED)

        async with lowio.open_nursery() as nursery:
            task = await nursery.start(sleeper)
            await wait_all_tasks_blocked()
            with pytest.raises(TypeError):
                reschedule(task, "not an outcome")
            reschedule(task)
            with pytest.raises(RuntimeError):
                reschedule(task)  # already rescheduled

    lowio.run(main)


def test_custom_sleep_data_is_cleared_when_the_wait_ends() -> None:
    async def main() -> None:
        me = current_task()
        assert me.custom_sleep_data is None

        async def waker() -> None:
            await wait_all_tasks_blocked()
            assert me.custom_sleep_data == "parked here"  # visible while waiting
            reschedule(me)

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(waker)
            me.custom_sleep_data = "parked here"
            await wait_task_rescheduled(lambda _: Abort.SUCCEEDED)
            assert me.custom_sleep_data is None  # as in trio
        # a ParkingLot uses it to know where the task is parked
        lot = ParkingLot()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(lot.park)
            await wait_all_tasks_blocked()
            [parked] = nursery.child_tasks
            assert parked.custom_sleep_data is lot
            lot.unpark()
            assert parked.custom_sleep_data is None

    lowio.run(main)


# ---- ParkingLot ----


def test_parking_lot_is_fifo() -> None:
    record: list[str] = []

    tasks: dict[str, Task] = {}

    async def parker(lot: ParkingLot, label: str) -> None:
        tasks[label] = current_task()
        record.append(f"park {label}")
        await lot.park()
        record.append(f"woke {label}")

    async def main() -> None:
        lot = ParkingLot()
        assert not lot and len(lot) == 0
        async with lowio.open_nursery() as nursery:
            for label in "abcd":
                nursery.start_soon(parker, lot, label)
                await wait_all_tasks_blocked()  # park in a known order
            assert len(lot) == 4 and lot
            stats = lot.statistics()
            assert isinstance(stats, ParkingLotStatistics) and stats.tasks_waiting == 4
            assert lot.unpark() == [tasks["a"]]
            await wait_all_tasks_blocked()
            assert record[-1] == "woke a"
            assert lot.unpark(count=2) == [tasks["b"], tasks["c"]]
            await wait_all_tasks_blocked()
            assert sorted(record[-2:]) == ["woke b", "woke c"]
            assert lot.unpark(count=0) == []
            assert lot.unpark_all() == [tasks["d"]]
            await wait_all_tasks_blocked()
            assert record[-1] == "woke d"
            assert lot.unpark() == []  # nobody left
            assert lot.statistics().tasks_waiting == 0

    lowio.run(main)


def test_parking_lot_unpark_count_inf_and_validation() -> None:
    async def main() -> None:
        lot = ParkingLot()
        async with lowio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(lot.park)
            await wait_all_tasks_blocked()
            assert len(lot.unpark(count=math.inf)) == 3
        with pytest.raises((TypeError, ValueError)):
            lot.unpark(count=1.5)

    lowio.run(main)


def test_park_is_a_checkpoint_and_cancellation_removes_the_task() -> None:
    async def main() -> None:
        lot = ParkingLot()
        with lowio.CancelScope() as scope:
            scope.cancel()
            with assert_checkpoints():
                await lot.park()
        assert scope.cancelled_caught
        assert len(lot) == 0
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(lot.park)
            nursery.start_soon(lot.park)
            await wait_all_tasks_blocked()
            assert len(lot) == 2
            nursery.cancel_scope.cancel()
        assert len(lot) == 0

    lowio.run(main)


def test_repark_moves_waiters_without_waking_them() -> None:
    record: list[str] = []

    async def parker(lot: ParkingLot, label: str) -> None:
        await lot.park()
        record.append(label)

    async def main() -> None:
        lot1 = ParkingLot()
        lot2 = ParkingLot()
        async with lowio.open_nursery() as nursery:
            for label in "abc":
                nursery.start_soon(parker, lot1, label)
                await wait_all_tasks_blocked()
            lot1.repark(lot2)
            await wait_all_tasks_blocked()
            assert record == []
            assert (len(lot1), len(lot2)) == (2, 1)
            lot1.repark_all(lot2)
            assert (len(lot1), len(lot2)) == (0, 3)
            with pytest.raises(TypeError):
                lot1.repark([])  # type: ignore[arg-type]
            lot2.unpark(count=2)
            await wait_all_tasks_blocked()
            assert sorted(record) == ["a", "b"]
            # a reparked task cancelled while in its new lot leaves that lot
            nursery.cancel_scope.cancel()
        assert len(lot2) == 0

    lowio.run(main)


def test_repark_count() -> None:
    async def main() -> None:
        lot1 = ParkingLot()
        lot2 = ParkingLot()
        async with lowio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(lot1.park)
            await wait_all_tasks_blocked()
            lot1.repark(lot2, count=3)
            assert (len(lot1), len(lot2)) == (1, 3)
            lot2.unpark_all()
            lot1.unpark_all()

    lowio.run(main)


def test_break_lot_wakes_everyone_with_broken_resource_error() -> None:
    record: list[str] = []

    async def parker(lot: ParkingLot) -> None:
        try:
            await lot.park()
        except lowio.BrokenResourceError as exc:
            record.append(str(exc))

    async def main() -> None:
        lot = ParkingLot()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(parker, lot)
            nursery.start_soon(parker, lot)
            await wait_all_tasks_blocked()
            lot.break_lot()
            assert len(lot) == 0
        assert len(record) == 2
        assert all("broken" in text for text in record)
        assert lot.broken_by == [current_task()]
        with pytest.raises(lowio.BrokenResourceError):
            await lot.park()
        # breaking again only records the extra breaker
        lot.break_lot()
        assert lot.broken_by == [current_task(), current_task()]

    lowio.run(main)


def test_park_outside_a_run() -> None:
    coro = ParkingLot().park()
    with pytest.raises(RuntimeError):
        coro.send(None)
    coro.close()


# ---- wait_all_tasks_blocked ----


def test_wait_all_tasks_blocked_waits_for_busy_tasks() -> None:
    record: list[str] = []

    async def busy() -> None:
        for _ in range(100):
            await checkpoint()
        record.append("busy done")

    async def waiter() -> None:
        await wait_all_tasks_blocked()
        record.append("quiet")

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(busy)
            nursery.start_soon(waiter)
            nursery.start_soon(waiter)

    lowio.run(main)
    assert record == ["busy done", "quiet", "quiet"]


def test_wait_all_tasks_blocked_is_cancellable() -> None:
    async def main() -> None:
        with lowio.CancelScope() as scope:
            scope.cancel()
            await wait_all_tasks_blocked()
        assert scope.cancelled_caught

        async def cancel_soon(scope: lowio.CancelScope) -> None:
            scope.cancel()

        with lowio.CancelScope() as scope:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(lowio.sleep_forever)
                nursery.start_soon(cancel_soon, scope)
                await wait_all_tasks_blocked(10_000)
        assert scope.cancelled_caught

    lowio.run(main)


def test_wait_all_tasks_blocked_does_not_skip_due_timers() -> None:
    record: list[str] = []

    async def timed() -> None:
        record.append("start")
        await lowio.sleep(5)
        record.append("finished")

    async def main(clock: MockClock) -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(timed)
            await wait_all_tasks_blocked()
            assert record == ["start"]
            clock.jump(10)
            await wait_all_tasks_blocked()
            assert record == ["start", "finished"]

    clock = MockClock()
    lowio.run(main, clock, clock=clock)


def test_wait_all_tasks_blocked_with_cushion() -> None:
    record: list[str] = []

    async def blink() -> None:
        record.append("blink start")
        for _ in range(3):
            await lowio.sleep(0.01)  # shorter than the cushions below
        record.append("blink end")

    async def wait(cushion: float, label: str) -> None:
        await wait_all_tasks_blocked(cushion)
        record.append(label)

    async def main() -> None:
        start = time.perf_counter()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(blink)
            nursery.start_soon(wait, 0, "no cushion")
            nursery.start_soon(wait, 0.05, "small")
            nursery.start_soon(wait, 0.05, "small")
            nursery.start_soon(wait, 0.1, "big")
        assert time.perf_counter() - start >= 0.13
        assert record == ["blink start", "no cushion", "blink end", "small", "small", "big"]

    lowio.run(main)


# ---- assert_checkpoints / assert_no_checkpoints ----


def test_assert_checkpoints() -> None:
    async def main() -> None:
        with assert_checkpoints():
            await checkpoint()
        with assert_checkpoints():
            await lowio.sleep(0)
        with pytest.raises(AssertionError, match=r"did not yield"), assert_checkpoints():
            pass
        # a block that raises is not checked
        with pytest.raises(KeyError), assert_checkpoints():
            raise KeyError
        # Cancelled counts as having hit a checkpoint
        with lowio.CancelScope() as scope:
            scope.cancel()
            with assert_checkpoints():
                await checkpoint()

    lowio.run(main)


def test_assert_no_checkpoints() -> None:
    async def main() -> None:
        with assert_no_checkpoints():
            lowio.current_time()
            lowio.CancelScope().cancel()
        for fn in (checkpoint, cancel_shielded_checkpoint, checkpoint_if_cancelled):
            with pytest.raises(AssertionError, match=r"yielded"), assert_no_checkpoints():
                await fn()
        # checked even when the block raises, as in trio
        with lowio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(AssertionError, match=r"yielded"), assert_no_checkpoints():
                await checkpoint()

    lowio.run(main)
