"""Ctrl-C delivery: during ``before_run``, at the next checkpoint of a main
task that never blocks, at ``checkpoint_if_cancelled``; in a child process
sending itself SIGINT, the run ending with ``KeyboardInterrupt`` whether
blocked, spinning, in a system task or in an uncancellable wait; the SIGINT
handler restored after the run, a custom one left alone, and a run in a
thread touching no signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
import sniffio

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


# ---- a child process sending itself SIGINT; the SIGINT handler ----

KI_PRELUDE = """
import os, signal, sys, threading, time
import lowio

started = threading.Event()

def send_sigint_when_started():
    started.wait(20)
    time.sleep(0.2)
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=send_sigint_when_started, daemon=True).start()

def report(exc):
    group = getattr(exc, "exceptions", None)
    if isinstance(exc, KeyboardInterrupt):
        print("KI")
    elif group is not None and exc.subgroup(KeyboardInterrupt) is not None:
        print("KI-in-group")
    else:
        print("OTHER", repr(exc))
"""


KI_RUN = """
try:
    lowio.run(main)
except BaseException as exc:
    report(exc)
else:
    print("returned normally")
"""


def run_child(body: str) -> list[str]:
    """Run ``body`` (which defines ``main``) under lowio in a child process
    that sends itself SIGINT once ``started`` is set; return the words it
    printed, the last being the outcome reported by ``report``."""
    script = KI_PRELUDE + textwrap.dedent(body) + KI_RUN
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_ctrl_c_while_blocked_in_sleep_forever_ends_the_run() -> None:
    words = run_child(
        """
        async def sleeper():
            try:
                await lowio.sleep_forever()
            finally:
                print("sleeper unwound")

        async def main():
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(sleeper)
                started.set()
                await lowio.sleep_forever()
        """
    )
    assert "sleeper" in words and words[-1] in ("KI", "KI-in-group"), words


def test_ctrl_c_while_main_blocks_alone_raises_bare_keyboard_interrupt() -> None:
    words = run_child(
        """
        async def main():
            started.set()
            await lowio.sleep_forever()
        """
    )
    assert words == ["KI"], words


def test_ctrl_c_interrupts_a_task_spinning_without_checkpoints() -> None:
    words = run_child(
        """
        async def main():
            started.set()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                pass
            print("spin finished without interruption")
        """
    )
    assert words == ["KI"], words


def test_ctrl_c_interrupts_a_spinning_child_task() -> None:
    words = run_child(
        """
        async def spinner():
            started.set()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                pass

        async def main():
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(spinner)
        """
    )
    assert words[-1] in ("KI", "KI-in-group"), words


def test_ctrl_c_in_a_system_task_goes_to_the_main_task() -> None:
    # system tasks are protected, as in trio: the run ends with a plain
    # KeyboardInterrupt, not a crashed system task (LowioInternalError)
    words = run_child(
        """
        from lowio.lowlevel import spawn_system_task

        async def spinner():
            started.set()
            deadline = time.monotonic() + 1
            while time.monotonic() < deadline:
                pass
            await lowio.sleep(0)

        async def main():
            spawn_system_task(spinner)
            await lowio.sleep(20)
        """
    )
    assert words == ["KI"], words


def test_sigint_handler_is_restored_after_the_run() -> None:
    async def main() -> object:
        return signal.getsignal(signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    during = lowio.run(main)
    assert signal.getsignal(signal.SIGINT) is before
    if before is signal.default_int_handler:
        assert during is not before  # lowio installed its own while running


def test_a_custom_sigint_handler_is_left_alone() -> None:
    def mine(signum: int, frame: object) -> None:
        pass  # pragma: no cover

    old = signal.signal(signal.SIGINT, mine)
    try:

        async def main() -> object:
            return signal.getsignal(signal.SIGINT)

        assert lowio.run(main) is mine
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, old)


def test_run_in_a_thread_does_not_touch_signals() -> None:
    results: list[object] = []

    async def main() -> str:
        await lowio.sleep(0)
        return sniffio.current_async_library()

    thread = threading.Thread(target=lambda: results.append(lowio.run(main)))
    thread.start()
    thread.join(30)
    assert results == ["lowio"]
    assert os.getpid() > 0


def test_ctrl_c_during_an_uncancellable_wait_is_kept_for_the_next_checkpoint() -> None:
    """A wait that refuses the abort (a worker thread that cannot be
    abandoned) must not lose the KeyboardInterrupt: it arrives at the main
    task's next checkpoint, as in trio."""
    words = run_child(
        """
        import time

        def worker():
            started.set()
            time.sleep(0.3)  # Ctrl-C arrives meanwhile
            return 1

        async def main():
            await lowio.to_thread.run_sync(worker)
            print("worker done")
            await lowio.sleep(0)
            print("not interrupted")
        """
    )
    assert words == ["worker", "done", "KI"], words
