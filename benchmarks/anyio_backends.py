"""anyio programs on anyio's backends lowio, trio and asyncio, side by side
(workloads ``anyio_sleep0``, ``anyio_spawn``, ``anyio_echo``).

* ``anyio_sleep0``: ``await anyio.sleep(0)`` in a loop; per iteration.
* ``anyio_spawn``: spawn N tasks through an anyio task group
  (``tg.start_soon``), each checkpointing once
  (``anyio.lowlevel.checkpoint()``), and join them; per task.
* ``anyio_echo``: a TCP echo server written with anyio streams
  (``echo_servers.py``: ``anyio.create_tcp_listener`` +
  ``listener.serve(handler)``) in a child process per backend, driven by the
  C load generator exactly like the ``echo`` workload: 1 connection x 64 B
  on one shared core, 100 connections x 1 KiB and (full mode) x 64 KiB; the
  contender ``uvloop`` is anyio's asyncio backend with ``use_uvloop``.

The first two run in this process (``runtime_anyio``) with the harness of
the runtime workloads (one fresh ``anyio.run`` per rep, verified counts);
the third with the harness of ``echo``.  The contenders are named after
the backends; ratios are other / lowio, so above 1 means anyio on lowio is
faster.
"""

from __future__ import annotations

import sys

from . import runtime
from .echo import (
    Case,
    client_skip_note,
    default_reps,
    make_row,
    measure_cases,
    rep_seconds,
    setup,
)
from .echo_servers import ANYIO_KINDS, start_servers
from .report import Row, Table
from .runtime import Metric, Workload, vs
from .runtime_anyio import anyio_sleep0, anyio_spawn, on_every_backend

ANYIO_TITLE = "anyio: lowio vs trio vs asyncio backends"

IN_PROCESS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "anyio_sleep0",
            50_000,
            20_000,
            on_every_backend(anyio_sleep0),
            [Metric("ns", "anyio.sleep(0) loop, per iteration", *vs("asyncio", 1.0))],
        ),
        Workload(
            "anyio_spawn",
            10_000,
            10_000,
            on_every_backend(anyio_spawn),
            [Metric("ns", "task group: spawn + join {n} tasks, per task", *vs("trio", 2.0))],
        ),
    )
}

ECHO_CASES = (
    Case(1, 64, shared_core=True),
    Case(
        100,
        1024,
        target="≥ 1.50x trio, ≥ 1.00x uvloop",
        check=lambda r: r["trio"] >= 1.5 and r["uvloop"] >= 1.0,
    ),
    Case(100, 65536, full_only=True, target="≥ 1.00x uvloop", check=lambda r: r["uvloop"] >= 1.0),
)


def _in_process_rows(only: list[str], quick: bool, scale: float, reps: int) -> list[Row]:
    rows: list[Row] = []
    for name, workload in IN_PROCESS.items():
        if name not in only:
            continue
        size = workload.size(quick, scale)
        print(f"{name} (size {size:,}) ...", file=sys.stderr, flush=True)
        by_metric = runtime.bench(workload, size, reps)
        for metric in workload.metrics:
            label = metric.label.format(n=f"{size:,}")
            rows.append(
                make_row(
                    label, by_metric[metric.key], "ns", target=metric.target, check=metric.check
                )
            )
    return rows


def _echo_rows(quick: bool, scale: float, reps: int) -> tuple[list[Row], list[str], list[str]]:
    """(rows, table notes, skip notes) of ``anyio_echo``."""
    env = setup(tuple(ANYIO_KINDS))
    if env.exe is None:
        return [], [], [client_skip_note("anyio_echo")]
    if "anyio-lowio" not in env.contenders:
        return [], [], ["anyio_echo skipped: lowio's anyio backend is not installed"]
    reps = default_reps(quick, reps)
    seconds = rep_seconds(quick, scale)
    cases = [c for c in ECHO_CASES if not (quick and c.full_only)]
    if not env.split:  # with a single CPU the client and the server share it anyway
        cases = [Case(1, 64), *cases[1:]]
    servers = start_servers(env.contenders, env.server_cpu)
    try:
        by_backend = {kind.removeprefix("anyio-"): s for kind, s in servers.items()}
        rows = measure_cases(env, by_backend, cases, seconds, reps, "echo ", "anyio_echo")
    finally:
        for server in servers.values():
            server.close()
    notes = [
        "anyio_echo: one server program on anyio streams, run by anyio.run on each backend in "
        "a child process of its own: anyio.create_tcp_listener + listener.serve(handler), the "
        "handler looping `async for chunk in stream: await stream.send(chunk)` (receives of up "
        "to 64 KiB).  " + env.placement_note(),
        f"anyio_echo: one rep is {seconds:g} s of ping-pong by every connection, {reps} reps "
        "per backend, interleaved, after a warm-up rep; the C client checks every echoed "
        "byte; server CPU per round trip is read from /proc/PID over the measured window.",
    ]
    return rows, notes, list(env.skipped)


def bench_anyio(
    only: list[str], quick: bool, scale: float, reps: int, echo_reps: int
) -> tuple[Table, list[str]]:
    """The anyio table (the workloads of ``only``), and notes for what was
    skipped.  ``reps``: repetitions of the in-process workloads;
    ``echo_reps``: of ``anyio_echo`` (0: its default)."""
    table = Table(ANYIO_TITLE, _in_process_rows(only, quick, scale, reps))
    skipped: list[str] = []
    if any(name in only for name in IN_PROCESS):
        table.notes.append(
            "Every program runs through anyio.run(main, backend=B) for B = lowio, trio, "
            "asyncio; lowio's backend is registered with lowio.anyio.register().  The "
            "in-process workloads time one fresh anyio.run per rep from inside the run, "
            "backends alternating rep by rep after a warm-up rep each; every rep is verified "
            "(iterations done, tasks completed)."
        )
    if "anyio_echo" in only:
        rows, notes, skipped = _echo_rows(quick, scale, echo_reps)
        table.rows += rows
        table.notes += notes
    if table.rows:
        table.notes.append(
            "Ratios are other / lowio of the time per operation (paired rep by rep): above 1 "
            "means anyio on lowio is faster."
        )
    return table, skipped
