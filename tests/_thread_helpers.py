"""What the runtime's thread tests share: a bound for every cross-thread
wait, and polling from the loop for state other threads change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import lowio

T = TypeVar("T")
WAIT = 2.0  # seconds: the bound of every cross-thread wait


def run(async_fn: Callable[..., Awaitable[T]], *args: object) -> T:
    return lowio.run(async_fn, *args)


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Polls ``predicate`` (state changed by other threads) from the loop."""
    with lowio.fail_after(WAIT):
        while not predicate():
            await lowio.sleep(0.002)
