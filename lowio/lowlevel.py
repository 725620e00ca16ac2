"""``lowio.lowlevel``: the building blocks under lowio's public API
(trio's ``trio.lowlevel`` names)."""

from ._core import (
    Abort,
    Instrument,
    ParkingLot,
    ParkingLotStatistics,
    RaiseCancelT,
    RunStatistics,
    RunToken,
    Task,
    add_instrument,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_clock,
    current_root_task,
    current_statistics,
    current_task,
    current_token,
    remove_instrument,
    reschedule,
    spawn_system_task,
    wait_task_rescheduled,
)
from ._io_waits import notify_closing, wait_readable, wait_writable

TrioToken = RunToken  # the name trio code uses

__all__ = [
    "Abort",
    "Instrument",
    "ParkingLot",
    "ParkingLotStatistics",
    "RaiseCancelT",
    "RunStatistics",
    "RunToken",
    "Task",
    "TrioToken",
    "add_instrument",
    "cancel_shielded_checkpoint",
    "checkpoint",
    "checkpoint_if_cancelled",
    "current_clock",
    "current_root_task",
    "current_statistics",
    "current_task",
    "current_token",
    "notify_closing",
    "remove_instrument",
    "reschedule",
    "spawn_system_task",
    "wait_readable",
    "wait_task_rescheduled",
    "wait_writable",
]
