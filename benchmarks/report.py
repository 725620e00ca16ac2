"""Result rows, the terminal table (rich when installed) and Markdown."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Row:
    """One workload: lowio's time and its paired ratios against the others."""

    workload: str
    lowio_ns: float
    lowio_spread: float
    others_ns: dict[str, float]
    ratios: dict[str, float]  # other / lowio: > 1 means lowio is faster
    target: str = ""
    met: bool | None = None


def _fmt_ns(ns: float) -> str:
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


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
        cells = [row.workload, f"{_fmt_ns(row.lowio_ns)} ±{row.lowio_spread:.0%}"]
        cells += [_fmt_ns(row.others_ns[o]) if o in row.others_ns else "-" for o in others]
        cells += [f"{row.ratios[o]:.2f}x" if o in row.ratios else "-" for o in others]
        verdict = "" if row.met is None else (" ✓" if row.met else " ✗")
        cells.append(f"{row.target}{verdict}")
        body.append(cells)
    return header, body


def print_table(title: str, rows: list[Row]) -> None:
    header, body = table_cells(rows)
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        print(" | ".join(header))
        for cells in body:
            print(" | ".join(cells))
        return
    table = Table(title=title)
    for name in header:
        table.add_column(name, justify="left" if name == "workload" else "right")
    for cells in body:
        table.add_row(*cells)
    Console(width=max(120, Console().width)).print(table)


def markdown(title: str, rows: list[Row], notes: list[str]) -> str:
    header, body = table_cells(rows)
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    lines += [""] + [f"* {note}" for note in notes]
    return "\n".join(lines) + "\n"


def write(output: Path, title: str, rows: list[Row], notes: list[str]) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    report = output / "report.md"
    report.write_text(f"# lowio benchmarks\n\n{markdown(title, rows, notes)}", encoding="utf-8")
    with (output / "results.jsonl").open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(asdict(row)) + "\n")
    return report
