"""lowio: a low-level I/O backend for Python's structured-concurrency world.

* ``lowio.poll`` (``Poll``, ``Events``, ``Interest``, ``Waker`` are
  re-exported here): the poller, in the shape of Rust's mio.
* The runtime, with trio's names: ``lowio.run``, ``open_nursery``,
  ``CancelScope``, timeouts, ``sleep``; ``lowio.lowlevel`` and
  ``lowio.testing``.
* trio's high-level networking: ``SocketStream``, ``SocketListener``,
  ``open_tcp_stream``, ``open_tcp_listeners``, ``serve_tcp``,
  ``serve_listeners``, ``open_unix_socket``.
* Files: ``lowio.open_file``, ``wrap_file`` and ``lowio.Path`` (blocking
  file-system calls in worker threads).
"""

from . import abc, from_thread, lowlevel, poll, socket, testing, to_thread
from ._channel import (
    MemoryChannelStatistics,
    MemoryReceiveChannel,
    MemorySendChannel,
    open_memory_channel,
)
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
from ._dtls import DTLSEndpoint
from ._dtls_channel import DTLSChannel, DTLSChannelStatistics
from ._file_io import open_file, wrap_file
from ._open_tcp_stream import open_tcp_stream
from ._path import Path, PosixPath, WindowsPath
from ._safe_channel import as_safe_channel
from ._serve import serve_listeners
from ._signals import open_signal_receiver
from ._socket_stream import SocketListener, SocketStream
from ._ssl import NeedHandshakeError, SSLListener, SSLStream
from ._ssl_over_tcp import (
    open_ssl_over_tcp_listeners,
    open_ssl_over_tcp_stream,
    serve_ssl_over_tcp,
)
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
from ._trio_alias import install_as_trio
from ._unix_stream import open_unix_socket
from ._warnings import LowioDeprecationWarning, TrioDeprecationWarning
from .poll import Events, Interest, Poll, Waker

TrioInternalError = LowioInternalError  # the name trio code uses

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
    "DTLSChannel",
    "DTLSChannelStatistics",
    "DTLSEndpoint",
    "EndOfChannel",
    "Event",
    "EventStatistics",
    "Events",
    "Interest",
    "Lock",
    "LockStatistics",
    "LowioDeprecationWarning",
    "LowioInternalError",
    "MemoryChannelStatistics",
    "MemoryReceiveChannel",
    "MemorySendChannel",
    "NeedHandshakeError",
    "Nursery",
    "Path",
    "Poll",
    "PosixPath",
    "Process",
    "RunFinishedError",
    "SSLListener",
    "SSLStream",
    "Semaphore",
    "SocketListener",
    "SocketStream",
    "StapledStream",
    "StrictFIFOLock",
    "TaskStatus",
    "TooSlowError",
    "TrioDeprecationWarning",
    "TrioInternalError",
    "Waker",
    "WindowsPath",
    "WouldBlock",
    "__version__",
    "abc",
    "aclose_forcefully",
    "as_safe_channel",
    "current_effective_deadline",
    "current_time",
    "fail_after",
    "fail_at",
    "from_thread",
    "install_as_trio",
    "lowlevel",
    "move_on_after",
    "move_on_at",
    "open_file",
    "open_memory_channel",
    "open_nursery",
    "open_process",
    "open_signal_receiver",
    "open_ssl_over_tcp_listeners",
    "open_ssl_over_tcp_stream",
    "open_tcp_listeners",
    "open_tcp_stream",
    "open_unix_socket",
    "poll",
    "run",
    "run_process",
    "serve_listeners",
    "serve_ssl_over_tcp",
    "serve_tcp",
    "sleep",
    "sleep_forever",
    "sleep_until",
    "socket",
    "testing",
    "to_thread",
    "wrap_file",
]
