"""Ctrl-C: lowio's SIGINT handler.

While a run is active in the main thread (and SIGINT has Python's default
handler), Ctrl-C raises ``KeyboardInterrupt`` at once if it interrupts user
code in a task; if it interrupts lowio's own code, a system task or code
outside the tasks (instruments, the loop) it is delivered to the main task at
its next checkpoint (or by cancelling its current wait), or out of
``lowio.run``, as in trio.  Either way the run ends: it never hangs.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

from ._local import GLOBAL_RUN_CONTEXT

if TYPE_CHECKING:
    from ._run import Runner

_PROTECTED_PREFIX = "lowio."


def _is_protected(frame: FrameType | None) -> bool:
    if frame is None:
        return True
    name = frame.f_globals.get("__name__", "")
    return isinstance(name, str) and (name.startswith(_PROTECTED_PREFIX) or name == "lowio")


class KIManager:
    __slots__ = ("_handler", "_installed")

    def __init__(self) -> None:
        self._installed = False
        self._handler: Any = None

    def install(self, runner: Runner) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return  # the user installed their own handler: leave it alone

        def handler(signum: int, frame: FrameType | None) -> None:
            if not _is_protected(frame):
                # as in trio: code outside any task (instruments, the loop)
                # and system tasks are protected too
                task = GLOBAL_RUN_CONTEXT.task
                if task is not None and not task._ki_protected:
                    raise KeyboardInterrupt
            runner.ki_pending = True
            runner.io.wake()

        self._handler = handler
        signal.signal(signal.SIGINT, handler)
        self._installed = True

    def close(self) -> None:
        if self._installed and signal.getsignal(signal.SIGINT) is self._handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        self._installed = False
        self._handler = None
