"""Nurseries: ``open_nursery``, ``start_soon``, ``start`` and the
``task_status`` handshake, strict exception groups and cancellation of the
children."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, NoReturn

import pytest

import lowio
from lowio.lowlevel import checkpoint, current_task
from lowio.testing import MockClock, wait_all_tasks_blocked

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup


def autojump() -> MockClock:
    return MockClock(autojump_threshold=0)


# ---- start_soon ----


def test_children_start_only_when_the_parent_yields() -> None:
    # (in no promised order: the children and the parent's checkpoint are
    # one batch, which the scheduler may run backwards)
    record: list[str] = []

    async def child(label: str) -> None:
        record.append(label)

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            for label in "abcde":
                nursery.start_soon(child, label)
            assert record == []  # start_soon is not a schedule point
            assert len(nursery.child_tasks) == 5
            await wait_all_tasks_blocked()
            assert sorted(record) == list("abcde")
            assert not nursery.child_tasks

    lowio.run(main)


def test_start_soon_passes_args_and_names() -> None:
    seen: dict[str, tuple[object, ...]] = {}

    async def worker(*args: object) -> None:
        seen[current_task().name] = args

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(worker, 1, "x", name="first")
            nursery.start_soon(worker, name="second")
            nursery.start_soon(worker, None)

    lowio.run(main)
    assert seen.pop("first") == (1, "x")
    assert seen.pop("second") == ()
    [(name, args)] = seen.items()
    assert name.endswith("worker") and args == (None,)


def test_start_soon_is_not_a_checkpoint_even_when_cancelled() -> None:
    async def main() -> None:
        with lowio.CancelScope() as scope:
            scope.cancel()
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(checkpoint)  # runs and is cancelled
                reached = True
        assert reached
        assert scope.cancelled_caught  # the child's Cancelled was caught

    lowio.run(main)


def test_nursery_waits_for_all_children() -> None:
    finished: list[float] = []

    async def sleeper(seconds: float) -> None:
        await lowio.sleep(seconds)
        finished.append(lowio.current_time())

    async def main() -> None:
        start = lowio.current_time()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(sleeper, 3)
            nursery.start_soon(sleeper, 1)
            nursery.start_soon(sleeper, 2)
        assert lowio.current_time() - start == 3
        assert [t - start for t in finished] == [1, 2, 3]

    lowio.run(main, clock=autojump())


def test_start_soon_on_a_closed_nursery_raises() -> None:
    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            pass
        with pytest.raises(RuntimeError, match=r"closed"):
            nursery.start_soon(checkpoint)

    lowio.run(main)


def test_nursery_stays_open_for_start_soon_while_children_run() -> None:
    record: list[str] = []

    async def late(label: str) -> None:
        record.append(label)

    async def spawner(nursery: lowio.Nursery) -> None:
        await lowio.sleep(1)
        # the body has finished, but a child is alive: still open
        nursery.start_soon(late, "late child")

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(spawner, nursery)
        assert record == ["late child"]

    lowio.run(main, clock=autojump())


def test_sync_with_open_nursery_is_a_runtime_error() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match=r"async with"), lowio.open_nursery():  # type: ignore[attr-defined]
            pass  # pragma: no cover

    lowio.run(main)


def test_open_nursery_outside_a_run() -> None:
    async def use() -> None:
        async with lowio.open_nursery():
            pass  # pragma: no cover

    coro = use()
    with pytest.raises(RuntimeError):
        coro.send(None)
    coro.close()


# ---- exceptions: strict groups ----


def test_a_single_child_error_is_wrapped_in_a_group() -> None:
    error = ValueError("child failed")

    async def crasher() -> NoReturn:
        raise error

    async def main() -> None:
        with pytest.raises(BaseExceptionGroup) as info:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(crasher)
        assert info.value.exceptions == (error,)
        # an ExceptionGroup, since everything inside is an Exception
        assert isinstance(info.value, ExceptionGroup)

    lowio.run(main)


def test_a_body_error_is_wrapped_in_a_group_too() -> None:
    async def main() -> None:
        with pytest.raises(BaseExceptionGroup) as info:
            async with lowio.open_nursery():
                raise KeyError("body")
        [exc] = info.value.exceptions
        assert isinstance(exc, KeyError)

    lowio.run(main)


def test_base_exceptions_make_a_base_exception_group() -> None:
    class Custom(BaseException):
        pass

    async def crasher() -> NoReturn:
        raise Custom

    async def main() -> None:
        with pytest.raises(BaseExceptionGroup) as info:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(crasher)
        assert not isinstance(info.value, ExceptionGroup)
        [exc] = info.value.exceptions
        assert isinstance(exc, Custom)

    lowio.run(main)


def test_a_failing_child_cancels_its_siblings_and_the_body() -> None:
    record: list[str] = []

    async def sibling() -> None:
        try:
            await lowio.sleep_forever()
        except lowio.Cancelled as exc:
            record.append(f"sibling: {exc}")
            raise

    async def crasher() -> NoReturn:
        await lowio.sleep(1)
        raise ValueError("boom")

    async def main() -> None:
        with pytest.raises(BaseExceptionGroup) as info:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(sibling)
                nursery.start_soon(crasher)
                try:
                    await lowio.sleep_forever()
                except lowio.Cancelled:
                    record.append("body cancelled")
                    raise
        # only the real error: the Cancelled are absorbed by the nursery
        assert [type(e) for e in info.value.exceptions] == [ValueError]

    lowio.run(main, clock=autojump())
    assert len(record) == 2
    assert "body cancelled" in record
    [sibling_text] = [r for r in record if r.startswith("sibling")]
    assert "ValueError" in sibling_text  # the cancel reason names the error


def test_several_errors_are_all_collected() -> None:
    async def crash(exc: Exception) -> NoReturn:
        raise exc  # before any checkpoint, so the cancellation cannot stop it

    async def main() -> None:
        errors = [ValueError("a"), KeyError("b"), TypeError("c")]
        with pytest.raises(BaseExceptionGroup) as info:
            async with lowio.open_nursery() as nursery:
                for exc in errors:
                    nursery.start_soon(crash, exc)
                raise OSError("body too")
        got = list(info.value.exceptions)
        assert len(got) == 4
        assert {type(e) for e in got} == {ValueError, KeyError, TypeError, OSError}
        # the body's error is recorded first: it ends the body before the
        # children had a chance to run
        assert isinstance(got[0], OSError)

    lowio.run(main)


def test_nested_nurseries_make_nested_groups() -> None:
    async def crasher() -> NoReturn:
        raise ValueError("deep")

    async def middle() -> None:
        async with lowio.open_nursery() as inner:
            inner.start_soon(crasher)

    async def main() -> None:
        with pytest.raises(BaseExceptionGroup) as info:
            async with lowio.open_nursery() as outer:
                outer.start_soon(middle)
        [inner_group] = info.value.exceptions
        assert isinstance(inner_group, BaseExceptionGroup)
        [leaf] = inner_group.exceptions
        assert isinstance(leaf, ValueError) and str(leaf) == "deep"

    lowio.run(main)


def test_a_group_raised_by_a_child_is_kept_whole() -> None:
    async def raiser() -> NoReturn:
        raise ExceptionGroup("mine", [ValueError(1), ValueError(2)])

    async def main() -> None:
        with pytest.raises(BaseExceptionGroup) as info:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(raiser)
        [group] = info.value.exceptions
        assert isinstance(group, ExceptionGroup) and group.message == "mine"

    lowio.run(main)


def test_cancelling_the_nursery_scope_ends_it_quietly() -> None:
    record: list[str] = []

    async def sleeper(label: str) -> None:
        try:
            await lowio.sleep_forever()
        finally:
            record.append(label)

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(sleeper, "a")
            nursery.start_soon(sleeper, "b")
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
            record.append("body continues")
        assert nursery.cancel_scope.cancelled_caught
        assert sorted(record) == ["a", "b", "body continues"]

    lowio.run(main)


def test_outer_cancellation_reaches_children_and_is_caught_outside() -> None:
    async def main() -> None:
        with lowio.CancelScope() as outer:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(lowio.sleep_forever)
                nursery.start_soon(lowio.sleep_forever)
                await wait_all_tasks_blocked()
                outer.cancel()
        assert outer.cancelled_caught
        assert not nursery.cancel_scope.cancelled_caught

    lowio.run(main)


def test_cancelled_while_waiting_for_children_in_exit() -> None:
    # The body is done and waits in __aexit__: cancelling from outside
    # cancels the children; the parent is not woken early.
    record: list[str] = []

    async def slow_cleanup() -> None:
        try:
            await lowio.sleep_forever()
        finally:
            with lowio.CancelScope(shield=True):
                await lowio.sleep(1)
            record.append("child done")

    async def canceller(scope: lowio.CancelScope) -> None:
        await lowio.sleep(1)
        scope.cancel()

    async def main() -> None:
        async with lowio.open_nursery() as top:
            with lowio.CancelScope() as outer:
                top.start_soon(canceller, outer)
                async with lowio.open_nursery() as nursery:
                    nursery.start_soon(slow_cleanup)
                record.append("nursery exited")
            assert outer.cancelled_caught
            assert lowio.current_time() == 2

    lowio.run(main, clock=autojump())
    assert record == ["child done"]


def test_nursery_exit_with_no_children_is_a_schedule_point_not_a_cancel_point() -> None:
    async def main() -> None:
        task = current_task()
        with lowio.CancelScope() as scope:
            scope.cancel()
            before = task._schedule_points
            async with lowio.open_nursery():
                pass
            # the exit yielded to the scheduler (other tasks could run) ...
            assert task._schedule_points == before + 1
        # ... but did not raise Cancelled
        assert not scope.cancelled_caught

    lowio.run(main)


def test_stop_iteration_from_a_child_is_a_plain_error() -> None:
    async def fail() -> NoReturn:
        raise StopIteration

    async def main() -> None:
        with pytest.raises(BaseExceptionGroup) as info:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(fail)
        [exc] = info.value.exceptions
        assert isinstance(exc, (StopIteration, RuntimeError))

    lowio.run(main)


# ---- start ----


async def started_with(value: object, *, task_status: Any = lowio.TASK_STATUS_IGNORED) -> None:
    await lowio.sleep(1)
    task_status.started(value)
    await lowio.sleep(1)


def test_start_returns_the_started_value_and_the_task_lives_on() -> None:
    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            t0 = lowio.current_time()
            assert await nursery.start(started_with, "ready") == "ready"
            assert lowio.current_time() - t0 == 1
            assert len(nursery.child_tasks) == 1
        assert lowio.current_time() - t0 == 2
        # started() with no value gives None
        async with lowio.open_nursery() as nursery:

            async def no_value(*, task_status: Any) -> None:
                task_status.started()

            assert await nursery.start(no_value) is None

    lowio.run(main, clock=autojump())


def test_task_status_ignored_lets_the_function_be_awaited_directly() -> None:
    async def main() -> None:
        t0 = lowio.current_time()
        await started_with("ignored")
        assert lowio.current_time() - t0 == 2
        assert repr(lowio.TASK_STATUS_IGNORED) == "TASK_STATUS_IGNORED"

    lowio.run(main, clock=autojump())


def test_calling_started_twice_is_a_runtime_error() -> None:
    errors: list[BaseException] = []

    async def twice(*, task_status: Any) -> None:
        task_status.started(1)
        try:
            task_status.started(2)
        except RuntimeError as exc:
            errors.append(exc)

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            assert await nursery.start(twice) == 1

    lowio.run(main)
    [exc] = errors
    assert "twice" in str(exc)


def test_crash_before_started_propagates_unwrapped_to_the_caller_of_start() -> None:
    async def crasher(*, task_status: Any) -> NoReturn:
        await checkpoint()
        exc = KeyError("early")
        exc.__cause__ = SyntaxError("cause")
        raise exc

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(lowio.sleep, 1)
            with pytest.raises(KeyError) as info:
                await nursery.start(crasher)
            assert isinstance(info.value.__cause__, SyntaxError)
            # the error went to the caller, not into the nursery: it is not
            # cancelled and the sibling finishes normally
            assert not nursery.cancel_scope.cancel_called

    lowio.run(main, clock=autojump())


def test_crash_after_started_goes_to_the_target_nursery() -> None:
    async def crasher(*, task_status: Any) -> NoReturn:
        task_status.started("ok")
        await checkpoint()
        raise KeyError("late")

    async def main() -> None:
        with pytest.raises(BaseExceptionGroup) as info:
            async with lowio.open_nursery() as nursery:
                assert await nursery.start(crasher) == "ok"
                await lowio.sleep_forever()
        [exc] = info.value.exceptions
        assert isinstance(exc, KeyError)

    lowio.run(main)


def test_child_exiting_without_started_is_a_runtime_error() -> None:
    async def lazy(*, task_status: Any) -> None:
        await checkpoint()

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            with pytest.raises(RuntimeError, match=r"without calling task_status.started"):
                await nursery.start(lazy)

    lowio.run(main)


def test_start_with_bad_calling_convention_raises_at_once() -> None:
    async def no_task_status() -> None:
        pass  # pragma: no cover

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            with pytest.raises(TypeError):
                await nursery.start(no_task_status)

    lowio.run(main)


def test_start_on_a_closed_nursery_raises_without_running_anything() -> None:
    ran: list[str] = []

    async def child(*, task_status: Any) -> None:
        ran.append("child")  # pragma: no cover
        task_status.started()  # pragma: no cover

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            pass
        with pytest.raises(RuntimeError, match=r"closed"):
            await nursery.start(child)
        await checkpoint()
        assert ran == []

    lowio.run(main)


def test_started_task_is_reparented_into_the_target_nursery() -> None:
    record: dict[str, Any] = {}

    async def child(*, task_status: Any) -> None:
        me = current_task()
        record["before"] = (me.parent_nursery, me.eventual_parent_nursery)
        task_status.started(me)
        record["after"] = (me.parent_nursery, me.eventual_parent_nursery)
        try:
            await lowio.sleep_forever()
        except lowio.Cancelled:
            record["cancelled"] = True
            raise

    async def main() -> None:
        async with lowio.open_nursery() as target:
            with lowio.CancelScope() as caller_scope:
                task = await target.start(child)
            before_parent, before_eventual = record["before"]
            assert before_parent is not target  # it ran under start() first
            assert before_eventual is target
            assert record["after"] == (target, None)
            assert task.parent_nursery is target
            assert task in target.child_tasks
            # the caller's scope no longer covers it ...
            caller_scope.cancel()
            await wait_all_tasks_blocked()
            assert "cancelled" not in record
            # ... the target nursery's does
            target.cancel_scope.cancel()
        assert record["cancelled"] is True

    lowio.run(main)


def test_start_from_another_task_into_a_nursery_whose_body_has_ended() -> None:
    async def starter(target: lowio.Nursery) -> None:
        assert await target.start(started_with, 5) == 5

    async def main() -> None:
        t0 = lowio.current_time()
        async with lowio.open_nursery() as outer:
            async with lowio.open_nursery() as target:
                outer.start_soon(starter, target)
                await lowio.sleep(0.5)
            # the pending start kept `target` open until the task arrived
            # (at t=1) and then for the task itself (until t=2)
            assert lowio.current_time() - t0 == 2

    lowio.run(main, clock=autojump())


def test_start_pending_crash_keeps_nursery_open_until_it_fails() -> None:
    async def crash_later(*, task_status: Any) -> NoReturn:
        await lowio.sleep(3)
        raise KeyError

    async def starter(target: lowio.Nursery) -> None:
        with pytest.raises(KeyError):
            await target.start(crash_later)

    async def main() -> None:
        t0 = lowio.current_time()
        async with lowio.open_nursery() as outer:
            async with lowio.open_nursery() as target:
                outer.start_soon(starter, target)
                await wait_all_tasks_blocked()
            assert lowio.current_time() - t0 == 3

    lowio.run(main, clock=autojump())


def test_cancelled_start_makes_started_a_no_op() -> None:
    record: list[str] = []

    async def child(*, task_status: Any) -> None:
        task_status.started("hi")
        try:
            await checkpoint()
        except lowio.Cancelled:
            record.append("child cancelled under start")
            raise

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            with lowio.CancelScope() as scope:
                scope.cancel()
                with pytest.raises(lowio.Cancelled):
                    await nursery.start(child)
            assert len(nursery.child_tasks) == 0

    lowio.run(main)
    assert record == ["child cancelled under start"]


def test_cancelled_start_with_no_checkpoint_still_returns() -> None:
    async def child(*, task_status: Any) -> None:
        task_status.started("value")

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            with lowio.CancelScope() as scope:
                scope.cancel()
                assert await nursery.start(child) == "value"
            assert not scope.cancelled_caught

    lowio.run(main)


def test_started_moves_sleeping_grandchildren_into_a_cancelled_target() -> None:
    async def setup(*, task_status: Any) -> None:
        async with lowio.open_nursery() as inner:
            task_status.started(inner)
            await lowio.sleep_forever()

    async def with_children(cancel_target: Any, *, task_status: Any) -> None:
        async with lowio.open_nursery() as mine:
            mine.start_soon(lowio.sleep_forever)
            mine.start_soon(lowio.sleep_forever)
            await wait_all_tasks_blocked()
            cancel_target()
            task_status.started()

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            target = await nursery.start(setup)
            # the target is cancelled just before started(): the moved
            # children must be woken with Cancelled (or this hangs)
            await target.start(with_children, target.cancel_scope.cancel)
        async with lowio.open_nursery() as nursery:
            target = await nursery.start(setup)
            await target.start(with_children, lambda: None)
            target.cancel_scope.cancel()

    lowio.run(main)


def test_start_name_defaults_to_the_function() -> None:
    names: list[str] = []

    async def named(*, task_status: Any) -> None:
        names.append(current_task().name)
        task_status.started()

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            await nursery.start(named)
            await nursery.start(named, name="given")

    lowio.run(main)
    assert names[0].endswith("named") and names[1] == "given"


# ---- misnesting ----


def test_task_exiting_with_an_open_nursery() -> None:
    record: list[str] = []

    async def orphan() -> None:
        try:
            await lowio.sleep(1000)
        except lowio.Cancelled as exc:
            record.append(str(exc))
            raise

    async def leaves_it_open(manager: Any) -> None:
        nursery = await manager.__aenter__()
        nursery.start_soon(orphan)
        await wait_all_tasks_blocked()

    async def main() -> None:
        with pytest.raises(BaseExceptionGroup) as info:
            async with lowio.open_nursery() as outer:
                outer.start_soon(leaves_it_open, lowio.open_nursery())
        [exc] = info.value.exceptions
        assert isinstance(exc, RuntimeError)
        assert str(exc).startswith("Nursery stack corrupted")
        # the orphan was cancelled (not waited for by anyone)
        await wait_all_tasks_blocked()
        assert len(record) == 1 and "Parent Task exited prematurely" in record[0]
        assert lowio.current_time() < 1000

    lowio.run(main, clock=autojump())


def test_nursery_left_open_in_the_body_of_another() -> None:
    async def main() -> None:
        async with lowio.open_nursery():
            await lowio.open_nursery().__aenter__()

    with pytest.raises(RuntimeError, match=r"^Nursery stack corrupted") as info:
        lowio.run(main)
    assert isinstance(info.value.__context__, AssertionError)


def test_exit_stack_misnesting_cleans_up_eventually_without_crashing() -> None:
    finally_ran: list[bool] = []

    async def child() -> None:
        try:
            await checkpoint()
        finally:
            finally_ran.append(True)
            raise ValueError("this error is lost, as in trio")

    @asynccontextmanager
    async def opens_a_nursery() -> AsyncIterator[None]:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(child)
            yield

    async def main() -> None:
        # the context manager's nursery outlives the task that entered it
        with pytest.raises(BaseExceptionGroup) as info:
            async with AsyncExitStack() as stack, lowio.open_nursery() as nursery:
                nursery.start_soon(stack.enter_async_context, opens_a_nursery())
        [inner] = info.value.exceptions
        assert isinstance(inner, BaseExceptionGroup)
        [exc] = inner.exceptions
        assert str(exc).startswith("Nursery stack corrupted")

    lowio.run(main)  # no LowioInternalError
    assert finally_ran == [True]


def test_nursery_has_no_public_constructor() -> None:
    with pytest.raises(TypeError):
        lowio.Nursery()
    with pytest.raises(TypeError):
        lowio.TaskStatus()


def test_nursery_attributes() -> None:
    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            assert nursery.parent_task is current_task()
            assert isinstance(nursery.cancel_scope, lowio.CancelScope)
            assert nursery.child_tasks == frozenset()
            nursery.start_soon(checkpoint, name="c")
            [task] = nursery.child_tasks
            assert task.name == "c" and task.parent_nursery is nursery
            assert "Nursery" in repr(nursery)

    lowio.run(main)
