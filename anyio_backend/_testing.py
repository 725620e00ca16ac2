"""anyio's pytest runner on lowio: one lowio run kept alive across pytest's
fixture and test calls (``SteppedRun``, from ``lowio._internal_api``).

The run's main task serves calls one at a time: for each one, the host
(pytest, synchronous) queues the call, then advances the run until the call
has finished.  Every fixture and test runs *in that same task*, so context
variables set by a fixture are seen by the tests, and a task group opened
by an async generator fixture stays open around them.  Between calls
nothing runs (background tasks resume with the next call).
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterable
from types import TracebackType
from typing import Any, TypeVar

from anyio import abc

from lowio._internal_api import Error, Outcome, SteppedRun, Value
from lowio.lowlevel import ParkingLot

T = TypeVar("T")

if sys.version_info >= (3, 11):  # pragma: no branch
    from typing import Self
else:  # pragma: no cover
    from typing_extensions import Self


class _Call:
    """One queued call: ``await fn(*args, **kwargs)`` in the runner task."""

    __slots__ = ("args", "fn", "kwargs", "outcome")

    def __init__(
        self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.outcome: Outcome[Any] | None = None


class TestRunner(abc.TestRunner):
    """``options`` are ``lowio.run``'s keyword arguments (``clock``,
    ``instruments``)."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._run: SteppedRun | None = None
        self._calls: deque[_Call] = deque()
        self._lot = ParkingLot()  # the runner task waits here for calls
        self._closing = False
        self._in_call = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        run = self._run
        if run is None or run.finished:
            return
        self._closing = True
        self._lot.unpark_all()
        run.finish()  # lets the background tasks finish; raises if the run crashed

    def is_running(self) -> bool:
        return self._in_call

    async def _serve(self) -> None:
        calls = self._calls
        while True:
            if not calls:
                if self._closing:
                    return
                await self._lot.park()
                continue
            call = calls.popleft()
            try:
                value = await call.fn(*call.args, **call.kwargs)
            except BaseException as exc:
                call.outcome = Error(exc)
                del exc
            else:
                call.outcome = Value(value)

    def _call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        if self._run is None:
            self._run = SteppedRun(self._serve, **self._options)
        elif self._run.finished:
            raise RuntimeError("the lowio test runner's run has ended")
        call = _Call(fn, args, kwargs)
        self._calls.append(call)
        self._lot.unpark()
        self._in_call = True
        try:
            self._run.run_until(lambda: call.outcome is not None)
        finally:
            self._in_call = False
        outcome = call.outcome
        if outcome is None:  # the run ended under the call: report why
            self._run.finish()
            raise RuntimeError("the lowio test runner's run ended during a call")
        result: T = outcome.unwrap()
        return result

    def run_asyncgen_fixture(
        self,
        fixture_func: Callable[..., AsyncGenerator[T, Any]],
        kwargs: dict[str, Any],
    ) -> Iterable[T]:
        agen: AsyncGenerator[T, Any] | None = None

        async def set_up() -> T:
            nonlocal agen
            agen = fixture_func(**kwargs)  # first iterated in the run
            return await agen.asend(None)

        async def tear_down() -> bool:
            assert agen is not None
            try:
                await agen.asend(None)
            except StopAsyncIteration:
                return True
            await agen.aclose()
            return False

        value = self._call(set_up)
        yield value
        if not self._call(tear_down):
            raise RuntimeError("Async generator fixture did not stop")

    def run_fixture(
        self,
        fixture_func: Callable[..., Coroutine[Any, Any, T]],
        kwargs: dict[str, Any],
    ) -> T:
        return self._call(fixture_func, **kwargs)

    def run_test(
        self, test_func: Callable[..., Coroutine[Any, Any, Any]], kwargs: dict[str, Any]
    ) -> None:
        self._call(test_func, **kwargs)
