"""anyio's ``CancelScope`` on lowio's.

lowio's scopes already behave as anyio expects of a trio-like backend
(level-triggered cancellation, shields, deadlines on the run's clock), and
the ``Cancelled`` they raise names the reason and the cancelling task
(``cancelled due to explicit with reason 'why' from task <Task 'name'>``).

* ``CancelScope``, the scopes anyio code makes (``anyio.CancelScope()``,
  ``move_on_after``, ``fail_after``, ...), *is* a lowio scope that is also
  an anyio ``CancelScope``: entering, exiting and the properties are
  lowio's own, with no object or call between.
* ``WrappedCancelScope`` adapts a scope lowio made itself (a nursery's,
  for ``TaskGroup.cancel_scope``).
"""

from __future__ import annotations

import math
from types import TracebackType

from anyio._core._tasks import CancelScope as AnyioCancelScope

import lowio
from lowio import _internal_api as lowio_api

_new_object = object.__new__
_init_scope = lowio_api.BaseCancelScope.__init__
_lowio_repr = lowio_api.BaseCancelScope.__repr__


# (mypy sees a layout conflict: anyio's base only adds __weakref__, no conflict)
class CancelScope(lowio_api.BaseCancelScope, AnyioCancelScope):  # type: ignore[misc]
    """An anyio cancel scope that is a lowio scope.

    The backend makes its scopes with ``_new`` (``create_cancel_scope``).
    ``__init__`` is ``object.__init__``: anyio's ``CancelScope(...)``
    returns the backend's scope from its own ``__new__``, after which
    Python calls ``__init__`` on it with anyio's arguments, which must not
    build the scope a second time.
    """

    __slots__ = ()

    __init__ = object.__init__

    def __new__(cls, *, deadline: float = math.inf, shield: bool = False) -> CancelScope:
        return cls._new(deadline, shield)

    @classmethod
    def _new(cls, deadline: float = math.inf, shield: bool = False) -> CancelScope:
        """A new scope (the fast way: no keyword arguments for the common
        scope without deadline or shield)."""
        self = _new_object(cls)
        if deadline is math.inf and shield is False:
            _init_scope(self)
        else:
            _init_scope(self, deadline=deadline, shield=shield)
        return self

    def __repr__(self) -> str:
        return f"<anyio CancelScope on {_lowio_repr(self)}>"


class WrappedCancelScope(AnyioCancelScope):
    """An anyio cancel scope on the existing lowio scope ``native``."""

    __slots__ = ("native",)
    native: lowio.CancelScope

    def __new__(cls, native: lowio.CancelScope) -> WrappedCancelScope:
        self = _new_object(cls)
        self.native = native
        return self

    def __enter__(self) -> WrappedCancelScope:
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
