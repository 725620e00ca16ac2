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

from anyio._core._tasks import CancelScope as AnyioCancelScope

import lowio

_new_object = object.__new__


class CancelScope(AnyioCancelScope):
    """An anyio cancel scope backed by ``lowio.CancelScope`` (``native``).

    The backend makes its scopes with ``_new`` (``create_cancel_scope``);
    ``CancelScope(native)`` wraps an existing lowio scope.  There is no
    ``__init__``: anyio's ``CancelScope(...)`` returns the backend's scope
    from its own ``__new__``, after which Python calls ``__init__`` on it
    with anyio's arguments, which ``object.__init__`` ignores (the class
    defines ``__new__``).
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
        if native is None:
            return cls._new(deadline, shield)
        return cls._wrap(native)

    @classmethod
    def _wrap(cls, native: lowio.CancelScope) -> CancelScope:
        """The anyio scope on the existing lowio scope ``native``."""
        self = _new_object(cls)
        self.native = native
        return self

    @classmethod
    def _new(cls, deadline: float = math.inf, shield: bool = False) -> CancelScope:
        """A new scope on a new lowio scope (the fast way: no keyword
        arguments for the common scope without deadline or shield)."""
        self = _new_object(cls)
        if deadline is math.inf and shield is False:
            self.native = lowio.CancelScope()
        else:
            self.native = lowio.CancelScope(deadline=deadline, shield=shield)
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
