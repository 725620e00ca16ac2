"""``ParkingLot``: a FIFO queue of parked tasks, the building block of
lowio's synchronization primitives (trio's API)."""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import TYPE_CHECKING

from ._exceptions import BrokenResourceError, final
from ._local import GLOBAL_RUN_CONTEXT, no_run_error
from ._traps import Abort, wait_task_rescheduled

if TYPE_CHECKING:
    from ._task import Task


class ParkingLotStatistics:
    __slots__ = ("tasks_waiting",)

    def __init__(self, tasks_waiting: int) -> None:
        self.tasks_waiting = tasks_waiting

    def __repr__(self) -> str:
        return f"ParkingLotStatistics(tasks_waiting={self.tasks_waiting})"


def _count(count: int | float) -> int | float:
    """Checks the ``count`` of ``unpark`` / ``repark``: an ``int >= 0`` or
    ``math.inf`` (every parked task).  Any other float, integral or not,
    is a ``ValueError`` (the same text as trio's); a negative count is a
    ``ValueError`` too; anything that is not a number a ``TypeError``."""
    if isinstance(count, float):
        if count == math.inf:
            return count
        if math.isnan(count) or count != -math.inf:
            raise ValueError("Cannot pop a non-integer number of tasks.")
    elif not isinstance(count, int):
        raise TypeError(f"count must be an int or math.inf, not {type(count).__name__}")
    if count < 0:
        raise ValueError("count must be >= 0")
    return count


def add_parking_lot_breaker(task: Task, lot: ParkingLot) -> None:
    """Registers ``task`` as a breaker of ``lot``: when ``task`` exits, the
    lot is broken (``lot.break_lot(task)``), so that its waiters do not
    wait forever for something only ``task`` could give them (the owner of
    a ``Lock``).  A task may be registered for the same lot several times.
    ``BrokenResourceError`` if ``task`` has already exited."""
    runner = task._runner
    if task not in runner.tasks:
        raise BrokenResourceError("Attempted to add already exited task as lot breaker.")
    lots = runner.lot_breakers.get(task)
    if lots is None:
        runner.lot_breakers[task] = [lot]
    else:
        lots.append(lot)


def remove_parking_lot_breaker(task: Task, lot: ParkingLot) -> None:
    """Undoes one ``add_parking_lot_breaker(task, lot)``.  ``RuntimeError``
    if ``task`` is not registered for ``lot``."""
    breakers = task._runner.lot_breakers
    try:
        lots = breakers[task]
        lots.remove(lot)
    except (KeyError, ValueError):
        raise RuntimeError(
            "Attempted to remove task as breaker for a lot it is not registered for"
        ) from None
    if not lots:
        del breakers[task]


@final
class ParkingLot:
    """Tasks park here (``await lot.park()``, a checkpoint) until another
    task unparks them, oldest first.  Not thread-safe: use it from the run's
    thread."""

    __slots__ = ("_parked", "broken_by")

    def __init__(self) -> None:
        self._parked: OrderedDict[Task, None] = OrderedDict()
        self.broken_by: list[Task | None] = []  # who broke the lot (trio's)

    def __len__(self) -> int:
        return len(self._parked)

    def __bool__(self) -> bool:
        return bool(self._parked)

    async def park(self) -> None:
        """Parks the current task until unparked (or cancelled).
        ``BrokenResourceError`` if the lot was broken."""
        task = GLOBAL_RUN_CONTEXT.task
        if task is None:
            raise no_run_error("ParkingLot.park()")
        if self.broken_by:
            raise BrokenResourceError(
                f"Attempted to park in parking lot broken by {self.broken_by}"
            )
        task.custom_sleep_data = self
        self._parked[task] = None

        def abort(_: object) -> Abort:
            lot: ParkingLot = task.custom_sleep_data
            del lot._parked[task]
            return Abort.SUCCEEDED

        await wait_task_rescheduled(abort)

    def _pop_several(self, count: int | float) -> list[Task]:
        tasks: list[Task] = []
        parked = self._parked
        while parked and len(tasks) < count:
            task, _ = parked.popitem(last=False)
            tasks.append(task)
        return tasks

    def unpark(self, *, count: int | float = 1) -> list[Task]:
        """Wakes up to ``count`` tasks, oldest first; returns them."""
        tasks = self._pop_several(_count(count))
        for task in tasks:
            task._runner.reschedule(task)
        return tasks

    def unpark_all(self) -> list[Task]:
        return self.unpark(count=len(self))

    def repark(self, new_lot: ParkingLot, *, count: int | float = 1) -> None:
        """Moves up to ``count`` parked tasks to ``new_lot`` without waking them."""
        if not isinstance(new_lot, ParkingLot):
            raise TypeError("new_lot must be a ParkingLot")
        for task in self._pop_several(_count(count)):
            new_lot._parked[task] = None
            task.custom_sleep_data = new_lot

    def repark_all(self, new_lot: ParkingLot) -> None:
        self.repark(new_lot, count=len(self))

    def break_lot(self, task: Task | None = None) -> None:
        """Wakes every parked task with ``BrokenResourceError`` and makes
        later ``park()`` calls raise it (e.g. when the owner of a lock exits)."""
        if task is None:
            task = GLOBAL_RUN_CONTEXT.task
        if self.broken_by:
            self.broken_by.append(task)
            return
        self.broken_by.append(task)
        for parked in self._parked:
            parked._runner.reschedule_raise(
                parked,
                BrokenResourceError(f"Parking lot broken by {task}"),
            )
        self._parked.clear()

    def statistics(self) -> ParkingLotStatistics:
        return ParkingLotStatistics(len(self._parked))
