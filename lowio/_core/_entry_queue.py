"""``run_sync_soon``: how other threads (and signal handlers) hand work to a
run.  Callbacks queue here and the loop's ``Waker`` wakes it."""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from ._exceptions import LowioInternalError, NoPublicConstructor, RunFinishedError, final
from ._local import GLOBAL_RUN_CONTEXT

if TYPE_CHECKING:
    from ._run import Runner


class EntryQueue:
    __slots__ = ("_idempotent", "_lock", "_queue", "_wake", "done")

    def __init__(self, wake: Callable[[], None]) -> None:
        self._queue: collections.deque[tuple[Callable[..., object], tuple[Any, ...]]] = (
            collections.deque()
        )
        self._idempotent: dict[tuple[Callable[..., object], tuple[Any, ...]], None] = {}
        # Reentrant: a signal handler (``open_signal_receiver``)
        # calls run_sync_soon in the main thread, possibly while that thread
        # holds the lock in run_pending; a plain Lock would deadlock there.
        self._lock = threading.RLock()
        self._wake = wake
        self.done = False

    def __len__(self) -> int:
        return len(self._queue) + len(self._idempotent)

    def __bool__(self) -> bool:
        return bool(self._queue) or bool(self._idempotent)

    def run_sync_soon(
        self, sync_fn: Callable[..., object], *args: object, idempotent: bool = False
    ) -> None:
        with self._lock:
            if self.done:
                raise RunFinishedError("run() has exited")
            if idempotent:
                self._idempotent[(sync_fn, args)] = None
            else:
                self._queue.append((sync_fn, args))
            self._wake()

    def run_pending(self) -> None:
        """Runs what is queued now (in the run's thread).  A callback that
        raises crashes the run (``LowioInternalError``, the error as its cause); later callbacks
        still run."""
        queue = self._queue
        for _ in range(len(queue)):
            sync_fn, args = queue.popleft()
            self._call(sync_fn, args)
        if self._idempotent:
            with self._lock:
                # swap, not copy-and-clear: a signal handler may add an entry
                # between two statements here (the RLock lets it in)
                batch = self._idempotent
                self._idempotent = {}
            for sync_fn, args in batch:
                self._call(sync_fn, args)

    @staticmethod
    def _call(sync_fn: Callable[..., object], args: tuple[Any, ...]) -> None:
        try:
            sync_fn(*args)
        except BaseException as exc:
            # As in trio: the error is raised in a new system task, which
            # crashes the run (LowioInternalError) after cancelling every
            # task, while the other queued callbacks still run.
            # After the system nursery has closed (a callback queued by an
            # async generator's finalizer, say) the task goes to the init
            # task's outer nursery, which outlives the system nursery.
            runner = GLOBAL_RUN_CONTEXT.runner
            if runner is not None:
                for nursery in (runner.system_nursery, runner.outer_nursery):
                    if nursery is None or nursery._closed:
                        continue
                    with contextlib.suppress(RuntimeError):
                        runner.spawn_impl(
                            _reraise, (exc,), nursery, "<run_sync_soon crash>", system_task=True
                        )
                        return
            raise LowioInternalError(
                f"run_sync_soon callback {sync_fn!r} raised an exception"
            ) from exc

    def close(self) -> None:
        with self._lock:
            self.done = True


async def _reraise(exc: BaseException) -> NoReturn:
    raise exc


@final
class RunToken(metaclass=NoPublicConstructor):
    """A handle on a run, for other threads (``lowio.lowlevel.current_token()``).

    Hashable and weak-referenceable; one per run.
    """

    __slots__ = ("__weakref__", "_queue")

    def __init__(self, queue: EntryQueue) -> None:
        self._queue = queue

    def run_sync_soon(
        self, sync_fn: Callable[..., object], *args: object, idempotent: bool = False
    ) -> None:
        """Schedules ``sync_fn(*args)`` to run in the run's thread soon, and
        wakes the loop.  Any thread (or a signal handler) may call it.
        ``RunFinishedError`` once the run has ended.  With ``idempotent``,
        a pending identical call is not queued twice.  Calls run in order;
        one that raises crashes the run."""
        self._queue.run_sync_soon(sync_fn, *args, idempotent=idempotent)

    def __repr__(self) -> str:
        return f"<lowio run token at {id(self):#x}>"


def new_token(runner: Runner) -> RunToken:
    return RunToken._create(runner.entry_queue)
