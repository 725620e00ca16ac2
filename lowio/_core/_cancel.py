"""Cancel scopes: where cancellation originates (``CancelScope``); how it
reaches tasks is the tree of ``CancelStatus`` nodes (``_cancel_status.py``,
one per entered scope).

Cancellation is level-triggered: once a scope is cancelled every checkpoint
inside it raises ``Cancelled``, again and again, until the scope exits; the
scope then catches its own ``Cancelled`` (and only its own: one that came
from an enclosing scope keeps propagating to it).
"""

from __future__ import annotations

import math
import sys
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from . import _cancel_core
from ._cancel_status import CancelStatus
from ._exceptions import Cancelled, CancelSource, final
from ._exits import collapse_loose_groups, exit_with
from ._local import GLOBAL_RUN_CONTEXT, no_run_error

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found]

if TYPE_CHECKING:
    from ._run import Runner
    from ._task import Task

inf = math.inf

MISNESTING_ADVICE = """
This is probably a bug in your code: cancel scopes and nurseries must be
exited in the reverse order of entering them, in the task that entered them.
Common causes: yielding inside a generator (not a @contextmanager) that opened
a cancel scope or nursery; calling __enter__/__exit__ by hand; interleaving
them with an [Async]ExitStack."""


class CancelReason:
    """Who cancelled a scope, and why (copied into ``Cancelled``)."""

    __slots__ = ("reason", "source", "source_task")

    def __init__(
        self, source: CancelSource, reason: str | None = None, source_task: str | None = None
    ) -> None:
        self.source = source
        self.reason = reason
        self.source_task = source_task

    def exception(self) -> Cancelled:
        # ``Cancelled._create(source=..., source_task=..., reason=...)``
        # without its three calls: the bare exception (``args`` is ``()``,
        # as ``__init__`` leaves it), then the fields ``__init__`` sets
        exc: Cancelled = _new_exception(Cancelled)
        exc.source = self.source
        exc.source_task = self.source_task
        exc.reason = self.reason
        return exc


_new_exception = BaseException.__new__


# The reason a scope reports when it was cancelled without one: it was
# abandoned by misnesting (see CancelStatus).
MISNESTING_REASON = CancelReason("unknown", "misnesting")


# a node without CancelStatus.__init__'s call overhead (CancelScope.__enter__
# fills in every field itself)
_new_status = object.__new__


def _stack_corrupted(what: str, exc: BaseException | None) -> RuntimeError:
    """The error for a scope exited out of order, chained to what was
    propagating."""
    error = RuntimeError(f"Cancel scope stack corrupted: {what}")
    error.__context__ = exc
    return error


def _check_deadline(value: float, what: str = "deadline") -> float:
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{what} must not be NaN")
    return value


ScopeT = TypeVar("ScopeT", bound="BaseCancelScope")


class BaseCancelScope:
    """What ``CancelScope`` is (see its docstring), open to subclassing by
    lowio's anyio backend alone, whose scopes are lowio scopes themselves
    (a subclass must override nothing the scheduler calls).
    """

    __slots__ = (
        "_cancel_called",
        "_cancel_reason",
        "_cancel_status",
        "_deadline",
        "_relative_deadline",
        "_runner",
        "_shield",
        "_timer_entry",
        "cancelled_caught",
    )

    def __init__(
        self, *, deadline: float = inf, shield: bool = False, relative_deadline: float = inf
    ) -> None:
        # (the defaults skip the checks: most scopes have neither deadline)
        if deadline is not inf:
            deadline = _check_deadline(deadline)
        if relative_deadline is not inf:
            relative_deadline = _check_deadline(relative_deadline, "relative deadline")
            if relative_deadline < 0:
                raise ValueError("timeout must be non-negative")
            if relative_deadline != inf and deadline != inf:
                raise ValueError("Cannot specify both a deadline and a relative deadline")
        if shield is not False and shield is not True:
            raise TypeError("shield must be a bool")
        self._deadline = deadline
        self._relative_deadline = relative_deadline
        self._shield = shield
        self._cancel_status: CancelStatus | None = None
        # the run, set on entry: a scope is entered once, so "entered" is
        # ``_runner is not None``
        self._runner: Runner | None = None
        # the run's timer for the deadline, while one is registered (its
        # deadline is ``entry[0]``)
        self._timer_entry: list[object] | None = None
        self._cancel_called = False
        self._cancel_reason: CancelReason | None = None
        self.cancelled_caught = False

    _init_py = __init__

    # __init__, __enter__ and __exit__: _init_py, _enter_py and _exit_py as
    # written here; the class's methods are their C versions (_cancel_core.c,
    # installed by install_c_methods), which do the common case of each and
    # call these for everything else.

    def _enter_py(self: ScopeT) -> ScopeT:
        task = GLOBAL_RUN_CONTEXT.task
        if task is None:
            raise no_run_error("CancelScope.__enter__()")
        if self._runner is not None:
            raise RuntimeError("Each CancelScope may only be used for a single 'with' block")
        runner = self._runner = task._runner
        if self._relative_deadline != inf:
            now = runner.clock.current_time()
            self._deadline = now + self._relative_deadline
            self._relative_deadline = inf
            if now >= self._deadline:  # a timeout of 0 (the clock is read once)
                self._cancel(CancelReason("deadline"))
        elif self._deadline != inf and runner.clock.current_time() >= self._deadline:
            self._cancel(CancelReason("deadline"))
        # The new node, made and attached in place: it has no children and
        # only this task, which is running, so nothing needs waking even if
        # it starts out cancelled.
        parent = task._cancel_status
        status = _new_status(CancelStatus)
        status._scope = self
        status._parent = parent
        status._children = None
        status._tasks = {task}
        status.abandoned_by_misnesting = False
        cancelled = self._cancel_called
        if parent is not None:
            siblings = parent._children
            if siblings is None:
                parent._children = {status}
            else:
                siblings.add(status)
            parent._tasks.discard(task)
            if parent.effectively_cancelled and not self._shield:
                cancelled = True
                if self._cancel_reason is None:
                    self._cancel_reason = parent._scope._cancel_reason
        status.effectively_cancelled = cancelled
        task._cancel_status = status
        self._cancel_status = status
        if self._deadline != inf and not self._cancel_called:
            self._timer_entry = runner.timers.add(self._deadline, self._expire)
        return self

    def _close(self, exc: BaseException | None) -> BaseException | None:
        """Exits the scope in the current task.  Returns what must keep
        propagating: ``exc`` minus this scope's own ``Cancelled`` (None if
        nothing is left).  Misuse does not raise here: it comes back as a
        ``RuntimeError`` chained to ``exc``.

        * exited twice: the scope is left as it is;
        * exited from a task that never entered it: likewise (the task that
          did is still inside it);
        * exited while scopes entered inside it are still open: it exits
          anyway, taking those with it (they are abandoned and cancelled,
          see ``CancelStatus``), and reports the misnesting.
        """
        status = self._cancel_status
        if status is None:
            return _stack_corrupted(
                f"attempted to exit {self!r} which had already been exited", exc
            )
        task = GLOBAL_RUN_CONTEXT.task
        if task is None:
            raise no_run_error("CancelScope.__exit__()")
        parent = status._parent
        if task._cancel_status is status:
            # properly nested: the task moves back to the enclosing node
            # (running, so it needs no waking there)
            status._tasks.discard(task)
            task._cancel_status = parent  # type: ignore[assignment]
            if parent is not None:
                parent._tasks.add(task)
        elif not status.abandoned_by_misnesting:
            # (a stranded scope's task already left it when an enclosing
            # scope exited and abandoned it)
            current = task._cancel_status
            if not status.encloses(current):
                return _stack_corrupted(
                    f"attempted to exit {self!r} from unrelated {task!r}\n{MISNESTING_ADVICE}",
                    exc,
                )
            exc = _stack_corrupted(
                f"attempted to exit {self!r} in {task!r} that's still within its child "
                f"{current._scope!r}\n{MISNESTING_ADVICE}",
                exc,
            )
            task._activate_cancel_status(parent)
        if status.abandoned_by_misnesting or (
            exc is not None
            and status.effectively_cancelled
            and (parent is None or self._shield or not parent.effectively_cancelled)
        ):
            # (the visible cancellation is this scope's own, not inherited)
            exc = self._catch_own_cancelled(exc)
        # the node leaves the tree
        if parent is not None:
            siblings = parent._children
            if siblings is not None:
                siblings.discard(status)
            status._parent = None
        if status._tasks or status._children:
            status._abandon()
        self._cancel_status = None
        entry = self._timer_entry
        if entry is not None:
            self._timer_entry = None
            self._runner.timers.cancel(entry)  # type: ignore[union-attr]
        return exc

    def _catch_own_cancelled(self, exc: BaseException | None) -> BaseException | None:
        """``exc`` without the ``Cancelled`` this scope raised: a bare one
        is swallowed; a group loses its ``Cancelled`` members (what is left
        keeps propagating as a group).  Sets ``cancelled_caught`` if any was
        caught."""
        if isinstance(exc, Cancelled):
            self.cancelled_caught = True
            return None
        if not isinstance(exc, BaseExceptionGroup):
            return exc
        if all(type(member) is Cancelled for member in exc.exceptions):
            self.cancelled_caught = True  # the common case, without split()'s copies
            return None
        caught, rest = exc.split(Cancelled)
        if caught is not None:
            self.cancelled_caught = True
        if rest is None:
            return None
        return collapse_loose_groups(rest)

    def _exit_py(
        self,
        etype: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        remaining = None
        try:
            remaining = self._close(exc)
            if remaining is None:
                return True
            if remaining is exc:
                return False
            return exit_with(exc, remaining)
        finally:
            del exc, remaining

    __enter__ = _enter_py
    __exit__ = _exit_py

    # ---- deadlines ----

    def _update_registration(self) -> None:
        """Keeps the run's timer for this scope in step with its deadline."""
        new = inf if self._cancel_status is None or self._cancel_called else self._deadline
        entry = self._timer_entry
        if entry is not None:
            if entry[0] == new:
                return
            self._timer_entry = None
            self._runner.timers.cancel(entry)  # type: ignore[union-attr]
        if new != inf:
            self._timer_entry = self._runner.timers.add(new, self._expire)  # type: ignore[union-attr]

    def _expire(self) -> None:
        self._timer_entry = None
        self._cancel(CancelReason("deadline"))

    @property
    def deadline(self) -> float:
        """The absolute time (on the run's clock) at which this scope cancels
        itself; ``inf`` for none.  Writable."""
        if self._relative_deadline != inf:
            raise RuntimeError(
                "Unentered relative cancel scope does not have an absolute deadline."
            )
        return self._deadline

    @deadline.setter
    def deadline(self, new_deadline: float) -> None:
        new_deadline = _check_deadline(new_deadline)
        if self._relative_deadline != inf:
            raise RuntimeError(
                "Unentered relative cancel scope does not have an absolute deadline."
            )
        self._deadline = new_deadline
        if self._cancel_status is not None:
            self._update_registration()

    @property
    def relative_deadline(self) -> float:
        """Seconds from now to the deadline (after entering), or the timeout
        that entering will start (before).  Writable."""
        if self._runner is not None:
            return self._deadline - self._runner.clock.current_time()
        if self._deadline != inf:
            raise RuntimeError(
                "Unentered non-relative cancel scope does not have a relative deadline"
            )
        return self._relative_deadline

    @relative_deadline.setter
    def relative_deadline(self, new_relative_deadline: float) -> None:
        value = _check_deadline(new_relative_deadline, "relative deadline")
        if value < 0:
            raise ValueError("relative deadline must be non-negative")
        if self._runner is not None:
            self.deadline = self._runner.clock.current_time() + value
        elif self._deadline != inf:
            raise RuntimeError(
                "Unentered non-relative cancel scope does not have a relative deadline"
            )
        else:
            self._relative_deadline = value

    @property
    def is_relative(self) -> bool | None:
        """None once entered; otherwise whether the deadline is relative."""
        if self._runner is not None:
            return None
        return self._relative_deadline != inf

    @property
    def shield(self) -> bool:
        """While True, cancellation of enclosing scopes does not reach the
        code inside this one.  Writable (takes effect at once)."""
        return self._shield

    @shield.setter
    def shield(self, new_value: bool) -> None:
        if not isinstance(new_value, bool):
            raise TypeError("shield must be a bool")
        self._shield = new_value
        if self._cancel_status is not None:
            self._cancel_status.refresh()

    def _cancel(self, reason: CancelReason | None) -> None:
        if self._cancel_called:
            return
        if self._cancel_reason is None:
            self._cancel_reason = reason
        self._cancel_called = True
        if self._cancel_status is not None:
            self._update_registration()
            self._cancel_status.refresh()

    def cancel(self, reason: str | None = None) -> None:
        """Cancels this scope now (idempotent).  ``reason`` is shown in the
        ``Cancelled`` text.  Not a checkpoint; call it from the run's thread."""
        if reason is not None and not isinstance(reason, str):
            raise TypeError(f"reason must be a str or None, not {type(reason).__name__}")
        if self._cancel_called:
            return
        task = GLOBAL_RUN_CONTEXT.task
        self._cancel(CancelReason("explicit", reason, None if task is None else repr(task)))

    @property
    def cancel_called(self) -> bool:
        """Whether ``cancel()`` was called or the deadline passed."""
        if not self._cancel_called and (self._cancel_status is not None or self._runner is None):
            # the deadline has passed but the timer has not fired yet; an
            # unentered scope whose deadline has passed reports True as well
            runner = GLOBAL_RUN_CONTEXT.runner
            if runner is not None and self._deadline <= runner.clock.current_time():
                self._cancel(CancelReason("deadline"))
        return self._cancel_called

    def __repr__(self) -> str:
        if self._cancel_status is not None:
            binding = "active"
        elif self._runner is not None:
            binding = "exited"
        else:
            binding = "unbound"
        state = ", cancelled" if self._cancel_called else ""
        runner = GLOBAL_RUN_CONTEXT.runner  # the deadline is shown on the current run's clock
        if not state and self._deadline != inf and runner is not None:
            now = runner.clock.current_time()
            delta = abs(self._deadline - now)
            when = "from now" if self._deadline >= now else "ago"
            state = f", deadline is {delta:.2f} seconds {when}"
        return f"<lowio.CancelScope at {id(self):#x}, {binding}{state}>"


@final
class CancelScope(BaseCancelScope):
    """A scope that cancellation can target: ``with CancelScope() as cs:``.

    ``cs.cancel(reason)`` (any time, from any task of the run) or passing
    ``deadline`` makes every checkpoint inside raise ``Cancelled`` until the
    ``with`` block exits; the scope then swallows its own ``Cancelled`` and
    sets ``cancelled_caught``.  ``shield=True`` hides cancellation of outer
    scopes.  ``deadline`` and ``shield`` may be changed at any time.  A scope
    is entered at most once (``RuntimeError`` otherwise) and must be exited
    by the task that entered it, innermost first (``RuntimeError``).
    Entering and exiting are not checkpoints.
    """

    __slots__ = ()


def install_c_methods(task_class: type[Task]) -> None:
    """Makes ``_cancel_core``'s C versions the ``__init__``, ``__enter__``
    and ``__exit__`` of every cancel scope; they do the common case of each
    (a plain exit among them) and call ``_init_py``, ``_enter_py`` and
    ``_exit_py`` for the rest.  Called once, by ``_run.py``, which has the
    Task class that this module cannot import."""
    _cancel_core.configure(
        GLOBAL_RUN_CONTEXT,
        task_class,
        CancelStatus,
        BaseCancelScope,
        BaseCancelScope._init_py,
        BaseCancelScope._enter_py,
        BaseCancelScope._exit_py,
    )
    init, enter, exit_ = _cancel_core.methods()
    # (setattr: mypy refuses assignments to methods)
    setattr(BaseCancelScope, "__init__", init)  # noqa: B010
    setattr(BaseCancelScope, "__enter__", enter)  # noqa: B010
    setattr(BaseCancelScope, "__exit__", exit_)  # noqa: B010
