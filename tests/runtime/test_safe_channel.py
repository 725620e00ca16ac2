"""``lowio.as_safe_channel``: the generator runs one step per receive in a
task of its own, is closed when the block is left, and its exceptions come
out unwrapped unless the body raised too."""

from __future__ import annotations

import sys
from collections.abc import AsyncGenerator

import pytest
from _socket_helpers import lowio_test

import lowio
from lowio import as_safe_channel
from lowio.lowlevel import checkpoint
from lowio.testing import MockClock, wait_all_tasks_blocked

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup


def _leaf_types(group: BaseExceptionGroup[BaseException]) -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found.extend(_leaf_types(exc))
        else:
            found.append(type(exc))
    return sorted(found, key=lambda t: t.__name__)


@lowio_test
async def test_exhaust() -> None:
    @as_safe_channel
    async def agen(n: int) -> AsyncGenerator[int, None]:
        for i in range(n):
            yield i

    async with agen(3) as channel:
        assert [x async for x in channel] == [0, 1, 2]
    assert agen.__name__ == "agen"  # functools.wraps


@lowio_test
async def test_closing_the_channel_inside() -> None:
    @as_safe_channel
    async def agen() -> AsyncGenerator[int, None]:
        yield 1
        yield 2  # pragma: no cover

    async with agen() as channel:
        assert await channel.__anext__() == 1
        await channel.aclose()
        with pytest.raises(lowio.ClosedResourceError):
            await channel.__anext__()


@lowio_test
async def test_cancelled_before_consumption_never_runs_the_generator() -> None:
    ran: list[str] = []
    with lowio.CancelScope() as scope:

        @as_safe_channel
        async def agen() -> AsyncGenerator[None, None]:
            ran.append("ran")
            yield

        async with agen():
            scope.cancel()
    assert ran == []


@lowio_test
async def test_generator_error_comes_out_unwrapped() -> None:
    @as_safe_channel
    async def agen() -> AsyncGenerator[int, None]:
        yield 1
        raise ValueError("oae")

    with pytest.raises(ValueError, match=r"^oae$"):
        async with agen() as channel:
            async for x in channel:
                assert x == 1


def test_nothing_is_computed_ahead() -> None:
    asked: list[int] = []

    @as_safe_channel
    async def agen() -> AsyncGenerator[int, None]:
        for i in range(10):
            asked.append(i)
            yield i

    async def main() -> None:
        with lowio.move_on_after(5):
            async with agen() as channel:
                async for x in channel:
                    assert x == 0
                    await lowio.sleep_forever()

    lowio.run(main, clock=MockClock(autojump_threshold=0))
    assert asked == [0]


@lowio_test
async def test_no_step_between_receives() -> None:
    @as_safe_channel
    async def agen() -> AsyncGenerator[int, None]:
        yield 1
        raise AssertionError("asked for a second value")  # pragma: no cover

    async with agen() as channel:
        assert await channel.__anext__() == 1
        await checkpoint()
        await wait_all_tasks_blocked()


@lowio_test
async def test_body_and_cleanup_errors_come_out_together() -> None:
    events: list[str] = []

    @as_safe_channel
    async def agen() -> AsyncGenerator[int, None]:
        try:
            yield 1
        except BaseException as exc:
            events.append(repr(exc))
            raise
        finally:
            events.append("finally")
            raise ValueError("agen")

    with pytest.raises(BaseExceptionGroup) as info:
        async with agen() as channel:
            async for i in channel:
                assert i == 1
                raise TypeError("iterator")
    assert _leaf_types(info.value) == [TypeError, ValueError]
    if sys.version_info >= (3, 11):
        assert info.value.__notes__ == [
            "Encountered exception during cleanup of generator object, as "
            "well as exception in the contextmanager body - unable to unwrap."
        ]
    assert events == ["GeneratorExit()", "finally"]


@lowio_test
async def test_nested() -> None:
    @as_safe_channel
    async def agen() -> AsyncGenerator[int, None]:
        for i in range(2):
            yield i

    pairs = []
    async with agen() as outer:
        async for i in outer:
            async with agen() as inner:
                async for j in inner:
                    pairs.append((i, j))
    assert pairs == [(0, 0), (0, 1), (1, 0), (1, 1)]


@lowio_test
async def test_cancel_scope_in_generator_does_not_leak() -> None:
    @as_safe_channel
    async def agen() -> AsyncGenerator[None, None]:
        yield
        with lowio.CancelScope() as scope:
            scope.cancel()
            yield

    values = []
    async with agen() as channel:
        async for value in channel:
            values.append(value)
    # the generator's cancelled scope did not cancel the loop or the block
    assert values == [None]


@lowio_test
async def test_user_exception_group_is_not_unwrapped() -> None:
    @as_safe_channel
    async def agen() -> AsyncGenerator[None, None]:
        raise NotImplementedError("not entered")
        yield  # pragma: no cover

    with pytest.raises(ExceptionGroup, match="foo") as info:
        async with agen():
            raise ExceptionGroup("foo", [ValueError("bar")])
    assert [type(e) for e in info.value.exceptions] == [ValueError]


@lowio_test
async def test_several_receivers() -> None:
    event = lowio.Event()

    @as_safe_channel
    async def agen() -> AsyncGenerator[int, None]:
        await event.wait()
        yield 0
        yield 1

    got: list[int] = []

    async def receive(
        channel: lowio.abc.ReceiveChannel[int], task_status: lowio.TaskStatus[None]
    ) -> None:
        task_status.started()
        got.append(await channel.receive())

    async with agen() as channel, lowio.open_nursery() as nursery:
        await nursery.start(receive, channel)
        await nursery.start(receive, channel)
        event.set()
    assert got == [0, 1]


@lowio_test
async def test_cancelled_body_cancels_the_generator() -> None:
    events: list[str] = []

    @as_safe_channel
    async def agen() -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            try:
                await checkpoint()
            except lowio.Cancelled:
                events.append("agen cancel")
                raise

    with lowio.CancelScope() as scope, pytest.raises(lowio.Cancelled):
        async with agen() as channel:
            async for _ in channel:
                scope.cancel()
                try:
                    await checkpoint()
                except lowio.Cancelled:
                    events.append("body cancel")
                    raise
    assert events == ["body cancel", "agen cancel"]


@lowio_test
async def test_generator_exit_through_a_nursery_in_the_generator() -> None:
    seen: list[BaseException] = []

    @as_safe_channel
    async def agen() -> AsyncGenerator[None, None]:
        try:
            async with lowio.open_nursery():
                yield
        except BaseException as exc:
            seen.append(exc)
            raise

    async with agen() as channel:
        async for _ in channel:
            break
    assert len(seen) == 1
    assert isinstance(seen[0], BaseExceptionGroup)
    assert _leaf_types(seen[0]) == [GeneratorExit]


@lowio_test
async def test_a_users_generator_exit_is_not_suppressed() -> None:
    @as_safe_channel
    async def agen() -> AsyncGenerator[None, None]:
        yield

    with pytest.raises(BaseExceptionGroup) as info:
        async with agen() as channel, lowio.open_nursery():
            await channel.receive()
            raise GeneratorExit
    assert _leaf_types(info.value) == [GeneratorExit]


async def _wait_then_raise(exc_type: type[BaseException]) -> None:
    try:
        await lowio.sleep_forever()
    except lowio.Cancelled:
        raise exc_type from None


@lowio_test
async def test_real_errors_in_the_generator_cleanup_come_out() -> None:
    @as_safe_channel
    async def agen() -> AsyncGenerator[None, None]:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(_wait_then_raise, ValueError)
            yield

    with pytest.raises(BaseExceptionGroup) as info:
        async with agen() as channel:
            async for _ in channel:
                break
    assert _leaf_types(info.value) == [ValueError]


@lowio_test
async def test_extra_generator_exits_are_reported() -> None:
    @as_safe_channel
    async def agen(exc_type: type[BaseException]) -> AsyncGenerator[None, None]:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(_wait_then_raise, exc_type)
            nursery.start_soon(_wait_then_raise, GeneratorExit)
            yield

    for exc_type, expected in (
        (GeneratorExit, [AssertionError]),
        (ValueError, [AssertionError, ValueError]),
    ):
        with pytest.raises(BaseExceptionGroup) as info:
            async with agen(exc_type) as channel:
                async for _ in channel:
                    break
        assert _leaf_types(info.value) == expected


@lowio_test
async def test_close_between_iterations() -> None:
    @as_safe_channel
    async def agen() -> AsyncGenerator[None, None]:
        while True:
            yield

    async with agen() as channel, lowio.open_nursery() as nursery:

        async def close_soon() -> None:
            await checkpoint()
            await channel.aclose()

        nursery.start_soon(close_soon)
        with pytest.raises(lowio.ClosedResourceError):
            async for _ in channel:
                pass


@lowio_test
async def test_close_before_iteration() -> None:
    @as_safe_channel
    async def agen() -> AsyncGenerator[None, None]:
        raise AssertionError("should be unreachable")  # pragma: no cover
        yield  # pragma: no cover

    async with agen() as channel:
        await channel.aclose()
        with pytest.raises(lowio.ClosedResourceError):
            await channel.receive()


@lowio_test
async def test_close_during_iteration() -> None:
    @as_safe_channel
    async def agen() -> AsyncGenerator[None, None]:
        yield
        await channel.aclose()
        while True:
            yield

    async with agen() as channel:
        with pytest.raises(lowio.ClosedResourceError):
            async for _ in channel:
                pass
        await wait_all_tasks_blocked()


@lowio_test
async def test_keyboard_interrupt_from_the_generator_comes_out_bare() -> None:
    @as_safe_channel
    async def agen() -> AsyncGenerator[None, None]:
        raise SystemExit(3)
        yield  # pragma: no cover

    with pytest.raises(SystemExit) as info:
        async with agen() as channel:
            await channel.receive()
    assert info.value.args == (3,)
    assert isinstance(info.value.__cause__, BaseExceptionGroup)
