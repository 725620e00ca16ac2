"""``Lock`` / ``StrictFIFOLock``: the written-out checkpoint of ``acquire``
(cancel point first, then the take, then a schedule point), the errors
of ``acquire`` / ``release`` outside a run, and the owner's registration
as the breaker of the lock's lot."""

from __future__ import annotations

import pytest

import lowio
from lowio.lowlevel import current_task
from lowio.testing import assert_checkpoints

LOCK_CLASSES = [lowio.Lock, lowio.StrictFIFOLock]


@pytest.mark.parametrize("lock_cls", LOCK_CLASSES, ids=lambda cls: cls.__name__)
def test_acquire_in_a_cancelled_scope_takes_nothing(lock_cls: type[lowio.Lock]) -> None:
    async def main() -> None:
        lock = lock_cls()
        with lowio.CancelScope() as scope:
            scope.cancel()
            await lock.acquire()
        assert scope.cancelled_caught and not lock.locked()
        with lowio.CancelScope() as scope:
            scope.cancel()
            async with lock:
                raise AssertionError("entered a lock in a cancelled scope")
        assert scope.cancelled_caught and not lock.locked()
        # the cancel point comes before the re-acquire check, as trio's
        lock.acquire_nowait()
        with lowio.CancelScope() as scope:
            scope.cancel()
            await lock.acquire()
        assert scope.cancelled_caught and lock.statistics().owner is current_task()
        lock.release()
        # shielded, a cancelled scope around it does not stop it
        with lowio.CancelScope() as outer:
            outer.cancel()
            with lowio.CancelScope(shield=True), assert_checkpoints():
                async with lock:
                    assert lock.locked()
        assert not lock.locked()

    lowio.run(main)


@pytest.mark.parametrize("lock_cls", LOCK_CLASSES, ids=lambda cls: cls.__name__)
def test_acquire_and_release_outside_a_run(lock_cls: type[lowio.Lock]) -> None:
    lock = lock_cls()
    coro = lock.acquire()
    with pytest.raises(RuntimeError, match=r"acquire\(\) must be called from inside lowio.run"):
        coro.send(None)
    with pytest.raises(RuntimeError, match=r"release\(\) must be called from inside lowio.run"):
        lock.release()
    assert not lock.locked()


def test_release_outside_a_run_leaves_a_held_lock_held() -> None:
    lock = lowio.Lock()

    async def take() -> None:
        lock.acquire_nowait()
        lock.release()
        await lock.acquire()  # held when the run ends: its owner exits holding it

    lowio.run(take)
    assert lock.locked()
    with pytest.raises(RuntimeError, match=r"release\(\) must be called from inside lowio\.run"):
        lock.release()
    assert lock.locked()


@pytest.mark.parametrize("lock_cls", LOCK_CLASSES, ids=lambda cls: cls.__name__)
def test_async_with_is_acquire(lock_cls: type[lowio.Lock]) -> None:
    """Entering a free lock takes it before its schedule point (counted as
    ``acquire()`` counts it); a held lock is waited for as in ``acquire()``."""

    async def main() -> None:
        lock = lock_cls()
        task = current_task()
        points = task._cancel_points  # type: ignore[attr-defined]
        async with lowio.open_nursery() as nursery:
            with assert_checkpoints():
                async with lock:
                    assert lock.statistics().owner is task
                    assert task._cancel_points == points + 1  # type: ignore[attr-defined]
            assert not lock.locked()
            order: list[int] = []

            async def take(n: int) -> None:
                async with lock:
                    order.append(n)

            async with lock:
                for n in range(3):
                    nursery.start_soon(take, n)
                    # parked one at a time, so in this order (tasks spawned
                    # together start in no promised order)
                    await lowio.testing.wait_all_tasks_blocked()
                assert lock.statistics().tasks_waiting == 3
        assert order == [0, 1, 2]

    lowio.run(main)


# ``async with lock:`` registers the owner as the lock's breaker, and
# ``release()`` unregisters it, in place when it is the owner's only lock;
# holding several locks goes through the general registry calls.


def test_a_task_holding_several_locks_breaks_them_all_when_it_exits() -> None:
    async def main() -> None:
        first, second = lowio.Lock(), lowio.Lock()
        results: list[str] = []

        async def owner() -> None:
            await first.__aenter__()
            await second.__aenter__()  # a second lot for the same breaker

        async def waiter(lock: lowio.Lock, label: str) -> None:
            try:
                await lock.acquire()
            except lowio.BrokenResourceError:
                results.append(label)

        async with lowio.open_nursery() as nursery:
            await nursery.start(_run_then_started, owner)
            nursery.start_soon(waiter, first, "first")
            nursery.start_soon(waiter, second, "second")
        assert sorted(results) == ["first", "second"]
        assert not current_task()._runner.lot_breakers

    lowio.run(main)


async def _run_then_started(fn: object, *, task_status: lowio.TaskStatus[None]) -> None:
    await fn()  # type: ignore[operator]
    task_status.started()


def test_releasing_in_any_order_leaves_no_breaker_behind() -> None:
    async def main() -> None:
        runner = current_task()._runner
        first, second = lowio.Lock(), lowio.Lock()
        async with first:
            async with second:
                assert len(runner.lot_breakers[current_task()]) == 2
            assert runner.lot_breakers[current_task()] == [first._lot]
        assert not runner.lot_breakers
        await first.acquire()
        await second.acquire()
        first.release()  # not the last one registered
        assert runner.lot_breakers[current_task()] == [second._lot]
        second.release()
        assert not runner.lot_breakers
        # after that, exiting breaks nothing
        assert not first._lot.broken_by and not second._lot.broken_by

    lowio.run(main)


def test_a_task_exiting_with_its_only_lock_breaks_it() -> None:
    async def main() -> None:
        lock = lowio.Lock()

        async def owner(*, task_status: lowio.TaskStatus[None]) -> None:
            await lock.__aenter__()
            task_status.started()

        async with lowio.open_nursery() as nursery:
            await nursery.start(owner)
        with pytest.raises(lowio.BrokenResourceError):
            await lock.acquire()

    lowio.run(main)
