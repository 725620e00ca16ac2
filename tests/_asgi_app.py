"""A small Starlette application for ``test_real_libraries.py``.

``make_app()`` returns a fresh app and the ``AppState`` its handlers write
to, so that a test can see what the server side observed (which async
library ran the handler, a client's disconnect, a streaming body being
cancelled, the lifespan events).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import sniffio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

CHUNK = b"0123456789abcdef" * 64  # 1 KiB


@dataclass
class AppState:
    """What the server side saw.  The events are created lazily, on the
    loop that first waits on or sets them (an ``anyio.Event`` belongs to
    the backend it was made on)."""

    lifespan: list[str] = field(default_factory=list)
    requests: int = 0  # answered by ``/``
    waiting: int = 0  # handlers of ``/wait`` and ``/poll`` started
    # How each handler learnt that its client went away: "http.disconnect"
    # (``/wait``), "is_disconnected" (``/poll``) or "cancelled" (the
    # streaming body of ``/stream-forever``).
    closed_with: list[str] = field(default_factory=list)
    _events: dict[str, anyio.Event] = field(default_factory=dict)

    def event(self, name: str) -> anyio.Event:
        if name not in self._events:
            self._events[name] = anyio.Event()
        return self._events[name]


def make_app() -> tuple[Starlette, AppState]:
    state = AppState()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.lifespan.append(f"startup on {sniffio.current_async_library()}")
        yield
        state.lifespan.append(f"shutdown on {sniffio.current_async_library()}")

    async def info(request: Request) -> JSONResponse:
        state.requests += 1
        # A checkpoint inside the handler, so that concurrent requests interleave.
        await anyio.sleep(0)
        return JSONResponse(
            {
                "library": sniffio.current_async_library(),
                "scheme": request.url.scheme,
                "http_version": request.scope["http_version"],
                "n": request.query_params.get("n"),
                "client_port": request.client.port if request.client else None,
            }
        )

    def in_thread(request: Request) -> JSONResponse:
        # Starlette runs a sync endpoint in anyio's worker threads.
        return JSONResponse({"thread": threading.current_thread() is not threading.main_thread()})

    async def echo(request: Request) -> Response:
        body = await request.body()
        return Response(body, media_type="application/octet-stream")

    async def stream(request: Request) -> StreamingResponse:
        chunks = int(request.query_params.get("chunks", "16"))

        async def body() -> AsyncIterator[bytes]:
            for i in range(chunks):
                yield i.to_bytes(4, "big") + CHUNK
                await anyio.sleep(0)

        return StreamingResponse(body(), media_type="application/octet-stream")

    async def stream_forever(request: Request) -> StreamingResponse:
        """Sends one chunk, then nothing until the client goes away; Starlette
        then cancels the body (it listens for ``http.disconnect`` meanwhile)."""

        async def body() -> AsyncIterator[bytes]:
            try:
                yield CHUNK
                state.event("stream_started").set()
                await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                state.closed_with.append("cancelled")
                raise
            finally:
                state.event("stream_closed").set()

        return StreamingResponse(body(), media_type="application/octet-stream")

    async def wait_for_disconnect(request: Request) -> Response:
        """Never answers: waits for the ASGI ``http.disconnect`` message."""
        state.waiting += 1
        state.event("wait_started").set()
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                state.closed_with.append("http.disconnect")
                state.event("disconnected").set()
                return Response(status_code=499)

    async def poll_for_disconnect(request: Request) -> Response:
        """Never answers: polls Starlette's ``Request.is_disconnected()`` (a
        receive in an already-cancelled scope, which must not raise when a
        message is queued)."""
        state.waiting += 1
        while not await request.is_disconnected():
            await anyio.sleep(0.005)
        state.closed_with.append("is_disconnected")
        return Response(status_code=499)

    async def ws_echo(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            text = await websocket.receive_text()
            if text == "bye":
                await websocket.close()
                return
            await websocket.send_text(f"{text} ({sniffio.current_async_library()})")

    routes: list[Route | WebSocketRoute] = [
        Route("/", info),
        Route("/thread", in_thread),
        Route("/echo", echo, methods=["POST"]),
        Route("/stream", stream),
        Route("/stream-forever", stream_forever),
        Route("/wait", wait_for_disconnect),
        Route("/poll", poll_for_disconnect),
        WebSocketRoute("/ws", ws_echo),
    ]
    return Starlette(routes=routes, lifespan=lifespan), state
