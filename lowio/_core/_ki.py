"""Ctrl-C: lowio's SIGINT handler.

While a run is active in the main thread (and SIGINT has Python's default
handler), Ctrl-C raises ``KeyboardInterrupt`` at once if it interrupts user
code in a task; if it interrupts lowio's own code, a system task or code
outside the tasks (instruments, the loop) it is delivered to the main task at
its next checkpoint (or by cancelling its current wait), or out of
``lowio.run``, as in trio.  Either way the run ends: it never hangs.
"""

from __future__ import annotations

import contextlib
import signal
import socket
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
    """Installs the SIGINT handler, and a signal wakeup fd watched by the
    run's poller (as trio does): a signal that lands just before the loop
    blocks in ``epoll_wait`` still wakes it."""

    __slots__ = ("_handler", "_installed", "_old_wakeup_fd", "_runner", "_wakeup")

    def __init__(self) -> None:
        self._installed = False
        self._handler: Any = None
        self._wakeup: tuple[socket.socket, socket.socket] | None = None
        self._old_wakeup_fd = -1
        self._runner: Runner | None = None

    def install(self, runner: Runner) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return  # the user installed their own handler: leave it alone

        def handler(signum: int, frame: FrameType | None) -> None:
            self._drain()
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
        self._install_wakeup_fd(runner)

    def _install_wakeup_fd(self, runner: Runner) -> None:
        from ..poll import flags
        from ._io import SIGNAL_WAKEUP_TOKEN

        read, write = socket.socketpair()
        read.setblocking(False)
        write.setblocking(False)
        try:
            runner.io.poll.registry.register_mask(
                read.fileno(), SIGNAL_WAKEUP_TOKEN, flags.IN | flags.ET
            )
            self._old_wakeup_fd = signal.set_wakeup_fd(write.fileno(), warn_on_full_buffer=False)
        except BaseException:
            read.close()
            write.close()
            raise
        self._wakeup = (read, write)
        self._runner = runner

    def _drain(self) -> None:
        if self._wakeup is not None:
            with contextlib.suppress(OSError):
                while self._wakeup[0].recv(4096):
                    pass

    def close(self) -> None:
        if self._installed and signal.getsignal(signal.SIGINT) is self._handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        self._installed = False
        self._handler = None
        if self._wakeup is not None:
            read, write = self._wakeup
            if signal.set_wakeup_fd(self._old_wakeup_fd) != write.fileno():
                signal.set_wakeup_fd(-1)  # someone replaced ours: put theirs back
                signal.set_wakeup_fd(self._old_wakeup_fd)
            if self._runner is not None and not self._runner.io.poll.closed:
                with contextlib.suppress(OSError):
                    self._runner.io.poll.registry.deregister(read)
            read.close()
            write.close()
            self._wakeup = None
            self._runner = None
