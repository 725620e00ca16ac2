"""``python -m benchmarks``: lowio side by side with the alternatives.

For now: the raw poller (``lowio.Poll`` vs ``select.epoll`` vs
``selectors``).  Ratios are other/lowio, paired rep by rep: above 1 means
lowio is faster.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path

from . import poller
from .measure import Sample, paired_ratio
from .report import Row, print_table, write

LOWIO = "lowio.Poll"


def _row(
    workload: str,
    samples: dict[str, Sample],
    target: str = "",
    check: Callable[[dict[str, float]], bool] | None = None,
) -> Row:
    lowio = samples[LOWIO]
    others = {n: s for n, s in samples.items() if n != LOWIO}
    ratios = {n: paired_ratio(s, lowio) for n, s in others.items()}
    return Row(
        workload=workload,
        lowio_ns=lowio.median,
        lowio_spread=lowio.spread,
        others_ns={n: s.median for n, s in others.items()},
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


WORKLOADS = ("poll", "ctl")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repetitions")
    parser.add_argument(
        "--reps", type=int, default=0, help="interleaved repetitions (default 11 quick, 31 full)"
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
    args = parser.parse_args(argv)
    only = [w for w in args.only.split(",") if w] or list(WORKLOADS)
    unknown = [w for w in only if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; valid: {', '.join(WORKLOADS)}")

    if args.reps < 0:
        parser.error("--reps must be positive")
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

    title = "Raw poller: lowio.Poll vs select.epoll vs selectors"
    print_table(title, rows)
    notes = [
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{'quick' if args.quick else 'full'} run, {reps} interleaved reps; times are medians.",
        "Ratios are other / lowio, the median of per-rep ratios: above 1 means lowio is faster.",
    ]
    report = write(args.output, title, rows, notes)
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
