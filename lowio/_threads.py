"""Threads: ``lowio.to_thread.run_sync`` pushes a blocking call into a
worker thread; ``lowio.from_thread.run`` / ``run_sync`` /
``check_cancelled`` let that thread (or any thread holding a run's token)
call back into the run.  trio's ``trio._threads``, on lowio's kernel.

How a call travels:

* ``to_thread.run_sync`` takes a token of the limiter, hands the call to the
  thread cache, then parks its task; the worker's result comes back through
  the run's token (``run_sync_soon``), which releases the token and wakes
  the task with the outcome.
* From a worker started with ``abandon_on_cancel=False``, ``from_thread``
  calls run *in the task that waits for the worker* (it is parked anyway),
  so they see its cancel scopes: the same callback wakes that task with the
  message instead of an outcome, the task runs it and parks again.
* With ``abandon_on_cancel=True`` or an explicit ``trio_token=``, they run
  in the run's thread on their own: sync functions as a ``run_sync_soon``
  callback, async functions as a new system task.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import itertools
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import sniffio

from ._core import (
    GLOBAL_RUN_CONTEXT,
    Abort,
    ParkingLot,
    RaiseCancelT,
    RunFinishedError,
    RunToken,
    Task,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_task,
    spawn_system_task,
    wait_task_rescheduled,
)
from ._core._async_fn import coroutine_or_error
from ._core._ki import await_unprotected, call_unprotected
from ._core._library_name import library_name
from ._core._local import no_run_error
from ._core._outcome import Error, Outcome, Value, acapture, capture
from ._core._runvar import RunVar
from ._core._thread_cache import start_thread_soon
from ._core._traps import RaiseCancel
from ._sync import CapacityLimiter

if TYPE_CHECKING:
    from typing_extensions import TypeVarTuple, Unpack

    from ._core._run import Runner

    Ts = TypeVarTuple("Ts")

RetT = TypeVar("RetT")

DEFAULT_LIMIT = 40  # trio's default number of threads per run


# ---- per-run state ----


class _RunThreads:
    """One run's thread bookkeeping (in the run: ``_RUN_THREADS``)."""

    __slots__ = ("active", "idle_lot", "limiter")

    def __init__(self) -> None:
        self.limiter: CapacityLimiter | None = None
        self.active = 0  # to_thread.run_sync calls in progress
        self.idle_lot = ParkingLot()  # wait_all_threads_completed waiters


_RUN_THREADS: RunVar[_RunThreads | None] = RunVar("lowio._threads", default=None)


def _run_threads(what: str) -> _RunThreads:
    if GLOBAL_RUN_CONTEXT.runner is None:
        raise no_run_error(what)
    state = _RUN_THREADS.get()
    if state is None:
        state = _RunThreads()
        _RUN_THREADS.set(state)
    return state


def current_default_thread_limiter() -> CapacityLimiter:
    """The ``CapacityLimiter`` that ``to_thread.run_sync`` uses when given
    no ``limiter``: ``CapacityLimiter(40)``, one per run (made on first use,
    shared by the whole run).  Change its ``total_tokens`` to allow more or
    fewer threads at once.

    Not a checkpoint.  Call it in the run's thread; ``RuntimeError``
    outside a run.
    """
    state = _run_threads("current_default_thread_limiter()")
    limiter = state.limiter
    if limiter is None:
        limiter = state.limiter = CapacityLimiter(DEFAULT_LIMIT)
    return limiter


def active_thread_count() -> int:
    """How many ``to_thread.run_sync`` calls of this run have a thread
    running for them (calls still waiting for a limiter token do not
    count; abandoned calls count until they return).  Not a checkpoint;
    ``RuntimeError`` outside a run."""
    return _run_threads("active_thread_count()").active


async def wait_all_threads_completed() -> None:
    """Waits until this run has no ``to_thread.run_sync`` call in progress
    (see ``active_thread_count``).  A checkpoint.  For tests."""
    await checkpoint()
    state = _run_threads("wait_all_threads_completed()")
    while state.active:
        await state.idle_lot.park()


# ---- the worker thread's link to its task ----


class ThreadPlaceholder:
    """Stands for a worker thread as the borrower of a limiter token (shown
    in ``CapacityLimiter.statistics().borrowers``)."""

    __slots__ = ("__weakref__", "name")

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"ThreadPlaceholder(name={self.name!r})"


class _ThreadCall:
    """What a worker started by ``to_thread.run_sync`` knows of its caller.

    ``task`` is the waiting task, or None once it has abandoned the thread
    (the result is then dropped); ``raise_cancel`` is set when a
    cancellation was attempted on it (``from_thread.check_cancelled``).
    Both are written in the run's thread only.
    """

    __slots__ = ("abandon", "raise_cancel", "task", "token")

    def __init__(self, token: RunToken, abandon: bool, task: Task) -> None:
        self.token = token
        self.abandon = abandon
        self.task: Task | None = task
        self.raise_cancel: RaiseCancelT | None = None


class _ParentLink(threading.local):
    call: _ThreadCall | None = None


_PARENT = _ParentLink()
_thread_counter = itertools.count()


def _fresh_cancel(raise_cancel: RaiseCancelT) -> BaseException:
    """A new copy of the exception ``raise_cancel`` raises: the one the
    task got must not be raised again in another thread."""
    if isinstance(raise_cancel, RaiseCancel):
        return raise_cancel._make()
    try:  # pragma: no cover - lowio always passes a RaiseCancel
        raise_cancel()
    except BaseException as exc:
        return exc


def _wake_host(call: _ThreadCall, message: _RunSync[Any] | _Run[Any]) -> None:
    # In the run's thread: the host task is parked in to_thread.run_sync
    # (abandon_on_cancel=False: it cannot have left), wake it with the message.
    task = call.task
    assert task is not None, "only abandon_on_cancel=False calls route through their task"
    task._runner.reschedule(task, message)


def _not_a_coroutine(ret: RetT, fn: object, wanted: str) -> RetT:
    """``ret``, what ``fn`` returned, unless it is a coroutine: that one is
    closed (no "never awaited" warning) and ``TypeError`` raised (``wanted``
    names the sync function the message says lowio expected)."""
    if inspect.iscoroutine(ret):
        ret.close()
        raise TypeError(
            f"lowio expected a {wanted}, but "
            f"{getattr(fn, '__qualname__', fn)!r} appears to be asynchronous"
        )
    return ret


class _RunSync(Generic[RetT]):
    """``from_thread.run_sync``'s message: ``fn(*args)`` to call in the run's
    thread, in a copy of the calling thread's context."""

    __slots__ = ("args", "context", "fn", "queue")

    def __init__(self, fn: Callable[..., RetT], args: tuple[object, ...]) -> None:
        self.fn = fn
        self.args = args
        self.context = contextvars.copy_context()
        self.context.run(sniffio.current_async_library_cvar.set, library_name())
        self.queue: queue.SimpleQueue[Outcome[RetT]] = queue.SimpleQueue()

    def _call(self) -> RetT:
        # user code, run unprotected: Ctrl-C may be raised inside it, though
        # lowio's frames around it are protected
        ret: RetT = call_unprotected(self.context.run, self.fn, *self.args)
        return _not_a_coroutine(ret, self.fn, "synchronous function")

    def run_sync(self) -> None:
        self.queue.put_nowait(capture(self._call))

    def send_via_host(self, call: _ThreadCall) -> None:
        call.token.run_sync_soon(_wake_host, call, self)

    def send_alone(self, token: RunToken) -> None:
        token.run_sync_soon(self.run_sync)


class _Run(Generic[RetT]):
    """``from_thread.run``'s message: ``await afn(*args)`` in the run, in a
    copy of the calling thread's context."""

    __slots__ = ("afn", "args", "context", "queue")

    def __init__(self, afn: Callable[..., Awaitable[RetT]], args: tuple[object, ...]) -> None:
        self.afn = afn
        self.args = args
        self.context = contextvars.copy_context()
        self.context.run(sniffio.current_async_library_cvar.set, library_name())
        self.queue: queue.SimpleQueue[Outcome[RetT]] = queue.SimpleQueue()

    async def _call(self) -> RetT:
        # user code, run unprotected: Ctrl-C may be raised inside it, though
        # lowio's frames around it are protected
        return await await_unprotected(coroutine_or_error, self.afn, self.args)

    async def run_in_task(self) -> None:
        # In the host task: switch it to the message's context for the call.
        # A task's context takes effect at its next step, hence the
        # (uncancellable) schedule points around the call.
        task = current_task()
        old_context = task.context
        task.context = self.context.copy()
        await cancel_shielded_checkpoint()
        result = await acapture(self._call)
        task.context = old_context
        await cancel_shielded_checkpoint()
        self.queue.put_nowait(result)

    async def _run_system(self) -> None:
        self.queue.put_nowait(await acapture(self._call))

    def _spawn(self) -> None:
        try:
            spawn_system_task(self._run_system, name=self.afn, context=self.context)
        except RuntimeError:  # the system nursery is closed: the run is ending
            self.queue.put_nowait(Error(RunFinishedError("system nursery is closed")))

    def send_via_host(self, call: _ThreadCall) -> None:
        call.token.run_sync_soon(_wake_host, call, self)

    def send_alone(self, token: RunToken) -> None:
        token.run_sync_soon(self._spawn)


_Message = _RunSync[Any] | _Run[Any]


# ---- to_thread ----


async def to_thread_run_sync(
    sync_fn: Callable[[Unpack[Ts]], RetT],
    *args: Unpack[Ts],
    thread_name: str | None = None,
    abandon_on_cancel: bool = False,
    limiter: CapacityLimiter | None = None,
) -> RetT:
    """Runs ``sync_fn(*args)`` in a worker thread and returns its result (or
    raises its exception, with the worker's traceback), while the other
    tasks keep running.  Use ``functools.partial`` for keyword arguments.

    Call it from a task.  A checkpoint: a cancel point on entry (a
    cancelled call starts no thread), a schedule point always.

    * ``sync_fn`` runs in a copy of the caller's ``contextvars`` context
      (its changes do not come back); ``sniffio.current_async_library()``
      finds no library there.  It may call back into the run with
      ``lowio.from_thread``.  ``TypeError`` if it returns a coroutine (an
      async function was passed).
    * ``thread_name`` names the thread while it runs (``threading`` and
      the OS name, cut to 15 bytes); default ``"<fn name> from <task
      name>"``.
    * ``limiter`` (``acquire_on_behalf_of`` / ``release_on_behalf_of``,
      such as a ``CapacityLimiter``) bounds how many threads run at once;
      default ``current_default_thread_limiter()`` (40 per run).  Its token
      is taken before the thread starts and given back when the thread has
      *finished* (never, if the run ended first).  If the release raises,
      that error replaces the result (chained to the thread's error).
    * Cancellation: with ``abandon_on_cancel=False`` (the default) the call
      cannot be cancelled once the thread started: it waits for the thread
      (``from_thread.check_cancelled`` lets the thread notice).  With
      ``abandon_on_cancel=True`` it raises ``Cancelled`` at once and the
      thread keeps running in the background; its result or error is
      silently dropped.
    """
    await checkpoint_if_cancelled()
    abandon = bool(abandon_on_cancel)  # raise early if bool() does
    if limiter is None:
        limiter = current_default_thread_limiter()
    task = current_task()
    state = _run_threads("to_thread.run_sync()")
    call = _ThreadCall(task._runner.token, abandon, task)
    placeholder = ThreadPlaceholder(f"lowio.to_thread.run_sync-{next(_thread_counter)}")
    if thread_name is None:
        thread_name = f"{getattr(sync_fn, '__name__', None)} from {task.name}"
    await limiter.acquire_on_behalf_of(placeholder)
    state.active += 1
    try:
        _start_worker(task._runner, call, limiter, placeholder, sync_fn, args, thread_name)
        result: RetT = await _wait_for_worker(call)
        return result
    finally:
        state.active -= 1
        if not state.active:
            state.idle_lot.unpark_all()


def _start_worker(
    runner: Runner,
    call: _ThreadCall,
    limiter: CapacityLimiter,
    placeholder: ThreadPlaceholder,
    sync_fn: Callable[..., RetT],
    args: tuple[Any, ...],
    thread_name: str,
) -> None:
    """Hands ``sync_fn(*args)`` to a cached worker thread.  When it is done,
    its outcome travels back through the run's token: in the run's thread
    the limiter token is released, then the waiting task (unless it
    abandoned the call) is woken with the outcome.  If the thread cannot be
    started, the token is released here and the error raised."""
    token = call.token
    context = contextvars.copy_context()
    # sniffio finds no library in the worker (its thread_local is unset
    # there; the context must not say "lowio" either)
    context.run(sniffio.current_async_library_cvar.set, None)

    def work() -> RetT:  # in the worker
        _PARENT.call = call
        try:
            return _not_a_coroutine(context.run(sync_fn, *args), sync_fn, "sync function")
        finally:
            _PARENT.call = None

    def report(result: Outcome[RetT]) -> None:  # in the run's thread
        try:
            limiter.release_on_behalf_of(placeholder)
        except BaseException as exc:
            if isinstance(result, Error) and exc.__context__ is None:
                exc.__context__ = result.error
            result = Error(exc)
        if call.task is not None:
            runner.reschedule(call.task, result)

    def send_back(result: Outcome[RetT]) -> None:  # in the worker
        # If the run is over, the task abandoned the thread long ago:
        # nobody wants the result.
        with contextlib.suppress(RunFinishedError):
            token.run_sync_soon(report, result)

    try:
        start_thread_soon(work, send_back, thread_name)
    except BaseException:
        limiter.release_on_behalf_of(placeholder)
        raise


async def _wait_for_worker(call: _ThreadCall) -> Any:
    """Parks the calling task until the worker's outcome arrives, and
    returns (or raises) it.  Meanwhile the worker's ``from_thread`` calls
    arrive as messages and run here, in this task.  A cancellation is
    recorded for ``from_thread.check_cancelled``; it ends the wait only if
    the call may abandon its thread."""

    def abort(raise_cancel: RaiseCancelT) -> Abort:
        call.raise_cancel = raise_cancel
        if call.abandon:
            call.task = None  # the outcome will not wake us
            return Abort.SUCCEEDED
        return Abort.FAILED

    while True:
        msg = await wait_task_rescheduled(abort)
        if type(msg) is Value:
            return msg.value
        if type(msg) is Error:
            error = msg.error
            del msg
            try:
                raise error
            finally:
                del error
        if isinstance(msg, _Run):
            await msg.run_in_task()
        elif isinstance(msg, _RunSync):
            msg.run_sync()
        else:  # pragma: no cover - internal guard
            raise TypeError(f"to_thread.run_sync got an unknown message {msg!r}")
        del msg


# ---- from_thread ----


def from_thread_check_cancelled() -> None:
    """Raises ``Cancelled`` if a cancellation was attempted on the task
    waiting in the ``to_thread.run_sync`` that started this thread (with
    either ``abandon_on_cancel``): a worker can poll it to stop early.

    Call it from a worker thread of ``to_thread.run_sync``; it never blocks.
    As trio's, it reports any cancellation seen since the call started,
    even if a shield later hid it.

    Raises:
      Cancelled: as described (``KeyboardInterrupt`` if that is what was
        delivered).
      RuntimeError: if this thread was not started by
        ``to_thread.run_sync`` (including the run's own thread).
    """
    call = _PARENT.call
    if call is None:
        raise RuntimeError("this thread wasn't created by lowio, can't check for cancellation")
    raise_cancel = call.raise_cancel
    if raise_cancel is not None:
        raise _fresh_cancel(raise_cancel)


def _send_message(trio_token: RunToken | None, message: _Message) -> Any:
    call: _ThreadCall | None = None
    if trio_token is None:
        call = _PARENT.call
        if call is None:
            raise RuntimeError("this thread wasn't created by lowio, pass kwarg trio_token=...")
        token = call.token
    elif isinstance(trio_token, RunToken):
        token = trio_token
    else:
        raise RuntimeError("Passed kwarg trio_token is not of type RunToken (TrioToken)")
    if GLOBAL_RUN_CONTEXT.runner is not None:  # waiting here would deadlock the run
        raise RuntimeError("this is a blocking function; call it from a thread")
    if call is None or call.abandon:
        message.send_alone(token)
    else:
        message.send_via_host(call)
    return message.queue.get().unwrap()


def from_thread_run(
    afn: Callable[[Unpack[Ts]], Awaitable[RetT]],
    *args: Unpack[Ts],
    trio_token: RunToken | None = None,
) -> RetT:
    """Runs ``await afn(*args)`` in the run and blocks this thread until it
    is done; returns or raises what it does.

    Call it from another thread: a worker of ``to_thread.run_sync``, or any
    thread given ``trio_token=lowio.lowlevel.current_token()`` (trio's
    keyword).  ``afn`` runs in a copy of this thread's context.

    * From a worker of ``to_thread.run_sync(..., abandon_on_cancel=False)``
      (no ``trio_token``), ``afn`` runs inside the task waiting for the
      worker, under its cancel scopes: if that task is cancelled, ``afn``
      sees ``Cancelled`` at its checkpoints (and it reaches this thread).
    * Otherwise it runs as a new system task; if the run ends meanwhile it
      is cancelled.

    Raises:
      RunFinishedError: if the run has finished, or is too far into its
        shutdown to start a system task.
      RuntimeError: if called in a run's thread (it would deadlock), or
        with no ``trio_token`` from a thread ``to_thread.run_sync`` did not
        start, or with a ``trio_token`` that is not a token.
      TypeError: if ``afn`` is not an async function.
    """
    return _send_message(trio_token, _Run(afn, args))  # type: ignore[no-any-return]


def from_thread_run_sync(
    fn: Callable[[Unpack[Ts]], RetT],
    *args: Unpack[Ts],
    trio_token: RunToken | None = None,
) -> RetT:
    """Calls ``fn(*args)`` in the run's thread and blocks this thread until
    it returns; returns or raises what it does.

    Call it from another thread, as ``from_thread.run`` (same routing: in
    the waiting task for an ``abandon_on_cancel=False`` worker, else as a
    ``run_sync_soon`` callback).  ``fn`` runs in a copy of this thread's
    context.  A sync function is never interrupted by ``Cancelled``.

    Raises:
      RunFinishedError: if the run has finished.
      RuntimeError: as ``from_thread.run``.
      TypeError: if ``fn`` is an async function.
    """
    return _send_message(trio_token, _RunSync(fn, args))  # type: ignore[no-any-return]
