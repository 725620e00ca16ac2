"""HTTP serving side by side (workload ``http``): one tiny ASGI app
(``http_servers.py``) served over HTTP/1.1 keep-alive by anycorn on anyio's
lowio, trio and asyncio backends, hypercorn's trio worker on trio (and on
lowio through ``lowio.install_as_trio()``, when lowio has it), hypercorn's
asyncio worker on uvloop and uvicorn with uvloop + httptools.

Every server runs in a child process of its own pinned to the first CPU of
this process's affinity mask; the load comes from ``wrk`` (one thread, 100
connections, ``--latency``), or without wrk from the C client
``httpload.c`` (``http_clients.py``), pinned to the second.  All servers start at
once, get a warm-up of keep-alive requests whose responses are checked
(:func:`check_responses`), then are measured in turn, rep by rep: requests/s
and p99 latency as the client reports them, and the server's CPU time per
request from /proc/PID over the client's run.  Without wrk and without a C
compiler the workload is skipped with a note saying how to install wrk.

Two groups of rows: anycorn on lowio is the baseline of the first (anycorn
on trio and asyncio, hypercorn and uvicorn are its other columns), and
hypercorn's trio worker on lowio the baseline of the second (against the
same worker on trio).
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import frameworks
from .echo import make_row
from .echo_servers import HOST, EchoServer, start_servers
from .http_clients import find_client, missing_note, run_load
from .http_servers import BODY, SERVERS
from .measure import Sample, interleave_metrics
from .report import Row, Table

HTTP_TITLE = "HTTP: anycorn on lowio vs trio vs asyncio backends (one ASGI app, keep-alive)"
BASELINE = "anycorn-lowio"
HYPERCORN_LOWIO = "hypercorn-trio-lowio"

# contender -> the modules it needs
NEEDS: dict[str, tuple[str, ...]] = {
    "anycorn-lowio": ("anycorn", "lowio"),
    "anycorn-trio": ("anycorn", "trio"),
    "anycorn-asyncio": ("anycorn",),
    "hypercorn-trio": ("hypercorn", "trio"),
    HYPERCORN_LOWIO: ("hypercorn", "trio", "lowio"),
    "hypercorn-uvloop": ("hypercorn", "uvloop"),
    "uvicorn": ("uvicorn", "uvloop", "httptools"),
}
assert set(NEEDS) == set(SERVERS)
# each group's row label -> {column: contender}; "lowio" is the baseline
GROUPS: dict[str, dict[str, str]] = {
    "anycorn on anyio": {
        "lowio": BASELINE,
        "trio": "anycorn-trio",
        "asyncio": "anycorn-asyncio",
        "hypercorn-trio": "hypercorn-trio",
        "hypercorn-uvloop": "hypercorn-uvloop",
        "uvicorn": "uvicorn",
    },
    "hypercorn trio worker": {"lowio": HYPERCORN_LOWIO, "trio": "hypercorn-trio"},
}
TARGETS: dict[str, tuple[str, Callable[[dict[str, float]], bool]]] = {
    "anycorn on anyio": (
        "≥ 1.60x trio, ≥ 1.60x asyncio",
        lambda r: r["trio"] >= 1.6 and r["asyncio"] >= 1.6,
    ),
    "hypercorn trio worker": ("≥ 1.40x trio", lambda r: r["trio"] >= 1.4),
}


class HttpServer(EchoServer):
    """One HTTP server child process (``http_servers.py``)."""

    SCRIPT = Path(__file__).with_name("http_servers.py").resolve()
    WHAT = "HTTP server"

    def wait_ready(self, timeout: float = 30.0) -> HttpServer:
        """Reads the port the child announces, then waits for the answer to
        one request: the child announces its port before it imports its
        server (a second or more on a loaded machine), and a load run
        started in that gap would count no request.  Raises RuntimeError
        (with the child's stderr) if it does not answer."""
        deadline = time.monotonic() + timeout
        super().wait_ready(timeout)
        try:
            check_responses(self.port, 1, max(1.0, deadline - time.monotonic()))
        except (OSError, AssertionError) as exc:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(1)  # a child that failed: let it finish writing stderr
            log = self.stderr()
            self.close()
            raise RuntimeError(
                f"the {self.kind} {self.WHAT} did not answer ({exc}): {log}"
            ) from exc
        return self


def available(kind: str) -> bool:
    if not all(importlib.util.find_spec(m) is not None for m in NEEDS[kind]):
        return False
    if kind == HYPERCORN_LOWIO:
        import lowio

        return hasattr(lowio, "install_as_trio")
    return True


def skip_note(kind: str) -> str:
    if kind == HYPERCORN_LOWIO and all(importlib.util.find_spec(m) for m in NEEDS[kind]):
        return f"{kind}: skipped (this lowio has no install_as_trio)"
    return f"{kind}: skipped (needs {', '.join(NEEDS[kind])})"


def check_responses(port: int, count: int = 1, timeout: float = 10.0) -> None:
    """``count`` GET requests on one keep-alive connection; each response
    must be a 200 with the app's body (used as the warm-up and by tests)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        for i in range(count):
            conn.request("GET", f"/?n={i}")
            response = conn.getresponse()
            body = response.read()
            if response.status != 200 or body != BODY:
                raise AssertionError(f"request {i}: {response.status} {body[:100]!r}")
            if response.will_close:
                raise AssertionError(f"request {i}: the server closed the keep-alive connection")
    finally:
        conn.close()


# ---- the workload ----


def default_reps(quick: bool, reps: int) -> int:
    """4 quick (the fewest with a spread, which ``--compare`` needs), 7 full."""
    return reps if reps > 0 else (4 if quick else 7)


def rep_seconds(quick: bool, scale: float) -> int:
    return max(1, round((1 if quick else 3) * scale))


def placement() -> tuple[int, int]:
    """(the servers' CPU, the client's CPU): the first two of this process's
    affinity mask, or -1 and -1 (unpinned) with a single CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[0], cpus[1]) if len(cpus) >= 2 else (-1, -1)


def contenders() -> tuple[list[str], list[str]]:
    """(the contenders that run, skip notes for those ``--frameworks``
    selects that cannot)."""
    wanted = [k for k in SERVERS if frameworks.wanted(k)]
    return [k for k in wanted if available(k)], [skip_note(k) for k in wanted if not available(k)]


def rows(by_metric: dict[str, dict[str, Sample]]) -> list[Row]:
    out: list[Row] = []
    for group, columns in GROUPS.items():
        if columns["lowio"] not in by_metric["rps"]:
            continue
        target, check = TARGETS[group]
        pick = {
            metric: {col: samples[k] for col, k in columns.items() if k in samples}
            for metric, samples in by_metric.items()
        }
        out += [
            make_row(f"{group}: requests/s", pick["rps"], "rt/s", target=target, check=check),
            make_row(f"{group}: p99 latency", pick["p99"], "ns"),
            make_row(f"{group}: server CPU per request", pick["cpu"], "ns"),
        ]
    return out


def bench_http(quick: bool, scale: float, reps: int) -> tuple[Table, list[str]]:
    """The ``http`` table, and notes for what was skipped."""
    table = Table(HTTP_TITLE, [])
    client = find_client()
    if client is None:
        return table, [missing_note()]
    kinds, skipped = contenders()
    if BASELINE not in kinds:
        return table, [f"http skipped: {skip_note(BASELINE)}"]
    reps = default_reps(quick, reps)
    seconds = rep_seconds(quick, scale)
    server_cpu, client_cpu = placement()
    print(f"http ({len(kinds)} servers, {reps} reps of {seconds} s) ...", file=sys.stderr)
    errors: list[str] = []
    servers = start_servers(kinds, server_cpu, HttpServer)
    try:
        for server in servers.values():
            check_responses(server.port, 200)  # warm-up, and every response checked

        def one_rep(server: EchoServer) -> Callable[[int], dict[str, float]]:
            def run(rep: int) -> dict[str, float]:
                result = run_load(client, server, seconds, client_cpu)
                if result.trouble:
                    errors.append(f"{server.kind} rep {rep + 1}: {result.trouble}")
                return {
                    "rps": result.ns_per_request,
                    "p99": result.p99_ns,
                    "cpu": result.server_ns_per_request,
                }

            return run

        by_metric = interleave_metrics(
            {k: one_rep(s) for k, s in servers.items()}, reps, label="http"
        )
    finally:
        for server in servers.values():
            server.close()
    table.rows += rows(by_metric)
    pinned = (
        f"Servers run pinned to CPU {server_cpu}, the client to CPU {client_cpu}."
        if server_cpu >= 0
        else "Only one CPU is available: servers and client share it, unpinned."
    )
    table.notes += [
        f"One ASGI app (a 200 with the {len(BODY)}-byte body {BODY.decode()!r}), served over "
        "HTTP/1.1 keep-alive by each contender in a child process of its own: anycorn.serve "
        "run by anyio.run on the lowio, trio and asyncio backends (the same code); hypercorn's "
        "trio worker on trio and, as the second group's baseline, on lowio "
        "(lowio.install_as_trio()); hypercorn's asyncio worker on uvloop; uvicorn with uvloop "
        "and httptools (the usual deployment; a reference, no target).  No contender ends a "
        "keep-alive connection after so many requests (anycorn's and hypercorn's "
        "keep_alive_max_requests, 1000 by default, is lifted).",
        f"Load: {client.describe(seconds)}; {reps} reps per server, "
        "interleaved, after a warm-up of 200 keep-alive requests whose responses are checked.  "
        + pinned,
        "Requests/s and p99 latency as the client reports them (ratios: other / lowio of the "
        "time per request and of the p99, > 1 means lowio is faster); server CPU per request is "
        "read from /proc/PID over the client's run.  The 'lowio' column is anycorn on lowio in "
        "the first group's rows and hypercorn's trio worker on lowio in the second's.",
    ]
    if errors:
        table.notes.append(f"{client.name} reported: " + "; ".join(errors) + ".")
    return table, skipped
