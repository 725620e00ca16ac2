"""lowio's runtime kernel (trio's ``_core``): the run loop and scheduler
(``_run``; the order within a batch, ``_schedule_order``), tasks
(``_task``), traps (``_traps``), cancel scopes (``_cancel``), nurseries
(``_nursery``), timers (``_timers``), clocks (``_clock``,
``_mock_clock``), I/O waits and the readiness cache (``_io``),
``run_sync_soon`` (``_entry_queue``), Ctrl-C (``_ki``), instruments,
async-generator hooks and ``ParkingLot``."""

from ._cancel import CancelScope
from ._clock import Clock, SystemClock
from ._current import (
    add_instrument,
    current_clock,
    current_effective_deadline,
    current_root_task,
    current_statistics,
    current_task,
    current_time,
    current_token,
    remove_instrument,
    reschedule,
    spawn_system_task,
    wait_all_tasks_blocked,
)
from ._driver import SteppedRun, run
from ._entry_queue import RunToken
from ._exceptions import (
    BrokenResourceError,
    BusyResourceError,
    Cancelled,
    ClosedResourceError,
    EndOfChannel,
    LowioInternalError,
    RunFinishedError,
    TooSlowError,
    WouldBlock,
)
from ._instruments import Instrument
from ._io import IOStatistics, fd_of
from ._local import GLOBAL_RUN_CONTEXT
from ._mock_clock import MockClock
from ._nursery import TASK_STATUS_IGNORED, Nursery, NurseryManager, TaskStatus, open_nursery
from ._parking_lot import (
    ParkingLot,
    ParkingLotStatistics,
    add_parking_lot_breaker,
    remove_parking_lot_breaker,
)
from ._run import Runner, RunStatistics
from ._task import Task
from ._traps import (
    Abort,
    RaiseCancelT,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    wait_task_rescheduled,
)

__all__ = [
    "GLOBAL_RUN_CONTEXT",
    "TASK_STATUS_IGNORED",
    "Abort",
    "BrokenResourceError",
    "BusyResourceError",
    "CancelScope",
    "Cancelled",
    "Clock",
    "ClosedResourceError",
    "EndOfChannel",
    "IOStatistics",
    "Instrument",
    "LowioInternalError",
    "MockClock",
    "Nursery",
    "NurseryManager",
    "ParkingLot",
    "ParkingLotStatistics",
    "RaiseCancelT",
    "RunFinishedError",
    "RunStatistics",
    "RunToken",
    "Runner",
    "SteppedRun",
    "SystemClock",
    "Task",
    "TaskStatus",
    "TooSlowError",
    "WouldBlock",
    "add_instrument",
    "add_parking_lot_breaker",
    "cancel_shielded_checkpoint",
    "checkpoint",
    "checkpoint_if_cancelled",
    "current_clock",
    "current_effective_deadline",
    "current_root_task",
    "current_statistics",
    "current_task",
    "current_time",
    "current_token",
    "fd_of",
    "open_nursery",
    "remove_instrument",
    "remove_parking_lot_breaker",
    "reschedule",
    "run",
    "spawn_system_task",
    "wait_all_tasks_blocked",
    "wait_task_rescheduled",
]
