"""Lets anyio libraries that pick their code path by the async library's
*name* run on lowio unchanged.

Some libraries written on anyio still ask sniffio which library runs and
accept only "asyncio" and "trio", although the branch they take for
"asyncio" is plain anyio (which works on any anyio backend, lowio's too).
Under lowio, sniffio reports "lowio" (in ``lowio.run`` and in
``anyio.run(..., backend="lowio")``), so they refuse to run or take a
path that cannot work.  This module adapts exactly those checks, each in
the module that makes it, and only while lowio is the running library
(everywhere else the library's own code runs as before):

* httpcore >= 1.0 and its fork httpcore2 (``httpx`` / ``httpx2``'s
  transport): ``current_async_library()`` in ``<pkg>._synchronization``
  (and the copy ``<pkg>._backends.auto`` imports) raises "Running under an
  unsupported async environment."; under lowio it answers "asyncio", which
  sends httpcore down its anyio code (anyio locks, events, cancel scopes,
  ``AnyIOBackend`` for the network).
* httpx / httpx2's ``ASGITransport``: ``create_event()`` in
  ``<pkg>._transports.asgi`` makes an ``asyncio.Event`` for anything but
  trio, whose ``wait()`` fails outside asyncio; under lowio it makes a
  ``lowio.Event``.
* anycorn: ``worker_serve`` (``anycorn.run``) installs its graceful
  SIGINT/SIGTERM shutdown (``anyio.open_signal_receiver``) only when the
  library is "asyncio" and no ``shutdown_trigger`` is given; under lowio
  that check sees "asyncio" too (only that module's view of sniffio).
* asgi-lifespan: ``detect_concurrency_backend()`` (``asgi_lifespan.
  _concurrency``, and the copy ``asgi_lifespan._manager`` imports) raises
  ``NotImplementedError`` for anything but asyncio and trio, whose two
  backends call asyncio and trio themselves; under lowio it returns
  :class:`LifespanBackend`, the same four operations written on lowio.

Nothing is imported ahead of time: :func:`install` (called by the start-up
hook ``lowio_anyio_hook``) adds a ``sys.meta_path`` finder that answers for
the module names above only, lets the normal import machinery load the
module, then adapts it (a module imported before ``install`` is adapted at
once).  ``LOWIO_NO_COMPAT=1`` in the environment switches all of it off.
This module imports neither anyio nor the libraries it adapts, and never
raises from the finder: a failed adaptation leaves the library as it was.

PYTEST_DONT_REWRITE: this module is imported at interpreter start-up, before
pytest could rewrite it (pytest would warn that it cannot, as lowio's
distribution has a pytest plugin).
"""

from __future__ import annotations

import importlib.machinery
import math
import os
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from types import ModuleType
from typing import Any

ENV_SWITCH = "LOWIO_NO_COMPAT"
_MARK = "__lowio_compat__"  # set on each replacement: adapting twice is a no-op


def enabled() -> bool:
    """False when ``LOWIO_NO_COMPAT`` is set to anything but "" or "0"."""
    return os.environ.get(ENV_SWITCH, "") in ("", "0")


def _running_lowio() -> bool:
    import sniffio

    try:
        return sniffio.current_async_library() == "lowio"
    except sniffio.AsyncLibraryNotFoundError:
        return False


def _replace(module: ModuleType, name: str, make: Callable[[Any], Any]) -> None:
    """Replaces ``module.name`` by ``make(original)``, once."""
    original = getattr(module, name, None)
    if original is None or getattr(original, _MARK, False):
        return
    replacement = make(original)
    replacement.__wrapped__ = original  # functools' convention: the library's own
    setattr(replacement, _MARK, True)
    setattr(module, name, replacement)


# ---------------------------------------------------------------- the adaptations


def _adapt_httpcore_detection(module: ModuleType) -> None:
    """``current_async_library()`` answers "asyncio" under lowio."""
    package = module.__name__.split(".", 1)[0]

    def make(original: Callable[[], str]) -> Callable[[], str]:
        def current_async_library() -> str:
            if not _running_lowio():
                return original()
            if getattr(sys.modules.get(f"{package}._synchronization"), "anyio", True) is None:
                raise RuntimeError(f"Running {package} on lowio requires anyio to be installed.")
            return "asyncio"  # the library's anyio code path

        current_async_library.__doc__ = original.__doc__
        return current_async_library

    _replace(module, "current_async_library", make)


def _adapt_httpx_asgi_event(module: ModuleType) -> None:
    """``create_event()`` makes a ``lowio.Event`` under lowio."""

    def make(original: Callable[[], Any]) -> Callable[[], Any]:
        def create_event() -> Any:
            if _running_lowio():
                import lowio

                return lowio.Event()
            return original()

        return create_event

    _replace(module, "create_event", make)


class _SniffioAsAsyncio:
    """What ``anycorn.run`` sees as ``sniffio``: sniffio itself, except that
    ``current_async_library()`` reports "asyncio" under lowio."""

    def __init__(self, sniffio: ModuleType) -> None:
        self._sniffio = sniffio

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sniffio, name)

    def current_async_library(self) -> str:
        name: str = self._sniffio.current_async_library()
        return "asyncio" if name == "lowio" else name


def _adapt_anycorn_shutdown_signals(module: ModuleType) -> None:
    """``worker_serve``'s check for its signal-driven shutdown passes under
    lowio."""
    current = getattr(module, "sniffio", None)
    if isinstance(current, ModuleType):
        module.sniffio = _SniffioAsAsyncio(current)  # type: ignore[attr-defined]


class LifespanBackend:
    """asgi-lifespan's ``ConcurrencyBackend`` interface on lowio: events, a
    bounded queue, a deadline, and the app run in a nursery for the
    ``LifespanManager``'s lifetime (cancelled at its end if still running,
    as asgi-lifespan's asyncio backend does; its trio backend would wait,
    and hang on an app stuck in its startup)."""

    def create_event(self) -> Any:
        import lowio

        return lowio.Event()

    def create_queue(self, capacity: int) -> _BoundedQueue:
        return _BoundedQueue(capacity)

    async def run_and_fail_after(
        self, seconds: float | None, coroutine: Callable[[], Awaitable[None]]
    ) -> None:
        """Runs ``coroutine()``; ``TimeoutError`` if it takes longer than
        ``seconds`` (``None``: no limit)."""
        import lowio

        with lowio.move_on_after(math.inf if seconds is None else seconds):
            await coroutine()
            return
        raise TimeoutError

    def run_in_background(
        self, coroutine: Callable[[], Awaitable[None]]
    ) -> AbstractAsyncContextManager[None]:
        """Runs ``coroutine()`` during the ``async with`` block (see
        :class:`_Background`)."""
        return _Background(coroutine)


class _Background:
    """``async with``: runs the app in a nursery of its own.  On the way
    out the app is cancelled if it still runs, then an exception it raised
    is re-raised as it is (not in an exception group: asgi-lifespan has
    recorded it and raises it again itself, as with its asyncio backend).
    An exception from the block goes on unchanged; the nursery never sees
    it."""

    def __init__(self, coroutine: Callable[[], Awaitable[None]]) -> None:
        self._coroutine = coroutine
        self._failure: Exception | None = None

    async def _run(self) -> None:
        try:
            await self._coroutine()
        except Exception as exc:
            self._failure = exc

    async def __aenter__(self) -> None:
        import lowio

        self._nursery_manager = lowio.open_nursery()
        self._nursery = await self._nursery_manager.__aenter__()
        self._nursery.start_soon(self._run)

    async def __aexit__(self, *exc_info: object) -> bool:
        self._nursery.cancel_scope.cancel()
        await self._nursery_manager.__aexit__(None, None, None)
        if self._failure is not None and exc_info[1] is None:
            raise self._failure
        return False


class _BoundedQueue:
    """A FIFO queue of at most ``capacity`` items: ``put`` waits for room,
    ``get`` for an item (two lowio semaphores count both)."""

    def __init__(self, capacity: int) -> None:
        import lowio

        self._items: deque[Any] = deque()
        self._room = lowio.Semaphore(capacity)
        self._filled = lowio.Semaphore(0)

    async def put(self, value: Any) -> None:
        await self._room.acquire()
        self._items.append(value)
        self._filled.release()

    async def get(self) -> Any:
        await self._filled.acquire()
        self._room.release()
        return self._items.popleft()


def _adapt_asgi_lifespan_detection(module: ModuleType) -> None:
    """``detect_concurrency_backend()`` returns a :class:`LifespanBackend`
    under lowio."""

    def make(original: Callable[[], Any]) -> Callable[[], Any]:
        def detect_concurrency_backend() -> Any:
            return LifespanBackend() if _running_lowio() else original()

        return detect_concurrency_backend

    _replace(module, "detect_concurrency_backend", make)


ADAPTATIONS: dict[str, Callable[[ModuleType], None]] = {
    "httpcore._synchronization": _adapt_httpcore_detection,
    "httpcore._backends.auto": _adapt_httpcore_detection,
    "httpcore2._synchronization": _adapt_httpcore_detection,
    "httpcore2._backends.auto": _adapt_httpcore_detection,
    "httpx._transports.asgi": _adapt_httpx_asgi_event,
    "httpx2._transports.asgi": _adapt_httpx_asgi_event,
    "anycorn.run": _adapt_anycorn_shutdown_signals,
    "asgi_lifespan._concurrency": _adapt_asgi_lifespan_detection,
    "asgi_lifespan._manager": _adapt_asgi_lifespan_detection,
}


def adapt(module: ModuleType) -> bool:
    """Applies the adaptation for ``module`` (by its name); True if there is
    one and it applied.  Idempotent; never raises."""
    adaptation = ADAPTATIONS.get(module.__name__)
    if adaptation is None:
        return False
    try:
        adaptation(module)
    except Exception:
        return False
    return True


# ---------------------------------------------------------------- the import hook


class _AdaptingLoader:
    """The module's own loader, followed by :func:`adapt`."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The module's own loader, not this one, is what introspection
        # (importlib.resources, linecache, pkgutil) should find.
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        adapt(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class CompatFinder:
    """A ``sys.meta_path`` finder for the modules in ``ADAPTATIONS`` only:
    finds them with the other finders and wraps their loader.  (Plain
    classes, not ``importlib.abc``'s: importing that at every start-up
    would cost more than all of this module.)"""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in ADAPTATIONS:
            return None
        try:
            spec: importlib.machinery.ModuleSpec | None = None
            for finder in sys.meta_path:
                if isinstance(finder, CompatFinder):
                    continue
                find_spec = getattr(finder, "find_spec", None)
                if find_spec is not None:
                    spec = find_spec(fullname, path, target)
                    if spec is not None:
                        break
            if spec is None:
                return None
            loader = spec.loader
            if loader is None or not hasattr(loader, "exec_module"):
                return spec
            spec.loader = _AdaptingLoader(loader)  # type: ignore[assignment]  # a Loader by its methods
            return spec
        except Exception:
            return None


def install() -> None:
    """Adds the finder (first on ``sys.meta_path``, once) and adapts the
    modules already imported.  Does nothing when ``LOWIO_NO_COMPAT`` is set.
    Never raises."""
    try:
        if not enabled():
            return
        if not any(isinstance(f, CompatFinder) for f in sys.meta_path):
            sys.meta_path.insert(0, CompatFinder())
        for name in ADAPTATIONS:
            module = sys.modules.get(name)
            if module is not None:
                adapt(module)
    except Exception:
        pass
