"""``python -m benchmarks``: --frameworks, the C reference server, other
processes' CPU use and the PNG charts."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import echo, echo_servers, frameworks, http_servers, loadgen, othercpu
from benchmarks.__main__ import main
from benchmarks.report import Row, Table, write

RUNTIME_TITLE = "Runtime kernel: lowio vs trio vs asyncio"
PNG = b"\x89PNG\r\n\x1a\n"
needs_cc = pytest.mark.skipif(loadgen.compiler() is None, reason="no C compiler")


@pytest.fixture(autouse=True)
def _all_frameworks() -> Iterator[None]:
    yield
    frameworks.select(None)  # main() selects; leave no selection behind


def _table_lines(report: str, title: str) -> list[str]:
    lines = report.splitlines()
    start = lines.index(f"## {title}")
    out = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        out.append(line)
    return out


# ---- --frameworks ----


def test_unknown_framework_lists_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--frameworks", "trio,nope"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "unknown framework(s) nope; valid: lowio, trio, asyncio, asyncio-proto, uvloop" in err
    assert "anyio-lowio, anyio-trio, anyio-asyncio, c-reference" in err


def test_unknown_workload_exits_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--only", "sleep0,nope"])
    assert exc.value.code == 2
    assert "unknown workload(s) nope; valid: poll, ctl" in capsys.readouterr().err


def test_frameworks_restrict_the_runtime_contenders(tmp_path: Path) -> None:
    argv = ["--only", "sleep0,spawn", "--frameworks", "trio", "--reps", "2", "--scale", "0.01"]
    assert main([*argv, "--output", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    lines = _table_lines(report, RUNTIME_TITLE)
    assert "| lowio | trio | trio / lowio |" in lines[0] and "asyncio" not in lines[0]
    # sleep0's target is against asyncio, which did not run: not judged
    assert "≥ 1.00x asyncio |" in lines[2] and "✓" not in lines[2] and "✗" not in lines[2]
    assert "✓" in lines[3] or "✗" in lines[3]  # spawn's, against trio
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert rows and all(set(row["ratios"]) == {"trio"} for row in rows)


def test_lowio_always_runs_as_the_baseline() -> None:
    frameworks.select(["asyncio"])
    assert frameworks.wanted("lowio") and frameworks.wanted("anyio-lowio")
    assert frameworks.wanted("anycorn-lowio")
    assert frameworks.wanted("asyncio") and not frameworks.wanted("trio")
    frameworks.select(None)
    assert all(frameworks.wanted(name) for name in frameworks.FRAMEWORKS)
    known = {*echo_servers.KINDS, *echo_servers.ANYIO_KINDS, *http_servers.SERVERS}
    assert set(frameworks.FRAMEWORKS) == known


@needs_cc
def test_a_selected_contender_not_installed_is_skipped_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = echo_servers.available
    monkeypatch.setattr(echo, "available", lambda kind: kind != "uvloop" and real(kind))
    argv = ["--quick", "--only", "echo", "--frameworks", "uvloop,c-reference", "--reps", "1"]
    assert main([*argv, "--scale", "0.01", "--output", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "* uvloop: skipped (not installed)" in report
    header = _table_lines(report, echo.ECHO_TITLE)[0]
    assert "| lowio | c-reference | c-reference / lowio |" in header
    assert "trio" not in header and "asyncio" not in header


# ---- the C reference server ----


@needs_cc
def test_the_c_reference_server_echoes_and_is_a_contender() -> None:
    assert echo_servers.C_REFERENCE in echo_servers.KINDS
    assert echo_servers.available(echo_servers.C_REFERENCE)
    exe = loadgen.build(loadgen.REFERENCE)
    assert exe is not None and exe.parent == loadgen.cache_dir()
    with echo_servers.EchoServer(echo_servers.C_REFERENCE, -1) as server:
        server.wait_ready()
        echo_servers.check_echo(server.port, [b"x", bytes(range(256)) * 1000])
        client = loadgen.build()
        assert client is not None
        result = loadgen.run(client, server.port, 10, 1024, count=200, server_pid=server.pid)
        assert result.round_trips >= 200 and result.server_ns > 0
        server.check_alive()


def test_a_missing_compiler_skips_the_c_reference_with_a_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(loadgen, "compiler", lambda: None)
    env = echo.setup(("lowio", "c-reference"))
    assert env.contenders == ["lowio"]
    assert env.skipped == ["c-reference: skipped (no C compiler (cc, gcc, clang or $CC) found)"]


# ---- other processes' CPU ----


def test_other_cpu_is_summarized_and_flagged() -> None:
    reps = [
        othercpu.RepCpu("quiet", "lowio", 0, 1.0, 0.02),
        othercpu.RepCpu("quiet", "trio", 0, 1.0, 0.04),
        othercpu.RepCpu("busy", "lowio", 0, 1.0, 0.5),
        othercpu.RepCpu("one bad rep", "lowio", 0, 1.0, 0.0),
        othercpu.RepCpu("one bad rep", "trio", 1, 0.5, 0.2),
        othercpu.RepCpu("one bad rep", "lowio", 2, 3.0, 0.1),
    ]
    summary = othercpu.summary(reps)
    assert "quiet 3%, busy 50%, one bad rep 7%." in summary[0]
    assert len(summary) == 2 and summary[1].startswith("⚠ other CPU use above 20% of a core")
    assert "busy (50% overall)" in summary[1] and "one bad rep rep 2 of trio (40%)" in summary[1]
    assert "quiet" not in summary[1]
    assert othercpu.summary(reps[:2]) == [summary[0].replace(", busy 50%, one bad rep 7%", "")]


def test_tick_rounding_of_short_reps_evens_out() -> None:
    # reps of 2.5 ms on a quiet machine: one in four sees a whole 10 ms tick
    # of its own busy time land in /proc/stat, the others see none
    reps = [
        othercpu.RepCpu("short", "lowio", i, 0.0025, 0.0075 if i % 4 == 0 else -0.0025)
        for i in range(40)
    ]
    assert "short 0%." in othercpu.summary(reps)[0]
    assert len(othercpu.summary(reps)) == 1  # nothing flagged


def test_other_cpu_excludes_the_measured_processes() -> None:
    window = othercpu.Window()
    x = 0
    for i in range(2_000_000):  # this process's own CPU is not "other"
        x += i
    wall, other = window.stop()
    # /proc/stat rounds each CPU's busy time to ticks
    assert wall > 0 and other >= -2 * (os.cpu_count() or 1) * othercpu.TICK
    assert othercpu.own_seconds() > 0 and othercpu.busy_seconds() > 0


def test_the_report_says_how_busy_the_machine_was(tmp_path: Path) -> None:
    argv = ["--only", "sleep0", "--reps", "2", "--scale", "0.01", "--output", str(tmp_path)]
    assert main(argv) == 0
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "Other processes' CPU during the measurements" in report
    assert "sleep0 " in report.split("Other processes' CPU")[1]
    reps = [json.loads(line) for line in (tmp_path / "other_cpu.jsonl").read_text().splitlines()]
    assert len(reps) == 2 * 3  # 2 reps x lowio, trio, asyncio (warm-ups not recorded)
    assert {r["contender"] for r in reps} == {"lowio", "trio", "asyncio"}
    assert all(r["label"] == "sleep0" and r["wall"] > 0 and r["share"] >= 0 for r in reps)


# ---- charts ----


def _tables() -> list[Table]:
    def row(name: str, ratios: dict[str, float], unit: str = "ns") -> Row:
        return Row(
            name, 1000.0, 0.01, {k: 1000.0 * v for k, v in ratios.items()}, ratios, unit=unit
        )

    return [
        Table("Raw poller: x vs y", [row("poll", {"select.epoll": 0.9})]),  # no chart
        Table(
            "Runtime kernel: lowio vs trio vs asyncio",
            [row("a", {"trio": 2.0, "asyncio": 0.8}), row("b", {"trio": 1.1})],
        ),
        Table("anyio: lowio vs trio", [row("c", {"trio": 3.0}), row("cpu", {}, "%")]),
    ]


def test_the_report_links_valid_png_charts(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    report = write(tmp_path, _tables(), ["a note"]).read_text(encoding="utf-8")
    charts = sorted(p.name for p in tmp_path.glob("*.png"))
    assert charts == [
        "chart-anyio-lowio-vs-trio.png",
        "chart-runtime-kernel-lowio-vs-trio-vs-asyncio.png",
    ]
    for name in charts:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 1000
        assert f"]({name})" in report
    assert "charts skipped" not in report


def test_charts_are_skipped_with_a_note_without_matplotlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    report = write(tmp_path, _tables(), []).read_text(encoding="utf-8")
    assert list(tmp_path.glob("*.png")) == []
    assert "* charts skipped: matplotlib is not installed" in report
    assert "| a |" in report


def test_a_busy_machine_is_flagged_in_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = iter(range(0, 1 << 30, 10))  # every sample: 10 s more machine-wide busy time
    monkeypatch.setattr(othercpu, "busy_seconds", lambda: float(next(ticks)))
    argv = ["--only", "sleep0", "--reps", "2", "--scale", "0.01", "--output", str(tmp_path)]
    assert main(argv) == 0
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "* ⚠ other CPU use above 20% of a core (numbers may be disturbed): sleep0 (" in report
    assert f"* ⚠ {RUNTIME_TITLE}: other processes used more than 20% of a core" in report
