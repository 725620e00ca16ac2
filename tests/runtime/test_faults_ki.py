"""Ctrl-C in every state of a run, delivered from outside as a terminal
would (``kill -INT`` from the test process once the child says it is in the
state): a task spinning without checkpoints, the run idle in
``epoll_wait``, a ``to_thread`` worker running (abandonable or not), and a
run in a forked child (forked before any run, after one, and from a
``to_thread`` worker).  The expected outcome is always a plain
``KeyboardInterrupt`` out of ``lowio.run``: the process dies of SIGINT as
CPython does for an uncaught KeyboardInterrupt (a forked child reports exit
status 130 instead), the traceback ends in ``KeyboardInterrupt`` and no
``LowioInternalError`` appears, within a few seconds of the signal."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass

import pytest

PRELUDE = """
import os, signal, socket, sys, threading, time, traceback
import lowio

EXIT = {"KI": 130, "KI-group": 131}

def ready(note=""):
    print("ready", os.getpid(), note, flush=True)

def classify(exc):
    # KI: a bare KeyboardInterrupt; KI-group: an exception group of nothing
    # but KeyboardInterrupts (trio's outcome when the main task was in a
    # nursery); OTHER: anything else
    if type(exc) is KeyboardInterrupt:
        return "KI"
    if hasattr(exc, "split") and exc.split(KeyboardInterrupt)[1] is None:
        return "KI-group"
    return "OTHER"

def run(main):
    try:
        lowio.run(main)
    except BaseException as exc:
        print("outcome", classify(exc), flush=True)
        raise
    print("outcome returned", flush=True)

def run_in_child(main):
    # a forked child: the outcome also goes out as the exit status
    try:
        lowio.run(main)
    except BaseException as exc:
        kind = classify(exc)
        print("outcome", kind, flush=True)
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(EXIT.get(kind, 1))
    print("outcome returned", flush=True)
    os._exit(0)

def report_child(pid):
    _, status = os.waitpid(pid, 0)
    print("child-exit", os.waitstatus_to_exitcode(status), flush=True)
"""

LAST_LINE_KI = "KeyboardInterrupt"


@dataclass
class Outcome:
    returncode: int
    stdout: list[str]
    stderr: str
    seconds_after_signal: float

    @property
    def traceback_tail(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def interrupt(body: str, settle: float = 0.3) -> Outcome:
    """Runs PRELUDE + ``body`` in a child Python, waits for its ``ready <pid>``
    line, sends SIGINT to that pid ``settle`` seconds later and collects the
    outcome (all bounded by timeouts)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(body)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        readable, _, _ = select.select([proc.stdout], [], [], 20)
        assert readable, "the child never said it was ready"
        first = proc.stdout.readline().split()
        assert first[:1] == ["ready"], (first, proc.stderr.read() if proc.stderr else "")
        time.sleep(settle)
        os.kill(int(first[1]), signal.SIGINT)
        sent = time.monotonic()
        out, err = proc.communicate(timeout=20)
        return Outcome(proc.returncode, first + out.split(), err, time.monotonic() - sent)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def assert_keyboard_interrupt(outcome: Outcome, kind: str = "KI", *, forked: bool = False) -> None:
    """``lowio.run`` ended with ``kind`` (see ``classify`` in PRELUDE), and
    the process (or the forked child) ended the way that implies."""
    assert "LowioInternalError" not in outcome.stderr, outcome.stderr
    assert ["outcome", kind] == outcome.stdout[outcome.stdout.index("outcome") :][:2], (
        outcome.stdout,
        outcome.stderr,
    )
    if kind == "KI":
        assert outcome.traceback_tail == LAST_LINE_KI, outcome.stderr
    if forked:
        assert outcome.returncode == 0, outcome.stderr
        expected = {"KI": "130", "KI-group": "131"}[kind]
        exit_at = outcome.stdout.index("child-exit")  # the parent may report after it
        assert outcome.stdout[exit_at : exit_at + 2] == ["child-exit", expected], (
            outcome.stdout,
            outcome.stderr,
        )
    else:
        # CPython dies of SIGINT for an uncaught bare KeyboardInterrupt
        expected_rc = -signal.SIGINT if kind == "KI" else 1
        assert outcome.returncode == expected_rc, (outcome.returncode, outcome.stderr)
    assert outcome.seconds_after_signal < 5.0, outcome.seconds_after_signal


def test_ctrl_c_in_a_main_task_spinning_without_checkpoints() -> None:
    outcome = interrupt(
        """
        async def main():
            ready()
            while True:
                pass

        run(main)
        """
    )
    assert_keyboard_interrupt(outcome)


def test_ctrl_c_in_a_spinning_task_unwinds_the_blocked_ones() -> None:
    outcome = interrupt(
        """
        async def blocked(sock):
            try:
                await sock.recv(1)
            finally:
                print("unwound", flush=True)

        async def spinner():
            ready()
            while True:
                pass

        async def main():
            a, b = lowio.socket.socketpair()
            with a, b:
                async with lowio.open_nursery() as nursery:
                    nursery.start_soon(blocked, a)
                    await lowio.testing.wait_all_tasks_blocked()
                    nursery.start_soon(spinner)

        run(main)
        """
    )
    assert_keyboard_interrupt(outcome, "KI-group")
    assert "unwound" in outcome.stdout, outcome.stdout


def test_ctrl_c_while_the_run_is_idle_in_epoll_wait() -> None:
    """Tasks blocked in recv, accept and sleep_forever: nothing runs, the run
    waits in epoll_wait with no timeout when the signal comes; every task
    unwinds."""
    outcome = interrupt(
        """
        async def blocked(name, wait, *args):
            try:
                await wait(*args)
            finally:
                print("unwound-" + name, flush=True)

        async def main():
            a, b = lowio.socket.socketpair()
            listener = lowio.socket.socket()
            await listener.bind(("127.0.0.1", 0))
            listener.listen()
            with a, b, listener:
                async with lowio.open_nursery() as nursery:
                    nursery.start_soon(blocked, "recv", a.recv, 1)
                    nursery.start_soon(blocked, "accept", listener.accept)
                    nursery.start_soon(blocked, "sleep", lowio.sleep_forever)
                    await lowio.testing.wait_all_tasks_blocked()
                    ready()
                    await lowio.sleep_forever()

        run(main)
        """
    )
    assert_keyboard_interrupt(outcome, "KI-group")
    for name in ("recv", "accept", "sleep"):
        assert f"unwound-{name}" in outcome.stdout, outcome.stdout


def test_ctrl_c_while_an_abandonable_worker_thread_runs() -> None:
    """The worker blocks for 30 s; the waiting task is abandoned at once."""
    outcome = interrupt(
        """
        def worker():
            ready()
            threading.Event().wait(30)

        async def main():
            await lowio.to_thread.run_sync(worker, abandon_on_cancel=True)
            print("worker returned", flush=True)

        run(main)
        """
    )
    assert_keyboard_interrupt(outcome)
    assert "returned" not in outcome.stdout


def test_ctrl_c_while_an_unabandonable_worker_thread_runs() -> None:
    """The KeyboardInterrupt waits for the worker (it cannot be abandoned)
    and then ends the run."""
    outcome = interrupt(
        """
        def worker():
            ready()
            time.sleep(1.0)
            print("worker-finished", flush=True)

        async def main():
            await lowio.to_thread.run_sync(worker)
            await lowio.sleep(0)
            print("not-interrupted", flush=True)

        run(main)
        """
    )
    assert_keyboard_interrupt(outcome)
    assert "worker-finished" in outcome.stdout
    assert "not-interrupted" not in outcome.stdout
    assert outcome.seconds_after_signal > 0.4  # it did wait for the worker


CHILD_MAIN = """
async def child_main():
    a, b = lowio.socket.socketpair()
    with a, b:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(a.recv, 1)
            await lowio.testing.wait_all_tasks_blocked()
            ready("child")
            await lowio.sleep_forever()
"""


@pytest.mark.parametrize("before", ["no-run", "after-a-run"])
def test_ctrl_c_in_a_run_in_a_forked_child(before: str) -> None:
    """``os.fork()`` from the main thread (before any run, or after a run
    that used worker threads), then ``lowio.run`` in the child."""
    outcome = interrupt(
        CHILD_MAIN
        + f"""
if {before == "after-a-run"!r}:
    async def warm_up():
        await lowio.to_thread.run_sync(time.sleep, 0.01)
        await lowio.sleep(0.01)
    lowio.run(warm_up)

pid = os.fork()
if pid == 0:
    run_in_child(child_main)
report_child(pid)
"""
    )
    assert_keyboard_interrupt(outcome, "KI-group", forked=True)


def test_ctrl_c_in_a_run_in_a_child_forked_from_a_worker_thread() -> None:
    outcome = interrupt(
        CHILD_MAIN
        + """
def fork_here():
    pid = os.fork()
    if pid == 0:
        run_in_child(child_main)
    report_child(pid)

async def main():
    await lowio.to_thread.run_sync(fork_here)

run(main)
"""
    )
    assert_keyboard_interrupt(outcome, "KI-group", forked=True)
