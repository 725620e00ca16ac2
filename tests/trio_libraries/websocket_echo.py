"""trio-websocket's server and client on lowio: ``plain`` runs 50
concurrent clients against one server, ``tls`` the same over TLS
(certificates from trustme).  Prints one line per check."""

from __future__ import annotations

import ssl
import sys
from functools import partial

import _on_lowio  # before any trio import: lowio becomes trio
import trio
import trustme
from trio_websocket import ConnectionClosed, WebSocketRequest, open_websocket, serve_websocket

CLIENTS = 50
MESSAGES = 5


async def upper_echo(request: WebSocketRequest) -> None:
    ws = await request.accept()
    try:
        while True:
            message = await ws.get_message()
            await ws.send_message(message.upper())
    except ConnectionClosed:
        pass


async def client(
    port: int, number: int, ssl_context: ssl.SSLContext | None, done: list[int]
) -> None:
    async with open_websocket(
        "127.0.0.1", port, f"/client/{number}", use_ssl=ssl_context or False
    ) as ws:
        for i in range(MESSAGES):
            await ws.send_message(f"c{number}-m{i}")
            assert await ws.get_message() == f"C{number}-M{i}"
        assert ws.path == f"/client/{number}"
    done.append(number)


async def main(use_tls: bool) -> None:
    server_context = client_context = None
    if use_tls:
        ca = trustme.CA()
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(server_context)
        client_context = ssl.create_default_context()
        ca.configure_trust(client_context)
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            partial(serve_websocket, upper_echo, "127.0.0.1", 0, server_context)
        )
        done: list[int] = []
        with trio.fail_after(20):
            async with trio.open_nursery() as clients:
                for number in range(CLIENTS):
                    clients.start_soon(client, server.port, number, client_context, done)
        assert sorted(done) == list(range(CLIENTS)), done
        print(f"{CLIENTS} clients x {MESSAGES} messages echoed{' over TLS' if use_tls else ''}")
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    before = _on_lowio.open_fds()
    trio.run(main, sys.argv[1] == "tls")
    _on_lowio.assert_fds_back(before)
    print("fds back to baseline")
