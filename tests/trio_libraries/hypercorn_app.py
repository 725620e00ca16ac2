"""hypercorn's trio worker (``hypercorn.trio.serve``) on lowio, serving a
small ASGI app to httpx in the same process (httpx and httpcore see sniffio
say "trio" and take their trio code, i.e. lowio's API).  Scenarios:

* ``keepalive``: HTTP/1.1, several requests on one kept-alive connection;
* ``h2``: TLS (trustme) with ALPN, concurrent requests multiplexed on one
  HTTP/2 connection;
* ``graceful``: the ``shutdown_trigger`` fires while a request is in
  flight: that request completes, ``serve`` returns, the port is closed.
"""

from __future__ import annotations

import contextlib
import ssl
import sys
from collections.abc import Iterator
from typing import Any

import _on_lowio  # before any trio import: lowio becomes trio
import httpx
import hypercorn.trio
import trio
import trustme
from hypercorn.config import Config

# the lifespan messages the app received, in order
lifespan_seen: list[str] = []
LIFESPAN_REPLIES = {
    "lifespan.startup": "lifespan.startup.complete",
    "lifespan.shutdown": "lifespan.shutdown.complete",
}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while lifespan_seen[-1:] != ["lifespan.shutdown"]:
            message = (await receive())["type"]
            lifespan_seen.append(message)
            await send({"type": LIFESPAN_REPLIES[message]})
        return
    if scope["path"] == "/slow":
        await trio.sleep(0.3)
    body = f"{scope['http_version']} {scope['path']} {scope['client'][1]}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def config(tls: trustme.CA | None) -> Iterator[Config]:
    cfg = Config()
    cfg.bind = ["127.0.0.1:0"]
    cfg.graceful_timeout = 5
    if tls is None:
        yield cfg
        return
    cert = tls.issue_cert("127.0.0.1")
    with cert.cert_chain_pems[0].tempfile() as certfile, cert.private_key_pem.tempfile() as keyfile:
        cfg.certfile, cfg.keyfile = certfile, keyfile
        yield cfg


async def serving(cfg: Config, test: Any, *args: Any) -> str:
    """Runs ``test(url, stop, *args)`` against a server, then shuts it down
    through its ``shutdown_trigger`` (``stop``), checks that ``serve``
    returned, and returns the server's URL."""
    stop = trio.Event()
    returned = []

    async def serve(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        await hypercorn.trio.serve(app, cfg, shutdown_trigger=stop.wait, task_status=task_status)
        returned.append(True)

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            (url,) = await nursery.start(serve)
            await test(url, stop, *args)
            stop.set()
    assert returned == [True]
    assert lifespan_seen == ["lifespan.startup", "lifespan.shutdown"], lifespan_seen
    lifespan_seen.clear()
    return str(url)


async def keepalive(url: str, stop: trio.Event) -> None:
    async with httpx.AsyncClient() as client:
        answers = [(await client.get(f"{url}/r{i}")).text for i in range(5)]
    ports = {answer.split()[2] for answer in answers}
    assert [a.split()[:2] for a in answers] == [["1.1", f"/r{i}"] for i in range(5)], answers
    assert len(ports) == 1, f"requests took several connections: {answers}"
    print("5 HTTP/1.1 requests on one kept-alive connection")


async def h2(url: str, stop: trio.Event, ca: trustme.CA) -> None:
    assert url.startswith("https://")
    context = ssl.create_default_context()
    ca.configure_trust(context)
    answers: list[httpx.Response] = []
    async with httpx.AsyncClient(http2=True, verify=context) as client:

        async def get(i: int) -> None:
            answers.append(await client.get(f"{url}/s{i}"))

        async with trio.open_nursery() as nursery:
            for i in range(20):
                nursery.start_soon(get, i)
    assert {r.http_version for r in answers} == {"HTTP/2"}
    assert sorted(r.text.split()[1] for r in answers) == sorted(f"/s{i}" for i in range(20))
    assert len({r.text.split()[2] for r in answers}) == 1, "HTTP/2 took several connections"
    print("20 concurrent requests on one HTTP/2 connection over TLS")


async def graceful(url: str, stop: trio.Event) -> None:
    async with httpx.AsyncClient() as client:
        async with trio.open_nursery() as nursery:
            slow: list[httpx.Response] = []

            async def get_slow() -> None:
                slow.append(await client.get(f"{url}/slow"))

            nursery.start_soon(get_slow)
            await trio.sleep(0.1)  # the request is in the app now
            stop.set()
        assert slow[0].status_code == 200 and slow[0].text.startswith("1.1 /slow"), slow
    print("a request in flight at shutdown completed")


async def main(scenario: str) -> None:
    if scenario == "h2":
        ca = trustme.CA()
        with config(ca) as cfg:
            await serving(cfg, h2, ca)
        return
    with config(None) as cfg:
        url = await serving(cfg, keepalive if scenario == "keepalive" else graceful)
    try:
        await trio.open_tcp_stream("127.0.0.1", int(url.rsplit(":", 1)[1]))
    except OSError:
        print("the port is closed after serve() returned")
    else:
        raise AssertionError("the server still accepts connections")


if __name__ == "__main__":
    before = _on_lowio.open_fds()
    trio.run(main, sys.argv[1])
    _on_lowio.assert_fds_back(before)
    print("fds back to baseline")
