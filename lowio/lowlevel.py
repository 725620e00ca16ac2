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
    add_parking_lot_breaker,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_clock,
    current_root_task,
    current_statistics,
    current_task,
    current_token,
    remove_instrument,
    remove_parking_lot_breaker,
    reschedule,
    spawn_system_task,
    wait_task_rescheduled,
)
from ._core._detach import (
    permanently_detach_coroutine_object,
    reattach_detached_coroutine_object,
    temporarily_detach_coroutine_object,
)
from ._core._guest import start_guest_run
from ._core._ki import currently_ki_protected, disable_ki_protection, enable_ki_protection
from ._core._local import in_run, in_task
from ._core._runvar import RunVar, RunVarToken
from ._core._thread_cache import start_thread_soon
from ._core._unbounded_queue import UnboundedQueue, UnboundedQueueStatistics
from ._fd_stream import FdStream
from ._io_waits import notify_closing, wait_readable, wait_writable
from ._socket_resolve import encode_hostname
from ._subprocess import open_process

# the names trio code uses
TrioToken = RunToken
current_trio_token = current_token
in_trio_run = in_run
in_trio_task = in_task

__all__ = [
    "Abort",
    "FdStream",
    "Instrument",
    "ParkingLot",
    "ParkingLotStatistics",
    "RaiseCancelT",
    "RunStatistics",
    "RunToken",
    "RunVar",
    "RunVarToken",
    "Task",
    "TrioToken",
    "UnboundedQueue",
    "UnboundedQueueStatistics",
    "add_instrument",
    "add_parking_lot_breaker",
    "cancel_shielded_checkpoint",
    "checkpoint",
    "checkpoint_if_cancelled",
    "current_clock",
    "current_root_task",
    "current_statistics",
    "current_task",
    "current_token",
    "current_trio_token",
    "currently_ki_protected",
    "disable_ki_protection",
    "enable_ki_protection",
    "encode_hostname",
    "in_run",
    "in_task",
    "in_trio_run",
    "in_trio_task",
    "notify_closing",
    "open_process",
    "permanently_detach_coroutine_object",
    "reattach_detached_coroutine_object",
    "remove_instrument",
    "remove_parking_lot_breaker",
    "reschedule",
    "spawn_system_task",
    "start_guest_run",
    "start_thread_soon",
    "temporarily_detach_coroutine_object",
    "wait_readable",
    "wait_task_rescheduled",
    "wait_writable",
]
