"""lowio: a low-level I/O backend for Python's structured-concurrency world.

* ``lowio.poll`` (``Poll``, ``Events``, ``Interest``, ``Waker`` are
  re-exported here): the poller, in the shape of Rust's mio.
* The runtime, with trio's names: ``lowio.run``, ``open_nursery``,
  ``CancelScope``, timeouts, ``sleep``; ``lowio.lowlevel`` and
  ``lowio.testing``.
"""

from . import lowlevel, socket, testing
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
from ._timeouts import (
    fail_after,
    fail_at,
    move_on_after,
    move_on_at,
    sleep,
    sleep_forever,
    sleep_until,
)
from .poll import Events, Interest, Poll, Waker

__version__ = "0.1.0"

__all__ = [
    "TASK_STATUS_IGNORED",
    "BrokenResourceError",
    "BusyResourceError",
    "CancelScope",
    "Cancelled",
    "ClosedResourceError",
    "EndOfChannel",
    "Events",
    "Interest",
    "LowioInternalError",
    "Nursery",
    "Poll",
    "RunFinishedError",
    "TaskStatus",
    "TooSlowError",
    "Waker",
    "WouldBlock",
    "__version__",
    "current_effective_deadline",
    "current_time",
    "fail_after",
    "fail_at",
    "lowlevel",
    "move_on_after",
    "move_on_at",
    "open_nursery",
    "run",
    "sleep",
    "sleep_forever",
    "sleep_until",
    "socket",
    "testing",
]
