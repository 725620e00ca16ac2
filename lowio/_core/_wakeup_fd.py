"""The run's signal wakeup fd (``signal.set_wakeup_fd``): the one place
lowio touches it.

Python's C-level signal handler writes one byte to the wakeup fd for every
signal, in whichever thread the kernel delivered it to; the Python-level
handler runs later, in the main thread, between two bytecodes.  A run in
the main thread installs the write end of a non-blocking socketpair as the
wakeup fd and its poller watches the read end, so that

* a signal that lands just before the loop enters ``epoll_wait``, or one
  delivered to another thread (which does not interrupt ``epoll_wait``),
  still wakes the loop, and its Python-level handler (Ctrl-C's, a signal
  receiver's, a user's own) runs at once;
* the loop drains the read end whenever it is readable (``drain``), so the
  buffer never fills up: once full, the bytes are dropped and signals stop
  waking the loop.

(lowio's ``Waker`` is an eventfd, which refuses 1-byte writes: it cannot be
the wakeup fd.)

Another library's wakeup fd in place when the run (or a piece of a
``SteppedRun``) starts is saved and put back when it stops, unless someone
replaced lowio's meanwhile: then theirs stays.  In a forked child the
parent's installation is undone at once (its sockets belong to the
parent's run).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._io import FdState, IOManager


class SignalWakeup:
    """One run's wakeup fd.  ``install`` / ``uninstall`` are called by the
    driver in the run's thread around each piece of the run; ``drain`` by
    the loop when ``state.read_ready`` is set."""

    __slots__ = ("_io", "_previous", "_read", "_rfd", "_wfd", "_write", "state")

    def __init__(self) -> None:
        self.state: FdState | None = None  # the read end's readiness entry
        self._io: IOManager | None = None
        self._read: socket.socket | None = None
        self._write: socket.socket | None = None
        self._rfd = self._wfd = self._previous = -1

    def install(self, io: IOManager) -> None:
        """Creates the socketpair, registers its read end with ``io`` and
        makes its write end the wakeup fd.  Does nothing outside the main
        thread (only the main thread may set the wakeup fd).  Raises
        ``OSError`` if the sockets cannot be made (nothing is left behind)."""
        global _installed
        if self._read is not None or threading.current_thread() is not threading.main_thread():
            return
        read, write = socket.socketpair()
        self._io, self._read, self._write = io, read, write
        self._rfd, self._wfd = read.fileno(), write.fileno()
        try:
            read.setblocking(False)
            write.setblocking(False)
            self.state = io._new_state(self._rfd)
            self._previous = signal.set_wakeup_fd(self._wfd, warn_on_full_buffer=False)
        except BaseException:
            self.uninstall()
            raise
        _installed = self

    def drain(self) -> None:
        """Empties the read end (the loop calls it when it was readable).
        The flag is cleared first: a byte written after the last ``recv``
        is a new edge, reported by the next poll."""
        state = self.state
        if state is not None:
            state.read_ready = False
        read = self._read
        if read is not None:
            with contextlib.suppress(OSError):  # BlockingIOError: empty
                while read.recv(4096):
                    pass

    def uninstall(self) -> None:
        """Puts the previous wakeup fd back (unless ours was replaced) and
        closes the sockets.  Idempotent."""
        global _installed
        if _installed is self:
            _installed = None
            _restore(self._previous, self._wfd)
        io, self._io = self._io, None
        if self.state is not None and io is not None and not io.poll.closed:
            io.notify_closing(self._rfd)
        self.state = None
        for sock in (self._read, self._write):
            if sock is not None:
                sock.close()
        self._read = self._write = None


def _restore(previous: int, ours: int) -> None:
    current = signal.set_wakeup_fd(previous)
    if current != ours:  # someone replaced ours meanwhile: theirs stays
        signal.set_wakeup_fd(current)


# The installation in place (at most one: only a run in the main thread
# installs one, and runs do not nest).
_installed: SignalWakeup | None = None


def _after_fork_in_child() -> None:
    # The child's signals must not write into the parent's socketpair, and
    # a fresh run in the child must not save it as "the previous wakeup fd".
    global _installed
    wakeup = _installed
    if wakeup is None:
        return
    _installed = None
    _restore(wakeup._previous, wakeup._wfd)
    wakeup.state = None  # the parent's poller is unusable here
    for sock in (wakeup._read, wakeup._write):
        if sock is not None:
            sock.close()  # the child's copies only


os.register_at_fork(after_in_child=_after_fork_in_child)
