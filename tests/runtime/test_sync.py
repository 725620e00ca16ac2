"""Synchronization primitives: ``Event``, ``Lock``, ``StrictFIFOLock``,
``Semaphore``, ``CapacityLimiter``, ``Condition`` (trio's semantics), and
the parking-lot breakers that break a ``Lock`` whose owner exits."""

from __future__ import annotations

import math
import re
import sys
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import pytest

import lowio
from lowio.lowlevel import (
    ParkingLot,
    Task,
    add_parking_lot_breaker,
    checkpoint,
    current_task,
    remove_parking_lot_breaker,
)
from lowio.testing import assert_checkpoints, assert_no_checkpoints, wait_all_tasks_blocked

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup

Main: TypeAlias = Callable[[], Awaitable[None]]


def run(main: Main) -> None:
    lowio.run(main)


def breakers() -> dict[Task, list[ParkingLot]]:
    return current_task()._runner.lot_breakers


async def start_task(
    nursery: lowio.Nursery, fn: Callable[[], Awaitable[object]], name: str | None = None
) -> Task:
    """Starts ``fn`` in ``nursery``, lets it block, returns its task."""

    async def wrapper(task_status: lowio.TaskStatus[Task] = lowio.TASK_STATUS_IGNORED) -> None:
        task_status.started(current_task())
        await fn()

    task: Task = await nursery.start(wrapper, name=name)
    await wait_all_tasks_blocked()
    return task


async def cancelled_call(fn: Callable[[], Awaitable[object]]) -> None:
    """Calls ``fn`` in an already-cancelled scope; it must raise Cancelled."""
    with lowio.CancelScope() as scope:
        scope.cancel()
        await fn()
    assert scope.cancelled_caught


# ---- Event ----


def test_event_basics() -> None:
    async def main() -> None:
        event = lowio.Event()
        assert not event.is_set()
        assert event.statistics() == lowio.EventStatistics(tasks_waiting=0)
        with pytest.raises(NotImplementedError, match="is_set"):
            bool(event)
        with assert_no_checkpoints():
            event.set()
            event.set()  # a second set does nothing
        assert event.is_set()
        # wait is a checkpoint even when the event is already set
        with assert_checkpoints():
            await event.wait()
        await cancelled_call(event.wait)
        assert "lowio.Event" in repr(event)
        with pytest.raises(AttributeError):
            event.anything = 1  # type: ignore[attr-defined]
        assert weakref.ref(event)() is event

    run(main)


def test_event_wakes_every_waiter() -> None:
    # all of them at set(), for one batch, in which they run in no promised
    # order (as in trio)
    async def main() -> None:
        event = lowio.Event()
        record: list[str] = []

        async def waiter(name: str) -> None:
            await event.wait()
            record.append(name)

        async with lowio.open_nursery() as nursery:
            for name in "abc":
                nursery.start_soon(waiter, name)
                await wait_all_tasks_blocked()
            assert event.statistics().tasks_waiting == 3
            assert record == []
            event.set()
            assert event.statistics().tasks_waiting == 0
        assert sorted(record) == ["a", "b", "c"]

    run(main)


def test_event_cancelled_waiter_leaves() -> None:
    async def main() -> None:
        event = lowio.Event()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(event.wait)
            await wait_all_tasks_blocked()
            assert event.statistics().tasks_waiting == 1
            nursery.cancel_scope.cancel()
        assert event.statistics().tasks_waiting == 0
        assert not event.is_set()
        # a wait on an unset event in a cancelled scope raises at once
        with assert_checkpoints():
            await cancelled_call(event.wait)
        assert event.statistics().tasks_waiting == 0

    run(main)


# ---- Lock / StrictFIFOLock ----

LOCK_CLASSES = [lowio.Lock, lowio.StrictFIFOLock]
LockClass: TypeAlias = type[lowio.Lock] | type[lowio.StrictFIFOLock]


@pytest.mark.parametrize("lock_cls", LOCK_CLASSES, ids=lambda cls: cls.__name__)
def test_lock_basics_and_checkpoints(lock_cls: LockClass) -> None:
    async def main() -> None:
        lock = lock_cls()
        assert not lock.locked()
        assert weakref.ref(lock)() is lock
        assert repr(lock).startswith(f"<unlocked {lock_cls.__name__} object")
        with assert_checkpoints():
            await lock.acquire()
        assert lock.locked()
        assert repr(lock).startswith(f"<locked {lock_cls.__name__} object")
        assert lock.statistics() == lowio.LockStatistics(
            locked=True, owner=current_task(), tasks_waiting=0
        )
        with assert_no_checkpoints():
            lock.release()
        assert not lock.locked()
        with assert_no_checkpoints():
            lock.acquire_nowait()
        assert lock.locked()
        lock.release()
        with assert_checkpoints():
            async with lock:
                assert lock.locked()
        assert not lock.locked()
        assert lock.statistics() == lowio.LockStatistics(locked=False, owner=None, tasks_waiting=0)
        # the exit of ``async with`` is not a checkpoint
        await lock.acquire()
        with assert_no_checkpoints():
            await lock.__aexit__(None, None, None)
        assert not lock.locked()

    run(main)


@pytest.mark.parametrize("lock_cls", LOCK_CLASSES, ids=lambda cls: cls.__name__)
def test_lock_owner_errors(lock_cls: LockClass) -> None:
    async def main() -> None:
        lock = lock_cls()
        with pytest.raises(RuntimeError, match="don't own"):
            lock.release()
        lock.acquire_nowait()
        with pytest.raises(RuntimeError, match="re-acquire"):
            lock.acquire_nowait()
        with pytest.raises(RuntimeError, match="re-acquire"):
            await lock.acquire()
        assert lock.statistics().owner is current_task()
        lock.release()
        with pytest.raises(RuntimeError, match="don't own"):
            lock.release()

        async def hold() -> None:
            async with lock:
                await lowio.sleep_forever()

        async with lowio.open_nursery() as nursery:
            holder = await start_task(nursery, hold)
            assert lock.statistics().owner is holder
            with pytest.raises(lowio.WouldBlock):
                lock.acquire_nowait()
            with pytest.raises(RuntimeError, match="don't own"):
                lock.release()
            assert lock.statistics().owner is holder
            nursery.cancel_scope.cancel()
        assert not lock.locked()

    run(main)


def test_lock_outside_a_run() -> None:
    lock = lowio.Lock()
    with pytest.raises(RuntimeError):
        lock.acquire_nowait()
    assert not lock.locked()


@pytest.mark.parametrize("lock_cls", LOCK_CLASSES, ids=lambda cls: cls.__name__)
def test_lock_fifo_handoff_with_three_waiters(lock_cls: LockClass) -> None:
    async def main() -> None:
        lock = lock_cls()
        record: list[str] = []
        tasks: dict[str, Task] = {}

        async def waiter(name: str) -> None:
            tasks[name] = current_task()
            async with lock:
                record.append(name)

        await lock.acquire()
        async with lowio.open_nursery() as nursery:
            for name in "abc":
                nursery.start_soon(waiter, name)
                await wait_all_tasks_blocked()
            assert lock.statistics().tasks_waiting == 3
            lock.release()
            # handed straight to the oldest waiter: no one can barge in
            assert lock.statistics() == lowio.LockStatistics(
                locked=True, owner=tasks["a"], tasks_waiting=2
            )
            with pytest.raises(lowio.WouldBlock):
                lock.acquire_nowait()
        assert record == ["a", "b", "c"]
        assert not lock.locked()

    run(main)


@pytest.mark.parametrize("lock_cls", LOCK_CLASSES, ids=lambda cls: cls.__name__)
def test_lock_cancelled_waiter_never_gets_the_lock(lock_cls: LockClass) -> None:
    async def main() -> None:
        lock = lock_cls()
        record: list[str] = []

        async def waiter(name: str) -> None:
            async with lock:
                record.append(name)

        await lock.acquire()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(waiter, "a")
            await wait_all_tasks_blocked()
            async with lowio.open_nursery() as inner:
                inner.start_soon(waiter, "b")
                await wait_all_tasks_blocked()
                inner.cancel_scope.cancel()
            assert lock.statistics().tasks_waiting == 1
            nursery.start_soon(waiter, "c")
            await wait_all_tasks_blocked()
            lock.release()
        assert record == ["a", "c"]
        assert not lock.locked()
        # acquire in a cancelled scope takes nothing, even if the lock is free
        await cancelled_call(lock.acquire)
        assert not lock.locked()

    run(main)


def test_lock_handed_to_a_task_cancelled_before_it_runs() -> None:
    async def main() -> None:
        lock = lowio.Lock()
        record: list[str] = []

        async def waiter() -> None:
            async with lock:
                record.append("acquired")
                await lowio.sleep_forever()

        await lock.acquire()
        async with lowio.open_nursery() as nursery:
            task = await start_task(nursery, waiter)
            lock.release()
            assert lock.statistics().owner is task
            nursery.cancel_scope.cancel()  # after the hand-over: too late to abort it
        assert record == ["acquired"]
        assert not lock.locked()
        assert not breakers()

    run(main)


def test_lock_owner_exits_without_releasing() -> None:
    async def main() -> None:
        lock = lowio.Lock()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(lock.acquire, name="owner")
        assert lock.locked()
        owner = lock.statistics().owner
        assert owner is not None and owner.name == "owner"
        assert lock._lot.broken_by == [owner]
        assert not breakers()
        expected = re.escape(f"Owner of this lock exited without releasing: {owner}")
        with pytest.raises(lowio.BrokenResourceError, match=f"^{expected}$"):
            await lock.acquire()
        with pytest.raises(lowio.WouldBlock):
            lock.acquire_nowait()

    run(main)


def test_lock_waiters_get_broken_resource_error_when_owner_exits() -> None:
    async def main() -> None:
        lock = lowio.Lock()
        errors: list[BaseException] = []

        async def waiter() -> None:
            try:
                await lock.acquire()
            except lowio.BrokenResourceError as exc:
                errors.append(exc)

        async with lowio.open_nursery() as nursery:
            owner_scope = lowio.CancelScope()

            async def owner() -> None:
                await lock.acquire()
                with owner_scope:
                    await lowio.sleep_forever()

            nursery.start_soon(owner)
            await wait_all_tasks_blocked()
            for _ in range(3):
                nursery.start_soon(waiter)
            await wait_all_tasks_blocked()
            assert lock.statistics().tasks_waiting == 3
            owner_scope.cancel()
        assert len(errors) == 3
        assert all("Owner of this lock exited without releasing" in str(e) for e in errors)
        assert lock.statistics().tasks_waiting == 0
        assert not breakers()

    run(main)


def test_lock_handover_moves_the_breaker() -> None:
    async def main() -> None:
        lock = lowio.Lock()
        lock.acquire_nowait()
        assert breakers() == {current_task(): [lock._lot]}
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(lock.acquire)
            await wait_all_tasks_blocked()
            lock.release()
            child = lock.statistics().owner
            assert child is not None and child is not current_task()
            assert breakers() == {child: [lock._lot]}
        # the child exited holding the lock
        assert lock._lot.broken_by == [child]
        assert not breakers()
        # released normally: nothing left registered, nothing broken
        other = lowio.Lock()
        async with other:
            assert breakers() == {current_task(): [other._lot]}
        assert not breakers()
        assert not other._lot.broken_by

    run(main)


# ---- parking-lot breakers (lowio.lowlevel) ----


def test_parking_lot_breaker_registration() -> None:
    async def main() -> None:
        lot = ParkingLot()
        me = current_task()
        message = "Attempted to remove task as breaker for a lot it is not registered for"
        with pytest.raises(RuntimeError, match=message):
            remove_parking_lot_breaker(me, lot)
        add_parking_lot_breaker(me, lot)
        add_parking_lot_breaker(me, lot)  # twice is allowed
        assert breakers() == {me: [lot, lot]}
        remove_parking_lot_breaker(me, lot)
        remove_parking_lot_breaker(me, lot)
        with pytest.raises(RuntimeError, match=message):
            remove_parking_lot_breaker(me, lot)
        assert not breakers()

        tasks: list[Task] = []
        async with lowio.open_nursery() as outer:
            outer.start_soon(lot.park)
            async with lowio.open_nursery() as nursery:
                for _ in range(3):
                    task = await start_task(nursery, lowio.sleep_forever)
                    add_parking_lot_breaker(task, lot)
                    tasks.append(task)
                assert len(lot) == 1
                nursery.cancel_scope.cancel()
        assert set(lot.broken_by) == set(tasks)
        assert len(lot.broken_by) == 3
        assert not breakers()
        with pytest.raises(
            lowio.BrokenResourceError,
            match=r"^Attempted to add already exited task as lot breaker\.$",
        ):
            add_parking_lot_breaker(tasks[0], ParkingLot())

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    # the task parked in the lot was woken with BrokenResourceError
    assert info.group_contains(lowio.BrokenResourceError, match="^Parking lot broken by")


# ---- Semaphore ----


def test_semaphore_basics_and_errors() -> None:
    with pytest.raises(TypeError):
        lowio.Semaphore(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^initial value must be >= 0$"):
        lowio.Semaphore(-1)
    with pytest.raises(TypeError):
        lowio.Semaphore(1, max_value=1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^max_values must be >= initial_value$"):
        lowio.Semaphore(2, max_value=1)

    async def main() -> None:
        sem = lowio.Semaphore(1)
        assert sem.value == 1
        assert sem.max_value is None
        assert repr(sem).startswith("<lowio.Semaphore(1) at ")
        with assert_no_checkpoints():
            sem.release()
        assert sem.value == 2
        with assert_no_checkpoints():
            sem.acquire_nowait()
        assert sem.value == 1
        with assert_checkpoints():
            await sem.acquire()
        assert sem.value == 0
        with pytest.raises(lowio.WouldBlock):
            sem.acquire_nowait()
        sem.release()
        with assert_checkpoints():
            async with sem:
                assert sem.value == 0
        assert sem.value == 1
        assert sem.statistics().tasks_waiting == 0
        # a cancelled acquire takes nothing
        await cancelled_call(sem.acquire)
        assert sem.value == 1

        bounded = lowio.Semaphore(1, max_value=1)
        assert bounded.max_value == 1
        assert repr(bounded).startswith("<lowio.Semaphore(1, max_value=1) at ")
        with pytest.raises(ValueError, match=r"^semaphore released too many times$"):
            bounded.release()
        assert bounded.value == 1
        bounded.acquire_nowait()
        bounded.release()
        assert bounded.value == 1

    run(main)


def test_semaphore_fifo_and_cancellation() -> None:
    async def main() -> None:
        sem = lowio.Semaphore(0)
        record: list[str] = []

        async def waiter(name: str) -> None:
            await sem.acquire()
            record.append(name)

        async with lowio.open_nursery() as nursery:
            for name in "abcd":
                if name == "b":
                    async with lowio.open_nursery() as doomed:
                        doomed.start_soon(waiter, name)
                        await wait_all_tasks_blocked()
                        assert sem.statistics().tasks_waiting == 2
                        doomed.cancel_scope.cancel()
                    continue
                nursery.start_soon(waiter, name)
                await wait_all_tasks_blocked()
            assert sem.statistics().tasks_waiting == 3
            sem.release()
            # handed to the waiter: the value stays 0, no one barges in
            assert sem.value == 0
            with pytest.raises(lowio.WouldBlock):
                sem.acquire_nowait()
            await wait_all_tasks_blocked()
            assert record == ["a"]
            sem.release()
            await wait_all_tasks_blocked()
            assert record == ["a", "c"]
            sem.release()
            assert sem.value == 0
            assert sem.statistics().tasks_waiting == 0
        assert record == ["a", "c", "d"]
        sem.release()
        assert sem.value == 1

    run(main)


# ---- CapacityLimiter ----


def test_capacity_limiter_validation() -> None:
    assert lowio.CapacityLimiter(0).total_tokens == 0  # trio >= 0.25 allows 0
    assert lowio.CapacityLimiter(math.inf).total_tokens == math.inf
    with pytest.raises(TypeError, match=r"must be an int or math\.inf"):
        lowio.CapacityLimiter(1.0)
    with pytest.raises(ValueError, match=r"^total_tokens must be >= 0$"):
        lowio.CapacityLimiter(-1)
    limiter = lowio.CapacityLimiter(2)
    with pytest.raises(TypeError):
        limiter.total_tokens = 1.5
    with pytest.raises(ValueError, match=r"^total_tokens must be >= 0$"):
        limiter.total_tokens = -3
    assert limiter.total_tokens == 2
    assert repr(limiter).startswith("<lowio.CapacityLimiter at ")
    assert repr(limiter).endswith(", 0/2 with 0 waiting>")


def test_capacity_limiter_basics() -> None:
    async def main() -> None:
        limiter = lowio.CapacityLimiter(2)
        assert (limiter.borrowed_tokens, limiter.available_tokens) == (0, 2)
        with pytest.raises(RuntimeError, match="isn't holding"):
            limiter.release()
        with assert_no_checkpoints():
            limiter.acquire_nowait()
        assert (limiter.borrowed_tokens, limiter.available_tokens) == (1, 1)
        assert limiter.statistics() == lowio.CapacityLimiterStatistics(
            borrowed_tokens=1, total_tokens=2, borrowers=[current_task()], tasks_waiting=0
        )
        # one token per borrower
        with pytest.raises(RuntimeError, match="already holding"):
            limiter.acquire_nowait()
        with pytest.raises(RuntimeError, match="already holding"):
            await limiter.acquire()
        assert limiter.borrowed_tokens == 1
        with assert_checkpoints():
            await limiter.acquire_on_behalf_of("someone")
        with pytest.raises(RuntimeError, match="already holding"):
            limiter.acquire_on_behalf_of_nowait("someone")
        with pytest.raises(lowio.WouldBlock):
            limiter.acquire_on_behalf_of_nowait("third")
        assert set(limiter.statistics().borrowers) == {current_task(), "someone"}
        assert limiter.available_tokens == 0
        with assert_no_checkpoints():
            limiter.release_on_behalf_of(current_task())
        assert limiter.statistics().borrowers == ["someone"]
        with pytest.raises(RuntimeError, match="isn't holding"):
            limiter.release_on_behalf_of("nobody")
        limiter.release_on_behalf_of("someone")
        assert limiter.borrowed_tokens == 0
        with assert_checkpoints():
            async with limiter:
                assert limiter.statistics().borrowers == [current_task()]
        assert limiter.borrowed_tokens == 0
        # a cancelled acquire takes nothing, even with tokens free
        await cancelled_call(limiter.acquire)
        assert limiter.borrowed_tokens == 0

    run(main)


def test_capacity_limiter_fifo_handoff_and_cancellation() -> None:
    async def main() -> None:
        limiter = lowio.CapacityLimiter(1)
        record: list[str] = []

        async def worker(name: str) -> None:
            async with limiter:
                record.append(name)

        limiter.acquire_nowait()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(worker, "a")
            await wait_all_tasks_blocked()
            async with lowio.open_nursery() as doomed:
                doomed.start_soon(worker, "b")
                await wait_all_tasks_blocked()
                assert limiter.statistics().tasks_waiting == 2
                doomed.cancel_scope.cancel()
            assert limiter.statistics().tasks_waiting == 1
            assert len(limiter._pending_borrowers) == 1
            nursery.start_soon(worker, "c")
            await wait_all_tasks_blocked()
            limiter.release()
            # handed to "a" at once: no barging
            assert limiter.borrowed_tokens == 1
            assert limiter.statistics().tasks_waiting == 1
            with pytest.raises(lowio.WouldBlock):
                limiter.acquire_nowait()
        assert record == ["a", "c"]
        assert limiter.borrowed_tokens == 0
        assert not limiter._pending_borrowers

    run(main)


def test_capacity_limiter_change_total_tokens() -> None:
    async def main() -> None:
        limiter = lowio.CapacityLimiter(2)
        async with lowio.open_nursery() as nursery:
            for i in range(5):
                nursery.start_soon(limiter.acquire_on_behalf_of, i)
                await wait_all_tasks_blocked()
            assert set(limiter.statistics().borrowers) == {0, 1}
            assert limiter.statistics().tasks_waiting == 3
            limiter.total_tokens += 2  # wakes two waiters at once, oldest first
            assert set(limiter.statistics().borrowers) == {0, 1, 2, 3}
            assert limiter.statistics().tasks_waiting == 1
            limiter.total_tokens -= 3  # takes nothing back
            assert (limiter.borrowed_tokens, limiter.total_tokens) == (4, 1)
            assert limiter.available_tokens == -3
            for i in range(3):
                limiter.release_on_behalf_of(i)
            assert limiter.statistics().borrowers == [3]
            assert limiter.statistics().tasks_waiting == 1
            limiter.release_on_behalf_of(3)
            assert limiter.statistics().borrowers == [4]
            assert limiter.statistics().tasks_waiting == 0
            limiter.release_on_behalf_of(4)

    run(main)


def test_capacity_limiter_zero_and_inf_tokens() -> None:
    async def main() -> None:
        limiter = lowio.CapacityLimiter(0)
        with pytest.raises(lowio.WouldBlock):
            limiter.acquire_nowait()
        async with lowio.open_nursery() as nursery:
            for i in range(4):
                nursery.start_soon(limiter.acquire_on_behalf_of, i)
                await wait_all_tasks_blocked()
            assert limiter.statistics().borrowers == []
            assert limiter.statistics().tasks_waiting == 4
            limiter.total_tokens = 1
            assert limiter.statistics().borrowers == [0]
            limiter.total_tokens = 0
            limiter.release_on_behalf_of(0)
            assert limiter.statistics().borrowers == []
            assert limiter.statistics().tasks_waiting == 3
            limiter.total_tokens = math.inf  # every waiter gets a token
            assert set(limiter.statistics().borrowers) == {1, 2, 3}
            assert limiter.statistics().tasks_waiting == 0
        assert limiter.available_tokens == math.inf
        for i in range(100):
            limiter.acquire_on_behalf_of_nowait(("extra", i))
        assert limiter.borrowed_tokens == 103
        assert limiter.available_tokens == math.inf
        assert limiter.statistics().total_tokens == math.inf

    run(main)


def test_capacity_limiter_cancelled_on_behalf_waiter_is_forgotten() -> None:
    async def main() -> None:
        limiter = lowio.CapacityLimiter(1)
        await limiter.acquire()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(limiter.acquire_on_behalf_of, "thread")
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        assert not limiter._pending_borrowers
        limiter.release()
        assert limiter.borrowed_tokens == 0
        assert "thread" not in limiter.statistics().borrowers

    run(main)


# ---- Condition ----


def test_condition_construction_and_errors() -> None:
    with pytest.raises(TypeError, match=r"lowio\.Lock"):
        lowio.Condition(lowio.Semaphore(1))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        lowio.Condition(lowio.StrictFIFOLock())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        lowio.Condition(lowio.Lock)  # type: ignore[arg-type]

    async def main() -> None:
        lock = lowio.Lock()
        cond = lowio.Condition(lock)
        assert not cond.locked()
        with assert_checkpoints():
            await cond.acquire()
        assert lock.locked() and cond.locked()
        cond.release()
        assert not lock.locked()

        cond = lowio.Condition()
        assert "lowio.Condition" in repr(cond)
        with assert_no_checkpoints():
            cond.acquire_nowait()
        with pytest.raises(RuntimeError):
            cond.acquire_nowait()
        with assert_no_checkpoints():
            cond.release()
        with pytest.raises(RuntimeError, match="must hold the lock to wait"):
            await cond.wait()
        with pytest.raises(RuntimeError, match="must hold the lock to notify"):
            cond.notify()
        with pytest.raises(RuntimeError, match="must hold the lock to notify"):
            cond.notify_all()
        assert cond.statistics() == lowio.ConditionStatistics(
            tasks_waiting=0,
            lock_statistics=lowio.LockStatistics(locked=False, owner=None, tasks_waiting=0),
        )

    run(main)


def test_condition_notify_order() -> None:
    async def main() -> None:
        cond = lowio.Condition()
        woken: list[int] = []

        async def waiter(i: int) -> None:
            async with cond:
                await cond.wait()
                assert cond.statistics().lock_statistics.owner is current_task()
                woken.append(i)

        async with lowio.open_nursery() as nursery:
            for i in range(4):
                nursery.start_soon(waiter, i)
                await wait_all_tasks_blocked()
            assert cond.statistics().tasks_waiting == 4
            async with cond:
                with assert_no_checkpoints():
                    cond.notify()
                await wait_all_tasks_blocked()
                assert woken == []  # it needs the lock we hold
                assert cond.statistics().lock_statistics.tasks_waiting == 1
            await wait_all_tasks_blocked()
            assert woken == [0]
            async with cond:
                cond.notify(2)
                stats = cond.statistics()
                assert stats.tasks_waiting == 1
                assert stats.lock_statistics.tasks_waiting == 2
            # releasing hands the lock to the first notified task
            assert cond.statistics().lock_statistics.tasks_waiting == 1
            await wait_all_tasks_blocked()
            assert woken == [0, 1, 2]
            async with cond:
                cond.notify(0)
                cond.notify(-1)
                assert cond.statistics().tasks_waiting == 1
                with assert_no_checkpoints():
                    cond.notify_all()
                assert cond.statistics().tasks_waiting == 0
        assert woken == [0, 1, 2, 3]

    run(main)


def test_condition_notify_all_wakes_in_wait_order() -> None:
    async def main() -> None:
        cond = lowio.Condition()
        woken: list[int] = []

        async def waiter(i: int) -> None:
            async with cond:
                await cond.wait()
                woken.append(i)

        async with lowio.open_nursery() as nursery:
            for i in range(3):
                nursery.start_soon(waiter, i)
                await wait_all_tasks_blocked()
            async with cond:
                cond.notify_all()
                assert cond.statistics().lock_statistics.tasks_waiting == 3
        assert woken == [0, 1, 2]
        assert not cond.locked()

    run(main)


def test_condition_wait_is_a_checkpoint_and_reacquires_when_cancelled() -> None:
    async def main() -> None:
        cond = lowio.Condition()
        with lowio.CancelScope() as scope:
            async with cond:
                scope.cancel()
                try:
                    with assert_checkpoints():
                        await cond.wait()
                finally:
                    assert cond.locked()
                    assert cond.statistics().lock_statistics.owner is current_task()
        assert scope.cancelled_caught
        assert not cond.locked()
        assert not breakers()

    run(main)


def test_condition_cancelled_wait_waits_for_the_lock() -> None:
    async def main() -> None:
        cond = lowio.Condition()
        record: list[str] = []
        scope = lowio.CancelScope()

        async def waiter() -> None:
            with scope:
                try:
                    async with cond:
                        await cond.wait()
                except lowio.Cancelled:
                    record.append("cancelled")
                    raise

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await wait_all_tasks_blocked()
            await cond.acquire()
            scope.cancel()
            await wait_all_tasks_blocked()
            # it left the condition's queue and waits (shielded) for the lock
            assert record == []
            assert cond.statistics().tasks_waiting == 0
            assert cond.statistics().lock_statistics.tasks_waiting == 1
            cond.release()
        assert record == ["cancelled"]
        assert scope.cancelled_caught
        assert not cond.locked()

    run(main)


def test_condition_waiter_sees_broken_lock() -> None:
    async def main() -> None:
        cond = lowio.Condition()
        errors: list[BaseException] = []

        async def waiter() -> None:
            await cond.acquire()
            try:
                await cond.wait()
            except lowio.BrokenResourceError as exc:
                errors.append(exc)

        async def notify_and_die() -> None:
            await cond.acquire()
            cond.notify()  # the waiter now queues for a lock we never release

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await wait_all_tasks_blocked()
            nursery.start_soon(notify_and_die)
        [exc] = errors
        assert str(exc).startswith("Owner of this lock exited without releasing")
        assert isinstance(exc.__context__, lowio.BrokenResourceError)
        assert cond.statistics().lock_statistics.tasks_waiting == 0
        assert cond.locked()  # still "held" by the dead task
        assert not breakers()

    run(main)


# ---- all the lock-like classes ----

LOCK_FACTORIES: dict[str, Callable[[], Any]] = {
    "Lock": lowio.Lock,
    "StrictFIFOLock": lowio.StrictFIFOLock,
    "Semaphore(1)": lambda: lowio.Semaphore(1),
    "CapacityLimiter(1)": lambda: lowio.CapacityLimiter(1),
    "Condition": lowio.Condition,
}


@pytest.mark.parametrize("factory", LOCK_FACTORIES.values(), ids=LOCK_FACTORIES.keys())
def test_mutual_exclusion_and_fifo_order(factory: Callable[[], Any]) -> None:
    async def main() -> None:
        lock_like = factory()
        inside = 0
        first_round: list[int] = []
        record: list[int] = []

        async def worker(i: int) -> None:
            nonlocal inside
            first_round.append(i)
            for _ in range(4):
                async with lock_like:
                    inside += 1
                    assert inside == 1
                    record.append(i)
                    await checkpoint()
                    await checkpoint()
                    inside -= 1

        async with lowio.open_nursery() as nursery:
            for i in range(3):
                nursery.start_soon(worker, i)
        # whatever order they first arrived in repeats every round
        assert sorted(first_round) == [0, 1, 2]
        assert record == first_round * 4

    run(main)


@pytest.mark.parametrize("factory", LOCK_FACTORIES.values(), ids=LOCK_FACTORIES.keys())
def test_acquire_nowait_blocks_acquire(factory: Callable[[], Any]) -> None:
    async def main() -> None:
        lock_like = factory()
        record: list[str] = []

        async def taker() -> None:
            record.append("started")
            async with lock_like:
                record.append("acquired")

        lock_like.acquire_nowait()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(taker)
            await wait_all_tasks_blocked()
            assert record == ["started"]
            lock_like.release()
        assert record == ["started", "acquired"]

    run(main)


@pytest.mark.parametrize(
    "cls",
    [
        lowio.Event,
        lowio.Lock,
        lowio.StrictFIFOLock,
        lowio.Semaphore,
        lowio.CapacityLimiter,
        lowio.Condition,
    ],
    ids=lambda cls: cls.__name__,
)
def test_classes_are_final(cls: type) -> None:
    with pytest.raises(TypeError, match="does not support subclassing"):
        type("Sub", (cls,), {})


def test_statistics_are_frozen_values() -> None:
    stats = lowio.EventStatistics(tasks_waiting=1)
    assert stats == lowio.EventStatistics(tasks_waiting=1)
    assert hash(stats) == hash(lowio.EventStatistics(tasks_waiting=1))
    assert repr(stats) == "EventStatistics(tasks_waiting=1)"
    with pytest.raises(AttributeError):
        stats.tasks_waiting = 2  # type: ignore[misc]
