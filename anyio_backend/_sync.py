"""anyio's synchronization primitives on lowio's: ``Event``, ``Lock``
(with ``fast_acquire``), ``Semaphore`` and ``CapacityLimiter``.

lowio's primitives already have the semantics anyio's trio backend gives
(FIFO hand-over, cancellation-safe waits, checkpoints); these classes adapt
the interface and map the exceptions to anyio's (``WouldBlock``,
``BrokenResourceError``).  ``fast_acquire=True`` skips the schedule point
of an uncontended acquire: only a cancel point is left.
"""

from __future__ import annotations

from collections.abc import Awaitable
from types import TracebackType

from anyio import (
    BrokenResourceError,
    CapacityLimiterStatistics,
    EventStatistics,
    LockStatistics,
    WouldBlock,
)
from anyio._core._synchronization import CapacityLimiter as AnyioCapacityLimiter
from anyio._core._synchronization import Event as AnyioEvent
from anyio._core._synchronization import Lock as AnyioLock
from anyio._core._synchronization import Semaphore as AnyioSemaphore
from anyio._core._synchronization import SemaphoreStatistics

import lowio
from lowio import _internal_api as lowio_api
from lowio.lowlevel import ParkingLot, checkpoint, checkpoint_if_cancelled, current_task

from ._tasks import LowioTaskInfo

_REACQUIRE = "Attempted to acquire an already held Lock"


async def _acquire_fast(native: lowio.Lock | lowio.Semaphore) -> None:
    """``fast_acquire=True``: a cancel point, then no schedule point if the
    lock (or a unit) is free; otherwise a wait in the queue, where
    ``release()`` hands it straight to the task it unparks."""
    await checkpoint_if_cancelled()
    try:
        native.acquire_nowait()
    except lowio.WouldBlock:
        await lowio_api.wait_for_handover(native)


# The classes below build their objects in ``__new__`` and define no
# ``__init__`` (but Semaphore, whose anyio base has one): anyio's ``Event()``,
# ``Lock()``, ... return the backend's object from their own ``__new__``,
# after which Python calls ``__init__`` on it again with anyio's arguments,
# which ``object.__init__`` ignores (the classes define ``__new__``); an
# ``__init__`` here would build everything twice.
_new_object = object.__new__


class Event(AnyioEvent):
    """trio's ``Event`` semantics (``wait()`` is always a checkpoint), with
    the waiters' ``ParkingLot`` made on first wait: most events (anyio's
    task handles have one each) are set without ever being waited for."""

    __slots__ = ("_flag", "_lot")
    _flag: bool
    _lot: ParkingLot | None

    def __new__(cls) -> Event:
        return cls._make()

    @classmethod
    def _make(cls) -> Event:
        self = _new_object(cls)
        self._flag = False
        self._lot = None
        return self

    def set(self) -> None:
        if not self._flag:
            self._flag = True
            if self._lot is not None:
                self._lot.unpark_all()

    def is_set(self) -> bool:
        return self._flag

    async def wait(self) -> None:
        if self._flag:
            await checkpoint()
        else:
            lot = self._lot
            if lot is None:
                lot = self._lot = ParkingLot()
            await lot.park()

    def statistics(self) -> EventStatistics:
        return EventStatistics(tasks_waiting=0 if self._lot is None else len(self._lot))


class Lock(AnyioLock):
    __slots__ = ("_fast_acquire", "_native")
    _fast_acquire: bool
    _native: lowio.Lock

    def __new__(cls, *, fast_acquire: bool = False) -> Lock:
        return cls._make(fast_acquire)

    @classmethod
    def _make(cls, fast_acquire: bool) -> Lock:
        self = _new_object(cls)
        self._fast_acquire = fast_acquire
        self._native = lowio.Lock()
        return self

    async def acquire(self) -> None:
        try:
            if self._fast_acquire:
                await _acquire_fast(self._native)
            else:
                await self._native.acquire()
        except RuntimeError:
            self._raise_if_reacquired()
            raise
        except lowio.BrokenResourceError as exc:
            raise BrokenResourceError(*exc.args) from None

    def __aenter__(self) -> Awaitable[None]:  # type: ignore[override]
        # ``async with lock:``: a free lock is taken at once, leaving its
        # schedule point to await -- no coroutine of anyio's, of ours or of
        # lowio's between (``acquire()`` otherwise)
        if not self._fast_acquire:
            step = lowio_api.acquire_free_lock(self._native)
            if step is not None:
                return step
        return self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self._native.release()

    def acquire_nowait(self) -> None:
        try:
            self._native.acquire_nowait()
        except lowio.WouldBlock:
            raise WouldBlock from None
        except RuntimeError:
            self._raise_if_reacquired()
            raise

    def _raise_if_reacquired(self) -> None:
        """After lowio's acquire raised ``RuntimeError``: anyio's error if it
        was because the current task holds the lock already."""
        if self._native.statistics().owner is current_task():
            raise RuntimeError(_REACQUIRE) from None

    def locked(self) -> bool:
        return self._native.locked()

    def release(self) -> None:
        self._native.release()

    def statistics(self) -> LockStatistics:
        native = self._native.statistics()
        owner = native.owner
        return LockStatistics(
            owner is not None,
            None if owner is None else LowioTaskInfo(owner),
            native.tasks_waiting,
        )


class Semaphore(AnyioSemaphore):
    __slots__ = ("_native",)
    _native: lowio.Semaphore

    def __new__(
        cls, initial_value: int, *, max_value: int | None = None, fast_acquire: bool = False
    ) -> Semaphore:
        self = _new_object(cls)
        # anyio's checks (and its messages) first, once
        AnyioSemaphore.__init__(self, initial_value, max_value=max_value, fast_acquire=fast_acquire)
        self._native = lowio.Semaphore(initial_value, max_value=max_value)
        return self

    def __init__(
        self, initial_value: int, *, max_value: int | None = None, fast_acquire: bool = False
    ) -> None:
        pass  # built in __new__; this stops anyio's __init__ from checking again

    async def acquire(self) -> None:
        if self._fast_acquire:
            await _acquire_fast(self._native)
        else:
            await self._native.acquire()

    def acquire_nowait(self) -> None:
        try:
            self._native.acquire_nowait()
        except lowio.WouldBlock:
            raise WouldBlock from None

    def release(self) -> None:
        self._native.release()

    @property
    def value(self) -> int:
        return self._native.value

    @property
    def max_value(self) -> int | None:
        return self._native.max_value

    def statistics(self) -> SemaphoreStatistics:
        return SemaphoreStatistics(self._native.statistics().tasks_waiting)


class CapacityLimiter(AnyioCapacityLimiter):
    """Wraps a ``lowio.CapacityLimiter`` (``native``); the run's default
    thread limiter is wrapped the same way."""

    __slots__ = ("native",)
    native: lowio.CapacityLimiter

    def __new__(
        cls, total_tokens: float | None = None, *, native: lowio.CapacityLimiter | None = None
    ) -> CapacityLimiter:
        self = _new_object(cls)
        if native is None:
            assert total_tokens is not None
            native = lowio.CapacityLimiter(total_tokens)
        self.native = native
        return self

    async def __aenter__(self) -> None:
        await self.native.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.native.release()

    @property
    def total_tokens(self) -> float:
        return self.native.total_tokens

    @total_tokens.setter
    def total_tokens(self, value: float) -> None:
        self.native.total_tokens = value

    @property
    def borrowed_tokens(self) -> int:
        return self.native.borrowed_tokens

    @property
    def available_tokens(self) -> float:
        return self.native.available_tokens

    def acquire_nowait(self) -> None:
        try:
            self.native.acquire_nowait()
        except lowio.WouldBlock:
            raise WouldBlock from None

    def acquire_on_behalf_of_nowait(self, borrower: object) -> None:
        try:
            self.native.acquire_on_behalf_of_nowait(borrower)
        except lowio.WouldBlock:
            raise WouldBlock from None

    async def acquire(self) -> None:
        await self.native.acquire()

    async def acquire_on_behalf_of(self, borrower: object) -> None:
        await self.native.acquire_on_behalf_of(borrower)

    def release(self) -> None:
        self.native.release()

    def release_on_behalf_of(self, borrower: object) -> None:
        self.native.release_on_behalf_of(borrower)

    def statistics(self) -> CapacityLimiterStatistics:
        stats = self.native.statistics()
        return CapacityLimiterStatistics(
            borrowed_tokens=stats.borrowed_tokens,
            total_tokens=stats.total_tokens,
            borrowers=tuple(stats.borrowers),
            tasks_waiting=stats.tasks_waiting,
        )
