"""lowio: a low-level I/O backend for Python's structured-concurrency world.

* ``lowio.poll`` (``Poll``, ``Events``, ``Interest``, ``Waker`` are
  re-exported here): the poller, in the shape of Rust's mio.
* The runtime, with trio's names: ``lowio.run``, ``open_nursery``,
  ``CancelScope``, timeouts, ``sleep``; ``lowio.lowlevel`` and
  ``lowio.testing``.
* trio's high-level networking: ``SocketStream``, ``SocketListener``,
  ``open_tcp_stream``, ``open_tcp_listeners``, ``serve_tcp``,
  ``serve_listeners``, ``open_unix_socket``.
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
from ._open_tcp_stream import open_tcp_stream
from ._serve import serve_listeners
from ._signals import open_signal_receiver
from ._socket_stream import SocketListener, SocketStream
from ._stapled_stream import StapledStream, aclose_forcefully
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
from ._tcp_listeners import open_tcp_listeners, serve_tcp
from ._timeouts import (
    fail_after,
    fail_at,
    move_on_after,
    move_on_at,
    sleep,
    sleep_forever,
    sleep_until,
)
from ._unix_stream import open_unix_socket
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
    "LowioInternalError",
    "Nursery",
    "Poll",
    "Process",
    "RunFinishedError",
    "Semaphore",
    "SocketListener",
    "SocketStream",
    "StapledStream",
    "StrictFIFOLock",
    "TaskStatus",
    "TooSlowError",
    "Waker",
    "WouldBlock",
    "__version__",
    "abc",
    "aclose_forcefully",
    "current_effective_deadline",
    "current_time",
    "fail_after",
    "fail_at",
    "from_thread",
    "lowlevel",
    "move_on_after",
    "move_on_at",
    "open_nursery",
    "open_process",
    "open_signal_receiver",
    "open_tcp_listeners",
    "open_tcp_stream",
    "open_unix_socket",
    "run",
    "run_process",
    "serve_listeners",
    "serve_tcp",
    "sleep",
    "sleep_forever",
    "sleep_until",
    "socket",
    "testing",
    "to_thread",
]
