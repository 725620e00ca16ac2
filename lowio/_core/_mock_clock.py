"""``lowio.testing.MockClock``: a clock for tests that runs at any rate and
can jump to the next deadline whenever every task is blocked."""

from __future__ import annotations

import math
import time

from ._clock import Clock
from ._exceptions import final
from ._local import GLOBAL_RUN_CONTEXT


@final
class MockClock(Clock):
    """A controllable clock for tests.

    ``rate``: virtual seconds per real second (0, the default, freezes
    time).  ``autojump_threshold``: once every task has been blocked for
    this many real seconds, time jumps to the next deadline (0 makes every
    sleep instant; ``inf``, the default, never jumps).  ``jump(seconds)``
    moves time forward by hand.  Both attributes may be changed at any
    time, also during a run.  Virtual time starts at 0 and never goes back.

    Virtual time is a straight line through an *anchor*, a (real, virtual)
    pair: ``virtual = anchor_virtual + rate * (real - anchor_real)``.
    Changing the rate re-anchors at the present moment (so time is
    continuous); ``jump`` lifts the anchor.
    """

    def __init__(self, rate: float = 0.0, autojump_threshold: float = math.inf) -> None:
        self._real_clock = time.perf_counter
        self._anchor_real = self._real_clock()
        self._anchor_virtual = 0.0
        self._rate = 0.0
        self._autojump_threshold = math.inf
        self.rate = rate
        self.autojump_threshold = autojump_threshold

    def __repr__(self) -> str:
        return f"<MockClock, time={self.current_time():.7f}, rate={self._rate} @ {id(self):#x}>"

    @property
    def rate(self) -> float:
        """Virtual seconds per real second; ``ValueError`` if negative."""
        return self._rate

    @rate.setter
    def rate(self, new_rate: float) -> None:
        if new_rate < 0:
            raise ValueError("rate must be >= 0")
        now_real = self._real_clock()
        self._anchor_virtual = self._virtual_at(now_real)
        self._anchor_real = now_real
        self._rate = float(new_rate)

    @property
    def autojump_threshold(self) -> float:
        """Real seconds of all tasks blocked before time jumps to the next
        deadline; ``ValueError`` if negative or NaN."""
        return self._autojump_threshold

    @autojump_threshold.setter
    def autojump_threshold(self, new_threshold: float) -> None:
        value = float(new_threshold)
        if math.isnan(value) or value < 0:
            raise ValueError("autojump_threshold must be >= 0")
        self._autojump_threshold = value
        runner = GLOBAL_RUN_CONTEXT.runner
        if runner is not None and runner.clock is self:
            runner.io.wake()  # a loop blocked in the poller recomputes its timeout

    def _virtual_at(self, real: float) -> float:
        return self._anchor_virtual + self._rate * (real - self._anchor_real)

    def start_clock(self) -> None:
        """Nothing to do: virtual time does not depend on when the run
        starts."""

    def current_time(self) -> float:
        return self._virtual_at(self._real_clock())

    def deadline_to_sleep_time(self, deadline: float) -> float:
        """Real seconds until virtual ``deadline``: 0 if it has passed;
        with the clock frozen (rate 0) waiting never reaches it, so a very
        long time (the run loop caps its sleeps)."""
        remaining = deadline - self.current_time()
        if remaining <= 0:
            return 0
        if self._rate == 0:
            return 999999999
        return remaining / self._rate

    def jump(self, seconds: float) -> None:
        """Moves time forward by ``seconds`` (``ValueError`` if negative).
        Not a checkpoint: timers that are now due fire at the run's next
        batch."""
        if seconds < 0:
            raise ValueError("time can't go backwards")
        self._anchor_virtual += seconds

    def _autojump(self, next_deadline: float) -> None:
        """Called by the run loop when every task has been blocked for
        ``autojump_threshold``: jumps to ``next_deadline`` if it is ahead."""
        gap = next_deadline - self.current_time()
        if 0 < gap < math.inf:
            self.jump(gap)
