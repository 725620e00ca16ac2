"""Cancel scopes: ``CancelScope``, ``Cancelled``, shields, deadlines,
timeouts (``move_on_*`` / ``fail_*``) and misuse errors."""

from __future__ import annotations

import math
import pickle
import sys
import threading
from contextlib import ExitStack
from typing import Any, NoReturn

import pytest

import lowio
from lowio.lowlevel import (
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_task,
)
from lowio.testing import MockClock, wait_all_tasks_blocked

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup

inf = math.inf
nan = math.nan


def autojump() -> MockClock:
    return MockClock(autojump_threshold=0)


# ---- Cancelled ----


def test_cancelled_has_no_public_constructor() -> None:
    with pytest.raises(TypeError, match=r"no public constructor"):
        lowio.Cancelled()
    with pytest.raises(TypeError, match=r"no public constructor"):
        raise lowio.Cancelled
    assert issubclass(lowio.Cancelled, BaseException)
    assert not issubclass(lowio.Cancelled, Exception)


def test_cancelled_survives_pickling() -> None:
    async def main() -> lowio.Cancelled:
        with lowio.CancelScope() as scope:
            scope.cancel(reason="pickled")
            try:
                await checkpoint()
            except lowio.Cancelled as exc:
                return exc
        raise AssertionError("not cancelled")  # pragma: no cover

    exc = lowio.run(main)
    copy = pickle.loads(pickle.dumps(exc))
    assert isinstance(copy, lowio.Cancelled)
    assert (copy.source, copy.reason, copy.source_task) == (
        exc.source,
        exc.reason,
        exc.source_task,
    )


def test_cancel_reason_is_in_the_cancelled_text() -> None:
    async def main() -> None:
        with lowio.CancelScope() as scope:
            scope.cancel(reason="pigs are flying")
            with pytest.raises(lowio.Cancelled) as info:
                await checkpoint()
        exc = info.value
        assert exc.source == "explicit"
        assert exc.reason == "pigs are flying"
        assert exc.source_task == repr(current_task())
        assert str(exc) == (
            f"cancelled due to explicit with reason 'pigs are flying' from task {current_task()!r}"
        )
        # without a reason
        with lowio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(lowio.Cancelled, match=r"^cancelled due to explicit from task"):
                await checkpoint()
        # a deadline
        with (
            lowio.CancelScope(deadline=-inf),
            pytest.raises(lowio.Cancelled, match=r"^cancelled due to deadline$"),
        ):
            await checkpoint()

    lowio.run(main)


def test_first_cancel_reason_wins() -> None:
    async def main() -> None:
        with lowio.CancelScope() as scope:
            scope.cancel(reason="first")
            scope.cancel(reason="second")
            scope.deadline = -inf
            with pytest.raises(lowio.Cancelled, match=r"first"):
                await checkpoint()
        with lowio.CancelScope() as scope:
            scope.deadline = -inf
            with pytest.raises(lowio.Cancelled, match=r"^cancelled due to deadline$"):
                await checkpoint()
            scope.cancel(reason="too late")
            with pytest.raises(lowio.Cancelled, match=r"^cancelled due to deadline$"):
                await checkpoint()

    lowio.run(main)


def test_cancel_reason_from_a_failing_nursery_child() -> None:
    async def failing(*, task_status: Any) -> NoReturn:
        task_status.started(current_task())
        await wait_all_tasks_blocked()
        raise ValueError

    async def main() -> None:
        with pytest.raises(BaseExceptionGroup):
            async with lowio.open_nursery() as nursery:
                failer = await nursery.start(failing)
                with pytest.raises(lowio.Cancelled) as info:
                    await lowio.sleep_forever()
                assert str(info.value) == (
                    "cancelled due to nursery with reason "
                    f"'child task raised exception ValueError()' from task {failer!r}"
                )
                raise info.value

    lowio.run(main)


def test_cancel_reason_from_a_failing_nursery_body() -> None:
    parent: list[lowio.lowlevel.Task] = []
    texts: list[str] = []

    async def child() -> None:
        try:
            await lowio.sleep_forever()
        except lowio.Cancelled as exc:
            texts.append(str(exc))
            raise

    async def main() -> None:
        parent.append(current_task())
        with pytest.raises(BaseExceptionGroup):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(child)
                await wait_all_tasks_blocked()
                raise ValueError

    lowio.run(main)
    assert texts == [
        "cancelled due to nursery with reason 'Code block inside nursery "
        f"contextmanager raised exception ValueError()' from task {parent[0]!r}"
    ]


# ---- CancelScope basics ----


def test_cancel_called_and_cancelled_caught() -> None:
    async def main() -> None:
        with lowio.CancelScope() as scope:
            assert not scope.cancel_called
            scope.cancel()
            scope.cancel()  # idempotent
            assert scope.cancel_called
            assert not scope.cancelled_caught
            await checkpoint()
            raise AssertionError("not reached")  # pragma: no cover
        assert scope.cancel_called
        assert scope.cancelled_caught

        # cancelled, but nothing raised Cancelled inside: not caught
        with lowio.CancelScope() as quiet:
            quiet.cancel()
        assert quiet.cancel_called
        assert not quiet.cancelled_caught

        # cancelled after it exited: cancel_called, no effect
        quiet2 = lowio.CancelScope()
        with quiet2:
            await checkpoint()
        quiet2.cancel()
        await checkpoint()
        assert quiet2.cancel_called and not quiet2.cancelled_caught

    lowio.run(main)


def test_cancellation_is_level_triggered() -> None:
    async def main() -> None:
        hits = 0
        with lowio.CancelScope() as scope:
            scope.cancel()
            for _ in range(5):
                try:
                    await checkpoint()
                except lowio.Cancelled:
                    hits += 1
            for _ in range(3):
                with pytest.raises(lowio.Cancelled):
                    await lowio.sleep_forever()
            with pytest.raises(lowio.Cancelled):
                await checkpoint_if_cancelled()
            with pytest.raises(lowio.Cancelled):
                await lowio.sleep(1)
        assert hits == 5
        # once the scope has exited, checkpoints are fine again
        await checkpoint()
        assert not scope.cancelled_caught  # every Cancelled was caught inside

    lowio.run(main)


def test_precancelled_scope_still_runs_code_until_a_checkpoint() -> None:
    record: list[str] = []

    async def main() -> None:
        scope = lowio.CancelScope()
        scope.cancel()
        with scope:
            record.append("entered")  # entering is not a checkpoint
            await checkpoint()
            record.append("not reached")  # pragma: no cover
        record.append("after")
        assert scope.cancelled_caught

    lowio.run(main)
    assert record == ["entered", "after"]


def test_innermost_cancelled_scope_does_not_catch_outer_cancellation() -> None:
    async def main() -> None:
        with (
            lowio.CancelScope() as outer,
            lowio.CancelScope() as middle,
            lowio.CancelScope() as inner,
        ):
            inner.cancel()
            middle.cancel()
            await lowio.sleep_forever()
        # the outermost cancelled scope catches it
        assert inner.cancel_called and not inner.cancelled_caught
        assert middle.cancel_called and middle.cancelled_caught
        assert not outer.cancel_called and not outer.cancelled_caught

    lowio.run(main)


def test_cancellation_reaches_every_descendant() -> None:
    record: set[str] = set()

    async def leaf(ident: str) -> None:
        try:
            await lowio.sleep_forever()
        except lowio.Cancelled:
            record.add(ident)
            raise

    async def worker(ident: str) -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(leaf, ident + "-1")
            nursery.start_soon(leaf, ident + "-2")

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(worker, "a")
            nursery.start_soon(worker, "b")
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()

    lowio.run(main)
    assert record == {"a-1", "a-2", "b-1", "b-2"}


def test_cancelling_from_another_task() -> None:
    async def victim(scope_box: list[lowio.CancelScope], *, task_status: Any) -> None:
        with lowio.CancelScope() as scope:
            scope_box.append(scope)
            task_status.started()
            await lowio.sleep_forever()
        assert scope.cancelled_caught

    async def main() -> None:
        box: list[lowio.CancelScope] = []
        async with lowio.open_nursery() as nursery:
            await nursery.start(victim, box)
            await wait_all_tasks_blocked()
            [scope] = box
            scope.cancel(reason="from main")
        assert scope.cancelled_caught

    lowio.run(main)


def test_cancelling_an_unentered_scope_from_another_task() -> None:
    async def sleeper(scope: lowio.CancelScope) -> None:
        with scope, lowio.fail_after(1):
            await lowio.sleep_forever()

    async def main() -> None:
        scope = lowio.CancelScope()
        scope.cancel()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(sleeper, scope)
        assert scope.cancelled_caught
        scope = lowio.CancelScope()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(sleeper, scope)
            await wait_all_tasks_blocked()
            scope.cancel()
        assert scope.cancelled_caught

    lowio.run(main, clock=autojump())


def test_cancel_before_and_outside_a_run() -> None:
    scope = lowio.CancelScope()
    scope.cancel()
    assert scope.cancel_called

    async def main() -> None:
        with scope:
            await checkpoint()

    lowio.run(main)
    assert scope.cancelled_caught


# ---- shields ----


def test_shield_blocks_outer_cancellation_but_not_its_own() -> None:
    async def main() -> None:
        with lowio.CancelScope() as outer:
            with lowio.CancelScope(shield=True) as shielded:
                outer.cancel()
                await checkpoint()  # protected
                await lowio.sleep(0)
                with lowio.CancelScope() as innermost:
                    innermost.cancel()
                    with pytest.raises(lowio.Cancelled):
                        await checkpoint()
                shielded.cancel()
                with pytest.raises(lowio.Cancelled):
                    await checkpoint()
            assert shielded.cancelled_caught is False  # caught by pytest.raises
            with pytest.raises(lowio.Cancelled):  # outer reaches us again
                await checkpoint()
        assert not outer.cancelled_caught

    lowio.run(main)


def test_toggling_shield_at_runtime() -> None:
    async def main() -> None:
        with lowio.CancelScope() as outer, lowio.CancelScope() as inner:
            outer.cancel()
            with pytest.raises(lowio.Cancelled):
                await checkpoint()
            assert inner.shield is False
            with pytest.raises(TypeError):
                inner.shield = "yes"  # type: ignore[assignment]
            inner.shield = True
            assert inner.shield is True
            await checkpoint()
            inner.shield = False
            with pytest.raises(lowio.Cancelled):
                await checkpoint()
            inner.shield = True
            await checkpoint()
        assert not outer.cancelled_caught

    lowio.run(main)


def test_unshielding_wakes_a_sleeping_task() -> None:
    record: list[str] = []

    async def sleeper() -> None:
        record.append("sleeping")
        try:
            await lowio.sleep_forever()
        except lowio.Cancelled:
            record.append("cancelled")
            raise

    async def main() -> None:
        with lowio.CancelScope() as outer:
            async with lowio.open_nursery() as nursery:
                outer.cancel()
                nursery.cancel_scope.shield = True
                nursery.start_soon(sleeper)
                await wait_all_tasks_blocked()
                assert record == ["sleeping"]
                nursery.cancel_scope.shield = False  # the sleep is aborted now
                with lowio.CancelScope(shield=True):
                    await wait_all_tasks_blocked()
                    assert record == ["sleeping", "cancelled"]
        assert outer.cancelled_caught

    lowio.run(main)


def test_shielding_while_cancel_propagates() -> None:
    async def main() -> None:
        with lowio.CancelScope() as outer, lowio.CancelScope() as inner:
            outer.cancel()
            try:
                await checkpoint()
            finally:
                inner.shield = True
        assert outer.cancelled_caught
        assert not inner.cancelled_caught

    lowio.run(main)


def test_shield_must_be_a_bool() -> None:
    scope = lowio.CancelScope()
    with pytest.raises(TypeError):
        scope.shield = 1  # type: ignore[assignment]
    assert scope.shield is False
    scope.shield = True
    assert scope.shield is True


def test_shielded_cleanup_can_wait_even_in_a_cancelled_scope() -> None:
    async def main() -> None:
        with lowio.CancelScope() as scope:
            try:
                scope.cancel()
                await lowio.sleep_forever()
            finally:
                with lowio.CancelScope(shield=True):
                    await lowio.sleep(1)  # would raise without the shield
                    assert lowio.current_effective_deadline() == inf
        assert scope.cancelled_caught
        assert lowio.current_time() == 1

    lowio.run(main, clock=MockClock(autojump_threshold=0))


# ---- deadlines ----


def test_deadline_can_be_set_before_and_after_entering() -> None:
    async def main() -> None:
        start = lowio.current_time()
        scope = lowio.CancelScope()
        assert scope.deadline == inf
        scope.deadline = start + 10
        assert scope.deadline == start + 10
        with scope:
            await lowio.sleep(5)
            scope.deadline = start + 7  # earlier
            await lowio.sleep(1)
            scope.deadline = start + 20  # later again
            await lowio.sleep_forever()
        assert scope.cancelled_caught
        assert lowio.current_time() - start == 20

        # a deadline moved into the past cancels at the next checkpoint
        with lowio.CancelScope() as scope:
            await checkpoint()
            scope.deadline = lowio.current_time() - 1
            with pytest.raises(lowio.Cancelled):
                await checkpoint()
        # a deadline on an exited scope does nothing
        scope = lowio.CancelScope()
        with scope:
            pass
        scope.deadline = lowio.current_time() - 1
        await checkpoint()

    lowio.run(main, clock=autojump())


def test_deadline_passed_before_entering_cancels_at_once() -> None:
    async def main() -> None:
        scope = lowio.CancelScope(deadline=lowio.current_time() - 1)
        with scope:
            assert scope.cancel_called
            await checkpoint()
        assert scope.cancelled_caught

    lowio.run(main, clock=MockClock())


def test_cancel_called_on_an_unentered_scope_whose_deadline_passed() -> None:
    async def main() -> None:
        scope = lowio.CancelScope(deadline=lowio.current_time() + 1)
        assert not scope.cancel_called
        scope.deadline -= 1
        assert scope.cancel_called
        scope.deadline += 1
        assert scope.cancel_called  # never un-cancelled

    lowio.run(main, clock=MockClock())


def test_cancel_called_notices_a_passed_deadline_before_the_timer_fires() -> None:
    async def main(clock: MockClock) -> None:
        with lowio.CancelScope(deadline=lowio.current_time() + 5) as scope:
            clock.jump(10)
            assert scope.cancel_called
            with pytest.raises(lowio.Cancelled):
                await checkpoint()

    clock = MockClock()
    lowio.run(main, clock, clock=clock)


def test_checkpoint_notices_a_deadline_that_passed_while_runnable() -> None:
    async def main(clock: MockClock) -> None:
        with lowio.CancelScope(deadline=lowio.current_time() + 5):
            await checkpoint()
            clock.jump(10)
            with pytest.raises(lowio.Cancelled):
                await checkpoint()

    clock = MockClock()
    lowio.run(main, clock, clock=clock)


def test_nan_deadlines_are_value_errors() -> None:
    with pytest.raises(ValueError, match=r"^deadline must not be NaN$"):
        lowio.CancelScope(deadline=nan)
    with pytest.raises(ValueError, match=r"^relative deadline must not be NaN$"):
        lowio.CancelScope(relative_deadline=nan)
    with pytest.raises(ValueError, match=r"^timeout must be non-negative$"):
        lowio.CancelScope(relative_deadline=-3)
    with pytest.raises(
        ValueError, match=r"^Cannot specify both a deadline and a relative deadline$"
    ):
        lowio.CancelScope(deadline=7, relative_deadline=3)
    scope = lowio.CancelScope()
    with pytest.raises(ValueError, match=r"^deadline must not be NaN$"):
        scope.deadline = nan
    with pytest.raises(ValueError, match=r"^relative deadline must not be NaN$"):
        scope.relative_deadline = nan
    with pytest.raises(ValueError, match=r"^relative deadline must be non-negative$"):
        scope.relative_deadline = -3
    assert scope.deadline == inf  # unchanged by the failed assignments
    for make in (lowio.move_on_after, lowio.fail_after):
        for bad in (-1, nan):
            with (
                pytest.raises(ValueError, match=r"^`seconds` must (not )?be (non-negative|NaN)$"),
                make(bad),
            ):
                pass  # pragma: no cover
    for make_at in (lowio.move_on_at, lowio.fail_at):
        with pytest.raises(ValueError, match=r"^deadline must not be NaN$"), make_at(nan):
            pass  # pragma: no cover


def test_negative_and_infinite_deadlines_are_allowed() -> None:
    async def main() -> None:
        with lowio.CancelScope(deadline=-inf) as scope:
            await checkpoint()
        assert scope.cancelled_caught
        with lowio.move_on_at(-5) as scope:
            await checkpoint()
        assert scope.cancelled_caught
        with lowio.CancelScope(deadline=inf) as scope:
            await checkpoint()
        assert not scope.cancel_called

    lowio.run(main, clock=MockClock())


def test_relative_deadline_starts_counting_on_entry() -> None:
    async def main() -> None:
        scope = lowio.move_on_after(5)
        assert scope.relative_deadline == 5
        assert scope.is_relative is True
        with pytest.raises(RuntimeError, match=r"^Unentered relative cancel scope"):
            scope.deadline  # noqa: B018
        with pytest.raises(RuntimeError, match=r"^Unentered relative cancel scope"):
            scope.deadline = 7
        scope.relative_deadline = 6
        await lowio.sleep(3)
        start = lowio.current_time()
        with scope:
            assert scope.is_relative is None
            assert scope.deadline == start + 6
            assert scope.relative_deadline == 6
            scope.deadline = start + 3
            assert scope.relative_deadline == 3
            scope.relative_deadline = 4
            assert scope.deadline == start + 4
            await lowio.sleep_forever()
        assert lowio.current_time() - start == 4

        absolute = lowio.move_on_at(5)
        assert absolute.is_relative is False
        with pytest.raises(RuntimeError, match=r"^Unentered non-relative cancel scope"):
            absolute.relative_deadline  # noqa: B018
        with pytest.raises(RuntimeError, match=r"^Unentered non-relative cancel scope"):
            absolute.relative_deadline = 7

        scope = lowio.CancelScope(relative_deadline=2)
        with scope:
            await lowio.sleep(10)
        assert scope.cancelled_caught

    lowio.run(main, clock=autojump())


def test_current_effective_deadline() -> None:
    async def main() -> None:
        assert lowio.current_effective_deadline() == inf
        with lowio.move_on_at(10):
            assert lowio.current_effective_deadline() == 10
            with lowio.move_on_at(5):
                assert lowio.current_effective_deadline() == 5
                with lowio.move_on_at(15):
                    assert lowio.current_effective_deadline() == 5
                    with lowio.CancelScope(deadline=20, shield=True):
                        assert lowio.current_effective_deadline() == 20
                    with lowio.CancelScope(shield=True):
                        assert lowio.current_effective_deadline() == inf
                with lowio.CancelScope() as scope:
                    scope.cancel()
                    assert lowio.current_effective_deadline() == -inf
                    with lowio.CancelScope(shield=True):
                        assert lowio.current_effective_deadline() == inf
            assert lowio.current_effective_deadline() == 10
        assert lowio.current_effective_deadline() == inf

    lowio.run(main, clock=MockClock())


# ---- timeouts ----


def test_move_on_after_and_at() -> None:
    async def main() -> None:
        start = lowio.current_time()
        with lowio.move_on_after(2) as scope:
            await lowio.sleep(100)
        assert scope.cancelled_caught
        assert lowio.current_time() - start == 2
        with lowio.move_on_at(lowio.current_time() + 3) as scope:
            await lowio.sleep(100)
        assert scope.cancelled_caught
        assert lowio.current_time() - start == 5
        with lowio.move_on_after(10) as scope:
            await lowio.sleep(1)
        assert not scope.cancelled_caught and not scope.cancel_called

    lowio.run(main, clock=autojump())


def test_fail_after_and_at_raise_too_slow_error() -> None:
    async def main() -> None:
        start = lowio.current_time()
        with pytest.raises(lowio.TooSlowError), lowio.fail_after(2):
            await lowio.sleep(100)
        assert lowio.current_time() - start == 2
        with pytest.raises(lowio.TooSlowError), lowio.fail_at(lowio.current_time() + 1):
            await lowio.sleep_forever()
        with lowio.fail_after(10) as scope:
            await lowio.sleep(1)
        assert isinstance(scope, lowio.CancelScope) and not scope.cancel_called
        with lowio.fail_at(lowio.current_time() + 100):
            await lowio.sleep(0)
        # an outer cancellation passes through fail_after untouched
        with lowio.CancelScope() as outer, lowio.fail_after(10):
            outer.cancel()
            await lowio.sleep_forever()
        assert outer.cancelled_caught

    lowio.run(main, clock=autojump())


@pytest.mark.parametrize("make", [lowio.move_on_after, lowio.fail_after])
def test_shielded_timeouts(make: Any) -> None:
    async def main() -> None:
        with lowio.CancelScope() as outer, make(5, shield=True) as inner:
            outer.cancel()
            await checkpoint()  # the shield protects us
            inner.shield = False
            with pytest.raises(lowio.Cancelled):
                await checkpoint()

    lowio.run(main, clock=autojump())


def test_fail_after_fails_even_if_shielded() -> None:
    async def main() -> None:
        start = lowio.current_time()
        with (
            pytest.raises(lowio.TooSlowError),
            lowio.CancelScope() as outer,
            lowio.fail_after(3, shield=True),
        ):
            outer.cancel()
            await lowio.sleep_forever()
        assert lowio.current_time() - start == 3

    lowio.run(main, clock=autojump())


def test_timeout_scopes_fire_in_deadline_order() -> None:
    async def main() -> None:
        start = lowio.current_time()
        with lowio.move_on_after(30) as a:
            with lowio.move_on_after(10) as b, lowio.move_on_after(20) as c:
                await lowio.sleep_forever()
            assert lowio.current_time() - start == 10
        # b (10 s) fired first and caught its Cancelled; c and a never fired
        assert b.cancelled_caught and b.cancel_called
        assert not c.cancelled_caught and not c.cancel_called
        assert not a.cancelled_caught and not a.cancel_called
        assert lowio.current_effective_deadline() == inf

    lowio.run(main, clock=autojump())


# ---- misuse ----


def test_reentering_a_scope_is_a_runtime_error() -> None:
    async def main() -> None:
        with (
            lowio.CancelScope() as scope,
            pytest.raises(RuntimeError, match=r"single 'with' block"),
            scope,
        ):
            pass  # pragma: no cover
        with pytest.raises(RuntimeError, match=r"single 'with' block"), scope:
            pass  # pragma: no cover

        shared = lowio.CancelScope()

        async def enter() -> None:
            with shared:
                await lowio.sleep_forever()

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(enter)
            await wait_all_tasks_blocked()
            with pytest.raises(RuntimeError, match=r"single 'with' block"), shared:
                pass  # pragma: no cover
            nursery.cancel_scope.cancel()

    lowio.run(main)


def test_entering_a_scope_outside_a_run() -> None:
    with pytest.raises(RuntimeError), lowio.CancelScope():
        pass  # pragma: no cover


def test_exiting_scopes_out_of_order() -> None:
    async def main() -> None:
        outer = lowio.CancelScope()
        inner = lowio.CancelScope()
        with ExitStack() as stack:
            stack.enter_context(outer)
            with inner, pytest.raises(RuntimeError, match=r"still within its child"):
                stack.close()
            # exiting inner afterwards raises nothing more
        # the task's scope stack is usable again
        with lowio.CancelScope() as scope:
            scope.cancel()
            await checkpoint()
        assert scope.cancelled_caught

    lowio.run(main)


def test_misnesting_cancels_the_tasks_left_inside() -> None:
    record: list[str] = []

    async def child() -> None:
        try:
            await lowio.sleep_forever()
        except lowio.Cancelled as exc:
            record.append(str(exc))
            raise

    async def main() -> None:
        with ExitStack() as stack:
            stack.enter_context(lowio.CancelScope())
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(child)
                await wait_all_tasks_blocked()
                with pytest.raises(RuntimeError, match=r"still within its child"):
                    stack.close()

    lowio.run(main)
    assert record == ["cancelled due to unknown with reason 'misnesting'"]


def test_exiting_a_scope_from_another_task() -> None:
    async def holder(*, task_status: Any) -> None:
        with lowio.CancelScope() as scope:
            task_status.started(scope)
            await lowio.sleep_forever()

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            scope = await nursery.start(holder)
            with pytest.raises(RuntimeError, match=r"from unrelated"):
                scope.__exit__(None, None, None)
            # nothing changed: the scope still works for its owner
            scope.cancel()
        assert scope.cancelled_caught

    lowio.run(main)


def test_exiting_a_scope_twice() -> None:
    async def main() -> None:
        scope = lowio.CancelScope()
        scope.__enter__()
        scope.__exit__(None, None, None)
        with pytest.raises(RuntimeError, match=r"already been exited"):
            scope.__exit__(None, None, None)

    lowio.run(main)


def test_cancel_scope_repr() -> None:
    async def main(clock: MockClock) -> None:
        scope = lowio.CancelScope()
        assert "unbound" in repr(scope)
        with scope:
            assert "active" in repr(scope)
            scope.deadline = lowio.current_time() - 1
            assert "deadline is 1.00 seconds ago" in repr(scope)
            scope.deadline = lowio.current_time() + 10
            assert "deadline is 10.00 seconds from now" in repr(scope)
            texts: list[str] = []
            thread = threading.Thread(target=lambda: texts.append(repr(scope)))
            thread.start()
            thread.join()
            assert "deadline" not in texts[0]  # no run in that thread
            scope.cancel()
            assert "cancelled" in repr(scope)
        assert "exited" in repr(scope)

    clock = MockClock()
    lowio.run(main, clock, clock=clock)


# ---- cancel scopes and exception groups ----


def test_cancel_scope_strips_cancelled_from_groups() -> None:
    async def crasher() -> NoReturn:
        raise KeyError

    async def main() -> None:
        with pytest.raises(BaseExceptionGroup) as info, lowio.CancelScope() as outer:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(lowio.sleep_forever)
                nursery.start_soon(lowio.sleep_forever)
                await wait_all_tasks_blocked()
                outer.cancel()
                nursery.start_soon(crasher)
        assert outer.cancelled_caught
        assert [type(e) for e in info.value.exceptions] == [KeyError]

    lowio.run(main)


def test_a_group_without_cancelled_does_not_set_cancelled_caught() -> None:
    async def main() -> None:
        with pytest.raises(ExceptionGroup, match=r"mine"), lowio.CancelScope() as scope:
            scope.cancel()
            raise ExceptionGroup("mine", [RuntimeError(), RuntimeError()])
        assert not scope.cancelled_caught

    lowio.run(main)


def test_very_deep_scope_nesting() -> None:
    async def main() -> None:
        with ExitStack() as stack:
            scopes = [stack.enter_context(lowio.CancelScope()) for _ in range(1000)]
            scopes[0].cancel()
            with pytest.raises(lowio.Cancelled):
                await checkpoint()
            # shield the innermost: protected from the outermost
            scopes[-1].shield = True
            await checkpoint()
        assert scopes[0].cancel_called

    lowio.run(main)


def test_cancel_shielded_checkpoint_in_a_cancelled_scope() -> None:
    async def main() -> None:
        with lowio.CancelScope() as scope:
            scope.cancel()
            await cancel_shielded_checkpoint()
            await cancel_shielded_checkpoint()
        await checkpoint()
        assert not scope.cancelled_caught

    lowio.run(main)
