"""Cancel scopes: where cancellation originates (``CancelScope``) and how it
reaches tasks (``CancelStatus``, one per entered scope, arranged in a tree).

Cancellation is level-triggered, as in trio: once a scope is cancelled every
checkpoint inside it raises ``Cancelled`` until the scope exits.
"""

from __future__ import annotations

import math
import sys
from types import TracebackType
from typing import TYPE_CHECKING

from ._exceptions import Cancelled, CancelSource, final
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
        return Cancelled._create(
            source=self.source, reason=self.reason, source_task=self.source_task
        )


# A scope cancelled with no reason was abandoned by misnesting (trio's text).
MISNESTING_REASON = CancelReason("unknown", "misnesting")


def cancelled_for(reason: CancelReason | None) -> Cancelled:
    return (MISNESTING_REASON if reason is None else reason).exception()


class CancelStatus:
    """The cancellation state of one entered scope.  When it becomes
    effectively cancelled it wakes its blocked tasks and tells its children
    (unless they are shielded)."""

    __slots__ = (
        "_children",
        "_parent",
        "_scope",
        "_tasks",
        "abandoned_by_misnesting",
        "effectively_cancelled",
    )

    def __init__(self, scope: CancelScope, parent: CancelStatus | None) -> None:
        self._scope = scope
        self._parent: CancelStatus | None = None
        self._children: set[CancelStatus] = set()
        self._tasks: set[Task] = set()
        self.effectively_cancelled = False
        self.abandoned_by_misnesting = False
        self.parent = parent

    @property
    def parent(self) -> CancelStatus | None:
        return self._parent

    @parent.setter
    def parent(self, parent: CancelStatus | None) -> None:
        if self._parent is not None:
            self._parent._children.discard(self)
        self._parent = parent
        if parent is not None:
            parent._children.add(self)
            self.recalculate()

    def encloses(self, other: CancelStatus | None) -> bool:
        while other is not None:
            if other is self:
                return True
            other = other._parent
        return False

    def close(self) -> None:
        self.parent = None
        if self._tasks or self._children:
            # Misnesting left tasks or scopes inside: cancel them, so that
            # they unwind instead of running on with no scope above them.
            self._mark_abandoned()
            self.effectively_cancelled = True
            for task in list(self._tasks):
                task._attempt_delivery_of_any_pending_cancel()
            for child in list(self._children):
                child.recalculate()

    @property
    def parent_cancellation_is_visible_to_us(self) -> bool:
        parent = self._parent
        return parent is not None and not self._scope._shield and parent.effectively_cancelled

    def recalculate(self) -> None:
        todo = [self]
        while todo:
            current = todo.pop()
            scope = current._scope
            visible = current.parent_cancellation_is_visible_to_us
            new_state = scope._cancel_called or visible
            if new_state != current.effectively_cancelled:
                if scope._cancel_reason is None and visible:
                    scope._cancel_reason = current._parent._scope._cancel_reason  # type: ignore[union-attr]
                current.effectively_cancelled = new_state
                if new_state:
                    for task in list(current._tasks):
                        task._attempt_delivery_of_any_pending_cancel()
                todo.extend(current._children)

    def _mark_abandoned(self) -> None:
        self.abandoned_by_misnesting = True
        for child in self._children:
            child._mark_abandoned()

    def effective_deadline(self) -> float:
        if self.effectively_cancelled:
            return -inf
        if self._parent is None or self._scope._shield:
            return self._scope._deadline
        return min(self._scope._deadline, self._parent.effective_deadline())


def _check_deadline(value: float, what: str = "deadline") -> float:
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{what} must not be NaN")
    return value


@final
class CancelScope:
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

    __slots__ = (
        "_cancel_called",
        "_cancel_reason",
        "_cancel_status",
        "_deadline",
        "_has_been_entered",
        "_registered_deadline",
        "_relative_deadline",
        "_runner",
        "_shield",
        "_timer_entry",
        "cancelled_caught",
    )

    def __init__(
        self, *, deadline: float = inf, shield: bool = False, relative_deadline: float = inf
    ) -> None:
        self._deadline = _check_deadline(deadline)
        self._relative_deadline = _check_deadline(relative_deadline, "relative deadline")
        if self._relative_deadline < 0:
            raise ValueError("timeout must be non-negative")
        if self._relative_deadline != inf and self._deadline != inf:
            raise ValueError("Cannot specify both a deadline and a relative deadline")
        if not isinstance(shield, bool):
            raise TypeError("shield must be a bool")
        self._shield = shield
        self._cancel_status: CancelStatus | None = None
        self._has_been_entered = False
        self._registered_deadline = inf
        self._timer_entry: list[object] | None = None
        self._runner: Runner | None = None
        self._cancel_called = False
        self._cancel_reason: CancelReason | None = None
        self.cancelled_caught = False

    def __enter__(self) -> CancelScope:
        task = GLOBAL_RUN_CONTEXT.task
        if task is None:
            raise no_run_error("CancelScope.__enter__()")
        if self._has_been_entered:
            raise RuntimeError("Each CancelScope may only be used for a single 'with' block")
        self._has_been_entered = True
        runner = self._runner = task._runner
        if self._relative_deadline != inf:
            self._deadline = runner.clock.current_time() + self._relative_deadline
            self._relative_deadline = inf
        if self._deadline != inf and runner.clock.current_time() >= self._deadline:
            self._cancel(CancelReason("deadline"))
        self._cancel_status = CancelStatus(self, task._cancel_status)
        task._activate_cancel_status(self._cancel_status)
        self._update_registration()
        return self

    def _close(self, exc: BaseException | None) -> BaseException | None:
        status = self._cancel_status
        if status is None:
            new_exc = RuntimeError(
                f"Cancel scope stack corrupted: attempted to exit {self!r} "
                "which had already been exited"
            )
            new_exc.__context__ = exc
            return new_exc
        task = GLOBAL_RUN_CONTEXT.task
        if task is None:
            raise no_run_error("CancelScope.__exit__()")
        if task._cancel_status is not status:
            if status.abandoned_by_misnesting:
                pass
            elif not status.encloses(task._cancel_status):
                new_exc = RuntimeError(
                    f"Cancel scope stack corrupted: attempted to exit {self!r} "
                    f"from unrelated {task!r}\n{MISNESTING_ADVICE}"
                )
                new_exc.__context__ = exc
                return new_exc
            else:
                new_exc = RuntimeError(
                    f"Cancel scope stack corrupted: attempted to exit {self!r} in "
                    f"{task!r} that's still within its child "
                    f"{task._cancel_status._scope!r}\n{MISNESTING_ADVICE}"
                )
                new_exc.__context__ = exc
                exc = new_exc
                task._activate_cancel_status(status.parent)
        else:
            task._activate_cancel_status(status.parent)
        if (
            exc is not None
            and status.effectively_cancelled
            and not status.parent_cancellation_is_visible_to_us
        ) or (task._cancel_status is not status and status.abandoned_by_misnesting):
            if isinstance(exc, Cancelled):
                self.cancelled_caught = True
                exc = None
            elif isinstance(exc, BaseExceptionGroup) and all(
                type(e) is Cancelled for e in exc.exceptions
            ):
                self.cancelled_caught = True  # the common case, without split()
                exc = None
            elif isinstance(exc, BaseExceptionGroup):
                matched, rest = exc.split(Cancelled)
                if matched:
                    self.cancelled_caught = True
                exc = rest
        status.close()
        self._cancel_status = None
        self._update_registration()
        return exc

    def __exit__(
        self,
        etype: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        remaining = self._close(exc)
        if remaining is None:
            return True
        if remaining is exc:
            return False
        old_context = remaining.__context__
        try:
            raise remaining
        finally:
            remaining.__context__ = old_context
            del remaining, exc

    # ---- deadlines ----

    def _update_registration(self) -> None:
        """Keeps the run's timer for this scope in step with its deadline."""
        new = inf if self._cancel_status is None or self._cancel_called else self._deadline
        if new == self._registered_deadline:
            return
        runner = self._runner
        assert runner is not None
        if self._timer_entry is not None:
            runner.timers.cancel(self._timer_entry)
            self._timer_entry = None
        if new != inf:
            self._timer_entry = runner.timers.add(new, self._expire)
        self._registered_deadline = new

    def _expire(self) -> None:
        self._timer_entry = None
        self._registered_deadline = inf
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
        if self._has_been_entered:
            assert self._runner is not None
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
        if self._has_been_entered:
            assert self._runner is not None
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
        if self._has_been_entered:
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
            self._cancel_status.recalculate()

    def _cancel(self, reason: CancelReason | None) -> None:
        if self._cancel_called:
            return
        if self._cancel_reason is None:
            self._cancel_reason = reason
        self._cancel_called = True
        if self._cancel_status is not None:
            self._update_registration()
            self._cancel_status.recalculate()

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
        if not self._cancel_called and (
            self._cancel_status is not None or not self._has_been_entered
        ):
            # the deadline passed but the timer has not fired yet (or, as in
            # trio, the scope has not been entered yet)
            runner = GLOBAL_RUN_CONTEXT.runner
            if runner is not None and self._deadline <= runner.clock.current_time():
                self._cancel(CancelReason("deadline"))
        return self._cancel_called

    def __repr__(self) -> str:
        if self._cancel_status is not None:
            binding = "active"
        elif self._has_been_entered:
            binding = "exited"
        else:
            binding = "unbound"
        state = ", cancelled" if self._cancel_called else ""
        runner = GLOBAL_RUN_CONTEXT.runner  # as trio: the current run's clock, if any
        if not state and self._deadline != inf and runner is not None:
            now = runner.clock.current_time()
            delta = abs(self._deadline - now)
            when = "from now" if self._deadline >= now else "ago"
            state = f", deadline is {delta:.2f} seconds {when}"
        return f"<lowio.CancelScope at {id(self):#x}, {binding}{state}>"
