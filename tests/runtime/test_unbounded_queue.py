"""``lowlevel.UnboundedQueue``: batches, blocking, fairness, deprecation."""

from __future__ import annotations

import pytest

import lowio
from lowio.lowlevel import UnboundedQueue

pytestmark = pytest.mark.filterwarnings("ignore::lowio.TrioDeprecationWarning")


def test_making_one_is_deprecated() -> None:
    with pytest.warns(lowio.TrioDeprecationWarning, match="UnboundedQueue") as record:
        q: UnboundedQueue[int] = UnboundedQueue()
    assert q.empty()
    assert record[0].filename == __file__


def test_batches_and_wouldblock() -> None:
    async def main() -> None:
        q: UnboundedQueue[int] = UnboundedQueue()
        with pytest.raises(lowio.WouldBlock):
            q.get_batch_nowait()
        q.put_nowait(1)
        q.put_nowait(2)
        assert (q.qsize(), q.empty()) == (2, False)
        assert await q.get_batch() == [1, 2]
        assert q.empty()
        assert repr(q) == "<UnboundedQueue holding 0 items>"

    lowio.run(main)


def test_a_waiting_consumer_gets_the_batch_first() -> None:
    async def main() -> None:
        q: UnboundedQueue[str] = UnboundedQueue()
        got: list[list[str]] = []

        async def consumer() -> None:
            async for batch in q:
                got.append(batch)
                return

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(consumer)
            await lowio.testing.wait_all_tasks_blocked()
            assert q.statistics().tasks_waiting == 1
            q.put_nowait("a")
            # the woken consumer owns this batch: nobody else may take it
            with pytest.raises(lowio.WouldBlock):
                q.get_batch_nowait()
            q.put_nowait("b")
        assert got == [["a", "b"]]
        assert q.statistics() == lowio.lowlevel.UnboundedQueueStatistics(0, 0)

    lowio.run(main)


def test_get_batch_is_a_cancel_point_only_before_taking() -> None:
    async def main() -> None:
        q: UnboundedQueue[int] = UnboundedQueue()
        q.put_nowait(1)
        with lowio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(lowio.Cancelled):
                await q.get_batch()
        assert q.qsize() == 1

    lowio.run(main)
