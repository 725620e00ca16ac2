"""Ctrl-C delivery details shared with trio: during ``before_run``, at the
next checkpoint of a main task that never blocks, at
``checkpoint_if_cancelled``."""

from __future__ import annotations

import signal

import pytest

import lowio
from lowio.lowlevel import (
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    currently_ki_protected,
    enable_ki_protection,
)


def ki_self() -> None:
    signal.raise_signal(signal.SIGINT)


def test_ctrl_c_in_before_run_reaches_the_run() -> None:
    class Death(lowio.abc.Instrument):
        def before_run(self) -> None:
            ki_self()

    async def main() -> None:
        await checkpoint()

    with pytest.raises(KeyboardInterrupt):
        lowio.run(main, instruments=[Death()])


def test_checkpoint_if_cancelled_raises_pending_ki_at_once() -> None:
    @enable_ki_protection
    async def main() -> None:
        assert currently_ki_protected()
        ki_self()
        with pytest.raises(KeyboardInterrupt):
            await checkpoint_if_cancelled()

    lowio.run(main)


def test_ki_at_the_first_checkpoint_of_a_runnable_main_task() -> None:
    steps = []

    @enable_ki_protection
    async def main() -> None:
        ki_self()
        await cancel_shielded_checkpoint()  # never raises
        with pytest.raises(KeyboardInterrupt):
            await checkpoint()  # the very next checkpoint, not POLL_EVERY later
        steps.append("raised")
        await checkpoint()  # delivered once

    lowio.run(main)
    assert steps == ["raised"]


def test_ki_wakes_a_parked_main_task() -> None:
    @enable_ki_protection
    async def main() -> None:
        ki_self()
        with pytest.raises(KeyboardInterrupt):
            await lowio.sleep(10)
        ki_self()  # a second Ctrl-C is delivered too
        with pytest.raises(KeyboardInterrupt):
            await lowio.sleep(10)

    lowio.run(main)


def test_protection_marks_the_function_inside_an_async_generator_wrapper() -> None:
    async_generator = pytest.importorskip("async_generator")

    @enable_ki_protection
    @async_generator.async_generator
    async def protected() -> None:
        assert currently_ki_protected()
        await async_generator.yield_()

    @async_generator.async_generator
    async def plain() -> None:  # shares the wrapper's code with protected
        assert not currently_ki_protected()
        await async_generator.yield_()

    async def main() -> None:
        async for _ in protected():
            pass
        async for _ in plain():
            pass

    lowio.run(main)


def test_pending_ki_goes_before_cancellation() -> None:
    @enable_ki_protection
    async def main() -> None:
        with lowio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(lowio.Cancelled):
                await checkpoint()
            ki_self()
            with pytest.raises(KeyboardInterrupt):
                await checkpoint()
            with pytest.raises(lowio.Cancelled):
                await checkpoint()

    lowio.run(main)


def test_handler_installed_even_if_threading_lost_the_main_thread() -> None:
    import threading

    main = threading.main_thread()
    original = threading._active[main.ident]  # type: ignore[attr-defined]
    seen = []

    async def inner() -> None:
        seen.append(signal.getsignal(signal.SIGINT) is not signal.default_int_handler)

    try:
        del threading._active[main.ident]  # type: ignore[attr-defined]
        lowio.run(inner)
    finally:
        threading._active[main.ident] = original  # type: ignore[attr-defined]
    assert seen == [True]
