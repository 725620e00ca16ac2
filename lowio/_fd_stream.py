"""``lowio.lowlevel.FdStream``: a pipe, TTY or other pollable fd as an async
byte stream (trio's ``FdStream``).

I/O takes the owned fast path (``lowio._owned_fast_path``, docs/design.md §3.4): a cancel
check, then the system call; on EAGAIN the task parks on the fd's
persistent edge-triggered registration with no ``epoll_ctl`` (the EAGAIN
proves the next change is an edge) and retries when woken; when the call
succeeds without parking, a schedule point follows.  So every I/O method is
a checkpoint, and data read is never lost to a cancellation.
A short read or write proves nothing here (a packet-mode pipe or a TTY in
canonical mode returns one packet or line per read): the stream always
makes the system call, and writes until EAGAIN before it waits.  ``close()`` calls
``notify_closing`` first, so tasks waiting on the fd wake with
``ClosedResourceError``.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import os
from types import TracebackType
from typing import TypeVar

from . import _owned_fast_path as fast
from ._abc import Stream
from ._core._exceptions import BrokenResourceError, BusyResourceError, ClosedResourceError, final
from ._core._io import UNCLAIMED, FdState
from ._core._local import GLOBAL_RUN_CONTEXT
from ._core._traps import checkpoint

DEFAULT_RECEIVE_SIZE = 65536  # trio's; the default Linux pipe capacity

_R = TypeVar("_R", bound="AsyncClosing")


class AsyncClosing(abc.ABC):
    """``async with`` for a stream: returns itself, ``aclose()`` on exit."""

    @abc.abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self: _R) -> _R:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@final
class FdStream(Stream):
    """A stream on a file descriptor that supports non-blocking I/O (a pipe,
    a TTY, a socket; not a regular file).

    Takes ownership of ``fd``: closing the stream closes it, and the stream
    closes it when garbage-collected.  The fd is put in non-blocking mode
    (its original mode is restored on close); that mode belongs to the open
    file description, so other holders of a ``dup`` of it (or of a forked
    copy) see it too -- do not use the fd directly while the stream is open.

    ``TypeError`` if ``fd`` is not an int; ``OSError`` if it is not open.
    Use from the run's thread.
    """

    def __init__(self, fd: int) -> None:
        self._fd = -1  # set first: __del__ reads it even if __init__ fails
        if not isinstance(fd, int) or isinstance(fd, bool):
            raise TypeError("file descriptor must be an int")
        self._original_blocking = os.get_blocking(fd)
        os.set_blocking(fd, False)
        self._fd = fd
        self._sending = False
        self._receiving = False
        self._state: FdState = UNCLAIMED  # the registration claimed (see IOManager.claim)

    # the owner's side of the owned fast path (see lowio._owned_fast_path)
    _read_extra = 0
    _short_write_full = False

    def _send(self, data: memoryview | bytes) -> int:
        return os.write(self._fd, data)  # the fd read each time: -1 once closed

    def _read(self, max_bytes: int) -> bytes:
        return os.read(self._fd, max_bytes)

    def fileno(self) -> int:
        """The fd; ``-1`` once the stream is closed."""
        return self._fd

    # ---- sending ----

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Writes all of ``data``, waiting while the pipe is full.  A
        checkpoint.  If cancelled part-way, some of the data may have been
        written.

        Raises ``BusyResourceError`` if another task is sending (or in
        ``wait_send_all_might_not_block``), ``ClosedResourceError`` if the
        stream is (or gets) closed, ``BrokenResourceError`` if the other end
        is gone (EPIPE) or for another OS error.
        """
        if self._sending:
            raise BusyResourceError("another task is using this stream for send")
        self._sending = True
        try:
            if self._fd < 0:
                raise ClosedResourceError("file was already closed")
            try:
                await fast.send_all(self, data)
            except OSError as exc:
                raise _translate(exc) from (None if exc.errno == errno.EBADF else exc)
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        """Returns when the fd is writable (``send_all`` may then make
        progress without waiting).  A checkpoint.  ``BusyResourceError`` if
        another task is sending, ``ClosedResourceError`` if closed."""
        if self._sending:
            raise BusyResourceError("another task is using this stream for send")
        self._sending = True
        try:
            if self._fd < 0:
                raise ClosedResourceError("file was already closed")
            await fast.wait(self, True)
        finally:
            self._sending = False

    # ---- receiving ----

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Returns between 1 and ``max_bytes`` bytes (default 65536) as soon
        as some are available; ``b""`` at end of file.  A checkpoint.

        Raises ``BusyResourceError`` if another task is receiving,
        ``TypeError`` / ``ValueError`` for a ``max_bytes`` that is not an int
        >= 1, ``ClosedResourceError`` if the stream is (or gets) closed,
        ``BrokenResourceError`` for an OS error.
        """
        if self._receiving:
            raise BusyResourceError("another task is using this stream for receive")
        self._receiving = True
        try:
            if max_bytes is None:
                max_bytes = DEFAULT_RECEIVE_SIZE
            else:
                if not isinstance(max_bytes, int):
                    raise TypeError("max_bytes must be integer >= 1")
                if max_bytes < 1:
                    raise ValueError("max_bytes must be integer >= 1")
            try:
                return await fast.call(self, False, self._read, max_bytes)
            except OSError as exc:
                raise _translate(exc) from (None if exc.errno == errno.EBADF else exc)
        finally:
            self._receiving = False

    def __aiter__(self) -> FdStream:
        return self

    async def __anext__(self) -> bytes:
        """``receive_some()``; ``StopAsyncIteration`` at end of file."""
        data = await self.receive_some()
        if not data:
            raise StopAsyncIteration
        return data

    # ---- closing ----

    def close(self) -> None:
        """Closes the fd (idempotent): tasks waiting on it wake with
        ``ClosedResourceError``.  Restores the fd's original blocking mode
        first.  Not a checkpoint."""
        fd = self._fd
        if fd < 0:
            return
        runner = GLOBAL_RUN_CONTEXT.runner
        if runner is not None:
            runner.io.notify_closing(fd)
        self._raw_close()

    def _raw_close(self) -> None:
        fd = self._fd
        if fd < 0:
            return
        self._fd = -1  # first: a late use gets EBADF, never a reused fd
        try:
            os.set_blocking(fd, self._original_blocking)
        finally:
            os.close(fd)

    async def aclose(self) -> None:
        """``close()``, then a checkpoint (the stream is closed even if that
        raises ``Cancelled``)."""
        self.close()
        await checkpoint()

    def __del__(self) -> None:
        if self._fd < 0:
            return
        # Nobody waits on it (a waiter would hold a reference), but the run's
        # readiness cache may still know the fd: forget it, or a later owned
        # wait on the reused fd number would trust a dead registration.
        with contextlib.suppress(Exception):  # a finalizer must not raise
            runner = GLOBAL_RUN_CONTEXT.runner
            if runner is not None:
                runner.io.notify_closing(self._fd)
        with contextlib.suppress(Exception):
            self._raw_close()

    def __repr__(self) -> str:
        return f"<lowio.lowlevel.FdStream fd={self._fd}>"


def _translate(exc: OSError) -> Exception:
    if exc.errno == errno.EBADF:
        return ClosedResourceError("file was already closed")
    return BrokenResourceError(f"{exc.strerror or exc} (errno {exc.errno})")


__all__ = ["DEFAULT_RECEIVE_SIZE", "FdStream"]
