"""Guest mode: ``lowlevel.start_guest_run`` runs lowio on top of another
event loop (the *host*: asyncio, a GUI toolkit's loop, ...) in the host's
thread.

The host only has to run callbacks soon (``run_sync_soon_threadsafe``,
optionally a cheaper ``run_sync_soon_not_threadsafe``).  The run advances
in *ticks*, each a host callback: a tick hands out the events of the last
I/O wait, runs one batch of task steps and works out how long the next I/O
wait may block.  A wait that may block happens in a worker thread
(``start_thread_soon``), which hands its events back to the host with
``run_sync_soon_threadsafe``; the next tick runs there.  A wait that must
not block (tasks are runnable, or the poll found events at once) happens in
the tick itself, and the next tick is queued at once.  Guest code never
runs in the worker thread, and the poller is never used by two threads at
a time.

Between ticks the host thread is "in" the run (``in_trio_run()`` is true,
sync functions such as ``current_time`` or ``spawn_system_task`` work) but
in no task, and sniffio names the host's library, not lowio.  Whatever the
host does to the run meanwhile (rescheduling a task, moving a deadline,
changing the mock clock's autojump threshold) wakes the worker's wait, so
that a tick comes soon.
"""

from __future__ import annotations

import signal
import threading
import types
import warnings
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import sniffio

from ._async_fn import coroutine_or_error
from ._clock import Clock, SystemClock
from ._driver import close_for_good
from ._exceptions import LowioInternalError
from ._library_name import library_name
from ._local import GLOBAL_RUN_CONTEXT
from ._nursery import warn_loose_groups
from ._run import Runner
from ._thread_cache import start_thread_soon
from ._timers import Entry, Timers

try:  # what trio hands to done_callback; lowio's own shape if it is absent
    from outcome import Error, Value
except ImportError:  # pragma: no cover
    from ._outcome import Error, Value  # type: ignore[assignment]

_COLLIDED = (
    "It looks like lowio's signal handling code might have collided with another "
    "library you're using. If you're running lowio in guest mode, then this might "
    "mean you should set host_uses_signal_set_wakeup_fd=True."
)

# How many batches may run while the run starts up synchronously (inside
# ``start_guest_run``): the init task needs one to open the system nursery.
_STARTUP_BATCHES = 5


class _WakingRunQueue(list):  # type: ignore[type-arg]
    """The run queue while the worker waits: a task rescheduled by the host
    meanwhile wakes the wait (``wake``), so that a tick comes to run it."""

    __slots__ = ("_wake",)

    def __init__(self, wake: Callable[[], object]) -> None:
        super().__init__()
        self._wake = wake

    def append(self, task: Any) -> None:
        super().append(task)
        self._wake()


def _abandoned(runner: Runner) -> None:
    """A guest run was garbage-collected before it finished (its host
    stopped calling back): warns, and undoes what the run installed in the
    host thread, so that the thread is no longer "in" it."""
    warnings.warn(
        RuntimeWarning(
            "Trio guest run got abandoned without properly finishing... weird stuff might happen"
        ),
        stacklevel=1,
    )
    runner.ki.close()
    runner.signal_wakeup.uninstall()
    runner.io.close()
    glob = GLOBAL_RUN_CONTEXT
    if glob.runner is runner:
        glob.runner, glob.task = None, None
    _close_tasks(runner)


def _close_tasks(runner: Runner) -> None:
    """Closes the coroutines of the tasks a run left behind (dropping what
    their cleanup raises), rather than leaving them to the collector."""
    tasks = list(runner.tasks)
    runner.tasks.clear()
    for task in tasks:
        close_for_good(task.coro)


class _WakingTimers(Timers):
    """The run's timers: a timer the host adds while the worker waits (a
    deadline it moved) wakes the wait, which was computed without it."""

    __slots__ = ("_guest", "_wake")

    def __init__(self, runner: Runner, guest: weakref.ref[GuestRun]) -> None:
        super().__init__()
        self._wake = runner.io.wake
        self._guest = guest

    def add(self, deadline: float, callback: Callable[[], object]) -> Entry:
        entry = super().add(deadline, callback)
        guest = self._guest()
        if guest is not None and guest._waiting:
            self._wake()
        return entry


class GuestRun:
    """One guest run (see the module docstring); made by
    ``start_guest_run``, driven by the host through the callbacks."""

    def __init__(
        self,
        runner: Runner,
        run_sync_soon_threadsafe: Callable[[Callable[[], object]], object],
        run_sync_soon_not_threadsafe: Callable[[Callable[[], object]], object],
        done_callback: Callable[[Any], object],
    ) -> None:
        self._runner = runner
        self._soon_threadsafe = run_sync_soon_threadsafe
        self._soon = run_sync_soon_not_threadsafe
        self._done_callback = done_callback
        self._waiting = False  # the worker is in an I/O wait
        self._finished = False
        # Only the host's pending callbacks keep this object alive (the
        # runner refers to it weakly): if the host drops them, it warns.
        self._abandoned = weakref.finalize(self, _abandoned, runner)
        # a deadline the host sets while the worker waits must wake it
        assert not runner.timers, "the guest's timers are set up before any is added"
        runner.timers = _WakingTimers(runner, weakref.ref(self))

    # ---- the pieces of a tick ----

    def _enter_tick(self) -> str | None:
        previous = sniffio.thread_local.name
        sniffio.thread_local.name = library_name()
        self._runner.asyncgens.install()
        return previous

    def _leave_tick(self, previous: str | None) -> None:
        self._runner.asyncgens.uninstall()
        sniffio.thread_local.name = previous

    def _one_batch(self) -> None:
        runner = self._runner
        if runner.runq and runner.init_task in runner.tasks:
            runner.run_loop(_after_one_batch)

    def start(self) -> None:
        """Runs the startup batches (no user code runs: the main task is
        only spawned), so that the system nursery exists when
        ``start_guest_run`` returns; then queues the first tick.  Raises
        ``LowioInternalError`` if that fails (the run is closed then)."""
        runner = self._runner
        previous = self._enter_tick()
        try:
            for _batch in range(_STARTUP_BATCHES):
                if runner.system_nursery is not None:
                    break
                self._one_batch()
            else:
                raise LowioInternalError("the guest run did not start")
        except BaseException as exc:
            self._close()
            if isinstance(exc, LowioInternalError):
                raise
            raise LowioInternalError("the guest run failed to start") from exc
        finally:
            self._leave_tick(previous)
        self._soon(self._first_tick)

    def _first_tick(self) -> None:
        self._tick(0, None, 0.0, 0)

    def _tick(
        self, n: int, wait_error: BaseException | None, timeout: float | None, primed: int
    ) -> None:
        """A host callback: the events (``n``) of the last I/O wait, one
        batch, then the next wait."""
        if self._finished:
            return
        runner = self._runner
        previous = self._enter_tick()
        try:
            if wait_error is not None:
                raise wait_error
            runner.after_io_wait(n, timeout, primed)
            self._one_batch()
            if runner.init_task not in runner.tasks:
                self._finish(None)
                return
            self._next_wait()
        except BaseException as exc:
            if isinstance(exc, LowioInternalError):
                self._finish(exc)
            else:
                internal = LowioInternalError("internal error in the lowio guest run")
                internal.__cause__ = exc
                self._finish(internal)
        finally:
            self._leave_tick(previous)

    def _next_wait(self) -> None:
        runner = self._runner
        timeout, primed = runner.io_wait_timeout(runner.timers, runner.clock)
        if runner.instruments.active:
            runner.instruments.call("before_io_wait", 86400.0 if timeout is None else timeout)
        poll, events = runner.io.poll.poll, runner.io.events
        n = poll(events, 0.0)  # no need for the worker if it would not block
        if timeout == 0.0 or n:
            self._soon(lambda: self._tick(n, None, timeout, primed))
            return
        # The worker waits; the host may reschedule tasks meanwhile.
        runq = _WakingRunQueue(runner.io.wake)
        runq.extend(runner.runq)
        runner.runq = runq
        self._waiting = True

        def wait() -> int:
            return poll(events, timeout)

        def deliver(result: Any) -> None:
            def in_host() -> None:
                self._waiting = False
                plain: list[Any] = list(runner.runq)
                runner.runq = plain
                try:
                    got = result.unwrap()
                except BaseException as exc:
                    self._tick(0, exc, timeout, primed)
                else:
                    self._tick(got, None, timeout, primed)

            self._soon_threadsafe(in_host)

        start_thread_soon(wait, deliver, name="lowio guest I/O wait")

    # ---- the end ----

    def _finish(self, crash: BaseException | None) -> None:
        runner = self._runner
        outcome: Any
        if crash is not None:
            _close_tasks(runner)
            self._close()
            outcome = Error(crash)
        else:
            if runner.instruments.active:
                runner.instruments.call("after_run")
            result = self._close()
            if result is None:
                outcome = Error(LowioInternalError("the guest run ended without a result"))
            else:
                value, error = result
                if runner.ki_pending:
                    ki = KeyboardInterrupt()
                    ki.__context__ = error
                    error = ki
                outcome = Value(value) if error is None else Error(error)
        self._done_callback(outcome)

    def _close(self) -> tuple[Any, BaseException | None] | None:
        """Ends the run: closes its resources, gives the host thread its
        signal handling and sniffio back; returns the main outcome."""
        runner = self._runner
        self._finished = True
        self._abandoned.detach()
        result = runner.main_task_outcome
        runner.main_task_outcome = None
        try:
            runner.entry_queue.close()
            runner.ki.close()
            runner.signal_wakeup.uninstall()
            runner.io.close()
            runner.runq = []
            runner.run_vars.clear()
        finally:
            glob = GLOBAL_RUN_CONTEXT
            if glob.runner is runner:
                glob.runner, glob.task = None, None
        return result


def _after_one_batch() -> bool:
    return True


def start_guest_run(
    async_fn: Callable[..., Awaitable[object]],
    *args: object,
    run_sync_soon_threadsafe: Callable[[Callable[[], object]], object],
    done_callback: Callable[[Any], object],
    run_sync_soon_not_threadsafe: Callable[[Callable[[], object]], object] | None = None,
    host_uses_signal_set_wakeup_fd: bool = False,
    clock: Clock | None = None,
    instruments: Iterable[object] = (),
    restrict_keyboard_interrupt_to_checkpoints: bool = False,
    strict_exception_groups: bool = True,
) -> None:
    """Starts ``async_fn(*args)`` as a lowio run hosted by another event
    loop running in this thread (see the module docstring).  Not async;
    call it from the host loop's thread, outside any lowio run.

    ``run_sync_soon_threadsafe(fn)`` must make the host call ``fn()`` soon,
    from any thread; ``run_sync_soon_not_threadsafe`` (default: the
    former) is the same but only called from the host's thread.
    ``done_callback(outcome)`` gets the run's ``outcome.Value`` /
    ``outcome.Error`` (what ``lowio.run`` would return or raise) once it
    has ended.  ``host_uses_signal_set_wakeup_fd``: leave
    ``signal.set_wakeup_fd`` to the host (else lowio installs its own and
    warns with ``RuntimeWarning`` if another was in place).  The other
    arguments are ``lowio.run``'s.

    When it returns, the run exists (``current_token()``,
    ``spawn_system_task`` work) but no user code has run.  Raises
    ``RuntimeError`` inside another run in this thread, ``TypeError`` if
    ``async_fn`` is not an async function, ``LowioInternalError`` if the
    run cannot start (e.g. the clock's ``start_clock`` raised); every
    other error reaches ``done_callback``.  Let the run finish before
    stopping the host: an abandoned run warns when collected.
    """
    if not strict_exception_groups:
        warn_loose_groups("start_guest_run(..., strict_exception_groups=False)", stacklevel=3)
    glob = GLOBAL_RUN_CONTEXT
    if glob.runner is not None:
        raise RuntimeError("Attempted to call start_guest_run() from inside a run()")
    if isinstance(async_fn, types.CoroutineType):
        coroutine_or_error(async_fn, ())  # raises the hint
    runner = Runner(
        SystemClock() if clock is None else clock,
        instruments,
        strict_exception_groups=bool(strict_exception_groups),
        restrict_keyboard_interrupt_to_checkpoints=bool(restrict_keyboard_interrupt_to_checkpoints),
    )
    guest = GuestRun(
        runner,
        run_sync_soon_threadsafe,
        run_sync_soon_threadsafe
        if run_sync_soon_not_threadsafe is None
        else run_sync_soon_not_threadsafe,
        done_callback,
    )
    # The host's own tasks (an asyncio task a guest task creates) copy the
    # guest's context: sniffio must not find lowio there.  In the guest,
    # each tick sets sniffio's thread-local instead.
    runner.system_context.run(sniffio.current_async_library_cvar.set, None)
    glob.runner, glob.task = runner, None
    try:
        try:
            runner.clock.start_clock()
        except BaseException as exc:
            raise LowioInternalError("the clock of the guest run failed to start") from exc
        if runner.instruments.active:
            runner.instruments.call("before_run")
        runner.init_task = runner.spawn_impl(
            runner.init, (async_fn, args), None, "<init>", system_task=True
        )
        runner.ki.install(runner)
        if not host_uses_signal_set_wakeup_fd:
            if threading.current_thread() is threading.main_thread():
                existing = signal.set_wakeup_fd(-1)
                signal.set_wakeup_fd(existing)
                if existing != -1:
                    warnings.warn(RuntimeWarning(_COLLIDED), stacklevel=2)
            runner.signal_wakeup.install(runner.io)
    except BaseException:
        guest._close()
        raise
    guest.start()
