"""Task introspection: anyio's ``TaskInfo`` for lowio tasks,
``get_current_task`` and ``get_running_tasks``."""

from __future__ import annotations

import weakref

from anyio import TaskInfo

import lowio.lowlevel
from lowio.lowlevel import Task


class LowioTaskInfo(TaskInfo):
    """A snapshot of a lowio task (id, parent id, name, coroutine) that can
    still tell whether the task has a cancellation pending."""

    __slots__ = ("_task",)

    def __init__(self, task: Task) -> None:
        parent_id = None
        nursery = task.parent_nursery
        if nursery is not None:
            parent_id = id(nursery.parent_task)
        super().__init__(id(task), parent_id, task.name, task.coro)
        self._task = weakref.ref(task)

    def has_pending_cancellation(self) -> bool:
        task = self._task()
        if task is None:  # gone: nothing can be pending
            return False
        status = task._cancel_status
        return status is not None and status.effectively_cancelled


def get_current_task() -> TaskInfo:
    return LowioTaskInfo(lowio.lowlevel.current_task())


def get_running_tasks() -> list[TaskInfo]:
    """The root task and every task below it, walking the nursery tree."""
    root = lowio.lowlevel.current_root_task()
    assert root is not None
    infos: list[TaskInfo] = [LowioTaskInfo(root)]
    nurseries = root.child_nurseries
    while nurseries:
        next_level = []
        for nursery in nurseries:
            for task in nursery.child_tasks:
                infos.append(LowioTaskInfo(task))
                next_level.extend(task.child_nurseries)
        nurseries = next_level
    return infos
