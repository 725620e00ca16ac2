"""``lowio.run`` itself: its value and errors, argument checking (with
hints), nested runs and accessors outside a run, and awaitables of other
libraries (a clear ``TypeError``, never a hang)."""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import AsyncGenerator, Iterator
from typing import NoReturn

import pytest

import lowio
from lowio.lowlevel import (
    checkpoint,
    current_root_task,
    current_statistics,
    current_task,
    current_token,
)

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup


def leaves(exc: BaseException) -> list[BaseException]:
    """The non-group exceptions inside ``exc``, depth first."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


# ---- run: value, errors, arguments ----


def test_run_returns_the_value_and_passes_positional_args() -> None:
    async def main(a: int, b: str, *, c: int = 0) -> tuple[int, str, int]:
        await checkpoint()
        return a, b, c

    assert lowio.run(main, 1, "two") == (1, "two", 0)


def test_run_raises_the_main_task_exception_unwrapped() -> None:
    error = KeyError("the one")

    async def main() -> NoReturn:
        await checkpoint()
        raise error

    with pytest.raises(KeyError) as info:
        lowio.run(main)
    assert info.value is error


def test_run_propagates_base_exceptions_from_main() -> None:
    class Custom(BaseException):
        pass

    async def main() -> NoReturn:
        raise Custom

    with pytest.raises(Custom):
        lowio.run(main)


def test_run_can_run_again_after_a_crash() -> None:
    async def crash() -> NoReturn:
        raise ValueError

    async def fine() -> str:
        await lowio.sleep(0)
        return "ok"

    with pytest.raises(ValueError):
        lowio.run(crash)
    assert lowio.run(fine) == "ok"


def test_run_rejects_a_sync_function_with_a_hint() -> None:
    def sync_fn() -> int:
        return 1

    with pytest.raises(TypeError, match=r"async function") as info:
        lowio.run(sync_fn)  # type: ignore[arg-type]
    assert "synchronous" in str(info.value)


def test_run_rejects_a_coroutine_object_and_closes_it() -> None:
    async def main() -> None:
        pass

    coro = main()
    with pytest.raises(TypeError, match=r"coroutine object") as info:
        lowio.run(coro)  # type: ignore[arg-type]
    assert "parentheses" in str(info.value) or "(...)" in str(info.value)
    # closed, so no "never awaited" warning later
    assert coro.cr_frame is None


def test_run_rejects_an_async_generator_function() -> None:
    async def agen() -> AsyncGenerator[int, None]:
        yield 1

    with pytest.raises(TypeError, match=r"async generator"):
        lowio.run(agen)  # type: ignore[arg-type]


def test_start_soon_rejects_non_async_functions_at_the_call() -> None:
    def sync_fn() -> None:
        pass

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            with pytest.raises(TypeError, match=r"async function"):
                nursery.start_soon(sync_fn)  # type: ignore[arg-type]
            coro = lowio.sleep(0)
            with pytest.raises(TypeError, match=r"coroutine object"):
                nursery.start_soon(coro)  # type: ignore[arg-type]
            assert nursery.child_tasks == frozenset()

    lowio.run(main)


def test_run_inside_a_run_raises_runtime_error() -> None:
    async def inner() -> None:
        pass  # pragma: no cover

    async def main() -> str:
        with pytest.raises(RuntimeError, match=r"inside"):
            lowio.run(inner)
        await checkpoint()
        return "still fine"

    assert lowio.run(main) == "still fine"


def test_accessors_outside_a_run_raise_runtime_error() -> None:
    for accessor in (
        current_task,
        lowio.current_time,
        current_token,
        current_statistics,
        current_root_task,
        lowio.current_effective_deadline,
    ):
        with pytest.raises(RuntimeError):
            accessor()


# ---- foreign awaitables ----


def test_awaiting_an_asyncio_future_is_a_clear_type_error() -> None:
    loop = asyncio.new_event_loop()
    try:

        async def main() -> str:
            fut = loop.create_future()
            with pytest.raises(TypeError, match=r"asyncio"):
                await fut
            await checkpoint()  # the task still works afterwards
            return "survived"

        assert lowio.run(main) == "survived"
    finally:
        loop.close()


def test_a_bare_yield_awaitable_is_a_type_error_not_a_hang() -> None:
    @types.coroutine
    def bare_yield() -> Iterator[None]:
        yield

    @types.coroutine
    def yield_a_class() -> Iterator[type]:
        yield int

    async def main() -> None:
        with pytest.raises(TypeError, match=r"unrecognized yield message"):
            await bare_yield()
        with pytest.raises(TypeError, match=r"unrecognized yield message"):
            await yield_a_class()

    lowio.run(main)


def test_unhandled_foreign_yield_crashes_the_run_not_hangs() -> None:
    @types.coroutine
    def bare_yield() -> Iterator[str]:
        yield "hello"

    async def child() -> None:
        await bare_yield()

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(child)
            await lowio.sleep_forever()

    with pytest.raises(BaseExceptionGroup) as info:
        lowio.run(main)
    [exc] = leaves(info.value)
    assert isinstance(exc, TypeError)
