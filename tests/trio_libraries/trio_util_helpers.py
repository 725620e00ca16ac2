"""trio-util's helpers on lowio: ``AsyncValue`` (wait_value,
eventual_values, transitions), ``AsyncBool``, ``compose_values``,
``periodic``, ``move_on_when``, ``wait_any`` / ``wait_all``,
``trio_async_generator``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import _on_lowio  # before any trio import: lowio becomes trio
import trio
from trio_util import (
    AsyncBool,
    AsyncValue,
    compose_values,
    move_on_when,
    periodic,
    trio_async_generator,
    wait_all,
    wait_any,
)


async def async_values() -> None:
    value = AsyncValue(0)
    transitions: list[tuple[int, int]] = []

    async def bump() -> None:
        for i in range(1, 6):
            await trio.sleep(0.001)
            value.value = i

    async def watch(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for new, old in value.transitions():
            transitions.append((new, old))
            if new == 5:
                return

    async with trio.open_nursery() as nursery:
        await nursery.start(watch)
        nursery.start_soon(bump)
        assert await value.wait_value(lambda v: v >= 3) >= 3
        async for seen in value.eventual_values(lambda v: v == 5):
            assert seen == 5
            break
    assert transitions == [(i, i - 1) for i in range(1, 6)], transitions
    flag, count = AsyncBool(), AsyncValue(1)
    with compose_values(flag=flag, count=count) as both:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(both.wait_value, lambda v: v.flag and v.count == 2)
            await trio.sleep(0)
            flag.value, count.value = True, 2
    print("AsyncValue, AsyncBool, compose_values")


async def timing() -> None:
    ticks = []
    async for elapsed, _delta in periodic(0.01):
        ticks.append(elapsed)
        if len(ticks) == 4:
            break
    assert ticks[0] == 0 and ticks == sorted(ticks) and ticks[-1] >= 0.03 - 1e-3, ticks
    event = trio.Event()

    async def set_soon() -> None:
        await trio.sleep(0.01)
        event.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(set_soon)
        async with move_on_when(event.wait) as scope:
            await trio.sleep(10)
    assert scope.cancelled_caught
    finished: list[str] = []

    async def sleep_then(seconds: float, name: str) -> None:
        await trio.sleep(seconds)
        finished.append(name)

    await wait_any(trio.sleep_forever, lambda: sleep_then(0.01, "any"))
    await wait_all(lambda: sleep_then(0.01, "a"), lambda: sleep_then(0.02, "b"))
    assert finished == ["any", "a", "b"], finished
    print("periodic, move_on_when, wait_any, wait_all")


@trio_async_generator
async def counting(n: int) -> AsyncIterator[int]:
    for i in range(n):
        await trio.sleep(0)
        yield i


async def main() -> None:
    await async_values()
    await timing()
    async with counting(3) as numbers:
        assert [i async for i in numbers] == [0, 1, 2]
    print("trio_async_generator")


if __name__ == "__main__":
    before = _on_lowio.open_fds()
    trio.run(main)
    _on_lowio.assert_fds_back(before)
    print("fds back to baseline")
