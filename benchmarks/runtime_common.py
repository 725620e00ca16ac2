"""What the runtime workloads share: ``Outcome`` (a repetition's metrics
and the count that proves its work) and small fixtures."""

from __future__ import annotations

import random
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

TIMER_SPAN = 0.1  # seconds: the longest random sleep of ``timers``
EARLY_SLACK = 1e-6  # a sleeper woken more than this before its time is not counted

perf_counter_ns = time.perf_counter_ns
perf_counter = time.perf_counter
process_time = time.process_time


@dataclass
class Outcome:
    """One repetition: its metrics and the count that proves the work."""

    metrics: dict[str, float]
    done: int


Impl = Callable[[int, int], Outcome]  # (size, rep) -> Outcome


def nonblocking_pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


def durations(count: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(0.0, TIMER_SPAN) for _ in range(count)]


def timer_outcome(lateness: list[float], cpu: float) -> Outcome:
    late = sorted(lateness)
    cuts = statistics.quantiles(late, n=100, method="inclusive") if len(late) > 1 else late * 99
    on_time = sum(1 for x in late if x >= -EARLY_SLACK)
    return Outcome({"p50": cuts[49] * 1e9, "p99": cuts[98] * 1e9, "cpu": cpu * 1e9}, on_time)


BYTES = [bytes([i]) for i in range(256)]  # the pings of ``pingpong``, by value
