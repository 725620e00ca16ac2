"""The runtime's exceptions (trio's names and meanings)."""

from __future__ import annotations

import sys
from typing import Any, Literal, NoReturn, TypeVar
from typing import final as typing_final

from ._library_name import library_name

T = TypeVar("T")
C = TypeVar("C", bound=type)

CancelSource = Literal[
    "KeyboardInterrupt", "deadline", "explicit", "nursery", "shutdown", "unknown"
]


def _refuse_subclass(cls: type, /, **kwargs: object) -> NoReturn:
    raise TypeError(f"{cls.__module__}.{cls.__qualname__} does not support subclassing")


def final(cls: C) -> C:
    """``typing.final`` that also holds at run time: defining a subclass of
    ``cls`` raises ``TypeError`` ("... does not support subclassing").  For
    the classes whose invariants lowio relies on (a subclass could override
    what the scheduler calls behind its back)."""
    cls.__init_subclass__ = classmethod(_refuse_subclass)  # type: ignore[assignment]
    return typing_final(cls)


_PUBLIC_MODULES = ("", ".lowlevel", ".testing", ".abc", ".socket")


def _public_name(cls: type) -> str:
    """The name a program knows ``cls`` by: ``lowio.Cancelled`` (or
    ``trio.Cancelled`` under ``install_as_trio``), else its module path."""
    for public in _PUBLIC_MODULES:
        module = sys.modules.get("lowio" + public)
        if module is not None and getattr(module, cls.__qualname__, None) is cls:
            return f"{library_name()}{public}.{cls.__qualname__}"
    return f"{cls.__module__}.{cls.__qualname__}"


class NoPublicConstructor(type):
    """Metaclass for classes users must not instantiate: ``Cls(...)`` raises
    ``TypeError``; lowio itself uses ``Cls._create(...)``."""

    def __call__(cls, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError(f"{_public_name(cls)} has no public constructor")

    def _create(cls: type[T], *args: Any, **kwargs: Any) -> T:
        return super().__call__(*args, **kwargs)  # type: ignore[misc, no-any-return]


@final
class Cancelled(BaseException, metaclass=NoPublicConstructor):
    """Raised at a checkpoint inside a cancelled scope.  Let it propagate to
    the scope that was cancelled; it derives from ``BaseException`` so that
    ``except Exception`` does not swallow it.  Users cannot raise it: call
    ``CancelScope.cancel()`` instead.  Its text says who cancelled and why."""

    source: CancelSource = "unknown"
    source_task: str | None = None
    reason: str | None = None

    def __init__(
        self,
        *,
        source: CancelSource = "unknown",
        source_task: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.source_task = source_task
        self.reason = reason

    def __str__(self) -> str:
        return (
            f"cancelled due to {self.source}"
            + ("" if self.reason is None else f" with reason {self.reason!r}")
            + ("" if self.source_task is None else f" from task {self.source_task}")
        )

    def __repr__(self) -> str:
        return (
            f"Cancelled(source={self.source!r}, source_task={self.source_task!r}, "
            f"reason={self.reason!r})"
        )

    def __reduce__(self) -> Any:
        return (_rebuild_cancelled, (self.source, self.source_task, self.reason))


def _rebuild_cancelled(source: CancelSource, source_task: str | None, reason: str | None) -> Any:
    return Cancelled._create(source=source, source_task=source_task, reason=reason)


class TooSlowError(Exception):
    """Raised by ``fail_after`` / ``fail_at`` when the deadline passes."""


class BusyResourceError(Exception):
    """Another task is already using this resource (e.g. two tasks waiting to
    read the same fd)."""


class ClosedResourceError(Exception):
    """The resource was closed (by this task, or by ``notify_closing`` while
    another task waited on it)."""


class RunFinishedError(RuntimeError):
    """The ``lowio.run`` this token belongs to has finished."""


class WouldBlock(Exception):
    """Raised by ``*_nowait`` operations that would have to wait."""


class EndOfChannel(Exception):
    """The sending side of a channel was closed."""


class BrokenResourceError(Exception):
    """The resource broke in a way that makes it unusable (e.g. a reset)."""


class LowioInternalError(Exception):
    """A bug in lowio (or corrupted state, e.g. a crashing system task).
    Like trio's ``TrioInternalError``."""
