"""``python -m benchmarks.soak``: lowio's runtime under load for minutes,
checking that nothing drifts (not a comparison, so not part of
``python -m benchmarks``).

Two workloads, each in ``lowio.run`` with ``lowio.socket`` on loopback TCP:

* **soak**: echo round trips with connection churn.  Each phase opens
  ``--pairs`` connections, makes ``--per-conn`` 64-byte round trips on
  each, closes them and waits for the server's handlers to end; between
  phases (a quiescent point) the process's open fds (/proc/self/fd) and RSS
  (VmRSS, /proc/self/status) are sampled.  After the warm-up phases the
  drift per million round trips is reported: fds must not move at all,
  RSS should stay flat.  It runs until ``--round-trips`` or ``--seconds``,
  whichever comes first (default: 1,000,000 round trips or 60 s).
* **connections**: ``--connections`` (default 10,000) TCP connections open
  at once: a client process (lowio too, so that neither side needs more
  fds than ``RLIMIT_NOFILE`` allows) connects them all, then makes one
  round trip on each while all are open, then closes them.  The server
  checks the peak of concurrently open connections, every echo, and that
  its fds are back to where they started.  Both processes raise their
  ``RLIMIT_NOFILE`` soft limit to the hard limit.

``python -m benchmarks.soak [--only soak,connections] [--seconds S]
[--round-trips N] [--connections N]`` prints one line per workload and
exits non-zero if a check failed.  tests/runtime/test_faults.py runs both at CI
size (a few seconds, 500 connections).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import lowio
from lowio import socket as lsocket

from .echo_servers import raise_nofile_limit

MESSAGE = b"m" * 64
ROOT = str(Path(__file__).resolve().parent.parent)


def open_fd_count() -> int:
    """Open fds of this process (/proc/self/fd)."""
    return len(os.listdir("/proc/self/fd"))


def rss_kib() -> int:
    """Resident set size of this process in KiB (VmRSS)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


async def recv_exactly(sock: lsocket.SocketType, n: int) -> bytes:
    """Receives exactly ``n`` bytes; ``EOFError`` if the peer closes first."""
    data = b""
    while len(data) < n:
        chunk = await sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"peer closed after {len(data)} of {n} bytes")
        data += chunk
    return data


async def send_all(sock: lsocket.SocketType, data: bytes | memoryview) -> None:
    """Sends all of ``data`` (``send`` may take part of it)."""
    view = memoryview(data)
    while view:
        view = view[await sock.send(view) :]


async def echo_handler(sock: lsocket.SocketType) -> None:
    """Echoes until EOF, then closes ``sock``."""
    with sock:
        while True:
            data = await sock.recv(65536)
            if not data:
                return
            await send_all(sock, data)


async def open_listener(backlog: int = 128) -> lsocket.SocketType:
    listener = lsocket.socket(lsocket.AF_INET, lsocket.SOCK_STREAM)
    try:
        listener.setsockopt(lsocket.SOL_SOCKET, lsocket.SO_REUSEADDR, 1)
        await listener.bind(("127.0.0.1", 0))
        listener.listen(backlog)
    except BaseException:
        listener.close()
        raise
    return listener


async def connect(address: tuple[str, int]) -> lsocket.SocketType:
    sock = lsocket.socket(lsocket.AF_INET, lsocket.SOCK_STREAM)
    try:
        sock.setsockopt(lsocket.IPPROTO_TCP, lsocket.TCP_NODELAY, 1)
        await sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock


# ---- soak ----


@dataclass
class Sample:
    round_trips: int
    fds: int
    rss_kib: int
    elapsed: float


@dataclass
class SoakResult:
    round_trips: int
    seconds: float
    connections: int
    samples: list[Sample] = field(default_factory=list)
    fds_before: int = 0
    fds_after: int = 0
    warmup: int = 2  # the samples before this index are the warm-up

    def _drift(self, attr: str) -> float:
        first, last = self.samples[self.warmup], self.samples[-1]
        done = last.round_trips - first.round_trips
        if done <= 0:
            return 0.0
        change: int = getattr(last, attr) - getattr(first, attr)
        return change * 1e6 / done

    @property
    def fd_drift_per_million(self) -> float:
        return self._drift("fds")

    @property
    def rss_drift_kib_per_million(self) -> float:
        return self._drift("rss_kib")

    @property
    def fds_after_warmup(self) -> list[int]:
        return [s.fds for s in self.samples[self.warmup :]]

    def summary(self) -> str:
        first, last = self.samples[self.warmup], self.samples[-1]
        return (
            f"soak: {self.round_trips:,} round trips on {self.connections:,} connections "
            f"in {self.seconds:.1f} s ({self.round_trips / self.seconds:,.0f}/s); "
            f"after warm-up: fds {first.fds} -> {last.fds} "
            f"({self.fd_drift_per_million:+.2f} per million round trips), "
            f"RSS {first.rss_kib} -> {last.rss_kib} KiB "
            f"({self.rss_drift_kib_per_million:+.1f} KiB per million round trips); "
            f"fds outside the run {self.fds_before} -> {self.fds_after}"
        )


def soak(
    round_trips: int = 1_000_000,
    seconds: float = 60.0,
    pairs: int = 8,
    per_conn: int = 1000,
    warmup_phases: int = 2,
) -> SoakResult:
    """Runs the soak (see the module docstring); stops after the phase that
    reaches ``round_trips`` or ``seconds``, but runs at least
    ``warmup_phases + 2`` phases."""
    if pairs < 1 or per_conn < 1 or warmup_phases < 0:
        raise ValueError("pairs and per_conn must be >= 1, warmup_phases >= 0")
    gc.collect()
    result = SoakResult(0, 0.0, 0, fds_before=open_fd_count(), warmup=warmup_phases)

    async def client(address: tuple[str, int]) -> None:
        with await connect(address) as sock:
            for _ in range(per_conn):
                await send_all(sock, MESSAGE)
                reply = await recv_exactly(sock, len(MESSAGE))
                if reply != MESSAGE:
                    raise AssertionError(f"echo mismatch: {reply[:16]!r}...")

    async def main() -> None:
        handlers_done = lowio.Event()
        live = 0

        async def handler(sock: lsocket.SocketType) -> None:
            nonlocal live, handlers_done
            try:
                await echo_handler(sock)
            finally:
                live -= 1
                if live == 0:
                    handlers_done.set()

        async with lowio.open_nursery() as server:
            listener = await open_listener()

            async def accept_loop() -> None:
                nonlocal live
                with listener:
                    while True:
                        sock, _ = await listener.accept()
                        live += 1
                        server.start_soon(handler, sock)

            server.start_soon(accept_loop)
            address = listener.getsockname()
            start = time.perf_counter()
            phase = 0
            while True:
                handlers_done = lowio.Event()
                async with lowio.open_nursery() as clients:
                    for _ in range(pairs):
                        clients.start_soon(client, address)
                if live:
                    await handlers_done.wait()
                phase += 1
                result.round_trips += pairs * per_conn
                result.connections += pairs
                gc.collect()
                elapsed = time.perf_counter() - start
                result.samples.append(
                    Sample(result.round_trips, open_fd_count(), rss_kib(), elapsed)
                )
                if phase >= warmup_phases + 2 and (
                    result.round_trips >= round_trips or elapsed >= seconds
                ):
                    result.seconds = elapsed
                    break
            server.cancel_scope.cancel()

    lowio.run(main)
    gc.collect()
    result.fds_after = open_fd_count()
    return result


# ---- many connections ----


@dataclass
class ConnectionsResult:
    connections: int
    peak_open: int
    echoed: int
    seconds: float
    fds_before: int
    fds_peak: int
    fds_after: int
    client_report: dict[str, object]

    def summary(self) -> str:
        return (
            f"connections: {self.connections:,} asked, peak {self.peak_open:,} open at once on "
            f"the server, {self.echoed:,} echoed, in {self.seconds:.1f} s; server fds "
            f"{self.fds_before} -> {self.fds_peak} (peak) -> {self.fds_after}; "
            f"client: {self.client_report}"
        )

    @property
    def ok(self) -> bool:
        return (
            self.peak_open == self.connections
            and self.echoed == self.connections
            and self.fds_after == self.fds_before
            and self.client_report.get("verified") == self.connections
        )


def many_connections(n: int = 10_000, timeout: float = 120.0) -> ConnectionsResult:
    """Serves ``n`` connections held open at once by a client process (see
    the module docstring), with ``RLIMIT_NOFILE`` raised meanwhile.
    ``RuntimeError`` if the client fails or the limit is too low,
    ``TooSlowError`` after ``timeout`` seconds."""
    if n < 1:
        raise ValueError(f"n must be >= 1, not {n}")
    saved = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        limit = raise_nofile_limit()
        if limit < n + 64:
            raise RuntimeError(f"RLIMIT_NOFILE is {limit}: too low for {n:,} connections")
        return _serve_connections(n, timeout)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, saved)


def _serve_connections(n: int, timeout: float) -> ConnectionsResult:
    gc.collect()
    fds_before = open_fd_count()
    peak_open = open_now = echoed = fds_peak = 0
    report: dict[str, object] = {}

    async def handler(sock: lsocket.SocketType) -> None:
        nonlocal open_now, peak_open, echoed, fds_peak
        open_now += 1
        if open_now > peak_open:
            peak_open = open_now
            if peak_open == n:
                fds_peak = open_fd_count()
        try:
            with sock:
                data = await sock.recv(64)
                if data:
                    await send_all(sock, data)
                    echoed += 1
                while await sock.recv(64):  # until the client closes
                    pass
        finally:
            open_now -= 1

    async def main() -> None:
        nonlocal report
        with await open_listener(backlog=4096) as listener:
            host, port = listener.getsockname()
            async with lowio.open_nursery() as nursery:

                async def accept_loop() -> None:
                    while True:
                        sock, _ = await listener.accept()
                        nursery.start_soon(handler, sock)

                nursery.start_soon(accept_loop)
                with lowio.fail_after(timeout):
                    proc = await lowio.run_process(
                        [
                            sys.executable,
                            "-m",
                            "benchmarks.soak",
                            "--client",
                            host,
                            str(port),
                            str(n),
                        ],
                        capture_stdout=True,
                        capture_stderr=True,
                        check=False,
                        cwd=ROOT,  # where ``benchmarks`` imports from
                    )
                if proc.returncode != 0:
                    raise RuntimeError(
                        f"client process failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}"
                    )
                report = json.loads(proc.stdout)
                while open_now:  # the last handlers see their EOF
                    await lowio.sleep(0.01)
                nursery.cancel_scope.cancel()

    start = time.perf_counter()
    lowio.run(main)
    elapsed = time.perf_counter() - start
    gc.collect()
    return ConnectionsResult(
        n, peak_open, echoed, elapsed, fds_before, fds_peak, open_fd_count(), report
    )


def _client(host: str, port: int, n: int) -> None:
    """The client side of :func:`many_connections` (its own process): prints
    a JSON report."""
    raise_nofile_limit()
    socks: list[lsocket.SocketType | None] = [None] * n
    verified = 0

    async def main() -> None:
        nonlocal verified
        start = time.perf_counter()
        connecting = lowio.CapacityLimiter(1024)  # stay within the listen backlog

        async def open_one(i: int) -> None:
            async with connecting:
                socks[i] = await connect((host, port))

        async with lowio.open_nursery() as nursery:
            for i in range(n):
                nursery.start_soon(open_one, i)
        connected = time.perf_counter() - start

        async def round_trip(i: int) -> None:
            nonlocal verified
            sock = socks[i]
            assert sock is not None
            message = b"%08d" % i
            await send_all(sock, message)
            if await recv_exactly(sock, len(message)) == message:
                verified += 1

        try:
            async with lowio.open_nursery() as nursery:
                for i in range(n):
                    nursery.start_soon(round_trip, i)
        finally:
            for sock in socks:
                if sock is not None:
                    sock.close()
        print(
            json.dumps(
                {
                    "verified": verified,
                    "connect_s": round(connected, 2),
                    "total_s": round(time.perf_counter() - start, 2),
                }
            )
        )

    lowio.run(main)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--only", default="soak,connections", help="soak,connections")
    parser.add_argument("--seconds", type=float, default=60.0, help="soak: at most this long")
    parser.add_argument(
        "--round-trips", type=int, default=1_000_000, help="soak: at most this many"
    )
    parser.add_argument("--pairs", type=int, default=8, help="soak: connections per phase")
    parser.add_argument(
        "--per-conn", type=int, default=1000, help="soak: round trips per connection"
    )
    parser.add_argument("--connections", type=int, default=10_000, help="connections held at once")
    parser.add_argument("--client", nargs=3, metavar=("HOST", "PORT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        _client(args.client[0], int(args.client[1]), int(args.client[2]))
        return 0
    only = [w for w in args.only.split(",") if w]
    unknown = [w for w in only if w not in ("soak", "connections")]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; valid: soak, connections")
    failed = False
    if "soak" in only:
        result = soak(args.round_trips, args.seconds, args.pairs, args.per_conn)
        print(result.summary(), flush=True)
        if result.fds_after != result.fds_before or len(set(result.fds_after_warmup)) != 1:
            print("soak: FAILED, fds drifted", flush=True)
            failed = True
    if "connections" in only:
        conns = many_connections(args.connections)
        print(conns.summary(), flush=True)
        if not conns.ok:
            print("connections: FAILED", flush=True)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
