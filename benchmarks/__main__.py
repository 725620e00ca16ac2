"""``python -m benchmarks``: lowio side by side with the alternatives.

* the raw poller: ``lowio.Poll`` vs ``select.epoll`` vs ``selectors``
  (workloads ``poll``, ``ctl``);
* the runtime kernel: lowio vs trio vs asyncio (workloads ``sleep0``,
  ``spawn``, ``cancel_read``, ``move_on``, ``pingpong``, ``channel_pingpong``,
  ``timers``);
* TCP echo servers in their own processes driven by a C load generator:
  lowio.socket vs trio.socket vs asyncio (workloads ``echo``, ``syscalls``,
  ``idle``);
* anyio programs on anyio's backends lowio vs trio vs asyncio (workloads
  ``anyio_sleep0``, ``anyio_spawn``, ``anyio_echo``);
* HTTP serving of one ASGI app under ``wrk``: anycorn on anyio's lowio,
  trio and asyncio backends, hypercorn and uvicorn (workload ``http``,
  ``http_bench.py``; skipped with a note without wrk).

The echo tables add a C server on edge-triggered epoll (``echo_ref.c``) as
the ceiling, "c-reference", when a C compiler is present.  ``--frameworks``
restricts the contenders compared with lowio (which always runs).  Other
processes' CPU use is recorded around every rep and flagged above 20% of a
core.  The report: ``report.md`` with a PNG chart per table of the ratios vs
trio and asyncio (matplotlib), ``results.jsonl`` and ``other_cpu.jsonl``.

Ratios are other/lowio, paired rep by rep: above 1 means lowio is faster.
``--compare OLD.jsonl`` then prints each row's change against an earlier
run's results.jsonl, flagging the changes outside both runs' spreads
(``compare.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import compare, echo, frameworks, othercpu, poller, runtime, syscalls
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
    try:
        met = None if check is None else check(ratios)
    except KeyError:  # the target's contender was not selected
        met = None
    return Row(
        workload=workload,
        lowio_ns=lowio.median,
        lowio_spread=lowio.spread,
        others_ns={n: s.median for n, s in others.items()},
        others_spread={n: s.spread for n, s in others.items()},
        ratios=ratios,
        target=target,
        met=met,
    )


def _poll_target(ready: int) -> tuple[str, Callable[[dict[str, float]], bool] | None]:
    if ready == 1:
        return "≥ 0.80x epoll", lambda r: r["select.epoll"] >= 0.80
    if ready == 100:
        return "≥ 1.05x epoll", lambda r: r["select.epoll"] >= 1.05
    return "", None


POLLER_WORKLOADS = ("poll", "ctl")
ECHO_WORKLOADS = ("echo", "syscalls", "idle")
ANYIO_WORKLOADS = ("anyio_sleep0", "anyio_spawn", "anyio_echo")
HTTP_WORKLOADS = ("http",)
WORKLOADS = (
    POLLER_WORKLOADS + tuple(runtime.WORKLOADS) + ECHO_WORKLOADS + ANYIO_WORKLOADS + HTTP_WORKLOADS
)


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


def _anyio_table(
    only: list[str], quick: bool, scale: float, reps: int, echo_reps: int
) -> tuple[Table, list[str]]:
    try:
        from . import anyio_backends
    except ImportError as exc:  # anyio (or lowio's backend) is not installed
        return Table("anyio", []), [f"anyio workloads skipped: {exc}"]
    return anyio_backends.bench_anyio(only, quick, scale, reps, echo_reps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repetitions")
    parser.add_argument(
        "--reps",
        type=int,
        default=0,
        help="interleaved repetitions (default 11 quick, 31 full; echo, idle and anyio_echo: "
        "5 quick, 9 full)",
    )
    parser.add_argument(
        "--only", default="", help=f"comma-separated workloads: {', '.join(WORKLOADS)}"
    )
    parser.add_argument(
        "--frameworks",
        default="",
        help="comma-separated contenders to compare with lowio (which always runs): "
        f"{', '.join(frameworks.FRAMEWORKS)}; the raw poller's always run",
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
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="OLD.jsonl",
        help="after the run, print each row's change against an earlier run's results.jsonl",
    )
    args = parser.parse_args(argv)
    if args.compare is not None:
        if not args.compare.is_file():
            parser.error(f"--compare: no such results file: {args.compare}")
        try:
            compare.load(args.compare)  # a bad file fails now, not after the run
        except ValueError as exc:
            parser.error(f"--compare: {exc}")
    only = [w for w in args.only.split(",") if w] or list(WORKLOADS)
    unknown = [w for w in only if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; valid: {', '.join(WORKLOADS)}")
    chosen = [f for f in args.frameworks.split(",") if f]
    unknown = [f for f in chosen if f not in frameworks.FRAMEWORKS]
    if unknown:
        parser.error(
            f"unknown framework(s) {', '.join(unknown)}; valid: {', '.join(frameworks.FRAMEWORKS)}"
        )
    frameworks.select(chosen or None)

    if args.reps < 0:
        parser.error("--reps must be positive")
    if args.scale <= 0:
        parser.error("--scale must be positive")
    started = time.perf_counter()
    reps = args.reps or (11 if args.quick else 31)
    budget_ns = (20e6 if args.quick else 60e6) * min(1.0, reps / 11)
    othercpu.drain()
    other_cpu: list[othercpu.RepCpu] = []
    flagged: list[str] = []
    cpu_notes: dict[str, list[str]] = {}

    def add(table: Table) -> None:
        """Adds ``table`` with the other processes' CPU use during its reps."""
        reps_cpu = othercpu.drain()
        other_cpu.extend(reps_cpu)
        if table.rows:
            summary = othercpu.summary(reps_cpu)
            table.notes += summary
            cpu_notes[table.title] = summary
            if len(summary) > 1:
                flagged.append(
                    f"⚠ {table.title}: other processes used more than {othercpu.LIMIT:.0%} of a "
                    "core during some measurements (see the table's notes)."
                )
        tables.append(table)

    tables: list[Table] = []
    rows: list[Row] = []
    if "poll" in only:
        for ready in (1, 100, 1000):
            print(f"poll with {ready} ready sources ...", file=sys.stderr, flush=True)
            othercpu.current = f"poll {ready} ready"
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
        othercpu.current = "register/reregister/deregister"
        for op, samples in poller.bench_ctl(1000 if args.quick else 2000, reps).items():
            rows.append(
                _row(
                    f"{op} (per call)",
                    samples,
                    "≥ 0.83x epoll",
                    lambda r: r["select.epoll"] >= 1 / 1.2,
                )
            )

    othercpu.current = ""
    add(Table("Raw poller: lowio.Poll vs select.epoll vs selectors", rows))
    add(
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
        )
    )
    skipped: list[str] = []
    echo_benches: dict[str, Callable[[], tuple[Table, list[str]]]] = {
        "echo": lambda: echo.bench_echo(args.quick, args.scale, args.reps),
        "syscalls": lambda: syscalls.bench_syscalls(args.quick, args.scale),
        "idle": lambda: echo.bench_idle(args.quick, args.scale, args.reps),
    }
    for name, bench in echo_benches.items():
        if name in only:
            table, notes = bench()
            add(table)
            skipped += [note for note in notes if note not in skipped]
    if any(name in only for name in ANYIO_WORKLOADS):
        table, notes = _anyio_table(only, args.quick, args.scale, reps, args.reps)
        add(table)
        skipped += [note for note in notes if note not in skipped]
    if "http" in only:
        from . import http_bench

        table, notes = http_bench.bench_http(args.quick, args.scale, args.reps)
        add(table)
        skipped += [note for note in notes if note not in skipped]
    for table in tables:
        if table.rows:
            print_table(table.title, table.rows)
            for note in cpu_notes.get(table.title, []):
                print(note)
    for note in skipped:
        print(f"note: {note}")
    elapsed = time.perf_counter() - started
    notes = [
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{'quick' if args.quick else 'full'} run, {reps} interleaved reps; times are medians "
        "± half the interquartile range.",
        "Ratios are other / lowio, the median of per-rep ratios: above 1 means lowio is faster.",
        f"Wall time of the whole run: {elapsed:.1f} s.",
        *flagged,
        *skipped,
    ]
    report = write(args.output, tables, notes)
    with (args.output / "other_cpu.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in othercpu.as_json(other_cpu))
    print(f"report: {report} (whole run: {elapsed:.1f} s)")
    if args.compare is not None:
        compare.print_comparison(args.compare, args.output / "results.jsonl")
    return 0


if __name__ == "__main__":
    sys.exit(main())
