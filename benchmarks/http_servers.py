"""The HTTP servers of the ``http`` workload (run in child processes).

One tiny ASGI application (:func:`app`: every request gets a 200 with the
13-byte body ``Hello, world!``; lifespan events are acknowledged), served
over HTTP/1.1 by each contender in a child process of its own: ``python
http_servers.py KIND CPU [--profile FILE]``, this file run as a script (it
imports nothing of the ``benchmarks`` package but ``echo_servers``, which
sits next to it).  The child makes the listening socket itself (127.0.0.1,
port 0), prints the port on a line of its own, hands the socket to the
server and serves until it is killed.

* ``anycorn-lowio``, ``anycorn-trio``, ``anycorn-asyncio``: the very same
  ``anycorn.serve(app, config)`` call run by ``anyio.run`` on each anyio
  backend (lowio's registered by ``lowio.anyio.register()``);
* ``hypercorn-uvloop``: ``hypercorn.asyncio.serve`` run by uvloop;
* ``hypercorn-trio``: ``hypercorn.trio.serve`` run by ``trio.run``;
* ``hypercorn-trio-lowio``: the same with ``lowio.install_as_trio()`` called
  before hypercorn (and trio) are imported, so that it runs on lowio
  (only when lowio has ``install_as_trio``);
* ``uvicorn``: uvicorn with uvloop and httptools, what most deployments run.

Every contender keeps a keep-alive connection open for as many requests as
the client sends: anycorn's and hypercorn's ``keep_alive_max_requests``
(1000 by default: the 1000th response says ``Connection: close``) is lifted
to :data:`KEEP_ALIVE_MAX_REQUESTS` (uvicorn has no such limit), so no server
pays for reconnections the others do not, however long a run.

The child pins itself to CPU (unless -1) and raises ``RLIMIT_NOFILE``.
``--profile FILE`` runs it under cProfile timed by the process's CPU clock
(so waiting in the poller costs nothing) from when it gets SIGUSR1 (after
start-up and warm-up: imports are not what is measured), and writes the
stats to FILE when it gets SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

if __package__:  # imported by the parent, for SERVERS and BODY
    from .echo_servers import BACKLOG, HOST, raise_nofile_limit
else:  # run as a script, in the child
    from echo_servers import BACKLOG, HOST, raise_nofile_limit

BODY = b"Hello, world!"
HEADERS = [(b"content-type", b"text/plain"), (b"content-length", str(len(BODY)).encode())]
# anycorn's and hypercorn's Config.keep_alive_max_requests for every contender: no limit
KEEP_ALIVE_MAX_REQUESTS = sys.maxsize

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """The ASGI application every contender serves."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        raise RuntimeError(f"unexpected ASGI scope {scope['type']!r}")
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def _configure(config: Any, sock: socket.socket) -> Any:
    """An anycorn or hypercorn ``Config`` (the same fields): serving on
    ``sock``, keep-alive connections without a request limit."""
    config.bind = [f"fd://{sock.fileno()}"]
    config.keep_alive_max_requests = KEEP_ALIVE_MAX_REQUESTS
    return config


def serve_anycorn(backend: str, sock: socket.socket) -> None:
    import anyio
    from anycorn import Config, serve

    if backend == "lowio":
        import lowio.anyio

        lowio.anyio.register()
    anyio.run(partial(serve, app, _configure(Config(), sock)), backend=backend)


def _hypercorn_config(sock: socket.socket) -> Any:
    from hypercorn.config import Config

    return _configure(Config(), sock)


def serve_hypercorn_trio(sock: socket.socket, *, on_lowio: bool) -> None:
    if on_lowio:
        import lowio

        lowio.install_as_trio()  # type: ignore[attr-defined]  # before trio is imported
    import hypercorn.trio
    import trio

    trio.run(partial(hypercorn.trio.serve, app, _hypercorn_config(sock)))


def serve_hypercorn_uvloop(sock: socket.socket) -> None:
    import hypercorn.asyncio
    import uvloop

    uvloop.run(hypercorn.asyncio.serve(app, _hypercorn_config(sock)))  # type: ignore[arg-type]


def serve_uvicorn(sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(
        app, loop="uvloop", http="httptools", lifespan="on", access_log=False, log_level="warning"
    )
    uvicorn.Server(config).run(sockets=[sock])


SERVERS: dict[str, Callable[[socket.socket], None]] = {
    "anycorn-lowio": partial(serve_anycorn, "lowio"),
    "anycorn-trio": partial(serve_anycorn, "trio"),
    "anycorn-asyncio": partial(serve_anycorn, "asyncio"),
    "hypercorn-uvloop": serve_hypercorn_uvloop,
    "hypercorn-trio": partial(serve_hypercorn_trio, on_lowio=False),
    "hypercorn-trio-lowio": partial(serve_hypercorn_trio, on_lowio=True),
    "uvicorn": serve_uvicorn,
}


def child_main(argv: list[str]) -> None:
    profile = None
    if len(argv) == 4 and argv[2] == "--profile":
        profile, argv = argv[3], argv[:2]
    if len(argv) != 2:
        raise SystemExit("usage: http_servers.py KIND CPU [--profile FILE]")
    kind, cpu = argv[0], int(argv[1])
    if kind not in SERVERS:
        raise SystemExit(f"unknown HTTP server {kind!r}; known: {', '.join(SERVERS)}")
    raise_nofile_limit()
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})
    sock = socket.create_server((HOST, 0), backlog=BACKLOG)
    sys.stdout.write(f"{sock.getsockname()[1]}\n")
    sys.stdout.flush()
    if profile is None:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        SERVERS[kind](sock)
        return
    import cProfile

    profiler = cProfile.Profile(time.process_time)

    def dump(*_: object) -> None:
        profiler.disable()
        profiler.dump_stats(profile)
        os._exit(0)

    signal.signal(signal.SIGTERM, dump)
    signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
    try:
        SERVERS[kind](sock)
    finally:
        # a server that handles SIGTERM itself (anycorn shuts down gracefully
        # on it) returns here instead of reaching ``dump`` through the signal
        dump()


if __name__ == "__main__":
    child_main(sys.argv[1:])
