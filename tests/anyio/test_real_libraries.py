"""Real anyio libraries on lowio: an ASGI server (anycorn, hypercorn's anyio
fork), an HTTP client (httpx) and a web framework (Starlette), all on the
"lowio" anyio backend, over real TCP on 127.0.0.1 with ephemeral ports,
plain HTTP/1.1 and TLS (a throwaway CA from ``trustme``).

* ``anycorn.serve`` runs inside the test's own lowio loop (anyio's pytest
  plugin with the ``anyio_backend`` fixture below; the server is an async
  fixture, so it also exercises the backend's ``TestRunner`` keeping one
  loop alive across fixtures and test);
* httpx's ``AsyncClient`` sends concurrent requests, uploads and
  streaming downloads to it, and abandons in-flight requests with
  ``anyio.move_on_after`` and lowio's own cancel scopes: the server side
  must see the disconnect (the ASGI ``http.disconnect`` message, or
  Starlette cancelling a streaming body) and nothing may hang;
* Starlette's ``TestClient(app, backend="lowio")`` drives the app on lowio
  in a portal thread, from synchronous code;
* every server is shut down inside its test, and the autouse fixture of
  ``conftest`` checks that fds and threads are back to their baseline
  (``test_fds_back_to_baseline`` checks it inside one run too).

httpcore (httpx's transport) accepts only the names "asyncio" and "trio"
from sniffio; nothing here works around it: the installed start-up hook
(``lowio_compat``) sends it down its anyio code under lowio, as for any
user.  ``test_compat.py`` checks that adaptation itself, in fresh
interpreters too; ``test_http_servers.py`` runs httpx on lowio against
servers in other processes (uvicorn, nginx).
"""

from __future__ import annotations

import logging
import math
import os
import ssl
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import anyio
import httpx
import pytest
from anycorn import Config, serve
from starlette.applications import Starlette

with warnings.catch_warnings():
    # Recent Starlette prefers the "httpx2" fork for its TestClient and warns
    # when it falls back on httpx (which these tests are about).
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from _asgi_app import CHUNK, AppState, make_app
from _http_helpers import (
    BOUND,
    HOST,
    ca,
    cert_files,
    client_ssl_context,
    open_fds,
    wait_until,
)

import lowio

pytestmark = pytest.mark.anyio

__all__ = ["ca", "cert_files", "client_ssl_context"]  # fixtures, used by name


@pytest.fixture
def anyio_backend() -> str:
    return "lowio"


# ---------------------------------------------------------------- server and client


@asynccontextmanager
async def serving(
    app: Starlette,
    *,
    cert_files: tuple[str, str] | None = None,
    alpn: tuple[str, ...] = ("http/1.1",),
    graceful_timeout: float = BOUND,
) -> AsyncIterator[str]:
    """Runs anycorn on lowio (this task's loop) on an ephemeral port of
    127.0.0.1, yields its base URL, then shuts it down gracefully and
    waits until it is gone (listener, connections and lifespan)."""
    config = Config()
    config.bind = [f"{HOST}:0"]
    config.errorlog = logging.getLogger("anycorn.error")  # no handler of its own: caplog sees it
    config.graceful_timeout = graceful_timeout
    config.alpn_protocols = list(alpn)
    if cert_files is not None:
        config.certfile, config.keyfile = cert_files
    shutdown = anyio.Event()
    async with anyio.create_task_group() as tg:
        binds = await tg.start(partial(serve, app, config, shutdown_trigger=shutdown.wait))
        assert len(binds) == 1
        try:
            yield binds[0]
        finally:
            shutdown.set()


@pytest.fixture(params=["http", "https"])
def scheme(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app_and_state() -> tuple[Starlette, AppState]:
    return make_app()


@pytest.fixture
def state(app_and_state: tuple[Starlette, AppState]) -> AppState:
    return app_and_state[1]


@pytest.fixture
async def server(
    scheme: str, app_and_state: tuple[Starlette, AppState], cert_files: tuple[str, str]
) -> AsyncIterator[str]:
    """The base URL of an anycorn server on lowio (HTTP/1.1, plain or TLS)."""
    app, state = app_and_state
    async with serving(app, cert_files=cert_files if scheme == "https" else None) as url:
        assert url.startswith(f"{scheme}://{HOST}:")
        assert state.lifespan == ["startup on lowio"]
        yield url
    assert state.lifespan == ["startup on lowio", "shutdown on lowio"]


@pytest.fixture
async def client(
    server: str, client_ssl_context: ssl.SSLContext
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=server, verify=client_ssl_context, timeout=BOUND
    ) as client:
        yield client


# ---------------------------------------------------------------- httpx against anycorn


async def test_requests(client: httpx.AsyncClient, scheme: str) -> None:
    response = await client.get("/", params={"n": "1"})
    assert response.status_code == 200
    assert response.http_version == "HTTP/1.1"
    answer = response.json()
    assert answer.pop("client_port") > 0
    assert answer == {"library": "lowio", "scheme": scheme, "http_version": "1.1", "n": "1"}
    # A sync endpoint: Starlette runs it in anyio's worker threads (lowio's).
    response = await client.get("/thread")
    assert response.json() == {"thread": True}


async def test_concurrent_requests(client: httpx.AsyncClient, state: AppState) -> None:
    """Concurrent requests, each on its own connection (httpx opens up to
    100), and concurrent uploads, interleaving in one lowio loop."""
    n = 24
    answers: dict[int, str | None] = {}
    ports: set[int] = set()
    echoes: dict[int, bytes] = {}

    async def get(i: int) -> None:
        response = await client.get("/", params={"n": str(i)})
        assert response.status_code == 200
        assert response.json()["library"] == "lowio"
        answers[i] = response.json()["n"]
        ports.add(response.json()["client_port"])

    async def post(i: int) -> None:
        body = os.urandom(100_000 + i)
        response = await client.post("/echo", content=body)
        assert response.status_code == 200
        echoes[i] = response.content
        assert response.content == body

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(get, i)
            for i in range(4):
                tg.start_soon(post, i)
    assert answers == {i: str(i) for i in range(n)}
    assert len(echoes) == 4
    assert state.requests == n
    assert len(ports) > 1  # several connections were opened


async def test_streaming(client: httpx.AsyncClient) -> None:
    """Streaming downloads (chunked transfer encoding; 256 KiB, so more than
    one read) and a streaming upload, several at once."""
    chunks = 256
    expected = b"".join(i.to_bytes(4, "big") + CHUNK for i in range(chunks))

    async def download() -> None:
        pieces = []
        async with client.stream("GET", "/stream", params={"chunks": str(chunks)}) as response:
            assert response.status_code == 200
            assert response.headers["transfer-encoding"] == "chunked"
            async for piece in response.aiter_raw():
                pieces.append(piece)
        assert len(pieces) > 1
        assert b"".join(pieces) == expected

    async def upload() -> None:
        async def body() -> AsyncIterator[bytes]:
            for i in range(64):
                yield i.to_bytes(4, "big") + CHUNK
                await anyio.sleep(0)

        response = await client.post("/echo", content=body())
        assert response.content == b"".join(i.to_bytes(4, "big") + CHUNK for i in range(64))

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(download)
            tg.start_soon(upload)


@pytest.mark.parametrize("scheme", ["https"])
async def test_tls_rejects_an_untrusted_client(server: str) -> None:
    """A client that does not trust the CA fails its handshake; the server
    goes on serving."""
    async with httpx.AsyncClient(base_url=server, timeout=BOUND) as untrusting:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await untrusting.get("/")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    async with httpx.AsyncClient(base_url=server, verify=context, timeout=BOUND) as insecure:
        assert (await insecure.get("/")).json()["scheme"] == "https"


async def test_http2_over_tls(
    app_and_state: tuple[Starlette, AppState],
    cert_files: tuple[str, str],
    client_ssl_context: ssl.SSLContext,
) -> None:
    """HTTP/2 (ALPN "h2"): concurrent requests multiplexed on one connection."""
    app, _ = app_and_state
    async with (
        serving(app, cert_files=cert_files, alpn=("h2", "http/1.1")) as url,
        httpx.AsyncClient(
            base_url=url, verify=client_ssl_context, http2=True, timeout=BOUND
        ) as client,
    ):
        versions: list[str] = []
        ports: set[int] = set()

        async def get(i: int) -> None:
            response = await client.get("/", params={"n": str(i)})
            assert response.json()["n"] == str(i)
            versions.append(response.json()["http_version"])
            ports.add(response.json()["client_port"])

        with anyio.fail_after(BOUND):
            async with anyio.create_task_group() as tg:
                for i in range(10):
                    tg.start_soon(get, i)
            async with client.stream("GET", "/stream", params={"chunks": "32"}) as response:
                assert response.http_version == "HTTP/2"
                assert len(await response.aread()) == 32 * (4 + len(CHUNK))
        assert versions == ["2"] * 10
        assert len(ports) == 1  # one connection


# ---------------------------------------------------------------- cancellation


async def test_move_on_after_abandons_a_request(client: httpx.AsyncClient, state: AppState) -> None:
    """A request whose response never comes, abandoned by ``move_on_after``:
    the client returns, the handler receives ``http.disconnect``.

    The deadline is set once the handler is running (so that the request is
    in flight on the server when it expires, however loaded the machine)."""
    await client.get("/")  # a kept-alive connection, as in real use

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as tg:
            with anyio.move_on_after(math.inf) as scope:

                async def expire_once_started() -> None:
                    await state.event("wait_started").wait()
                    scope.deadline = anyio.current_time() + 0.01

                tg.start_soon(expire_once_started)
                await client.get("/wait")
                pytest.fail("the request should have been cancelled")
    assert scope.cancelled_caught
    with anyio.fail_after(BOUND):
        await state.event("disconnected").wait()
    assert state.closed_with == ["http.disconnect"]
    # The client and the server go on working.
    assert (await client.get("/", params={"n": "after"})).json()["n"] == "after"


async def test_lowio_cancel_scope_abandons_a_streaming_download(
    client: httpx.AsyncClient, state: AppState
) -> None:
    """A streaming response read halfway, then abandoned with lowio's own
    cancel scope (``lowio.move_on_after``) around the anyio code: the
    server's streaming body is cancelled (Starlette cancels it when the
    client disconnects)."""
    async with client.stream("GET", "/stream-forever") as response:
        pieces = response.aiter_raw()
        first = await pieces.__anext__()
        assert first == CHUNK[: len(first)]
        with anyio.fail_after(BOUND):
            await state.event("stream_started").wait()
        with lowio.move_on_after(0.05) as scope:
            async for _ in pieces:
                pass
        assert scope.cancelled_caught
    with anyio.fail_after(BOUND):
        await state.event("stream_closed").wait()
    assert state.closed_with == ["cancelled"]


async def test_httpx_read_timeout(client: httpx.AsyncClient, state: AppState) -> None:
    """httpx's own timeouts (``anyio.fail_after`` inside httpcore) on lowio:
    ``ReadTimeout``, and the handler sees the disconnect."""
    with pytest.raises(httpx.ReadTimeout):
        await client.get("/wait", timeout=httpx.Timeout(BOUND, read=0.25))
    assert state.waiting == 1
    with anyio.fail_after(BOUND):
        await state.event("disconnected").wait()
    assert state.closed_with == ["http.disconnect"]


async def test_cancel_many_in_flight_requests(client: httpx.AsyncClient, state: AppState) -> None:
    """Requests waiting for a response (their handlers waiting for the ASGI
    ``http.disconnect`` message, or polling Starlette's
    ``is_disconnected()``) and streaming downloads, all abandoned at once by
    cancelling their task group: every handler sees its client go."""
    started = 0

    async def wait_request(path: str) -> None:
        await client.get(path)

    async def stream_request() -> None:
        nonlocal started
        async with client.stream("GET", "/stream-forever") as response:
            async for _ in response.aiter_raw():
                started += 1

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(wait_request, "/wait")
        for _ in range(3):
            tg.start_soon(wait_request, "/poll")
        for _ in range(3):
            tg.start_soon(stream_request)
        await wait_until(
            lambda: started >= 3 and state.closed_with == [] and state.waiting == 11,
            "all requests in flight",
        )
        tg.cancel_scope.cancel()
    await wait_until(lambda: len(state.closed_with) == 14, "14 disconnects")
    assert sorted(state.closed_with) == (
        ["cancelled"] * 3 + ["http.disconnect"] * 8 + ["is_disconnected"] * 3
    )
    assert (await client.get("/")).status_code == 200


async def test_server_shutdown_with_requests_in_flight(
    app_and_state: tuple[Starlette, AppState],
) -> None:
    """Shutting the server down while requests are in flight: after the
    graceful timeout the server cancels the handlers and closes the
    connections; the clients see an error, nothing hangs."""
    app, state = app_and_state
    errors: list[httpx.TransportError] = []

    async def wait_request(client: httpx.AsyncClient, url: str) -> None:
        try:
            await client.get(url + "/wait")
        except httpx.TransportError as exc:
            errors.append(exc)

    async with httpx.AsyncClient(timeout=BOUND) as client:
        with anyio.fail_after(BOUND):
            # The server stops first (at the end of the block), then the
            # task group waits for the requests, which fail.
            async with anyio.create_task_group() as tg, serving(app, graceful_timeout=0.05) as url:
                for _ in range(3):
                    tg.start_soon(wait_request, client, url)
                await wait_until(lambda: state.waiting == 3, "3 requests in flight")
        assert len(errors) == 3
        assert all(isinstance(e, httpx.RemoteProtocolError) for e in errors), errors
        assert state.lifespan == ["startup on lowio", "shutdown on lowio"]
        with pytest.raises(httpx.ConnectError):
            await client.get(url)


# ---------------------------------------------------------------- fds


def test_fds_back_to_baseline(
    cert_files: tuple[str, str], client_ssl_context: ssl.SSLContext
) -> None:
    """Servers, connections and TLS sessions leave no fd behind: counted
    inside the run once the servers have returned (not just after the loop
    is closed), and around ``anyio.run(..., backend="lowio")``."""
    inside: list[tuple[set[int], set[int], set[int]]] = []

    async def main() -> None:
        before = open_fds()
        app, state = make_app()
        async with (
            serving(app) as plain,
            serving(app, cert_files=cert_files) as secure,
            httpx.AsyncClient(verify=client_ssl_context, timeout=BOUND) as client,
        ):
            async with anyio.create_task_group() as tg:
                for url in [plain, secure] * 5:
                    tg.start_soon(client.get, url)
            with anyio.move_on_after(math.inf) as scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(client.get, plain + "/wait")
                    tg.start_soon(client.get, secure + "/wait")
                    await wait_until(lambda: state.waiting == 2, "2 requests in flight")
                    scope.deadline = anyio.current_time()
            await wait_until(lambda: len(state.closed_with) == 2, "2 disconnects")
            during = open_fds()
        inside.append((before, during, open_fds()))

    outside_before = open_fds()
    anyio.run(main, backend="lowio")
    (before, during, after) = inside[0]
    assert len(during - before) >= 4  # the listeners, pooled connections (both ends)
    assert after == before
    assert open_fds() == outside_before


# ---------------------------------------------------------------- Starlette's TestClient


def test_starlette_testclient() -> None:
    """``TestClient(app, backend="lowio")``: the lifespan, requests, a sync
    endpoint (a worker thread), streaming and a WebSocket, on lowio in the
    client's portal thread."""
    app, state = make_app()
    with TestClient(app, backend="lowio") as client:  # type: ignore[arg-type]
        assert state.lifespan == ["startup on lowio"]
        answer = client.get("/", params={"n": "7"}).json()
        assert (answer["library"], answer["scheme"], answer["n"]) == ("lowio", "http", "7")
        assert client.get("/thread").json() == {"thread": True}
        assert client.post("/echo", content=b"x" * 100_000).content == b"x" * 100_000
        with client.stream("GET", "/stream", params={"chunks": "8"}) as response:
            body = b"".join(response.iter_bytes())
        assert body == b"".join(i.to_bytes(4, "big") + CHUNK for i in range(8))
        with client.websocket_connect("/ws") as websocket:
            websocket.send_text("hello")
            assert websocket.receive_text() == "hello (lowio)"
            websocket.send_text("bye")
    assert state.lifespan == ["startup on lowio", "shutdown on lowio"]


def test_starlette_testclient_without_lifespan() -> None:
    """Outside ``with``, each request runs in a portal (a lowio loop in a
    thread) of its own."""
    app, state = make_app()
    client = TestClient(app, backend="lowio")  # type: ignore[arg-type]
    for i in range(3):
        assert client.get("/", params={"n": str(i)}).json()["n"] == str(i)
    assert state.requests == 3
    assert state.lifespan == []
    client.close()
