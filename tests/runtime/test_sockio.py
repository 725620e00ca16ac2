"""lowio._sys._sockio.SockIO: a socket's non-blocking recv and send in C,
behaving as socket.socket's own methods on a non-blocking socket."""

from __future__ import annotations

import errno
import socket

import pytest
from _socket_helpers import lowio_test

import lowio
from lowio._sys._sockio import SockIO


@pytest.fixture
def io_pair(pair: tuple[socket.socket, socket.socket]) -> tuple[SockIO, socket.socket]:
    a, b = pair
    a.setblocking(False)
    return SockIO(a), b


def test_recv_returns_what_arrived_shrunk(io_pair: tuple[SockIO, socket.socket]) -> None:
    io, peer = io_pair
    peer.sendall(b"hello")
    data = io.recv(65536)
    assert data == b"hello" and type(data) is bytes


def test_recv_with_flags_peeks(io_pair: tuple[SockIO, socket.socket]) -> None:
    io, peer = io_pair
    peer.sendall(b"abc")
    assert io.recv(10, socket.MSG_PEEK) == b"abc"
    assert io.recv(2) == b"ab"
    assert io.recv(2) == b"c"


def test_recv_of_an_empty_buffer_is_blocking_io_error(
    io_pair: tuple[SockIO, socket.socket],
) -> None:
    io, _ = io_pair
    with pytest.raises(BlockingIOError):
        io.recv(10)


def test_recv_zero_and_eof_are_empty(io_pair: tuple[SockIO, socket.socket]) -> None:
    io, peer = io_pair
    assert io.recv(0) == b""  # no system call: not even EAGAIN
    peer.close()
    assert io.recv(10) == b""


def test_send_takes_any_contiguous_buffer(io_pair: tuple[SockIO, socket.socket]) -> None:
    io, peer = io_pair
    assert io.send(b"ab") == 2
    assert io.send(bytearray(b"cd")) == 2
    assert io.send(memoryview(b"xxefxx")[2:4]) == 2
    assert io.send(b"gh", 0) == 2
    assert peer.recv(100) == b"abcdefgh"


def test_send_to_a_full_buffer_is_blocking_io_error(
    io_pair: tuple[SockIO, socket.socket],
) -> None:
    io, _ = io_pair
    with pytest.raises(BlockingIOError):
        while True:
            io.send(b"x" * 65536)


def test_bad_arguments_are_refused_as_socket_socket_refuses_them(
    io_pair: tuple[SockIO, socket.socket],
) -> None:
    io, _ = io_pair
    with pytest.raises(ValueError, match="negative buffersize in recv"):
        io.recv(-1)
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        io.recv(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes-like object is required, not 'str'"):
        io.send("text")
    with pytest.raises(TypeError, match="takes 1 or 2 arguments"):
        io.recv()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="takes 1 or 2 arguments"):
        io.send(b"x", 0, 0)  # type: ignore[call-arg]
    with pytest.raises(OverflowError):
        io.send(b"x", 1 << 40)
    with pytest.raises(TypeError):
        io.recv(1, "0")  # type: ignore[arg-type]


def test_a_closed_socket_gives_ebadf(pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair
    io = SockIO(a)
    a.close()  # SockIO reads the fd at each call: -1 now
    for call in (lambda: io.recv(1), lambda: io.send(b"x")):
        with pytest.raises(OSError) as info:
            call()
        assert info.value.errno == errno.EBADF


def test_a_detached_socket_gives_ebadf(pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair
    io = SockIO(a)
    socket.socket(fileno=a.detach()).close()
    with pytest.raises(OSError) as info:
        io.recv(1)
    assert info.value.errno == errno.EBADF


def test_only_sockets_are_accepted() -> None:
    with pytest.raises(TypeError, match=r"needs a socket\.socket"):
        SockIO(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        SockIO()  # type: ignore[call-arg]


@lowio_test
async def test_lowio_sockets_use_it() -> None:
    a, b = lowio.socket.socketpair()
    with a, b:
        assert type(a._recv.__self__) is SockIO  # type: ignore[attr-defined]
        assert await a.send(b"ping") == 4
        assert await b.recv(10) == b"ping"


def test_it_exports_its_c_interface_for_the_owned_operations() -> None:
    import lowio._owned_ops  # noqa: F401  (imports _sockio and takes the capsule)
    from lowio._sys import _sockio

    assert "lowio._sys._sockio._C_API" in repr(_sockio._C_API)  # type: ignore[attr-defined]
