"""``Value`` / ``Error``: the outcome of a call, captured to be handed to
another thread or task (the shape of the ``outcome`` package, without
depending on it).

Both are accepted by ``lowio.lowlevel.reschedule`` (it reads ``.value`` /
``.error``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, NoReturn, TypeVar

T = TypeVar("T")


class Value(Generic[T]):
    """A call that returned ``value``."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def unwrap(self) -> T:
        """Returns the value."""
        return self.value

    def __repr__(self) -> str:
        return f"Value({self.value!r})"


class Error:
    """A call that raised ``error``."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        if not isinstance(error, BaseException):
            raise TypeError(f"Error needs an exception, not {error!r}")
        self.error = error

    def unwrap(self) -> NoReturn:
        """Raises the error (with its traceback, to which the caller's frames
        are added)."""
        error = self.error
        try:
            raise error
        finally:
            del error, self  # no reference cycle through this frame

    def __repr__(self) -> str:
        return f"Error({self.error!r})"


Outcome = Value[T] | Error


def capture(fn: Callable[..., T], *args: object) -> Outcome[T]:
    """``Value(fn(*args))``, or ``Error(exc)`` if it raised (any
    ``BaseException``); the traceback starts at ``fn``'s frame."""
    try:
        return Value(fn(*args))
    except BaseException as exc:
        tb = exc.__traceback__
        if tb is not None:
            exc.__traceback__ = tb.tb_next  # drop this frame
        del tb
        return Error(exc)


async def acapture(afn: Callable[..., Awaitable[T]], *args: object) -> Outcome[T]:
    """``capture`` for an async function: ``Value(await afn(*args))`` or
    ``Error(exc)``."""
    try:
        return Value(await afn(*args))
    except BaseException as exc:
        tb = exc.__traceback__
        if tb is not None:
            exc.__traceback__ = tb.tb_next
        del tb
        return Error(exc)
