"""``lowio.lowlevel.FdStream``: a pipe, TTY or other pollable fd as an async
byte stream (trio's ``FdStream``).

I/O takes the owned fast path of docs/design.md §3.4: a cancel check, then the
system call; on EAGAIN the task parks on the fd's persistent edge-triggered
registration with no ``epoll_ctl`` (the EAGAIN proves the next change is an
edge) and retries when woken; when the call succeeds without parking, a
schedule point follows.  So every I/O method is a checkpoint, as in trio,
and data read is never lost to a cancellation.  ``close()`` calls
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

from ._core._exceptions import BrokenResourceError, BusyResourceError, ClosedResourceError
from ._core._io import IOManager
from ._core._local import GLOBAL_RUN_CONTEXT, no_run_error
from ._core._traps import cancel_shielded_checkpoint, checkpoint, checkpoint_if_cancelled

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


class FdStream(AsyncClosing):
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
        self._state = IOManager.UNCLAIMED  # the registration claimed (see IOManager.claim)

    def _io(self, what: str, write: bool) -> IOManager:
        """The run's I/O manager, with this stream's registration claimed."""
        runner = GLOBAL_RUN_CONTEXT.runner
        if runner is None:
            raise no_run_error(what)
        io = runner.io
        io.claim(self, write)
        return io

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
            await checkpoint_if_cancelled()
            parked = False
            with memoryview(data) as view:
                length = view.nbytes
                if view.ndim != 1 or view.itemsize != 1:
                    view = view.cast("B")  # bytes-like objects of other formats
                sent = 0
                while sent < length:
                    try:
                        with view[sent:] as remaining:
                            sent += os.write(self._fd, remaining)
                    except BlockingIOError:
                        io = self._io("FdStream.send_all()", True)
                        parked = True
                        await io.wait_owned_writable(self._fd)
                    except OSError as exc:
                        raise _translate(exc) from (None if exc.errno == errno.EBADF else exc)
            if not parked:
                await cancel_shielded_checkpoint()
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
            runner = GLOBAL_RUN_CONTEXT.runner
            if runner is None:
                raise no_run_error("FdStream.wait_send_all_might_not_block()")
            await runner.io.wait_writable(self._fd)
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
            await checkpoint_if_cancelled()
            try:
                data = os.read(self._fd, max_bytes)
            except BlockingIOError:
                pass
            except OSError as exc:
                raise _translate(exc) from (None if exc.errno == errno.EBADF else exc)
            else:
                await cancel_shielded_checkpoint()
                return data
            wait = self._io("FdStream.receive_some()", False).wait_owned_readable
            while True:
                await wait(self._fd)
                try:
                    return os.read(self._fd, max_bytes)
                except BlockingIOError:
                    pass
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
