"""Async-generator finalization: generators first iterated in a run's tasks
are closed (``aclose()``) inside the run when they are collected, and any
still alive when the main task ends are closed before ``run`` returns."""

from __future__ import annotations

import contextlib
import logging
import sys
import weakref
from types import AsyncGeneratorType
from typing import TYPE_CHECKING, Any

from ._exceptions import RunFinishedError
from ._local import GLOBAL_RUN_CONTEXT

if TYPE_CHECKING:
    from ._run import Runner

LOGGER = logging.getLogger("lowio.async_generator_errors")


def _name(agen: Any) -> str:
    return str(getattr(agen, "__qualname__", None) or repr(agen))


class AsyncGenerators:
    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self.alive: weakref.WeakSet[AsyncGeneratorType[Any, Any]] = weakref.WeakSet()
        self._foreign: set[int] = set()
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
        if GLOBAL_RUN_CONTEXT.task is not None:
            self.alive.add(agen)
        else:
            self._foreign.add(id(agen))
            if self._prev is not None and self._prev.firstiter is not None:
                self._prev.firstiter(agen)

    def _finalizer(self, agen: AsyncGeneratorType[Any, Any]) -> None:
        if id(agen) in self._foreign:
            self._foreign.discard(id(agen))
            if self._prev is not None and self._prev.finalizer is not None:
                self._prev.finalizer(agen)
            return
        with contextlib.suppress(RunFinishedError):
            self._runner.entry_queue.run_sync_soon(self._finalize_in_run, agen)

    def _finalize_in_run(self, agen: AsyncGeneratorType[Any, Any]) -> None:
        try:
            self._runner.spawn_system_task_impl(
                self.aclose, (agen,), name=f"close asyncgen {_name(agen)} (abandoned)"
            )
        except RuntimeError:
            self._trailing.append(agen)  # the system nursery has closed

    @staticmethod
    async def aclose(agen: AsyncGeneratorType[Any, Any]) -> None:
        try:
            await agen.aclose()
        except BaseException:
            LOGGER.exception("error closing async generator %s", _name(agen))

    async def finalize_remaining(self) -> None:
        """Closes the generators still alive (called by the init task after
        the main and system tasks are done)."""
        while True:
            batch = [*self.alive, *self._trailing]
            self.alive = weakref.WeakSet()
            self._trailing = []
            batch = [agen for agen in batch if agen.ag_frame is not None]
            if not batch:
                return
            for agen in batch:
                await self.aclose(agen)
