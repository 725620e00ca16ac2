"""``coroutine_or_error``: what a task runs, made from an async function and
its arguments, or the ``TypeError`` that says why it cannot be (a coroutine
object passed instead of its function, an asyncio future, a synchronous
function).  Used by spawning, ``lowio.run``, guest runs and
``from_thread.run``; the error texts are trio's, which programs match on.
"""

from __future__ import annotations

import types
from collections.abc import Awaitable, Callable, Coroutine
from inspect import CO_ITERABLE_COROUTINE
from typing import Any, TypeVar

import sniffio

from ._ki import in_a_frame
from ._library_name import library_name

T = TypeVar("T")


def _names() -> tuple[str, str]:
    """The library name, and how error texts spell it ("Trio" as trio's)."""
    lib = library_name()
    return lib, "Trio" if lib == "trio" else lib


def coroutine_or_error(async_fn: Callable[..., Awaitable[T]], args: tuple[Any, ...]) -> Any:
    """``async_fn(*args)``, checked to be a coroutine, with a hint if not."""
    if isinstance(async_fn, types.CoroutineType):
        lib, who = _names()
        name = getattr(async_fn, "__name__", "fn")
        async_fn.close()
        raise TypeError(
            f"{who} was expecting an async function, but instead it got a coroutine "
            f"object {async_fn!r}\n\nProbably you did something like:\n\n"
            f"  {lib}.run({name}(...))            # incorrect!\n"
            f"  nursery.start_soon({name}(...))  # incorrect!\n\n"
            "Instead, you want (notice the parentheses!):\n\n"
            f"  {lib}.run({name}, ...)            # correct!\n"
            f"  nursery.start_soon({name}, ...)  # correct!"
        )
    # a sync function returning a coroutine runs "in" lowio too (as in
    # trio), whatever library name the spawning code had set
    local = sniffio.thread_local
    previous = local.name
    lib = library_name()
    if previous == lib:  # the usual case: inside the run's thread
        coro = async_fn(*args)
    else:
        local.name = lib
        try:
            coro = async_fn(*args)
        finally:
            local.name = previous
    if type(coro) is types.CoroutineType:
        return coro
    lib, who = _names()
    if isinstance(coro, Coroutine):  # one implemented in C has no frame: give it one
        return in_a_frame(coro) if getattr(coro, "cr_frame", None) is None else coro
    if isinstance(coro, types.GeneratorType) and coro.gi_code.co_flags & CO_ITERABLE_COROUTINE:
        return coro  # a @types.coroutine function, such as lowio.lowlevel.checkpoint
    if getattr(coro, "_asyncio_future_blocking", None) is not None:
        raise TypeError(
            f"{who} was expecting an async function, but instead it got {coro!r} - are you "
            "trying to use a library written for asyncio/twisted/tornado or similar? "
            "That won't work without some sort of compatibility shim."
        )
    if isinstance(coro, types.AsyncGeneratorType):
        raise TypeError(f"expected an async function but got an async generator {coro!r}")
    raise TypeError(
        f"{who} expected an async function, but {getattr(async_fn, '__qualname__', async_fn)!r} "
        f"appears to be synchronous (it returned {type(coro).__name__}, not a coroutine)"
    )
