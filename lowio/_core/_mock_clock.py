"""``lowio.testing.MockClock``: a clock for tests that runs at any rate and
can jump to the next deadline whenever every task is blocked."""

from __future__ import annotations

import math
import time

from ._clock import Clock
from ._local import GLOBAL_RUN_CONTEXT


class MockClock(Clock):
    """A controllable clock (trio's ``MockClock``).

    ``rate``: virtual seconds per real second (0, the default, freezes
    time).  ``autojump_threshold``: once every task has been blocked for
    this many real seconds, time jumps to the next deadline (0 makes every
    sleep instant; ``inf``, the default, never jumps).  ``jump(seconds)``
    moves time forward by hand.
    """

    def __init__(self, rate: float = 0.0, autojump_threshold: float = math.inf) -> None:
        self._real_base = 0.0
        self._virtual_base = 0.0
        self._rate = 0.0
        self._autojump_threshold = 0.0
        self._real_clock = time.perf_counter
        self.rate = rate
        self.autojump_threshold = autojump_threshold

    def __repr__(self) -> str:
        return f"<MockClock, time={self.current_time():.7f}, rate={self._rate} @ {id(self):#x}>"

    @property
    def rate(self) -> float:
        return self._rate

    @rate.setter
    def rate(self, new_rate: float) -> None:
        if new_rate < 0:
            raise ValueError("rate must be >= 0")
        real = self._real_clock()
        self._virtual_base = self._real_to_virtual(real)
        self._real_base = real
        self._rate = float(new_rate)

    @property
    def autojump_threshold(self) -> float:
        return self._autojump_threshold

    @autojump_threshold.setter
    def autojump_threshold(self, new_threshold: float) -> None:
        value = float(new_threshold)
        if math.isnan(value) or value < 0:
            raise ValueError("autojump_threshold must be >= 0")
        self._autojump_threshold = value
        runner = GLOBAL_RUN_CONTEXT.runner
        if runner is not None and runner.clock is self:
            runner.io.wake()  # a blocked loop recomputes its timeout

    def _real_to_virtual(self, real: float) -> float:
        return self._virtual_base + self._rate * (real - self._real_base)

    def start_clock(self) -> None:
        pass

    def current_time(self) -> float:
        return self._real_to_virtual(self._real_clock())

    def deadline_to_sleep_time(self, deadline: float) -> float:
        virtual_timeout = deadline - self.current_time()
        if virtual_timeout <= 0:
            return 0
        if self._rate > 0:
            return virtual_timeout / self._rate
        return 999999999

    def jump(self, seconds: float) -> None:
        """Moves time forward by ``seconds`` (``ValueError`` if negative)."""
        if seconds < 0:
            raise ValueError("time can't go backwards")
        self._virtual_base += seconds

    def _autojump(self, next_deadline: float) -> None:
        jump = next_deadline - self.current_time()
        if 0 < jump < math.inf:
            self.jump(jump)
