"""The run loop: the scheduler and spawning (the accessors, ``current_task``
and the like, are in ``_current``); ``lowio.run`` and ``SteppedRun``, in
``_driver``, drive it.

The scheduler steps tasks in batches, in no promised order (wake-up order,
or backwards for half of the batches of two or more tasks: see
``_schedule_order``).  A task yields either
``CHECKPOINT`` (reschedule at once) or a ``Park`` (park until
``reschedule``); see ``_traps``.  While tasks are runnable the poller is
asked (with a zero timeout) and timers are expired only every
``POLL_EVERY`` task steps, or as soon as ``run_sync_soon`` callbacks are
queued, so a checkpoint does not cost an ``epoll_wait``, yet I/O, callbacks
and deadlines are never starved.
"""

from __future__ import annotations

import contextvars
import heapq
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import sniffio

from ..poll import WAIT_SLOW
from ._async_fn import coroutine_or_error
from ._asyncgens import AsyncGenerators
from ._cancel import MISNESTING_ADVICE, CancelReason, CancelScope, install_c_methods
from ._cancel_status import CancelStatus
from ._clock import Clock, SystemClock
from ._detach import Detach
from ._entry_queue import EntryQueue, RunToken, new_token
from ._exceptions import LowioInternalError
from ._instruments import Instruments
from ._io import IOManager, IOStatistics
from ._io_core import dispatch
from ._ki import KIManager
from ._local import GLOBAL_RUN_CONTEXT
from ._mock_clock import MockClock
from ._nursery import Nursery, open_nursery
from ._parking_lot import ParkingLot
from ._schedule_order import SCHEDULING_RNG
from ._step_core import RAISED, RETURNED, YIELDED, step
from ._step_core import configure as _configure_steps
from ._task import Task
from ._timers import Timers
from ._traps import CHECKPOINT, Park, ParkRaisingHere, RaiseHere
from ._wakeup_fd import SignalWakeup

T = TypeVar("T")

POLL_EVERY = 64  # task steps between two non-blocking polls while busy
MAX_SLEEP = 86400.0
_new: Callable[..., Task] = type.__call__  # Task(...) without the NoPublicConstructor check
_FOREIGN_YIELD = (
    "lowio.run received unrecognized yield message {!r}. Are you trying to use a "
    "library written for some other framework like asyncio? That won't work "
    "without some kind of compatibility shim."
)
_configure_steps(Task, CancelStatus, Park, CHECKPOINT)
install_c_methods(Task)


class RunStatistics:
    """``current_statistics()``: ``tasks_living``, ``tasks_runnable``,
    ``seconds_to_next_deadline``, ``io_statistics``,
    ``run_sync_soon_queue_size``."""

    __slots__ = (
        "io_statistics",
        "run_sync_soon_queue_size",
        "seconds_to_next_deadline",
        "tasks_living",
        "tasks_runnable",
    )

    def __init__(
        self,
        tasks_living: int,
        tasks_runnable: int,
        seconds_to_next_deadline: float,
        io_statistics: IOStatistics,
        run_sync_soon_queue_size: int,
    ) -> None:
        self.tasks_living = tasks_living
        self.tasks_runnable = tasks_runnable
        self.seconds_to_next_deadline = seconds_to_next_deadline
        self.io_statistics = io_statistics
        self.run_sync_soon_queue_size = run_sync_soon_queue_size

    def __repr__(self) -> str:
        return (
            f"RunStatistics(tasks_living={self.tasks_living}, "
            f"tasks_runnable={self.tasks_runnable}, "
            f"seconds_to_next_deadline={self.seconds_to_next_deadline}, "
            f"io_statistics={self.io_statistics!r}, "
            f"run_sync_soon_queue_size={self.run_sync_soon_queue_size})"
        )


class Runner:
    """The state of one ``lowio.run``."""

    def __init__(
        self,
        clock: Clock,
        instruments: Iterable[object],
        *,
        strict_exception_groups: bool = True,
        restrict_keyboard_interrupt_to_checkpoints: bool = False,
    ) -> None:
        self.clock = clock
        # the default of ``open_nursery(strict_exception_groups=None)``
        self.strict_exception_groups = strict_exception_groups
        # Ctrl-C waits for a checkpoint even in unprotected code
        self.restrict_ki_to_checkpoints = restrict_keyboard_interrupt_to_checkpoints
        self.pid = os.getpid()  # a forked child cannot use this run
        self.instruments = Instruments(instruments)
        self.runq: list[Task] = []
        self.tasks: set[Task] = set()
        self.init_task: Task | None = None
        self.main_task: Task | None = None
        self.main_task_outcome: tuple[Any, BaseException | None] | None = None
        self.system_nursery: Nursery | None = None
        # the init task's outermost nursery: where a run_sync_soon callback's
        # error goes once the system nursery has closed
        self.outer_nursery: Nursery | None = None
        self.ki_pending = False
        self.ki_offered = False  # the parked main task's abort was tried
        self.waiting_for_idle: list[tuple[float, int, Task]] = []
        self._idle_seq = 0
        self.timers = Timers()
        self.io = IOManager(self)
        self.entry_queue = EntryQueue(self.io.wake)
        self._poll = self.io.poll.poll
        self._events = self.io.events
        self._process_events = self.io._process
        # the loop's two usual waits, as C calls (docs/design.md §3.8)
        self._waits = self.io.poll.prepared_waits(self.io.events)
        self.token: RunToken = new_token(self)
        self.asyncgens = AsyncGenerators(self)
        self.ki = KIManager()
        self.signal_wakeup = SignalWakeup()
        self.system_context = contextvars.copy_context()
        self.system_context.run(sniffio.current_async_library_cvar.set, "lowio")
        self._done = False
        # lots each task breaks when it exits (``add_parking_lot_breaker``)
        self.lot_breakers: dict[Task, list[ParkingLot]] = {}
        self.run_vars: dict[Any, Any] = {}  # RunVar -> this run's value (``_runvar``)

    # ---- scheduling ----

    def reschedule(self, task: Task, value: Any = None) -> None:
        """Makes a parked task runnable; its trap returns ``value``."""
        task._abort = None
        task.custom_sleep_data = None  # it belongs to the finished wait
        task._fn = task._send
        task._arg = value
        self.runq.append(task)
        if self.instruments.active:
            self.instruments.call("task_scheduled", task)

    def reschedule_raise(self, task: Task, exc: BaseException) -> None:
        """Makes a parked task runnable; its trap raises ``exc``."""
        if type(task._abort) is ParkRaisingHere:
            task._fn = task._send  # the trap raises it in its own frame
            task._arg = RaiseHere(exc)
        else:
            task._fn = task._throw
            task._arg = exc
        task._abort = None
        task.custom_sleep_data = None
        self.runq.append(task)
        if self.instruments.active:
            self.instruments.call("task_scheduled", task)

    def spawn_impl(
        self,
        async_fn: Callable[..., Awaitable[object]],
        args: tuple[Any, ...],
        nursery: Nursery | None,
        name: object,
        *,
        system_task: bool = False,
        context: contextvars.Context | None = None,
    ) -> Task:
        if nursery is not None and nursery._closed:
            raise RuntimeError("Nursery is closed to new arrivals")
        if context is None:
            context = self.system_context.copy() if system_task else contextvars.copy_context()
        coro = context.run(coroutine_or_error, async_fn, args)
        task = _new(Task, coro, self, async_fn if name is None else name, nursery, context)
        if system_task:
            task._ki_protected = True  # system tasks: Ctrl-C goes to the main task
        self.tasks.add(task)
        if nursery is not None:
            nursery._children.add(task)
            task._activate_cancel_status(nursery._cancel_status)
        if self.instruments.active:
            self.instruments.call("task_spawned", task)
        task._arg = None
        self.runq.append(task)
        if self.instruments.active:
            self.instruments.call("task_scheduled", task)
        return task

    def spawn_system_task_impl(
        self,
        async_fn: Callable[..., Awaitable[object]],
        args: tuple[Any, ...],
        name: object = None,
        context: contextvars.Context | None = None,
    ) -> Task:
        if self.system_nursery is None:
            raise RuntimeError("the run has no system nursery (it is starting or ending)")
        return self.spawn_impl(
            async_fn, args, self.system_nursery, name, system_task=True, context=context
        )

    def task_exited(self, task: Task, value: Any, error: BaseException | None) -> None:
        nurseries = task._child_nurseries  # still open: the task misnested them
        for open_nursery_ in nurseries:
            # cancel and close them, so that their children unwind
            open_nursery_.cancel_scope._cancel(
                CancelReason(
                    "nursery",
                    "Parent Task exited prematurely, abandoning this nursery "
                    "without exiting it properly.",
                    repr(task),
                )
            )
            open_nursery_._closed = True
        if self.lot_breakers:
            # a task that exits holding e.g. a Lock breaks its lot
            for lot in self.lot_breakers.pop(task, ()):
                lot.break_lot(task)
        status = task._cancel_status
        if (
            status is not None and status.abandoned_by_misnesting and status.parent is None
        ) or nurseries:
            what = "Nursery" if nurseries else "Cancel scope"
            new_exc = RuntimeError(
                f"{what} stack corrupted: {what} surrounding "
                f"{task!r} was closed before the task exited\n{MISNESTING_ADVICE}"
            )
            new_exc.__context__ = error
            error = new_exc
        task._activate_cancel_status(None)
        task._arg = None  # drops an exception (and its traceback) thrown in last
        self.tasks.discard(task)
        if task is self.main_task:
            self.main_task_outcome = (value, error)
            error = None
        if task is self.init_task:
            if error is not None:
                raise LowioInternalError("the run's init task crashed") from error
        else:
            nursery = task._parent_nursery
            assert nursery is not None
            nursery._child_finished(task, error)
        if self.instruments.active:
            self.instruments.call("task_exited", task)

    # ---- the init task ----

    async def init(self, async_fn: Callable[..., Awaitable[object]], args: tuple[Any, ...]) -> None:
        # The outer nursery stands where trio runs its run_sync_soon task: an
        # error of a system task reaches LowioInternalError as its __cause__
        # (the system nursery's group inside this one's).
        async with open_nursery() as self.outer_nursery:
            async with open_nursery() as system_nursery:
                self.system_nursery = system_nursery
                async with open_nursery() as main_nursery:
                    try:
                        self.main_task = self.spawn_impl(async_fn, args, main_nursery, None)
                    except BaseException as exc:
                        self.main_task_outcome = (None, exc)
                        return
                system_nursery.cancel_scope.cancel()
            self.system_nursery = None
            with CancelScope():
                await self.asyncgens.finalize_remaining()
            # No user code is left but run_sync_soon callbacks: stop taking them
            # and run those already queued .
            self.entry_queue.close()
            self.entry_queue.run_pending()

    # ---- the loop ----

    def run_loop(self, until: Callable[[], bool] | None = None) -> None:
        """Steps tasks until the run ends, or until ``until()`` is true after
        a batch (a host driving the run in pieces; see ``_driver``)."""
        # The scheduler loop inlines (repeats) code from elsewhere on purpose,
        # for speed: it is the hottest code in lowio; do not fold it.
        # This thread's slots of GLOBAL_RUN_CONTEXT (per thread): a store
        # into that dict is cheaper than setting the attribute.
        here = GLOBAL_RUN_CONTEXT.__dict__
        timers = self.timers
        clock = self.clock
        instruments = self.instruments
        entry_queue = self.entry_queue
        steps = 0
        init_task = self.init_task
        tasks = self.tasks
        heap = timers._heap
        current_time = clock.current_time
        # The deadline check before each batch reads the clock: the system
        # clock's reading (perf_counter() plus its offset, the sum its
        # current_time() returns) is taken here without the method's call;
        # any other clock (a SystemClock subclass too) is asked, plus 0.
        if type(clock) is SystemClock:
            read_clock: Callable[[], float] = time.perf_counter
            clock_offset: float = clock._offset
        else:
            read_clock, clock_offset = current_time, 0
        poll = self._poll
        events = self._events
        process_events = self._process_events
        wait_forever, wait_now, raw = self._waits
        complete_wait = self.io.poll.complete_wait
        slots = self.io._slots  # the readiness cache's slots, for dispatch
        signal_wakeup = self.signal_wakeup
        coin = SCHEDULING_RNG.getrandbits
        while init_task in tasks:
            if (
                not self.runq
                or steps >= POLL_EVERY
                # run_sync_soon callbacks already queued run before the next batch
                or entry_queue._queue
                or entry_queue._idempotent
            ):
                steps = 0
                # The I/O wait (a guest run's tick does it in pieces: it
                # calls io_wait_timeout and after_io_wait).  Their usual
                # cases are inlined here; they run only when there is
                # something more for them to do.
                if self.runq:
                    timeout: float | None = 0.0
                    idle_primed = 0
                elif not heap and not self.waiting_for_idle:
                    timeout = None
                    idle_primed = 0
                else:
                    timeout, idle_primed = self.io_wait_timeout(timers, clock)
                if instruments.active:
                    instruments.call("before_io_wait", MAX_SLEEP if timeout is None else timeout)
                # poll(events, timeout) and io._process(events.packed()),
                # their usual cases inlined as C calls
                if timeout is None:
                    n = wait_forever()
                elif timeout == 0:
                    n = wait_now()
                else:
                    n = poll(events, timeout)
                if n & WAIT_SLOW:
                    n = complete_wait(events, n, timeout)
                if n:
                    if instruments.active:
                        process_events(raw[:n])
                    else:
                        dispatch(raw, slots, self.runq, n)
                    wakeup = signal_wakeup.state
                    if wakeup is not None and wakeup.read_ready:
                        signal_wakeup.drain()
                if (
                    instruments.active
                    or entry_queue._queue
                    or entry_queue._idempotent
                    or self.ki_pending
                    or heap
                    or idle_primed
                ):
                    self.after_events(n, timeout, idle_primed)
            elif heap and heap[0][0] <= read_clock() + clock_offset:
                # deadlines are checked before every batch: a
                # checkpoint right after a deadline passed raises Cancelled
                timers.expire(current_time())
            batch = self.runq
            runq: list[Task] = []
            self.runq = runq
            append = runq.append
            size = len(batch)
            steps += size
            if size > 1 and coin(1):
                # no order within a batch is promised: run it backwards half
                # the time, so nothing comes to rely on one (_schedule_order)
                batch.reverse()
            if instruments.active:
                for task in batch:
                    self._step_in_python(task, here, append, True)
            else:
                # the usual steps in C (_step_core.c); it hands back each
                # step with another outcome, untouched, to be done here
                index = 0
                while (unusual := step(batch, index, here, runq)) is not None:
                    index, outcome, value = unusual
                    task = batch[index]
                    index += 1
                    if outcome == YIELDED:
                        self._after_yield(task, value, append, False)
                    elif outcome == RETURNED:
                        self.task_exited(task, value, None)
                    elif outcome == RAISED:
                        self.task_exited(task, None, value)
                    else:
                        self._step_in_python(task, here, append, False)
                    del unusual, value, task  # nothing of a step outlives it here
            here["task"] = None
            if until is not None and until():
                return

    def _step_in_python(
        self, task: Task, here: dict[str, Any], append: Callable[[Task], None], hooks: bool
    ) -> None:
        """One step of ``task`` in Python: the loop's way with instruments
        (``hooks``: it calls the task hooks), and for what ``step`` leaves
        to it."""
        here["task"] = task
        if hooks:
            self.instruments.call("before_task_step", task)
        try:
            msg = task.context.run(task._fn, task._arg)
        except StopIteration as stop:
            # task_exited, then after_task_step, with the task still current
            self.task_exited(task, stop.value, None)
        except BaseException as exc:
            tb = exc.__traceback__
            if tb is not None:
                exc.__traceback__ = tb.tb_next  # drop this frame
            del tb
            self.task_exited(task, None, exc)
            del exc
        else:
            self._after_yield(task, msg, append, hooks)
            del msg
        if hooks:
            self.instruments.call("after_task_step", task)

    def _after_yield(
        self, task: Task, msg: Any, append: Callable[[Task], None], hooks: bool
    ) -> None:
        """What the loop does with the message ``task``'s step yielded
        (``step`` does the usual two in C: a schedule point, a park with
        nothing pending)."""
        task._schedule_points += 1
        if msg is CHECKPOINT:
            task._fn = task._send
            task._arg = task
            task.custom_sleep_data = None  # cleared at every checkpoint
            append(task)
            if hooks:
                self.instruments.call("task_scheduled", task)
        elif type(msg) is Park or type(msg) is ParkRaisingHere:
            # a ParkRaisingHere is callable: it calls its abort
            abort: Any = msg.abort if type(msg) is Park else msg
            task._abort = abort
            task._cancel_points += 1
            # a pending Ctrl-C goes before a cancellation
            if task._ki_pending:
                task._attempt_delivery_of_pending_ki()
            elif task._cancel_status.effectively_cancelled:
                task._attempt_delivery_of_any_pending_cancel()
        elif type(msg) is Detach:
            # the coroutine stays suspended for another runner
            self.task_exited(task, *msg.result())
        else:
            task._abort = msg
            self.reschedule_raise(task, TypeError(_FOREIGN_YIELD.format(msg)))

    def io_wait_timeout(self, timers: Any, clock: Clock) -> tuple[float | None, int]:
        """How long the next I/O wait may block (None: until woken) and
        what it is primed for when it times out (0: nothing, 1: the tasks
        of ``wait_all_tasks_blocked``, 2: the mock clock's autojump)."""
        idle_primed = 0
        timeout: float | None
        if self.runq:
            timeout = 0.0
        elif not timers._heap and not self.waiting_for_idle:
            timeout = None  # nothing but I/O or a wake-up can happen
        else:
            timeout = clock.deadline_to_sleep_time(timers.next_deadline())
            if self.waiting_for_idle:
                cushion = self.waiting_for_idle[0][0]
                if cushion < timeout:
                    timeout = cushion
                    idle_primed = 1
            elif isinstance(clock, MockClock) and clock.autojump_threshold < timeout:
                timeout = clock.autojump_threshold
                idle_primed = 2
            timeout = min(max(0.0, timeout), MAX_SLEEP)
        return timeout, idle_primed

    def after_io_wait(self, n: int, timeout: float | None, idle_primed: int) -> None:
        """After an I/O wait that found ``n`` events (in ``self._events``):
        hands them out, runs the ``run_sync_soon`` callbacks, delivers
        Ctrl-C, expires timers, and wakes idle waiters or autojumps if the
        wait timed out as primed."""
        if n:
            self._process_events(self._events.packed())
            wakeup = self.signal_wakeup.state
            if wakeup is not None and wakeup.read_ready:
                self.signal_wakeup.drain()  # a signal woke the loop
        self.after_events(n, timeout, idle_primed)

    def after_events(self, n: int, timeout: float | None, idle_primed: int) -> None:
        """The part of ``after_io_wait`` after the events are handed out."""
        timers = self.timers
        clock = self.clock
        entry_queue = self.entry_queue
        if self.instruments.active:
            self.instruments.call("after_io_wait", MAX_SLEEP if timeout is None else timeout)
        if entry_queue._queue or entry_queue._idempotent:
            glob = GLOBAL_RUN_CONTEXT
            glob.task = self.init_task
            try:
                # in the run's context (sniffio
                # says "lowio" in the callbacks)
                self.system_context.run(entry_queue.run_pending)
            finally:
                glob.task = None
        if self.ki_pending:
            self._deliver_ki()
        if timers._heap and timers.expire(clock.current_time()):
            idle_primed = 0
        if idle_primed and not self.runq and n == 0:
            if idle_primed == 1:
                waiting = self.waiting_for_idle
                cushion = waiting[0][0]
                while waiting and waiting[0][0] == cushion:
                    self.reschedule(heapq.heappop(waiting)[2])
            else:
                assert isinstance(clock, MockClock)
                clock._autojump(timers.next_deadline())

    def _deliver_ki(self) -> None:
        main = self.main_task
        if main is None or main not in self.tasks:
            return  # raised out of run() at the end
        main._ki_pending = True  # its next checkpoint raises it
        if self.ki_offered:
            return  # its abort was tried already: it waits for that checkpoint
        self.ki_offered = True
        main._attempt_delivery_of_pending_ki()

    # ---- statistics ----

    def statistics(self) -> RunStatistics:
        seconds = self.timers.next_deadline() - self.clock.current_time()
        return RunStatistics(
            tasks_living=len(self.tasks),
            tasks_runnable=len(self.runq),
            seconds_to_next_deadline=seconds,
            io_statistics=self.io.statistics(),
            run_sync_soon_queue_size=len(self.entry_queue),
        )
