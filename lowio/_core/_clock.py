"""Clocks: what ``lowio.current_time()`` reads and how long the run loop
may sleep until a deadline."""

from __future__ import annotations

import abc
import random
import time


class Clock(abc.ABC):
    """The clock interface ``lowio.run(clock=...)`` takes (trio's)."""

    @abc.abstractmethod
    def start_clock(self) -> None:
        """Called once, when the run starts."""

    @abc.abstractmethod
    def current_time(self) -> float:
        """The current time in seconds (any origin; monotonic)."""

    @abc.abstractmethod
    def deadline_to_sleep_time(self, deadline: float) -> float:
        """How many real seconds to sleep until ``deadline`` (may be <= 0)."""


class SystemClock(Clock):
    """``time.perf_counter()`` plus a random offset, so that nobody mistakes
    run-loop time for wall-clock time or for zero at startup."""

    __slots__ = ("_offset",)

    def __init__(self) -> None:
        self._offset = random.uniform(10000, 200000)

    def start_clock(self) -> None:
        pass

    def current_time(self) -> float:
        return time.perf_counter() + self._offset

    def deadline_to_sleep_time(self, deadline: float) -> float:
        return deadline - self.current_time()
