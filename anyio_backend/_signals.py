"""anyio's ``open_signal_receiver`` on ``lowio.open_signal_receiver``:
the same receiver, yielding ``signal.Signals`` members (anyio's type)
instead of plain ints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from contextlib import contextmanager
from signal import Signals

import lowio


class _SignalIterator:
    __slots__ = ("_native",)

    def __init__(self, native: AsyncIterator[int]) -> None:
        self._native = native

    def __aiter__(self) -> _SignalIterator:
        return self

    async def __anext__(self) -> Signals:
        return Signals(await self._native.__anext__())


@contextmanager
def open_signal_receiver(*signals: Signals) -> Generator[AsyncIterator[Signals], None, None]:
    with lowio.open_signal_receiver(*signals) as native:
        yield _SignalIterator(native)
