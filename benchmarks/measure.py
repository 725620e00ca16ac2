"""Timing helpers: interleaved repetitions, medians, spread and paired ratios.

Contenders of one workload run rep by rep in turn (A, B, C, A, B, C, ...),
so a burst of load from another process hits all of them alike; each ratio
is the median of per-rep ratios, which is what a noisy shared machine
still measures well.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import othercpu


@dataclass
class Sample:
    """Nanoseconds per operation, one value per repetition."""

    name: str
    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def spread(self) -> float:
        """Half the interquartile range, as a fraction of the median."""
        if len(self.values) < 4:
            return 0.0
        q = statistics.quantiles(self.values, n=4)
        return (q[2] - q[0]) / 2 / self.median


def time_per_op(fn: Callable[[int], None], loops: int, ops_per_loop: int) -> float:
    """ns per operation of ``fn(loops)``, which performs loops*ops_per_loop ops."""
    start = time.perf_counter_ns()
    fn(loops)
    return (time.perf_counter_ns() - start) / (loops * ops_per_loop)


def interleave(
    contenders: dict[str, Callable[[], float]], reps: int, label: str = ""
) -> dict[str, Sample]:
    """Runs each contender's one-rep function ``reps`` times, in turn; the
    other processes' CPU use is recorded per rep under ``label``."""
    samples = {name: Sample(name) for name in contenders}
    for rep in range(reps):
        for name, one_rep in contenders.items():
            window = othercpu.Window()
            samples[name].values.append(one_rep())
            othercpu.record(label, name, rep, window)
    return samples


def interleave_metrics(
    contenders: dict[str, Callable[[int], dict[str, float]]],
    reps: int,
    warmup: int = 0,
    label: str = "",
) -> dict[str, dict[str, Sample]]:
    """Like :func:`interleave` for repetitions that measure several things at
    once: each contender's ``one_rep(rep)`` returns ``{metric: value}``.
    ``warmup`` untimed rounds (rep numbers -1, -2, ...) run first.  Returns
    ``{metric: {contender: Sample}}``; the other processes' CPU use is
    recorded per timed rep under ``label``."""
    for i in range(warmup):
        for one_rep in contenders.values():
            one_rep(-1 - i)
    out: dict[str, dict[str, Sample]] = {}
    for rep in range(reps):
        for name, one_rep in contenders.items():
            window = othercpu.Window()
            values = one_rep(rep)
            othercpu.record(label, name, rep, window)
            for metric, value in values.items():
                out.setdefault(metric, {}).setdefault(name, Sample(name)).values.append(value)
    return out


def _ratio(b: float, o: float) -> float:
    if o == 0:  # e.g. no RSS growth at all: infinitely better, or a tie
        return math.inf if b > 0 else 1.0
    return b / o


def paired_ratio(base: Sample, other: Sample) -> float:
    """Median over reps of base/other: > 1 means ``other`` is faster."""
    return statistics.median(_ratio(b, o) for b, o in zip(base.values, other.values, strict=True))
