"""Where an HTTP server's CPU goes, per request: lowio's share and the rest.

``python -m benchmarks.http_profile [--kind anycorn-lowio] [--seconds 5]``
runs one server of the ``http`` workload (``http_servers.py``) twice under
the benchmark's load (wrk, else the C client): once plain, for its CPU time
per request (/proc/PID), and once under cProfile timed by the process's CPU
clock (``--profile``: waiting in the poller costs nothing).  The profile's
own time per function is sorted into buckets by the file it lives in:

* ``lowio runtime`` (the ``lowio`` package), ``lowio anyio backend``
  (``anyio_backend``) and ``lowio's C calls`` (built-in functions --
  system calls, the poller's C core -- called from either);
* the rest by top-level package (``anyio``, ``anycorn``, ``h11``, ...),
  ``stdlib``, and C calls made from outside lowio.

Each bucket's share of the profiled CPU is applied to the plain run's CPU
per request: cProfile slows Python code down more than C calls, so the
split is an estimate, the plain run's total is measured.

Then lowio's share by module (own time plus the C calls made from it), its
heaviest functions, and the lowio entry points the server's own code calls
(``--entries N``): each lowio function called from outside lowio, with
how often per request and the profiled time spent in it and below it
(lowio's API as the server uses it: ``SocketStream.send_all``,
``Lock.acquire``, ``CancelScope.__enter__``, ``Nursery.start``, ...;
cProfile counts every resumption of a coroutine as a call).  For
hypercorn's trio worker on lowio: ``--kind hypercorn-trio-lowio``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pstats
import re
import signal
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .http_bench import BASELINE, HttpServer, available, check_responses, placement
from .http_clients import LoadResult, find_client, missing_note, run_load
from .http_servers import SERVERS

LOWIO_BUCKETS = ("lowio runtime", "lowio anyio backend", "lowio's C calls")
_Func = tuple[str, int, str]


def package_dirs() -> dict[str, str]:
    """{directory of lowio's code: its bucket}."""
    dirs = {}
    for name, bucket in (("lowio", LOWIO_BUCKETS[0]), ("anyio_backend", LOWIO_BUCKETS[1])):
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            dirs[str(Path(location).resolve())] = bucket
    return dirs


_SITE = re.compile(r"[/\\](?:site|dist)-packages[/\\]([^/\\]+)")
_STDLIB = re.compile(r"[/\\]lib[/\\]python3\.\d+[/\\]")


APP_DIR = str(Path(__file__).resolve().parent)


def bucket_of(filename: str, lowio_dirs: dict[str, str]) -> str:
    """The bucket of code in ``filename`` (not a built-in)."""
    path = str(Path(filename).resolve()) if filename.startswith("/") else filename
    for directory, bucket in lowio_dirs.items():
        if path.startswith(directory + os.sep):
            return bucket
    if path.startswith(APP_DIR + os.sep):
        return "the ASGI app"
    if path.startswith("<frozen "):
        return "stdlib"
    site = _SITE.search(path)
    if site:
        return site.group(1).removesuffix(".py").split(".")[0]
    return "stdlib" if _STDLIB.search(path) else "other"


def split(stats: dict[_Func, tuple], lowio_dirs: dict[str, str]) -> dict[str, float]:
    """{bucket: CPU seconds} of a profile's ``pstats.Stats(...).stats``.
    A built-in's own time goes to lowio's C calls where lowio called it."""
    buckets: dict[str, float] = {}

    def add(bucket: str, seconds: float) -> None:
        buckets[bucket] = buckets.get(bucket, 0.0) + seconds

    for (filename, _, _), (_, _, tottime, _, callers) in stats.items():
        if filename != "~":
            add(bucket_of(filename, lowio_dirs), tottime)
            continue
        attributed = 0.0
        for caller, figures in callers.items():
            if bucket_of(caller[0], lowio_dirs) in LOWIO_BUCKETS:
                add(LOWIO_BUCKETS[2], figures[2])
                attributed += figures[2]
        add("C calls from elsewhere", tottime - attributed)
    return buckets


def heaviest_lowio(
    stats: dict[_Func, tuple], lowio_dirs: dict[str, str], count: int
) -> list[tuple[float, str]]:
    """lowio's ``count`` functions with the most own time: (share, name)."""
    total = sum(figures[2] for figures in stats.values())
    own = [
        (figures[2] / total, _short(f))
        for f, figures in stats.items()
        if f[0] != "~" and bucket_of(f[0], lowio_dirs) in LOWIO_BUCKETS
    ]
    return sorted(own, reverse=True)[:count] if total > 0 else []


def _short(func: _Func) -> str:
    return f"{Path(func[0]).name}:{func[1]}({func[2]})"


def lowio_modules(stats: dict[_Func, tuple], lowio_dirs: dict[str, str]) -> list[tuple[float, str]]:
    """lowio's profiled time by module, heaviest first: (share, module),
    a module's C calls counted with it."""
    total = sum(figures[2] for figures in stats.values())
    modules: dict[str, float] = {}

    def add(filename: str, seconds: float) -> None:
        name = _lowio_module(filename, lowio_dirs)
        modules[name] = modules.get(name, 0.0) + seconds

    for (filename, _, _), (_, _, tottime, _, callers) in stats.items():
        if filename != "~":
            if bucket_of(filename, lowio_dirs) in LOWIO_BUCKETS:
                add(filename, tottime)
            continue
        for caller, figures in callers.items():
            if bucket_of(caller[0], lowio_dirs) in LOWIO_BUCKETS:
                add(caller[0], figures[2])
    ranked = sorted(((t / total, m) for m, t in modules.items()), reverse=True)
    return ranked if total > 0 else []


def _lowio_module(filename: str, lowio_dirs: dict[str, str]) -> str:
    """``lowio/_core/_cancel.py`` for a file of one of lowio's packages."""
    path = str(Path(filename).resolve())
    for directory in lowio_dirs:
        if path.startswith(directory + os.sep):
            return f"{Path(directory).name}/{path[len(directory) + 1 :]}"
    return path


def lowio_entries(
    stats: dict[_Func, tuple], lowio_dirs: dict[str, str], requests: int, count: int
) -> list[tuple[float, float, str, str]]:
    """The ``count`` heaviest calls from outside lowio into lowio:
    (share of the profiled CPU spent in the call and below it, calls per
    request, lowio function, caller), heaviest first."""
    total = sum(figures[2] for figures in stats.values())
    entries = []
    for func, (_, _, _, _, callers) in stats.items():
        if func[0] == "~" or bucket_of(func[0], lowio_dirs) not in LOWIO_BUCKETS:
            continue
        for caller, (_, calls, _, cumtime) in callers.items():
            if caller[0] != "~" and bucket_of(caller[0], lowio_dirs) not in LOWIO_BUCKETS:
                per_request = calls / requests if requests else 0.0
                entries.append((cumtime / total, per_request, _short(func), _short(caller)))
    return sorted(entries, reverse=True)[:count] if total > 0 else []


def lowio_share(buckets: dict[str, float]) -> float:
    total = sum(buckets.values())
    return sum(buckets.get(b, 0.0) for b in LOWIO_BUCKETS) / total if total > 0 else 0.0


def report_lines(buckets: dict[str, float], ns_per_request: float, kind: str) -> Iterable[str]:
    total = sum(buckets.values())
    share = lowio_share(buckets)
    yield (
        f"{kind}: server CPU per request {ns_per_request / 1000:.1f} µs (plain run); "
        f"lowio share of server CPU per request: {share:.0%} "
        f"({share * ns_per_request / 1000:.1f} µs), the rest {1 - share:.0%} "
        f"({(1 - share) * ns_per_request / 1000:.1f} µs)"
    )
    for bucket, seconds in sorted(buckets.items(), key=lambda kv: -kv[1]):
        if seconds <= 0:
            continue
        part = seconds / total
        mark = "  (lowio)" if bucket in LOWIO_BUCKETS else ""
        yield f"  {bucket:<24} {part:6.1%}  {part * ns_per_request / 1000:7.1f} µs{mark}"


def measure(kind: str, seconds: int, profile: str | None) -> LoadResult:
    """One client run against a new server (profiled or not)."""
    client = find_client()
    assert client is not None
    server_cpu, client_cpu = placement()
    server = HttpServer(kind, server_cpu, profile).wait_ready()
    try:
        check_responses(server.port, 200)
        if profile is not None:
            os.kill(server.pid, signal.SIGUSR1)  # start profiling, after the warm-up
            check_responses(server.port, 1)  # the handler has run once this is answered
        return run_load(client, server, seconds, client_cpu)
    finally:
        server.close()  # SIGTERM: the profiled child writes its stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.http_profile", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--kind", default=BASELINE, help=f"one of {', '.join(SERVERS)}")
    parser.add_argument("--seconds", type=int, default=5, help="of each load run (default 5)")
    parser.add_argument(
        "--top", type=int, default=10, help="list lowio's N heaviest functions (default 10)"
    )
    parser.add_argument(
        "--entries",
        type=int,
        default=0,
        help="list the N heaviest calls from the server's code into lowio (default none)",
    )
    args = parser.parse_args(argv)
    if args.kind not in SERVERS:
        parser.error(f"unknown HTTP server {args.kind!r}; known: {', '.join(SERVERS)}")
    if args.seconds < 1:
        parser.error("--seconds must be at least 1 (wrk's resolution)")
    if find_client() is None:
        parser.error(missing_note())
    if not available(args.kind):
        parser.error(f"{args.kind} cannot run here (a module it needs is missing)")
    plain = measure(args.kind, args.seconds, None).server_ns_per_request
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "server.prof")
        profiled = measure(args.kind, args.seconds, out)
        if not Path(out).exists():
            raise SystemExit(f"the {args.kind} server wrote no profile")
        stats = pstats.Stats(out).stats  # type: ignore[attr-defined]
    dirs = package_dirs()
    for line in report_lines(split(stats, dirs), plain, args.kind):
        print(line)
    modules = lowio_modules(stats, dirs)
    if modules:
        print("lowio by module (own time and its C calls, share of the profiled CPU):")
    for share, name in modules[: args.top]:
        print(f"  {share:6.1%}  {share * plain / 1000:7.1f} µs  {name}")
    entries = lowio_entries(stats, dirs, profiled.requests, args.entries)
    if entries:
        print("calls into lowio (share of the profiled CPU in and below them, calls/request):")
    for share, per_request, name, caller in entries:
        print(f"  {share:6.1%}  {per_request:5.1f}/req  {name}  <- {caller}")
    heaviest = heaviest_lowio(stats, dirs, args.top)
    if heaviest:
        print("lowio's heaviest functions (own time, share of the profiled CPU):")
    for share, name in heaviest:
        print(f"  {share:6.1%}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
