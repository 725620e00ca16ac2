"""System calls per echo round trip (workload ``syscalls``).

Each echo server (``echo_servers.py``) serves one connection doing 64-byte
ping-pong with the C load generator on another core, while a tracer
attached to the server process counts its system calls: ``perf stat``
on the ``raw_syscalls:sys_enter`` tracepoint (the total) and a dozen
``syscalls:sys_enter_NAME`` ones (the breakdown; all of them at once,
``sys_enter_*``, take perf seconds to tear down) when perf can open them
(it barely slows the server, so the server still finds its socket empty
after each reply, as it would with a remote client), else ``strace -f -c`` (which
slows every system call of the server, so it may find the next message
already there and skip a wait).  Two runs of different lengths are
subtracted, so connecting, accepting and closing cancel out; the
difference divided by the extra round trips is the count per round trip,
in all and system call by system call.  Without perf or strace the
workload is skipped with a note.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from . import loadgen
from .echo import LOWIO, client_skip_note, make_row, setup
from .echo_servers import readable, start_servers
from .measure import Sample
from .report import Row, Table

SYSCALLS_TITLE = "System calls per echo round trip (1 connection x 64 B)"
TARGET = 3.0  # lowio: one recv, one send, one epoll_wait
NOISE = 0.05  # per round trip: smaller counts are left out of the breakdown

Counts = dict[str, int]


class TracerFailed(RuntimeError):
    pass


# ---- parsing ----


def parse_strace(text: str) -> tuple[Counts, Counts]:
    """(calls, errors) by system call from ``strace -c`` output."""
    calls: Counts = {}
    errors: Counts = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 5 or parts[-1] == "total" or parts[-1] == "syscall":
            continue
        try:
            float(parts[0])
            count = int(parts[3])
            failed = int(parts[4]) if len(parts) >= 6 else 0
        except ValueError:
            continue
        calls[parts[-1]] = calls.get(parts[-1], 0) + count
        if failed:
            errors[parts[-1]] = errors.get(parts[-1], 0) + failed
    return calls, errors


# ---- tracers: count(pids, drive) -> {pid: (calls, errors)} ----

Tracer = Callable[[list[int], Callable[[], None]], dict[int, tuple[Counts, Counts]]]

# counted one by one by perf (every tracepoint costs perf ~35 ms to close on
# this VM class); the total comes from raw_syscalls:sys_enter, so anything
# else an echo server calls shows up as "other"
PERF_SYSCALLS = (
    "read",
    "write",
    "readv",
    "writev",
    "recvfrom",
    "sendto",
    "recvmsg",
    "sendmsg",
    "epoll_wait",
    "epoll_pwait",
    "epoll_ctl",
    "poll",
)
TOTAL = "raw_syscalls:sys_enter"


def _wait_readable(fd: int, timeout: float, what: str) -> None:
    if not readable(fd, timeout):
        raise TracerFailed(f"{what}: no answer in {timeout} s")


def _threads(pid: int) -> dict[int, int]:
    """{tid: pid} for the threads of ``pid``."""
    return {int(t): pid for t in os.listdir(f"/proc/{pid}/task")}


def parse_perf_per_thread(text: str, owner: dict[int, int]) -> dict[int, Counts]:
    """{pid: {syscall or "total": calls}} from ``perf stat --per-thread -x,``
    output, whose lines start with ``comm-tid``; ``owner`` maps tids to pids."""
    out: dict[int, Counts] = {}
    for line in text.splitlines():
        parts = line.split(",")
        if len(parts) < 4 or "-" not in parts[0]:
            continue
        try:
            tid = int(parts[0].rsplit("-", 1)[1])
            count = int(parts[1])
        except ValueError:  # <not counted>: the thread made no such call
            continue
        event = parts[3]
        name = "total" if event == TOTAL else event.split(":sys_enter_", 1)[-1]
        if tid in owner and count:
            counts = out.setdefault(owner[tid], {})
            counts[name] = counts.get(name, 0) + count
    return out


def perf_count(pids: list[int], drive: Callable[[], None]) -> dict[int, tuple[Counts, Counts]]:
    owner: dict[int, int] = {}
    for pid in pids:
        owner.update(_threads(pid))
    events = ",".join([TOTAL, *(f"syscalls:sys_enter_{name}" for name in PERF_SYSCALLS)])
    with tempfile.TemporaryDirectory() as tmp:
        ctl, ack, out = Path(tmp, "ctl"), Path(tmp, "ack"), Path(tmp, "out")
        os.mkfifo(ctl)
        os.mkfifo(ack)
        cmd = ["perf", "stat", "--per-thread", "-x,", "-e", events, "-D", "-1"]
        cmd += ["--control", f"fifo:{ctl},{ack}", "-p", ",".join(map(str, pids))]
        proc = subprocess.Popen(
            [*cmd, "-o", str(out)], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        ctl_fd = os.open(ctl, os.O_RDWR)  # O_RDWR: never blocks on a fifo
        ack_fd = os.open(ack, os.O_RDWR)
        try:
            os.write(ctl_fd, b"enable\n")
            _wait_readable(ack_fd, 30, "perf stat --control enable")
            if not os.read(ack_fd, 64).startswith(b"ack"):
                raise TracerFailed("perf stat did not acknowledge 'enable'")
            drive()
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                # perf sleeps in poll() for up to a second; a command wakes it at once
                os.write(ctl_fd, b"ping\n")
            _, err = proc.communicate(timeout=60)
            os.close(ctl_fd)
            os.close(ack_fd)
        counted = parse_perf_per_thread(out.read_text() if out.exists() else "", owner)
    if set(counted) != set(pids):
        raise TracerFailed(f"perf stat counted nothing: {err.decode(errors='replace')[-300:]}")
    for counts in counted.values():
        other = counts.get("total", 0) - sum(v for k, v in counts.items() if k != "total")
        del counts["total"]
        if other:
            counts["other"] = other
    return {pid: (counted[pid], {}) for pid in pids}


def strace_count(pids: list[int], drive: Callable[[], None]) -> dict[int, tuple[Counts, Counts]]:
    """One ``strace -f -c`` per process (strace sums the processes it traces)."""
    with tempfile.TemporaryDirectory() as tmp:
        procs = {
            pid: subprocess.Popen(
                ["strace", "-f", "-c", "-p", str(pid), "-o", str(Path(tmp, str(pid)))],
                stdin=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for pid in pids
        }
        try:
            for proc in procs.values():
                assert proc.stderr is not None
                seen = b""
                while b"attached" not in seen:
                    _wait_readable(proc.stderr.fileno(), 30, "strace -p")
                    chunk = os.read(proc.stderr.fileno(), 4096)
                    if not chunk:
                        raise TracerFailed(f"strace exited: {seen.decode(errors='replace')}")
                    seen += chunk
            drive()
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
            for proc in procs.values():
                proc.communicate(timeout=60)
        out = {}
        for pid in pids:
            path = Path(tmp, str(pid))
            out[pid] = parse_strace(path.read_text() if path.exists() else "")
            if not out[pid][0]:
                raise TracerFailed("strace counted nothing")
    return out


def _perf_works() -> bool:
    if shutil.which("perf") is None:
        return False
    try:
        probe = subprocess.run(
            ["perf", "stat", "-x,", "-e", TOTAL, "-e", "syscalls:sys_enter_getpid", "--", "true"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return (
        probe.returncode == 0
        and "sys_enter_getpid" in probe.stderr
        and "<not supported>" not in probe.stderr
    )


def tracer() -> tuple[str, Tracer] | None:
    """perf when it can count system-call tracepoints here, else strace."""
    if _perf_works():
        return "perf stat -e raw_syscalls:sys_enter,syscalls:sys_enter_...", perf_count
    if shutil.which("strace") is not None:
        return "strace -f -c", strace_count
    return None


# ---- the workload ----


def round_trip_counts(quick: bool, scale: float) -> tuple[int, int]:
    short = max(100, round((1000 if quick else 2000) * scale))
    return short, max(short + 100, round((3000 if quick else 10000) * scale))


def differential(
    short: tuple[Counts, Counts], long: tuple[Counts, Counts], extra: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Per extra round trip: (calls, errors) by system call."""

    def diff(a: Counts, b: Counts) -> dict[str, float]:
        return {k: (b.get(k, 0) - a.get(k, 0)) / extra for k in sorted(set(a) | set(b))}

    return diff(short[0], long[0]), diff(short[1], long[1])


def bench_syscalls(quick: bool, scale: float) -> tuple[Table, list[str]]:
    """The ``syscalls`` table, and notes for what was skipped."""
    table = Table(SYSCALLS_TITLE, [])
    env = setup()
    if env.exe is None:
        return table, [client_skip_note("syscalls")]
    found = tracer()
    if found is None:
        return table, [
            "syscalls skipped: neither perf (with access to the syscalls tracepoints) nor "
            "strace was found; e.g. `apt-get install strace` to count system calls."
        ]
    tool, count = found
    short, long = round_trip_counts(quick, scale)
    print(f"syscalls ({tool}, {short:,} and {long:,} round trips) ...", file=sys.stderr)
    per_rt: dict[str, tuple[dict[str, float], dict[str, float]]] = {}
    servers = start_servers(env.contenders, env.server_cpu)
    try:
        exe = env.exe

        def drive(n: int) -> Callable[[], None]:
            def run() -> None:
                for server in servers.values():
                    loadgen.run(exe, server.port, 1, 64, count=n, cpu=env.client_cpu)
                    server.check_alive()

            return run

        drive(200)()  # warm-up, untraced
        pids = [server.pid for server in servers.values()]
        try:
            runs = [count(pids, drive(n)) for n in (short, long)]
        except TracerFailed as exc:
            return table, [f"syscalls skipped: {tool} failed: {exc}"]
        for name, server in servers.items():
            per_rt[name] = differential(runs[0][server.pid], runs[1][server.pid], long - short)
    finally:
        for server in servers.values():
            server.close()

    def samples(pick: Callable[[str], float]) -> dict[str, Sample]:
        return {name: Sample(name, [pick(name)]) for name in per_rt}

    def per_call(which: int, syscall: str) -> dict[str, Sample]:  # 0: calls, 1: failures
        return samples(lambda name: per_rt[name][which].get(syscall, 0.0))

    traced = tool.startswith("strace")  # it changes what it counts: see the notes
    totals = samples(lambda n: sum(per_rt[n][0].values()))
    table.rows.append(
        make_row(
            "all system calls, per round trip",
            totals,
            "calls",
            target=f"lowio ≤ {TARGET:.0f}" + (" (not judged under strace)" if traced else ""),
            met=None if traced else totals[LOWIO].values[0] <= TARGET + 0.05,
            spread=False,
        )
    )
    names = sorted(
        {k for calls, _ in per_rt.values() for k, v in calls.items() if abs(v) >= NOISE},
        key=lambda k: (
            -per_rt[LOWIO][0].get(k, 0.0),
            -max(c.get(k, 0.0) for c, _ in per_rt.values()),
        ),
    )
    rows: list[Row] = []
    for syscall in names:
        rows.append(
            make_row(
                syscall,
                per_call(0, syscall),
                "calls",
                ratios=False,
                spread=False,
            )
        )
        failing = per_call(1, syscall)
        if any(s.values[0] >= NOISE for s in failing.values()):
            rows.append(
                make_row(
                    f"{syscall}: of which failed (EAGAIN...)",
                    failing,
                    "calls",
                    ratios=False,
                    spread=False,
                )
            )
    table.rows += rows
    table.notes += [
        f"Counted with {tool} attached to each server process, over runs of {short:,} and "
        f"{long:,} round trips; the rows are the difference divided by {long - short:,}, so "
        "connection setup and teardown cancel out.  One connection, 64-byte messages, client "
        "on another core, so the server waits for every message as it would for a remote "
        "client.",
        "Target: lowio makes one recv, one send and one epoll_wait per round trip.  Ratios are "
        "other / lowio (> 1: lowio makes fewer calls).",
        *(
            [
                "strace slows every system call of the server: it may then find the next message "
                "already there and skip a wait, so counts can be lower than untraced."
            ]
            if traced
            else [
                "perf counts the total and these calls one by one: "
                + ", ".join(PERF_SYSCALLS)
                + "; 'other' is the rest."
            ]
        ),
    ]
    return table, env.skipped
