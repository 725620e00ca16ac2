"""lowio: a low-level I/O backend for Python's structured-concurrency world.

* ``lowio.poll`` (``Poll``, ``Events``, ``Interest``, ``Waker`` are
  re-exported here): the poller, in the shape of Rust's mio.
* The runtime, with trio's names: ``lowio.run``, ``open_nursery``,
  ``CancelScope``, timeouts, ``sleep``; ``lowio.lowlevel`` and
  ``lowio.testing``.
"""

from . import abc, from_thread, lowlevel, socket, testing, to_thread
from ._core import (
    TASK_STATUS_IGNORED,
    BrokenResourceError,
    BusyResourceError,
    Cancelled,
    CancelScope,
    ClosedResourceError,
    EndOfChannel,
    LowioInternalError,
    Nursery,
    RunFinishedError,
    TaskStatus,
    TooSlowError,
    WouldBlock,
    current_effective_deadline,
    current_time,
    open_nursery,
    run,
)
from ._signals import open_signal_receiver
from ._subprocess import Process, open_process, run_process
from ._sync import (
    CapacityLimiter,
    CapacityLimiterStatistics,
    Condition,
    ConditionStatistics,
    Event,
    EventStatistics,
    Lock,
    LockStatistics,
    Semaphore,
    StrictFIFOLock,
)
from ._timeouts import (
    fail_after,
    fail_at,
    move_on_after,
    move_on_at,
    sleep,
    sleep_forever,
    sleep_until,
)
from ._trio_alias import install_as_trio
from ._warnings import LowioDeprecationWarning, TrioDeprecationWarning
from .poll import Events, Interest, Poll, Waker

__version__ = "0.1.0"

__all__ = [
    "TASK_STATUS_IGNORED",
    "BrokenResourceError",
    "BusyResourceError",
    "CancelScope",
    "Cancelled",
    "CapacityLimiter",
    "CapacityLimiterStatistics",
    "ClosedResourceError",
    "Condition",
    "ConditionStatistics",
    "EndOfChannel",
    "Event",
    "EventStatistics",
    "Events",
    "Interest",
    "Lock",
    "LockStatistics",
    "LowioDeprecationWarning",
    "LowioInternalError",
    "Nursery",
    "Poll",
    "Process",
    "RunFinishedError",
    "Semaphore",
    "StrictFIFOLock",
    "TaskStatus",
    "TooSlowError",
    "TrioDeprecationWarning",
    "Waker",
    "WouldBlock",
    "__version__",
    "abc",
    "current_effective_deadline",
    "current_time",
    "fail_after",
    "fail_at",
    "from_thread",
    "install_as_trio",
    "lowlevel",
    "move_on_after",
    "move_on_at",
    "open_nursery",
    "open_process",
    "open_signal_receiver",
    "run",
    "run_process",
    "sleep",
    "sleep_forever",
    "sleep_until",
    "socket",
    "testing",
    "to_thread",
]
