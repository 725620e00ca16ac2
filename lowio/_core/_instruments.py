"""Instruments: objects whose hook methods the run calls (trio's names):
``before_run``, ``after_run``, ``task_spawned``, ``task_scheduled``,
``before_task_step``, ``after_task_step``, ``task_exited``,
``before_io_wait``, ``after_io_wait``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

LOGGER = logging.getLogger("lowio.abc.Instrument")

HOOKS = (
    "before_run",
    "after_run",
    "task_spawned",
    "task_scheduled",
    "before_task_step",
    "after_task_step",
    "task_exited",
    "before_io_wait",
    "after_io_wait",
)


class Instrument:
    """Base class with every hook as a no-op; subclass and override some."""

    def before_run(self) -> None: ...
    def after_run(self) -> None: ...
    def task_spawned(self, task: Any) -> None: ...
    def task_scheduled(self, task: Any) -> None: ...
    def before_task_step(self, task: Any) -> None: ...
    def after_task_step(self, task: Any) -> None: ...
    def task_exited(self, task: Any) -> None: ...
    def before_io_wait(self, timeout: float) -> None: ...
    def after_io_wait(self, timeout: float) -> None: ...


class Instruments:
    """The instruments of a run, indexed by hook.  ``active`` is True while
    any instrument is installed (a plain attribute: the scheduler reads it on
    hot paths).  An instrument whose hook raises is logged and removed."""

    __slots__ = ("_by_hook", "_instruments", "active")

    def __init__(self, instruments: Iterable[object]) -> None:
        self.active = False
        self._instruments: list[object] = []
        self._by_hook: dict[str, list[object]] = {}
        for instrument in instruments:
            self.add(instrument)

    def __bool__(self) -> bool:
        return bool(self._instruments)

    def __contains__(self, hook: object) -> bool:
        """Whether some installed instrument implements ``hook`` (a name)."""
        return hook in self._by_hook

    def add(self, instrument: object) -> None:
        if instrument in self._instruments:
            return
        # Look every hook up first: if that raises (a property, say), the
        # instrument is not installed at all.
        hooks = []
        for hook in HOOKS:
            method = getattr(instrument, hook, None)
            if method is None:
                continue
            base = getattr(Instrument, hook)
            if getattr(method, "__func__", None) is base:
                continue  # the base class's no-op
            hooks.append(hook)
        self._instruments.append(instrument)
        self.active = True
        for hook in hooks:
            self._by_hook.setdefault(hook, []).append(instrument)

    def remove(self, instrument: object) -> None:
        if instrument not in self._instruments:
            raise KeyError(f"instrument {instrument!r} is not installed")
        self._instruments.remove(instrument)
        self.active = bool(self._instruments)
        for hook in list(self._by_hook):
            users = self._by_hook[hook]
            if instrument in users:
                users.remove(instrument)
            if not users:
                del self._by_hook[hook]

    def call(self, hook: str, *args: Any) -> None:
        for instrument in list(self._by_hook.get(hook, ())):
            method: Callable[..., object] = getattr(instrument, hook)
            try:
                method(*args)
            except BaseException:
                self.remove(instrument)
                LOGGER.exception(
                    "Exception raised when calling %r on instrument %r. "
                    "Instrument has been disabled.",
                    hook,
                    instrument,
                )
