"""``lowio.testing``: helpers for testing code that runs on lowio."""

from .._core import MockClock, wait_all_tasks_blocked
from .._threads import active_thread_count, wait_all_threads_completed
from ._checkpoints import assert_checkpoints, assert_no_checkpoints
from ._network import open_stream_to_socket_listener

__all__ = [
    "MockClock",
    "active_thread_count",
    "assert_checkpoints",
    "assert_no_checkpoints",
    "open_stream_to_socket_listener",
    "wait_all_tasks_blocked",
    "wait_all_threads_completed",
]
