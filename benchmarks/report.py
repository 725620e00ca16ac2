"""Result rows, the terminal table (rich when installed) and Markdown."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Row:
    """One workload: lowio's value and its paired ratios against the others.

    Values are nanoseconds unless ``unit`` says otherwise (see
    :func:`fmt_value`); a spread of None is not shown."""

    workload: str
    lowio_ns: float
    lowio_spread: float | None
    others_ns: dict[str, float]
    ratios: dict[str, float]  # other / lowio: > 1 means lowio is faster
    target: str = ""
    met: bool | None = None
    others_spread: dict[str, float] = field(default_factory=dict)
    unit: str = "ns"


@dataclass
class Table:
    """One titled table of the report, with its own notes."""

    title: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)


def _fmt_ns(ns: float) -> str:
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def _fmt_bytes(n: float) -> str:
    if abs(n) >= 1 << 20:
        return f"{n / (1 << 20):.2f} MiB"
    return f"{n / 1024:.2f} KiB" if abs(n) >= 1024 else f"{n:.0f} B"


UNITS: dict[str, Callable[[float], str]] = {
    "ns": _fmt_ns,  # nanoseconds (lower is better)
    "rt/s": lambda ns: f"{1e9 / ns:,.0f}/s",  # stored as ns per round trip, shown as a rate
    "%": lambda x: f"{x:.0%}",  # a fraction
    "calls": lambda x: f"{x:.2f}",  # a count per operation
    "B": _fmt_bytes,  # bytes
    "x": lambda x: f"{x:.3f}x",  # a ratio
}


def fmt_value(value: float, unit: str = "ns") -> str:
    return UNITS[unit](value)


def _fmt_time(ns: float, spread: float | None, unit: str = "ns") -> str:
    value = fmt_value(ns, unit)
    return value if spread is None else f"{value} ±{spread:.0%}"


def columns(rows: list[Row]) -> list[str]:
    names: list[str] = []
    for row in rows:
        names += [n for n in row.others_ns if n not in names]
    return names


def table_cells(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    others = columns(rows)
    header = ["workload", "lowio", *others, *(f"{o} / lowio" for o in others), "target"]
    body = []
    for row in rows:
        cells = [row.workload, _fmt_time(row.lowio_ns, row.lowio_spread, row.unit)]
        cells += [
            _fmt_time(row.others_ns[o], row.others_spread.get(o), row.unit)
            if o in row.others_ns
            else "-"
            for o in others
        ]
        cells += [f"{row.ratios[o]:.2f}x" if o in row.ratios else "-" for o in others]
        verdict = "" if row.met is None else (" ✓" if row.met else " ✗")
        cells.append(f"{row.target}{verdict}")
        body.append(cells)
    return header, body


def print_table(title: str, rows: list[Row]) -> None:
    header, body = table_cells(rows)
    try:
        from rich.console import Console
        from rich.table import Table as RichTable
    except ImportError:
        print(title)
        print(" | ".join(header))
        for cells in body:
            print(" | ".join(cells))
        return
    table = RichTable(title=title)
    for name in header:
        table.add_column(name, justify="left" if name == "workload" else "right")
    for cells in body:
        table.add_row(*cells)
    # wide enough for every cell on one line: rows that wrap are hard to read
    needed = sum(max(len(c) for c in column) + 3 for column in zip(header, *body, strict=True)) + 1
    Console(width=max(needed, 120, Console().width)).print(table)


def markdown(title: str, rows: list[Row], notes: list[str]) -> str:
    header, body = table_cells(rows)
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    if notes:
        lines += [""] + [f"* {note}" for note in notes]
    return "\n".join(lines) + "\n"


def write(output: Path, tables: list[Table], notes: list[str]) -> Path:
    """Writes ``report.md`` (one section per non-empty table, then the
    notes) and ``results.jsonl`` (one line per row, with its table's title)."""
    output.mkdir(parents=True, exist_ok=True)
    report = output / "report.md"
    sections = [markdown(t.title, t.rows, t.notes) for t in tables if t.rows]
    sections.append("\n".join(f"* {note}" for note in notes) + "\n")
    report.write_text("# lowio benchmarks\n\n" + "\n".join(sections), encoding="utf-8")
    with (output / "results.jsonl").open("w", encoding="utf-8") as f:
        for t in tables:
            for row in t.rows:
                f.write(json.dumps({"table": t.title, **asdict(row)}) + "\n")
    return report
