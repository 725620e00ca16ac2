"""``Poll``: waits for readiness of the sources in its ``Registry``."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from types import TracebackType
from typing import NamedTuple

from .._sys import DEFAULT_SELECTOR, SELECTORS, lib
from ._events import Events
from ._registry import Registry

# epoll_wait and poll take an int of milliseconds; longer waits are capped
# (the caller sees a timeout with no events, as with mio).
MAX_TIMEOUT_MS = 2**31 - 1
# A wait returns -errno, or a count plus LOWIO_MISSES when the events buffer
# has values to intern: this one bit is set in both cases (a small negative
# int has all its high bits set), so the hot path tests it alone.
_SLOW = int(lib.LOWIO_MISSES)


def timeout_ms(timeout: object) -> int:
    """Seconds (or None: forever) as whole milliseconds, rounded *up*, so
    that a positive timeout never becomes a non-blocking poll."""
    if timeout is None:
        return -1
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"timeout must be a number of seconds or None, not {type(timeout).__name__}"
        )
    if timeout != timeout:
        raise ValueError("timeout must not be NaN")
    if timeout < 0:
        raise ValueError(f"timeout must be >= 0 seconds or None, not {timeout}")
    if timeout == math.inf:
        return -1
    return min(math.ceil(timeout * 1000), MAX_TIMEOUT_MS)


class PreparedWaits(NamedTuple):
    """What :meth:`Poll.prepared_waits` returns.  A result ``r`` of either
    wait with ``r & WAIT_SLOW`` set goes to :meth:`Poll.complete_wait`."""

    forever: Callable[[], int]  # poll(events, None)
    now: Callable[[], int]  # poll(events, 0)
    raw: memoryview  # the whole buffer: the events are raw[:result]


WAIT_SLOW = _SLOW


class Poll:
    """A readiness poller in the shape of mio's ``Poll``.

    ``selector`` is ``"epoll"`` (the default) or ``"poll"`` (the poll(2)
    fallback, with the same edge-triggered semantics as mio's).

    Threads: one thread at a time calls :meth:`poll` (a second one gets
    ``RuntimeError``); any thread may use :attr:`registry` and a ``Waker``.
    A forked child must create its own ``Poll``: using the parent's raises
    ``RuntimeError``.  After :meth:`close` every use raises ``ValueError``;
    an unclosed ``Poll`` releases its fds when collected.
    """

    __slots__ = ("__weakref__", "_registry", "_selector", "_wait", "_wait0")

    def __init__(self, selector: str | None = None) -> None:
        name = DEFAULT_SELECTOR if selector is None else selector
        factory = SELECTORS.get(name) if isinstance(name, str) else None
        if factory is None:
            raise ValueError(
                f"unknown selector {selector!r}; choose one of {sorted(SELECTORS)} or None"
            )
        self._selector = factory()
        self._registry = Registry(self._selector)
        self._wait = self._selector.wait
        self._wait0 = self._selector.wait0

    @property
    def registry(self) -> Registry:
        """The registry of this poll (thread-safe)."""
        return self._registry

    @property
    def selector(self) -> str:
        """``"epoll"`` or ``"poll"``."""
        return self._selector.name

    def poll(self, events: Events, timeout: float | None = None) -> int:
        """Waits until a registered source is ready or ``timeout`` seconds
        pass (``None``: no limit; ``0``: asks the kernel without waiting),
        then fills ``events`` and returns how many it holds.

        The timeout is rounded up to whole milliseconds.  The GIL is released
        while waiting.  Interrupted by a signal, it runs the Python handlers
        (whose exception propagates) and waits for the rest of the timeout.
        """
        try:
            if events._bound is not self._selector:
                self._bind(events)
            if timeout == 0 and timeout is not False:  # the hot case: no timeout write
                ms = 0
                n = self._wait0(events._c)
            elif timeout is None:  # the other hot case: an event loop with nothing timed
                ms = -1
                if events._ms != -1:
                    events._c.timeout_ms = events._ms = -1
                n = self._wait(events._c)
            else:
                ms = timeout_ms(timeout)
                if events._ms != ms:
                    events._c.timeout_ms = events._ms = ms
                n = self._wait(events._c)
        except AttributeError:
            if not isinstance(events, Events):
                raise TypeError(
                    f"events must be lowio.Events, not {type(events).__name__}"
                ) from None
            raise
        if n & _SLOW:  # an error (-errno), or values to intern
            return self._wait_slow(n, events, ms)
        events._n = n
        return n

    def prepared_waits(self, events: Events) -> PreparedWaits:
        """For event loops that poll ``events`` over and over: the waits
        ``poll(events, None)`` and ``poll(events, 0)`` as zero-argument C
        calls (no Python frame, no argument checks; measured in
        docs/design.md §3.8), and the buffer they fill.

        Each call waits as :meth:`poll` would and returns a raw result
        ``r``: if ``r & WAIT_SLOW`` is 0, the ``r`` events are
        ``raw[:r]``, packed as :meth:`Events.packed` packs them; otherwise
        (an error, an interrupted wait, values to intern) pass ``r`` to
        :meth:`complete_wait`, which returns the count or raises what
        :meth:`poll` would raise.  They raise nothing themselves.  They do
        not update ``len(events)`` or its iteration, which describe the last
        :meth:`poll` or :meth:`complete_wait`.  The same threads rule as for
        :meth:`poll`.  Raises ``TypeError`` if ``events`` is not an
        ``Events``, ``ValueError`` if this poll is closed."""
        if not isinstance(events, Events):
            raise TypeError(f"events must be lowio.Events, not {type(events).__name__}")
        self._selector.check_open()
        if events._bound is not self._selector:
            self._bind(events)
        return PreparedWaits(
            functools.partial(self._selector.wait_forever, events._c),
            functools.partial(self._wait0, events._c),
            events._mv,
        )

    def complete_wait(self, events: Events, result: int, timeout: float | None) -> int:
        """Finishes a prepared wait of ``timeout`` (None or 0) that returned
        ``result`` with ``WAIT_SLOW`` set: after a wait a signal interrupted
        (its Python handlers have run by then; an exception of theirs
        propagates before this is called) it waits again; it returns the
        count, with ``events`` and ``raw`` filled as
        :meth:`poll` fills them, or raises what :meth:`poll` raises."""
        ms = timeout_ms(timeout)
        if ms and events._ms != ms:  # the retry of a wait with a timeout reads it
            events._c.timeout_ms = events._ms = ms
        return self._wait_slow(result, events, ms)

    def _bind(self, events: Events) -> None:
        self._selector.bind(events._c)
        events._bound = self._selector

    def _wait_slow(self, n: int, events: Events, ms: int) -> int:
        deadline = time.monotonic() + ms / 1000 if ms > 0 else 0.0
        while n < 0:
            error = self._selector.wait_error(n)
            if error is not None:
                raise error
            # EINTR: signal handlers run at this loop's back edge; go on
            # waiting for the rest of the timeout.
            if ms > 0:
                remaining = max(0, math.ceil((deadline - time.monotonic()) * 1000))
                events._c.timeout_ms = events._ms = remaining
            n = self._wait(events._c) if ms else self._wait0(events._c)
        return events._filled(n)

    def fileno(self) -> int:
        """The epoll fd (or the poll selector's notifier eventfd)."""
        return self._selector.fileno()

    @property
    def closed(self) -> bool:
        return self._selector.closed

    def close(self) -> None:
        """Closes the poller and its registry; closing twice is fine.  Do not
        close while another thread is inside :meth:`poll`."""
        self._selector.close()

    def __enter__(self) -> Poll:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<lowio.Poll selector={self.selector} {state}>"
