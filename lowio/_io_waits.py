"""``wait_readable`` / ``wait_writable`` / ``notify_closing`` (trio's
contract; the readiness cache lives in ``lowio._core._io``)."""

from __future__ import annotations

from ._core._io import fd_of
from ._core._local import GLOBAL_RUN_CONTEXT, no_run_error


async def wait_readable(fd_or_sock: object) -> None:
    """Waits until ``fd_or_sock`` (an fd or an object with ``fileno()``) is
    readable: until the kernel reports it so, except on an fd a lowio
    object owns (a ``lowio.socket`` socket, an ``FdStream``), where an edge
    lowio saw since that object's last EAGAIN is consumed at once.  Always
    a checkpoint.

    Raises ``BusyResourceError`` if another task already waits to read it,
    ``ClosedResourceError`` if ``notify_closing`` is called meanwhile,
    ``OSError`` for a closed fd or one epoll cannot watch (a regular file,
    ``/dev/null``), ``TypeError`` for anything that is not an fd.
    """
    runner = GLOBAL_RUN_CONTEXT.runner
    if runner is None:
        raise no_run_error("wait_readable()")
    await runner.io.wait_readable(fd_or_sock if type(fd_or_sock) is int else fd_of(fd_or_sock))


async def wait_writable(fd_or_sock: object) -> None:
    """Like ``wait_readable``, for writing."""
    runner = GLOBAL_RUN_CONTEXT.runner
    if runner is None:
        raise no_run_error("wait_writable()")
    await runner.io.wait_writable(fd_or_sock if type(fd_or_sock) is int else fd_of(fd_or_sock))


def notify_closing(fd_or_sock: object) -> None:
    """Call before closing an fd that tasks may be waiting on: they wake with
    ``ClosedResourceError`` and lowio forgets the fd.  Not a checkpoint."""
    runner = GLOBAL_RUN_CONTEXT.runner
    if runner is None:
        raise no_run_error("notify_closing()")
    runner.io.notify_closing(fd_of(fd_or_sock))
