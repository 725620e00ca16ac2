"""Helpers shared by test_io_waits*.py: one-way channels over a
socketpair, a TCP pair or a pipe, and access to the run's I/O manager."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _socket_helpers import write_until_eagain

from lowio._core import GLOBAL_RUN_CONTEXT

KINDS = ["socketpair", "tcp", "pipe"]


def io_manager() -> Any:
    """The I/O manager of the current run."""
    runner = GLOBAL_RUN_CONTEXT.runner
    assert runner is not None
    return runner.io


class Channel:
    """Bytes written to ``w`` come out of ``r`` (both non-blocking)."""

    def __init__(
        self,
        kind: str,
        r: object,
        w: object,
        read: Callable[[int], bytes],
        write: Callable[[bytes], int],
    ) -> None:
        self.kind = kind
        self.r = r
        self.w = w
        self.read = read
        self.write = write

    @property
    def rfd(self) -> int:
        return self.r if isinstance(self.r, int) else self.r.fileno()  # type: ignore[attr-defined]

    @property
    def wfd(self) -> int:
        return self.w if isinstance(self.w, int) else self.w.fileno()  # type: ignore[attr-defined]

    def drain(self) -> bytes:
        """Reads until EAGAIN (or EOF)."""
        data = b""
        while True:
            try:
                chunk = self.read(65536)
            except BlockingIOError:
                return data
            if not chunk:
                return data
            data += chunk

    def fill(self) -> int:
        """Writes until EAGAIN; returns how many bytes went in."""
        return write_until_eagain(self.write, b"x")


def pipe_channel() -> tuple[Channel, Callable[[], None]]:
    rfd, wfd = os.pipe()
    os.set_blocking(rfd, False)
    os.set_blocking(wfd, False)

    def close() -> None:
        for fd in (rfd, wfd):
            with contextlib.suppress(OSError):
                os.close(fd)

    channel = Channel("pipe", rfd, wfd, lambda n: os.read(rfd, n), lambda d: os.write(wfd, d))
    return channel, close


def make_channel(kind: str, request: pytest.FixtureRequest) -> Iterator[Channel]:
    if kind == "pipe":
        channel, close = pipe_channel()
        try:
            yield channel
        finally:
            close()
        return
    a, b = request.getfixturevalue("pair" if kind == "socketpair" else "tcp_pair")
    yield Channel(kind, a, b, a.recv, b.send)


def shrink_pipe(fd: int) -> None:
    """Makes a pipe's buffer one page."""
    fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 4096)


def socket_at(fd: int) -> tuple[socket.socket, socket.socket]:
    """A new connected non-blocking socketpair whose first socket has the
    number ``fd`` (which must be free): the fd number is reused."""
    c, d = socket.socketpair()
    if c.fileno() != fd:
        os.dup2(c.fileno(), fd)
        c.close()
        c = socket.socket(fileno=fd)
    c.setblocking(False)
    d.setblocking(False)
    assert c.fileno() == fd
    return c, d


def fill_socket(sock: socket.socket) -> None:
    try:
        while True:
            sock.send(b"x" * 65536)
    except BlockingIOError:
        pass


def drain_socket(sock: socket.socket) -> bytes:
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except BlockingIOError:
        pass
    return data
