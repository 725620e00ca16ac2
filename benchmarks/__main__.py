"""``python -m benchmarks``: lowio side by side with the alternatives.

* the raw poller: ``lowio.Poll`` vs ``select.epoll`` vs ``selectors``
  (workloads ``poll``, ``ctl``);
* the runtime kernel: lowio vs trio vs asyncio (workloads ``sleep0``,
  ``spawn``, ``cancel_read``, ``move_on``, ``pingpong``, ``timers``);
* TCP echo servers in their own processes driven by a C load generator:
  lowio.socket vs trio.socket vs asyncio (workloads ``echo``, ``syscalls``,
  ``idle``).

Ratios are other/lowio, paired rep by rep: above 1 means lowio is faster.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import echo, poller, runtime, syscalls
from .measure import Sample, paired_ratio
from .report import Row, Table, print_table, write

LOWIO = "lowio.Poll"


def _row(
    workload: str,
    samples: dict[str, Sample],
    target: str = "",
    check: Callable[[dict[str, float]], bool] | None = None,
    lowio_name: str = LOWIO,
) -> Row:
    lowio = samples[lowio_name]
    others = {n: s for n, s in samples.items() if n != lowio_name}
    ratios = {n: paired_ratio(s, lowio) for n, s in others.items()}
    return Row(
        workload=workload,
        lowio_ns=lowio.median,
        lowio_spread=lowio.spread,
        others_ns={n: s.median for n, s in others.items()},
        others_spread={n: s.spread for n, s in others.items()},
        ratios=ratios,
        target=target,
        met=None if check is None else check(ratios),
    )


def _poll_target(ready: int) -> tuple[str, Callable[[dict[str, float]], bool] | None]:
    if ready == 1:
        return "≥ 0.80x epoll", lambda r: r["select.epoll"] >= 0.80
    if ready == 100:
        return "≥ 1.05x epoll", lambda r: r["select.epoll"] >= 1.05
    return "", None


POLLER_WORKLOADS = ("poll", "ctl")
ECHO_WORKLOADS = ("echo", "syscalls", "idle")
WORKLOADS = POLLER_WORKLOADS + tuple(runtime.WORKLOADS) + ECHO_WORKLOADS


def _runtime_rows(only: list[str], quick: bool, scale: float, reps: int) -> list[Row]:
    rows: list[Row] = []
    for name, workload in runtime.WORKLOADS.items():
        if name not in only:
            continue
        size = workload.size(quick, scale)
        print(f"{name} (size {size:,}) ...", file=sys.stderr, flush=True)
        by_metric = runtime.bench(workload, size, reps)
        for metric in workload.metrics:
            label = metric.label.format(n=f"{size:,}")
            rows.append(_row(label, by_metric[metric.key], metric.target, metric.check, "lowio"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repetitions")
    parser.add_argument(
        "--reps",
        type=int,
        default=0,
        help="interleaved repetitions (default 11 quick, 31 full; echo and idle: 5 quick, 9 full)",
    )
    parser.add_argument(
        "--only", default="", help=f"comma-separated workloads: {', '.join(WORKLOADS)}"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("benchmark-results"),
        help="directory for report.md and results.jsonl",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply the runtime workloads' sizes and the echo workloads' durations and "
        "counts (e.g. 0.01 for a smoke test)",
    )
    args = parser.parse_args(argv)
    only = [w for w in args.only.split(",") if w] or list(WORKLOADS)
    unknown = [w for w in only if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; valid: {', '.join(WORKLOADS)}")

    if args.reps < 0:
        parser.error("--reps must be positive")
    if args.scale <= 0:
        parser.error("--scale must be positive")
    started = time.perf_counter()
    reps = args.reps or (11 if args.quick else 31)
    budget_ns = (20e6 if args.quick else 60e6) * min(1.0, reps / 11)
    rows: list[Row] = []
    if "poll" in only:
        for ready in (1, 100, 1000):
            print(f"poll with {ready} ready sources ...", file=sys.stderr, flush=True)
            target, check = _poll_target(ready)
            rows.append(
                _row(
                    f"poll + iterate, {ready} ready",
                    poller.bench_poll(ready, reps, budget_ns),
                    target,
                    check,
                )
            )
    if "ctl" in only:
        print("register / reregister / deregister ...", file=sys.stderr, flush=True)
        for op, samples in poller.bench_ctl(1000 if args.quick else 2000, reps).items():
            rows.append(
                _row(
                    f"{op} (per call)",
                    samples,
                    "≥ 0.83x epoll",
                    lambda r: r["select.epoll"] >= 1 / 1.2,
                )
            )

    tables = [
        Table("Raw poller: lowio.Poll vs select.epoll vs selectors", rows),
        Table(
            "Runtime kernel: lowio vs trio vs asyncio",
            _runtime_rows(only, args.quick, args.scale, reps),
            [
                "One rep is one fresh lowio.run / trio.run / asyncio.run, timed inside the "
                "run; contenders alternate rep by rep after one warm-up rep each.",
                "Every rep is verified (tasks completed, bytes echoed, reads cancelled while "
                "blocked, sleepers not woken early).",
                "Timers: lateness is the wake time minus the requested one; CPU is "
                "time.process_time for spawning, sleeping and joining all the sleepers.",
            ],
        ),
    ]
    skipped: list[str] = []
    echo_benches: dict[str, Callable[[], tuple[Table, list[str]]]] = {
        "echo": lambda: echo.bench_echo(args.quick, args.scale, args.reps),
        "syscalls": lambda: syscalls.bench_syscalls(args.quick, args.scale),
        "idle": lambda: echo.bench_idle(args.quick, args.scale, args.reps),
    }
    for name, bench in echo_benches.items():
        if name in only:
            table, notes = bench()
            tables.append(table)
            skipped += [note for note in notes if note not in skipped]
    for table in tables:
        if table.rows:
            print_table(table.title, table.rows)
    for note in skipped:
        print(f"note: {note}")
    elapsed = time.perf_counter() - started
    notes = [
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{'quick' if args.quick else 'full'} run, {reps} interleaved reps; times are medians "
        "± half the interquartile range.",
        "Ratios are other / lowio, the median of per-rep ratios: above 1 means lowio is faster.",
        f"Wall time of the whole run: {elapsed:.1f} s.",
        *skipped,
    ]
    report = write(args.output, tables, notes)
    print(f"report: {report} (whole run: {elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
