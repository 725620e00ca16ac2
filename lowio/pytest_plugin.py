"""lowio's pytest plugin: async tests and async fixtures on lowio.

Installed with lowio (the ``pytest11`` entry point ``lowio``) and inactive
until asked for:

* ``@pytest.mark.lowio`` on an ``async def`` test runs it in a fresh
  ``lowio.run``; ``lowio_mode = true`` in the ini file marks every async test
  that no other async library's marker (``anyio``, ``trio``, ``asyncio``)
  claims;
* the async fixtures (``async def`` with ``return`` or ``yield``) such a test
  uses run in that same run, each in a task of its own: set-up in
  dependency order (independent fixtures concurrently), the test once all
  its fixtures are ready, then each fixture's teardown once every fixture
  and the test that used it are done;
* fixtures: ``nursery`` (a nursery that lives as long as the test; what
  fixtures start in it is cancelled after the test), ``mock_clock``
  (``MockClock()``) and ``autojump_clock`` (``MockClock(autojump_threshold=0)``);
  a ``lowio.abc.Clock`` among a test's fixtures becomes its run's clock, and
  ``Instrument`` fixtures are added to the run.

These are pytest-trio's rules and fixture names, so trio tests port by
changing the marker.  When pytest-trio itself is active (on trio, or on
lowio under ``lowio.install_as_trio()``), the three fixture names are its
own for its tests, and this plugin's (lowio's objects) for
``@pytest.mark.lowio`` tests.

An error in a fixture or the test ends the test: the others are cancelled
and the first error is reported (a lone error is not wrapped in an
exception group).  Sync fixtures and tests are left to pytest.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any

import pytest

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found]

_CLAIMED_BY_OTHERS = ("anyio", "trio", "asyncio")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "lowio_mode",
        "run every async test (and its async fixtures) on lowio, as @pytest.mark.lowio does",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lowio: run this async test and its async fixtures on lowio")
    if not config.pluginmanager.hasplugin("trio"):  # pytest-trio owns these names when active
        config.pluginmanager.register(_Fixtures(), "lowio-fixtures")


def _is_async(fn: object) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getini("lowio_mode"):
        return
    for item in items:
        if not isinstance(item, pytest.Function) or not _is_async(item.obj):
            continue
        if not any(item.get_closest_marker(name) for name in _CLAIMED_BY_OTHERS):
            item.add_marker(pytest.mark.lowio)


def _wants_lowio(node: pytest.Item | None) -> bool:
    return isinstance(node, pytest.Function) and node.get_closest_marker("lowio") is not None


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Any:
    """An async fixture of a lowio test becomes a placeholder that the test's
    run sets up (pytest itself cannot await it).  Only function-scoped ones:
    each test has a run of its own, so a wider-scoped async fixture is left
    to pytest, which refuses it ("requested an async fixture")."""
    if not _wants_lowio(request.node):
        return None
    own = _OWN_FIXTURES.get(fixturedef.argname)
    if own is not None and getattr(fixturedef.func, "__module__", None) == "pytest_trio.plugin":
        # pytest-trio is active and its fixture has this name: lowio's for lowio's tests
        value = own()
        fixturedef.cached_result = (value, fixturedef.cache_key(request), None)  # type: ignore[arg-type]
        return value
    if not _is_async(fixturedef.func):
        return None
    kwargs = {name: request.getfixturevalue(name) for name in fixturedef.argnames}
    placeholder = _AsyncFixture(fixturedef.argname, fixturedef.func, kwargs)
    fixturedef.cached_result = (placeholder, fixturedef.cache_key(request), None)  # type: ignore[arg-type]
    return placeholder


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not _wants_lowio(pyfuncitem):
        return None
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        raise TypeError(
            f"@pytest.mark.lowio is for async tests; {pyfuncitem.name} is not an async function"
        )
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    _run_test(pyfuncitem.obj, kwargs)
    return True


# ---- running a test and its async fixtures in one run ----


class _AsyncFixture:
    """One async fixture of one test: its own task sets it up, holds it
    while its users run, and tears it down."""

    def __init__(self, name: str, func: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        self.name = name
        self.func = func
        self.kwargs = kwargs
        self.value: Any = None
        self.users: list[Any] = []  # the events that say each user is done
        self.ready: Any = None
        self.done: Any = None

    def __repr__(self) -> str:
        return f"<async fixture {self.name!r} (set up inside the test's lowio run)>"

    def dependencies(self) -> list[_AsyncFixture]:
        return [value for value in self.kwargs.values() if isinstance(value, _AsyncFixture)]

    async def run(self) -> None:
        try:
            await self._set_up_hold_tear_down()
        finally:
            self.done.set()  # whatever happened: the fixtures this one uses may go

    async def _set_up_hold_tear_down(self) -> None:
        from ._core import CancelScope

        for dependency in self.dependencies():
            await dependency.ready.wait()
        kwargs = _resolved(self.kwargs)
        if inspect.isasyncgenfunction(self.func):
            generator = self.func(**kwargs)
            try:
                self.value = await generator.__anext__()
            except StopAsyncIteration:
                raise RuntimeError(f"async fixture {self.name!r} did not yield") from None
            self.ready.set()
            with CancelScope(shield=True):  # teardown waits for every user, whatever happens
                for user_done in self.users:
                    await user_done.wait()
            try:
                await generator.__anext__()
            except StopAsyncIteration:
                pass
            else:
                await generator.aclose()
                raise RuntimeError(f"async fixture {self.name!r} yielded more than once")
        else:
            self.value = await self.func(**kwargs)
            self.ready.set()


class _NurseryFixture(_AsyncFixture):
    """The ``nursery`` fixture: open for as long as the test and its other
    fixtures use it, then cancelled."""

    def __init__(self) -> None:
        super().__init__("nursery", lambda: None, {})

    async def _set_up_hold_tear_down(self) -> None:
        from ._core import open_nursery

        async with open_nursery() as nursery:
            self.value = nursery
            self.ready.set()
            for user_done in self.users:
                await user_done.wait()
            nursery.cancel_scope.cancel()


def _resolved(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v.value if isinstance(v, _AsyncFixture) else v for k, v in kwargs.items()}


def _all_fixtures(kwargs: dict[str, Any]) -> list[_AsyncFixture]:
    """Every placeholder reachable from ``kwargs``, each once."""
    found: dict[int, _AsyncFixture] = {}
    pending = [v for v in kwargs.values() if isinstance(v, _AsyncFixture)]
    while pending:
        fixture = pending.pop()
        if id(fixture) not in found:
            found[id(fixture)] = fixture
            pending.extend(fixture.dependencies())
    return list(found.values())


def _run_test(test: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    from . import run
    from ._core import open_nursery
    from ._sync import Event
    from .testing._trio_test import run_settings

    clock, instruments = run_settings(
        v for v in kwargs.values() if not isinstance(v, _AsyncFixture)
    )
    fixtures = _all_fixtures(kwargs)

    async def main() -> None:
        test_done = Event()
        for fixture in fixtures:
            fixture.ready, fixture.done = Event(), Event()
        for fixture in fixtures:
            for dependency in fixture.dependencies():
                dependency.users.append(fixture.done)
        direct = [v for v in kwargs.values() if isinstance(v, _AsyncFixture)]
        for fixture in direct:
            fixture.users.append(test_done)
        async with open_nursery() as nursery:
            for fixture in fixtures:
                nursery.start_soon(fixture.run, name=f"fixture {fixture.name}")
            try:
                for fixture in direct:
                    await fixture.ready.wait()
                await test(**_resolved(kwargs))
            finally:
                test_done.set()

    try:
        run(main, clock=clock, instruments=instruments)
    except BaseExceptionGroup as group:
        leaves = _leaves(group)
        if len(leaves) == 1:  # report the error itself, as pytest users expect
            raise leaves[0] from None
        raise


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found


def _mock_clock(autojump_threshold: float = float("inf")) -> Any:
    from .testing import MockClock

    return MockClock(autojump_threshold=autojump_threshold)


# The values of the plugin's fixtures, by name (also given to lowio's tests
# in place of pytest-trio's fixtures of the same names).
_OWN_FIXTURES: dict[str, Callable[[], Any]] = {
    "nursery": _NurseryFixture,
    "mock_clock": _mock_clock,
    "autojump_clock": lambda: _mock_clock(autojump_threshold=0),
}


class _Fixtures:
    """The plugin's fixtures (registered unless pytest-trio provides them)."""

    @pytest.fixture
    def nursery(self) -> _AsyncFixture:
        """A nursery open for the whole test (lowio tests only)."""
        return _OWN_FIXTURES["nursery"]()  # type: ignore[no-any-return]

    @pytest.fixture
    def mock_clock(self) -> Any:
        """A ``lowio.testing.MockClock()`` for the test's run."""
        return _OWN_FIXTURES["mock_clock"]()

    @pytest.fixture
    def autojump_clock(self) -> Any:
        """A ``lowio.testing.MockClock(autojump_threshold=0)``: time jumps
        ahead whenever every task is blocked."""
        return _OWN_FIXTURES["autojump_clock"]()


__all__ = ["pytest_addoption", "pytest_configure"]
