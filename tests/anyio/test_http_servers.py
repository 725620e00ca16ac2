"""httpx on lowio against HTTP servers in other processes, on 127.0.0.1:
uvicorn (the Starlette app of ``_asgi_app``, on asyncio, plain and TLS),
nginx when it is installed (HTTP/1.1 and HTTP/2 over TLS), and a stalled
server that accepts and never answers.

The client side runs on lowio (anyio's pytest plugin with the "lowio"
backend, and plain ``lowio.run`` in ``test_under_lowio_run``), with no
workaround of any kind: httpcore takes its anyio path through the
installed ``lowio_compat``.  Covered: requests, uploads, streaming
downloads, HTTP/2 multiplexing, TLS verification, connection-pool limits
(``max_connections`` and ``PoolTimeout``), ``ReadTimeout`` on a stalled
server and on a handler that never answers, cancellation in the
middle of a request and of a streaming body, and fds back to baseline
(inside one run; ``conftest``'s ``no_leaks`` checks every test too).
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from _asgi_app import CHUNK
from _http_helpers import (
    BOUND,
    HOST,
    ca,
    cert_files,
    client_ssl_context,
    open_fds,
    wait_for_port,
    wait_until,
)

import lowio

pytestmark = pytest.mark.anyio

__all__ = ["ca", "cert_files", "client_ssl_context"]  # fixtures, used by name

TESTS = Path(__file__).resolve().parent.parent  # the helpers (_asgi_app, ...) live there


@pytest.fixture
def anyio_backend() -> str:
    return "lowio"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(BOUND)
    except subprocess.TimeoutExpired:  # pragma: no cover - only a hung server
        process.kill()
        process.wait()


# ---------------------------------------------------------------- uvicorn

UVICORN = """
import socket, sys
sys.path.insert(0, sys.argv[1])
import uvicorn
from _asgi_app import make_app

listener = socket.socket(fileno=int(sys.argv[2]))
tls = dict(ssl_certfile=sys.argv[3], ssl_keyfile=sys.argv[4]) if len(sys.argv) > 3 else {}
app, _ = make_app()
config = uvicorn.Config(app, log_level="warning", lifespan="on", **tls)
uvicorn.Server(config).run(sockets=[listener])
"""


@pytest.fixture(scope="module", params=["http", "https"])
def uvicorn_url(request: pytest.FixtureRequest, cert_files: tuple[str, str]) -> Iterator[str]:
    """uvicorn in a subprocess, on a listening socket made here (so that it
    is accepting before the process even starts)."""
    scheme = str(request.param)
    listener = socket.create_server((HOST, 0))
    port = listener.getsockname()[1]
    args = [str(TESTS), str(listener.fileno())]
    if scheme == "https":
        args += list(cert_files)
    process = subprocess.Popen(
        [sys.executable, "-c", UVICORN, *args],
        pass_fds=[listener.fileno()],
        stdout=subprocess.DEVNULL,
    )
    listener.close()
    try:
        yield f"{scheme}://{HOST}:{port}"
    finally:
        stop(process)


@pytest.fixture
async def uvicorn_client(
    uvicorn_url: str, client_ssl_context: ssl.SSLContext
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=uvicorn_url, verify=client_ssl_context, timeout=BOUND
    ) as client:
        yield client


async def test_uvicorn_requests_uploads_streaming(
    uvicorn_client: httpx.AsyncClient, uvicorn_url: str
) -> None:
    response = await uvicorn_client.get("/", params={"n": "1"})
    assert response.status_code == 200
    assert response.http_version == "HTTP/1.1"
    answer = response.json()
    assert (answer["library"], answer["scheme"], answer["n"]) == (
        "asyncio",  # the server's side: uvicorn runs asyncio
        uvicorn_url.split(":")[0],
        "1",
    )
    body = os.urandom(300_000)
    assert (await uvicorn_client.post("/echo", content=body)).content == body
    chunks = 128
    async with uvicorn_client.stream("GET", "/stream", params={"chunks": str(chunks)}) as r:
        pieces = [piece async for piece in r.aiter_raw()]
    assert len(pieces) > 1
    assert b"".join(pieces) == b"".join(i.to_bytes(4, "big") + CHUNK for i in range(chunks))


async def test_uvicorn_connection_pool_limits(
    uvicorn_url: str, client_ssl_context: ssl.SSLContext
) -> None:
    """``max_connections=2``: 12 concurrent requests share two connections;
    with one connection held by a request that never gets an answer, the
    next request waits for the pool and fails with ``PoolTimeout``."""
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    async with httpx.AsyncClient(
        base_url=uvicorn_url, verify=client_ssl_context, limits=limits, timeout=BOUND
    ) as client:
        ports: set[int] = set()

        async def get(i: int) -> None:
            ports.add((await client.get("/", params={"n": str(i)})).json()["client_port"])

        with anyio.fail_after(BOUND):
            async with anyio.create_task_group() as tg:
                for i in range(12):
                    tg.start_soon(get, i)
        assert 1 <= len(ports) <= 2

    one = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(
        base_url=uvicorn_url, verify=client_ssl_context, limits=one, timeout=BOUND
    ) as client:
        with anyio.fail_after(BOUND):
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.get, "/wait")
                pool = client._transport._pool  # type: ignore[attr-defined]
                await wait_until(
                    lambda: any(not c.is_idle() for c in pool.connections),
                    "the only connection to be taken",
                )
                with pytest.raises(httpx.PoolTimeout):
                    await client.get("/", timeout=httpx.Timeout(BOUND, pool=0.1))
                tg.cancel_scope.cancel()
            # the cancelled request gave its connection back
            assert (await client.get("/")).status_code == 200


async def test_uvicorn_read_timeout(uvicorn_client: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.ReadTimeout):
        await uvicorn_client.get("/wait", timeout=httpx.Timeout(BOUND, read=0.2))
    assert (await uvicorn_client.get("/")).status_code == 200


async def test_uvicorn_cancellation_mid_request(uvicorn_client: httpx.AsyncClient) -> None:
    """A request cancelled while it waits for its answer (anyio's
    ``move_on_after``), and a streaming body abandoned halfway (lowio's own
    cancel scope): the client returns at once and goes on working."""
    with anyio.move_on_after(0.2) as scope:
        await uvicorn_client.get("/wait")
    assert scope.cancelled_caught
    async with uvicorn_client.stream("GET", "/stream-forever") as response:
        pieces = response.aiter_raw()
        assert (await pieces.__anext__()).startswith(CHUNK[:16])
        with lowio.move_on_after(0.1) as lowio_scope:
            async for _ in pieces:
                pass
        assert lowio_scope.cancelled_caught
    assert (await uvicorn_client.get("/", params={"n": "after"})).json()["n"] == "after"


def test_under_lowio_run(uvicorn_url: str, client_ssl_context: ssl.SSLContext) -> None:
    """httpx in plain ``lowio.run`` (trio-style code, no anyio.run): sniffio
    reports "lowio" there too, and anyio runs on lowio's backend."""

    async def main() -> list[str]:
        async with (
            httpx.AsyncClient(verify=client_ssl_context, timeout=BOUND) as client,
            lowio.open_nursery() as nursery,
        ):
            answers: list[str] = []

            async def get(i: int) -> None:
                answers.append((await client.get(uvicorn_url, params={"n": str(i)})).json()["n"])

            for i in range(5):
                nursery.start_soon(get, i)
        return sorted(answers)

    assert lowio.run(main) == ["0", "1", "2", "3", "4"]


# ---------------------------------------------------------------- a stalled server


STALLED = """
import socket, sys
listener = socket.socket(fileno=int(sys.argv[1]))
held = []
while True:
    held.append(listener.accept()[0])
"""


@pytest.fixture(scope="module")
def stalled_server() -> Iterator[str]:
    """A process that accepts connections and never answers (another
    process, so that its side of the connections is not counted here)."""
    listener = socket.create_server((HOST, 0))
    port = listener.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-c", STALLED, str(listener.fileno())], pass_fds=[listener.fileno()]
    )
    listener.close()
    try:
        yield f"http://{HOST}:{port}"
    finally:
        stop(process)


async def test_read_timeout_on_a_stalled_server(stalled_server: str) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(BOUND, read=0.2)) as client:
        with anyio.fail_after(BOUND):
            with pytest.raises(httpx.ReadTimeout):
                await client.get(stalled_server)
            with pytest.raises(httpx.ReadTimeout):  # a streaming request too
                async with client.stream("GET", stalled_server):
                    pytest.fail("no response should come")


async def test_fds_back_to_baseline(
    stalled_server: str, uvicorn_url: str, client_ssl_context: ssl.SSLContext
) -> None:
    """Inside one run: pooled, timed-out and cancelled connections leave no
    fd once the client is closed."""
    before = open_fds()
    async with httpx.AsyncClient(verify=client_ssl_context, timeout=BOUND) as client:
        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(client.get, uvicorn_url + f"/?n={i}")
        with pytest.raises(httpx.ReadTimeout):
            await client.get(stalled_server, timeout=httpx.Timeout(BOUND, read=0.1))
        with anyio.move_on_after(0.1):
            await client.get(uvicorn_url + "/wait")
        assert len(open_fds() - before) >= 1  # kept-alive connections
    assert open_fds() == before


# ---------------------------------------------------------------- nginx

NGINX_CONF = """
worker_processes 1;
daemon off;
{user}
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp-body;
    proxy_temp_path {root}/tmp-proxy;
    fastcgi_temp_path {root}/tmp-fastcgi;
    uwsgi_temp_path {root}/tmp-uwsgi;
    scgi_temp_path {root}/tmp-scgi;
    server {{
        listen {host}:{tls_port} ssl http2;
        listen {host}:{plain_port};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {root}/www;
        location = /hello {{ return 200 "hello from nginx\\n"; }}
    }}
}}
"""


@pytest.fixture(scope="module")
def nginx(
    cert_files: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """nginx serving a 2 MiB file and ``/hello``: (plain URL, TLS URL)."""
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light): nginx tests skipped")
    root = tmp_path_factory.mktemp("nginx")
    (root / "www").mkdir()
    (root / "www" / "big").write_bytes(bytes(range(256)) * 8192)
    plain_port, tls_port = free_port(), free_port()
    conf = root / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            # a root master would switch its worker to "nobody", who may not
            # read the (private) temporary directory
            user="user root;" if os.geteuid() == 0 else "",
            root=root,
            host=HOST,
            plain_port=plain_port,
            tls_port=tls_port,
            cert=cert_files[0],
            key=cert_files[1],
        )
    )
    process = subprocess.Popen(
        [binary, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        try:
            wait_for_port(plain_port, "nginx")
            wait_for_port(tls_port, "nginx")
        except BaseException:
            print((root / "error.log").read_text(), file=sys.stderr)
            raise
        yield f"http://{HOST}:{plain_port}", f"https://{HOST}:{tls_port}"
    finally:
        stop(process)


async def test_nginx_http1_and_http2(
    nginx: tuple[str, str], client_ssl_context: ssl.SSLContext
) -> None:
    plain, secure = nginx
    big = bytes(range(256)) * 8192
    async with httpx.AsyncClient(timeout=BOUND) as client:
        response = await client.get(plain + "/hello")
        assert (response.http_version, response.text) == ("HTTP/1.1", "hello from nginx\n")
        async with client.stream("GET", plain + "/big") as streamed:
            pieces = [piece async for piece in streamed.aiter_bytes()]
        assert len(pieces) > 1
        assert b"".join(pieces) == big
    async with httpx.AsyncClient(verify=client_ssl_context, http2=True, timeout=BOUND) as client:
        versions: list[str] = []

        async def get(path: str) -> None:
            response = await client.get(secure + path)
            versions.append(response.http_version)
            assert response.content == (big if path == "/big" else b"hello from nginx\n")

        with anyio.fail_after(BOUND):
            async with anyio.create_task_group() as tg:
                for i in range(10):
                    tg.start_soon(get, "/big" if i % 3 == 0 else "/hello")
        assert versions == ["HTTP/2"] * 10
        # one multiplexed connection
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert len(pool.connections) == 1


async def test_nginx_rejects_an_untrusted_client(nginx: tuple[str, str]) -> None:
    _, secure = nginx
    async with httpx.AsyncClient(timeout=BOUND) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(secure + "/hello")
