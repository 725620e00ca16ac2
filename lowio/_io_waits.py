"""``wait_readable`` / ``wait_writable`` / ``notify_closing`` (trio's
contract; the readiness cache lives in ``lowio._core._io``)."""

from __future__ import annotations

import types
from collections.abc import Awaitable, Generator
from typing import Any, NoReturn

from ._core._io import fd_of
from ._core._local import GLOBAL_RUN_CONTEXT, no_run_error

# wait_readable and wait_writable are not ``async def``: each returns the I/O
# manager's wait itself, one generator with no coroutine around it, which
# saves a frame on every wake-up (docs/design.md §3.8).  As with a coroutine,
# nothing happens until it is awaited, errors included (_raising).


@types.coroutine
def _raising(exc: BaseException) -> Generator[Any, Any, NoReturn]:
    """An awaitable that raises ``exc`` when awaited."""
    raise exc
    yield  # a generator: raises only once awaited


def _wait(fd_or_sock: object, write: bool) -> Awaitable[None]:
    runner = GLOBAL_RUN_CONTEXT.runner
    if runner is None:
        return _raising(no_run_error("wait_writable()" if write else "wait_readable()"))
    if type(fd_or_sock) is int:
        fd = fd_or_sock
    else:
        try:
            fd = fd_of(fd_or_sock)
        except Exception as exc:
            return _raising(exc)
    io = runner.io
    return io.wait_writable(fd) if write else io.wait_readable(fd)


def wait_readable(fd_or_sock: object) -> Awaitable[None]:
    """Waits until ``fd_or_sock`` (an fd or an object with ``fileno()``) is
    readable: until the kernel reports it so, except on an fd a lowio
    object owns (a ``lowio.socket`` socket, an ``FdStream``), where an edge
    lowio saw since that object's last EAGAIN is consumed at once.  Always
    a checkpoint.  Use it as ``await wait_readable(fd)``: the call returns
    an awaitable that does nothing, raises nothing, until awaited.

    Raises ``BusyResourceError`` if another task already waits to read it,
    ``ClosedResourceError`` if ``notify_closing`` is called meanwhile,
    ``OSError`` for a closed fd or one epoll cannot watch (a regular file,
    ``/dev/null``), ``TypeError`` for anything that is not an fd.
    """
    runner = GLOBAL_RUN_CONTEXT.runner
    if runner is not None and type(fd_or_sock) is int:
        return runner.io.wait_readable(fd_or_sock)  # the hot case
    return _wait(fd_or_sock, False)


def wait_writable(fd_or_sock: object) -> Awaitable[None]:
    """Like ``wait_readable``, for writing."""
    runner = GLOBAL_RUN_CONTEXT.runner
    if runner is not None and type(fd_or_sock) is int:
        return runner.io.wait_writable(fd_or_sock)
    return _wait(fd_or_sock, True)


def notify_closing(fd_or_sock: object) -> None:
    """Call before closing an fd that tasks may be waiting on: they wake with
    ``ClosedResourceError`` and lowio forgets the fd.  Not a checkpoint."""
    runner = GLOBAL_RUN_CONTEXT.runner
    if runner is None:
        raise no_run_error("notify_closing()")
    runner.io.notify_closing(fd_of(fd_or_sock))
