"""``ConflictDetector``: turns overlapping use of a one-task-at-a-time
operation into ``BusyResourceError`` (used by the test streams)."""

from __future__ import annotations

from types import TracebackType

from .._core import BusyResourceError


class ConflictDetector:
    """``with detector:`` marks the operation as in progress; entering while
    another task is inside raises ``BusyResourceError(message)``.  Not a
    checkpoint; run-thread only."""

    __slots__ = ("_held", "_message")

    def __init__(self, message: str) -> None:
        self._message = message
        self._held = False

    def __enter__(self) -> None:
        if self._held:
            raise BusyResourceError(self._message)
        self._held = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._held = False
