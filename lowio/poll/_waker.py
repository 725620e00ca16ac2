"""``Waker``: wakes a thread blocked in ``Poll.poll`` from any other thread."""

from __future__ import annotations

from types import TracebackType

from ._registry import Registry, check_token


class Waker:
    """Registered with a ``Poll`` under ``token``; ``wake()`` (any thread, never
    blocks) makes the poll return an event for ``token`` that is readable.
    Wakes before the poller looks coalesce into one event.

    On epoll it is an eventfd registered edge-triggered; on the poll(2)
    selector, the selector's own eventfd.  A ``Poll`` has one ``Waker`` at a
    time (a second raises ``RuntimeError`` until the first is closed).  On a
    closed ``Poll`` the constructor raises ``ValueError``, on both selectors.
    """

    __slots__ = ("__weakref__", "_impl", "_token")

    def __init__(self, registry: Registry, token: int) -> None:
        if not isinstance(registry, Registry):
            raise TypeError(f"Waker needs a lowio.poll.Registry, not {type(registry).__name__}")
        self._token = check_token(token)
        self._impl = registry._selector.new_waker(self._token)

    @property
    def token(self) -> int:
        return self._token

    def wake(self) -> None:
        """Wakes the poller.  Raises ``ValueError`` after ``close()``."""
        self._impl.wake()

    def close(self) -> None:
        """Deregisters and releases the waker; closing twice is fine."""
        self._impl.close()

    def __enter__(self) -> Waker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._impl.closed else "open"
        return f"<lowio.poll.Waker token={self._token} {state}>"
