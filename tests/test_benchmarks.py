"""The benchmark program runs, checks what it measures, and reports."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks import poller, runtime
from benchmarks.__main__ import main
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
    argv = ["--quick", "--reps", "2", "--scale", "0.01", "--output", str(tmp_path)]
    assert main(argv) == 0
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert report.startswith("# lowio benchmarks")
    tables = _tables(report)
    assert list(tables) == [POLLER_TITLE, RUNTIME_TITLE]
    _assert_markdown_table(tables[POLLER_TITLE], 6)  # 3 poll sizes, 3 ctl ops
    _assert_markdown_table(tables[RUNTIME_TITLE], 8)  # 5 workloads, timers x 3
    header = tables[RUNTIME_TITLE][0]
    assert "trio / lowio" in header and "asyncio / lowio" in header
    # every targeted runtime row says whether its target is met
    targeted = [line for line in tables[RUNTIME_TITLE][2:] if "≥" in line]
    assert len(targeted) == 7
    assert all("✓" in line or "✗" in line for line in targeted)

    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    poller_rows = [row for row in rows if row["table"] == POLLER_TITLE]
    runtime_rows = [row for row in rows if row["table"] == RUNTIME_TITLE]
    assert {row["workload"] for row in poller_rows} >= {
        "poll + iterate, 100 ready",
        "register (per call)",
    }
    assert all(row["lowio_ns"] > 0 and row["ratios"]["select.epoll"] > 0 for row in poller_rows)
    assert len(runtime_rows) == 8
    for row in runtime_rows:
        assert row["lowio_ns"] > 0
        assert set(row["ratios"]) == set(row["others_ns"]) == {"trio", "asyncio"}
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
    assert "valid: poll, ctl, sleep0, spawn, cancel_read, move_on, pingpong, timers" in err


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("contender", runtime.CONTENDERS)
@pytest.mark.parametrize("name", list(runtime.WORKLOADS))
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
