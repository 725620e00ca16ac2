"""``lowio.open_signal_receiver``: signals as an async iterator (trio's API
and semantics).

How a signal reaches a task:

1. Python's C-level handler records the signal and writes one byte to the
   run's *wakeup fd* (``lowio._core._wakeup_fd``, installed by every run in
   the main thread and drained by its loop).  The byte breaks an
   ``epoll_wait`` that was entered just after the signal arrived, or that
   a signal delivered to another thread does not interrupt (without it,
   such a signal would wait for the next unrelated wake-up).
2. The Python-level handler installed here runs in the main thread between
   two bytecodes and calls ``token.run_sync_soon(receiver._add, signum,
   idempotent=True)``: the callback runs in the loop, and a
   signal raised twice before the loop gets to it is queued once.
3. ``_add`` records the signal in an ordered set (a second arrival before
   the receiver reads it is coalesced into the first) and wakes the task
   iterating.

On exit the previous handlers are restored, then signals still pending in
the receiver are re-raised (``signal.raise_signal``) so that the previous
handlers see them (trio's behaviour); a signal whose ``run_sync_soon``
callback runs after the exit is re-raised the same way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable
from types import FrameType
from typing import Any

from ._core._exceptions import BusyResourceError
from ._core._local import GLOBAL_RUN_CONTEXT, no_run_error
from ._core._parking_lot import ParkingLot
from ._core._traps import checkpoint

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class SignalReceiver:
    """The async iterator ``open_signal_receiver`` gives: yields signal
    numbers (plain ``int`` s, not ``signal.Signals``), oldest first, each pending signal
    once however often it arrived.  One task at a time may iterate."""

    def __init__(self) -> None:
        self._pending: OrderedDict[int, None] = OrderedDict()
        self._lot = ParkingLot()
        self._busy = False
        self._closed = False

    def _add(self, signum: int) -> None:
        # run in the loop by run_sync_soon
        if self._closed:
            signal.raise_signal(signum)  # the block has exited: redeliver
        else:
            self._pending[signum] = None
            self._lot.unpark()

    def _redeliver_remaining(self) -> None:
        self._closed = True

        # each pending signal is re-raised even if a handler raises: the
        # last handler's exception propagates, the earlier ones in its
        # ``__context__`` chain
        def deliver_next() -> None:
            if self._pending:
                signum, _ = self._pending.popitem(last=False)
                try:
                    signal.raise_signal(signum)
                finally:
                    deliver_next()

        deliver_next()

    def __aiter__(self) -> SignalReceiver:
        return self

    async def __anext__(self) -> int:
        """The next signal.  A checkpoint.  ``RuntimeError`` after the
        ``with`` block has exited; ``BusyResourceError`` if another task is
        already waiting here."""
        if self._closed:
            raise RuntimeError("open_signal_receiver block already exited")
        if self._busy:
            raise BusyResourceError("only one task can iterate on a signal receiver at a time")
        self._busy = True
        try:
            if self._pending:
                await checkpoint()
            else:
                await self._lot.park()
            if not self._pending:  # the block exited while we were woken
                raise RuntimeError("open_signal_receiver block already exited")
            signum, _ = self._pending.popitem(last=False)
            return signum
        finally:
            self._busy = False


def pending_signal_count(receiver: SignalReceiver) -> int:
    """How many distinct signals wait in ``receiver`` (for tests)."""
    return len(receiver._pending)


# The receivers' handlers installed now, oldest first: (signal, handler,
# the handler it replaced).  A forked child puts the previous ones back.
_installed: list[tuple[int, _Handler, _Handler]] = []


@contextlib.contextmanager
def _signal_handlers(signals: Iterable[int], handler: _Handler) -> Generator[None, None, None]:
    """Installs ``handler`` for ``signals`` and restores the previous handlers
    on exit (also if installing one of them failed)."""
    previous: dict[int, _Handler] = {}
    try:
        for signum in set(signals):
            previous[signum] = old = signal.signal(signum, handler)
            _installed.append((signum, handler, old))
        yield
    finally:
        _installed[:] = [entry for entry in _installed if entry[1] is not handler]
        for signum, old in previous.items():
            signal.signal(signum, old)


def _after_fork_in_child() -> None:
    # The receivers belong to the parent's run (their handlers would wake
    # its unusable Waker): the child gets the handlers from before them,
    # e.g. so that multiprocessing's terminate() still ends it.
    for signum, handler, previous in reversed(_installed):
        if signal.getsignal(signum) is handler:
            signal.signal(signum, previous)
    _installed.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


@contextlib.contextmanager
def open_signal_receiver(*signals: signal.Signals | int) -> Generator[SignalReceiver, None, None]:
    """A (sync) context manager that catches ``signals`` while its block runs
    and gives an async iterator of the signal numbers that arrive.

    ``async for signum in receiver`` waits for the next signal; each
    ``__anext__`` is a checkpoint.  A signal that arrives several times
    before it is read is yielded once.  Only one task may iterate at a time
    (``BusyResourceError``).  On exit the previous handlers are restored,
    and signals received but not yet read are re-raised so that those
    handlers see them.

    Raises ``TypeError`` if no signals are given, ``RuntimeError`` outside
    Python's main thread or outside a lowio run, and ``ValueError`` /
    ``TypeError`` / ``OSError`` (from ``signal.signal``) for a signal that
    cannot be caught; nothing is left installed then.  Not a checkpoint.
    """
    if not signals:
        raise TypeError("No signals were provided")
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            "Sorry, open_signal_receiver is only possible when running in "
            "Python interpreter's main thread"
        )
    runner = GLOBAL_RUN_CONTEXT.runner
    if runner is None:
        raise no_run_error("open_signal_receiver()")
    token = runner.token
    receiver = SignalReceiver()

    def handler(signum: int, frame: FrameType | None) -> None:
        token.run_sync_soon(receiver._add, signum, idempotent=True)

    try:
        with _signal_handlers(signals, handler):
            yield receiver
    finally:
        receiver._redeliver_remaining()


__all__ = ["SignalReceiver", "open_signal_receiver", "pending_signal_count"]
