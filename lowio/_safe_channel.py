"""``as_safe_channel``: an async generator function turned into a context
manager that yields a receive channel, the generator running in a task of
its own (so that its cancel scopes and nurseries never straddle a
``yield`` into the caller's code)."""

from __future__ import annotations

import sys
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import wraps
from typing import TYPE_CHECKING, NoReturn, ParamSpec

from ._abc import ReceiveChannel, T
from ._channel import (
    MemoryReceiveChannel,
    MemorySendChannel,
    open_memory_channel,
)
from ._closing import SyncCloseable
from ._core import BrokenResourceError, Cancelled, TaskStatus, open_nursery
from ._sync import Semaphore

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found]

if TYPE_CHECKING:
    pass

P = ParamSpec("P")

__all__ = ["as_safe_channel"]

_UNWRAP_NOTE = (
    "Encountered exception during cleanup of generator object, as "
    "well as exception in the contextmanager body - unable to unwrap."
)


class _OnDemandReceiveChannel(SyncCloseable, ReceiveChannel[T]):
    """The receive channel handed to the caller: each ``receive`` first
    grants the generator one more step (so the generator computes a value
    only when one is asked for)."""

    def __init__(self, channel: MemoryReceiveChannel[T], steps: Semaphore) -> None:
        self._channel = channel
        self._steps = steps

    async def receive(self) -> T:
        self._steps.release()
        return await self._channel.receive()

    def close(self) -> None:
        self._channel.close()


class _MultipleErrors(Exception):
    pass


def _raise_single(group: BaseExceptionGroup[BaseException]) -> NoReturn:
    """Raises the one exception of ``group`` that is not ``Cancelled``
    (``Cancelled`` if there is nothing else), keeping its own context.
    ``KeyboardInterrupt`` / ``SystemExit`` anywhere in the group are
    re-raised (a new one, caused by the group) at once;
    ``_MultipleErrors`` if more than one other exception is there."""
    for exc in group.exceptions:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise type(exc)(*exc.args) from group
    others = [e for e in group.exceptions if not isinstance(e, Cancelled)]
    if len(others) > 1:
        raise _MultipleErrors from group
    single = others[0] if others else group.exceptions[0]
    context = single.__context__
    try:
        raise single
    finally:
        single.__context__ = context
        del single, context, others


def _leaves(group: BaseExceptionGroup[BaseException]) -> int:
    count = 0
    for exc in group.exceptions:
        count += _leaves(exc) if isinstance(exc, BaseExceptionGroup) else 1
    return count


async def _close_generator(agen: AsyncGenerator[object, None]) -> None:
    """``agen.aclose()``, except that a ``GeneratorExit`` inside an exception
    group (a nursery in the generator was open at its ``yield``) counts as
    the clean exit it is.  More than one ``GeneratorExit`` there is a bug,
    reported as an ``AssertionError`` in the group."""
    try:
        await agen.aclose()
    except BaseExceptionGroup as group:
        exits, rest = group.split(GeneratorExit)
        if exits is not None and _leaves(exits) > 1:
            extra = AssertionError("More than one GeneratorExit found.")
            rest = group.derive([extra]) if rest is None else rest.derive([*rest.exceptions, extra])
        if rest is not None:
            raise rest from None


async def _pump(
    agen: AsyncGenerator[T, None],
    send_channel: MemorySendChannel[T],
    steps: Semaphore,
    *,
    task_status: TaskStatus[None],
) -> None:
    # ``with``, not ``async with``: the latter's checkpoint could swallow an
    # exception on the way out
    with send_channel:
        try:
            task_status.started()
            while True:
                await steps.acquire()  # a receiver asked for a value
                if not send_channel.statistics().open_receive_channels:
                    break  # nobody can receive it: don't compute it
                try:
                    value = await agen.__anext__()
                except StopAsyncIteration:
                    return
                try:
                    await send_channel.send(value)
                except BrokenResourceError:
                    break  # the receiver closed meanwhile
        finally:
            await _close_generator(agen)


def as_safe_channel(
    fn: Callable[P, AsyncGenerator[T, None]],
) -> Callable[P, AbstractAsyncContextManager[ReceiveChannel[T]]]:
    """Decorates an async generator function: calling the result gives an
    async context manager whose value is a ``ReceiveChannel`` of what the
    generator yields::

        @lowio.as_safe_channel
        async def numbers(limit):
            for i in range(limit):
                yield i

        async with numbers(3) as channel:
            async for i in channel:
                ...

    The generator runs in a task of a nursery the context manager opens,
    one step per ``receive`` (nothing is computed ahead).  Leaving the block
    cancels the generator and closes it (``aclose``) before the block is
    left.  An exception from the generator comes out of the ``async with``
    as itself; if the body and the generator's cleanup both raised, they
    come out together in an exception group (with a note saying so).
    """

    @asynccontextmanager
    @wraps(fn)
    async def context_manager(
        *args: P.args, **kwargs: P.kwargs
    ) -> AsyncIterator[_OnDemandReceiveChannel[T]]:
        send_channel, receive_channel = open_memory_channel[T](0)
        try:
            async with open_nursery() as nursery:
                agen = fn(*args, **kwargs)
                steps = Semaphore(0)
                # started before the body, so that the task (which owns the
                # generator and send_channel) always cleans them up
                await nursery.start(_pump, agen, send_channel, steps)
                with _OnDemandReceiveChannel(receive_channel, steps) as channel:
                    yield channel
                nursery.cancel_scope.cancel("exited lowio.as_safe_channel context manager")
        except BaseExceptionGroup as group:
            try:
                _raise_single(group)
            except _MultipleErrors:
                if sys.version_info >= (3, 11):
                    group.add_note(_UNWRAP_NOTE)
                raise group from None

    return context_manager
