"""``lowlevel.UnboundedQueue``: trio's deprecated batch queue (kept because
trio code still uses it; new code wants ``open_memory_channel(math.inf)``)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Generic, TypeVar

from .._warnings import TrioDeprecationWarning
from ._exceptions import WouldBlock, final
from ._ki import enable_ki_protection
from ._parking_lot import ParkingLot
from ._traps import cancel_shielded_checkpoint, checkpoint_if_cancelled

T = TypeVar("T")


@dataclass(frozen=True)
class UnboundedQueueStatistics:
    """``qsize``: items held; ``tasks_waiting``: tasks blocked in ``get_batch``."""

    qsize: int
    tasks_waiting: int


@final
class UnboundedQueue(Generic[T]):
    """A queue that never blocks a producer; consumers take everything
    queued so far as one batch (a non-empty list, in order).

    Deprecated (``TrioDeprecationWarning`` when made).  ``async for batch in
    queue`` is ``while True: batch = await queue.get_batch()``.  Only tasks
    of the run may use it (it is not thread-safe).
    """

    def __init__(self) -> None:
        warnings.warn(
            TrioDeprecationWarning(
                "lowio.lowlevel.UnboundedQueue (trio.lowlevel.UnboundedQueue) is deprecated; "
                "use lowio.open_memory_channel(math.inf) instead "
                "(https://github.com/python-trio/trio/issues/497)"
            ),
            stacklevel=2,
        )
        self._waiting = ParkingLot()
        self._items: list[T] = []
        # a batch is ready for whoever asks: set by a put that found nobody
        # waiting, cleared when a batch is taken (a woken waiter takes it)
        self._ready = False

    def __repr__(self) -> str:
        return f"<UnboundedQueue holding {len(self._items)} items>"

    def qsize(self) -> int:
        """How many items are queued."""
        return len(self._items)

    def empty(self) -> bool:
        """Whether nothing is queued."""
        return not self._items

    @enable_ki_protection
    def put_nowait(self, obj: T) -> None:
        """Queues ``obj``; never blocks, never fails.  Not a checkpoint."""
        if not self._items:
            if self._waiting:
                self._waiting.unpark(count=1)  # it takes the batch when it runs
            else:
                self._ready = True
        self._items.append(obj)

    def _take(self) -> list[T]:
        batch, self._items = self._items, []
        self._ready = False
        return batch

    def get_batch_nowait(self) -> list[T]:
        """Takes the queued items; ``WouldBlock`` if there are none (or a
        woken consumer is about to take them).  Not a checkpoint."""
        if not self._ready:
            raise WouldBlock
        return self._take()

    async def get_batch(self) -> list[T]:
        """Takes the queued items, waiting for one if there are none.  A
        checkpoint; ``Cancelled`` only before anything is taken."""
        await checkpoint_if_cancelled()
        if not self._ready:
            await self._waiting.park()
            return self._take()
        try:
            return self._take()
        finally:
            await cancel_shielded_checkpoint()

    def statistics(self) -> UnboundedQueueStatistics:
        """The queue's ``UnboundedQueueStatistics``."""
        return UnboundedQueueStatistics(
            qsize=len(self._items), tasks_waiting=self._waiting.statistics().tasks_waiting
        )

    def __aiter__(self) -> UnboundedQueue[T]:
        return self

    async def __anext__(self) -> list[T]:
        return await self.get_batch()
