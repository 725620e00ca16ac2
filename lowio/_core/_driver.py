"""How a run is driven: ``lowio.run`` (to completion, the usual way) and
``SteppedRun`` (in pieces, for a synchronous host such as anyio's pytest
runner, which keeps one run alive across fixture and test calls)."""

from __future__ import annotations

import contextlib
import os
import types
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import sniffio

from ._async_fn import coroutine_or_error
from ._clock import Clock, SystemClock
from ._exceptions import LowioInternalError
from ._ki import coroutine_frame
from ._library_name import library_name
from ._local import GLOBAL_RUN_CONTEXT
from ._nursery import warn_loose_groups
from ._run import Runner

T = TypeVar("T")

_NESTED = "Attempted to call run() from inside a run()"
_FORKED = (
    "this lowio run belongs to the parent process: a forked child cannot use it "
    "(start a new lowio.run() in the child)"
)

# How many times a crashed run's coroutine is closed before it is left to
# the garbage collector: each close() unwinds it only up to the next await
# in a ``finally`` block (a nursery's exit awaits its children), so one
# that keeps awaiting while it unwinds would never end.
MAX_CLOSE_ATTEMPTS = 100


def close_for_good(coro: Any) -> None:
    """Closes a suspended coroutine of a crashed run, repeating while it
    awaits again in its cleanup (at most ``MAX_CLOSE_ATTEMPTS`` times).
    What its cleanup raises is dropped: the run has already failed, and
    there is nobody left to report it to."""
    for _attempt in range(MAX_CLOSE_ATTEMPTS):
        if coroutine_frame(coro) is None:
            return  # it has ended
        with contextlib.suppress(BaseException):  # see the docstring
            coro.close()


def _in_a_live_run() -> bool:
    # A run of the parent process does not count: a child forked by one
    # of its tasks (e.g. multiprocessing's fork start method) may start
    # its own run.
    runner = GLOBAL_RUN_CONTEXT.runner
    return runner is not None and runner.pid == os.getpid()


def _enter(runner: Runner) -> tuple[Any, Any]:
    """Makes ``runner`` this thread's run; returns what was there (a
    forked child's stale run, else nothing) for ``_leave``."""
    glob = GLOBAL_RUN_CONTEXT
    outer = (glob.runner, glob.task)
    glob.runner, glob.task = runner, None
    return outer


def _leave(outer: tuple[Any, Any]) -> None:
    GLOBAL_RUN_CONTEXT.runner, GLOBAL_RUN_CONTEXT.task = outer


class SteppedRun:
    """A lowio run that a synchronous host advances in pieces.

    ``SteppedRun(async_fn, *args)`` prepares the run (nothing runs yet);
    ``run_until(done)`` runs it in this thread until ``done()`` is true
    after a batch of task steps, or until the run ends (returns True then);
    ``finish()`` runs it to the end and returns ``async_fn``'s result (or
    raises its exception).  Between pieces nothing runs, and this thread is
    not "inside" the run.  Same errors as ``lowio.run``; ``RuntimeError``
    for a piece started inside another run or after the end.
    """

    def __init__(
        self,
        async_fn: Callable[..., Awaitable[object]],
        *args: object,
        clock: Clock | None = None,
        instruments: Iterable[object] = (),
        restrict_keyboard_interrupt_to_checkpoints: bool = False,
        strict_exception_groups: bool = True,
    ) -> None:
        if not strict_exception_groups:
            warn_loose_groups("SteppedRun(..., strict_exception_groups=False)", stacklevel=3)
        self._setup(
            async_fn,
            args,
            clock,
            instruments,
            restrict_keyboard_interrupt_to_checkpoints,
            strict_exception_groups,
        )

    def _setup(
        self,
        async_fn: Callable[..., Awaitable[object]],
        args: tuple[object, ...],
        clock: Clock | None,
        instruments: Iterable[object],
        restrict_keyboard_interrupt_to_checkpoints: bool,
        strict_exception_groups: bool,
    ) -> None:
        # __init__ without the deprecation warning (``run`` gives its own)
        if _in_a_live_run():
            raise RuntimeError(_NESTED)
        if isinstance(async_fn, types.CoroutineType):
            coroutine_or_error(async_fn, ())  # raises the hint
        if clock is None:
            clock = SystemClock()
        self._runner = runner = Runner(
            clock,
            instruments,
            strict_exception_groups=bool(strict_exception_groups),
            restrict_keyboard_interrupt_to_checkpoints=bool(
                restrict_keyboard_interrupt_to_checkpoints
            ),
        )
        self._finished = False
        self._result: tuple[Any, BaseException | None] | None = None
        outer = _enter(runner)
        try:
            clock.start_clock()
            if runner.instruments.active:
                # Ctrl-C during before_run belongs to the run's (the
                # main task gets it): the handler is in place meanwhile
                runner.ki.install(runner)
                try:
                    runner.instruments.call("before_run")
                finally:
                    runner.ki.close()
            runner.init_task = runner.spawn_impl(
                runner.init, (async_fn, args), None, "<init>", system_task=True
            )
        except BaseException:
            self._close()
            raise
        finally:
            _leave(outer)

    @property
    def finished(self) -> bool:
        return self._finished

    def run_until(self, done: Callable[[], bool] | None) -> bool:
        """Runs until ``done()`` (checked after each batch) or the end of the
        run; returns True if the run has ended."""
        if self._finished:
            raise RuntimeError("this run has already finished")
        if _in_a_live_run():
            raise RuntimeError(_NESTED)
        runner = self._runner
        if os.getpid() != runner.pid:
            raise RuntimeError(_FORKED)
        outer = _enter(runner)
        # sniffio names lowio (``library_name()``) for all code the run executes, whatever
        # the context a task or callback runs in (e.g. a callback queued with
        # run_sync_soon from another library's thread, in that thread's
        # context); sniffio checks this thread-local before its context var.
        previous_library = sniffio.thread_local.name
        sniffio.thread_local.name = library_name()
        try:
            runner.signal_wakeup.install(runner.io)
            runner.ki.install(runner)
            runner.asyncgens.install()
            try:
                runner.run_loop(done)
            except BaseException as exc:
                self._close()
                self._close_abandoned_tasks()
                if os.getpid() != runner.pid:
                    # a task forked and the child went on with this run: its
                    # poller is the parent's and refuses (README: RuntimeError)
                    raise RuntimeError(_FORKED) from exc
                if isinstance(exc, LowioInternalError):
                    raise
                raise LowioInternalError("internal error in the lowio run loop") from exc
        finally:
            runner.asyncgens.uninstall()
            runner.ki.close()
            runner.signal_wakeup.uninstall()
            _leave(outer)
            sniffio.thread_local.name = previous_library
        if runner.init_task in runner.tasks:
            return False
        if runner.instruments.active:
            outer = _enter(runner)  # after_run sees in_run() true
            try:
                runner.instruments.call("after_run")
            finally:
                _leave(outer)
        self._close()
        return True

    def _close(self) -> None:
        runner = self._runner
        self._finished = True
        self._result = runner.main_task_outcome
        runner.main_task_outcome = None
        runner.entry_queue.close()
        runner.io.close()
        runner.runq.clear()
        runner.run_vars.clear()  # per-run state ends with the run

    def _close_abandoned_tasks(self) -> None:
        # After a crash (e.g. an exception raised by a signal handler in the
        # loop): close the coroutines of the tasks left now, dropping their
        # errors, rather than leaving them to the garbage collector, which
        # would run their ``finally`` blocks at some arbitrary later point
        # (where the errors they raise outside the run surface as
        # "Exception ignored" noise, or worse).
        tasks = list(self._runner.tasks)
        self._runner.tasks.clear()
        for task in tasks:
            close_for_good(task.coro)

    def finish(self) -> Any:
        """Runs to the end; returns the result or raises the exception of
        the main function (``KeyboardInterrupt`` after Ctrl-C)."""
        if not self._finished:
            self.run_until(None)
        result = self._result
        if result is None:
            raise RuntimeError("the run ended without a result (it crashed)")
        value, error = result
        self._result = None
        if self._runner.ki_pending:
            ki = KeyboardInterrupt()
            ki.__context__ = error
            error = ki
        if error is not None:
            try:
                raise error
            finally:
                del error
        return value


def run(
    async_fn: Callable[..., Awaitable[T]],
    *args: object,
    clock: Clock | None = None,
    instruments: Iterable[object] = (),
    restrict_keyboard_interrupt_to_checkpoints: bool = False,
    strict_exception_groups: bool = True,
) -> T:
    """Runs ``async_fn(*args)`` in a new lowio run and returns its result
    (or raises its exception).

    ``clock`` (default: the system clock) and ``instruments`` are trio's.
    ``restrict_keyboard_interrupt_to_checkpoints``: Ctrl-C is always
    delivered at the main task's next checkpoint, never raised where it
    lands.  ``strict_exception_groups`` is the default of every
    ``open_nursery()`` of the run that does not pass its own; False is
    deprecated (``TrioDeprecationWarning``).
    ``TypeError`` (with a hint) if ``async_fn`` is not an async function;
    ``RuntimeError`` if called inside a running ``lowio.run`` in this
    thread.  Ctrl-C ends the run with ``KeyboardInterrupt``.
    """
    if not strict_exception_groups:
        warn_loose_groups("run(..., strict_exception_groups=False)", stacklevel=3)
    stepped = SteppedRun.__new__(SteppedRun)
    stepped._setup(
        async_fn,
        args,
        clock,
        instruments,
        restrict_keyboard_interrupt_to_checkpoints,
        strict_exception_groups,
    )
    result: T = stepped.finish()
    return result
