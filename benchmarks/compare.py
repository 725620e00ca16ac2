"""``--compare OLD.jsonl``: lowio's numbers against an earlier run's.

Both runs' ``results.jsonl`` hold one line per row (see ``report.write``):
its table, workload, lowio's value (lower is better for every unit: times,
times per round trip shown as rates, CPU shares, counts, bytes) and its
spread (half the interquartile range over the reps, as a fraction of the
median).  Rows are matched by table and workload (or by workload alone
where a table was renamed and the label is unambiguous); each matched row gets
the ratio old / new of lowio's value (above 1: the new run is faster or
smaller) and a verdict:

* ``regression`` / ``improvement`` when the change is larger than the
  noise, the sum of the two runs' spreads (at least :data:`MIN_NOISE`, so
  that rows measured without a spread are not flagged for any wobble);
* ``within noise`` otherwise;
* ``only in old`` / ``only in new`` for rows one run does not have.

``python -m benchmarks.compare OLD.jsonl NEW.jsonl`` compares two files
without running anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from .report import fmt_value

MIN_NOISE = 0.02  # the smallest change judged, as a fraction
REGRESSION = "regression"
IMPROVEMENT = "improvement"
NOISE = "within noise"
ONLY_OLD = "only in old"
ONLY_NEW = "only in new"
Key = tuple[str, str]  # (table, workload)


@dataclass
class Result:
    """lowio's value on one row of a results.jsonl."""

    table: str
    workload: str
    value: float
    spread: float  # 0 when the row has none
    unit: str


@dataclass
class Change:
    table: str
    workload: str
    old: Result | None
    new: Result | None
    verdict: str

    @property
    def speedup(self) -> float | None:
        """old / new of lowio's value: above 1, the new run is better."""
        if self.old is None or self.new is None or self.new.value == 0:
            return None
        return self.old.value / self.new.value

    @property
    def noise(self) -> float:
        return noise(self.old, self.new)


def load(path: Path) -> dict[Key, Result]:
    """The rows of a results.jsonl, keyed by (table, workload); a line that
    is not a row raises ValueError naming the file and the line."""
    rows: dict[Key, Result] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            row = Result(
                str(raw["table"]),
                str(raw["workload"]),
                float(raw["lowio_ns"]),
                float(raw.get("lowio_spread") or 0.0),
                str(raw.get("unit", "ns")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a benchmark result row ({exc!r})") from None
        rows[row.table, row.workload] = row
    return rows


def noise(old: Result | None, new: Result | None) -> float:
    """The change, as a fraction, below which two values are the same."""
    return max(MIN_NOISE, sum(r.spread for r in (old, new) if r is not None))


def judge(old: Result | None, new: Result | None) -> str:
    if old is None:
        return ONLY_NEW
    if new is None:
        return ONLY_OLD
    margin = noise(old, new)
    if new.value > old.value * (1 + margin):
        return REGRESSION
    if new.value < old.value * (1 - margin):
        return IMPROVEMENT
    return NOISE


def matches(old: dict[Key, Result], new: dict[Key, Result]) -> dict[Key, Key]:
    """{new row's key: old row's key}: the same table and workload, or, for
    a table renamed between the runs, the same workload label when no other
    unmatched row on either side has it."""
    pairs = {k: k for k in new if k in old}
    left_old = [k for k in old if k not in new]
    left_new = [k for k in new if k not in old]
    for key in left_new:
        same_old = [k for k in left_old if k[1] == key[1]]
        if len(same_old) == 1 and sum(k[1] == key[1] for k in left_new) == 1:
            pairs[key] = same_old[0]
    return pairs


def compare(old: dict[Key, Result], new: dict[Key, Result]) -> list[Change]:
    """One change per row of either run: the new run's order, then the rows
    only the old run has."""
    pairs = matches(old, new)
    changes = []
    for key, row in new.items():
        before = old[pairs[key]] if key in pairs else None
        changes.append(Change(*key, before, row, judge(before, row)))
    matched = set(pairs.values())
    changes += [Change(*k, r, None, ONLY_OLD) for k, r in old.items() if k not in matched]
    return changes


def _value(result: Result | None) -> str:
    if result is None:
        return "-"
    value = fmt_value(result.value, result.unit)
    return f"{value} ±{result.spread:.0%}" if result.spread else value


def lines(changes: list[Change]) -> list[str]:
    """The comparison as text: one line per row, grouped by table."""
    out: list[str] = []
    table = None
    for change in changes:
        if change.table != table:
            table = change.table
            out += ["", table]
        speedup = change.speedup
        ratio = "" if speedup is None else f"{speedup:.2f}x  "
        flag = {REGRESSION: "✗ ", IMPROVEMENT: "✓ "}.get(change.verdict, "")
        noise = f" (noise ±{change.noise:.0%})" if speedup is not None else ""
        out.append(
            f"  {change.workload}: {_value(change.old)} -> {_value(change.new)}  "
            f"{ratio}{flag}{change.verdict}{noise}"
        )
    counts = {v: sum(c.verdict == v for c in changes) for v in (REGRESSION, IMPROVEMENT)}
    out += [
        "",
        "old / new of lowio's value: above 1 the new run is faster (or smaller); noise is the "
        f"sum of both runs' spreads, at least {MIN_NOISE:.0%}.",
        f"{counts[REGRESSION]} regression(s), {counts[IMPROVEMENT]} improvement(s) outside "
        "the noise.",
    ]
    return out


def print_comparison(old_path: Path, new_path: Path) -> list[Change]:
    changes = compare(load(old_path), load(new_path))
    print(f"Compared with {old_path}:")
    for line in lines(changes):
        print(line)
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("old", type=Path, help="the earlier run's results.jsonl")
    parser.add_argument("new", type=Path, help="the later run's results.jsonl")
    args = parser.parse_args(argv)
    for path in (args.old, args.new):
        if not path.is_file():
            parser.error(f"no such results file: {path}")
    try:
        print_comparison(args.old, args.new)
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
