"""``--frameworks``: which contenders run.

lowio (and anyio and anycorn on lowio) is every table's baseline, so it always runs;
the selection restricts the others.  The raw poller's contenders
(``select.epoll``, ``selectors``) are not frameworks and always run.
"""

from __future__ import annotations

from collections.abc import Iterable

FRAMEWORKS = (
    "lowio",
    "trio",
    "asyncio",
    "asyncio-proto",
    "uvloop",
    "uvloop-proto",
    "anyio-lowio",
    "anyio-trio",
    "anyio-asyncio",
    "c-reference",
    "lowio-stream",
    "trio-stream",
    "anyio-uvloop",
)
BASELINES = ("lowio", "anyio-lowio")

# the http workload's servers (http_servers.py): anycorn on lowio is its baseline
HTTP_FRAMEWORKS = (
    "anycorn-lowio",
    "anycorn-trio",
    "anycorn-asyncio",
    "hypercorn-trio",
    "hypercorn-trio-lowio",
    "hypercorn-uvloop",
    "uvicorn",
)
FRAMEWORKS += HTTP_FRAMEWORKS
BASELINES += ("anycorn-lowio",)

_selected: set[str] | None = None


def select(names: Iterable[str] | None) -> None:
    """Restricts the contenders to ``names`` (None: all of them)."""
    global _selected
    _selected = None if names is None else {*names, *BASELINES}


def wanted(name: str) -> bool:
    return _selected is None or name in _selected
