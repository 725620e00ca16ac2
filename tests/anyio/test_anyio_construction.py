"""anyio's ``Event()``, ``Lock()``, ``Semaphore()``, ``CapacityLimiter()``
and ``CancelScope()`` on lowio: anyio's constructors call the backend from
their ``__new__`` and Python then calls ``__init__`` on the result again;
each object (and the lowio primitive under it) must be built exactly once,
with anyio's argument checks.  An anyio cancel scope is a lowio scope
itself, initialised once."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import anyio_backend._cancel_scope as backend_scopes
import lowio
from lowio import _internal_api as lowio_api


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[object]:
    """Counts the lowio objects of class ``name`` built from now on."""
    made: list[object] = []
    real = getattr(lowio, name)

    def build(*args: Any, **kwargs: Any) -> object:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(lowio, name, build)
    return made


def test_each_primitive_builds_one_lowio_object(monkeypatch: pytest.MonkeyPatch) -> None:
    scope_inits: list[object] = []
    real_init = backend_scopes._init_scope

    def init(self: Any, **kwargs: Any) -> None:
        scope_inits.append(self)
        real_init(self, **kwargs)

    monkeypatch.setattr(backend_scopes, "_init_scope", init)

    async def main() -> None:
        counts = {
            name: _counting(monkeypatch, name)
            for name in ("Lock", "Semaphore", "CapacityLimiter", "CancelScope")
        }
        lock = anyio.Lock(fast_acquire=True)
        semaphore = anyio.Semaphore(2, max_value=3)
        limiter = anyio.CapacityLimiter(4)
        scope = anyio.CancelScope(shield=True)
        assert {name: len(made) for name, made in counts.items()} == {
            "Lock": 1,
            "Semaphore": 1,
            "CapacityLimiter": 1,
            "CancelScope": 0,  # the scope is the lowio scope
        }
        assert isinstance(scope, lowio_api.BaseCancelScope)
        assert scope_inits == [scope]
        async with lock:
            assert lock.locked()
        async with semaphore:
            assert semaphore.value == 1
        assert semaphore.max_value == 3
        async with limiter:
            assert limiter.borrowed_tokens == 1
        assert limiter.total_tokens == 4
        with scope:
            assert scope.shield
        event = anyio.Event()
        assert not event.is_set()
        event.set()
        await event.wait()

    anyio.run(main, backend="lowio")


def test_semaphore_keeps_anyios_checks() -> None:
    async def main() -> None:
        with pytest.raises(TypeError, match="initial_value must be an integer"):
            anyio.Semaphore("1")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="initial_value must be >= 0"):
            anyio.Semaphore(-1)
        with pytest.raises(ValueError, match="max_value must be equal to or higher"):
            anyio.Semaphore(3, max_value=2)
        fast = anyio.Semaphore(1, fast_acquire=True)
        await fast.acquire()
        assert fast.value == 0
        fast.release()

    anyio.run(main, backend="lowio")
