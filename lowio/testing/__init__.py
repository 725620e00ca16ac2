"""``lowio.testing``: helpers for testing code that runs on lowio."""

from .._core import MockClock, wait_all_tasks_blocked
from .._threads import active_thread_count, wait_all_threads_completed
from ._checkpoints import assert_checkpoints, assert_no_checkpoints
from ._trio_test import trio_test

__all__ = [
    "MockClock",
    "active_thread_count",
    "assert_checkpoints",
    "assert_no_checkpoints",
    "trio_test",
    "wait_all_tasks_blocked",
    "wait_all_threads_completed",
]
