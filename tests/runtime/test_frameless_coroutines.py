"""Tasks whose async function is implemented in C (``agen.__anext__``, a
Cython coroutine) or is a coroutine-like object without a frame: they run,
and Ctrl-C protection inside them is the task's, as for any task."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Generator
from typing import Any

import lowio
import lowio.lowlevel


async def recorder(record: list[bool]) -> AsyncIterator[None]:
    record.append(lowio.lowlevel.currently_ki_protected())
    await lowio.sleep(0)
    yield


def test_run_takes_an_async_function_implemented_in_c() -> None:
    record: list[bool] = []
    lowio.run(recorder(record).__anext__)
    assert record == [False]


def test_tasks_of_an_async_function_implemented_in_c() -> None:
    record: list[bool] = []

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(recorder(record).__anext__)
        lowio.lowlevel.spawn_system_task(recorder(record).__anext__)
        await lowio.testing.wait_all_tasks_blocked()

    lowio.run(main)
    assert record == [False, True]  # a system task is protected, as any


class Countdown:
    """A coroutine-like object written as a class: no frame of its own."""

    def __init__(self, record: list[bool]) -> None:
        self._steps = self._body(record)

    @staticmethod
    def _body(record: list[bool]) -> Generator[Any, Any, str]:
        record.append(lowio.lowlevel.currently_ki_protected())
        yield from lowio.lowlevel.cancel_shielded_checkpoint()
        return "done"

    def send(self, value: Any) -> Any:
        return self._steps.send(value)

    def throw(self, *args: Any) -> Any:
        return self._steps.throw(*args)

    def close(self) -> None:
        self._steps.close()

    def __await__(self) -> Generator[Any, Any, str]:
        return self._steps


def test_a_coroutine_like_object_without_a_frame() -> None:
    record: list[bool] = []

    def countdown() -> Awaitable[str]:
        return Countdown(record)

    assert lowio.run(countdown) == "done"
    assert record == [False]
