"""The runtime kernel: lowio vs trio (its native backend) vs asyncio.

Every workload is written once for the trio-shaped API (lowio and trio run
the very same code, with the library's functions bound to locals) and once
for asyncio (``runtime_trio``, ``runtime_asyncio``; this module holds the
workload table, the targets and the harness).  A repetition is one fresh
``lowio.run`` / ``trio.run`` / ``asyncio.run``; the clock starts inside the
run, after setup, so run start and teardown are not measured.  Every
repetition returns a count that is checked against what the workload must
have done (tasks completed, bytes echoed back, reads cancelled while
blocked, sleepers woken on time): a contender that skips work fails instead
of winning.

* ``sleep0``: ``await sleep(0)`` in a loop; per iteration.
* ``spawn``: spawn N tasks that checkpoint once, and join them; per task.
* ``cancel_read``: spawn a task that blocks reading a socket, cancel it,
  join it; per cycle.  The parent checkpoints until the reader has parked:
  once for lowio and asyncio, 1.5 times on average for trio (its scheduler
  reverses half of its batches).
* ``move_on``: ``with move_on_after(10): await checkpoint()``; per iteration.
* ``pingpong``: one byte back and forth between two tasks over a
  socketpair, through ``wait_readable`` + non-blocking ``send``/``recv``
  (asyncio: ``loop.sock_recv`` / ``loop.sock_sendall``); per round trip.
* ``channel_pingpong``: an int back and forth between two tasks over two
  unbuffered memory channels (asyncio: two one-slot ``asyncio.Queue`` s);
  per round trip.
* ``timers``: N tasks each sleep a random 0-100 ms (the same durations for
  every contender in a repetition); lateness (woken minus requested) p50
  and p99, and the CPU time (``time.process_time``) of the whole batch.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass

import trio

import lowio
import lowio.lowlevel

from . import frameworks
from .measure import Sample, interleave_metrics
from .runtime_asyncio import (
    asyncio_cancel_read,
    asyncio_channel_pingpong,
    asyncio_move_on,
    asyncio_pingpong,
    asyncio_sleep0,
    asyncio_spawn,
    asyncio_timers,
)
from .runtime_common import Impl, Outcome
from .runtime_tls import tls_pingpong
from .runtime_trio import (
    TrioShaped,
    trio_cancel_read,
    trio_channel_pingpong,
    trio_move_on,
    trio_pingpong,
    trio_sleep0,
    trio_spawn,
    trio_timers,
)

__all__ = ["CONTENDERS", "WORKLOADS", "Metric", "Outcome", "Unverified", "Workload", "bench"]

CONTENDERS = ("lowio", "trio", "asyncio")


# ---- the workloads ----


@dataclass
class Metric:
    """One reported row of a workload."""

    key: str
    label: str  # "{n}" is replaced by the size
    target: str = ""
    check: Callable[[dict[str, float]], bool] | None = None


@dataclass
class Workload:
    name: str
    full: int  # size in the default run
    quick: int  # size with --quick
    impls: dict[str, Impl]
    metrics: list[Metric]

    def size(self, quick: bool, scale: float = 1.0) -> int:
        return max(2, round((self.quick if quick else self.full) * scale))


def _both(fn: Callable[[TrioShaped, int, int], Outcome], asyncio_fn: Impl) -> dict[str, Impl]:
    low, tri = TrioShaped(lowio), TrioShaped(trio)
    return {
        "lowio": lambda n, rep: fn(low, n, rep),
        "trio": lambda n, rep: fn(tri, n, rep),
        "asyncio": asyncio_fn,
    }


def vs(contender: str, at_least: float) -> tuple[str, Callable[[dict[str, float]], bool]]:
    """A target "lowio at least ``at_least`` times as fast as ``contender``"
    and its check of the paired ratios."""
    return f"≥ {at_least:.2f}x {contender}", lambda ratios: ratios[contender] >= at_least


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "sleep0",
            50_000,
            20_000,
            _both(trio_sleep0, asyncio_sleep0),
            [Metric("ns", "sleep(0) loop, per iteration", *vs("asyncio", 1.0))],
        ),
        Workload(
            "spawn",
            10_000,
            10_000,
            _both(trio_spawn, asyncio_spawn),
            [Metric("ns", "spawn + join {n} tasks, per task", *vs("trio", 1.4))],
        ),
        Workload(
            "cancel_read",
            5_000,
            2_000,
            _both(trio_cancel_read, asyncio_cancel_read),
            [Metric("ns", "cancel a blocked socket read, per cycle", *vs("trio", 3.0))],
        ),
        Workload(
            "move_on",
            50_000,
            20_000,
            _both(trio_move_on, asyncio_move_on),
            [Metric("ns", "move_on_after(10) + checkpoint, per iteration", *vs("trio", 1.5))],
        ),
        Workload(
            "pingpong",
            10_000,
            5_000,
            _both(trio_pingpong, asyncio_pingpong),
            [Metric("ns", "1-byte ping-pong, per round trip", *vs("trio", 2.0))],
        ),
        Workload(
            "channel_pingpong",
            20_000,
            10_000,
            _both(trio_channel_pingpong, asyncio_channel_pingpong),
            [Metric("ns", "memory-channel ping-pong, per round trip", *vs("trio", 2.0))],
        ),
        Workload(
            "tls_pingpong",
            5_000,
            2_000,
            {
                "lowio": lambda n, rep: tls_pingpong(lowio, n, rep),
                "trio": lambda n, rep: tls_pingpong(trio, n, rep),
            },
            [Metric("ns", "TLS echo of 1 KiB over SSLStream, per round trip", *vs("trio", 1.3))],
        ),
        Workload(
            "timers",
            5_000,
            5_000,
            _both(trio_timers, asyncio_timers),
            [
                Metric("p50", "{n} timers 0-100 ms: lateness p50"),
                Metric("p99", "{n} timers 0-100 ms: lateness p99", *vs("asyncio", 1.0)),
                Metric("cpu", "{n} timers 0-100 ms: CPU time", *vs("asyncio", 1.0)),
            ],
        ),
    )
}


class Unverified(AssertionError):
    """A contender's repetition did not do the work it was asked to."""


def verified(workload: Workload, contender: str, size: int, rep: int) -> dict[str, float]:
    """One repetition's metrics; ``Unverified`` unless it did all its work."""
    outcome = workload.impls[contender](size, rep)
    if outcome.done != size:
        raise Unverified(
            f"{workload.name} on {contender}: {outcome.done} of {size} operations "
            "completed as required"
        )
    return outcome.metrics


def bench(workload: Workload, size: int, reps: int) -> dict[str, dict[str, Sample]]:
    """{metric key: {contender: Sample}}, contenders interleaved rep by rep
    after one warm-up repetition each."""

    def one_rep(contender: str) -> Callable[[int], dict[str, float]]:
        def run(rep: int) -> dict[str, float]:
            gc.collect()
            return verified(workload, contender, size, rep)

        return run

    # anyio workloads' contenders are named after the backend: "anyio-trio" for "trio"
    prefix = "anyio-" if workload.name.startswith("anyio_") else ""
    chosen = {c: one_rep(c) for c in workload.impls if frameworks.wanted(prefix + c)}
    return interleave_metrics(chosen, reps, warmup=1, label=workload.name)
