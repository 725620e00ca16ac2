"""The benchmark program runs, checks what it measures, and reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import poller
from benchmarks.__main__ import main
from benchmarks.measure import Sample, paired_ratio


def test_quick_run_writes_markdown_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--quick", "--reps", "2", "--output", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert report.startswith("# lowio benchmarks")
    table = [line for line in report.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 6  # header, rule, 3 poll sizes, 3 ctl ops
    assert all(line.count("|") == table[0].count("|") for line in table)
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert {row["workload"] for row in rows} >= {"poll + iterate, 100 ready", "register (per call)"}
    assert all(row["lowio_ns"] > 0 and row["ratios"]["select.epoll"] > 0 for row in rows)
    assert "Raw poller: lowio.Poll vs select.epoll" in capsys.readouterr().out


def test_unknown_workload_lists_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--only", "nope"])
    assert "valid: poll, ctl" in capsys.readouterr().err


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
