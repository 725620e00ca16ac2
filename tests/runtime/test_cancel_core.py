"""A cancel scope's ``__enter__`` and ``__exit__`` in C (``_cancel_core.c``):
the C methods do the common case and hand every other one to the Python
methods (``BaseCancelScope._enter_py`` / ``_exit_py``).  Each case the C
code must not handle itself is driven here, and a differential test runs
random nestings of scopes once with the C methods and once with the Python
ones and compares everything observable."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import hypothesis.strategies as st
import pytest

import lowio
from lowio._core._cancel import BaseCancelScope
from lowio.lowlevel import checkpoint, current_task
from lowio.testing import MockClock


@contextmanager
def python_methods() -> Iterator[None]:
    """The scopes' methods as written in Python, for the duration."""
    names = ("__init__", "__enter__", "__exit__")
    c_methods = {name: BaseCancelScope.__dict__[name] for name in names}
    for name in names:
        setattr(BaseCancelScope, name, getattr(BaseCancelScope, f"_{name.strip('_')}_py"))
    try:
        yield
    finally:
        for name, method in c_methods.items():
            setattr(BaseCancelScope, name, method)


def test_the_methods_are_the_c_versions() -> None:
    for name in ("__init__", "__enter__", "__exit__"):
        method = BaseCancelScope.__dict__[name]
        assert type(method).__name__ == "method_descriptor"
        assert getattr(lowio.CancelScope, name) is method


# ---- the cases handed to Python ----


def test_a_scope_made_without_arguments() -> None:
    scope = lowio.CancelScope()
    assert (scope.deadline, scope.relative_deadline, scope.shield) == (math.inf, math.inf, False)
    assert not scope.cancel_called
    assert not scope.cancelled_caught
    assert scope.is_relative is False
    assert "unbound" in repr(scope)


def test_a_scope_made_with_arguments_is_checked_in_python() -> None:
    assert lowio.CancelScope(deadline=5).deadline == 5
    assert lowio.CancelScope(shield=True).shield
    assert lowio.CancelScope(relative_deadline=2).relative_deadline == 2
    with pytest.raises(TypeError, match="shield must be a bool"):
        lowio.CancelScope(shield=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not be NaN"):
        lowio.CancelScope(deadline=math.nan)
    with pytest.raises(ValueError, match="Cannot specify both"):
        lowio.CancelScope(deadline=1, relative_deadline=1)
    with pytest.raises(TypeError):
        lowio.CancelScope(1)  # type: ignore[misc]
    with pytest.raises(TypeError):
        lowio.CancelScope(nonsense=1)  # type: ignore[call-arg]


def test_entering_outside_a_run() -> None:
    with pytest.raises(RuntimeError, match=r"must be called from inside lowio\.run"):
        lowio.CancelScope().__enter__()


def test_exiting_outside_a_run_a_scope_entered_in_one() -> None:
    kept: list[lowio.CancelScope] = []

    async def main() -> None:
        scope = lowio.CancelScope()
        scope.__enter__()
        kept.append(scope)
        scope.__exit__(None, None, None)

    lowio.run(main)
    with pytest.raises(RuntimeError, match="already been exited"):
        kept[0].__exit__(None, None, None)


def test_bad_calls_raise_type_errors() -> None:
    async def main() -> None:
        scope = lowio.CancelScope()
        with pytest.raises(TypeError, match="expected 3 arguments"):
            scope.__exit__(None)  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            BaseCancelScope.__enter__(object())  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            scope.__enter__(1)  # type: ignore[call-arg]

    lowio.run(main)


def test_entering_twice() -> None:
    async def main() -> None:
        scope = lowio.CancelScope()
        with scope:
            pass
        with pytest.raises(RuntimeError, match="single 'with' block"):
            scope.__enter__()

    lowio.run(main)


@pytest.mark.parametrize("make", ["deadline", "relative"])
def test_a_deadline_passed_on_entry_cancels_at_once(make: str) -> None:
    async def main() -> None:
        if make == "deadline":
            scope = lowio.CancelScope(deadline=lowio.current_time() - 1)
        else:
            scope = lowio.CancelScope(relative_deadline=0)
        with scope:
            assert scope.cancel_called
            await checkpoint()
            pytest.fail("not cancelled")  # pragma: no cover
        assert scope.cancelled_caught
        assert scope.deadline <= lowio.current_time()

    lowio.run(main, clock=MockClock())


def test_a_relative_deadline_becomes_absolute_and_fires() -> None:
    clock = MockClock()

    async def main() -> None:
        scope = lowio.CancelScope(relative_deadline=5)
        with scope:
            assert scope.deadline == lowio.current_time() + 5
            assert scope.is_relative is None
            await lowio.sleep(10)
        assert scope.cancelled_caught
        assert lowio.current_time() == 5

    clock.autojump_threshold = 0
    lowio.run(main, clock=clock)


def test_a_scope_cancelled_before_entry_registers_no_timer() -> None:
    async def main() -> None:
        scope = lowio.CancelScope(deadline=lowio.current_time() + 100)
        scope.cancel()
        with scope:
            assert scope._timer_entry is None
            await checkpoint()
        assert scope.cancelled_caught

    lowio.run(main)


def test_exit_cancels_the_timer() -> None:
    async def main() -> None:
        runner = current_task()._runner
        before = len(runner.timers._heap) - runner.timers._dead
        scope = lowio.CancelScope(deadline=lowio.current_time() + 100)
        with scope:
            assert scope._timer_entry is not None
        assert scope._timer_entry is None
        assert len(runner.timers._heap) - runner.timers._dead == before

    lowio.run(main)


def test_inheriting_a_cancellation_and_its_reason() -> None:
    async def main() -> None:
        with lowio.CancelScope() as outer:
            outer.cancel("the outer one")
            with lowio.CancelScope() as inner:
                assert inner._cancel_status is not None
                assert inner._cancel_status.effectively_cancelled
                with pytest.raises(lowio.Cancelled, match="the outer one"):
                    await checkpoint()
            with lowio.CancelScope(shield=True) as shielded:
                assert not shielded._cancel_status.effectively_cancelled  # type: ignore[union-attr]
                await checkpoint()
        assert outer.cancelled_caught is False  # the Cancelled was caught by the test

    lowio.run(main)


def test_exit_with_an_exception_goes_to_python() -> None:
    async def main() -> None:
        with lowio.CancelScope() as scope:
            scope.cancel()
            await checkpoint()
        assert scope.cancelled_caught
        with pytest.raises(ValueError, match="kept"), lowio.CancelScope():
            raise ValueError("kept")

    lowio.run(main)


def test_exit_while_an_inner_scope_is_open() -> None:
    async def main() -> None:
        outer = lowio.CancelScope()
        inner = lowio.CancelScope()
        outer.__enter__()
        inner.__enter__()
        with pytest.raises(RuntimeError, match="still within its child"):
            outer.__exit__(None, None, None)
        with pytest.raises(RuntimeError, match="already been exited"):
            outer.__exit__(None, None, None)
        assert inner._cancel_status is not None
        assert inner._cancel_status.abandoned_by_misnesting
        inner.__exit__(None, None, None)

    lowio.run(main)


def test_exit_from_another_task() -> None:
    async def main() -> None:
        errors: list[BaseException] = []
        entered = lowio.Event()
        scope = lowio.CancelScope()

        async def other() -> None:
            await entered.wait()
            try:
                scope.__exit__(None, None, None)
            except RuntimeError as exc:
                errors.append(exc)

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(other)
            scope.__enter__()
            entered.set()
            await lowio.sleep(0.01)
            scope.__exit__(None, None, None)
        assert "from unrelated" in str(errors[0])

    lowio.run(main)


def test_a_scope_around_a_nursery_catches_its_cancellation() -> None:
    async def main() -> None:
        with lowio.CancelScope() as scope:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(lowio.sleep, 0)
                nursery.start_soon(lowio.sleep, 0)
                scope.cancel()
        assert scope.cancelled_caught  # the children's Cancelled reached it through the nursery

    lowio.run(main)


def test_a_subclass_scope_of_the_anyio_backend_uses_the_c_methods() -> None:
    pytest.importorskip("anyio")
    from anyio_backend._cancel_scope import CancelScope as AnyioBackendScope

    assert AnyioBackendScope.__enter__ is BaseCancelScope.__dict__["__enter__"]

    async def main() -> None:
        with AnyioBackendScope._new() as scope:
            scope.cancel()
            await checkpoint()
        assert scope.cancelled_caught

    lowio.run(main)


# ---- the C methods against the Python ones ----


@dataclass
class Plan:
    """One scope of a random nesting, and what its body does."""

    deadline: str  # "none", "past", "future", "relative0", "relative"
    shield: bool
    cancel_before: bool
    cancel_inside: bool
    checkpoint: bool
    raise_inside: bool
    inner: list[Plan] = field(default_factory=list)


def plan_of(inner: st.SearchStrategy[list[Plan]]) -> st.SearchStrategy[Plan]:
    """Plans of one scope whose body runs the plans ``inner`` draws."""
    deadlines = st.sampled_from(["none", "past", "future", "relative0", "relative"])
    flags = [st.booleans() for _ in range(5)]
    return st.builds(Plan, deadlines, *flags, inner)


plans = st.recursive(
    plan_of(st.just([])),
    lambda inner: plan_of(st.lists(inner, max_size=3)),
    max_leaves=8,
)


def run_plan(plan: Plan) -> list[Any]:
    """Runs ``plan`` on a mock clock; returns everything observed."""
    seen: list[Any] = []

    def make(p: Plan) -> lowio.CancelScope:
        now = lowio.current_time()
        deadline = {"past": now - 1, "future": now + 3}.get(p.deadline, math.inf)
        relative = {"relative0": 0.0, "relative": 2.0}.get(p.deadline, math.inf)
        if relative != math.inf:
            return lowio.CancelScope(relative_deadline=relative, shield=p.shield)
        if deadline == math.inf and not p.shield:
            return lowio.CancelScope()
        return lowio.CancelScope(deadline=deadline, shield=p.shield)

    async def body(p: Plan) -> None:
        scope = make(p)
        if p.cancel_before:
            scope.cancel("before")
        try:
            with scope:
                status = scope._cancel_status
                assert status is not None
                seen.append(("in", status.effectively_cancelled, scope.deadline))
                if p.cancel_inside:
                    scope.cancel("inside")
                for q in p.inner:
                    await body(q)
                if p.checkpoint:
                    await lowio.sleep(1)
                if p.raise_inside:
                    raise KeyError("raised")
        except KeyError as exc:
            seen.append(("raised", str(exc)))
        except lowio.Cancelled as exc:
            seen.append(("cancelled", exc.reason, exc.source))
            raise
        finally:
            seen.append(("out", scope.cancelled_caught, scope.cancel_called, scope._cancel_status))

    async def main() -> None:
        try:
            await body(plan)
        except lowio.Cancelled:  # pragma: no cover (the outermost scope catches its own)
            seen.append("escaped")
        seen.append(("time", lowio.current_time()))

    clock = MockClock()
    clock.autojump_threshold = 0
    lowio.run(main, clock=clock)
    return seen


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(plans)
def test_the_c_methods_do_what_the_python_ones_do(plan: Plan) -> None:
    by_c = run_plan(plan)
    with python_methods():
        by_python = run_plan(plan)
    assert by_c == by_python
