"""``Sequencer``: forces blocks of code in different tasks to run in a given
order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from .._core import Cancelled
from .._sync import Event, _final

__all__ = ["Sequencer"]


@_final
class Sequencer:
    """``async with seq(n):`` runs its block only after the block numbered
    ``n - 1`` has finished; block 0 runs at once.

    Each number may be used once (``RuntimeError`` otherwise).  If a task is
    cancelled while waiting for its turn the sequence is broken: every
    waiter (and every later ``seq(n)``) gets ``RuntimeError``.  Entering is
    a checkpoint unless ``n == 0``.
    """

    def __init__(self) -> None:
        self._turns: defaultdict[int, Event] = defaultdict(Event)
        self._claimed: set[int] = set()
        self._broken = False

    def __call__(self, position: int) -> AbstractAsyncContextManager[None]:
        return self._block(position)

    @asynccontextmanager
    async def _block(self, position: int) -> AsyncIterator[None]:
        if position in self._claimed:
            raise RuntimeError(f"Attempted to reuse sequence point {position}")
        if self._broken:
            raise RuntimeError("sequence broken!")
        self._claimed.add(position)
        if position != 0:
            try:
                await self._turns[position].wait()
            except Cancelled:
                self._broken = True
                for turn in self._turns.values():
                    turn.set()
                raise RuntimeError("Sequencer wait cancelled -- sequence broken") from None
            if self._broken:
                raise RuntimeError("sequence broken!")
        try:
            yield
        finally:
            self._turns[position + 1].set()
