"""The ``tls_pingpong`` workload: TLS echo between two tasks, each end an
``SSLStream`` over a ``SocketStream`` on a socketpair, the very same program
on lowio and on trio.  One round trip = the client sends a message, the
server task reads it whole and sends it back, the client reads it whole.
Both ends' ``ssl`` work is in the measurement, identical for both
contenders, so the ratio is bounded by the share of the time spent in the
library around ``ssl.SSLObject``.  The handshake happens before the clock
starts.  The certificate is made at run time with ``trustme`` (in the
``bench`` extra).
"""

from __future__ import annotations

import ssl
from types import ModuleType

from .runtime_common import Outcome, perf_counter_ns

MESSAGE = 1024


def _contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    import trustme

    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("bench.example").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


def tls_pingpong(lib: ModuleType, n: int, rep: int) -> Outcome:
    server_ctx, client_ctx = _contexts()
    payload = bytes(range(256)) * (MESSAGE // 256)

    async def main() -> tuple[int, int]:
        a, b = lib.socket.socketpair()
        client = lib.SSLStream(lib.SocketStream(a), client_ctx, server_hostname="bench.example")
        server = lib.SSLStream(lib.SocketStream(b), server_ctx, server_side=True)

        async def echo() -> None:
            receive_some, send_all = server.receive_some, server.send_all
            for _ in range(n):
                got = 0
                while got < MESSAGE:
                    data = await receive_some(MESSAGE - got)
                    got += len(data)
                    await send_all(data)

        echoed = 0
        async with lib.open_nursery() as nursery:
            nursery.start_soon(server.do_handshake)
            await client.do_handshake()
        start = perf_counter_ns()
        async with lib.open_nursery() as nursery:
            nursery.start_soon(echo)
            receive_some, send_all = client.receive_some, client.send_all
            for _ in range(n):
                await send_all(payload)
                got = b""
                while len(got) < MESSAGE:
                    got += await receive_some(MESSAGE - len(got))
                echoed += got == payload
        elapsed = perf_counter_ns() - start
        await client.aclose()
        await server.aclose()
        return elapsed, echoed

    ns, echoed = lib.run(main)
    return Outcome({"ns": ns / n}, echoed)
