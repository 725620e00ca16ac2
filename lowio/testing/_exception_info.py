"""What ``with RaisesGroup(...) as info:`` binds ``info`` to when pytest is
not installed: a small record of the caught exception group, filled in as
the block exits (with pytest installed it is ``pytest.ExceptionInfo``)."""

from __future__ import annotations

import builtins
import re
import traceback
import types
from re import Pattern
from typing import Generic, TypeVar

from .._core._exceptions import final

__all__ = ["_ExceptionInfo"]

E = TypeVar("E", bound=BaseException, covariant=True)

_EMPTY = "the exception is only known once the `with RaisesGroup(...)` block has exited"


@final
class _ExceptionInfo(Generic[E]):
    """The exception a ``RaisesGroup`` block caught: ``type``, ``value`` and
    ``tb`` (reading one before the block has exited raises
    ``AssertionError``), plus the helpers of ``pytest.ExceptionInfo`` that do
    not need pytest (``typename``, ``exconly``, ``errisinstance``,
    ``match``).  Plain data: any thread may read it."""

    def __init__(self, excinfo: tuple[type[E], E, types.TracebackType | None] | None) -> None:
        self._excinfo = excinfo

    @classmethod
    def for_later(cls) -> _ExceptionInfo[E]:
        """An empty record, filled by ``fill_unfilled`` when the block exits."""
        return cls(None)

    def fill_unfilled(self, exc_info: tuple[type[E], E, types.TracebackType | None]) -> None:
        """Record the caught exception; ``AssertionError`` if already filled."""
        if self._excinfo is not None:
            raise AssertionError("this ExceptionInfo was already filled")
        self._excinfo = exc_info

    def _filled(self) -> tuple[type[E], E, types.TracebackType | None]:
        if self._excinfo is None:
            raise AssertionError(_EMPTY)
        return self._excinfo

    @property
    def type(self) -> type[E]:
        """The caught exception's class."""
        return self._filled()[0]

    @property
    def value(self) -> E:
        """The caught exception."""
        return self._filled()[1]

    @property
    def tb(self) -> types.TracebackType | None:
        """The caught exception's traceback."""
        return self._filled()[2]

    @property
    def typename(self) -> str:
        """The name of the caught exception's class."""
        return self.type.__name__

    def exconly(self, tryshort: bool = False) -> str:
        """The last line(s) of the traceback: ``"ExceptionGroup: msg (1
        sub-exception)"``.  ``tryshort`` is accepted for pytest's signature;
        there is no assertion rewriting prefix to strip here."""
        return "".join(traceback.format_exception_only(self.type, self.value)).rstrip("\n")

    def errisinstance(
        self, exc: builtins.type[BaseException] | tuple[builtins.type[BaseException], ...]
    ) -> bool:
        """Whether the caught exception is an instance of ``exc``."""
        return isinstance(self.value, exc)

    def match(self, regexp: str | Pattern[str]) -> bool:
        """``re.search`` of ``regexp`` in the caught exception's text
        (``str()`` of it); ``AssertionError`` naming both if it does not
        match, else True."""
        text = str(self.value)
        if re.search(regexp, text) is None:
            raise AssertionError(f"Regex pattern {regexp!r} does not match {text!r}.")
        return True

    def __repr__(self) -> str:
        if self._excinfo is None:
            return "<ExceptionInfo for raises contextmanager>"
        return f"<ExceptionInfo {self.value!r} tblen={len(traceback.extract_tb(self.tb))}>"
