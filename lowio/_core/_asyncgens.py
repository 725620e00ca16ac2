"""Async-generator finalization: generators first iterated in a run's tasks
are closed (``aclose()``) inside the run when they are collected, and any
still alive when the main task ends are closed before ``run`` returns."""

from __future__ import annotations

import logging
import sys
import warnings
import weakref
from functools import partial
from types import AsyncGeneratorType
from typing import TYPE_CHECKING, Any

from ._cancel import CancelScope
from ._exceptions import RunFinishedError
from ._ki import call_unprotected
from ._local import GLOBAL_RUN_CONTEXT
from ._traps import Abort, wait_task_rescheduled

if TYPE_CHECKING:
    from ._run import Runner

LOGGER = logging.getLogger("lowio.async_generator_errors")
_NO_ASYNC_WORK = "disallow async work when closing async generators during lowio shutdown"


def _name(agen: Any) -> str:
    return str(getattr(agen, "__qualname__", None) or repr(agen))


def _close_without_hooks(agen: AsyncGeneratorType[Any, Any]) -> None:
    """What CPython does to a collected async generator when no finalizer
    hook is installed (ours replaces that): closes it synchronously.  A
    generator that yields again raises ``RuntimeError`` ("ignored
    GeneratorExit"); one that awaits raises a clearer ``RuntimeError``.
    Both end up printed as unraisable exceptions."""
    closer = agen.aclose()
    try:
        call_unprotected(closer.send, None)
    except StopIteration:
        return
    closer.close()
    raise RuntimeError(
        f"Non-lowio async generator {_name(agen)!r} awaited something during "
        "finalization; install a finalization hook to support this, or wrap it "
        "in 'async with aclosing(...):'"
    )


class AsyncGenerators:
    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self.alive: (
            weakref.WeakSet[AsyncGeneratorType[Any, Any]] | set[AsyncGeneratorType[Any, Any]]
        ) = weakref.WeakSet()
        # Generators first iterated outside the run's tasks belong to whoever
        # iterated them (the hooks installed before ours).  CPython clears a
        # generator's weak references before it calls the finalizer hook, so
        # the finalizer cannot look a generator up weakly: ``_foreign`` maps
        # the id of each live foreign generator to a weak reference whose
        # callback moves the id to ``_foreign_dying`` as it dies; the
        # finalizer, called right after (same deallocation or the same gc
        # pass), finds it there.  An id is reused only after its generator
        # died, and every generator we finalize passed our ``firstiter``
        # first, which clears its id from both: a recycled id is never
        # mistaken for a foreign generator.  The ids of foreign generators
        # that died exhausted (no finalizer call follows) are dropped from
        # the run's loop, where no gc pass is half-way through.
        self._foreign: dict[int, weakref.ref[AsyncGeneratorType[Any, Any]]] = {}
        self._foreign_dying: set[int] = set()
        self._forget_scheduled = False
        self._trailing: list[AsyncGeneratorType[Any, Any]] = []
        self._prev: Any = None

    def install(self) -> None:
        self._prev = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(firstiter=self._firstiter, finalizer=self._finalizer)  # type: ignore[arg-type]

    def uninstall(self) -> None:
        if self._prev is not None:
            sys.set_asyncgen_hooks(*self._prev)
            self._prev = None

    def _firstiter(self, agen: AsyncGeneratorType[Any, Any]) -> None:
        key = id(agen)
        self._foreign.pop(key, None)
        self._foreign_dying.discard(key)
        if GLOBAL_RUN_CONTEXT.task is not None:
            self.alive.add(agen)
            return
        self._foreign[key] = weakref.ref(agen, partial(self._foreign_died, key))
        if self._prev is not None and self._prev.firstiter is not None:
            self._prev.firstiter(agen)

    def _foreign_died(self, key: int, _: object) -> None:
        self._foreign.pop(key, None)
        self._foreign_dying.add(key)
        if not self._forget_scheduled:
            try:
                self._runner.entry_queue.run_sync_soon(self._forget_dying)
            except RunFinishedError:
                return  # the hooks are gone with the run; nothing is left to mix up
            self._forget_scheduled = True

    def _forget_dying(self) -> None:
        self._forget_scheduled = False
        self._foreign_dying.clear()

    def _finalizer(self, agen: AsyncGeneratorType[Any, Any]) -> None:
        key = id(agen)
        if key in self._foreign_dying:
            self._foreign_dying.discard(key)
            if self._prev is not None and self._prev.finalizer is not None:
                self._prev.finalizer(agen)
            else:
                _close_without_hooks(agen)
            return
        name = _name(agen)
        try:
            self._runner.entry_queue.run_sync_soon(self._finalize_in_run, agen)
        except RunFinishedError:
            return  # the run is over: nothing can close it there any more
        warnings.warn(
            f"Async generator {name!r} was garbage collected before it had been "
            "exhausted. Surround its use in 'async with aclosing(...):' to ensure "
            "that it gets cleaned up as soon as you're done using it.",
            ResourceWarning,
            stacklevel=2,
            source=agen,
        )

    def _finalize_in_run(self, agen: AsyncGeneratorType[Any, Any]) -> None:
        try:
            self._runner.spawn_system_task_impl(
                self.aclose, (agen,), name=f"close asyncgen {_name(agen)} (abandoned)"
            )
        except RuntimeError:
            self._trailing.append(agen)  # the system nursery has closed

    @staticmethod
    async def aclose(agen: AsyncGeneratorType[Any, Any]) -> None:
        """Closes ``agen`` in a cancelled, shielded scope: its ``finally``
        blocks run, but an ``await`` there raises ``Cancelled`` at once (the
        generator was abandoned: nobody waits for it to do async work, and
        an outer cancellation must not reach it either).  Its errors are
        logged, never raised."""
        try:
            with CancelScope(shield=True) as scope:
                scope.cancel(reason=_NO_ASYNC_WORK)
                await agen.aclose()
        except BaseException:
            LOGGER.exception(
                "Exception ignored during finalization of async generator %r -- "
                "surround your use of the generator in 'async with aclosing(...):' "
                "to raise exceptions like this in the context where they're generated",
                _name(agen),
            )

    async def finalize_remaining(self) -> None:
        """Closes the generators still alive (called by the init task after
        the main and system tasks are done)."""
        runner = self._runner
        # From now on new generators are held strongly until closed here.
        self.alive = set(self.alive)
        # One trip through the run_sync_soon queue, so that generators
        # collected just before (their finalizer queued a callback) are seen.
        runner.entry_queue.run_sync_soon(runner.reschedule, runner.init_task)
        await wait_task_rescheduled(lambda _: Abort.FAILED)
        self.alive.update(self._trailing)
        self._trailing = []
        while self.alive:
            batch = self.alive
            self.alive = set()
            for agen in batch:
                await self.aclose(agen)
