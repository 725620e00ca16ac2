"""Open / closed / forked state shared by every object that owns a kernel fd.

Objects that own an fd (selectors, eventfds) derive from :class:`FdOwner`.
The fd is closed by ``close()``, when the object is collected, or at once in
a forked child, which must not touch its parent's poller: every later use
there raises ``RuntimeError``.
"""

from __future__ import annotations

import contextlib
import os
import weakref

from ._errors import closed_error, forked_error

OPEN = "open"
CLOSED = "closed"
FORKED = "forked"

_live: weakref.WeakSet[FdOwner] = weakref.WeakSet()


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


class FdOwner:
    """Owns one fd; subclasses set ``KIND`` (used in error messages)."""

    KIND = "object"

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._state = OPEN
        self._finalizer = weakref.finalize(self, _close_quietly, fd)
        _live.add(self)

    @property
    def closed(self) -> bool:
        return self._state != OPEN

    def state_error(self) -> Exception | None:
        """The error for using this object now, or None while it is open."""
        if self._state == CLOSED:
            return closed_error(self.KIND)
        if self._state == FORKED:
            return forked_error(self.KIND)
        return None

    def check_open(self) -> None:
        error = self.state_error()
        if error is not None:
            raise error

    def _release(self, state: str) -> None:
        if self._state == OPEN:
            self._state = state
            self._fd = -1
            self._on_release()
            self._finalizer()

    def _on_release(self) -> None:
        """Hook: forget C-side copies of the fd before it is closed."""

    def close(self) -> None:
        """Closes the fd; closing twice is fine."""
        self._release(CLOSED)


def _after_fork_in_child() -> None:
    for owner in list(_live):
        owner._release(FORKED)


os.register_at_fork(after_in_child=_after_fork_in_child)
