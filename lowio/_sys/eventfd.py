"""eventfd(2): the counter behind ``Waker`` and the poll(2) selector's notifier."""

from __future__ import annotations

from ._errors import os_error
from ._lifecycle import FdOwner
from ._native import lib

_wake = lib.lowio_eventfd_wake


class EventFd(FdOwner):
    """A non-blocking, close-on-exec eventfd.  ``wake()`` may be called from
    any thread; wakes before the reader looks coalesce."""

    KIND = "eventfd"

    def __init__(self) -> None:
        fd = lib.lowio_eventfd()
        if fd < 0:
            raise os_error(fd, "eventfd")
        super().__init__(fd)

    def fileno(self) -> int:
        self.check_open()
        return self._fd

    def wake(self) -> None:
        result = _wake(self._fd)
        if result < 0:
            raise self.state_error() or os_error(result, f"eventfd write (fd {self._fd})")
