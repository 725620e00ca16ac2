"""The C load generator (``loadgen.c``): built at benchmark time with the
system C compiler into a cache directory, never committed as a binary.

``build()`` returns the path of the executable, or None (with the reason in
``build_error()``) when there is no compiler or the build fails; the
binary's name carries a hash of the source and of the compiler command, so
an edited source is rebuilt.  ``build(REFERENCE)`` builds the C reference
echo server (``echo_ref.c``) the same way, into the same directory.
``run()`` drives one echo server and returns a :class:`ClientResult`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).with_name("loadgen.c")
REFERENCE = Path(__file__).with_name("echo_ref.c")  # the C reference echo server
CFLAGS = ["-O2", "-Wall"]

_built: dict[str, Path | None] = {}
_error: dict[str, str] = {}


def compiler() -> list[str] | None:
    """``$CC`` (split like a shell would) or the first of cc, gcc, clang."""
    if os.environ.get("CC"):
        cmd = shlex.split(os.environ["CC"])
        return cmd if shutil.which(cmd[0]) else None
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return [path]
    return None


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/lowio-benchmarks``, else a per-user temp dir."""
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "lowio-benchmarks"
    return Path(tempfile.gettempdir()) / f"lowio-bench-{os.getuid()}"


def build(source: Path = SOURCE) -> Path | None:
    """The executable of ``source`` (the load generator by default), built
    once per source and compiler."""
    name = source.stem
    cc = compiler()
    if cc is None:
        _error[name] = "no C compiler (cc, gcc, clang or $CC) found"
        return None
    text = source.read_bytes()
    digest = hashlib.sha256(text + "\0".join(cc + CFLAGS).encode()).hexdigest()[:16]
    if digest in _built:
        return _built[digest]
    out = cache_dir() / f"{name}-{digest}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        proc = subprocess.run(
            [*cc, *CFLAGS, "-o", str(tmp), str(source)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            tmp.unlink(missing_ok=True)
            _error[name] = f"{' '.join(cc)} failed on {source.name}: {proc.stderr.strip()[-500:]}"
            _built[digest] = None
            return None
        os.replace(tmp, out)
    _built[digest] = out
    return out


def build_error(source: Path = SOURCE) -> str:
    return _error.get(source.stem, "")


@dataclass
class ClientResult:
    """One run of the load generator."""

    round_trips: int
    seconds: float  # wall time of the measured window
    client_cpu: float  # the load generator's CPU seconds in the window
    server_ns: float  # the server's CPU nanoseconds in the window

    @property
    def ns_per_round_trip(self) -> float:
        return self.seconds * 1e9 / self.round_trips

    @property
    def server_ns_per_round_trip(self) -> float:
        return self.server_ns / self.round_trips

    @property
    def client_cpu_share(self) -> float:
        """The load generator's CPU time over wall time (1.0 = a whole core)."""
        return self.client_cpu / self.seconds


class ClientFailed(RuntimeError):
    """The load generator saw a wrong byte, a closed connection or an error."""


def run(
    exe: Path,
    port: int,
    conns: int,
    size: int,
    *,
    seconds: float = 0.0,
    count: int = 0,
    server_pid: int = 0,
    cpu: int = -1,
    host: str = "127.0.0.1",
    timeout: float = 120.0,
) -> ClientResult:
    """Runs the load generator for ``seconds`` (or ``count`` round trips)
    against ``host:port``; every echoed byte is checked by the client."""
    argv = [str(exe), host, str(port), str(conns), str(size), str(seconds), str(count)]
    argv += [str(server_pid), str(cpu)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise ClientFailed(
            f"load generator ({conns} conns x {size} B on port {port}) failed: "
            f"{proc.stderr.strip() or proc.returncode}"
        )
    out = json.loads(proc.stdout)
    if out["round_trips"] <= 0:
        raise ClientFailed(f"load generator completed no round trip: {out}")
    server_ns = float(out["server_ns"])
    if server_ns <= 0 and out["server_ticks"] >= 0:
        server_ns = out["server_ticks"] / out["clock_ticks_per_second"] * 1e9
    return ClientResult(out["round_trips"], out["seconds"], out["client_cpu"], server_ns)
