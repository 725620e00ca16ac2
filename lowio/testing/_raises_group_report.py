"""The texts ``RaisesGroup`` and ``Matcher`` explain a failed match with:
how types, patterns and exception messages are shown, and the pairing of
expected against raised exceptions with its report (what paired, what did
not, and why).

The wording is trio's (0.35), so that a test suite matching on these
messages runs unchanged.  Pure functions of their arguments: any thread.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from re import Pattern
from textwrap import indent

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found]

__all__ = [
    "Pairing",
    "exception_text",
    "pattern_text",
    "type_mismatch",
    "type_name",
]

# what re.compile gives a str pattern without explicit flags (re.UNICODE)
_DEFAULT_FLAGS = re.compile("").flags


def type_name(cls: type[BaseException]) -> str:
    """How a type appears in the messages: its quoted name, ``'ValueError'``."""
    return repr(cls.__name__)


def pattern_text(pattern: Pattern[str]) -> str | Pattern[str]:
    """The pattern as written (its string) unless flags were given, in which
    case the compiled pattern, whose repr shows them."""
    return pattern.pattern if pattern.flags == _DEFAULT_FLAGS else pattern


def exception_text(exc: BaseException) -> str:
    """The text a ``match`` pattern is searched in: the message (a group's
    own ``message``, not its ``str()``) then each ``__notes__`` entry, one
    per line (what ``pytest.raises(match=...)`` searches)."""
    first = exc.message if isinstance(exc, BaseExceptionGroup) else str(exc)
    return "\n".join([first, *getattr(exc, "__notes__", ())])


def type_mismatch(expected: type[BaseException] | None, exc: BaseException) -> str | None:
    """Why ``exc`` is not an instance of ``expected`` (None if it is, or if
    no type is expected)."""
    if expected is None or isinstance(exc, expected):
        return None
    if isinstance(exc, BaseExceptionGroup) and not issubclass(expected, BaseExceptionGroup):
        return f"Unexpected nested {type_name(type(exc))}, expected {type_name(expected)}"
    return f"{type_name(type(exc))} is not of type {type_name(expected)}"


class Pairing:
    """Pairs expected exceptions (types, matchers) with raised ones.

    ``failure(expected, raised)`` says why one raised exception does not
    satisfy one expectation (None if it does); ``describe(expected)`` is
    how an expectation is named in the report.  Pairing is greedy, in the
    order the expectations were given, each taking the first raised
    exception it accepts; ``report()`` is None if that pairs everything,
    else the explanation.  Once the greedy pass failed, every pair is tried
    so that the report can say what else would have matched.
    """

    def __init__(
        self,
        expected: Sequence[object],
        raised: Sequence[BaseException],
        failure: Callable[[object, BaseException], str | None],
        describe: Callable[[object], str],
    ) -> None:
        self._expected = expected
        self._raised = raised
        self._failure = failure
        self._describe = describe
        # (expected index, raised index) -> failure text, None for a match
        self._tried: dict[tuple[int, int], str | None] = {}
        self.paired: dict[int, int] = {}  # expected index -> raised index
        self.unpaired_expected: list[int] = []
        self.unpaired_raised: list[int] = []
        self._last_failure: str | None = None

    def _try(self, i_exp: int, i_raised: int) -> str | None:
        key = (i_exp, i_raised)
        if key not in self._tried:
            self._tried[key] = self._failure(self._expected[i_exp], self._raised[i_raised])
        return self._tried[key]

    def _greedy(self) -> bool:
        free = list(range(len(self._raised)))
        for i_exp in range(len(self._expected)):
            for i_raised in free:
                self._last_failure = self._try(i_exp, i_raised)
                if self._last_failure is None:
                    self.paired[i_exp] = i_raised
                    free.remove(i_raised)
                    break
            else:
                self.unpaired_expected.append(i_exp)
        self.unpaired_raised = free
        return not free and not self.unpaired_expected

    def _accepts_any(self, i_exp: int) -> bool:
        return any(self._try(i_exp, r) is None for r in range(len(self._raised)))

    def _accepted_by_any(self, i_raised: int) -> bool:
        return any(self._try(e, i_raised) is None for e in range(len(self._expected)))

    def _perfect_matching_exists(self, row: int = 0, used: frozenset[int] = frozenset()) -> bool:
        """Whether some one-to-one assignment (not the greedy one) satisfies
        every expectation with every raised exception."""
        if row == len(self._raised):
            return True
        return any(
            i_exp not in used
            and self._try(i_exp, row) is None
            and self._perfect_matching_exists(row + 1, used | {i_exp})
            for i_exp in range(len(self._expected))
        )

    def report(self) -> str | None:
        """None if the greedy pairing pairs everything; else the reason."""
        if self._greedy():
            return None
        if len(self._raised) == len(self._expected) == 1:
            return self._last_failure  # one against one: just why they differ
        n_paired = len(self.paired)
        paired = f"{n_paired} matched exception{'s' if n_paired > 1 else ''}. " if n_paired else ""
        extra, missing = self.unpaired_raised, self.unpaired_expected
        if not missing and not any(map(self._accepted_by_any, extra)):
            return f"{paired}Unexpected exception(s): {[self._raised[i] for i in extra]!r}"
        if not extra and not any(map(self._accepts_any, missing)):
            names = ", ".join(self._describe(self._expected[i]) for i in missing)
            return f"{paired}Too few exceptions raised, found no match for: [{names}]"
        if (
            len(extra) == len(missing) == 1
            and not self._accepted_by_any(extra[0])
            and not self._accepts_any(missing[0])
        ):
            return f"{paired}{self._try(missing[0], extra[0])}"
        return self._table(paired)

    def _table(self, paired: str) -> str:
        """The multi-line report: each unpaired expectation with the raised
        exceptions it would have taken, each unpaired raised exception with
        why every expectation refused it (or which paired one would take it)."""
        lines: list[str] = []
        if paired:
            lines.append(paired)
        extra, missing = self.unpaired_raised, self.unpaired_expected
        if not extra:
            lines.append("Too few exceptions raised!")
        elif not missing:
            lines.append("Unexpected exception(s)!")
        taken_by = {r: e for e, r in self.paired.items()}
        if missing:
            lines.append("The following expected exceptions did not find a match:")
        for i_exp in missing:
            lines.append("  " + self._describe(self._expected[i_exp]))
            for i_raised in range(len(self._raised)):
                if self._try(i_exp, i_raised) is None:
                    owner = self._describe(self._expected[taken_by[i_raised]])
                    lines.append(
                        f"    It matches {self._raised[i_raised]!r} which was paired with {owner}"
                    )
        if extra:
            lines.append("The following raised exceptions did not find a match")
        for i_raised in extra:
            lines.append(f"  {self._raised[i_raised]!r}:")
            for i_exp in range(len(self._expected)):
                why = self._try(i_exp, i_raised)
                if i_exp in missing:
                    assert why is not None  # it refused every raised one left over
                    # a multi-line reason comes with its own leading newline
                    lines.append(indent(why.removeprefix("\n"), "    "))
                elif why is None:
                    holder = self._raised[self.paired[i_exp]]
                    lines.append(
                        f"    It matches {self._describe(self._expected[i_exp])}"
                        f" which was paired with {holder!r}"
                    )
        if len(self._expected) == len(self._raised) and self._perfect_matching_exists():
            lines.append(
                "There exist a possible match when attempting an exhaustive check, but"
                " RaisesGroup uses a greedy algorithm. Please make your expected exceptions"
                " more stringent with `Matcher` etc so the greedy algorithm can function."
            )
        return "".join("\n" + line for line in lines)
