"""anyio's ``CancelScope`` on a ``lowio.CancelScope``.

lowio's scopes already behave as anyio expects of a trio-like backend
(level-triggered cancellation, shields, deadlines on the run's clock), and
the ``Cancelled`` they raise names the reason and the cancelling task
(``cancelled due to explicit with reason 'why' from task <Task 'name'>``).
This class only adapts the interface.
"""

from __future__ import annotations

import math
from types import TracebackType
from typing import Any

from anyio._core._tasks import CancelScope as AnyioCancelScope

import lowio


class CancelScope(AnyioCancelScope):
    """An anyio cancel scope backed by ``lowio.CancelScope`` (``native``).

    Built in ``__new__``: anyio's ``CancelScope(...)`` calls the backend's
    ``create_cancel_scope`` from its own ``__new__``, after which Python
    calls ``__init__`` again on the object returned, so ``__init__`` must
    not build a second native scope.
    """

    __slots__ = ("native",)
    native: lowio.CancelScope

    def __new__(
        cls,
        native: lowio.CancelScope | None = None,
        *,
        deadline: float = math.inf,
        shield: bool = False,
    ) -> CancelScope:
        self = object.__new__(cls)
        self.native = (
            native if native is not None else lowio.CancelScope(deadline=deadline, shield=shield)
        )
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass  # see __new__

    @classmethod
    def _make(cls) -> CancelScope:
        """A new scope with no deadline and no shield (the fast way)."""
        self = object.__new__(cls)
        self.native = lowio.CancelScope()
        return self

    def __enter__(self) -> CancelScope:
        self.native.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool:
        return self.native.__exit__(exc_type, exc_val, exc_tb)

    def cancel(self, reason: str | None = None) -> None:
        self.native.cancel(reason)

    @property
    def deadline(self) -> float:
        return self.native.deadline

    @deadline.setter
    def deadline(self, value: float) -> None:
        self.native.deadline = value

    @property
    def cancel_called(self) -> bool:
        return self.native.cancel_called

    @property
    def cancelled_caught(self) -> bool:
        return self.native.cancelled_caught

    @property
    def shield(self) -> bool:
        return self.native.shield

    @shield.setter
    def shield(self, value: bool) -> None:
        self.native.shield = value

    def __repr__(self) -> str:
        return f"<anyio CancelScope on {self.native!r}>"
