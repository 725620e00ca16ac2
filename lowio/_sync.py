"""Synchronization primitives with trio's names and semantics: ``Event``,
``Lock``, ``StrictFIFOLock``, ``Semaphore``, ``Condition`` (and
``CapacityLimiter``, from ``_capacity_limiter``).

All are built on ``ParkingLot``, so waiters are served first come first
served, and a waiter that is cancelled simply leaves the queue: it never
takes (or loses) the lock or token it was waiting for.  Blocking operations
are checkpoints, releasing ones are not; each docstring says which.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Protocol

from ._capacity_limiter import CapacityLimiter, CapacityLimiterStatistics
from ._core import (
    BrokenResourceError,
    CancelScope,
    ParkingLot,
    ParkingLotStatistics,
    Task,
    WouldBlock,
    add_parking_lot_breaker,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_task,
    remove_parking_lot_breaker,
)
from ._core._exceptions import final
from ._core._local import GLOBAL_RUN_CONTEXT, no_run_error

__all__ = [
    "CapacityLimiter",
    "CapacityLimiterStatistics",
    "Condition",
    "ConditionStatistics",
    "Event",
    "EventStatistics",
    "Lock",
    "LockStatistics",
    "Semaphore",
    "StrictFIFOLock",
]

# ---- Event ----


@dataclass(frozen=True, slots=True)
class EventStatistics:
    """What ``Event.statistics()`` returns: ``tasks_waiting``, the number of
    tasks blocked in ``Event.wait``."""

    tasks_waiting: int


@final
class Event:
    """A flag that starts false and, once ``set()``, stays true; ``wait()``
    blocks until it is set.  It cannot be cleared: use a new ``Event`` for
    the next occurrence."""

    __slots__ = ("__weakref__", "_flag", "_lot")

    def __init__(self) -> None:
        self._lot = ParkingLot()
        self._flag = False

    def __repr__(self) -> str:
        return f"<lowio.Event object at {id(self):#x}>"

    def is_set(self) -> bool:
        """Whether ``set()`` was called."""
        return self._flag

    def set(self) -> None:
        """Sets the flag and wakes every waiter (oldest first).  Not a
        checkpoint; setting an already set event does nothing."""
        if not self._flag:
            self._flag = True
            # most sets wake nobody: skip the unpark machinery (the lot's
            # queue is read directly: ``bool(lot)`` is a Python call)
            if self._lot._parked:
                self._lot.unpark_all()

    async def wait(self) -> None:
        """Blocks until the flag is set.

        Always a checkpoint, even when the flag is already set (then it
        returns after a schedule point, or raises ``Cancelled`` in a
        cancelled scope).
        """
        if self._flag:
            await checkpoint()
        else:
            await self._lot.park()

    def statistics(self) -> EventStatistics:
        """An ``EventStatistics`` (``tasks_waiting``)."""
        return EventStatistics(tasks_waiting=len(self._lot))

    def __bool__(self) -> Literal[True]:
        """Raises ``NotImplementedError``: use ``is_set()``."""
        raise NotImplementedError(
            "lowio events cannot be treated as bools; consider using `event.is_set()` instead."
        )


# ---- the async context manager protocol of the lock-like classes ----


class _AcquireRelease(Protocol):
    async def acquire(self) -> object: ...

    def release(self) -> object: ...


class _AsyncContextManagerMixin:
    """``async with x:`` is ``await x.acquire()`` (a checkpoint) on entry and
    ``x.release()`` (not a checkpoint) on exit."""

    async def __aenter__(self: _AcquireRelease) -> None:
        await self.acquire()

    async def __aexit__(
        self: _AcquireRelease,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


# ---- Semaphore ----


@final
class Semaphore(_AsyncContextManagerMixin):
    """A counter that ``acquire()`` decrements, waiting while it is zero, and
    ``release()`` increments.  With ``max_value``, releasing past it is a
    ``ValueError`` (a bounded semaphore).  ``async with sem:`` acquires on
    entry and releases on exit.

    To limit how many tasks use a resource at once, ``CapacityLimiter``
    (which also checks who releases) is usually the better fit.

    ``TypeError`` unless ``initial_value`` is an ``int`` (and ``max_value``
    ``None`` or an ``int``); ``ValueError`` if ``initial_value`` is negative
    or above ``max_value``.
    """

    def __init__(self, initial_value: int, *, max_value: int | None = None) -> None:
        if not isinstance(initial_value, int):
            raise TypeError("initial_value must be an int")
        if initial_value < 0:
            raise ValueError("initial value must be >= 0")
        if max_value is not None:
            if not isinstance(max_value, int):
                raise TypeError("max_value must be None or an int")
            if max_value < initial_value:
                raise ValueError("max_values must be >= initial_value")
        # invariant: tasks wait in the lot only while the value is zero
        self._lot = ParkingLot()
        self._value = initial_value
        self._max_value = max_value

    def __repr__(self) -> str:
        bound = "" if self._max_value is None else f", max_value={self._max_value}"
        return f"<lowio.Semaphore({self._value}{bound}) at {id(self):#x}>"

    @property
    def value(self) -> int:
        """The current value."""
        return self._value

    @property
    def max_value(self) -> int | None:
        """The bound given to the constructor, or ``None``."""
        return self._max_value

    def acquire_nowait(self) -> None:
        """Decrements the value without waiting.  Not a checkpoint.

        Raises:
          WouldBlock: if the value is zero.
        """
        if self._value > 0:
            self._value -= 1
        else:
            raise WouldBlock

    async def acquire(self) -> None:
        """Decrements the value, waiting (first come first served) while it
        is zero.

        Always a checkpoint: a cancel point before anything is taken, then a
        schedule point.  A task cancelled while it waits leaves the queue
        without decrementing.
        """
        await checkpoint_if_cancelled()
        try:
            self.acquire_nowait()
        except WouldBlock:
            await self._lot.park()
        else:
            await cancel_shielded_checkpoint()

    def release(self) -> None:
        """Increments the value, or hands it straight to the oldest waiter.
        Not a checkpoint.

        Raises:
          ValueError: if the value would exceed ``max_value``.
        """
        if self._lot._parked:
            self._lot.unpark(count=1)
        else:
            if self._max_value is not None and self._value == self._max_value:
                raise ValueError("semaphore released too many times")
            self._value += 1

    def statistics(self) -> ParkingLotStatistics:
        """A ``ParkingLotStatistics`` (``tasks_waiting``: tasks blocked in
        ``acquire``)."""
        return self._lot.statistics()


# ---- Lock and StrictFIFOLock ----


@dataclass(frozen=True, slots=True)
class LockStatistics:
    """What ``Lock.statistics()`` returns: ``locked``, ``owner`` (the task
    holding the lock, or ``None``) and ``tasks_waiting`` (tasks blocked in
    ``acquire``)."""

    locked: bool
    owner: Task | None
    tasks_waiting: int


class _LockImpl(_AsyncContextManagerMixin):
    def __init__(self) -> None:
        self._lot = ParkingLot()
        self._owner: Task | None = None

    def __repr__(self) -> str:
        if self.locked():
            state, waiters = "locked", f" with {len(self._lot)} waiters"
        else:
            state, waiters = "unlocked", ""
        return f"<{state} {type(self).__name__} object at {id(self):#x}{waiters}>"

    def locked(self) -> bool:
        """Whether a task holds the lock."""
        return self._owner is not None

    def acquire_nowait(self) -> None:
        """Takes the lock without waiting.  Not a checkpoint.

        Raises:
          WouldBlock: if another task holds the lock, or tasks are waiting.
          RuntimeError: if the current task already holds it.
        """
        self._take(current_task())

    def _take(self, task: Task) -> None:
        if self._owner is None and not self._lot._parked:
            self._owner = task
            # if the owner exits without releasing, the waiters must not hang
            add_parking_lot_breaker(task, self._lot)
        elif self._owner is task:
            raise RuntimeError("attempt to re-acquire an already held Lock")
        else:
            raise WouldBlock

    async def acquire(self) -> None:
        """Takes the lock, waiting (first come first served) while another
        task holds it.

        Always a checkpoint: a cancel point before anything is taken, then a
        schedule point.  A task cancelled while it waits leaves the queue
        without the lock.

        Raises:
          RuntimeError: if the current task already holds the lock.
          BrokenResourceError: if the task holding the lock exited without
            releasing it.
        """
        # the checkpoint written out (as the memory channels do): a lock
        # taken and released around every send is on the hot path
        task = GLOBAL_RUN_CONTEXT.task
        if task is None:
            raise no_run_error(f"{type(self).__name__}.acquire()")
        if task._cancel_status.effectively_cancelled or task._ki_pending:
            await checkpoint_if_cancelled()  # raises
        task._cancel_points += 1
        lot = self._lot
        if self._owner is None and not lot._parked:  # _take's free case, inline (as _acquire_free)
            self._owner = task
            add_parking_lot_breaker(task, lot)
            await cancel_shielded_checkpoint()
            return
        try:
            self._take(task)
        except WouldBlock:
            try:
                # Condition.wait relies on this: being unparked from this lot
                # by release() is what hands a task the lock
                await self._lot.park()
            except BrokenResourceError:
                raise BrokenResourceError(
                    f"Owner of this lock exited without releasing: {self._owner}"
                ) from None
        else:
            await cancel_shielded_checkpoint()

    def _acquire_free(self) -> Awaitable[None] | None:
        """``acquire()``'s common case without its coroutine: if the lock
        is free, nobody waits and the current task is not due a
        cancellation, takes the lock (the cancel point passed) and returns
        the schedule point still to await; otherwise None (nothing done:
        call ``acquire()``).  From the run's thread."""
        task = GLOBAL_RUN_CONTEXT.task
        if (
            task is None
            or self._owner is not None
            or self._lot._parked
            or task._cancel_status.effectively_cancelled
            or task._ki_pending
        ):
            return None
        task._cancel_points += 1
        self._owner = task
        runner = task._runner
        breakers = runner.lot_breakers
        if task not in breakers and task in runner.tasks:
            breakers[task] = [self._lot]  # add_parking_lot_breaker's first lot, inline
        else:
            add_parking_lot_breaker(task, self._lot)
        return cancel_shielded_checkpoint()

    def __aenter__(self) -> Awaitable[None]:  # type: ignore[override]
        """``async with lock:`` -- ``acquire()``; a free lock is taken here,
        leaving only its schedule point to await (no coroutine between)."""
        step = self._acquire_free()
        return self.acquire() if step is None else step

    def release(self) -> None:
        """Releases the lock, handing it straight to the oldest waiter if
        any.  Not a checkpoint.

        Raises:
          RuntimeError: if the current task does not hold the lock.
        """
        task = GLOBAL_RUN_CONTEXT.task
        if task is None:
            raise no_run_error(f"{type(self).__name__}.release()")
        if task is not self._owner:
            raise RuntimeError("can't release a Lock you don't own")
        lot = self._lot
        breakers = task._runner.lot_breakers
        lots = breakers.get(task)
        if lots is not None and len(lots) == 1 and lots[0] is lot:
            del breakers[task]  # remove_parking_lot_breaker's only lot, inline
        else:
            remove_parking_lot_breaker(task, lot)
        if lot._parked:
            (owner,) = lot.unpark(count=1)
            self._owner = owner
            add_parking_lot_breaker(owner, lot)
        else:
            self._owner = None

    def statistics(self) -> LockStatistics:
        """A ``LockStatistics`` (``locked``, ``owner``, ``tasks_waiting``)."""
        return LockStatistics(locked=self.locked(), owner=self._owner, tasks_waiting=len(self._lot))


@final
class Lock(_LockImpl):
    """A mutex: one owner at a time, not re-entrant, and only the owner may
    release it (``RuntimeError`` otherwise).  Waiters get it first come
    first served.  ``async with lock:`` acquires on entry (a checkpoint) and
    releases on exit (not a checkpoint).

    If the owner exits without releasing, the lock is broken: its waiters,
    and later ``acquire`` calls, raise ``BrokenResourceError``.
    """


@final
class StrictFIFOLock(_LockImpl):
    """A ``Lock`` that promises strict first-come-first-served hand-over,
    for code that relies on it (e.g. tasks that queue chunks to send in the
    order a protocol state machine produced them).  Today every lowio
    ``Lock`` behaves this way; this name documents the reliance."""


# ---- Condition ----


@dataclass(frozen=True, slots=True)
class ConditionStatistics:
    """What ``Condition.statistics()`` returns: ``tasks_waiting`` (tasks
    blocked in ``wait``) and ``lock_statistics`` (the lock's
    ``LockStatistics``)."""

    tasks_waiting: int
    lock_statistics: LockStatistics


@final
class Condition(_AsyncContextManagerMixin):
    """A condition variable over a ``Lock`` (a new one if ``lock`` is
    ``None``; ``TypeError`` if it is not exactly a ``lowio.Lock``).

    ``async with cond:`` takes the lock.  ``wait()`` releases it, sleeps
    until ``notify``/``notify_all``, and takes it back before returning.
    Notified tasks wake in the order they started waiting.
    """

    def __init__(self, lock: Lock | None = None) -> None:
        if lock is None:
            lock = Lock()
        if type(lock) is not Lock:
            raise TypeError("lock must be a lowio.Lock")
        self._lock = lock
        self._lot = ParkingLot()

    def __repr__(self) -> str:
        return f"<lowio.Condition object at {id(self):#x}>"

    def locked(self) -> bool:
        """Whether the lock is held."""
        return self._lock.locked()

    def acquire_nowait(self) -> None:
        """``Lock.acquire_nowait`` on the lock: not a checkpoint;
        ``WouldBlock`` if it is held, ``RuntimeError`` if by this task."""
        self._lock.acquire_nowait()

    async def acquire(self) -> None:
        """``Lock.acquire`` on the lock: always a checkpoint.

        Raises:
          BrokenResourceError: if the lock's owner exited without releasing.
        """
        await self._lock.acquire()

    def release(self) -> None:
        """``Lock.release`` on the lock: not a checkpoint; ``RuntimeError``
        unless this task holds it."""
        self._lock.release()

    async def wait(self) -> None:
        """Releases the lock, waits for ``notify``/``notify_all``, then takes
        the lock back.  A checkpoint.

        Even when cancelled it takes the lock back (shielded, so possibly
        waiting for it) before raising ``Cancelled``, so that
        ``async with cond: await cond.wait()`` always exits holding the lock.

        Raises:
          RuntimeError: if the current task does not hold the lock (raised
            at once, not a checkpoint).
          BrokenResourceError: if the lock's owner exits without releasing
            while this task waits to take it back.
        """
        if current_task() is not self._lock._owner:
            raise RuntimeError("must hold the lock to wait")
        self.release()
        # notify() moves us to the lock's lot; the lock's release() then
        # unparks us as its new owner
        try:
            await self._lot.park()
        except BaseException:
            with CancelScope(shield=True):
                await self.acquire()
            raise

    def _check_owner(self) -> None:
        if current_task() is not self._lock._owner:
            raise RuntimeError("must hold the lock to notify")

    def notify(self, n: int = 1) -> None:
        """Wakes the ``n`` longest waiting tasks (they then queue for the
        lock).  Not a checkpoint.

        Raises:
          RuntimeError: if the current task does not hold the lock.
        """
        self._check_owner()
        self._lot.repark(self._lock._lot, count=n if n >= 0 else 0)

    def notify_all(self) -> None:
        """Wakes every waiting task (they then queue for the lock, in the
        order they started waiting).  Not a checkpoint.

        Raises:
          RuntimeError: if the current task does not hold the lock.
        """
        self._check_owner()
        self._lot.repark_all(self._lock._lot)

    def statistics(self) -> ConditionStatistics:
        """A ``ConditionStatistics`` (``tasks_waiting``,
        ``lock_statistics``)."""
        return ConditionStatistics(
            tasks_waiting=len(self._lot), lock_statistics=self._lock.statistics()
        )
