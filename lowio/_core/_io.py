"""The I/O manager: ``wait_readable`` / ``wait_writable`` /
``notify_closing`` on lowio's ``Poll``, with the readiness cache of
docs/design.md §3.

* One persistent edge-triggered registration per fd (EPOLLIN|EPOLLRDHUP,
  EPOLLOUT added lazily on the first write wait).  Its token is
  ``generation << SLOT_BITS | slot``: events of an older registration of
  the slot (a closed fd, a reused fd number) are recognised and dropped.
* Per direction: a waiting task (ARMED), or a READY flag (an edge arrived
  while nobody waited), or neither (UNKNOWN).
* ``wait_readable``: on an fd that a lowio object owns (its registration
  was claimed, see :meth:`IOManager.claim`), READY is consumed (still a
  checkpoint, during which the direction stays taken: a second waiter gets
  ``BusyResourceError``).  READY is trusted only there: lowio sees every
  EAGAIN of its own objects, but not what a program did with an fd of its
  own since the edge (it may have filled or drained it), so a wait on such
  an fd always asks the kernel.  Otherwise one ``epoll_ctl(MOD)`` re-queues
  an fd that is still ready (a partial read never hangs) and re-validates
  the registration (``ENOENT``, the fd was closed without
  ``notify_closing``: re-ADD with a new generation), then the task parks.
  The first wait on an fd is one ``epoll_ctl(ADD)``.  After an unnotified
  close a cached READY of the old file can make one wait on a reused fd
  number return early (trio allows such spurious wake-ups there); the next
  wait re-validates the registration.
* The owned waits (``wait_owned_*``) are for lowio's own objects, which
  call them only right after a syscall hit EAGAIN: the next arrival is then
  an edge, so they park with no ``epoll_ctl`` at all.  The owned fast path
  built on them lives in ``lowio._owned_fast_path``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import types
import weakref
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from .._sys._heap import raise_heap_thresholds
from ..poll import Events, Poll, Waker, flags
from ._exceptions import BusyResourceError, ClosedResourceError
from ._io_core import configure as _configure_dispatch
from ._io_core import dispatch as _dispatch
from ._local import GLOBAL_RUN_CONTEXT, no_run_error
from ._traps import Abort, Park, checkpoint

if TYPE_CHECKING:
    from ._run import Runner
    from ._task import Task

SLOT_BITS = 22
SLOT_MASK = (1 << SLOT_BITS) - 1
GEN_LIMIT = 1 << (flags.TOKEN_BITS - SLOT_BITS)  # tokens are slot + generation
WAKER_TOKEN = 0  # slots 0 and 1 are never handed out
SIGNAL_WAKEUP_TOKEN = 1  # the signal wakeup fd (see _ki)
BASE_MASK = flags.IN | flags.RDHUP | flags.ET
WRITE_MASK = BASE_MASK | flags.OUT
READ_BITS = flags.IN | flags.PRI | flags.ERR | flags.HUP | flags.RDHUP
# EOF or an error (reported once), or urgent data (a read stops at its mark):
# after any of them a short read no longer proves the receive buffer empty
UNSURE_BITS = flags.ERR | flags.HUP | flags.RDHUP | flags.PRI
WRITE_BITS = flags.OUT | flags.ERR | flags.HUP
SHIFT = flags.FLAG_BITS
FLAG_MASK = flags.FLAG_MASK
EVENTS_CAPACITY = 1024
BUSY_READ = "another task is already waiting to read from this fd"
BUSY_WRITE = "another task is already waiting to write to this fd"


def fd_of(source: object) -> int:
    """The fd of an int or of an object with ``fileno()``.  ``TypeError``
    for anything else; ``OSError(EBADF)`` for a closed object (fd -1)."""
    kind = type(source)
    fd: int
    if kind is int:
        fd = source  # type: ignore[assignment]
    elif kind is socket.socket:
        fd = source.fileno()  # type: ignore[attr-defined]
    else:
        if isinstance(source, bool):
            raise TypeError("expected an fd (int) or an object with fileno(), not bool")
        if isinstance(source, int):
            fd = int(source)
        else:
            fileno = getattr(source, "fileno", None)
            if fileno is None:
                raise TypeError(
                    f"expected an fd (int) or an object with fileno(), not {type(source).__name__}"
                )
            fd = fileno()
            if isinstance(fd, bool) or not isinstance(fd, int):
                raise TypeError(f"{type(source).__name__}.fileno() returned {fd!r}, not an int")
    if fd < 0:
        raise OSError(errno.EBADF, f"bad file descriptor {fd} (is the source closed?)")
    return fd


class _Held:
    """What ``read_task`` / ``write_task`` hold while a wait consumes READY
    in its checkpoint: the direction is taken (a second waiter is refused
    with ``BusyResourceError``) but no task is parked (an event meanwhile
    sets READY again instead of waking anybody).  Falsy, so that the event
    loop's "is anybody parked" test stays one truth test."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "<lowio: held by a READY wait>"


HELD: Any = _Held()


class FdState:
    """The cache entry of one fd (see the module docstring)."""

    __slots__ = (
        "abort_read",
        "abort_write",
        "drained",
        "fd",
        "mask",
        "owned",
        "read_ready",
        "read_task",
        "read_unsure",
        "rearm",
        "slot",
        "token",
        "write_ready",
        "write_task",
    )

    def __init__(self, fd: int, slot: int, token: int) -> None:
        self.fd = fd
        self.slot = slot
        self.token = token
        self.mask = BASE_MASK
        self.read_task: Task | None = None
        self.write_task: Task | None = None
        self.read_ready = False
        self.write_ready = False
        # a lowio object claimed the registration: READY can be trusted
        self.owned = False
        # the owner's last read proved the receive buffer empty, and no wait
        # has consumed an edge since (set and used by lowio._owned_fast_path;
        # every read-direction wait and re-registration clears it)
        self.drained = False
        # an event said EOF, error or urgent data (UNSURE_BITS): sticky, a
        # short read never again proves the buffer empty (no later edge
        # repeats an EOF; a read stops at an urgent mark with data behind it)
        self.read_unsure = False
        self.abort_read = Park(self._abort_read)  # the traps its waits yield
        self.abort_write = Park(self._abort_write)
        self.rearm: Callable[[], int] | None = None  # a prepared MOD for (token, mask)

    def _abort_read(self, _: object) -> Abort:
        self.read_task = None
        return Abort.SUCCEEDED

    def _abort_write(self, _: object) -> Abort:
        self.write_task = None
        return Abort.SUCCEEDED


_dispatch_configured = False


class IOManager:
    """Owns the run's ``Poll``, its ``Events`` buffer and its ``Waker``.
    Used from the run's thread only, except :meth:`wake`."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self.poll = Poll()
        try:
            self.events = Events(EVENTS_CAPACITY, objects=False)
            self.waker = Waker(self.poll.registry, WAKER_TOKEN)
        except BaseException:
            self.poll.close()
            raise
        registry = self.poll.registry
        self._add = registry.register_mask
        self._mod = registry.reregister_mask
        self._rearm_fn = registry.rearm_fn
        self._del = registry.deregister
        self._slots: list[FdState | None] = [None, None]
        self._gens: list[int] = [0, 0]
        self._free: list[int] = []
        self._states: dict[int, FdState] = {}
        _managers.add(self)
        # once per process: glibc keeps the heap that large receive buffers
        # cycle through instead of trimming and faulting it in again (§3.7)
        raise_heap_thresholds()
        global _dispatch_configured
        if not _dispatch_configured:
            from ._task import Task

            _configure_dispatch(
                FdState, Task, SHIFT, SLOT_MASK, FLAG_MASK, READ_BITS, UNSURE_BITS, WRITE_BITS
            )
            _dispatch_configured = True

    def close(self) -> None:
        self.waker.close()
        self.poll.close()

    def wake(self) -> None:
        """Wakes the run loop from any thread (the ``Waker``)."""
        self.waker.wake()

    # ---- the loop's side (the runner polls and hands the events here) ----

    def _process(self, packed: Any) -> None:
        runner = self._runner
        if not runner.instruments.active:
            # the loop below, in C (_io_core.c)
            _dispatch(packed, self._slots, runner.runq)
            return
        # With instruments: each task woken calls the task_scheduled hook.
        # The read and write branches repeat each other on purpose (speed).
        slots = self._slots
        runq = runner.runq
        call = runner.instruments.call
        for value in packed:
            token = value >> SHIFT
            state = slots[token & SLOT_MASK]
            if state is None or state.token != token:
                continue  # the waker, or a stale registration
            bits = value & FLAG_MASK
            if bits & READ_BITS:
                if bits & UNSURE_BITS:
                    state.read_unsure = True
                task = state.read_task
                if not task:  # None, or HELD by a wait consuming READY
                    state.read_ready = True
                else:  # runner.reschedule(task), inlined
                    state.read_task = None
                    task._abort = None
                    task.custom_sleep_data = None
                    task._fn = task._send
                    task._arg = None
                    runq.append(task)
                    call("task_scheduled", task)
            if bits & WRITE_BITS:
                task = state.write_task
                if not task:
                    state.write_ready = True
                else:
                    state.write_task = None
                    task._abort = None
                    task.custom_sleep_data = None
                    task._fn = task._send
                    task._arg = None
                    runq.append(task)
                    call("task_scheduled", task)

    # ---- registrations ----

    def _new_state(self, fd: int, mask: int = BASE_MASK) -> FdState:
        """Registers ``fd`` (one ``epoll_ctl(ADD)``, which also reports an
        fd that is ready already)."""
        slot = self._free.pop() if self._free else len(self._slots)
        if slot == len(self._slots):
            if slot > SLOT_MASK:
                raise OSError(errno.EMFILE, "too many fds registered with this lowio run")
            self._slots.append(None)
            self._gens.append(0)
        gen = self._gens[slot] = (self._gens[slot] + 1) % GEN_LIMIT
        state = FdState(fd, slot, gen << SLOT_BITS | slot)
        state.mask = mask
        try:
            self._register(state)
        except BaseException as exc:
            self._free.append(slot)
            if isinstance(exc, OSError) and exc.errno == errno.EBADF:
                # trio's (the OS's) plain text, which programs match on;
                # the poller's detailed one stays chained
                raise OSError(errno.EBADF, os.strerror(errno.EBADF)) from exc
            raise
        self._slots[slot] = state
        self._states[fd] = state
        return state

    def _register(self, state: FdState) -> None:
        try:
            self._add(state.fd, state.token, state.mask, any_source=True)
        except FileExistsError:
            # registered under an older state that notify_closing never
            # dropped (a closed fd whose number came back): take it over
            self._mod(state.fd, state.token, state.mask)

    def _arm(self, state: FdState, mask: int) -> None:
        """One ``epoll_ctl(MOD)``: re-queues an fd that is still ready and
        checks that the registration is for the file the fd now names."""
        rearm = state.rearm
        if rearm is not None and mask == state.mask and not rearm():
            return
        self._arm_slow(state, mask)

    def _arm_slow(self, state: FdState, mask: int) -> None:
        """``_arm`` when its prepared ``epoll_ctl`` is missing (a new
        registration), is for another mask, or failed: the call that raises
        the right exception or re-registers, then a new prepared one."""
        state.rearm = None
        try:
            self._mod(state.fd, state.token, mask)
        except FileNotFoundError:
            # closed without notify_closing (epoll dropped it) and maybe
            # reused: register again under a new generation
            slot = state.slot
            gen = self._gens[slot] = (self._gens[slot] + 1) % GEN_LIMIT
            state.token = gen << SLOT_BITS | slot
            state.read_ready = state.write_ready = state.read_unsure = state.drained = False
            state.mask = mask
            self._register(state)
        state.mask = mask
        state.rearm = self._rearm_fn(state.fd, state.token, mask)

    def _forget(self, state: FdState) -> None:
        state.drained = False
        del self._states[state.fd]
        self._slots[state.slot] = None
        self._free.append(state.slot)

    def claim(self, owner: Any, write: bool) -> FdState:
        """Makes sure ``owner._state`` is the cache entry for ``owner._fd``
        and a live registration of the file that fd names now (one
        ``epoll_ctl`` when it was not), with ``owner._read_extra`` (extra
        epoll bits, e.g. ``EPOLLPRI``) and, if ``write``, ``EPOLLOUT`` in its
        mask; marks it owned (READY is trusted from now on) and returns it.

        ``owner`` is a lowio socket or ``FdStream`` (see
        ``lowio._owned_fast_path``).  Owners call it before an owned wait:
        an entry may be left over from an older file with the same number
        that was closed without ``notify_closing``, and the owned waits,
        which trust the entry, must not park on it."""
        fd = owner._fd
        state = self._states.get(fd)
        mask = (WRITE_MASK if write else BASE_MASK) | owner._read_extra
        if state is not None and state is owner._state:
            if mask & ~state.mask:
                self._arm(state, state.mask | mask)
            return state
        if state is None:
            state = self._new_state(fd, mask)
        else:
            self._arm(state, state.mask | mask)  # ENOENT (a stale entry): re-registers
            state.drained = False
        state.owned = True
        owner._state = state
        return state

    # ---- the public waits ----

    # Each wait is one generator (no nested coroutines): it is on the hot
    # path of every lowio I/O operation.  wait_readable and wait_writable
    # repeat each other on purpose (speed): do not fold them.

    @types.coroutine
    def wait_readable(self, fd: int) -> Generator[Any, Any, None]:
        state = self._states.get(fd)
        if state is None:
            state = self._new_state(fd)
        elif state.read_task is not None:
            raise BusyResourceError(BUSY_READ)
        elif state.read_ready and state.owned:
            state.read_ready = state.drained = False
            state.read_task = HELD
            try:
                yield from checkpoint()
            finally:
                if state.read_task is HELD:
                    state.read_task = None
            if state.fd < 0:  # notify_closing ran during the checkpoint
                raise ClosedResourceError("another task closed this fd")
            return
        else:
            state.read_ready = False  # not trusted: the MOD asks the kernel again
            rearm = state.rearm  # _arm, inlined: one C call
            if rearm is None or rearm():
                self._arm_slow(state, state.mask)
        task = GLOBAL_RUN_CONTEXT.task
        if task is None:
            raise no_run_error("wait_readable()")
        state.drained = False
        state.read_task = task
        yield state.abort_read

    @types.coroutine
    def wait_writable(self, fd: int) -> Generator[Any, Any, None]:
        state = self._states.get(fd)
        if state is None:
            state = self._new_state(fd, WRITE_MASK)
        elif state.write_task is not None:
            raise BusyResourceError(BUSY_WRITE)
        elif state.write_ready and state.owned:
            state.write_ready = False
            state.write_task = HELD
            try:
                yield from checkpoint()
            finally:
                if state.write_task is HELD:
                    state.write_task = None
            if state.fd < 0:  # notify_closing ran during the checkpoint
                raise ClosedResourceError("another task closed this fd")
            return
        else:
            state.write_ready = False  # not trusted: the MOD asks the kernel again
            self._arm(state, state.mask | flags.OUT)
        task = GLOBAL_RUN_CONTEXT.task
        if task is None:
            raise no_run_error("wait_writable()")
        state.write_task = task
        yield state.abort_write

    @types.coroutine
    def wait_owned_readable(self, fd: int) -> Generator[Any, Any, None]:
        """For lowio's own objects, right after a read hit EAGAIN: parks
        until the next edge with no ``epoll_ctl``.  A checkpoint."""
        state = self._states.get(fd) or self._new_state(fd)
        if state.read_task is not None:
            raise BusyResourceError(BUSY_READ)
        task = GLOBAL_RUN_CONTEXT.task
        if task is None:
            raise no_run_error("wait_readable()")
        state.read_ready = state.drained = False
        state.read_task = task
        yield state.abort_read

    @types.coroutine
    def wait_owned_writable(self, fd: int) -> Generator[Any, Any, None]:
        """Like :meth:`wait_owned_readable`, after a write hit EAGAIN or was
        short (EPOLLOUT is added to the registration the first time)."""
        state = self._states.get(fd) or self._new_state(fd, WRITE_MASK)
        if state.write_task is not None:
            raise BusyResourceError(BUSY_WRITE)
        if not state.mask & flags.OUT:
            self._arm(state, state.mask | flags.OUT)
        task = GLOBAL_RUN_CONTEXT.task
        if task is None:
            raise no_run_error("wait_writable()")
        state.write_ready = False
        state.write_task = task
        yield state.abort_write

    def notify_closing(self, fd: int) -> None:
        """Wakes the tasks waiting on ``fd`` with ``ClosedResourceError`` and
        drops its registration; call it just before closing the fd."""
        state = self._states.get(fd)
        if state is None:
            return
        self._forget(state)
        state.fd = -1  # for a wait in the READY path's checkpoint
        reschedule_raise = self._runner.reschedule_raise
        for task in (state.read_task, state.write_task):
            if task:  # parked (not None, not HELD: that one checks fd itself)
                reschedule_raise(task, ClosedResourceError("another task closed this fd"))
        state.read_task = state.write_task = None
        with contextlib.suppress(OSError):  # closed (and maybe reused): epoll dropped it
            self._del(fd)

    # ---- statistics ----

    def statistics(self) -> IOStatistics:
        read = sum(1 for s in self._states.values() if s.read_task)
        write = sum(1 for s in self._states.values() if s.write_task)
        return IOStatistics(read, write)


_managers: weakref.WeakSet[IOManager] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # The parent's poller is unusable in a forked child (the poll layer
    # raises RuntimeError).  Forget the cache (READY flags, registrations)
    # so that every wait asks the poller, and so raises, instead of
    # trusting readiness cached for the parent.
    for manager in list(_managers):
        for state in manager._states.values():
            state.drained = False  # an owner's next recv goes to the poller too
        manager._states = {}


os.register_at_fork(after_in_child=_after_fork_in_child)


class IOStatistics:
    """``current_statistics().io_statistics``."""

    __slots__ = ("backend", "tasks_waiting_read", "tasks_waiting_write")

    def __init__(self, read: int, write: int) -> None:
        self.tasks_waiting_read = read
        self.tasks_waiting_write = write
        self.backend = "epoll"

    def __repr__(self) -> str:
        return (
            f"IOStatistics(tasks_waiting_read={self.tasks_waiting_read}, "
            f"tasks_waiting_write={self.tasks_waiting_write}, backend={self.backend!r})"
        )


# What an owner holds before it claimed anything: an entry that is never in
# the cache (its fd is -1), so owners read its flags without a type check.
UNCLAIMED = FdState(-1, -1, -1)

__all__ = [
    "BUSY_READ",
    "BUSY_WRITE",
    "HELD",
    "UNCLAIMED",
    "FdState",
    "IOManager",
    "IOStatistics",
    "fd_of",
]
