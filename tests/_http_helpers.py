"""Shared pieces of the HTTP tests (``test_real_libraries.py``,
``test_http_servers.py``): the TLS material (a throwaway CA from
``trustme``), bounds, waiting, and fd counting.

The fixtures are imported by name into the test modules that use them."""

from __future__ import annotations

import gc
import os
import socket
import ssl
import time
from collections.abc import Callable

import anyio
import pytest
import trustme

HOST = "127.0.0.1"
# Generous bounds: they only turn a hang into a failure (pytest-timeout is
# 60 s for the whole test); the tests do not wait for them to pass.
BOUND = 10.0


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def cert_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The server's certificate chain and key, for 127.0.0.1, as files
    (servers load them by name)."""
    directory = tmp_path_factory.mktemp("tls")
    cert = ca.issue_cert(HOST, "localhost")
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    cert.private_key_pem.write_to_path(str(keyfile))
    with certfile.open("wb") as f:
        for blob in cert.cert_chain_pems:
            f.write(blob.bytes())
    return str(certfile), str(keyfile)


@pytest.fixture(scope="module")
def client_ssl_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Waits (polling, bounded) until ``predicate()`` is true."""
    with anyio.move_on_after(BOUND):
        while not predicate():
            await anyio.sleep(0.005)
        return
    pytest.fail(f"timed out waiting for {what}")


def wait_for_port(port: int, what: str) -> None:
    """Blocks (bounded) until something accepts TCP connections on
    ``HOST:port``."""
    deadline = time.monotonic() + BOUND
    while True:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not start listening on port {port}")
            time.sleep(0.02)


def open_fds() -> set[int]:
    gc.collect()
    return {int(name) for name in os.listdir("/proc/self/fd")}
