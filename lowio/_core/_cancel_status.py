"""The cancellation tree: one ``CancelStatus`` node per entered cancel
scope (the scopes themselves, where cancellation originates, are in
``_cancel.py``)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._cancel import BaseCancelScope
    from ._task import Task


class CancelStatus:
    """One entered scope's node in the run's cancellation tree.

    Each task points at the node of its innermost entered scope (a new
    child task at its nursery's node); a node points at the node of the
    enclosing scope.  The tree answers the one question a checkpoint asks,
    "is cancellation visible here?", with one attribute read:

    * ``effectively_cancelled`` is True exactly when the scope was cancelled
      itself, or the enclosing node is effectively cancelled and this scope
      does not shield.  It is kept current eagerly: whatever changes it
      (``cancel``, a deadline, ``shield``, moving a node) calls ``refresh``,
      which pushes the change down the subtree at once.
    * The moment a node turns effectively cancelled, every task pointing at
      it is offered the ``Cancelled`` (``Task._attempt_delivery_of_any_
      pending_cancel``), so a parked task wakes up right away.
    * A scope that inherits its cancellation records the enclosing scope's
      reason as its own, so the ``Cancelled`` raised inside names who
      really cancelled.
    * When a scope exits while tasks or nodes still hang below its node
      (misnesting), those are *abandoned*: marked, and kept cancelled, so
      the stranded code unwinds with ``Cancelled`` instead of running on
      outside any scope.

    Used from the run's thread only.
    """

    __slots__ = (
        "_children",
        "_parent",
        "_scope",
        "_tasks",
        "abandoned_by_misnesting",
        "effectively_cancelled",
    )

    # Made only by CancelScope.__enter__, field by field (``_new_status``):
    # a scope's node starts with the entering task as its only task.
    _scope: BaseCancelScope
    _parent: CancelStatus | None
    _children: set[CancelStatus] | None  # made when the first child attaches
    _tasks: set[Task]
    effectively_cancelled: bool
    abandoned_by_misnesting: bool

    @property
    def parent(self) -> CancelStatus | None:
        """The enclosing scope's node (None at the top, or once detached)."""
        return self._parent

    def attach(self, parent: CancelStatus | None) -> None:
        """Moves this node (with its subtree) under ``parent``; None
        detaches it.  Attaching refreshes the subtree's state."""
        if self._parent is not None:
            self._parent._forget_child(self)
        self._parent = parent
        if parent is not None:
            if parent._children is None:
                parent._children = set()
            parent._children.add(self)
            self.refresh()

    def _forget_child(self, child: CancelStatus) -> None:
        if self._children is not None:
            self._children.discard(child)

    def children(self) -> list[CancelStatus]:
        """A snapshot of the nodes attached below this one."""
        return [] if self._children is None else list(self._children)

    def encloses(self, other: CancelStatus | None) -> bool:
        """Whether ``other`` is this node or lies anywhere below it."""
        node = other
        while node is not None and node is not self:
            node = node._parent
        return node is self

    def inherits_cancellation(self) -> bool:
        """Whether cancellation of the enclosing scopes reaches this one
        (the scope does not shield and its parent is cancelled)."""
        parent = self._parent
        if parent is None or self._scope._shield:
            return False
        return parent.effectively_cancelled

    def refresh(self) -> None:
        """Recomputes ``effectively_cancelled`` here and below, waking the
        tasks of every node that turns cancelled.  A node whose state did
        not change stops the walk: its subtree already agrees with it."""
        pending = [self]
        while pending:
            node = pending.pop()
            scope = node._scope
            parent = node._parent  # inherits_cancellation(), inline
            inherited = parent is not None and not scope._shield and parent.effectively_cancelled
            cancelled = scope._cancel_called or inherited
            if cancelled == node.effectively_cancelled:
                continue
            node.effectively_cancelled = cancelled
            if cancelled:
                if inherited and scope._cancel_reason is None:
                    # the enclosing scope's reason is the one to report
                    scope._cancel_reason = parent._scope._cancel_reason  # type: ignore[union-attr]
                if node._tasks:
                    for task in list(node._tasks):
                        task._attempt_delivery_of_any_pending_cancel()
            if node._children:
                pending.extend(node._children)

    def _abandon(self) -> None:
        """The scope has exited (the node has left the tree) while tasks or
        nodes still hang below it: marks them abandoned and cancels them
        (see the class docstring)."""
        stranded = [self]
        while stranded:
            node = stranded.pop()
            node.abandoned_by_misnesting = True
            if node._children:
                stranded.extend(node._children)
        self.effectively_cancelled = True
        for task in list(self._tasks):
            task._attempt_delivery_of_any_pending_cancel()
        for child in self.children():
            child.refresh()

    def effective_deadline(self) -> float:
        """The earliest deadline that can cancel code here: ``-inf`` if
        cancelled already, else the minimum over this scope and the
        enclosing ones up to the first shield."""
        if self.effectively_cancelled:
            return -math.inf
        deadline = self._scope._deadline
        node = self
        while node._parent is not None and not node._scope._shield:
            node = node._parent
            deadline = min(deadline, node._scope._deadline)
        return deadline
