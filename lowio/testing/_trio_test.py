"""``lowio.testing.trio_test``: run an async test function in a fresh run."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .._core import Clock, Instrument, run

T = TypeVar("T")


def trio_test(fn: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Decorate an async test function so that calling it runs it with
    ``lowio.run`` (trio's ``trio.testing.trio_test``: pytest passes fixtures as
    keyword arguments and calls the function synchronously).

    Among the keyword arguments, a ``lowio.abc.Clock`` becomes the run's clock
    (``ValueError`` if there are several) and every ``Instrument`` is added to
    the run.  The wrapper returns what the test returns.
    """

    @functools.wraps(fn)
    def in_a_run(**kwargs: Any) -> T:
        __tracebackhide__ = True
        clocks = [value for value in kwargs.values() if isinstance(value, Clock)]
        if len(clocks) > 1:
            raise ValueError("too many clocks spoil the broth!")  # trio's words
        instruments = [value for value in kwargs.values() if isinstance(value, Instrument)]
        return run(
            functools.partial(fn, **kwargs),
            clock=clocks[0] if clocks else None,
            instruments=instruments,
        )

    return in_a_run
