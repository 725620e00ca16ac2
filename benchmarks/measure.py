"""Timing helpers: interleaved repetitions, medians, spread and paired ratios.

Contenders of one workload run rep by rep in turn (A, B, C, A, B, C, ...),
so a burst of load from another process hits all of them alike; each ratio
is the median of per-rep ratios, which is what a noisy shared machine
still measures well.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


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


def interleave(contenders: dict[str, Callable[[], float]], reps: int) -> dict[str, Sample]:
    """Runs each contender's one-rep function ``reps`` times, in turn."""
    samples = {name: Sample(name) for name in contenders}
    for _ in range(reps):
        for name, one_rep in contenders.items():
            samples[name].values.append(one_rep())
    return samples


def interleave_metrics(
    contenders: dict[str, Callable[[int], dict[str, float]]], reps: int, warmup: int = 0
) -> dict[str, dict[str, Sample]]:
    """Like :func:`interleave` for repetitions that measure several things at
    once: each contender's ``one_rep(rep)`` returns ``{metric: value}``.
    ``warmup`` untimed rounds (rep numbers -1, -2, ...) run first.  Returns
    ``{metric: {contender: Sample}}``."""
    for i in range(warmup):
        for one_rep in contenders.values():
            one_rep(-1 - i)
    out: dict[str, dict[str, Sample]] = {}
    for rep in range(reps):
        for name, one_rep in contenders.items():
            for metric, value in one_rep(rep).items():
                out.setdefault(metric, {}).setdefault(name, Sample(name)).values.append(value)
    return out


def paired_ratio(base: Sample, other: Sample) -> float:
    """Median over reps of base/other: > 1 means ``other`` is faster."""
    return statistics.median(b / o for b, o in zip(base.values, other.values, strict=True))
