"""Worker threads and calls back into the run, for anyio's ``to_thread``,
``from_thread`` and portals, on ``lowio.to_thread`` / ``lowio.from_thread``.

A worker runs under anyio's ``claim_worker_thread`` so that anyio's
``from_thread.run`` / ``run_sync`` / ``check_cancelled`` find their way
back; tokens are lowio run tokens (``lowio.lowlevel.current_token()``).
lowio's ``RunFinishedError`` becomes anyio's.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextvars import copy_context
from typing import Any, TypeVar

from anyio import RunFinishedError
from anyio._core._eventloop import claim_worker_thread
from anyio._core._synchronization import CapacityLimiter as AnyioCapacityLimiter

import lowio
import lowio.from_thread
import lowio.lowlevel
import lowio.to_thread
from lowio.lowlevel import RunToken, RunVar

from ._sync import CapacityLimiter

T = TypeVar("T")

# the anyio wrapper of lowio's default limiter, one per run
_DEFAULT_LIMITER: RunVar[CapacityLimiter | None] = RunVar("anyio_default_limiter", default=None)


def current_default_thread_limiter() -> CapacityLimiter:
    """The run's default thread limiter (lowio's, 40 tokens), as one anyio
    ``CapacityLimiter`` per run."""
    native = lowio.to_thread.current_default_thread_limiter()  # RuntimeError outside a run
    limiter = _DEFAULT_LIMITER.get()
    if limiter is None:
        limiter = CapacityLimiter(native=native)
        _DEFAULT_LIMITER.set(limiter)
    return limiter


async def run_sync_in_worker_thread(
    backend_class: type[Any],
    func: Callable[..., T],
    args: tuple[Any, ...],
    abandon_on_cancel: bool = False,
    limiter: AnyioCapacityLimiter | None = None,
) -> T:
    token = lowio.lowlevel.current_token()

    def in_worker() -> T:
        with claim_worker_thread(backend_class, token):
            return func(*args)

    native_limiter: Any
    if limiter is None:
        native_limiter = None
    elif isinstance(limiter, CapacityLimiter):
        native_limiter = limiter.native
    else:  # anyio's adapter (made outside a run) or a user class
        native_limiter = limiter
    return await lowio.to_thread.run_sync(
        in_worker, abandon_on_cancel=abandon_on_cancel, limiter=native_limiter
    )


def check_cancelled() -> None:
    lowio.from_thread.check_cancelled()


def run_async_from_thread(
    func: Callable[..., Coroutine[Any, Any, T]], args: tuple[Any, ...], token: object
) -> T:
    try:
        return lowio.from_thread.run(func, *args, trio_token=_token(token))
    except lowio.RunFinishedError:
        raise RunFinishedError from None


def run_sync_from_thread(func: Callable[..., T], args: tuple[Any, ...], token: object) -> T:
    try:
        return lowio.from_thread.run_sync(func, *args, trio_token=_token(token))
    except lowio.RunFinishedError:
        raise RunFinishedError from None


def run_sync_soon(func: Callable[..., object], args: tuple[Any, ...], token: object) -> None:
    native = _token(token)
    assert native is not None
    try:
        # in the caller's context, as the built-in backends do
        native.run_sync_soon(copy_context().run, func, *args)
    except lowio.RunFinishedError:
        raise RunFinishedError from None


def _token(token: object) -> RunToken | None:
    if token is None or isinstance(token, RunToken):
        return token
    raise TypeError(f"not a lowio run token: {token!r}")
