"""``Lock`` / ``StrictFIFOLock``: the written-out checkpoint of ``acquire``
(cancel point first, then the take, then a schedule point) and the errors
of ``acquire`` / ``release`` outside a run."""

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
