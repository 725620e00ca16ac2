"""``lowio.testing.trio_test``: run an async test function in a fresh run."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
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
        clock, instruments = run_settings(kwargs.values())
        return run(functools.partial(fn, **kwargs), clock=clock, instruments=instruments)

    return in_a_run


def run_settings(values: Iterable[object]) -> tuple[Clock | None, list[Instrument]]:
    """The run's clock and instruments among a test's fixture values: the one
    ``Clock`` (``ValueError`` if there are several) and every ``Instrument``.
    Shared by ``trio_test`` and lowio's pytest plugin."""
    found = list(values)
    clocks = [value for value in found if isinstance(value, Clock)]
    if len(clocks) > 1:
        raise ValueError("too many clocks spoil the broth!")  # trio's words
    instruments = [value for value in found if isinstance(value, Instrument)]
    return (clocks[0] if clocks else None), instruments
