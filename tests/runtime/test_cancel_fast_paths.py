"""The in-place paths of cancel scopes: entering builds and links the node
itself (inheriting an enclosing cancellation and its reason), exiting
unlinks it and drops the deadline's timer (``__exit__`` in place when
nothing propagates), constructor checks that the defaults skip, the
private nursery of ``nursery.start``, and the anyio backend's directly
built scopes."""

from __future__ import annotations

import math
import sys

import anyio
import pytest

import lowio
from lowio.lowlevel import checkpoint
from lowio.testing import MockClock, wait_all_tasks_blocked

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup


def autojump() -> MockClock:
    return MockClock(autojump_threshold=0)


def test_scope_entered_inside_a_cancelled_one_starts_cancelled_with_its_reason() -> None:
    async def main() -> None:
        with lowio.CancelScope() as outer:
            outer.cancel("outer's reason")
            with lowio.CancelScope() as inner:
                with pytest.raises(lowio.Cancelled) as info:
                    await checkpoint()
                assert info.value.reason == "outer's reason"
                assert info.value.source == "explicit"
            assert not inner.cancelled_caught  # it was the outer scope's
            assert not inner.cancel_called
            with lowio.CancelScope(shield=True) as shielded:
                await checkpoint()  # shielded: no Cancelled
            assert not shielded.cancelled_caught
            await checkpoint()  # raises: the outer scope catches it
        assert outer.cancelled_caught

    lowio.run(main)


def test_a_later_child_scope_sees_the_parent_cancelled_from_another_task() -> None:
    async def main() -> None:
        with lowio.CancelScope() as outer:
            with lowio.CancelScope():
                await checkpoint()  # a first child comes and goes
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(cancel_soon, outer)
                with lowio.CancelScope(), lowio.CancelScope(deadline=math.inf):
                    await lowio.sleep_forever()  # woken by the outer cancel
        assert outer.cancelled_caught

    async def cancel_soon(scope: lowio.CancelScope) -> None:
        await wait_all_tasks_blocked()
        scope.cancel()

    lowio.run(main)


def test_exiting_drops_the_deadline_timer() -> None:
    async def main() -> None:
        with lowio.move_on_after(1) as early:
            pass
        with lowio.CancelScope(deadline=lowio.current_time() + 2) as absolute:
            await checkpoint()
        await lowio.sleep(10)  # past both deadlines, outside both scopes
        assert not early.cancel_called and not early.cancelled_caught
        assert not absolute.cancel_called
        assert lowio.current_effective_deadline() == math.inf

    lowio.run(main, clock=autojump())


def test_moving_the_deadline_of_an_entered_scope_moves_its_timer() -> None:
    async def main() -> None:
        start = lowio.current_time()
        with lowio.move_on_after(100) as scope:
            scope.deadline = start + 5  # earlier
            scope.deadline = start + 3  # earlier again
            await lowio.sleep(50)
        assert scope.cancelled_caught
        assert lowio.current_time() == start + 3
        with lowio.move_on_after(1) as never:
            never.deadline = math.inf
            await lowio.sleep(5)
        assert not never.cancel_called
        never.deadline = lowio.current_time() + 1  # exited: no timer comes back
        await lowio.sleep(5)
        assert not never.cancel_called

    lowio.run(main, clock=autojump())


def test_zero_timeout_is_cancelled_on_entry() -> None:
    async def main() -> None:
        with lowio.move_on_after(0) as scope:
            assert scope.cancel_called
            assert lowio.current_effective_deadline() == -math.inf
            await checkpoint()
        assert scope.cancelled_caught
        with pytest.raises(lowio.TooSlowError), lowio.fail_after(0):
            await checkpoint()

    lowio.run(main, clock=MockClock())


def test_relative_deadline_before_and_after_entering() -> None:
    async def main() -> None:
        scope = lowio.CancelScope(relative_deadline=4)
        assert scope.is_relative is True
        assert scope.relative_deadline == 4
        with pytest.raises(RuntimeError, match="does not have an absolute deadline"):
            scope.deadline  # noqa: B018
        with scope:
            assert scope.is_relative is None
            assert scope.deadline == lowio.current_time() + 4
            assert scope.relative_deadline == 4
            scope.relative_deadline = 1
            await lowio.sleep(2)
        assert scope.cancelled_caught
        with pytest.raises(RuntimeError, match="single 'with' block"), scope:
            pass  # pragma: no cover

    lowio.run(main, clock=autojump())


def test_constructor_checks() -> None:
    assert lowio.CancelScope(deadline=3).deadline == 3.0
    assert type(lowio.CancelScope(deadline=3).deadline) is float
    assert lowio.CancelScope(deadline=float("inf")).deadline == math.inf
    with pytest.raises(ValueError, match="deadline must not be NaN"):
        lowio.CancelScope(deadline=math.nan)
    with pytest.raises(ValueError, match="relative deadline must not be NaN"):
        lowio.CancelScope(relative_deadline=math.nan)
    with pytest.raises(ValueError, match="timeout must be non-negative"):
        lowio.CancelScope(relative_deadline=-1)
    with pytest.raises(ValueError, match="Cannot specify both"):
        lowio.CancelScope(deadline=1, relative_deadline=1)
    for shield in (1, 0, None, "yes"):
        with pytest.raises(TypeError, match="shield must be a bool"):
            lowio.CancelScope(shield=shield)  # type: ignore[arg-type]
    assert lowio.CancelScope(shield=True).shield is True


def test_exit_hands_back_what_is_left_of_the_exception() -> None:
    async def main() -> None:
        error = ValueError("kept")
        with pytest.raises(ValueError) as info, lowio.CancelScope() as scope:
            scope.cancel()
            raise error
        assert info.value is error
        assert not scope.cancelled_caught
        with pytest.raises(ExceptionGroup) as group:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(fail)
                await lowio.sleep_forever()
        assert [type(e) for e in group.value.exceptions] == [ValueError]

    async def fail() -> None:
        raise ValueError("child")

    lowio.run(main)


def test_anyio_scopes_keep_their_arguments() -> None:
    async def main() -> None:
        now = anyio.current_time()
        scope = anyio.CancelScope(deadline=now + 5, shield=True)
        assert (scope.deadline, scope.shield) == (now + 5, True)
        plain = anyio.CancelScope()
        assert (plain.deadline, plain.shield, plain.cancel_called) == (math.inf, False, False)
        with plain:
            plain.cancel("why")
            await anyio.lowlevel.checkpoint()
        assert plain.cancelled_caught
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.sleep_forever)
            await anyio.wait_all_tasks_blocked()
            group.cancel_scope.cancel()
        assert group.cancel_scope.cancel_called

    anyio.run(main, backend="lowio")


def test_start_failures_leave_start_unwrapped_with_their_own_context() -> None:
    """``nursery.start`` opens its private nursery without a manager: what
    the task raises before ``started()`` (or the spawn itself) still comes
    out bare, with the context it had (trio's behaviour)."""

    async def crash(*, task_status: object) -> None:
        raise ValueError("early")

    def not_async(*, task_status: object) -> int:
        return 1

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            try:
                raise KeyError("being handled")
            except KeyError:
                with pytest.raises(ValueError, match="early") as crashed:
                    await nursery.start(crash)
                with pytest.raises(TypeError) as refused:
                    await nursery.start(not_async)  # type: ignore[arg-type]
            assert crashed.value.__context__ is None
            assert isinstance(refused.value.__context__, KeyError)
            assert not nursery.child_tasks

    lowio.run(main)


# ``CancelScope.__exit__`` unlinks a scope in place when nothing propagates
# and the exit is properly nested; the tests below are the exits with no
# exception that must not take that path.


def test_plain_exit_restores_the_enclosing_node() -> None:
    async def main() -> None:
        task = lowio.lowlevel.current_task()
        outer_status = task._cancel_status
        with lowio.CancelScope() as scope:
            inner_status = task._cancel_status
            assert inner_status is not outer_status
        assert task._cancel_status is outer_status
        assert task in outer_status._tasks
        assert not outer_status._children
        assert inner_status.parent is None and not inner_status._tasks
        assert scope._cancel_status is None
        with pytest.raises(RuntimeError, match="already been exited"):
            scope.__exit__(None, None, None)
        outer_status._scope.cancel()  # the enclosing node still reaches the task
        with pytest.raises(lowio.Cancelled):
            await checkpoint()

    lowio.run(main)


def test_plain_exit_with_a_scope_still_open_inside_reports_the_misnesting() -> None:
    async def main() -> None:
        outer = lowio.CancelScope()
        outer.__enter__()
        inner = lowio.CancelScope()
        inner.__enter__()
        task = lowio.lowlevel.current_task()
        with pytest.raises(RuntimeError, match="still within its child"):
            outer.__exit__(None, None, None)
        # the task left both; the stranded inner scope was abandoned
        assert task._cancel_status is not inner._cancel_status
        assert inner._cancel_status.abandoned_by_misnesting
        assert outer._cancel_status is None

    lowio.run(main)


def test_plain_exit_from_another_task_is_refused() -> None:
    async def main() -> None:
        errors: list[BaseException] = []
        scope = lowio.CancelScope()

        async def intruder() -> None:
            try:
                scope.__exit__(None, None, None)
            except RuntimeError as exc:
                errors.append(exc)

        async with lowio.open_nursery() as nursery:
            with scope:  # the intruder runs outside it, at the nursery's node
                nursery.start_soon(intruder)
                await wait_all_tasks_blocked()
                assert lowio.lowlevel.current_task()._cancel_status._scope is scope
        assert len(errors) == 1 and "unrelated" in str(errors[0])

    lowio.run(main)


def test_plain_exit_of_a_cancelled_scope_with_a_deadline_drops_its_timer() -> None:
    async def main() -> None:
        with lowio.move_on_after(1) as scope:
            assert scope._timer_entry is not None
        assert scope._timer_entry is None
        with lowio.CancelScope() as cancelled:
            cancelled.cancel()
        assert cancelled.cancel_called and not cancelled.cancelled_caught
        await lowio.sleep(5)
        assert not scope.cancel_called

    lowio.run(main, clock=autojump())


def test_plain_exit_of_a_nursery_scope_waits_for_nothing_more() -> None:
    """A nursery's own scope has its children at its node while they run;
    by the time it exits they are gone, and the node leaves cleanly."""

    async def main() -> None:
        task = lowio.lowlevel.current_task()
        before = task._cancel_status
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(lowio.sleep, 0)
            nursery.start_soon(lowio.sleep, 0)
        assert task._cancel_status is before
        assert not before._children

    lowio.run(main)


def test_a_delivered_cancelled_is_built_as_the_constructor_builds_it() -> None:
    """The ``Cancelled`` a cancelled scope raises is made without its
    constructor's calls: it must come out the same as ``_create`` makes it."""
    import pickle

    from lowio._core._cancel import MISNESTING_REASON, CancelReason

    caught: list[lowio.Cancelled] = []

    async def main() -> None:
        with lowio.CancelScope() as scope:
            scope.cancel("why")
            try:
                await lowio.sleep_forever()
            except lowio.Cancelled as exc:
                caught.append(exc)
                raise
        assert scope.cancelled_caught

    lowio.run(main)
    (delivered,) = caught
    expected = lowio.Cancelled._create(
        source="explicit", reason="why", source_task=delivered.source_task
    )
    assert delivered.source_task is not None and "main" in delivered.source_task
    assert type(delivered) is lowio.Cancelled
    assert delivered.args == expected.args == ()
    assert vars(delivered) == vars(expected)
    assert str(delivered) == str(expected) and repr(delivered) == repr(expected)
    assert vars(pickle.loads(pickle.dumps(delivered))) == vars(expected)
    for reason in (CancelReason("deadline"), MISNESTING_REASON, CancelReason("nursery", "r", "t")):
        made = reason.exception()
        like = lowio.Cancelled._create(
            source=reason.source, reason=reason.reason, source_task=reason.source_task
        )
        assert made.args == () and vars(made) == vars(like) and str(made) == str(like)
        assert made.__cause__ is made.__context__ is made.__traceback__ is None
