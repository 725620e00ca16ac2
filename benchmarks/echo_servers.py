"""The TCP echo servers of the ``echo``, ``syscalls`` and ``idle`` workloads,
and how the benchmark starts them.

Each server is one program, written with the same structure for every
contender, and runs in a child process of its own (``python
echo_servers.py KIND CPU``, this file run as a script: it imports nothing of
the ``benchmarks`` package).  It listens on 127.0.0.1 port 0, prints the
port on a line of its own, and serves until it is killed.

* ``lowio`` and ``trio``: the very same program on ``lowio.socket`` and on
  ``trio.socket`` -- an accept loop that starts one task per connection,
  which loops on ``recv(65536)`` and ``send`` (looping on partial sends:
  sendall semantics) until the peer closes.
* ``lowio-stream`` and ``trio-stream``: the same program on the high-level
  API -- ``serve_tcp`` with a handler looping on ``receive_some()`` and
  ``send_all`` (``SocketStream``) until end of file.
* ``asyncio``: ``asyncio.start_server``, one handler per connection looping
  on ``reader.read(65536)``, ``writer.write`` and ``await writer.drain()``.
* ``asyncio-proto``: an ``asyncio.Protocol`` whose ``data_received`` calls
  ``transport.write``.
* ``uvloop``: the ``asyncio`` streams program on uvloop (only when uvloop is
  installed).
* ``uvloop-proto``: the ``asyncio-proto`` program on uvloop (likewise).
* ``c-reference``: ``echo_ref.c``, a C server on edge-triggered epoll, the
  ceiling (only when a C compiler builds it; the parent runs the binary,
  which takes the same CPU argument and announces its port the same way).
* ``anyio-lowio``, ``anyio-trio``, ``anyio-asyncio``, ``anyio-uvloop``
  (anyio's asyncio backend with ``use_uvloop``; the ``anyio_echo``
  workload): one program written with anyio streams --
  ``anyio.create_tcp_listener`` + ``listener.serve(handler)``, the handler
  ``async for chunk in stream: await stream.send(chunk)`` -- run by
  ``anyio.run`` on that backend.  The lowio one calls
  ``lowio.anyio.register()`` first, so it does not depend on how lowio was
  installed.

The child raises its ``RLIMIT_NOFILE`` soft limit to the hard limit and
pins itself to CPU (unless CPU is -1).  ``--profile FILE`` runs it under
cProfile and writes the stats to FILE when it gets SIGTERM.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import IO, Any

BACKLOG = 4096
HOST = "127.0.0.1"

# contender name -> the module it needs (None: always there)
KINDS: dict[str, str | None] = {
    "lowio": "lowio",
    "trio": "trio",
    "asyncio": None,
    "asyncio-proto": None,
    "uvloop": "uvloop",
    "uvloop-proto": "uvloop",
    "c-reference": None,  # needs a C compiler: see available()
    "lowio-stream": "lowio",
    "trio-stream": "trio",
}
C_REFERENCE = "c-reference"
# the anyio servers: anyio backend name -> the modules it needs
ANYIO_KINDS: dict[str, tuple[str, ...]] = {
    "anyio-lowio": ("anyio", "lowio"),
    "anyio-trio": ("anyio", "trio"),
    "anyio-asyncio": ("anyio",),
    "anyio-uvloop": ("anyio", "uvloop"),
}


def raise_nofile_limit() -> int:
    """Raises this process's soft ``RLIMIT_NOFILE`` to its hard limit;
    returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


# ---- the servers (run in the child) ----


def serve_trio_shaped(lib: ModuleType, announce: Callable[[int], None]) -> None:
    """The echo server on ``lib.socket``: lowio's or trio's."""
    lsock = lib.socket

    async def handle(conn: Any) -> None:
        recv, send = conn.recv, conn.send
        try:
            while True:
                data = await recv(65536)
                if not data:
                    break
                sent = await send(data)
                if sent < len(data):  # sendall semantics: loop on partial sends
                    view = memoryview(data)
                    while sent < len(data):
                        sent += await send(view[sent:])
        except OSError:  # reset by the peer
            pass
        finally:
            conn.close()

    async def main() -> None:
        listener = lsock.socket(lsock.AF_INET, lsock.SOCK_STREAM)
        listener.setsockopt(lsock.SOL_SOCKET, lsock.SO_REUSEADDR, 1)
        await listener.bind((HOST, 0))
        listener.listen(BACKLOG)
        announce(listener.getsockname()[1])
        async with lib.open_nursery() as nursery:
            start_soon = nursery.start_soon
            while True:
                conn, _ = await listener.accept()
                conn.setsockopt(lsock.IPPROTO_TCP, lsock.TCP_NODELAY, 1)
                start_soon(handle, conn)

    lib.run(main)


def serve_stream_shaped(lib: ModuleType, announce: Callable[[int], None]) -> None:
    """The echo server on ``lib.SocketStream`` (``serve_tcp``): lowio's or trio's."""

    async def handle(stream: Any) -> None:
        receive_some, send_all = stream.receive_some, stream.send_all
        try:
            while True:
                data = await receive_some()
                if not data:
                    break
                await send_all(data)
        except lib.BrokenResourceError:  # reset by the peer
            pass

    async def main() -> None:
        async with lib.open_nursery() as nursery:
            listeners = await nursery.start(
                functools.partial(lib.serve_tcp, handle, 0, host=HOST, backlog=BACKLOG)
            )
            announce(listeners[0].socket.getsockname()[1])

    lib.run(main)


def serve_asyncio_streams(announce: Callable[[int], None], *, uvloop: bool = False) -> None:
    import asyncio

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        read, write, drain = reader.read, writer.write, writer.drain
        try:
            while True:
                data = await read(65536)
                if not data:
                    break
                write(data)
                await drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, HOST, 0, backlog=BACKLOG)
        announce(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    if uvloop:
        import uvloop as _uvloop

        _uvloop.run(main())
    else:
        asyncio.run(main())


def serve_asyncio_protocol(announce: Callable[[int], None], *, uvloop: bool = False) -> None:
    import asyncio

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            # an asyncio.Transport; uvloop's transports do not derive from it
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(data)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Echo, HOST, 0, backlog=BACKLOG)
        announce(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    if uvloop:
        import uvloop as _uvloop

        _uvloop.run(main())
    else:
        asyncio.run(main())


def serve_anyio(backend: str, announce: Callable[[int], None]) -> None:
    """The echo server on anyio streams, run on anyio's ``backend``."""
    import anyio
    import anyio.abc

    if backend == "lowio":
        import lowio.anyio

        lowio.anyio.register()

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            try:
                async for chunk in stream:
                    await stream.send(chunk)
            except anyio.BrokenResourceError:  # reset by the peer
                pass

    async def main() -> None:
        listener = await anyio.create_tcp_listener(local_host=HOST, local_port=0, backlog=BACKLOG)
        announce(listener.extra(anyio.abc.SocketAttribute.local_port))
        await listener.serve(handle)

    if backend == "uvloop":
        anyio.run(main, backend="asyncio", backend_options={"use_uvloop": True})
    else:
        anyio.run(main, backend=backend)


def serve(kind: str, announce: Callable[[int], None]) -> None:
    if kind in ANYIO_KINDS:
        serve_anyio(kind.removeprefix("anyio-"), announce)
    elif kind in ("lowio", "trio"):
        serve_trio_shaped(importlib.import_module(kind), announce)
    elif kind in ("lowio-stream", "trio-stream"):
        serve_stream_shaped(importlib.import_module(kind.removesuffix("-stream")), announce)
    elif kind == "asyncio":
        serve_asyncio_streams(announce)
    elif kind == "uvloop":
        serve_asyncio_streams(announce, uvloop=True)
    elif kind == "asyncio-proto":
        serve_asyncio_protocol(announce)
    elif kind == "uvloop-proto":
        serve_asyncio_protocol(announce, uvloop=True)
    else:
        known = ", ".join([*KINDS, *ANYIO_KINDS])
        raise SystemExit(f"unknown echo server {kind!r}; known: {known}")


def child_main(argv: list[str]) -> None:
    profile = None
    if len(argv) == 4 and argv[2] == "--profile":
        profile = argv[3]
        argv = argv[:2]
    if len(argv) != 2:
        raise SystemExit("usage: echo_servers.py KIND CPU [--profile FILE]")
    kind, cpu = argv[0], int(argv[1])
    raise_nofile_limit()
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})

    def announce(port: int) -> None:
        sys.stdout.write(f"{port}\n")
        sys.stdout.flush()

    if profile is None:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        serve(kind, announce)
        return
    import cProfile

    profiler = cProfile.Profile()

    def dump(*_: object) -> None:
        profiler.disable()
        profiler.dump_stats(profile)
        os._exit(0)

    signal.signal(signal.SIGTERM, dump)
    profiler.enable()
    serve(kind, announce)


# ---- the parent's side ----


def readable(fd: int, timeout: float) -> bool:
    """Whether ``fd`` becomes readable within ``timeout`` seconds (poll(2):
    unlike select, fine with fds above 1024, which the idle workload makes)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


def available(kind: str) -> bool:
    if kind == C_REFERENCE:
        from . import loadgen  # the parent's side only: the child imports nothing of the package

        return loadgen.build(loadgen.REFERENCE) is not None
    modules = ANYIO_KINDS[kind] if kind in ANYIO_KINDS else (KINDS[kind],)
    return all(m is None or importlib.util.find_spec(m) is not None for m in modules)


def server_cpu_ns(pid: int) -> float:
    """The CPU time a process has used so far: nanoseconds on CPU from
    ``/proc/PID/task/*/schedstat`` when the kernel keeps them, else
    utime+stime of ``/proc/PID/stat`` (clock ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int((task / "schedstat").read_text().split()[0])
    if total:
        return float(total)
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") * 1e9


def rss_bytes(pid: int) -> int:
    """VmRSS of ``/proc/PID/status``, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


class EchoServer:
    """One echo server child process; ``port``, ``pid``; ``close()``.
    A subclass runs another child script (``SCRIPT``, same arguments and
    announcement), named ``WHAT`` in errors."""

    SCRIPT = Path(__file__).resolve()
    WHAT = "echo server"

    def __init__(self, kind: str, cpu: int, profile: str | None = None) -> None:
        self.kind = kind
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        cmd = [sys.executable, str(self.SCRIPT), kind, str(cpu)]
        if kind == C_REFERENCE:
            from . import loadgen

            exe = loadgen.build(loadgen.REFERENCE)
            if exe is None:
                raise RuntimeError(
                    f"no C reference server: {loadgen.build_error(loadgen.REFERENCE)}"
                )
            cmd = [str(exe), str(cpu)]
        elif profile is not None:
            cmd += ["--profile", profile]
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr
        )
        self.pid = self._proc.pid
        self.port = 0

    def wait_ready(self, timeout: float = 30.0) -> EchoServer:
        """Reads the port the child announces."""
        assert self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not readable(self._proc.stdout.fileno(), left):
                self.close()
                raise RuntimeError(f"the {self.kind} {self.WHAT} did not start in {timeout} s")
            chunk = os.read(self._proc.stdout.fileno(), 64)
            if not chunk:
                self._proc.wait()
                raise RuntimeError(
                    f"the {self.kind} {self.WHAT} exited ({self._proc.returncode}): "
                    + self.stderr()
                )
            line += chunk
        self.port = int(line)
        return self

    def check_alive(self) -> None:
        if self._proc.poll() is not None:
            raise RuntimeError(
                f"the {self.kind} {self.WHAT} died ({self._proc.returncode}): {self.stderr()}"
            )

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace").strip()[-2000:]

    def cpu_ns(self) -> float:
        return server_cpu_ns(self.pid)

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def close(self) -> None:
        """SIGTERM (which writes the profile, if any), then SIGKILL."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._stderr.close()

    def __enter__(self) -> EchoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_servers(
    kinds: list[str], cpu: int, server: type[EchoServer] = EchoServer
) -> dict[str, EchoServer]:
    """Starts them all at once (``server`` processes), then waits for each
    to listen."""
    servers = {kind: server(kind, cpu) for kind in kinds}
    try:
        for server in servers.values():
            server.wait_ready()
    except BaseException:
        for server in servers.values():
            server.close()
        raise
    return servers


def check_echo(port: int, payloads: list[bytes], timeout: float = 10.0) -> None:
    """Sends each payload on one fresh connection and checks the bytes that
    come back, without the C client (used by the tests)."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for payload in payloads:
            # send from a thread: a large payload fills both directions' buffers
            sender = threading.Thread(target=sock.sendall, args=(payload,))
            sender.start()
            got = bytearray()
            while len(got) < len(payload):
                chunk = sock.recv(len(payload) - len(got))
                if not chunk:
                    raise AssertionError(f"closed after {len(got)} of {len(payload)} bytes")
                got += chunk
            sender.join()
            if got != payload:
                raise AssertionError(f"wrong echo of a {len(payload)}-byte message")


if __name__ == "__main__":
    child_main(sys.argv[1:])
