"""Memory channels: ``open_memory_channel`` and its two ends,
``MemorySendChannel`` / ``MemoryReceiveChannel`` (trio's names and rules).

How the state works: one ``_ChannelState`` is shared by every clone of both
ends.  It holds the buffer and two FIFO queues of parked tasks: senders
(each with the value it is trying to send) and receivers.  A parked task's
``custom_sleep_data`` is the handle it is blocked on, so closing a handle can
find (and wake) exactly its own waiters.

Invariants: receivers wait only while the buffer is empty and no sender
waits; senders wait only while the buffer is full and no receiver waits.
A value is handed over by rescheduling the receiver *with* it, so once a
send has succeeded the value belongs to that receiver: a cancellation
arriving afterwards is delivered at the receiver's next checkpoint and the
value is never lost.  A waiter whose wait is cancelled leaves its queue
before the channel changes, so its value is never taken (or duplicated).

All channel operations run in the run's thread.  ``send`` / ``receive`` are
checkpoints written out by hand (the cancel check inline, the schedule
point at the end): the hand-off path is the hot path of task-to-task
communication.
"""

from __future__ import annotations

import math
from abc import ABCMeta
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, cast

from ._abc import ReceiveChannel, ReceiveType, SendChannel, SendType, T
from ._closing import SyncCloseable
from ._core import (
    Abort,
    BrokenResourceError,
    ClosedResourceError,
    EndOfChannel,
    Task,
    WouldBlock,
    cancel_shielded_checkpoint,
    checkpoint_if_cancelled,
    wait_task_rescheduled,
)
from ._core._exceptions import NoPublicConstructor, final
from ._core._local import GLOBAL_RUN_CONTEXT, no_run_error

if TYPE_CHECKING:
    pass

__all__ = [
    "MemoryChannelStatistics",
    "MemoryReceiveChannel",
    "MemorySendChannel",
    "open_memory_channel",
]


class _NoPublicConstructorABC(NoPublicConstructor, ABCMeta):
    """``NoPublicConstructor`` for classes that are also ABCs."""


@dataclass(frozen=True, slots=True)
class MemoryChannelStatistics:
    """A snapshot of a memory channel (``statistics()`` of either end).

    ``current_buffer_used``: values in the buffer; ``max_buffer_size``: as
    given to ``open_memory_channel``; ``open_send_channels`` /
    ``open_receive_channels``: open handles of each end (clones included);
    ``tasks_waiting_send`` / ``tasks_waiting_receive``: tasks blocked in
    ``send`` / ``receive`` on any handle; ``peak_buffer_used``: the most
    values the buffer has held at once.
    """

    current_buffer_used: int
    max_buffer_size: int | float
    open_send_channels: int
    open_receive_channels: int
    tasks_waiting_send: int
    tasks_waiting_receive: int
    peak_buffer_used: int


class _ChannelState(Generic[T]):
    __slots__ = (
        "data",
        "max_buffer_size",
        "open_receive_channels",
        "open_send_channels",
        "peak_buffer_used",
        "receivers",
        "senders",
    )

    def __init__(self, max_buffer_size: int | float) -> None:
        self.max_buffer_size = max_buffer_size
        self.data: deque[T] = deque()
        self.open_send_channels = 0
        self.open_receive_channels = 0
        self.senders: OrderedDict[Task, T] = OrderedDict()  # parked task -> its value
        self.receivers: OrderedDict[Task, None] = OrderedDict()
        self.peak_buffer_used = 0

    def statistics(self) -> MemoryChannelStatistics:
        return MemoryChannelStatistics(
            current_buffer_used=len(self.data),
            max_buffer_size=self.max_buffer_size,
            open_send_channels=self.open_send_channels,
            open_receive_channels=self.open_receive_channels,
            tasks_waiting_send=len(self.senders),
            tasks_waiting_receive=len(self.receivers),
            peak_buffer_used=self.peak_buffer_used,
        )

    def buffer(self, value: T) -> None:
        data = self.data
        data.append(value)
        if len(data) > self.peak_buffer_used:
            self.peak_buffer_used = len(data)


def _wake_with(
    waiting: OrderedDict[Task, Any], handle: object | None, exc: type[Exception]
) -> None:
    """Wakes the parked tasks of ``waiting`` (those blocked on ``handle``,
    or all if it is None), oldest first, each with a new ``exc``."""
    tasks = [t for t in waiting if handle is None or t.custom_sleep_data is handle]
    for task in tasks:
        del waiting[task]
        task._runner.reschedule_raise(task, exc())


class _ChannelHandle(SyncCloseable):
    """What both ends' handles share: the channel state, the closed flag,
    ``statistics()`` and the repr."""

    __slots__ = ("__weakref__", "_closed", "_state")
    _KIND = ""

    def __init__(self, state: _ChannelState[Any]) -> None:
        self._state = state
        self._closed = False

    def __repr__(self) -> str:
        return f"<{self._KIND} channel at {id(self):#x}, using buffer at {id(self._state):#x}>"

    def statistics(self) -> MemoryChannelStatistics:
        """A ``MemoryChannelStatistics`` of the channel (shared by all
        handles of both ends)."""
        return self._state.statistics()


@final
class MemorySendChannel(_ChannelHandle, SendChannel[SendType], metaclass=_NoPublicConstructorABC):
    """The sending end of a memory channel (made by ``open_memory_channel``;
    more handles with ``clone()``).  Any number of tasks may send at once;
    blocked senders are served first come, first served."""

    __slots__ = ()
    _KIND = "send"
    _state: _ChannelState[SendType]

    def __init__(self, state: _ChannelState[SendType]) -> None:
        super().__init__(state)
        state.open_send_channels += 1

    def send_nowait(self, value: SendType) -> None:
        """Sends ``value`` if that needs no waiting: straight to the oldest
        waiting receiver, else into the buffer if it has room.  Not a
        checkpoint.

        Raises ``WouldBlock`` if the buffer is full, ``ClosedResourceError``
        if this handle is closed, ``BrokenResourceError`` if every receive
        handle is closed.
        """
        if self._closed:
            raise ClosedResourceError
        state = self._state
        if not state.open_receive_channels:
            raise BrokenResourceError
        if state.receivers:
            receiver, _ = state.receivers.popitem(last=False)
            receiver._runner.reschedule(receiver, value)
        elif len(state.data) < state.max_buffer_size:
            state.buffer(value)
        else:
            raise WouldBlock

    async def send(self, value: SendType) -> None:
        """Sends ``value``, waiting while the buffer is full.  A checkpoint;
        cancelled, it sends nothing.

        Raises ``ClosedResourceError`` if this handle is closed (also while
        waiting), ``BrokenResourceError`` if every receive handle is (or
        gets) closed.
        """
        task = GLOBAL_RUN_CONTEXT.task
        if task is None:
            raise no_run_error("MemorySendChannel.send()")
        if task._cancel_status.effectively_cancelled or task._ki_pending:
            await checkpoint_if_cancelled()  # raises
        task._cancel_points += 1
        if self._closed:
            raise ClosedResourceError
        state = self._state
        if not state.open_receive_channels:
            raise BrokenResourceError
        receivers = state.receivers
        if receivers:
            receiver, _ = receivers.popitem(last=False)
            receiver._runner.reschedule(receiver, value)
            await cancel_shielded_checkpoint()
            return
        if len(state.data) < state.max_buffer_size:
            state.buffer(value)
            await cancel_shielded_checkpoint()
            return
        senders = state.senders
        senders[task] = value
        task.custom_sleep_data = self

        def abort(_: object) -> Abort:
            del senders[task]
            return Abort.SUCCEEDED

        await wait_task_rescheduled(abort)

    def clone(self) -> MemorySendChannel[SendType]:
        """A new send handle on the same channel: receivers see
        ``EndOfChannel`` only once every handle is closed.  Not a checkpoint.
        ``ClosedResourceError`` if this handle is closed."""
        if self._closed:
            raise ClosedResourceError
        return MemorySendChannel._create(self._state)

    def close(self) -> None:
        """Closes this handle, synchronously (not a checkpoint; idempotent).

        Tasks blocked in ``send`` on this handle get ``ClosedResourceError``.
        When it was the last open send handle, receivers get ``EndOfChannel``
        once the buffer is drained (those waiting now get it at once).
        """
        if self._closed:
            return
        self._closed = True
        state = self._state
        if state.senders:
            _wake_with(state.senders, self, ClosedResourceError)
        state.open_send_channels -= 1
        if state.open_send_channels == 0:
            _wake_with(state.receivers, None, EndOfChannel)


@final
class MemoryReceiveChannel(
    _ChannelHandle, ReceiveChannel[ReceiveType], metaclass=_NoPublicConstructorABC
):
    """The receiving end of a memory channel (made by
    ``open_memory_channel``; more handles with ``clone()``).  Any number of
    tasks may receive at once; each value goes to one of them, and blocked
    receivers are served first come, first served.  ``async for`` receives
    until ``EndOfChannel``."""

    __slots__ = ()
    _KIND = "receive"
    _state: _ChannelState[ReceiveType]

    def __init__(self, state: _ChannelState[ReceiveType]) -> None:
        super().__init__(state)
        state.open_receive_channels += 1

    def receive_nowait(self) -> ReceiveType:
        """Returns the next value if that needs no waiting.  Not a
        checkpoint.

        Raises ``WouldBlock`` if nothing is there, ``EndOfChannel`` if every
        send handle is closed and the buffer is empty,
        ``ClosedResourceError`` if this handle is closed.
        """
        if self._closed:
            raise ClosedResourceError
        state = self._state
        data = state.data
        if state.senders:
            # the oldest sender's value queues behind the buffer (FIFO)
            sender, value = state.senders.popitem(last=False)
            sender._runner.reschedule(sender)
            if not data:
                return value
            data.append(value)
            return data.popleft()
        if data:
            return data.popleft()
        if not state.open_send_channels:
            raise EndOfChannel
        raise WouldBlock

    async def receive(self) -> ReceiveType:
        """Returns the next value, waiting for one.  A checkpoint; cancelled,
        it takes nothing from the channel.

        Raises ``EndOfChannel`` once every send handle is closed and the
        buffer is drained (after a cancel point, without a schedule point),
        ``ClosedResourceError`` if this handle is (or gets) closed.
        """
        task = GLOBAL_RUN_CONTEXT.task
        if task is None:
            raise no_run_error("MemoryReceiveChannel.receive()")
        if task._cancel_status.effectively_cancelled or task._ki_pending:
            await checkpoint_if_cancelled()  # raises
        task._cancel_points += 1
        if self._closed:
            raise ClosedResourceError
        state = self._state
        data = state.data
        senders = state.senders
        if senders:
            sender, value = senders.popitem(last=False)
            sender._runner.reschedule(sender)
            if data:
                data.append(value)
                value = data.popleft()
            await cancel_shielded_checkpoint()
            return value
        if data:
            value = data.popleft()
            await cancel_shielded_checkpoint()
            return value
        if not state.open_send_channels:
            raise EndOfChannel
        receivers = state.receivers
        receivers[task] = None
        task.custom_sleep_data = self

        def abort(_: object) -> Abort:
            del receivers[task]
            return Abort.SUCCEEDED

        value = await wait_task_rescheduled(abort)
        return value

    def clone(self) -> MemoryReceiveChannel[ReceiveType]:
        """A new receive handle on the same channel (the handles share the
        values: each goes to one receiver).  Senders see
        ``BrokenResourceError`` only once every handle is closed.  Not a
        checkpoint.  ``ClosedResourceError`` if this handle is closed."""
        if self._closed:
            raise ClosedResourceError
        return MemoryReceiveChannel._create(self._state)

    def close(self) -> None:
        """Closes this handle, synchronously (not a checkpoint; idempotent).

        Tasks blocked in ``receive`` on this handle get
        ``ClosedResourceError``.  When it was the last open receive handle,
        the buffer is dropped and senders (waiting now or later) get
        ``BrokenResourceError``.
        """
        if self._closed:
            return
        self._closed = True
        state = self._state
        if state.receivers:
            _wake_with(state.receivers, self, ClosedResourceError)
        state.open_receive_channels -= 1
        if state.open_receive_channels == 0:
            _wake_with(state.senders, None, BrokenResourceError)
            state.data.clear()


# a class, so that ``open_memory_channel[int](5)`` spells the value type
@final
class open_memory_channel(tuple["MemorySendChannel[T]", "MemoryReceiveChannel[T]"]):
    """``open_memory_channel(max_buffer_size)`` -> ``(send_channel,
    receive_channel)``: a channel passing Python objects between tasks of
    one run, with no copying or serialization (data flows left to right).

    ``max_buffer_size`` (an int >= 0, or ``math.inf``) is how many values
    may wait in the buffer before ``send`` blocks; 0 makes every send wait
    for a receiver.  ``TypeError`` if it is neither an int nor ``math.inf``,
    ``ValueError`` if negative.

    Both ends are ``AsyncResource`` s, closable synchronously too
    (``close()``, ``with``); closing is not required but tells the other
    side (``EndOfChannel``, ``BrokenResourceError``).  They are not closed
    when garbage collected.  Operations are atomic with respect to
    cancellation: a cancelled ``send`` sent nothing, a cancelled
    ``receive`` took nothing.
    """

    def __new__(  # type: ignore[misc]
        cls, max_buffer_size: int | float
    ) -> tuple[MemorySendChannel[T], MemoryReceiveChannel[T]]:
        if max_buffer_size != math.inf and (
            not isinstance(max_buffer_size, int) or isinstance(max_buffer_size, bool)
        ):
            raise TypeError("max_buffer_size must be an integer or math.inf")
        if max_buffer_size < 0:
            raise ValueError("max_buffer_size must be >= 0")
        state: _ChannelState[T] = _ChannelState(max_buffer_size)
        # the plain classes: subscripting them here would build a typing
        # alias on every call, for nothing at run time
        return (
            cast("MemorySendChannel[T]", MemorySendChannel._create(state)),
            cast("MemoryReceiveChannel[T]", MemoryReceiveChannel._create(state)),
        )

    def __init__(self, max_buffer_size: int | float) -> None: ...
