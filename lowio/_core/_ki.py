"""Ctrl-C: KeyboardInterrupt protection and lowio's SIGINT handler.

While a run is active in the main thread (and SIGINT has Python's default
handler), Ctrl-C raises ``KeyboardInterrupt`` at once where it lands if
that code is *unprotected*; in *protected* code it is delivered to the main
task at its next checkpoint (or by cancelling its current wait), or out of
``lowio.run``.  Either way the run ends: it never hangs.

Whether code is protected is decided by its call stack, innermost frame
first (trio's rule: a protected caller protects what it calls, until a
function marked otherwise):

* a frame of a function marked with ``enable_ki_protection`` /
  ``disable_ki_protection`` decides (marks belong to the code object: all
  functions made from one ``def`` share them);
* a ``__del__`` method is protected (a finalizer may run anywhere);
* lowio's own code is protected (its functions are marked), and so is
  what it calls; where lowio calls back into user code (``from_thread``,
  a custom hostname resolver) it does so through an unprotected frame;
* the frame of the task's own coroutine decides by the task: system tasks
  are protected, others not;
* a stack with none of these (run_sync_soon callbacks, instruments, the
  loop itself, code outside any run) is protected.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import types
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ._local import GLOBAL_RUN_CONTEXT

if TYPE_CHECKING:
    from ._run import Runner

T = TypeVar("T")


class _HasCode(Protocol):
    __code__: types.CodeType


F = TypeVar("F", bound=_HasCode)

# id(code) -> (a weak reference to that code object, protected?).  Keyed by
# identity: equal code objects (the same source compiled twice) are
# distinct functions and must not share a mark.
_MARKS: dict[int, tuple[weakref.ref[types.CodeType], bool]] = {}


def _mark(fn: object, protected: bool, what: str) -> None:
    if getattr(fn, "_async_gen_function", None) == id(fn):
        # the ``async_generator`` package's wrapper (its code is shared by
        # every function it wraps): mark the wrapped function instead
        fn = getattr(fn, "__wrapped__", fn)
    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType):
        raise TypeError(
            f"{what} expects a function, coroutine function, generator function or "
            f"async generator function (something with __code__), not {fn!r}"
        )
    key = id(code)

    def forget(ref: weakref.ref[types.CodeType]) -> None:
        entry = _MARKS.get(key)
        if entry is not None and entry[0] is ref:
            del _MARKS[key]

    _MARKS[key] = (weakref.ref(code, forget), protected)


def enable_ki_protection(fn: F, /) -> F:
    """Decorator: Ctrl-C does not interrupt ``fn`` (a function, coroutine
    function, generator function, async generator function or method, e.g.
    a context manager's ``__enter__`` / ``__aexit__``) nor what it calls
    (unless marked otherwise): it is delivered at the main task's next
    checkpoint instead.  For ``@contextmanager``, put this decorator below
    it (on the generator function).  Returns ``fn`` itself; ``TypeError``
    for an object without ``__code__``."""
    _mark(fn, True, "enable_ki_protection")
    return fn


def disable_ki_protection(fn: F, /) -> F:
    """Decorator: Ctrl-C raises ``KeyboardInterrupt`` inside ``fn`` (and
    what it calls, unless marked otherwise) even when its caller is
    protected (a system task, a run_sync_soon callback).  Same arguments
    and errors as ``enable_ki_protection``."""
    _mark(fn, False, "disable_ki_protection")
    return fn


def _is_lowio(frame: types.FrameType) -> bool:
    name = frame.f_globals.get("__name__")
    return isinstance(name, str) and (name == "lowio" or name.startswith("lowio."))


def coroutine_frame(coro: Any) -> types.FrameType | None:
    """The frame of a coroutine (or ``@types.coroutine`` generator); None
    once it has ended, or if it has none (implemented in C)."""
    frame = getattr(coro, "cr_frame", None)
    if frame is None:
        frame = getattr(coro, "gi_frame", None)  # a @types.coroutine generator
    return frame


async def in_a_frame(coro: Awaitable[T]) -> T:
    """A coroutine awaiting ``coro``: the task coroutine for one implemented
    in C (``agen.__anext__()``, Cython), which has no frame of its own.  Its
    frame is the task's frame, so the task's protection holds there (not
    lowio's own, as the module it is defined in would say)."""
    return await coro


def ki_protection_enabled(frame: types.FrameType | None) -> bool:
    """Whether Ctrl-C landing in ``frame`` must wait (see the module
    docstring).  Any thread may call it."""
    task = GLOBAL_RUN_CONTEXT.task
    task_frame = None if task is None else coroutine_frame(task.coro)
    while frame is not None:
        code = frame.f_code
        entry = _MARKS.get(id(code))
        if entry is not None and entry[0]() is code:
            return entry[1]
        if frame is task_frame and code is in_a_frame.__code__:
            assert task is not None
            return task._ki_protected
        if code.co_name == "__del__" or _is_lowio(frame):
            return True
        if frame is task_frame:
            assert task is not None
            return task._ki_protected
        frame = frame.f_back
    return True


def currently_ki_protected() -> bool:
    """Whether the calling code is protected from Ctrl-C (see the module
    docstring); for assertions and tests.  Not a checkpoint; any thread."""
    return ki_protection_enabled(sys._getframe(1))


@disable_ki_protection
def call_unprotected(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` without the protection of lowio's frames: for lowio
    code calling back into user code."""
    return fn(*args)


@disable_ki_protection
async def await_unprotected(afn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """``await afn(*args)``, as ``call_unprotected``."""
    return await afn(*args)


# The handler of the run in the main thread, if installed (runs do not
# nest): a forked child puts Python's default back.
_installed: Callable[[int, types.FrameType | None], None] | None = None


class KIManager:
    """Installs (in the main thread, if SIGINT has Python's default
    handler) and removes the run's SIGINT handler.  A signal wakeup fd
    (``_wakeup_fd``) makes sure Ctrl-C wakes a blocked loop at once."""

    __slots__ = ("_handler",)

    def __init__(self) -> None:
        self._handler: Callable[[int, types.FrameType | None], None] | None = None

    def install(self, runner: Runner) -> None:
        global _installed
        # by thread id: current_thread() may be a dummy if threading's
        # registry lost the main thread (trio's tests check this)
        if threading.get_ident() != threading.main_thread().ident:
            return
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return  # the user installed their own handler: leave it alone

        restrict = runner.restrict_ki_to_checkpoints

        def handler(signum: int, frame: types.FrameType | None) -> None:
            if not restrict and not ki_protection_enabled(frame):
                raise KeyboardInterrupt
            runner.ki_pending = True
            # The main task's next checkpoint raises it at once (as in
            # trio), even if it never blocks; a parked main task is woken
            # through its abort after the loop's next I/O wait.
            main = runner.main_task
            if main is not None and main in runner.tasks:
                main._ki_pending = True
            runner.io.wake()

        signal.signal(signal.SIGINT, handler)
        self._handler = _installed = handler

    def close(self) -> None:
        global _installed
        handler, self._handler = self._handler, None
        if handler is None:
            return
        if _installed is handler:
            _installed = None
        if signal.getsignal(signal.SIGINT) is handler:  # else someone replaced it: keep theirs
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _after_fork_in_child() -> None:
    # The parent's handler would wake the parent's run (unusable here): a
    # fresh lowio.run in the child must find Python's default and install
    # its own.
    global _installed
    handler, _installed = _installed, None
    if handler is not None and signal.getsignal(signal.SIGINT) is handler:
        signal.signal(signal.SIGINT, signal.default_int_handler)


os.register_at_fork(after_in_child=_after_fork_in_child)
