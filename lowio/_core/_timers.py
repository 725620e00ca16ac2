"""The run's timers: one binary heap of ``[deadline, seq, callback]``
entries for cancel-scope deadlines and sleeping tasks.

Adding and popping are O(log n); cancelling is O(1) (the entry is marked
dead and skipped when it surfaces; the heap is rebuilt once more than half
of it is dead), so 100k pending deadlines stay cheap.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any

Entry = list[Any]


class Timers:
    __slots__ = ("_dead", "_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[Entry] = []
        self._seq = 0
        self._dead = 0

    def __len__(self) -> int:
        """Live timers."""
        return len(self._heap) - self._dead

    def add(self, deadline: float, callback: Callable[[], object]) -> Entry:
        """Calls ``callback()`` once the clock reaches ``deadline``; returns
        the entry to pass to :meth:`cancel`."""
        self._seq = seq = self._seq + 1
        entry = [deadline, seq, callback]
        heapq.heappush(self._heap, entry)
        return entry

    def cancel(self, entry: Entry) -> None:
        if entry[2] is None:
            return
        entry[2] = None
        self._dead += 1
        heap = self._heap
        if self._dead > 64 and self._dead * 2 > len(heap):
            heap[:] = [e for e in heap if e[2] is not None]
            heapq.heapify(heap)
            self._dead = 0

    def next_deadline(self) -> float:
        heap = self._heap
        while heap:
            entry = heap[0]
            if entry[2] is not None:
                return float(entry[0])
            heapq.heappop(heap)
            self._dead -= 1
        return math.inf

    def expire(self, now: float) -> bool:
        """Runs the callbacks of every timer due at ``now``; True if any ran."""
        heap = self._heap
        ran = False
        pop = heapq.heappop
        while heap and heap[0][0] <= now:
            entry = pop(heap)
            callback = entry[2]
            if callback is None:
                self._dead -= 1
                continue
            entry[2] = None
            callback()
            ran = True
        return ran
