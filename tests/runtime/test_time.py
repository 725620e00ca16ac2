"""Time: ``sleep``, ``sleep_until``, ``sleep_forever``, ``current_time``,
the run's timers and ``MockClock``."""

from __future__ import annotations

import math
import random
import time
from contextlib import ExitStack

import outcome
import pytest

import lowio
from lowio.lowlevel import current_clock, current_statistics, current_task, reschedule
from lowio.testing import MockClock, assert_checkpoints, wait_all_tasks_blocked

inf = math.inf


def autojump() -> MockClock:
    return MockClock(autojump_threshold=0)


# ---- sleeping ----


def test_sleep_takes_at_least_the_time_in_real_time() -> None:
    async def main() -> tuple[float, float]:
        real = time.perf_counter()
        virtual = lowio.current_time()
        await lowio.sleep(0.05)
        return time.perf_counter() - real, lowio.current_time() - virtual

    real, virtual = lowio.run(main)
    assert 0.05 <= virtual < 10
    assert 0.049 <= real < 10


def test_current_time_is_monotonic_and_not_zero_based() -> None:
    async def main() -> list[float]:
        stamps = []
        for _ in range(5):
            stamps.append(lowio.current_time())
            await lowio.sleep(0.001)
        return stamps

    stamps = lowio.run(main)
    assert stamps == sorted(stamps) and stamps[0] < stamps[-1]
    assert stamps[0] > 1000  # a random offset, as trio's system clock


def test_sleep_durations_with_a_mock_clock() -> None:
    async def main() -> None:
        start = lowio.current_time()
        await lowio.sleep(5)
        assert lowio.current_time() - start == 5
        await lowio.sleep_until(start + 12)
        assert lowio.current_time() - start == 12
        # a deadline in the past does not block
        await lowio.sleep_until(start)
        assert lowio.current_time() - start == 12
        await lowio.sleep(0)
        assert lowio.current_time() - start == 12

    lowio.run(main, clock=autojump())


def test_sleeps_are_checkpoints() -> None:
    async def main() -> None:
        with assert_checkpoints():
            await lowio.sleep(0)
        with assert_checkpoints():
            await lowio.sleep(0.5)
        with assert_checkpoints():
            await lowio.sleep_until(lowio.current_time() - 100)
        with assert_checkpoints():
            await lowio.sleep_until(lowio.current_time() + 1)
        for sleeper in (
            lambda: lowio.sleep(0),
            lambda: lowio.sleep(1),
            lambda: lowio.sleep_until(0),
            lambda: lowio.sleep_until(inf),
            lowio.sleep_forever,
        ):
            with lowio.CancelScope() as scope:
                scope.cancel()
                await sleeper()
            assert scope.cancelled_caught

    lowio.run(main, clock=autojump())


def test_sleep_forever_and_infinite_sleeps_end_only_by_cancellation() -> None:
    async def main() -> None:
        for sleeper in (
            lowio.sleep_forever,
            lambda: lowio.sleep(inf),
            lambda: lowio.sleep_until(inf),
        ):
            start = lowio.current_time()
            with lowio.move_on_after(1000) as scope:
                await sleeper()
            assert scope.cancelled_caught
            assert lowio.current_time() - start == 1000

    lowio.run(main, clock=autojump())


def test_sleep_forever_woken_by_hand_is_a_runtime_error() -> None:
    async def main() -> None:
        me = current_task()

        async def waker() -> None:
            await wait_all_tasks_blocked()
            reschedule(me, outcome.Value(None))

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(waker)
            with pytest.raises(RuntimeError, match=r"rescheduled"):
                await lowio.sleep_forever()

    lowio.run(main)


def test_finite_sleep_woken_by_hand_is_a_runtime_error_and_leaves_no_timer() -> None:
    async def main() -> None:
        me = current_task()

        async def waker() -> None:
            await wait_all_tasks_blocked()
            reschedule(me)

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(waker)
            with pytest.raises(RuntimeError, match=r"rescheduled"):
                await lowio.sleep(10)
        assert current_statistics().seconds_to_next_deadline == inf
        # the stale timer must not wake us from a later wait
        with lowio.move_on_after(20) as scope:
            await lowio.sleep_forever()
        assert scope.cancelled_caught

    lowio.run(main, clock=autojump())


def test_bad_sleep_arguments() -> None:
    async def main() -> None:
        for bad in (-1, -0.001, -inf):
            with pytest.raises(ValueError, match=r"non-negative"):
                await lowio.sleep(bad)
        with pytest.raises(ValueError, match=r"NaN"):
            await lowio.sleep(math.nan)
        with pytest.raises(ValueError, match=r"NaN"):
            await lowio.sleep_until(math.nan)
        with pytest.raises(TypeError):
            await lowio.sleep("1")  # type: ignore[arg-type]
        # a negative deadline is fine: it is in the past
        await lowio.sleep_until(-5)

    lowio.run(main, clock=autojump())


def test_sleep_outside_a_run() -> None:
    coro = lowio.sleep(1)
    with pytest.raises(RuntimeError):
        coro.send(None)
    coro.close()


def test_timers_fire_in_deadline_order() -> None:
    order: list[int] = []

    async def sleeper(n: int) -> None:
        await lowio.sleep(n)
        order.append(n)
        assert lowio.current_time() == n

    async def main() -> None:
        durations = list(range(1, 201))
        random.Random(1234).shuffle(durations)
        async with lowio.open_nursery() as nursery:
            for n in durations:
                nursery.start_soon(sleeper, n)

    lowio.run(main, clock=autojump())
    assert order == list(range(1, 201))


def test_cancelled_sleeps_leave_no_timers_behind() -> None:
    async def main() -> None:
        assert current_statistics().seconds_to_next_deadline == inf
        async with lowio.open_nursery() as nursery:
            for n in range(1000):
                nursery.start_soon(lowio.sleep, 100 + n)
            await wait_all_tasks_blocked()
            assert current_statistics().seconds_to_next_deadline == 100
            nursery.cancel_scope.cancel()
        assert current_statistics().seconds_to_next_deadline == inf
        await lowio.sleep(1)  # the loop still works
        assert current_statistics().seconds_to_next_deadline == inf

    lowio.run(main, clock=MockClock(autojump_threshold=0))


def test_moving_a_deadline_back_and_forth_keeps_the_timer_heap_small() -> None:
    # every move cancels the old entry and adds one: the dead entries must be
    # pruned as they pile up, not kept until they surface
    async def main() -> None:
        timers = lowio.lowlevel.current_task()._runner.timers
        now = lowio.current_time()
        with lowio.CancelScope() as scope:
            for _ in range(10_000):
                scope.deadline = now + 9998
                scope.deadline = now + 9999
            assert len(timers) == 1 and len(timers._heap) <= 200
            await lowio.sleep(0.01)
        assert not scope.cancel_called

    lowio.run(main)


def test_many_sleeping_tasks_with_distinct_deadlines() -> None:
    woke: list[float] = []

    async def sleeper(deadline: float) -> None:
        await lowio.sleep_until(deadline)
        woke.append(lowio.current_time())

    async def main() -> None:
        rng = random.Random(99)
        deadlines = [rng.uniform(0, 1000) for _ in range(20_000)]
        async with lowio.open_nursery() as nursery:
            for deadline in deadlines:
                nursery.start_soon(sleeper, deadline)
        assert woke == sorted(deadlines)

    lowio.run(main, clock=autojump())
    assert len(woke) == 20_000


def test_100k_pending_deadlines() -> None:
    async def main() -> None:
        rng = random.Random(7)
        deadlines = [rng.uniform(10, 10_000) for _ in range(100_000)]
        earliest = min(deadlines)
        start = time.perf_counter()
        with ExitStack() as stack:
            scopes = [stack.enter_context(lowio.move_on_at(d)) for d in deadlines]
            assert current_statistics().seconds_to_next_deadline == earliest
            # move every deadline and check the timers follow
            for scope in scopes[::2]:
                scope.deadline += 5_000
            assert current_statistics().seconds_to_next_deadline == min(
                min(deadlines[1::2]), min(deadlines[::2]) + 5_000
            )
            await lowio.sleep_forever()
        # exactly the scope with the earliest deadline fired and caught it
        moved = [d + 5_000 if i % 2 == 0 else d for i, d in enumerate(deadlines)]
        caught = [i for i, s in enumerate(scopes) if s.cancelled_caught]
        assert caught == [moved.index(min(moved))]
        assert lowio.current_time() == min(moved)
        # every scope has exited: no timer is left
        assert current_statistics().seconds_to_next_deadline == inf
        assert time.perf_counter() - start < 30

    lowio.run(main, clock=MockClock(autojump_threshold=0))


# ---- MockClock ----


def test_mock_clock_by_hand() -> None:
    real_now = 123.0
    clock = MockClock()
    clock._real_clock = lambda: real_now
    assert "MockClock" in repr(clock)
    assert clock.rate == 0
    assert clock.current_time() == 0
    clock.jump(1.2)
    assert clock.current_time() == 1.2
    with pytest.raises(ValueError, match=r"^time can't go backwards$"):
        clock.jump(-1)
    assert clock.current_time() == 1.2
    assert clock.deadline_to_sleep_time(1.1) == 0
    assert clock.deadline_to_sleep_time(1.2) == 0
    assert clock.deadline_to_sleep_time(1.3) > 999999  # frozen: never by waiting

    with pytest.raises(ValueError, match=r"^rate must be >= 0$"):
        clock.rate = -1
    assert clock.rate == 0

    clock.rate = 2
    assert clock.current_time() == 1.2
    real_now += 1
    assert clock.current_time() == 3.2
    assert clock.deadline_to_sleep_time(3.2) == 0
    assert clock.deadline_to_sleep_time(4.2) == 0.5

    clock.rate = 0.5
    assert clock.current_time() == 3.2
    assert clock.deadline_to_sleep_time(4.2) == 2.0
    clock.jump(0.8)
    assert clock.current_time() == 4.0
    real_now += 1
    assert clock.current_time() == 4.5

    assert MockClock(rate=3).rate == 3
    assert MockClock().autojump_threshold == inf


def test_mock_clock_in_a_run() -> None:
    async def main(clock: MockClock) -> None:
        assert current_clock() is clock
        start = lowio.current_time()
        assert start == 0
        clock.jump(10)
        assert lowio.current_time() == 10
        with lowio.move_on_after(1) as scope:
            clock.jump(5)  # past the deadline: the next checkpoint raises
            await lowio.sleep_forever()
        assert scope.cancelled_caught
        assert lowio.current_time() == 15

    clock = MockClock()
    lowio.run(main, clock, clock=clock)


def test_mock_clock_rate_runs_time_faster() -> None:
    async def main() -> float:
        real = time.perf_counter()
        await lowio.sleep(50)  # 50 virtual seconds at 1000x: 0.05 s real
        return time.perf_counter() - real

    real = lowio.run(main, clock=MockClock(rate=1000))
    assert 0.045 <= real < 10


def test_autojump_zero_makes_long_sleeps_instant() -> None:
    async def main() -> None:
        start = lowio.current_time()
        for i in range(10):
            await lowio.sleep(10 * i)
            assert lowio.current_time() == start + 10 * i
            start = lowio.current_time()
        await lowio.sleep(10**9)

    real = time.perf_counter()
    lowio.run(main, clock=MockClock(autojump_threshold=0))
    assert time.perf_counter() - real < 5


def test_autojump_threshold_waits_for_real_idleness() -> None:
    record: list[str] = []

    async def sleeper() -> None:
        await lowio.sleep(1000)
        record.append("sleeper woke")

    async def busy() -> None:
        end = time.perf_counter() + 0.2
        while time.perf_counter() < end:
            await lowio.lowlevel.checkpoint()  # runnable the whole time
        record.append("busy done")

    async def main() -> None:
        real = time.perf_counter()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            nursery.start_soon(busy)
        # no jump while a task was runnable, then one after ~threshold
        assert record == ["busy done", "sleeper woke"]
        assert lowio.current_time() == 1000
        assert 0.2 <= time.perf_counter() - real < 20

    lowio.run(main, clock=MockClock(autojump_threshold=0.05))


def test_wait_all_tasks_blocked_wins_over_a_longer_autojump_threshold() -> None:
    async def main(clock: MockClock) -> None:
        clock.autojump_threshold = 0.5
        t = lowio.current_time()
        await wait_all_tasks_blocked()
        await wait_all_tasks_blocked(0.01)
        assert lowio.current_time() == t  # woke before any jump
        # lowering the threshold takes effect at once, even while the loop
        # is blocked with a long timeout
        clock.autojump_threshold = 10_000
        await wait_all_tasks_blocked()
        clock.autojump_threshold = 0
        await lowio.sleep(100_000)
        assert lowio.current_time() == t + 100_000

    clock = MockClock()
    real = time.perf_counter()
    lowio.run(main, clock, clock=clock)
    assert time.perf_counter() - real < 20


def test_autojump_zero_and_wait_all_tasks_blocked() -> None:
    record: list[str] = []

    async def sleeper() -> None:
        await lowio.sleep(100)
        record.append("yawn")

    async def waiter(cushion: float) -> None:
        await wait_all_tasks_blocked(cushion)
        record.append("waiter woke")
        await lowio.sleep(1000)
        record.append("waiter done")

    async def main(cushion: float) -> None:
        record.clear()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            nursery.start_soon(waiter, cushion)
        assert record == ["waiter woke", "yawn", "waiter done"]

    lowio.run(main, 0, clock=MockClock(autojump_threshold=0))
    lowio.run(main, 0.05, clock=MockClock(autojump_threshold=0))


def test_threshold_of_a_clock_not_in_use_changes_nothing() -> None:
    async def main(clock: MockClock) -> None:
        other = MockClock()
        other.autojump_threshold = 0.001  # not the run's clock: ignored
        await wait_all_tasks_blocked(0.01)
        await lowio.sleep(100_000)  # the 0.02 threshold of the run's clock applies

    clock = MockClock(autojump_threshold=0.02)
    lowio.run(main, clock, clock=clock)


def test_threshold_set_before_the_run_is_used() -> None:
    clock = MockClock(autojump_threshold=100)
    clock.autojump_threshold = 0.01
    real = time.perf_counter()
    lowio.run(lowio.sleep, 10_000, clock=clock)
    assert time.perf_counter() - real < 10


def test_bad_autojump_thresholds() -> None:
    clock = MockClock()
    for bad in (-1, math.nan):
        with pytest.raises(ValueError):
            clock.autojump_threshold = bad
    assert clock.autojump_threshold == inf


# The run loop reads the system clock itself (perf_counter() plus the
# clock's offset) for the deadline check before each batch; any other
# clock, a SystemClock subclass included, must still be asked.


def _jumping_clock() -> lowio.abc.Clock:
    from lowio._core._clock import SystemClock

    class JumpingClock(SystemClock):
        """The system clock, plus however far the test jumped it."""

        jump = 0.0

        def current_time(self) -> float:
            return super().current_time() + self.jump

    return JumpingClock()


def test_the_deadline_check_between_batches_asks_a_system_clock_subclass() -> None:
    clock = _jumping_clock()

    async def main() -> None:
        with lowio.CancelScope(deadline=lowio.current_time() + 1000) as scope:
            clock.jump = 2000.0  # type: ignore[attr-defined]
            # the task stays runnable: the check before its next batch
            # (not an I/O wait) is what sees the deadline pass
            with pytest.raises(lowio.Cancelled):
                await lowio.lowlevel.checkpoint()
        assert scope.cancel_called

    lowio.run(main, clock=clock)


def test_the_deadline_check_between_batches_reads_the_system_clock() -> None:
    async def main() -> None:
        with lowio.CancelScope(deadline=lowio.current_time() + 0.05) as scope:
            time.sleep(0.1)  # blocking: the deadline passes while the task runs
            with pytest.raises(lowio.Cancelled):
                await lowio.lowlevel.checkpoint()
        assert scope.cancel_called
        with lowio.CancelScope(deadline=lowio.current_time() + 1000) as later:
            await lowio.lowlevel.checkpoint()  # far off: not cancelled
        assert not later.cancel_called

    lowio.run(main)
