"""``lowio.testing``: helpers for testing code that runs on lowio."""

from .._core import MockClock, wait_all_tasks_blocked
from ._checkpoints import assert_checkpoints, assert_no_checkpoints

__all__ = ["MockClock", "assert_checkpoints", "assert_no_checkpoints", "wait_all_tasks_blocked"]
