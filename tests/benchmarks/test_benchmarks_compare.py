"""``--compare OLD.jsonl``: each row's change against an earlier run, judged
against both runs' spreads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import compare
from benchmarks.__main__ import main

TABLE = "Runtime kernel: lowio vs trio vs asyncio"


def _write(
    path: Path,
    rows: list[tuple[str, float, float | None]],
    unit: str = "ns",
    trio: float = 2000.0,
) -> Path:
    """A results.jsonl like report.write makes: (workload, lowio_ns, spread),
    with trio's value ``trio`` on every row (the same in both runs unless a
    test says otherwise: the machine did not move)."""
    with path.open("w", encoding="utf-8") as f:
        for workload, value, spread in rows:
            row = {
                "table": TABLE,
                "workload": workload,
                "lowio_ns": value,
                "lowio_spread": spread,
                "others_ns": {"trio": trio},
                "ratios": {"trio": trio / value},
                "target": "",
                "met": None,
                "others_spread": {},
                "unit": unit,
            }
            f.write(json.dumps(row) + "\n")
    return path


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    old = _write(
        tmp_path / "old.jsonl",
        [
            ("slower", 1000.0, 0.02),  # +20%: outside 2% + 3%
            ("faster", 1000.0, 0.02),  # -30%
            ("wobble", 1000.0, 0.05),  # +6%: inside 5% + 3%
            ("no spread", 1000.0, None),  # +1%: inside the 2% floor
            ("gone", 500.0, 0.01),
        ],
    )
    new = _write(
        tmp_path / "new.jsonl",
        [
            ("slower", 1200.0, 0.03),
            ("faster", 700.0, 0.01),
            ("wobble", 1060.0, 0.03),
            ("no spread", 1010.0, None),
            ("added", 42.0, 0.01),
        ],
    )
    return old, new


def test_each_row_is_judged_against_both_spreads(runs: tuple[Path, Path]) -> None:
    old, new = runs
    changes = {c.workload: c for c in compare.compare(compare.load(old), compare.load(new))}
    verdicts = {name: c.verdict for name, c in changes.items()}
    assert verdicts == {
        "slower": compare.REGRESSION,
        "faster": compare.IMPROVEMENT,
        "wobble": compare.NOISE,
        "no spread": compare.NOISE,
        "added": compare.ONLY_NEW,
        "gone": compare.ONLY_OLD,
    }
    assert changes["slower"].speedup == pytest.approx(1000 / 1200)
    assert changes["faster"].speedup == pytest.approx(1000 / 700)
    assert changes["slower"].noise == pytest.approx(0.05)
    assert changes["no spread"].noise == compare.MIN_NOISE
    assert changes["gone"].speedup is None and changes["added"].speedup is None
    # the new run's order, then what only the old one had
    assert list(changes) == ["slower", "faster", "wobble", "no spread", "added", "gone"]


def test_a_change_just_outside_the_noise_is_flagged(tmp_path: Path) -> None:
    old = compare.Result(TABLE, "w", 1000.0, 0.04, "ns")
    assert compare.judge(old, compare.Result(TABLE, "w", 1079.0, 0.04, "ns")) == compare.NOISE
    assert compare.judge(old, compare.Result(TABLE, "w", 1081.0, 0.04, "ns")) == compare.REGRESSION
    assert compare.judge(old, compare.Result(TABLE, "w", 919.0, 0.04, "ns")) == compare.IMPROVEMENT


def test_the_standalone_comparison_prints_every_row(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = runs
    assert compare.main([str(old), str(new)]) == 0
    out = capsys.readouterr().out
    lines = {line.split(":")[0].strip(): line for line in out.splitlines() if ": " in line}
    assert "1.00 µs ±2% -> 1.20 µs ±3%  0.83x  ✗ regression (noise ±5%)" in lines["slower"]
    assert "1.43x  ✓ improvement" in lines["faster"]
    assert "1.06 µs ±3%  0.94x  within noise (noise ±8%)" in lines["wobble"]
    assert "1.00 µs -> 1.01 µs  0.99x  within noise (noise ±2%)" in lines["no spread"]
    assert "500 ns ±1% -> -  only in old" in lines["gone"]
    assert "- -> 42 ns ±1%  only in new" in lines["added"]
    assert TABLE in out
    assert "1 regression(s), 1 improvement(s) outside the noise;" in out


def test_rates_are_shown_as_rates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _write(tmp_path / "old.jsonl", [("round trips/s", 1e5, 0.01)], unit="rt/s")
    new = _write(tmp_path / "new.jsonl", [("round trips/s", 5e4, 0.01)], unit="rt/s")
    compare.print_comparison(old, new)
    assert "10,000/s ±1% -> 20,000/s ±1%  2.00x  ✓ improvement" in capsys.readouterr().out


def test_a_bad_results_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"table": "t", "workload": "w", "lowio_ns": 1}\nnot json\n')
    with pytest.raises(SystemExit) as exc:
        compare.main([str(bad), str(bad)])
    assert exc.value.code == 2
    assert f"{bad}:2: not a benchmark result row" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--compare", str(tmp_path / "missing.jsonl")])
    assert "--compare: no such results file" in capsys.readouterr().err


def test_a_run_compares_itself_with_an_earlier_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--only", "sleep0", "--reps", "2", "--scale", "0.01"]
    assert main([*argv, "--output", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    old = tmp_path / "a" / "results.jsonl"
    assert main([*argv, "--output", str(tmp_path / "b"), "--compare", str(old)]) == 0
    out = capsys.readouterr().out
    assert f"Compared with {old}:" in out
    row = next(line for line in out.splitlines() if "sleep(0) loop" in line and "->" in line)
    verdicts = (compare.REGRESSION, compare.IMPROVEMENT, compare.HOST, compare.NOISE)
    assert any(v in row for v in verdicts)


def test_the_contenders_are_the_control(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A whole run on a slower host: lowio's change is judged against the
    contenders' on the same row."""
    old = _write(tmp_path / "old.jsonl", [("w", 1000.0, 0.02)], trio=2000.0)

    def verdict(lowio: float, trio: float) -> str:
        new = _write(tmp_path / "new.jsonl", [("w", lowio, 0.02)], trio=trio)
        (change,) = compare.compare(compare.load(old), compare.load(new))
        return change.verdict

    assert verdict(1300.0, 2600.0) == compare.HOST  # both 30% slower: the machine
    assert verdict(1300.0, 2000.0) == compare.REGRESSION  # lowio alone slower
    assert verdict(1150.0, 3000.0) == compare.IMPROVEMENT  # slower, but less than trio
    assert verdict(1010.0, 2600.0) == compare.IMPROVEMENT
    assert verdict(1010.0, 2020.0) == compare.NOISE
    slower_host = _write(tmp_path / "new.jsonl", [("w", 1300.0, 0.02)], trio=2600.0)
    compare.print_comparison(old, slower_host)
    out = capsys.readouterr().out
    assert "0.77x  moved with the others (noise ±4%); the others 0.77x" in out
    assert "1 row(s) where lowio moved with the others" in out


def test_rows_of_a_renamed_table_still_match_by_their_label(tmp_path: Path) -> None:
    old = compare.load(_write(tmp_path / "old.jsonl", [("a", 1000.0, 0.01), ("b", 10.0, 0.01)]))
    renamed = {(f"{t} (renamed)", w): r for (t, w), r in old.items()}
    new = {**renamed, ("other", "a"): compare.Result("other", "a", 1.0, 0.0, "ns")}
    changes = compare.compare(old, new)
    # "b" is unambiguous; "a" is in two new tables: not guessed
    verdicts = {(c.table, c.workload): c.verdict for c in changes}
    assert verdicts == {
        (f"{TABLE} (renamed)", "a"): compare.ONLY_NEW,
        (f"{TABLE} (renamed)", "b"): compare.NOISE,
        ("other", "a"): compare.ONLY_NEW,
        (TABLE, "a"): compare.ONLY_OLD,
    }
