"""The benchmark program runs, checks what it measures, and reports."""

from __future__ import annotations

import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from benchmarks import anyio_backends, echo, echo_servers, loadgen, poller, runtime, syscalls
from benchmarks.__main__ import ANYIO_WORKLOADS, ECHO_WORKLOADS, HTTP_WORKLOADS, WORKLOADS, main
from benchmarks.measure import Sample, interleave_metrics, paired_ratio
from benchmarks.report import Row, markdown

POLLER_TITLE = "Raw poller: lowio.Poll vs select.epoll vs selectors"
RUNTIME_TITLE = "Runtime kernel: lowio vs trio vs asyncio"


def _tables(report: str) -> dict[str, list[str]]:
    """{section title: its table lines} of a report.md."""
    tables: dict[str, list[str]] = {}
    title = ""
    for line in report.splitlines():
        if line.startswith("## "):
            title = line[3:]
            tables[title] = []
        elif line.startswith("|"):
            tables[title].append(line)
    return tables


def _assert_markdown_table(lines: list[str], rows: int) -> None:
    assert len(lines) == 2 + rows  # header, rule, rows
    assert all(line.endswith("|") and line.count("|") == lines[0].count("|") for line in lines)
    assert set(lines[1]) <= set("|-:")


def test_quick_run_writes_markdown_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # those: below
    only = ",".join(
        w for w in WORKLOADS if w not in ECHO_WORKLOADS + ANYIO_WORKLOADS + HTTP_WORKLOADS
    )
    argv = ["--quick", "--only", only, "--reps", "2", "--scale", "0.01", "--output", str(tmp_path)]
    assert main(argv) == 0
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert report.startswith("# lowio benchmarks")
    tables = _tables(report)
    assert list(tables) == [POLLER_TITLE, RUNTIME_TITLE]
    _assert_markdown_table(tables[POLLER_TITLE], 6)  # 3 poll sizes, 3 ctl ops
    metrics = [m for w in runtime.WORKLOADS.values() for m in w.metrics]
    _assert_markdown_table(tables[RUNTIME_TITLE], len(metrics))
    header = tables[RUNTIME_TITLE][0]
    assert "trio / lowio" in header and "asyncio / lowio" in header
    # every targeted runtime row says whether its target is met
    targeted = [line for line in tables[RUNTIME_TITLE][2:] if "≥" in line]
    assert len(targeted) == sum(1 for m in metrics if m.target)
    assert all("✓" in line or "✗" in line for line in targeted)

    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    poller_rows = [row for row in rows if row["table"] == POLLER_TITLE]
    runtime_rows = [row for row in rows if row["table"] == RUNTIME_TITLE]
    assert {row["workload"] for row in poller_rows} >= {
        "poll + iterate, 100 ready",
        "register (per call)",
    }
    assert all(row["lowio_ns"] > 0 and row["ratios"]["select.epoll"] > 0 for row in poller_rows)
    assert len(runtime_rows) == len(metrics)
    others = [set(w.impls) - {"lowio"} for w in runtime.WORKLOADS.values() for _ in w.metrics]
    for row, expected in zip(runtime_rows, others, strict=True):
        assert row["lowio_ns"] > 0
        assert set(row["ratios"]) == set(row["others_ns"]) == expected
        assert all(r > 0 for r in row["ratios"].values())
    out = capsys.readouterr().out
    assert POLLER_TITLE in out and RUNTIME_TITLE in out


def test_only_selects_runtime_workloads(tmp_path: Path) -> None:
    argv = ["--only", "sleep0,move_on", "--reps", "2", "--scale", "0.01"]
    assert main([*argv, "--output", str(tmp_path)]) == 0
    tables = _tables((tmp_path / "report.md").read_text(encoding="utf-8"))
    assert list(tables) == [RUNTIME_TITLE]  # the empty poller table is left out
    _assert_markdown_table(tables[RUNTIME_TITLE], 2)
    assert "sleep(0) loop" in tables[RUNTIME_TITLE][2]
    assert "move_on_after(10)" in tables[RUNTIME_TITLE][3]


def test_unknown_workload_lists_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--only", "nope"])
    err = capsys.readouterr().err
    assert f"valid: {', '.join(WORKLOADS)}" in err
    assert "poll, ctl, sleep0" in err and "anyio_echo" in err


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize(
    ("name", "contender"),
    [(name, contender) for name, w in runtime.WORKLOADS.items() for contender in w.impls],
)
def test_every_runtime_implementation_does_its_work(name: str, contender: str) -> None:
    workload = runtime.WORKLOADS[name]
    size = workload.size(quick=True, scale=0.004)  # 8 to 80 tasks / iterations / round trips
    fds = _open_fds()
    for rep in (0, 1):
        outcome = workload.impls[contender](size, rep)
        assert outcome.done == size
        assert set(outcome.metrics) == {m.key for m in workload.metrics}
        assert all(value > 0 for value in outcome.metrics.values())
    assert _open_fds() == fds


def test_timers_sleep_as_long_as_asked() -> None:
    workload = runtime.WORKLOADS["timers"]
    for contender in runtime.CONTENDERS:
        metrics = runtime.verified(workload, contender, 10, 3)
        # lateness is measured, not the sleep itself: well under the 100 ms span
        assert 0 <= metrics["p50"] <= metrics["p99"] < 0.1e9


def test_a_contender_that_skips_work_is_rejected() -> None:
    workload = runtime.WORKLOADS["sleep0"]
    lazy = runtime.Workload(
        workload.name,
        workload.full,
        workload.quick,
        {**workload.impls, "trio": lambda n, rep: runtime.Outcome({"ns": 1.0}, n - 1)},
        workload.metrics,
    )
    with pytest.raises(runtime.Unverified, match="sleep0 on trio: 4 of 5"):
        runtime.bench(lazy, 5, reps=1)


def test_interleave_metrics_alternates_contenders_after_warm_up() -> None:
    calls: list[tuple[str, int]] = []

    def contender(name: str) -> Callable[[int], dict[str, float]]:
        def one_rep(rep: int) -> dict[str, float]:
            calls.append((name, rep))
            return {"x": float(rep + 1), "y": 2.0}

        return one_rep

    out = interleave_metrics({"a": contender("a"), "b": contender("b")}, reps=2, warmup=1)
    assert calls == [("a", -1), ("b", -1), ("a", 0), ("b", 0), ("a", 1), ("b", 1)]
    assert out["x"]["a"].values == [1.0, 2.0] and out["y"]["b"].values == [2.0, 2.0]


def test_markdown_shows_every_contender_with_its_spread() -> None:
    row = Row(
        workload="w",
        lowio_ns=1500.0,
        lowio_spread=0.02,
        others_ns={"trio": 3e6, "asyncio": 2e9},
        ratios={"trio": 2000.0, "asyncio": 1.5e6},
        target="≥ 1.00x trio",
        met=True,
        others_spread={"trio": 0.1, "asyncio": 0.0},
    )
    lines = markdown("t", [row], ["a note"]).splitlines()
    assert lines[0] == "## t"
    assert lines[-1] == "* a note"
    assert "| w | 1.50 µs ±2% | 3.00 ms ±10% | 2.00 s ±0% | 2000.00x | 1500000.00x |" in lines[4]
    assert lines[4].endswith("≥ 1.00x trio ✓ |")


def test_every_contender_sees_every_ready_source() -> None:
    with poller.ready_sources(5) as socks:
        for make in poller.POLL_CONTENDERS.values():
            run, close = make(socks)
            try:
                run(2)  # asserts that all 5 events were reported
            finally:
                close()


def test_paired_ratio() -> None:
    base, other = Sample("a", [10.0, 20.0, 30.0]), Sample("b", [5.0, 10.0, 15.0])
    assert paired_ratio(base, other) == 2.0
    assert base.median == 20.0
    # a value of 0 (e.g. no RSS growth over a few idle connections) divides nothing by zero
    assert paired_ratio(Sample("a", [3.0]), Sample("b", [0.0])) == float("inf")
    assert paired_ratio(Sample("a", [0.0]), Sample("b", [0.0])) == 1.0


# ---- the TCP echo workloads: echo, syscalls, idle ----

ECHO_TITLE = echo.ECHO_TITLE
IDLE_TITLE = echo.IDLE_TITLE
SYSCALLS_TITLE = syscalls.SYSCALLS_TITLE
SERVERS = [k for k in [*echo_servers.KINDS, *echo_servers.ANYIO_KINDS] if echo_servers.available(k)]
needs_cc = pytest.mark.skipif(loadgen.compiler() is None, reason="no C compiler")


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, echo_servers.EchoServer]]:
    running = echo_servers.start_servers(SERVERS, -1)
    yield running
    for server in running.values():
        server.close()


@pytest.mark.parametrize("kind", SERVERS)
def test_every_echo_server_echoes_correct_bytes(
    kind: str, servers: dict[str, echo_servers.EchoServer]
) -> None:
    port = servers[kind].port
    rng = random.Random(kind)
    payloads = [b"\0", rng.randbytes(1000), rng.randbytes(65536), rng.randbytes(300_000)]
    echo_servers.check_echo(port, payloads)  # one connection, one message after the other
    # a client that resets its connection does not take the server down
    reset = socket.create_connection((echo_servers.HOST, port))
    reset.sendall(b"bye")
    reset.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    reset.close()
    # neither do idle connections held open next to an active one
    idle = echo.open_idle(port, 5)
    try:
        echo_servers.check_echo(port, [rng.randbytes(4096)])
    finally:
        echo.close_all(idle)
    servers[kind].check_alive()


def test_an_unknown_server_kind_exits_with_a_message() -> None:
    with pytest.raises(RuntimeError, match="unknown echo server 'nope'"):
        echo_servers.EchoServer("nope", -1).wait_ready()


def test_server_cpu_and_rss_come_from_proc() -> None:
    pid = os.getpid()
    cpu = echo_servers.server_cpu_ns(pid)
    spin = time.process_time() + 0.03
    while time.process_time() < spin:
        pass
    time.sleep(0.001)  # a running thread's count is brought up to date when it sleeps
    assert cpu > 0 and echo_servers.server_cpu_ns(pid) - cpu >= 0.02e9
    assert echo_servers.rss_bytes(pid) > 1 << 20


@needs_cc
@pytest.mark.parametrize("kind", SERVERS)
def test_the_c_client_drives_every_server(
    kind: str, servers: dict[str, echo_servers.EchoServer]
) -> None:
    exe = loadgen.build()
    assert exe is not None, loadgen.build_error()
    server = servers[kind]
    counted = loadgen.run(exe, server.port, 3, 5000, count=40, server_pid=server.pid)
    assert counted.round_trips == 40
    assert counted.server_ns > 0 and 0 <= counted.client_cpu_share < 1
    timed = loadgen.run(exe, server.port, 2, 64, seconds=0.05, server_pid=server.pid)
    assert timed.round_trips > 10 and timed.seconds >= 0.05


class _BadEchoServer:
    """A threaded echo server that damages its echo: ``flip`` changes one
    byte of the first message, ``close`` hangs up after 10 bytes."""

    def __init__(self, fault: str) -> None:
        self.listener = socket.create_server((echo_servers.HOST, 0))
        self.port = self.listener.getsockname()[1]
        self.fault = fault
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            data = conn.recv(65536)
            while len(data) < 100:
                data += conn.recv(65536)
            if self.fault == "close":
                conn.sendall(data[:10])
                return
            conn.sendall(data[:50] + bytes([data[50] ^ 1]) + data[51:])
            conn.recv(1)

    def close(self) -> None:
        self.listener.close()
        self.thread.join(5)


@needs_cc
@pytest.mark.parametrize(
    ("fault", "message"),
    [("flip", "wrong byte at offset 50"), ("close", "closed by the server after 10 bytes")],
)
def test_the_c_client_rejects_a_wrong_echo(fault: str, message: str) -> None:
    exe = loadgen.build()
    assert exe is not None
    bad = _BadEchoServer(fault)
    try:
        with pytest.raises(loadgen.ClientFailed, match=message):
            loadgen.run(exe, bad.port, 1, 100, count=1, timeout=20)
    finally:
        bad.close()


def test_a_missing_compiler_skips_the_echo_workloads_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loadgen, "compiler", lambda: None)
    argv = ["--only", "echo,syscalls,idle", "--output", str(tmp_path)]
    assert main(argv) == 0
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert _tables(report) == {}
    for name in ("echo", "syscalls", "idle"):
        assert f"* {name} skipped: no C compiler" in report


def test_missing_tracers_skip_syscalls_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syscalls, "tracer", lambda: None)
    table, notes = syscalls.bench_syscalls(quick=True, scale=0.01)
    assert table.rows == []
    assert len(notes) == 1 and "strace" in notes[0] and "skipped" in notes[0]


def test_a_missing_contender_is_a_skip_note(monkeypatch: pytest.MonkeyPatch) -> None:
    real = echo_servers.available
    uvloops = ("uvloop", "uvloop-proto")
    monkeypatch.setattr(echo, "available", lambda kind: kind not in uvloops and real(kind))
    env = echo.setup()
    assert not set(uvloops) & set(env.contenders) and "lowio" in env.contenders
    assert env.skipped == [f"{kind}: skipped (not installed)" for kind in uvloops]


@needs_cc
def test_echo_workloads_report_their_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--quick", "--only", "echo,syscalls,idle", "--reps", "1", "--scale", "0.01"]
    fds, children = _open_fds(), _children()
    assert main([*argv, "--output", str(tmp_path)]) == 0
    assert _open_fds() == fds  # servers, pipes, tracers and idle connections all closed
    assert _children() == children
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    tables = _tables(report)
    split = len(os.sched_getaffinity(0)) >= 2
    cases = 3 if split else 2  # 1 x 64 B on separate cores and on one, 100 x 1 KiB
    _assert_markdown_table(tables[ECHO_TITLE], 3 * cases)
    header = tables[ECHO_TITLE][0]
    assert "| lowio | trio | asyncio | asyncio-proto |" in header
    assert "trio / lowio" in header and "asyncio / lowio" in header
    lines = tables[ECHO_TITLE][2:]
    assert "100 conns x 1 KiB: round trips/s" in lines[-3]
    assert "≥ 1.00x trio, asyncio-proto, uvloop-proto" in lines[-3]
    assert all("client < 90% of a core" in line for line in lines[2::3])
    assert all("✓" in line or "✗" in line for line in lines[2::3])
    # without uvloop (outside the bench extra) the target is judged only if a
    # contender present already beats lowio (✗); with it, always
    if echo_servers.available("uvloop-proto"):
        assert "✓" in lines[-3] or "✗" in lines[-3]
    else:
        assert "✓" not in lines[-3]
    assert "/s ±" in lines[0] and "µs ±" in lines[1] and "% ±" in lines[2]

    idle = tables[IDLE_TITLE]
    _assert_markdown_table(idle, 4)
    assert "10 idle" in idle[3] and "lowio ≤ 1.02x" in idle[4]
    assert "RSS per idle connection" in idle[5] and "lowio ≤ trio" in idle[5]
    assert "10 idle connections (--quick)" in report

    if syscalls.tracer() is None:
        assert "syscalls skipped" in report
    else:
        calls = tables[SYSCALLS_TITLE]
        assert "all system calls, per round trip" in calls[2] and "lowio ≤ 3" in calls[2]
        names = [line.split("|")[1].strip() for line in calls[3:]]
        assert "sendto" in names or "write" in names
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    rates = [row for row in rows if row["unit"] == "rt/s"]
    assert len(rates) == cases and all(row["lowio_ns"] > 0 for row in rates)
    assert ECHO_TITLE in capsys.readouterr().out


def _children() -> list[int]:
    """This process's child processes still running (or unreaped)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                found.append(int(entry))
    return found


def test_parse_strace_and_perf_counts() -> None:
    strace = """\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 47.80    0.003045           1      2001      1000 recvfrom
 30.00    0.002000           1      1001           sendto
------ ----------- ----------- --------- --------- ----------------
100.00    0.006370           1      3002      1000 total
"""
    assert syscalls.parse_strace(strace) == ({"recvfrom": 2001, "sendto": 1001}, {"recvfrom": 1000})
    perf = """\
# started on Mon Nov 23 14:07:35 2026

python-41,3007,,raw_syscalls:sys_enter,1,100.00,,
python-42,5,,raw_syscalls:sys_enter,1,100.00,,
python-41,2001,,syscalls:sys_enter_recvfrom,1,100.00,,
python-41,<not counted>,,syscalls:sys_enter_read,0,100.00,,
python-41,1001,,syscalls:sys_enter_sendto,1,100.00,,
sleep-99,7,,syscalls:sys_enter_sendto,1,100.00,,
"""
    counted = syscalls.parse_perf_per_thread(perf, {41: 41, 42: 41})
    assert counted == {41: {"total": 3012, "recvfrom": 2001, "sendto": 1001}}
    short = ({"recvfrom": 10, "close": 1}, {"recvfrom": 5})
    long = ({"recvfrom": 30, "close": 1, "sendto": 10}, {"recvfrom": 15})
    calls, errors = syscalls.differential(short, long, 10)
    assert calls == {"close": 0.0, "recvfrom": 2.0, "sendto": 1.0}
    assert errors == {"recvfrom": 1.0}


@needs_cc
def test_idle_scales_down_to_the_open_file_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    room = len(os.listdir("/proc/self/fd")) + 64 + 7 * len(echo.IDLE_CONTENDERS)
    monkeypatch.setattr(echo, "raise_nofile_limit", lambda: room)
    table, _ = echo.bench_idle(quick=True, scale=0.01, reps=1)
    assert "7 idle" in table.rows[1].workload
    assert any("Scaled down from 10 to 7 idle connections" in note for note in table.notes)
    assert table.rows[3].workload == "server RSS per idle connection"


# ---- anyio on its backends: anyio_sleep0, anyio_spawn, anyio_echo ----

ANYIO_TITLE = anyio_backends.ANYIO_TITLE


def test_anyio_workloads_are_all_listed() -> None:
    assert [*anyio_backends.IN_PROCESS, "anyio_echo"] == list(ANYIO_WORKLOADS)
    # anyio on uvloop runs where uvloop is installed (the bench extra)
    assert {"anyio-lowio", "anyio-trio", "anyio-asyncio"} <= set(SERVERS)
    assert all(kind in SERVERS for kind in echo_servers.ANYIO_KINDS if echo_servers.available(kind))


@pytest.mark.parametrize("backend", ["lowio", "trio", "asyncio"])
@pytest.mark.parametrize("name", list(anyio_backends.IN_PROCESS))
def test_every_anyio_workload_does_its_work(name: str, backend: str) -> None:
    workload = anyio_backends.IN_PROCESS[name]
    assert set(workload.impls) == {"lowio", "trio", "asyncio"}
    fds = _open_fds()
    for size in (1, 37):
        outcome = workload.impls[backend](size, 0)
        assert outcome.done == size  # iterations done, tasks completed
        assert set(outcome.metrics) == {"ns"} and outcome.metrics["ns"] > 0
    assert _open_fds() == fds


def test_anyio_workloads_run_on_the_backend_they_name(monkeypatch: pytest.MonkeyPatch) -> None:
    import anyio

    seen: list[str] = []
    real = anyio.run

    def run(fn: Callable[[], object], *, backend: str) -> object:
        async def main() -> object:
            seen.append(anyio.lowlevel.current_token().backend_class.__module__)
            return await fn()  # type: ignore[misc]

        return real(main, backend=backend)

    monkeypatch.setattr(anyio, "run", run)
    for backend in ("lowio", "trio", "asyncio"):
        for workload in anyio_backends.IN_PROCESS.values():
            assert workload.impls[backend](3, 0).done == 3
    assert len(seen) == 6
    assert seen[0] == seen[1] != seen[2] == seen[3] != seen[4] == seen[5]
    assert seen[2].endswith("_trio") and seen[4].endswith("_asyncio")
    assert seen[0].startswith("anyio_backend.")  # lowio's backend package


UNHOOK = (
    "import sys; sys.meta_path[:] = "
    "[f for f in sys.meta_path if type(f).__name__ != 'LowioBackendFinder']; "
)


def test_the_anyio_lowio_server_registers_the_backend_itself() -> None:
    # without the finder of the installed .pth, anyio does not know "lowio" ...
    probe = subprocess.run(
        [sys.executable, "-c", UNHOOK + "import anyio; anyio.run(anyio.sleep, 0, backend='lowio')"],
        capture_output=True,
        timeout=60,
    )
    assert probe.returncode != 0 and b"lowio" in probe.stderr
    # ... but the anyio-lowio echo server registers it with lowio.anyio.register()
    script = str(Path(echo_servers.__file__).resolve())
    code = UNHOOK + (
        f"import runpy; sys.argv = [{script!r}, 'anyio-lowio', '-1']; "
        f"runpy.run_path({script!r}, run_name='__main__')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        assert echo_servers.readable(proc.stdout.fileno(), 30), "the server did not start"
        line = proc.stdout.readline()
        assert line.strip().isdigit(), proc.stderr.read() if proc.stderr else line
        echo_servers.check_echo(int(line), [b"x", random.Random(1).randbytes(100_000)])
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(10)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


@needs_cc
def test_anyio_workloads_report_their_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--quick", "--only", ",".join(ANYIO_WORKLOADS), "--reps", "1", "--scale", "0.01"]
    fds, children = _open_fds(), _children()
    assert main([*argv, "--output", str(tmp_path)]) == 0
    assert _open_fds() == fds  # the servers and their pipes are all closed
    assert _children() == children
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    tables = _tables(report)
    assert list(tables) == [ANYIO_TITLE]
    lines = tables[ANYIO_TITLE]
    _assert_markdown_table(lines, 2 + 3 * 2)  # 2 in-process rows, 2 echo cases x 3 rows
    header = lines[0]
    uvloop = echo_servers.available("anyio-uvloop")
    contenders = "| lowio | trio | asyncio | uvloop |" if uvloop else "| lowio | trio | asyncio |"
    assert f"{contenders} trio / lowio | asyncio / lowio |" in header
    rows = lines[2:]
    assert "anyio.sleep(0) loop, per iteration" in rows[0] and "≥ 1.00x asyncio" in rows[0]
    assert "spawn + join 100 tasks, per task" in rows[1] and "≥ 2.00x trio" in rows[1]
    split = len(os.sched_getaffinity(0)) >= 2
    small = "1 conn x 64 B (one shared core)" if split else "1 conn x 64 B (one CPU)"
    assert f"echo {small}: round trips/s" in rows[2]
    assert "echo 100 conns x 1 KiB: round trips/s" in rows[5] and "≥ 1.50x trio" in rows[5]
    assert "echo 100 conns x 1 KiB: server CPU per round trip" in rows[6]
    assert all("✓" in row or "✗" in row for row in [rows[0], rows[1]])
    if uvloop:  # the target names uvloop: without it, judged only when already missed
        assert "✓" in rows[5] or "✗" in rows[5]
    else:
        assert "✓" not in rows[5]
    assert all("client < 90% of a core" in row for row in (rows[4], rows[7]))

    results = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(results) == 8 and all(r["table"] == ANYIO_TITLE for r in results)
    for row in results:  # the echo rows also have anyio on uvloop
        echo_row = "echo" in row["workload"]
        others = {"trio", "asyncio"} | ({"uvloop"} if uvloop and echo_row else set())
        assert row["lowio_ns"] > 0 and set(row["others_ns"]) == others
        assert set(row["ratios"]) == (others if row["unit"] != "%" else set())
    assert ANYIO_TITLE in capsys.readouterr().out


def test_a_missing_compiler_skips_anyio_echo_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loadgen, "compiler", lambda: None)
    argv = ["--only", "anyio_echo", "--output", str(tmp_path)]
    assert main(argv) == 0
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert _tables(report) == {}
    assert "* anyio_echo skipped: no C compiler" in report
