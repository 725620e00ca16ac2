"""Other processes' CPU use during each measurement.

Around every timed repetition, the busy time of the whole machine
(``/proc/stat``: user + nice + system, all CPUs; interrupt time is left out,
as loopback networking is accounted there) minus the CPU time of the
measured processes -- this process, its live children (the echo servers,
``/proc/PID/task/*/schedstat``) and its children reaped meanwhile (the load
generator, ``RUSAGE_CHILDREN``) -- is what other processes used.  It is
recorded per repetition (:func:`record`, called by ``measure``) and
summarized per workload in the report's notes, with the repetitions and
workloads where it exceeded :data:`LIMIT` of a core flagged.  /proc/stat
counts in clock ticks (10 ms), so single repetitions shorter than
:data:`MIN_FLAG_WALL` are not flagged one by one, and a repetition's value
keeps its sign (the rounding to ticks makes it up to a few ticks too high
or too low): a workload's share is the sum over its repetitions, in which
the rounding evens out; clipping each repetition at zero first would turn
it into a bias of about a tick per repetition (300% of a core, for reps of
2.5 ms).
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path

LIMIT = 0.20  # of one core: above this a repetition or a workload is flagged
MIN_FLAG_WALL = 0.2  # seconds: shorter repetitions are only judged in aggregate
TICK = 1 / os.sysconf("SC_CLK_TCK")


@dataclass
class RepCpu:
    label: str
    contender: str
    rep: int
    wall: float  # seconds
    other: float  # CPU seconds used by other processes (+- tick rounding)

    @property
    def share(self) -> float:
        return max(0.0, self.other) / self.wall if self.wall > 0 else 0.0


log: list[RepCpu] = []
current = ""  # the label of reps recorded without one


def busy_seconds() -> float:
    """user + nice + system CPU seconds of the whole machine (/proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[1:4]) * TICK


def _children() -> list[int]:
    pids: list[int] = []
    try:
        for task in Path("/proc/self/task").iterdir():
            with contextlib.suppress(OSError):
                pids += [int(p) for p in (task / "children").read_text().split()]
        return pids
    except OSError:
        return []


def _task_ns(pid: int) -> int:
    total = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int((task / "schedstat").read_text().split()[0])
    return total


def own_seconds() -> float:
    """CPU seconds of this process, its live children and its reaped ones."""
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    live = sum(_task_ns(pid) for pid in _children()) / 1e9
    return time.process_time() + reaped.ru_utime + reaped.ru_stime + live


class Window:
    """Started at creation; :meth:`stop` returns (wall, other CPU) seconds."""

    def __init__(self) -> None:
        self.busy = busy_seconds()
        self.own = own_seconds()
        self.start = time.perf_counter()

    def stop(self) -> tuple[float, float]:
        """Wall seconds, and other processes' CPU seconds: the latter may
        be slightly negative (tick rounding; see the module's docstring)."""
        wall = time.perf_counter() - self.start
        other = (busy_seconds() - self.busy) - (own_seconds() - self.own)
        return wall, other


def record(label: str, contender: str, rep: int, window: Window) -> None:
    wall, other = window.stop()
    log.append(RepCpu(label or current, contender, rep, wall, other))


def drain() -> list[RepCpu]:
    """The repetitions recorded since the last call."""
    out = log[:]
    log.clear()
    return out


def _fmt(share: float) -> str:
    return f"{share:.0%}"


def summary(reps: list[RepCpu]) -> list[str]:
    """Report notes: other CPU per workload, and the flags."""
    by_label: dict[str, list[RepCpu]] = {}
    for r in reps:
        by_label.setdefault(r.label, []).append(r)
    if not by_label:
        return []
    shares = {}
    for label, rs in by_label.items():
        wall = sum(r.wall for r in rs)
        shares[label] = max(0.0, sum(r.other for r in rs)) / wall if wall > 0 else 0.0
    notes = [
        "Other processes' CPU during the measurements (share of one core; /proc/stat busy time "
        "minus this process's and its children's): "
        + ", ".join(f"{label} {_fmt(share)}" for label, share in shares.items())
        + "."
    ]
    flagged = [f"{label} ({_fmt(s)} overall)" for label, s in shares.items() if s > LIMIT]
    flagged += [
        f"{r.label} rep {r.rep + 1} of {r.contender} ({_fmt(r.share)})"
        for r in reps
        if r.wall >= MIN_FLAG_WALL and r.share > LIMIT and shares[r.label] <= LIMIT
    ]
    if flagged:
        notes.append(
            f"⚠ other CPU use above {LIMIT:.0%} of a core (numbers may be disturbed): "
            + "; ".join(flagged)
            + "."
        )
    return notes


def as_json(reps: list[RepCpu]) -> list[dict[str, object]]:
    return [{**asdict(r), "share": r.share} for r in reps]
