"""lowio.open_signal_receiver: trio's semantics (delivery, coalescing,
restoring handlers and the wakeup fd, redelivery on exit, errors)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

import lowio
from lowio import BusyResourceError
from lowio._signals import pending_signal_count
from lowio.lowlevel import current_token
from lowio.testing import assert_checkpoints, wait_all_tasks_blocked

SIGUSR1 = signal.SIGUSR1
SIGUSR2 = signal.SIGUSR2


@pytest.fixture(autouse=True)
def safety_handlers() -> Iterator[list[int]]:
    """SIGUSR1/2 kill the process by default: while a test runs, a stray
    redelivered one lands in this list instead."""
    stray: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        stray.append(signum)

    old = {sig: signal.signal(sig, record) for sig in (SIGUSR1, SIGUSR2)}
    yield stray
    for sig, handler in old.items():
        signal.signal(sig, handler)


def kill_self(sig: int) -> None:
    os.kill(os.getpid(), sig)


async def run_sync_soon_barrier() -> None:
    """Returns once the run_sync_soon callbacks queued so far have run."""
    event = lowio.Event()
    current_token().run_sync_soon(event.set, idempotent=True)
    await event.wait()


def test_a_signal_sent_with_kill_reaches_the_receiver() -> None:
    async def main() -> None:
        with lowio.open_signal_receiver(SIGUSR1) as receiver:
            kill_self(SIGUSR1)
            with lowio.fail_after(5):
                signum = await receiver.__anext__()
            assert signum == SIGUSR1
            assert type(signum) is int  # as trio: plain ints

    lowio.run(main)


def test_async_for_yields_each_signal_kind(safety_handlers: list[int]) -> None:
    async def main() -> None:
        got = []
        with lowio.open_signal_receiver(SIGUSR1, SIGUSR2) as receiver:
            kill_self(SIGUSR2)
            await run_sync_soon_barrier()
            kill_self(SIGUSR1)
            await run_sync_soon_barrier()
            async for signum in receiver:
                got.append(signum)
                if len(got) == 2:
                    break
        assert got == [SIGUSR2, SIGUSR1]  # oldest first

    lowio.run(main)
    assert safety_handlers == []  # nothing left to redeliver


def test_a_signal_arriving_twice_before_being_read_is_delivered_once() -> None:
    async def main() -> None:
        with lowio.open_signal_receiver(SIGUSR1) as receiver:
            # twice before the loop runs the callback (run_sync_soon level) ...
            kill_self(SIGUSR1)
            kill_self(SIGUSR1)
            await wait_all_tasks_blocked()
            # ... and once more after it did (receiver level)
            kill_self(SIGUSR1)
            await wait_all_tasks_blocked()
            assert pending_signal_count(receiver) == 1
            assert await receiver.__anext__() == SIGUSR1
            assert pending_signal_count(receiver) == 0
            # nothing else is pending: the next read waits
            with lowio.move_on_after(0.05) as scope:
                await receiver.__anext__()
            assert scope.cancelled_caught
            kill_self(SIGUSR1)
            assert await receiver.__anext__() == SIGUSR1

    lowio.run(main)


def test_two_pending_signals_alternate_rather_than_starve() -> None:
    async def main() -> None:
        with lowio.open_signal_receiver(SIGUSR1, SIGUSR2) as receiver:
            previous = None
            for _ in range(6):
                kill_self(SIGUSR1)
                kill_self(SIGUSR2)
                await run_sync_soon_barrier()
                got = await receiver.__anext__()
                assert got in (SIGUSR1, SIGUSR2)
                assert got != previous
                previous = got
            while pending_signal_count(receiver):
                await receiver.__anext__()

    lowio.run(main)


def current_wakeup_fd() -> int:
    fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd)
    return fd


def run_wakeup_fd() -> int:
    """The wakeup fd a main-thread run installs for itself (for Ctrl-C)."""
    runner = lowio._core.GLOBAL_RUN_CONTEXT.runner
    assert runner is not None
    return runner.signal_wakeup._wfd


def test_handlers_and_wakeup_fd_are_restored(safety_handlers: list[int]) -> None:
    before = {sig: signal.getsignal(sig) for sig in (SIGUSR1, SIGUSR2)}

    async def main() -> None:
        run_fd = signal.set_wakeup_fd(-1)  # a main-thread run has its own (one for all)
        signal.set_wakeup_fd(run_fd)
        assert run_fd != -1
        with lowio.open_signal_receiver(SIGUSR1, SIGUSR2, SIGUSR1):  # duplicates are fine
            assert signal.getsignal(SIGUSR1) is not before[SIGUSR1]
            ours = signal.set_wakeup_fd(-1)
            signal.set_wakeup_fd(ours)
            assert ours != -1
            with lowio.open_signal_receiver(SIGUSR2):  # nested: same wakeup fd
                assert signal.set_wakeup_fd(ours) == ours
            assert signal.set_wakeup_fd(ours) == ours
        assert {sig: signal.getsignal(sig) for sig in (SIGUSR1, SIGUSR2)} == before
        assert signal.set_wakeup_fd(run_fd) == run_fd

    lowio.run(main)
    assert signal.set_wakeup_fd(-1) == -1  # and the run's own is gone


def test_a_previous_wakeup_fd_is_put_back() -> None:
    a, b = os.pipe()
    os.set_blocking(b, False)
    old = signal.set_wakeup_fd(b)
    try:

        async def main() -> None:
            run_fd = signal.set_wakeup_fd(-1)
            signal.set_wakeup_fd(run_fd)
            assert run_fd not in (-1, b)
            with lowio.open_signal_receiver(SIGUSR1):
                current = signal.set_wakeup_fd(-1)
                signal.set_wakeup_fd(current)
                assert current not in (-1, b)
            assert signal.set_wakeup_fd(run_fd) == run_fd

        lowio.run(main)
        assert signal.set_wakeup_fd(b) == b
    finally:
        signal.set_wakeup_fd(old)
        os.close(a)
        os.close(b)


def test_a_signal_handled_by_another_thread_wakes_a_blocked_loop() -> None:
    # The main thread blocks SIGUSR1, so the kernel hands it to the sending
    # thread and the loop's epoll_wait is not interrupted: only the byte
    # Python's C handler writes to the wakeup fd can wake the loop so that
    # the Python-level handler runs (in the main thread) at once.
    def sender() -> None:
        time.sleep(0.05)
        os.kill(os.getpid(), SIGUSR1)

    async def main() -> None:
        with lowio.open_signal_receiver(SIGUSR1) as receiver:
            thread = threading.Thread(target=sender)
            thread.start()  # before the mask change: the thread does not block it
            old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, [SIGUSR1])
            try:
                start = time.monotonic()
                with lowio.fail_after(2):
                    assert await receiver.__anext__() == SIGUSR1
                assert time.monotonic() - start < 1.0  # not woken by the deadline
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
                thread.join()

    lowio.run(main)


def test_anext_is_a_checkpoint_on_both_paths() -> None:
    async def main() -> None:
        with lowio.open_signal_receiver(SIGUSR1) as receiver:
            kill_self(SIGUSR1)
            await run_sync_soon_barrier()
            with assert_checkpoints():  # pending: a checkpoint
                await receiver.__anext__()
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(lambda: _send_later(SIGUSR1))
                with assert_checkpoints():  # nothing pending: parks
                    await receiver.__anext__()
            # cancelled with a signal pending: Cancelled, the signal stays
            kill_self(SIGUSR1)
            await run_sync_soon_barrier()
            with lowio.CancelScope() as scope:
                scope.cancel()
                await receiver.__anext__()
            assert scope.cancelled_caught
            assert pending_signal_count(receiver) == 1
            await receiver.__anext__()

    lowio.run(main)


async def _send_later(sig: int) -> None:
    await wait_all_tasks_blocked()
    kill_self(sig)


def test_two_tasks_iterating_at_once_is_busy() -> None:
    async def main() -> None:
        with lowio.open_signal_receiver(SIGUSR1) as receiver:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(receiver.__anext__)
                await wait_all_tasks_blocked()
                with pytest.raises(BusyResourceError):
                    await receiver.__anext__()
                nursery.cancel_scope.cancel()

    lowio.run(main)


def test_anext_after_the_block_exited_raises() -> None:
    async def main() -> None:
        with lowio.open_signal_receiver(SIGUSR1) as receiver:
            pass
        with pytest.raises(RuntimeError, match="already exited"):
            await receiver.__anext__()
        assert receiver.__aiter__() is receiver

    lowio.run(main)


def make_recorder() -> tuple[list[int], Callable[[int, FrameType | None], None]]:
    seen: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)

    return seen, handler


def test_unread_signals_are_redelivered_to_the_previous_handlers() -> None:
    seen, handler = make_recorder()

    async def main() -> None:
        signal.signal(SIGUSR1, handler)
        signal.signal(SIGUSR2, handler)
        # the callbacks have run: the signals wait in the receiver
        with lowio.open_signal_receiver(SIGUSR1, SIGUSR2) as receiver:
            kill_self(SIGUSR1)
            kill_self(SIGUSR2)
            await run_sync_soon_barrier()
            assert pending_signal_count(receiver) == 2
        assert sorted(seen) == [SIGUSR1, SIGUSR2]
        seen.clear()
        # the callbacks run only after the exit: redelivered then
        with lowio.open_signal_receiver(SIGUSR1, SIGUSR2):
            kill_self(SIGUSR1)
            kill_self(SIGUSR2)
        assert seen == []
        await run_sync_soon_barrier()
        assert sorted(seen) == [SIGUSR1, SIGUSR2]
        # an ignored signal is redelivered harmlessly
        signal.signal(SIGUSR1, signal.SIG_IGN)
        with lowio.open_signal_receiver(SIGUSR1):
            kill_self(SIGUSR1)
            await run_sync_soon_barrier()

    lowio.run(main)


def test_exceptions_of_redelivery_handlers_chain() -> None:
    def raising(signum: int, frame: FrameType | None) -> None:
        raise RuntimeError(signum)

    async def main() -> None:
        signal.signal(SIGUSR1, raising)
        signal.signal(SIGUSR2, raising)
        with pytest.raises(RuntimeError) as info, lowio.open_signal_receiver(SIGUSR1, SIGUSR2):
            kill_self(SIGUSR1)
            kill_self(SIGUSR2)
            await run_sync_soon_barrier()
        exc = info.value
        assert isinstance(exc.__context__, RuntimeError)
        assert {exc.args[0], exc.__context__.args[0]} == {SIGUSR1, SIGUSR2}
        assert signal.getsignal(SIGUSR1) is raising
        assert current_wakeup_fd() == run_wakeup_fd()

    lowio.run(main)


def test_a_handler_taking_the_run_sync_soon_lock_again_does_not_deadlock() -> None:
    # The handler runs in the main thread between two bytecodes, possibly
    # while that thread holds the entry queue's lock: it must be reentrant.
    async def main() -> None:
        runner = lowio._core.GLOBAL_RUN_CONTEXT.runner
        assert runner is not None
        with lowio.open_signal_receiver(SIGUSR1) as receiver:
            with runner.entry_queue._lock:
                kill_self(SIGUSR1)  # the handler runs here
            with lowio.fail_after(5):
                assert await receiver.__anext__() == SIGUSR1

    lowio.run(main)


def test_no_signals_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="No signals were provided"), lowio.open_signal_receiver():
        pass  # pragma: no cover


@pytest.mark.parametrize(
    ("bad", "error"),
    [(1234567, ValueError), ("SIGUSR1", TypeError), (signal.SIGKILL, OSError)],
)
def test_a_bad_signal_restores_the_handlers_installed_so_far(bad: Any, error: type) -> None:
    before = signal.getsignal(SIGUSR1)

    async def main() -> None:
        with pytest.raises(error), lowio.open_signal_receiver(SIGUSR1, bad):
            pass  # pragma: no cover
        assert signal.getsignal(SIGUSR1) is before
        assert current_wakeup_fd() == run_wakeup_fd()

    lowio.run(main)


def test_outside_the_main_thread_is_a_runtime_error() -> None:
    errors: list[BaseException] = []

    async def naughty() -> None:
        with lowio.open_signal_receiver(SIGUSR1):
            pass  # pragma: no cover

    def thread_main() -> None:
        try:
            lowio.run(naughty)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=thread_main)
    thread.start()
    thread.join()
    assert len(errors) == 1
    assert isinstance(errors[0], RuntimeError)
    assert "main thread" in str(errors[0])


def test_outside_a_run_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError), lowio.open_signal_receiver(SIGUSR1):
        pass  # pragma: no cover
    assert signal.set_wakeup_fd(-1) == -1


def test_a_receiver_open_when_the_run_ends_leaves_nothing_behind() -> None:
    before = signal.getsignal(SIGUSR1)

    async def holder() -> None:
        with lowio.open_signal_receiver(SIGUSR1):
            await lowio.sleep_forever()

    async def main() -> None:
        lowio.lowlevel.spawn_system_task(holder)
        await wait_all_tasks_blocked()
        assert signal.getsignal(SIGUSR1) is not before

    lowio.run(main)  # the system task is cancelled as the run ends
    assert signal.getsignal(SIGUSR1) is before
    assert signal.set_wakeup_fd(-1) == -1
