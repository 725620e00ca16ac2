"""How an exception leaves a cancel scope's or a nursery's ``__exit__``:
raised with the context it already has, handed back to the ``with``
statement, and loose exception groups (``strict_exception_groups=False``)
of one exception collapsed to it, tracebacks joined."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import NoReturn

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found]


def raise_keeping_context(error: BaseException) -> NoReturn:
    """Raises ``error`` with the ``__context__`` it already has.  A plain
    ``raise`` in an ``except`` block or ``__exit__`` would chain it to the
    exception being handled, which it may already contain (a group holding
    it, or a misnesting error chained to it)."""
    context = error.__context__
    try:
        raise error
    finally:
        error.__context__ = context
        del error, context


def exit_with(original: BaseException | None, remaining: BaseException | None) -> bool:
    """How a (sync or async) ``__exit__`` hands back ``remaining``, what is
    left of ``original`` after its work: returns True to swallow (nothing
    left), False to let ``original`` itself carry on (its traceback keeps
    growing); anything else is raised here, its chain as built.

    The caller must drop its own references to both in a ``finally``: the
    raised exception's traceback holds the caller's frame, and a local
    naming the exception would make a reference cycle."""
    if remaining is None:
        return True
    if remaining is original:
        return False
    context = remaining.__context__
    try:
        raise remaining
    finally:
        remaining.__context__ = context
        del remaining, original, context


LOOSE_GROUP_NOTE = (
    'This is a "loose" ExceptionGroup, and may be collapsed by Trio if it only contains '
    "one exception - typically after `Cancelled` has been stripped from it. Note this has "
    "consequences for exception handling, and strict_exception_groups=True is recommended."
)


def collapse_loose_groups(exc: BaseException) -> BaseException:
    """``exc`` with every loose group (one raised by a nursery opened with
    ``strict_exception_groups=False``, marked by ``LOOSE_GROUP_NOTE``)
    that holds a single exception replaced by that exception; the
    exception keeps the group's traceback in front of its own."""
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    group: BaseExceptionGroup[BaseException] = exc
    members = [collapse_loose_groups(member) for member in group.exceptions]
    if len(members) == 1 and LOOSE_GROUP_NOTE in getattr(group, "__notes__", ()):
        sole = members[0]
        sole.__traceback__ = chain_tracebacks(group.__traceback__, sole.__traceback__)
        return sole
    result: BaseException = group
    if any(new is not old for new, old in zip(members, group.exceptions, strict=True)):
        result = group.derive(members)
    return result


def chain_tracebacks(
    head: TracebackType | None, tail: TracebackType | None
) -> TracebackType | None:
    """A traceback made of ``head``'s entries followed by ``tail``'s."""
    if head is None:
        return tail
    entries = []
    while head is not None:
        entries.append(head)
        head = head.tb_next
    for entry in reversed(entries):
        tail = TracebackType(tail, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return tail
