"""``lowio.lowlevel.current_statistics()``: living and runnable tasks, the
next deadline, the ``run_sync_soon`` queue, and its repr."""

from __future__ import annotations

import lowio
from lowio.lowlevel import (
    checkpoint,
    current_statistics,
    current_token,
)
from lowio.testing import MockClock, wait_all_tasks_blocked


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
