"""fork() and the runtime: a child forked from a worker thread (or by
multiprocessing's fork context) starts clean runs of its own (Ctrl-C, the
wakeup fd); a child that goes on with the parent's run gets RuntimeError."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Callable
from types import FrameType

import pytest

import lowio
from lowio._core import SteppedRun
from lowio.lowlevel import current_token

pytestmark = pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="lowio installs its SIGINT handler only over Python's default",
)

# the child's exit codes
OK, CRASHED, RETURNED, STALE_WAKEUP_FD, FAILED = 0, 3, 4, 5, 6


def in_child(child: Callable[[], int]) -> int:
    """Forks; the child runs ``child`` and exits with its result (never
    returning into the test); the parent returns that exit code."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = FAILED
        try:
            code = child()
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def fresh_run_with_ctrl_c() -> int:
    """In the child: a new run that gets Ctrl-C while it is protected (a
    run_sync_soon callback raises it): lowio's handler of *this* run must
    deliver it to the main task."""

    async def main() -> None:
        current_token().run_sync_soon(os.kill, os.getpid(), signal.SIGINT)
        await lowio.sleep(10)

    try:
        lowio.run(main)
    except KeyboardInterrupt:
        return OK if signal.getsignal(signal.SIGINT) is signal.default_int_handler else FAILED
    except lowio.LowioInternalError:
        traceback.print_exc()
        return CRASHED
    return RETURNED


def test_a_child_forked_from_a_worker_thread_gets_its_own_ctrl_c() -> None:
    async def main() -> int:
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler  # lowio's
        return await lowio.to_thread.run_sync(in_child, fresh_run_with_ctrl_c)

    assert lowio.run(main) == OK


def wakeup_fd_as_before_the_parents_run() -> int:
    # the parent's socketpair must not stay the wakeup fd (nor become the
    # "previous" one a fresh run in the child puts back)
    return OK if signal.set_wakeup_fd(-1) == -1 else STALE_WAKEUP_FD


def test_a_child_forked_from_a_worker_thread_has_the_wakeup_fd_from_before_the_run() -> None:
    async def main() -> int:
        return await lowio.to_thread.run_sync(in_child, wakeup_fd_as_before_the_parents_run)

    assert lowio.run(main) == OK


def test_a_child_forked_from_a_worker_thread_has_the_handlers_from_before_the_receivers() -> None:
    def mine(signum: int, frame: FrameType | None) -> None:
        pass  # pragma: no cover

    def child() -> int:
        ok = signal.getsignal(signal.SIGUSR1) is mine and (
            signal.getsignal(signal.SIGUSR2) is signal.SIG_DFL
        )
        return OK if ok else FAILED

    async def main() -> int:
        # nested: the handler from before the outer one wins
        with (
            lowio.open_signal_receiver(signal.SIGUSR1, signal.SIGUSR2),
            lowio.open_signal_receiver(signal.SIGUSR1),
        ):
            return await lowio.to_thread.run_sync(in_child, child)

    old = signal.signal(signal.SIGUSR1, mine)
    old_usr2 = signal.signal(signal.SIGUSR2, signal.SIG_DFL)
    try:
        assert lowio.run(main) == OK
        assert signal.getsignal(signal.SIGUSR1) is mine
    finally:
        signal.signal(signal.SIGUSR1, old)
        signal.signal(signal.SIGUSR2, old_usr2)


def _multiprocessing_target() -> None:  # pragma: no cover - the child
    sys.exit(fresh_run_with_ctrl_c())


def _start_fork_process() -> int | None:
    process = multiprocessing.get_context("fork").Process(target=_multiprocessing_target)
    process.start()
    process.join(30)
    return process.exitcode


def test_a_multiprocessing_fork_child_started_from_a_worker_gets_its_own_ctrl_c() -> None:
    async def main() -> int | None:
        return await lowio.to_thread.run_sync(_start_fork_process)

    assert lowio.run(main) == OK


def test_a_forked_child_going_on_with_the_parents_run_gets_runtime_error() -> None:
    parent = os.getpid()

    async def main() -> int:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            await lowio.sleep(0.01)  # the loop then polls the parent's poller
            os._exit(RETURNED)
        _, status = await lowio.to_thread.run_sync(os.waitpid, pid, 0)
        return os.waitstatus_to_exitcode(status)

    try:
        code = lowio.run(main)
    except BaseException as exc:
        if os.getpid() == parent:
            raise
        # pragma: no cover - the child
        traceback.print_exc()
        ok = type(exc) is RuntimeError and "forked child" in str(exc)
        os._exit(OK if ok else FAILED)
    finally:
        if os.getpid() != parent:  # pragma: no cover
            os._exit(FAILED)
    assert code == OK


def test_a_child_forked_by_a_task_may_start_a_run_of_its_own() -> None:
    # e.g. multiprocessing's fork start method used from a task
    async def child_main() -> str:
        await lowio.sleep(0.001)
        return "child"

    def child() -> int:
        return OK if lowio.run(child_main) == "child" else FAILED

    async def main() -> int:
        code = in_child(child)
        assert lowio.lowlevel.current_task() is not None  # the parent's run is intact
        return code

    assert lowio.run(main) == OK


def test_a_stepped_run_made_in_the_parent_refuses_to_run_in_a_child() -> None:
    async def main() -> str:
        return "done"

    run = SteppedRun(main)

    def child() -> int:
        try:
            run.run_until(None)
        except RuntimeError as exc:
            return OK if "forked child" in str(exc) else FAILED
        return RETURNED

    assert in_child(child) == OK
    assert run.finish() == "done"
