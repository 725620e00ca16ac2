"""The run's signal wakeup fd: one per run, drained by the loop (signals
keep waking it however many arrive), and a foreign wakeup fd saved and
restored once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

import lowio
from lowio._core import GLOBAL_RUN_CONTEXT, SteppedRun
from lowio.lowlevel import current_token
from lowio.testing import wait_all_tasks_blocked

SIGUSR1 = signal.SIGUSR1
SIGUSR2 = signal.SIGUSR2
# more one-byte writes than an undrained AF_UNIX socketpair holds (~280)
MANY_SIGNALS = 1000


@pytest.fixture(autouse=True)
def restore_usr_handlers() -> Iterator[None]:
    old = {sig: signal.getsignal(sig) for sig in (SIGUSR1, SIGUSR2)}
    yield
    for sig, handler in old.items():
        signal.signal(sig, handler)


def current_wakeup_fd() -> int:
    fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd)
    return fd


def ignore(signum: int, frame: FrameType | None) -> None:
    pass


def test_many_signals_do_not_stop_signals_from_waking_the_loop() -> None:
    # Every Python-handled signal writes a byte to the wakeup fd.  Then
    # SIGUSR2 goes to another thread (the main thread blocks it), which
    # does not interrupt epoll_wait: only its wakeup byte can wake the
    # loop so that the handler runs.  Undrained, the buffer is full by now
    # and that byte is lost.
    async def main() -> None:
        token = current_token()
        handled = lowio.Event()
        handled_at: list[float] = []

        def on_usr2(signum: int, frame: FrameType | None) -> None:
            handled_at.append(lowio.current_time())
            token.run_sync_soon(handled.set)

        signal.signal(SIGUSR1, ignore)
        signal.signal(SIGUSR2, on_usr2)
        for _ in range(MANY_SIGNALS):
            os.kill(os.getpid(), SIGUSR1)
        await lowio.sleep(0.01)  # the loop polls (and drains)
        sender = threading.Timer(0.05, os.kill, (os.getpid(), SIGUSR2))
        sender.start()  # before the mask change: the thread does not block it
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, [SIGUSR2])
        try:
            deadline = lowio.current_time() + 5
            with lowio.move_on_at(deadline):  # otherwise only the deadline wakes the loop
                await handled.wait()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
            sender.join()
        assert handled_at and handled_at[0] < deadline

    lowio.run(main)


CTRL_C_CHILD = """
import os, signal, threading
import lowio

def ignore(signum, frame):
    pass

async def main():
    signal.signal(signal.SIGUSR1, ignore)
    for _ in range({signals}):
        os.kill(os.getpid(), signal.SIGUSR1)
    await lowio.sleep(0.01)
    # Ctrl-C goes to another thread: it cannot interrupt epoll_wait, and
    # it lands before (or while) the loop blocks; only the wakeup byte
    # wakes the loop
    threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
    watchdog = threading.Timer(10, os._exit, (3,))  # nothing else would wake it
    watchdog.daemon = True
    watchdog.start()
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])
    await lowio.sleep_forever()

try:
    lowio.run(main)
except KeyboardInterrupt:
    print("KI")
"""


@pytest.mark.parametrize("signals", [0, MANY_SIGNALS])
def test_ctrl_c_that_cannot_interrupt_epoll_wait_still_wakes_the_loop(signals: int) -> None:
    script = textwrap.dedent(CTRL_C_CHILD.format(signals=signals))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["KI"]


def test_one_wakeup_fd_per_run_shared_by_signal_receivers() -> None:
    async def main() -> None:
        runner = GLOBAL_RUN_CONTEXT.runner
        assert runner is not None
        ours = current_wakeup_fd()
        assert ours == runner.signal_wakeup._wfd != -1
        fds = len(os.listdir("/proc/self/fd"))
        with lowio.open_signal_receiver(SIGUSR1), lowio.open_signal_receiver(SIGUSR2):
            assert current_wakeup_fd() == ours
            assert len(os.listdir("/proc/self/fd")) == fds  # no other socketpair
        assert current_wakeup_fd() == ours

    assert current_wakeup_fd() == -1
    lowio.run(main)
    assert current_wakeup_fd() == -1


@pytest.mark.parametrize("before_run", [False, True])
def test_a_wakeup_fd_set_during_the_run_stays_after_it(before_run: bool) -> None:
    first_r, first_w = os.pipe()
    theirs_r, theirs_w = os.pipe()
    for fd in (first_w, theirs_w):
        os.set_blocking(fd, False)
    previous = signal.set_wakeup_fd(first_w if before_run else -1)
    try:

        async def main() -> None:
            # another library takes the wakeup fd over in the middle of the run
            ours = signal.set_wakeup_fd(theirs_w)
            assert ours not in (-1, first_w)

        lowio.run(main)
        assert current_wakeup_fd() == theirs_w  # theirs, not the one before the run
    finally:
        signal.set_wakeup_fd(previous)
        for fd in (first_r, first_w, theirs_r, theirs_w):
            os.close(fd)


def test_pieces_of_a_stepped_run_put_the_previous_wakeup_fd_back_between_them() -> None:
    read, write = os.pipe()
    os.set_blocking(write, False)
    previous = signal.set_wakeup_fd(write)
    seen: list[int] = []

    async def main() -> None:
        seen.append(current_wakeup_fd())
        await lowio.sleep(0)
        seen.append(current_wakeup_fd())

    try:
        run = SteppedRun(main)
        run.run_until(lambda: len(seen) == 1)
        assert current_wakeup_fd() == write
        run.finish()
        assert current_wakeup_fd() == write
        assert len(seen) == 2 and write not in seen and -1 not in seen
    finally:
        signal.set_wakeup_fd(previous)
        os.close(read)
        os.close(write)


def test_a_run_in_another_thread_leaves_the_wakeup_fd_alone() -> None:
    seen: list[int] = []

    async def main() -> None:
        seen.append(GLOBAL_RUN_CONTEXT.runner.signal_wakeup._wfd)  # type: ignore[union-attr]
        await wait_all_tasks_blocked()

    thread = threading.Thread(target=lowio.run, args=(main,))
    thread.start()
    thread.join(30)
    assert seen == [-1]
    assert current_wakeup_fd() == -1
