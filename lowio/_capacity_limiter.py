"""``CapacityLimiter``: a sack of tokens that bounds how many borrowers may
use a resource at once (trio's ``trio.CapacityLimiter``).

Every borrower (a task, or any object for the ``*_on_behalf_of`` methods)
holds at most one token.  Waiters are served oldest first: a token that is
put back goes straight to the longest waiter, never to a task that arrives
later, and ``acquire_nowait`` refuses while anyone is waiting.

The limiter keeps its own waiting line: each parked task with the borrower
it waits for.  A token is handed over by moving that borrower among the
holders and rescheduling the task, so a woken waiter already holds its
token when it runs; a waiter cancelled first just leaves the line.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from types import TracebackType

from ._core import (
    Abort,
    Task,
    WouldBlock,
    cancel_shielded_checkpoint,
    checkpoint_if_cancelled,
    current_task,
    wait_task_rescheduled,
)
from ._core._exceptions import final
from ._core._library_name import library_name


@dataclass(frozen=True, slots=True)
class CapacityLimiterStatistics:
    """What ``CapacityLimiter.statistics()`` returns (trio's fields).

    * ``borrowed_tokens``: how many tokens are out of the sack;
    * ``total_tokens``: the sack's size (it can be below ``borrowed_tokens``
      right after ``total_tokens`` was lowered);
    * ``borrowers``: who holds the tokens (tasks or other objects);
    * ``tasks_waiting``: how many tasks are blocked in ``acquire`` or
      ``acquire_on_behalf_of``.
    """

    borrowed_tokens: int
    total_tokens: int | float
    borrowers: list[Task | object]
    tasks_waiting: int


@final
class CapacityLimiter:
    """A sack of ``total_tokens`` tokens; a borrower takes one with
    ``acquire`` (or ``async with limiter:``) and puts it back with
    ``release``.  When the sack is empty, ``acquire`` waits, first come
    first served.

    ``total_tokens`` is an ``int >= 0`` or ``math.inf``; it may be changed
    at any time (see the property).  A borrower may hold only one token at
    a time: taking a second one is a ``RuntimeError``.

    ``lowio.to_thread.run_sync`` borrows tokens on behalf of its threads
    with ``acquire_on_behalf_of`` / ``release_on_behalf_of``.
    """

    def __init__(self, total_tokens: int | float) -> None:
        self._holders: set[Task | object] = set()
        # the waiting line, oldest first: parked task -> the borrower it
        # acquires for (itself, or the object of acquire_on_behalf_of)
        self._pending_borrowers: OrderedDict[Task, Task | object] = OrderedDict()
        self._total_tokens: int | float = 0
        self.total_tokens = total_tokens  # validates

    def __repr__(self) -> str:
        return (
            f"<{library_name()}.CapacityLimiter at {id(self):#x}, {len(self._holders)}/"
            f"{self._total_tokens} with {len(self._pending_borrowers)} waiting>"
        )

    @property
    def total_tokens(self) -> int | float:
        """The sack's size.  Assign to change it: raising it wakes as many
        waiters as there are new tokens at once (oldest first); lowering it
        below ``borrowed_tokens`` takes no token back, it only keeps new
        borrowers out until enough tokens are returned.

        ``TypeError`` unless an ``int`` or ``math.inf``; ``ValueError`` if
        negative.
        """
        return self._total_tokens

    @total_tokens.setter
    def total_tokens(self, new_total_tokens: int | float) -> None:
        if not isinstance(new_total_tokens, int) and new_total_tokens != math.inf:
            raise TypeError("total_tokens must be an int or math.inf")
        if new_total_tokens < 0:
            raise ValueError("total_tokens must be >= 0")
        self._total_tokens = new_total_tokens
        self._hand_out()

    def _hand_out(self) -> None:
        """Gives the free tokens to the oldest waiters and wakes them."""
        waiting = self._pending_borrowers
        free = self._total_tokens - len(self._holders)
        while waiting and free > 0:
            task, borrower = waiting.popitem(last=False)
            self._holders.add(borrower)
            task._runner.reschedule(task)
            free -= 1

    async def _wait_in_line(self, borrower: Task | object) -> None:
        """Parks the current task at the end of the line until
        ``_hand_out`` gives ``borrower`` a token.  Cancellation takes it
        out of the line (no token is taken)."""
        task = current_task()
        self._pending_borrowers[task] = borrower

        def leave_line(_: object) -> Abort:
            del self._pending_borrowers[task]
            return Abort.SUCCEEDED

        await wait_task_rescheduled(leave_line)

    @property
    def borrowed_tokens(self) -> int:
        """How many tokens are currently borrowed."""
        return len(self._holders)

    @property
    def available_tokens(self) -> int | float:
        """``total_tokens - borrowed_tokens`` (negative right after
        ``total_tokens`` was lowered below ``borrowed_tokens``)."""
        return self._total_tokens - len(self._holders)

    def acquire_nowait(self) -> None:
        """Takes a token for the current task without waiting.  Not a
        checkpoint.

        Raises:
          WouldBlock: if no token is free, or other tasks are waiting.
          RuntimeError: if the current task already holds a token.
        """
        self.acquire_on_behalf_of_nowait(current_task())

    def acquire_on_behalf_of_nowait(self, borrower: Task | object) -> None:
        """Takes a token for ``borrower`` (a task or any hashable object that
        names who holds it) without waiting.  Not a checkpoint.

        Raises:
          WouldBlock: if no token is free, or other tasks are waiting.
          RuntimeError: if ``borrower`` already holds a token.
        """
        if borrower in self._holders:
            raise RuntimeError(
                "this borrower is already holding one of this CapacityLimiter's tokens"
            )
        if self._pending_borrowers or len(self._holders) >= self._total_tokens:
            raise WouldBlock  # first come, first served: no barging past the line
        self._holders.add(borrower)

    async def acquire(self) -> None:
        """Takes a token for the current task, waiting (first come first
        served) if none is free.

        Always a checkpoint: a cancel point before anything is taken (a
        cancelled call takes no token), then a schedule point.  A task
        cancelled while it waits leaves the queue without a token.

        Raises:
          RuntimeError: if the current task already holds a token.
        """
        await self.acquire_on_behalf_of(current_task())

    async def acquire_on_behalf_of(self, borrower: Task | object) -> None:
        """Takes a token for ``borrower``, waiting if none is free; the
        checkpoint rules of ``acquire`` apply.

        Raises:
          RuntimeError: if ``borrower`` already holds a token.
        """
        await checkpoint_if_cancelled()
        try:
            self.acquire_on_behalf_of_nowait(borrower)
        except WouldBlock:
            await self._wait_in_line(borrower)
        else:
            await cancel_shielded_checkpoint()

    def release(self) -> None:
        """Puts the current task's token back; the oldest waiter, if any,
        gets it at once.  Not a checkpoint.

        Raises:
          RuntimeError: if the current task holds no token.
        """
        self.release_on_behalf_of(current_task())

    def release_on_behalf_of(self, borrower: Task | object) -> None:
        """Puts ``borrower``'s token back; the oldest waiter, if any, gets
        it at once.  Not a checkpoint.

        Raises:
          RuntimeError: if ``borrower`` holds no token.
        """
        if borrower not in self._holders:
            raise RuntimeError("this borrower isn't holding any of this CapacityLimiter's tokens")
        self._holders.remove(borrower)
        self._hand_out()

    def statistics(self) -> CapacityLimiterStatistics:
        """A ``CapacityLimiterStatistics`` (``borrowed_tokens``,
        ``total_tokens``, ``borrowers``, ``tasks_waiting``)."""
        return CapacityLimiterStatistics(
            borrowed_tokens=len(self._holders),
            total_tokens=self._total_tokens,
            borrowers=list(self._holders),
            tasks_waiting=len(self._pending_borrowers),
        )

    async def __aenter__(self) -> None:
        """``acquire()``: a checkpoint."""
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """``release()``: not a checkpoint."""
        self.release()
