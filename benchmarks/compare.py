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
  that rows measured without a spread are not flagged for any wobble).
  Where both runs have contenders on the row they are the control: the
  change judged is lowio's against the median of theirs, and the noise
  adds their spreads.  On a shared host a whole run can be faster or
  slower than another; only lowio's change relative to the others is
  lowio's;
* ``moved with the others`` when lowio's value changed beyond the noise
  but by the same factor as the contenders' (the machine, not lowio);
* ``within noise`` otherwise;
* ``only in old`` / ``only in new`` for rows one run does not have.

``python -m benchmarks.compare OLD.jsonl NEW.jsonl`` compares two files
without running anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from .report import fmt_value

MIN_NOISE = 0.02  # the smallest change judged, as a fraction
REGRESSION = "regression"
IMPROVEMENT = "improvement"
HOST = "moved with the others"
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
    # the contenders' values and spreads on the row
    others: dict[str, float] = field(default_factory=dict)
    others_spread: dict[str, float] = field(default_factory=dict)


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
        """The noise the verdict used (the contenders' spreads added where
        they are the control)."""
        if self.old is None or self.new is None or not common_others(self.old, self.new):
            return noise(self.old, self.new)
        return noise(self.old, self.new) + others_noise(self.old, self.new)

    @property
    def others_speedup(self) -> float | None:
        return others_speedup(self.old, self.new)


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
                {str(k): float(v) for k, v in (raw.get("others_ns") or {}).items() if v},
                {str(k): float(v or 0.0) for k, v in (raw.get("others_spread") or {}).items()},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a benchmark result row ({exc!r})") from None
        rows[row.table, row.workload] = row
    return rows


def noise(old: Result | None, new: Result | None) -> float:
    """The change, as a fraction, below which two values are the same."""
    return max(MIN_NOISE, sum(r.spread for r in (old, new) if r is not None))


def common_others(old: Result, new: Result) -> list[str]:
    """The contenders with a value on the row in both runs."""
    return [name for name in old.others if new.others.get(name)]


def others_speedup(old: Result | None, new: Result | None) -> float | None:
    """The median over the contenders both runs have of old / new of their
    value (None without any): how much the machine moved on this row."""
    if old is None or new is None:
        return None
    common = common_others(old, new)
    if not common:
        return None
    return median(old.others[name] / new.others[name] for name in common)


def others_noise(old: Result, new: Result) -> float:
    """The median over the common contenders of their two runs' spreads."""
    common = common_others(old, new)
    spreads = [old.others_spread.get(n, 0.0) + new.others_spread.get(n, 0.0) for n in common]
    return median(spreads) if spreads else 0.0


def judge(old: Result | None, new: Result | None) -> str:
    """The verdict on a row.  With contenders in both runs they are the
    control: lowio's change is judged against theirs (old / new of lowio
    over the median of old / new of the others), within the noise of both
    runs' spreads of lowio and of them; without, lowio's change alone."""
    if old is None:
        return ONLY_NEW
    if new is None:
        return ONLY_OLD
    margin = noise(old, new)
    moved = new.value > old.value * (1 + margin) or new.value < old.value * (1 - margin)
    machine = others_speedup(old, new)
    if machine is None or new.value <= 0:
        if not moved:
            return NOISE
        return REGRESSION if new.value > old.value else IMPROVEMENT
    relative = old.value / new.value / machine
    control = margin + others_noise(old, new)
    if relative < 1 - control:
        return REGRESSION
    if relative > 1 + control:
        return IMPROVEMENT
    return HOST if moved else NOISE


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
        machine = change.others_speedup
        others = "" if machine is None else f"; the others {machine:.2f}x"
        out.append(
            f"  {change.workload}: {_value(change.old)} -> {_value(change.new)}  "
            f"{ratio}{flag}{change.verdict}{noise}{others}"
        )
    counts = {v: sum(c.verdict == v for c in changes) for v in (REGRESSION, IMPROVEMENT, HOST)}
    out += [
        "",
        "old / new of lowio's value: above 1 the new run is faster (or smaller); noise is the "
        f"sum of both runs' spreads, at least {MIN_NOISE:.0%}.",
        f"{counts[REGRESSION]} regression(s), {counts[IMPROVEMENT]} improvement(s) outside "
        f"the noise; {counts[HOST]} row(s) where lowio moved with the others (the machine, "
        "not lowio).",
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
