"""Where lowio promises trio's behaviour, the same program is run on trio
and on lowio and the outcomes are compared (or each is checked against the
same expectation)."""

from __future__ import annotations

import contextlib
import gc
import math
import re
import socket
import sys
import types
import warnings
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from typing import Any

import outcome
import pytest
import trio
import trio.lowlevel
import trio.testing

import lowio
import lowio.lowlevel
import lowio.testing
from lowio._core._local import GLOBAL_RUN_CONTEXT

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

LIBS = pytest.mark.parametrize("lib", [trio, lowio], ids=["trio", "lowio"])


def _token(lib: Any) -> Any:
    if lib is trio:
        return trio.lowlevel.current_trio_token()
    return lowio.lowlevel.current_token()


# ---- classes that cannot be subclassed or built by users ----


@LIBS
@pytest.mark.parametrize("name", ["CancelScope", "Nursery", "Cancelled", "lowlevel.Task"])
def test_core_classes_refuse_subclassing(lib: Any, name: str) -> None:
    cls = lib
    for part in name.split("."):
        cls = getattr(cls, part)
    with pytest.raises(TypeError, match=r"\.<locals>\.Sub does not support subclassing$"):

        class Sub(cls):  # type: ignore[misc, valid-type]
            pass


@LIBS
@pytest.mark.parametrize("name", ["Nursery", "Cancelled", "lowlevel.Task"])
def test_core_classes_have_no_public_constructor(lib: Any, name: str) -> None:
    cls = lib
    for part in name.split("."):
        cls = getattr(cls, part)
    with pytest.raises(TypeError, match=r"has no public constructor$"):
        cls()


@LIBS
def test_cancelled_repr_names_source_task_and_reason(lib: Any) -> None:
    seen: list[str] = []

    async def main() -> None:
        with lib.CancelScope() as scope:
            scope.cancel()
            try:
                await lib.lowlevel.checkpoint()
            except lib.Cancelled as exc:
                seen.append(repr(exc))
                raise

    lib.run(main)
    [text] = seen
    pattern = (
        r"Cancelled\(source='explicit', source_task=\"<Task '.*main' at 0x\w+>\", reason=None\)"
    )
    assert re.fullmatch(pattern, text), text


# ---- ParkingLot's count ----


@LIBS
@pytest.mark.parametrize(
    ("count", "error"),
    [
        (1.0, ValueError),
        (1.5, ValueError),
        (math.nan, ValueError),
        ("2", TypeError),
        (None, TypeError),
    ],
)
def test_unpark_refuses_counts_as_trio_does(
    lib: Any, count: object, error: type[Exception]
) -> None:
    async def main() -> None:
        lot = lib.lowlevel.ParkingLot()
        with pytest.raises(error):
            lot.unpark(count=count)
        with pytest.raises(error):
            lot.repark(lib.lowlevel.ParkingLot(), count=count)

    lib.run(main)


@LIBS
def test_unpark_counts_trio_accepts(lib: Any) -> None:
    async def main() -> None:
        lot = lib.lowlevel.ParkingLot()
        async with lib.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(lot.park)
            await lib.testing.wait_all_tasks_blocked()
            assert len(lot.unpark(count=True)) == 1
            assert len(lot.unpark(count=0)) == 0
            assert len(lot.unpark(count=math.inf)) == 3

    lib.run(main)


# ---- exception chaining when the scheduler throws into a task ----


def _chaining_program(lib: Any) -> dict[str, object]:
    """Exceptions the scheduler throws into a task's (inner) coroutine, and
    what ``__context__`` / ``__cause__`` / ``sys.exc_info()`` say after."""
    out: dict[str, object] = {}

    async def inner() -> None:
        await lib.sleep_forever()

    async def cancelled_inside_scope() -> None:
        with lib.CancelScope() as scope:
            scope.cancel()
            await lib.sleep_forever()

    async def swallow_cancelled() -> None:
        with contextlib.suppress(lib.Cancelled):
            await lib.sleep_forever()

    async def child_raises(task_status: Any = lib.TASK_STATUS_IGNORED) -> None:
        try:
            raise KeyError("in child")
        except KeyError:
            raise ValueError("child") from None

    async def main() -> None:
        task = lib.lowlevel.current_task()
        # 1. Cancelled thrown into an inner coroutine awaited in an except block
        with lib.CancelScope() as scope:
            try:
                raise KeyError("handled")
            except KeyError:
                scope.cancel()
                try:
                    await inner()
                except lib.Cancelled as exc:
                    out["1 context"] = repr(exc.__context__)
                    out["1 cause"] = repr(exc.__cause__)
                    raise
        # 2. a thrown exception handled inside leaves nothing behind
        await cancelled_inside_scope()
        try:
            raise ValueError("after")
        except ValueError as exc:
            out["2 context"] = repr(exc.__context__)
        with lib.CancelScope() as scope:
            scope.cancel()
            await swallow_cancelled()
        out["2 exc_info"] = repr(sys.exc_info())
        # 3. reschedule with an outcome.Error whose exception has a context
        try:
            raise KeyError("old")
        except KeyError:
            err = RuntimeError("rescheduled")
        try:
            raise err
        except RuntimeError:
            pass

        async def wake() -> None:
            await lib.sleep(0.001)
            lib.lowlevel.reschedule(task, outcome.Error(err))

        for handled in (True, False):
            async with lib.open_nursery() as nursery:
                nursery.start_soon(wake)
                try:
                    if handled:
                        try:
                            raise IndexError("handled")
                        except IndexError:
                            await lib.lowlevel.wait_task_rescheduled(
                                lambda _: lib.lowlevel.Abort.FAILED
                            )
                    else:
                        await lib.lowlevel.wait_task_rescheduled(
                            lambda _: lib.lowlevel.Abort.FAILED
                        )
                except RuntimeError as exc:
                    out[f"3 context handled={handled}"] = repr(exc.__context__)
                    out[f"3 context context handled={handled}"] = repr(exc.__context__.__context__)
        # 4. nursery.start hands the child's error back with its chain
        async with lib.open_nursery() as nursery:
            try:
                await nursery.start(child_raises)
            except ValueError as exc:
                out["4 context"] = repr(exc.__context__)
                out["4 cause"] = repr(exc.__cause__)
                out["4 suppress"] = exc.__suppress_context__
        # 5. the deadline's Cancelled chained under TooSlowError
        try:
            try:
                raise IndexError("before timeout")
            except IndexError:
                with lib.fail_after(0.001):
                    await lib.sleep_forever()
        except lib.TooSlowError as exc:
            assert isinstance(exc.__context__, lib.Cancelled)
            out["5 cause"] = repr(exc.__cause__)
            out["5 context context"] = repr(exc.__context__.__context__)
        # 6. a child's error in a nursery opened inside an except block
        try:
            try:
                raise LookupError("outer")
            except LookupError:
                async with lib.open_nursery() as nursery:
                    nursery.start_soon(child_raises)
                    await lib.sleep_forever()
        except BaseExceptionGroup as group:
            out["6 group context"] = repr(group.__context__)
            out["6 member context"] = repr(group.exceptions[0].__context__)

    lib.run(main)
    return out


def test_exception_chaining_after_a_throw_matches_trio() -> None:
    expected = _chaining_program(trio)
    assert len(expected) == 15
    assert _chaining_program(lowio) == expected


# ---- a task's await frames ----


def _await_frame_names(lib: Any, body: Callable[[], Awaitable[None]]) -> list[str]:
    """The function names of the await frames of a task running ``body``,
    once it is blocked."""
    names: list[str] = []

    async def main() -> None:
        async with lib.open_nursery() as nursery:
            nursery.start_soon(body)
            await lib.testing.wait_all_tasks_blocked()
            [task] = nursery.child_tasks
            names.extend(frame.f_code.co_name for frame, _ in task.iter_await_frames())
            nursery.cancel_scope.cancel()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # an abandoned generator
        lib.run(main)
    return names


@LIBS
def test_await_frames_go_through_an_async_generator(lib: Any) -> None:
    async def agen() -> AsyncGenerator[int, None]:
        await lib.sleep_forever()
        yield 1  # pragma: no cover

    async def user() -> None:
        async for _ in agen():
            pass  # pragma: no cover

    names = _await_frame_names(lib, user)
    # trio shows one more frame of its own below wait_task_rescheduled
    assert names[:4] == ["user", "agen", "sleep_forever", "wait_task_rescheduled"]


@LIBS
def test_await_frames_go_through_asend(lib: Any) -> None:
    async def agen() -> AsyncGenerator[int, None]:
        yield 1
        await lib.sleep_forever()
        yield 2  # pragma: no cover

    async def user() -> None:
        gen = agen()
        await gen.asend(None)
        await gen.asend(None)

    assert _await_frame_names(lib, user)[:3] == ["user", "agen", "sleep_forever"]


@LIBS
def test_await_frames_go_through_athrow(lib: Any) -> None:
    async def agen() -> AsyncGenerator[int, None]:
        try:
            yield 1
        except KeyError:
            await lib.sleep_forever()
        yield 2  # pragma: no cover

    async def user() -> None:
        gen = agen()
        await gen.asend(None)
        await gen.athrow(KeyError())

    assert _await_frame_names(lib, user)[:3] == ["user", "agen", "sleep_forever"]


# ---- current_statistics ----


def _statistics_program(lib: Any) -> list[tuple[object, ...]]:
    """Counts at points of an equivalent program, relative to the start
    (trio has one more task of its own, and its wake-up reader)."""
    rows: list[tuple[object, ...]] = []
    base: list[int] = []

    def snap(label: str) -> None:
        stats = lib.lowlevel.current_statistics()
        if not base:
            base.extend((stats.tasks_living, stats.io_statistics.tasks_waiting_read))
        rows.append(
            (
                label,
                stats.tasks_living - base[0],
                stats.tasks_runnable,
                round(stats.seconds_to_next_deadline, 1),
                stats.run_sync_soon_queue_size,
                stats.io_statistics.tasks_waiting_read - base[1],
                stats.io_statistics.tasks_waiting_write,
                stats.io_statistics.backend,
            )
        )

    async def spinner() -> None:
        for _ in range(3):
            await lib.lowlevel.checkpoint()

    async def main() -> None:
        await lib.testing.wait_all_tasks_blocked()  # trio's own task is waiting
        snap("start")
        a, b = socket.socketpair()
        with a, b:
            async with lib.open_nursery() as nursery:
                nursery.start_soon(lib.sleep, 5)
                nursery.start_soon(spinner)
                snap("spawned")
                await lib.testing.wait_all_tasks_blocked()
                snap("blocked")
                nursery.start_soon(lib.lowlevel.wait_readable, a)
                await lib.testing.wait_all_tasks_blocked()
                snap("reading")
                token = _token(lib)
                token.run_sync_soon(lambda: None)
                token.run_sync_soon(lambda: None, idempotent=True)
                snap("queued")
                # trio runs them in a task of its own, in the batch after the
                # wake-up (before or after this task): two steps are enough
                await lib.lowlevel.checkpoint()
                await lib.lowlevel.checkpoint()
                snap("after two checkpoints")
                b.send(b"x")
                await lib.testing.wait_all_tasks_blocked()
                snap("read")
                with lib.move_on_after(1):
                    snap("in a scope")
                nursery.cancel_scope.cancel()
            snap("end")

    lib.run(main)
    return rows


def test_statistics_count_as_trio_does() -> None:
    expected = _statistics_program(trio)
    assert expected[5] == ("after two checkpoints", 2, 0, 5.0, 0, 1, 0, "epoll")
    assert _statistics_program(lowio) == expected


# ---- foreign yields ----


@LIBS
def test_a_yielded_foreign_callable_is_refused(lib: Any) -> None:
    @types.coroutine
    def yield_callable(msg: object) -> Iterator[object]:
        yield msg

    async def main() -> None:
        for msg in (lambda _: lib.lowlevel.Abort.SUCCEEDED, print, len, socket.socket):
            with pytest.raises(TypeError, match=r"^\w+\.run received unrecognized yield message"):
                await yield_callable(msg)
        await lib.lowlevel.checkpoint()  # the task carries on

    lib.run(main)


# ---- foreign async generators ----


def test_a_recycled_id_of_a_foreign_async_generator_is_not_mistaken() -> None:
    """A generator first iterated outside the run's tasks (here: in an
    instrument) is foreign; once it is exhausted and freed its id is free for
    the next object, which may be a generator of the run: abandoning that one
    must still close it inside the run."""
    record: list[str] = []
    foreign_ids: list[int] = []

    async def gen() -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2
        finally:
            record.append("closed" if GLOBAL_RUN_CONTEXT.task is not None else "outside")

    def exhaust_outside_a_task() -> None:
        assert GLOBAL_RUN_CONTEXT.task is None
        foreign = gen()
        for _ in range(3):
            with pytest.raises((StopIteration, StopAsyncIteration)):
                foreign.asend(None).send(None)
        foreign_ids.append(id(foreign))

    class Instrument(lowio.lowlevel.Instrument):
        def after_io_wait(self, timeout: float) -> None:
            if not foreign_ids:
                exhaust_outside_a_task()

    async def main() -> None:
        while not foreign_ids:
            await lowio.sleep(0)
        record.clear()  # the foreign one ran its finally while exhausted
        misses = []
        for _ in range(1000):  # CPython hands a freed block back at once
            ours = gen()
            if id(ours) == foreign_ids[0]:
                break
            misses.append(ours)
        else:  # pragma: no cover
            pytest.fail("the foreign generator's id was never reused")
        assert await ours.asend(None) == 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            del ours
            gc.collect()
        await lowio.testing.wait_all_tasks_blocked()
        assert record == ["closed"]

    lowio.run(main, instruments=[Instrument()])


def test_a_foreign_async_generator_goes_to_the_previous_finalizer() -> None:
    finalized: list[str] = []
    keep: list[Any] = []

    async def gen() -> AsyncGenerator[int, None]:
        yield 1
        yield 2  # pragma: no cover

    class Instrument(lowio.lowlevel.Instrument):
        def after_io_wait(self, timeout: float) -> None:
            if not keep:
                foreign = gen()
                with pytest.raises(StopIteration):
                    foreign.asend(None).send(None)
                keep.append(foreign)

    async def main() -> None:
        while not keep:
            await lowio.sleep(0)
        keep.clear()
        gc.collect()
        await lowio.testing.wait_all_tasks_blocked()

    def firstiter(agen: Any) -> None:
        pass

    def finalizer(agen: Any) -> None:
        finalized.append(agen.ag_code.co_name)
        with pytest.raises(StopIteration):
            agen.aclose().send(None)

    old = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(firstiter, finalizer)
    try:
        lowio.run(main, instruments=[Instrument()])
    finally:
        sys.set_asyncgen_hooks(*old)
    assert finalized == ["gen"]


@pytest.mark.parametrize("lib", [trio, lowio], ids=["trio", "lowio"])
def test_public_helpers_trio_0_35_has(lib: Any) -> None:
    assert lib.lowlevel.encode_hostname("faß.de") == b"xn--fa-hia.de"
    assert lib.lowlevel.encode_hostname("::1") == b"::1"
    path = lib.WindowsPath("c:/x")
    assert str(path) == "c:\\x" and isinstance(path, lib.Path)

    async def two_clocks(*, a: object, b: object) -> None: ...  # pragma: no cover

    with pytest.raises(ValueError, match=r"^too many clocks spoil the broth!$"):
        lib.testing.trio_test(two_clocks)(
            a=lib.testing.MockClock(), b=lib.testing.MockClock(autojump_threshold=0)
        )


@pytest.mark.parametrize("lib", [trio, lowio], ids=["trio", "lowio"])
def test_raises_group_and_matcher_are_deprecated_names(lib: Any) -> None:
    with pytest.deprecated_call(match="RaisesGroup"):
        raises_group = lib.testing.RaisesGroup
    with pytest.deprecated_call(match="RaisesExc"):
        matcher = lib.testing.Matcher
    with raises_group(matcher(ValueError, match="^x$")):
        raise BaseExceptionGroup("eg", [ValueError("x")])
