"""``RaisesGroup`` and ``Matcher``: trio.testing's checkers for exception
groups, with trio's behaviour and failure messages.

trio 0.33 deprecated them in favour of pytest's ``pytest.RaisesGroup`` and
``pytest.RaisesExc`` (reading ``lowio.testing.RaisesGroup`` warns, as
``trio.testing.RaisesGroup`` does); they stay for test suites written
against trio's, whose messages differ from pytest's.  They need no pytest:
``with RaisesGroup(...) as info`` gives ``pytest.ExceptionInfo`` if pytest
is installed, else the small ``_ExceptionInfo``.

Both are plain objects (no I/O, no checkpoints); one instance is not meant
to be used by two threads at once (``fail_reason`` is per instance).
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable, Sequence
from re import Pattern
from textwrap import indent
from typing import TYPE_CHECKING, Any, Generic, TypeGuard, TypeVar, Union, cast, overload

from .._core._exceptions import final
from ._exception_info import _ExceptionInfo
from ._raises_group_report import (
    Pairing,
    exception_text,
    pattern_text,
    type_mismatch,
    type_name,
)

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup  # type: ignore[import-not-found]


__all__ = ["ExceptionInfo", "Matcher", "RaisesGroup", "repr_callable"]

if TYPE_CHECKING:
    ExceptionInfo = _ExceptionInfo
else:
    # Read by RaisesGroup.__enter__ at each call (so it can be replaced).
    try:
        from pytest import ExceptionInfo
    except ImportError:
        ExceptionInfo = _ExceptionInfo

E = TypeVar("E", bound=BaseException, covariant=True)
BaseExcT = TypeVar("BaseExcT", bound=BaseException)
ExcT = TypeVar("ExcT", bound=Exception)


def repr_callable(fun: Callable[..., object]) -> str:
    """How a ``check`` callable appears in reprs and messages (``repr``).
    Looked up at each use, so a test suite may replace it with something
    more readable (Hypothesis's function descriptions, for instance)."""
    return repr(fun)


class _Criteria(Generic[E]):
    """What ``Matcher`` and ``RaisesGroup`` share: the optional ``match``
    pattern and ``check`` callable, and ``fail_reason``."""

    def __init__(
        self, match: str | Pattern[str] | None, check: Callable[[Any], bool] | None
    ) -> None:
        self.match: Pattern[str] | None = re.compile(match) if isinstance(match, str) else match
        self.check = check
        self._fail_reason: str | None = None
        # inside a RaisesGroup, whose message already shows this one's repr
        # (check included): "check did not return True" then omits the repr
        self._nested = False

    @property
    def fail_reason(self) -> str | None:
        """Why the last ``matches()`` call returned False (None after a match);
        a context manager raises ``AssertionError`` with this text."""
        return self._fail_reason

    def _passes_check(self, exc: BaseException) -> bool:
        if self.check is None or self.check(exc):
            return True
        shown = "" if self._nested else " " + repr_callable(self.check)
        self._fail_reason = f"check{shown} did not return True"
        return False

    def _passes_match(self, exc: BaseException) -> bool:
        if self.match is None:
            return True
        text = exception_text(exc)
        if re.search(self.match, text):
            return True
        shown = pattern_text(self.match)
        of_group = f" of {type_name(type(exc))}" if isinstance(exc, BaseExceptionGroup) else ""
        self._fail_reason = f"Regex pattern {shown!r} did not match {text!r}{of_group}"
        if shown == text:
            self._fail_reason += "\n  Did you mean to `re.escape()` the regex?"
        return False

    def _described_parameters(self) -> list[str]:
        shown = []
        if self.match is not None:
            shown.append(f"match={pattern_text(self.match)!r}")
        if self.check is not None:
            shown.append(f"check={repr_callable(self.check)}")
        return shown


@final
class Matcher(_Criteria[E]):
    """Expects one exception: of ``exception_type`` (``isinstance``), whose
    text (message and notes) ``match`` finds with ``re.search``, for which
    ``check(exc)`` is true; give at least one of the three.

    Used inside ``RaisesGroup(...)`` for what a bare type cannot say
    (``RaisesGroup(Matcher(OSError, check=lambda e: e.errno == 5))``), or
    alone: ``Matcher(...).matches(exc)``.

    Raises ``ValueError`` if nothing is given or ``exception_type`` is not a
    ``BaseException`` subclass.
    """

    @overload
    def __init__(
        self,
        exception_type: type[E],
        match: str | Pattern[str] | None = ...,
        check: Callable[[E], bool] | None = ...,
    ) -> None: ...

    @overload
    def __init__(
        self: Matcher[BaseException],
        *,
        match: str | Pattern[str],
        check: Callable[[BaseException], bool] | None = ...,
    ) -> None: ...

    @overload
    def __init__(
        self: Matcher[BaseException], *, check: Callable[[BaseException], bool]
    ) -> None: ...

    def __init__(
        self,
        exception_type: type[E] | None = None,
        match: str | Pattern[str] | None = None,
        check: Callable[[E], bool] | None = None,
    ) -> None:
        if exception_type is None and match is None and check is None:
            raise ValueError("You must specify at least one parameter to match on.")
        if exception_type is not None and not (
            isinstance(exception_type, type) and issubclass(exception_type, BaseException)
        ):
            raise ValueError(f"exception_type {exception_type} must be a subclass of BaseException")
        super().__init__(match, check)
        self.exception_type = exception_type

    def matches(self, exception: BaseException) -> TypeGuard[E]:
        """Whether ``exception`` meets every criterion; if not,
        ``fail_reason`` says which one failed first (type, then pattern,
        then check)."""
        self._fail_reason = type_mismatch(self.exception_type, exception)
        return (
            self._fail_reason is None
            and self._passes_match(exception)
            and self._passes_check(exception)
        )

    def __repr__(self) -> str:
        shown = [] if self.exception_type is None else [self.exception_type.__name__]
        return f"Matcher({', '.join(shown + self._described_parameters())})"


# what RaisesGroup accepts as an expected exception
_Expected = Union[type[BaseException], Matcher[BaseException], "RaisesGroup[BaseException]"]


def _flattened(exceptions: Sequence[BaseException]) -> list[BaseException]:
    """The leaves of nested exception groups, depth first."""
    leaves: list[BaseException] = []
    for exc in exceptions:
        if isinstance(exc, BaseExceptionGroup):
            leaves.extend(_flattened(exc.exceptions))
        else:
            leaves.append(exc)
    return leaves


def _described(expected: object) -> str:
    """An expectation as the messages name it: a type by its quoted name,
    a Matcher or RaisesGroup by its repr."""
    return type_name(expected) if isinstance(expected, type) else repr(expected)


def _refusal(expected: object, exc: BaseException) -> str | None:
    """Why ``exc`` does not meet one expectation (None if it does); a
    Matcher's or nested RaisesGroup's reason is prefixed with its repr."""
    if isinstance(expected, type):
        return type_mismatch(expected, exc)
    checker = cast("Matcher[BaseException] | RaisesGroup[BaseException]", expected)
    if checker.matches(exc):
        return None
    reason = checker.fail_reason or ""
    if reason.startswith("\n"):  # a multi-line report: indented under the repr
        return f"\n{checker!r}: {indent(reason, '  ')}"
    return f"{checker!r}: {reason}"


_UNWRAPPED_MANY = (
    "You cannot specify multiple exceptions with `allow_unwrapped=True.`"
    " If you want to match one of multiple possible exceptions you should"
    " use a `Matcher`. E.g. `Matcher(check=lambda e: isinstance(e, (...)))`"
)
_UNWRAPPED_GROUP = (
    "`allow_unwrapped=True` has no effect when expecting a `RaisesGroup`."
    " You might want it in the expected `RaisesGroup`, or"
    " `flatten_subgroups=True` if you don't care about the structure."
)
_UNWRAPPED_CRITERIA = (
    "`allow_unwrapped=True` bypasses the `match` and `check` parameters"
    " if the exception is unwrapped. If you intended to match/check the"
    " exception you should use a `Matcher` object. If you want to match/check"
    " the exceptiongroup when the exception *is* wrapped you need to"
    " do e.g. `if isinstance(exc.value, ExceptionGroup):"
    " assert RaisesGroup(...).matches(exc.value)` afterwards."
)
_FLATTEN_NESTED = (
    "You cannot specify a nested structure inside a RaisesGroup with"
    " `flatten_subgroups=True`. The parameter will flatten subgroups"
    " in the raised exceptiongroup before matching, which would never"
    " match a nested structure."
)


@final
class RaisesGroup(_Criteria[BaseExceptionGroup[E]]):
    """``with RaisesGroup(*expected):`` asserts that the block raises an
    exception group holding exactly the expected exceptions, in any order:
    each given as a type, a ``Matcher``, or a nested ``RaisesGroup`` for a
    nested group.  ``match`` and ``check`` apply to the group itself.

    Stricter than ``except*`` unless told otherwise:
    ``allow_unwrapped=True`` (with a single expected exception) also accepts
    that exception raised bare; ``flatten_subgroups=True`` matches the leaves
    of nested groups, ignoring the structure.  Pairing is greedy (each
    expectation takes the first raised exception it accepts), so give the
    more specific expectations first.

    On exit: ``AssertionError`` if nothing was raised ("DID NOT RAISE ...")
    or the exception does not match (its message says why); a matching
    exception is swallowed, and ``as info`` holds it.  ``matches(exc)``
    checks an exception without raising.  A bad argument raises
    ``ValueError`` here.
    """

    @overload
    def __init__(
        self: RaisesGroup[ExcT],
        exception: type[ExcT] | Matcher[ExcT],
        *other_exceptions: type[ExcT] | Matcher[ExcT],
        allow_unwrapped: bool = ...,
        flatten_subgroups: bool = ...,
        match: str | Pattern[str] | None = ...,
        check: Callable[[ExceptionGroup[ExcT]], bool] | None = ...,
    ) -> None: ...

    @overload
    def __init__(
        self: RaisesGroup[ExceptionGroup[ExcT]],
        exception: RaisesGroup[ExcT],
        *other_exceptions: RaisesGroup[ExcT],
        match: str | Pattern[str] | None = ...,
        check: Callable[[ExceptionGroup[ExceptionGroup[ExcT]]], bool] | None = ...,
    ) -> None: ...

    @overload
    def __init__(
        self: RaisesGroup[BaseExcT],
        exception: type[BaseExcT] | Matcher[BaseExcT],
        *other_exceptions: type[BaseExcT] | Matcher[BaseExcT],
        allow_unwrapped: bool = ...,
        flatten_subgroups: bool = ...,
        match: str | Pattern[str] | None = ...,
        check: Callable[[BaseExceptionGroup[BaseExcT]], bool] | None = ...,
    ) -> None: ...

    @overload
    def __init__(
        self: RaisesGroup[BaseException],
        exception: type[BaseException] | Matcher[BaseException] | RaisesGroup[BaseException],
        *other_exceptions: type[BaseException]
        | Matcher[BaseException]
        | RaisesGroup[BaseException],
        match: str | Pattern[str] | None = ...,
        check: Callable[[BaseExceptionGroup[BaseException]], bool] | None = ...,
    ) -> None: ...

    def __init__(
        self,
        exception: _Expected,
        *other_exceptions: _Expected,
        allow_unwrapped: bool = False,
        flatten_subgroups: bool = False,
        match: str | Pattern[str] | None = None,
        check: Callable[[Any], bool] | None = None,
    ) -> None:
        super().__init__(match, check)
        self.expected_exceptions: tuple[_Expected, ...] = (exception, *other_exceptions)
        self.allow_unwrapped = allow_unwrapped
        self.flatten_subgroups = flatten_subgroups
        if allow_unwrapped:
            if other_exceptions:
                raise ValueError(_UNWRAPPED_MANY)
            if isinstance(exception, RaisesGroup):
                raise ValueError(_UNWRAPPED_GROUP)
            if match is not None or check is not None:
                raise ValueError(_UNWRAPPED_CRITERIA)
        # whether a matching group must be a BaseExceptionGroup (some
        # expected exception, at any depth, is not an Exception)
        self.is_baseexceptiongroup = False
        for expected in self.expected_exceptions:
            if isinstance(expected, RaisesGroup):
                if flatten_subgroups:
                    raise ValueError(_FLATTEN_NESTED)
                self.is_baseexceptiongroup |= expected.is_baseexceptiongroup
                expected._nested = True
            elif isinstance(expected, Matcher):
                leaf = expected.exception_type
                self.is_baseexceptiongroup |= leaf is not None and not issubclass(leaf, Exception)
                expected._nested = True
            elif isinstance(expected, type) and issubclass(expected, BaseException):
                self.is_baseexceptiongroup |= not issubclass(expected, Exception)
            else:
                raise ValueError(
                    f'Invalid argument "{expected!r}" must be exception type, Matcher, or'
                    " RaisesGroup."
                )

    def __enter__(self) -> _ExceptionInfo[BaseExceptionGroup[E]]:
        # the module global, read now: replacing it changes what is given
        self.excinfo: _ExceptionInfo[BaseExceptionGroup[E]] = ExceptionInfo.for_later()
        return self.excinfo

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: types.TracebackType | None,
    ) -> bool:
        __tracebackhide__ = True
        if exc_type is None or exc_val is None:
            raise AssertionError(f"DID NOT RAISE any exception, expected {self.expected_type()}")
        if not self.matches(exc_val):
            bare = self.allow_unwrapped and not isinstance(exc_val, BaseExceptionGroup)
            raise AssertionError(
                f"Raised exception {'(group)' if bare else 'group'} did not match: "
                f"{self._fail_reason}"
            )
        caught = cast("BaseExceptionGroup[E]", exc_val)
        self.excinfo.fill_unfilled((type(caught), caught, exc_tb))
        return True

    def matches(self, exc_val: BaseException | None) -> TypeGuard[BaseExceptionGroup[E]]:
        """Whether ``exc_val`` is a group matching this one (or, with
        ``allow_unwrapped``, the bare expected exception); if not,
        ``fail_reason`` says why, with a hint where one of the options
        would have made it match."""
        self._fail_reason = None
        if exc_val is None:
            self._fail_reason = "exception is None"
            return False
        if not isinstance(exc_val, BaseExceptionGroup):
            return self._matches_bare(exc_val)
        raised: Sequence[BaseException] = exc_val.exceptions
        if self.flatten_subgroups:
            raised = _flattened(raised)
        if not self._passes_match(exc_val):
            self._hint_match_belongs_to_the_member(raised)
            return False
        reason = Pairing(self.expected_exceptions, raised, _refusal, _described).report()
        if reason is not None:
            self._fail_reason = reason + self._flatten_hint(exc_val, reason)
            return False
        return self._passes_check(exc_val)

    def _matches_bare(self, exc: BaseException) -> bool:
        not_group = f"{type(exc).__name__!r} is not an exception group"
        if len(self.expected_exceptions) > 1:
            self._fail_reason = not_group
            return False
        refusal = _refusal(self.expected_exceptions[0], exc)
        if refusal is None and self.allow_unwrapped:
            return True
        if refusal is None:
            self._fail_reason = f"{not_group}, but would match with `allow_unwrapped=True`"
        else:
            self._fail_reason = refusal if self.allow_unwrapped else not_group
        return False

    def _hint_match_belongs_to_the_member(self, raised: Sequence[BaseException]) -> None:
        """After ``match`` failed on the group: if it would have matched its
        only member, which is of the only expected type, say so."""
        assert self.match is not None and self._fail_reason is not None
        if len(raised) != 1 or len(self.expected_exceptions) != 1:
            return
        expected = self.expected_exceptions[0]
        if not isinstance(expected, type) or not isinstance(raised[0], expected):
            return
        if re.search(self.match, exception_text(raised[0])):
            self._fail_reason += (
                f", but matched the expected {_described(expected)}. You might want"
                f" RaisesGroup(Matcher({expected.__name__},"
                f" match={pattern_text(self.match)!r}))"
            )

    def _flatten_hint(self, group: BaseExceptionGroup[BaseException], reason: str) -> str:
        """The suggestion of ``flatten_subgroups=True`` if it would have made
        the structure match (never when nested groups are expected), to
        follow ``reason``: indented after a one-line reason, not after a
        multi-line report (whose indented lines it is not part of)."""
        if self.flatten_subgroups or any(
            isinstance(e, RaisesGroup) for e in self.expected_exceptions
        ):
            return ""
        if not any(isinstance(e, BaseExceptionGroup) for e in group.exceptions):
            return ""
        leaves = _flattened(group.exceptions)
        if Pairing(self.expected_exceptions, leaves, _refusal, _described).report() is not None:
            return ""
        margin = "" if "\n" in reason else "  "
        return f"\n{margin}Did you mean to use `flatten_subgroups=True`?"

    def expected_type(self) -> str:
        """The expected structure, as "DID NOT RAISE" names it:
        ``ExceptionGroup(ValueError, Matcher(...))``, ``BaseExceptionGroup``
        where an expected exception is not an ``Exception``."""
        parts = []
        for expected in self.expected_exceptions:
            if isinstance(expected, RaisesGroup):
                parts.append(expected.expected_type())
            elif isinstance(expected, type):
                parts.append(expected.__name__)
            else:
                parts.append(str(expected))
        base = "Base" if self.is_baseexceptiongroup else ""
        return f"{base}ExceptionGroup({', '.join(parts)})"

    def __repr__(self) -> str:
        shown = [e.__name__ if isinstance(e, type) else repr(e) for e in self.expected_exceptions]
        if self.allow_unwrapped:
            shown.append("allow_unwrapped=True")
        if self.flatten_subgroups:
            shown.append("flatten_subgroups=True")
        return f"RaisesGroup({', '.join(shown + self._described_parameters())})"
