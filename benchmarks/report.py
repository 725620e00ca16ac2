"""Result rows, the terminal table (rich when installed), Markdown and PNG
charts (matplotlib when installed)."""

from __future__ import annotations

import json
import math
import re
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


def markdown(title: str, rows: list[Row], notes: list[str], chart: str = "") -> str:
    header, body = table_cells(rows)
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    if chart:
        lines += ["", f"![{title}: ratios vs trio and asyncio]({chart})"]
    if notes:
        lines += [""] + [f"* {note}" for note in notes]
    return "\n".join(lines) + "\n"


CHART_AGAINST = ("trio", "asyncio")  # the charts' ratios: other / lowio


def chart_file(title: str) -> str:
    return "chart-" + re.sub(r"[^a-z0-9]+", "-", title.lower())[:48].strip("-") + ".png"


def chart_rows(rows: list[Row]) -> list[Row]:
    """The rows with a finite ratio against trio or asyncio."""
    return [
        r
        for r in rows
        if any(math.isfinite(r.ratios.get(o, math.nan)) and r.ratios[o] > 0 for o in CHART_AGAINST)
    ]


def write_chart(path: Path, title: str, rows: list[Row]) -> None:
    """A horizontal bar chart of each row's ratios vs trio and vs asyncio
    (log scale, a line at 1: bars to its right mean lowio is faster)."""
    import matplotlib

    matplotlib.use("Agg")  # headless
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    against = [o for o in CHART_AGAINST if any(o in r.ratios for r in rows)]
    height = 0.8 / len(against)
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.45 * len(rows) * len(against)))
    try:
        for i, other in enumerate(against):
            ys = [n + (i - (len(against) - 1) / 2) * height for n in range(len(rows))]
            xs = [r.ratios.get(other, math.nan) for r in rows]
            # bars grow from 1: to the right where lowio is faster, to the left where slower
            widths = [x - 1.0 for x in xs]
            bars = ax.barh(ys, widths, left=1.0, height=height, label=f"vs {other}")
            ax.bar_label(bars, labels=[f"{x:.2f}x" if x == x else "" for x in xs], fontsize=7)
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xscale("log")
        # the plotted ratios only: other columns (e.g. uvicorn) do not widen the axis
        plotted = [r.ratios.get(o, math.nan) for r in rows for o in against]
        finite = [x for x in plotted if math.isfinite(x) and x > 0]
        low, high = min([*finite, 1.0]) / 1.3, max([*finite, 1.0]) * 1.3
        ax.set_xlim(low, high)
        ticks = [t for t in (0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64) if low <= t <= high]
        ax.set_xticks(ticks, [f"{t:g}x" for t in ticks])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_yticks(range(len(rows)), [r.workload for r in rows], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("other / lowio, paired per rep (> 1: lowio is faster)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
        _close_fonts()


def _close_fonts() -> None:
    """matplotlib keeps the font files it rendered with open in a cache: the
    benchmark (and its tests) should not hold files open after a report."""
    import gc

    import matplotlib.font_manager

    get_font = getattr(matplotlib.font_manager, "_get_font", None)
    if hasattr(get_font, "cache_clear"):
        get_font.cache_clear()
        gc.collect()


def write_charts(output: Path, tables: list[Table]) -> tuple[dict[str, str], list[str]]:
    """({table title: chart file name}, notes): one PNG per table with ratios
    against trio or asyncio; skipped with a note without matplotlib."""
    wanted = [(t, chart_rows(t.rows)) for t in tables]
    wanted = [(t, rows) for t, rows in wanted if rows]
    if not wanted:
        return {}, []
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return {}, ["charts skipped: matplotlib is not installed (pip install matplotlib)"]
    files = {}
    for table, rows in wanted:
        name = chart_file(table.title)
        write_chart(output / name, table.title, rows)
        files[table.title] = name
    return files, []


def write(output: Path, tables: list[Table], notes: list[str]) -> Path:
    """Writes ``report.md`` (one section per non-empty table, with its chart,
    then the notes), the charts (``chart-*.png``) and ``results.jsonl`` (one
    line per row, with its table's title)."""
    output.mkdir(parents=True, exist_ok=True)
    report = output / "report.md"
    charts, chart_notes = write_charts(output, tables)
    sections = [
        markdown(t.title, t.rows, t.notes, charts.get(t.title, "")) for t in tables if t.rows
    ]
    sections.append("\n".join(f"* {note}" for note in [*notes, *chart_notes]) + "\n")
    report.write_text("# lowio benchmarks\n\n" + "\n".join(sections), encoding="utf-8")
    with (output / "results.jsonl").open("w", encoding="utf-8") as f:
        for t in tables:
            for row in t.rows:
                f.write(json.dumps({"table": t.title, **asdict(row)}) + "\n")
    return report
