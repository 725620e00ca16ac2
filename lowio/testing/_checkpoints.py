"""``assert_checkpoints`` / ``assert_no_checkpoints``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from .._core import current_task


@contextmanager
def _assert_yields_or_not(expected: bool) -> Iterator[None]:
    task = current_task()
    cancel_points = task._cancel_points
    schedule_points = task._schedule_points
    try:
        yield
        yielded = task._cancel_points > cancel_points and task._schedule_points > schedule_points
        if expected and not yielded:
            raise AssertionError("assert_checkpoints block did not yield!")
    finally:
        # as in trio: checked even when the block raised (e.g. Cancelled)
        if not expected and (
            task._cancel_points != cancel_points or task._schedule_points != schedule_points
        ):
            raise AssertionError("assert_no_checkpoints block yielded!")


def assert_checkpoints() -> AbstractContextManager[None]:
    """A context manager that fails (``AssertionError``) unless its block
    executes at least one checkpoint (a cancel point and a schedule point).
    A block that raises is not checked."""
    return _assert_yields_or_not(True)


def assert_no_checkpoints() -> AbstractContextManager[None]:
    """A context manager that fails if its block executes a checkpoint (even
    if the block raises)."""
    return _assert_yields_or_not(False)
