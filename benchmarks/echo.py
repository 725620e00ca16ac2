"""TCP echo servers on loopback: lowio.socket vs trio.socket vs asyncio
(workloads ``echo`` and ``idle``; ``syscalls`` is in ``syscalls.py``).

Every server (``echo_servers.py``) runs in a child process of its own,
pinned to the first CPU of this process's affinity mask; the C load
generator (``loadgen.c``) is a separate process, pinned to the second CPU
("separate cores") or to the server's ("one shared core").  It opens N
connections, plays ping-pong with M-byte messages for a fixed time,
checks every echoed byte, and reports round trips, its own CPU time and
the server's CPU time over its measured window (read from /proc).  The
contenders' servers all run at once (idle but for the one being measured)
and are measured in turn, rep by rep, after one warm-up rep each.

* ``echo``: round trips/s, server CPU per round trip and the client's CPU
  share of its core, for 1 connection x 64 B (on separate cores and on
  one shared core), 100 x 1 KiB and (full mode) 100 x 64 KiB.
* ``idle``: server CPU per round trip of 1 active connection with 0 idle
  connections vs with N idle ones held open (two servers per contender,
  measured rep by rep), and the server's RSS per idle connection.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import frameworks, loadgen
from .echo_servers import (
    C_REFERENCE,
    HOST,
    KINDS,
    EchoServer,
    available,
    raise_nofile_limit,
    start_servers,
)
from .measure import Sample, interleave_metrics, paired_ratio
from .report import Row, Table

ECHO_TITLE = "TCP echo: lowio.socket vs trio.socket vs asyncio (server process + C client)"
IDLE_TITLE = "Idle connections: 1 active client next to N idle ones"
LOWIO = "lowio"


# ---- what all three workloads share ----


@dataclass
class Setup:
    """The contenders that can run, the CPUs, the client, and why some
    things are skipped."""

    contenders: list[str]
    server_cpu: int
    client_cpu: int  # -1 when there is a single CPU
    exe: Path | None
    skipped: list[str] = field(default_factory=list)

    @property
    def split(self) -> bool:
        return self.client_cpu >= 0 and self.client_cpu != self.server_cpu

    def placement_note(self) -> str:
        if self.split:
            return (
                f"Servers run pinned to CPU {self.server_cpu}; the C client to CPU "
                f"{self.client_cpu} (separate cores) or to CPU {self.server_cpu} too "
                "(one shared core)."
            )
        return "Only one CPU is available: server and client share it, unpinned."


def setup(wanted: tuple[str, ...] = tuple(KINDS)) -> Setup:
    """Finds the contenders (those ``--frameworks`` selects), the CPUs and
    builds the C client."""
    wanted = tuple(k for k in wanted if frameworks.wanted(k))
    skipped = [skip_note(k) for k in wanted if not available(k)]
    contenders = [k for k in wanted if available(k)]
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (-1, -1)
    return Setup(contenders, server_cpu, client_cpu, loadgen.build(), skipped)


def skip_note(kind: str) -> str:
    if kind == C_REFERENCE:
        reason = loadgen.build_error(loadgen.REFERENCE) or "it did not build"
        return f"{kind}: skipped ({reason})"
    return f"{kind}: skipped (not installed)"


def client_skip_note(workloads: str) -> str:
    return f"{workloads} skipped: {loadgen.build_error()} to build the C load generator."


def default_reps(quick: bool, reps: int) -> int:
    return reps if reps > 0 else (5 if quick else 9)


def rep_seconds(quick: bool, scale: float) -> float:
    return max(0.05, (0.25 if quick else 1.0) * scale)


def make_row(
    label: str,
    samples: dict[str, Sample],
    unit: str,
    *,
    target: str = "",
    check: Callable[[dict[str, float]], bool] | None = None,
    ratios: bool = True,
    met: bool | None = None,
    spread: bool = True,
) -> Row:
    """A row of lowio against the others: medians, spreads and paired
    ratios other / lowio (values where lower is better).  ``check`` sees the
    ratios; a target whose contender is missing is not judged."""
    low = samples[LOWIO]
    others = {n: s for n, s in samples.items() if n != LOWIO}
    pairs = {n: paired_ratio(s, low) for n, s in others.items()} if ratios else {}
    if check is not None:
        try:
            met = check(pairs)
        except KeyError:
            met = None
    return Row(
        workload=label,
        lowio_ns=low.median,
        lowio_spread=low.spread if spread else None,
        others_ns={n: s.median for n, s in others.items()},
        others_spread={n: s.spread for n, s in others.items()} if spread else {},
        ratios=pairs,
        target=target,
        met=met,
        unit=unit,
    )


def _size(n: int) -> str:
    return f"{n // 1024} KiB" if n >= 1024 and n % 1024 == 0 else f"{n} B"


CLIENT_LIMIT = 0.9  # the client's CPU share above which it may be the bottleneck


def client_row(label: str, samples: dict[str, Sample]) -> Row:
    busy = max(s.median for s in samples.values())
    return make_row(
        label,
        samples,
        "%",
        target=f"client < {CLIENT_LIMIT:.0%} of a core",
        ratios=False,
        met=busy < CLIENT_LIMIT,
    )


# ---- echo ----


@dataclass(frozen=True)
class Case:
    conns: int
    size: int
    shared_core: bool = False
    full_only: bool = False
    target: str = ""
    check: Callable[[dict[str, float]], bool] | None = None

    def label(self, split: bool = True) -> str:
        where = " (one shared core)" if self.shared_core else ""
        if self.conns == 1 and not self.shared_core:
            where = " (separate cores)" if split else " (one CPU)"
        return f"{self.conns} conn{'s' if self.conns > 1 else ''} x {_size(self.size)}{where}"


def _ahead_of(*names: str) -> Callable[[dict[str, float]], bool]:
    return lambda r: all(r[name] >= 1.0 for name in names)


PROTOCOLS = "≥ 1.00x trio, asyncio-proto, uvloop-proto"
CASES = (
    Case(1, 64, target="≥ 1.00x trio", check=_ahead_of("trio")),
    Case(1, 64, shared_core=True, target="≥ 1.00x trio", check=_ahead_of("trio")),
    Case(100, 1024, target=PROTOCOLS, check=_ahead_of("trio", "asyncio-proto", "uvloop-proto")),
    Case(
        100,
        65536,
        full_only=True,
        target=PROTOCOLS,
        check=_ahead_of("trio", "asyncio-proto", "uvloop-proto"),
    ),
)


def measure_cases(
    env: Setup,
    servers: dict[str, EchoServer],
    cases: list[Case],
    seconds: float,
    reps: int,
    prefix: str = "",
    progress: str = "echo",
) -> list[Row]:
    """Three rows per case (round trips/s, server CPU per round trip, client
    CPU) for ``servers`` keyed by contender, ``"lowio"`` among them; each
    row's label starts with ``prefix``."""
    rows: list[Row] = []
    for case in cases:
        print(f"{progress} {case.label(env.split)} ...", file=sys.stderr, flush=True)
        label = prefix + case.label(env.split)
        cpu = env.server_cpu if case.shared_core else env.client_cpu

        def one_rep(
            server: EchoServer, case: Case = case, cpu: int = cpu
        ) -> Callable[[int], dict[str, float]]:
            def run(rep: int) -> dict[str, float]:
                assert env.exe is not None
                result = loadgen.run(
                    env.exe,
                    server.port,
                    case.conns,
                    case.size,
                    seconds=seconds if rep >= 0 else seconds / 2,
                    server_pid=server.pid,
                    cpu=cpu,
                )
                server.check_alive()
                return {
                    "rt": result.ns_per_round_trip,
                    "cpu": result.server_ns_per_round_trip,
                    "client": result.client_cpu_share,
                }

            return run

        by_metric = interleave_metrics(
            {name: one_rep(server) for name, server in servers.items()},
            reps,
            warmup=1,
            label=f"{progress} {case.label(env.split)}",
        )
        rows += [
            make_row(
                f"{label}: round trips/s",
                by_metric["rt"],
                "rt/s",
                target=case.target,
                check=case.check,
            ),
            make_row(f"{label}: server CPU per round trip", by_metric["cpu"], "ns"),
            client_row(f"{label}: client CPU", by_metric["client"]),
        ]
    return rows


def bench_echo(quick: bool, scale: float, reps: int) -> tuple[Table, list[str]]:
    """The ``echo`` table, and notes for what was skipped."""
    env = setup()
    table = Table(ECHO_TITLE, [])
    if env.exe is None:
        return table, [client_skip_note("echo")]
    reps = default_reps(quick, reps)
    seconds = rep_seconds(quick, scale)
    cases = [c for c in CASES if not (quick and c.full_only)]
    if not env.split:
        cases = [c for c in cases if not c.shared_core]
    notes = list(env.skipped)
    servers = start_servers(env.contenders, env.server_cpu)
    try:
        table.rows += measure_cases(env, servers, cases, seconds, reps)
    finally:
        for server in servers.values():
            server.close()
    table.notes += [
        "Servers: lowio and trio run the same program on lowio.socket / trio.socket (accept "
        "loop, one task per connection looping on recv(65536) and send until all is sent); "
        "asyncio: asyncio.start_server with reader.read / writer.write + drain; asyncio-proto: "
        "an asyncio.Protocol echoing in data_received; uvloop, uvloop-proto: those two on "
        "uvloop; c-reference: a C server on edge-triggered epoll (echo_ref.c, built at run time "
        "like the client), the ceiling: its ratios below 1 show how far from C lowio is.  "
        "lowio-stream and trio-stream: the high-level API, serve_tcp with a handler looping on "
        "SocketStream.receive_some() and send_all().",
        env.placement_note(),
        f"One rep is {seconds:g} s of ping-pong by every connection (after one untimed "
        f"round trip each), {reps} reps per contender, interleaved, after a warm-up rep; the "
        "client checks every echoed byte.",
        "Round trips/s are shown as rates; their ratios are other / lowio of the time per "
        "round trip, so > 1 means lowio is faster.  Server CPU per round trip is read from "
        "/proc/PID (schedstat, else utime+stime) over the client's measured window.",
        "Client CPU is the load generator's CPU time (getrusage) over the window's wall time: "
        f"at {CLIENT_LIMIT:.0%} of a core or more the client may be the bottleneck (✗).",
        "With 1 connection on separate cores every message wakes an idle CPU: on a virtual "
        "machine that wake-up can cost tens of µs and dominate the round trip; the shared-core "
        "row measures the servers themselves.",
    ]
    return table, notes


# ---- idle ----


def open_idle(
    port: int, count: int, batch: int = 256, timeout: float = 10.0
) -> list[socket.socket]:
    """``count`` connections to ``port``, each with one 1-byte round trip
    done (so the server has accepted it and parked a reader on it)."""
    socks: list[socket.socket] = []
    try:
        while len(socks) < count:
            new = []
            for _ in range(min(batch, count - len(socks))):
                sock = socket.create_connection((HOST, port), timeout=timeout)
                socks.append(sock)
                new.append(sock)
                sock.sendall(b"i")
            for sock in new:
                if sock.recv(1) != b"i":
                    raise RuntimeError("an idle connection's ping was not echoed")
    except BaseException:
        close_all(socks)
        raise
    return socks


def close_all(socks: list[socket.socket]) -> None:
    for sock in socks:
        sock.close()


IDLE_CONTENDERS = ("lowio", "trio", "asyncio")
IDLE_CPU_LIMIT = 1.02  # CPU per round trip with N idle / with 0 idle


def idle_count(quick: bool, scale: float) -> int:
    return max(10, round((1000 if quick else 5000) * scale))


def bench_idle(quick: bool, scale: float, reps: int) -> tuple[Table, list[str]]:
    """The ``idle`` table, and notes for what was skipped."""
    env = setup(IDLE_CONTENDERS)
    table = Table(IDLE_TITLE, [])
    if env.exe is None:
        return table, [client_skip_note("idle")]
    reps = default_reps(quick, reps)
    seconds = rep_seconds(quick, scale)
    wanted = idle_count(quick, scale)
    notes = list(env.skipped)
    limit = raise_nofile_limit()
    spare = limit - len(os.listdir("/proc/self/fd")) - 64
    count = min(wanted, spare // len(env.contenders))
    scaled = []
    if count < wanted:
        scaled.append(
            f"Scaled down from {wanted:,} to {count:,} idle connections per server: "
            f"RLIMIT_NOFILE allows {limit:,} open files."
        )
    if count < 1:
        return table, [f"idle skipped: RLIMIT_NOFILE ({limit}) leaves no room for connections"]
    print(f"idle ({count:,} idle connections) ...", file=sys.stderr, flush=True)
    servers: dict[str, EchoServer] = {}  # "lowio/0": no idle connections, "lowio/N": count
    idle: list[socket.socket] = []
    rss: dict[str, Sample] = {}
    try:
        for kind in env.contenders:  # all started at once, then waited for
            for n in ("0", "N"):
                servers[f"{kind}/{n}"] = EchoServer(kind, env.server_cpu)
        for server in servers.values():
            server.wait_ready()

        def one_rep(server: EchoServer) -> Callable[[int], dict[str, float]]:
            def run(rep: int) -> dict[str, float]:
                assert env.exe is not None
                result = loadgen.run(
                    env.exe,
                    server.port,
                    1,
                    64,
                    seconds=seconds if rep >= 0 else seconds / 2,
                    server_pid=server.pid,
                    cpu=env.server_cpu,  # one shared core: see the notes
                )
                server.check_alive()
                return {"cpu": result.server_ns_per_round_trip}

            return run

        runs = {key: one_rep(server) for key, server in servers.items()}
        for run in runs.values():
            run(-1)  # warm up every code path before the memory is measured
        opened = time.perf_counter()
        for kind in env.contenders:
            server = servers[f"{kind}/N"]
            before = server.rss()
            idle += open_idle(server.port, count)
            time.sleep(0.05)
            rss[kind] = Sample(kind, [(server.rss() - before) / count])
        opened = time.perf_counter() - opened
        cpu = interleave_metrics(runs, reps, label="idle")["cpu"]
    finally:
        close_all(idle)
        for server in servers.values():
            server.close()

    base = {k: cpu[f"{k}/0"] for k in env.contenders}
    loaded = {k: cpu[f"{k}/N"] for k in env.contenders}
    growth = {
        k: Sample(k, [n / z for n, z in zip(loaded[k].values, base[k].values, strict=True)])
        for k in env.contenders
    }
    table.rows += [
        make_row("1 conn x 64 B, 0 idle: server CPU per round trip", base, "ns"),
        make_row(f"1 conn x 64 B, {count:,} idle: server CPU per round trip", loaded, "ns"),
        make_row(
            f"CPU per round trip, {count:,} idle / 0 idle",
            growth,
            "x",
            target=f"lowio ≤ {IDLE_CPU_LIMIT:.2f}x",
            ratios=False,
            met=growth[LOWIO].median <= IDLE_CPU_LIMIT,
        ),
        make_row(
            "server RSS per idle connection",
            rss,
            "B",
            target="lowio ≤ trio",
            check=lambda r: r["trio"] >= 1.0,
            spread=False,
        ),
    ]
    table.notes += [
        f"{count:,} idle connections{' (--quick)' if quick else ''}, each opened by this "
        f"process with one 1-byte round trip, then left silent ({opened:.1f} s to open them "
        "all); each contender runs two servers, one with them and one without, measured rep "
        "by rep.",
        env.placement_note() + " The active client shares the server's CPU here: 1-connection "
        "ping-pong across cores measures CPU wake-ups more than the servers.",
        f"{reps} reps of {seconds:g} s per server; the idle / 0 idle row is the median of the "
        "per-rep ratios (lower is better; ✓ within 2%).",
        "RSS per idle connection: the growth of the server's VmRSS (/proc/PID/status) over "
        "opening them all, divided by their number; ratios are other / lowio (> 1: lowio "
        "uses less).",
        *scaled,
    ]
    return table, notes
