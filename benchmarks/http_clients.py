"""The ``http`` workload's load generators: ``wrk`` when it is installed,
else ``httpload.c``, a small C client built at run time like the echo
workloads' (``loadgen.build``).

Both keep ``CONNS`` HTTP/1.1 connections open with one request in flight on
each for a whole number of seconds (a connection the server ends with a
``Connection: close`` response is reopened: httpload counts those), and
report the requests completed and their p99 latency; :func:`run_load` adds
the server's CPU time over the run (/proc/PID) and returns a
:class:`LoadResult`.  :func:`find_client` picks
one, or None (then :func:`missing_note` says how to get one).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import loadgen
from .echo_servers import HOST, EchoServer

INSTALL_WRK = "apt-get install wrk"
SOURCE = Path(__file__).with_name("httpload.c")
CONNECTIONS = 100


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p99_ns: float
    server_ns: float  # the server's CPU time over the run
    socket_errors: str = ""  # wrk's "Socket errors" line, "" when there were none
    reconnects: int = 0  # httpload's connections ended by "Connection: close" and reopened

    @property
    def ns_per_request(self) -> float:
        return self.seconds * 1e9 / self.requests

    @property
    def server_ns_per_request(self) -> float:
        return self.server_ns / self.requests

    @property
    def trouble(self) -> str:
        """What went wrong without failing the run ("" when nothing did):
        socket errors, connections the server ended."""
        parts = [f"socket errors: {self.socket_errors}"] if self.socket_errors else []
        if self.reconnects:
            parts.append(
                f"{self.reconnects} connections ended by the server (Connection: close) "
                "and reopened"
            )
        return ", ".join(parts)


class LoadFailed(RuntimeError):
    """The client failed, saw responses that are not 2xx/3xx (wrk) or not
    200 (httpload), or completed no request."""


_UNITS = {"us": 1e3, "ms": 1e6, "s": 1e9}


def parse_wrk(out: str, server_ns: float = 0.0) -> LoadResult:
    """wrk's report (run with ``--latency``)."""
    done = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)\b", out, re.M)
    p99 = re.search(r"^\s*99(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if done is None or p99 is None:
        raise LoadFailed(f"unexpected wrk output: {out.strip()[-500:]!r}")
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    if bad:
        raise LoadFailed(f"{bad.group(1)} responses were not 2xx or 3xx")
    requests = int(done.group(1))
    if requests <= 0:
        raise LoadFailed("wrk completed no request")
    scale = 60.0 if done.group(3) == "m" else _UNITS[done.group(3)] / 1e9
    errors = re.search(r"^\s*Socket errors: (.*)$", out, re.M)
    return LoadResult(
        requests,
        float(done.group(2)) * scale,
        float(p99.group(1)) * _UNITS[p99.group(2)],
        server_ns,
        errors.group(1).strip() if errors else "",
    )


def parse_httpload(out: str, server_ns: float = 0.0) -> LoadResult:
    """httpload's JSON line."""
    try:
        raw = json.loads(out)
        result = LoadResult(int(raw["requests"]), float(raw["seconds"]), float(raw["p99_ns"]), 0)
        result.reconnects = int(raw["reconnects"])
    except (ValueError, KeyError, TypeError):
        raise LoadFailed(f"unexpected httpload output: {out.strip()[-500:]!r}") from None
    if result.requests <= 0:
        raise LoadFailed("httpload completed no request")
    result.server_ns = server_ns
    return result


@dataclass(frozen=True)
class Client:
    name: str  # "wrk" or "httpload"
    exe: str

    def argv(self, port: int, seconds: int, conns: int) -> list[str]:
        if self.name == "wrk":
            return [self.exe, "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", self.url(port)]
        return [self.exe, HOST, str(port), str(conns), str(seconds)]

    @staticmethod
    def url(port: int) -> str:
        return f"http://{HOST}:{port}/"

    def parse(self, out: str, server_ns: float) -> LoadResult:
        return (parse_wrk if self.name == "wrk" else parse_httpload)(out, server_ns)

    def describe(self, seconds: int, conns: int = CONNECTIONS) -> str:
        if self.name == "wrk":
            return f"wrk -t1 -c{conns} -d{seconds}s --latency"
        return (
            f"the C client httpload.c ({conns} keep-alive connections, one request in flight on "
            f"each, like wrk; {seconds} s; wrk is not installed: {INSTALL_WRK})"
        )


def wrk_path() -> str | None:
    return shutil.which("wrk")


def find_client() -> Client | None:
    """wrk, else the C client (built now), else None."""
    wrk = wrk_path()
    if wrk is not None:
        return Client("wrk", wrk)
    exe = loadgen.build(SOURCE)
    return None if exe is None else Client("httpload", str(exe))


def missing_note() -> str:
    reason = loadgen.build_error(SOURCE) or "it did not build"
    return (
        f"http skipped: wrk is not installed (Debian/Ubuntu: {INSTALL_WRK}) and the C HTTP "
        f"load generator could not be built ({reason})."
    )


def run_load(
    client: Client, server: EchoServer, seconds: int, cpu: int, conns: int = CONNECTIONS
) -> LoadResult:
    """One run of ``seconds`` (whole seconds: wrk's resolution) against
    ``server``, the client pinned to ``cpu`` (unless -1).  Raises
    :class:`LoadFailed` (with the end of the server's stderr, where a server
    logs what went wrong on its side) if the client fails."""
    pin = None if cpu < 0 else (lambda: os.sched_setaffinity(0, {cpu}))
    before = server.cpu_ns()
    proc = subprocess.run(
        client.argv(server.port, seconds, conns),
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        preexec_fn=pin,
    )
    used = server.cpu_ns() - before
    if proc.returncode != 0:
        log = server.stderr()[-1000:] or "(nothing)"
        raise LoadFailed(
            f"{client.name} exited with {proc.returncode}: {proc.stderr.strip()[-500:]}\n"
            f"the {server.kind} {server.WHAT}'s stderr: {log}"
        )
    server.check_alive()
    return client.parse(proc.stdout, used)
