"""The poll(2) selector: a fallback with epoll's interface and mio's
edge-triggered emulation.

Registrations live in a table owned by Python (``_table``, guarded by
``_lock``); the ``struct pollfd`` arrays handed to the kernel are rebuilt
from it only by the polling thread, before each wait.  A registration change
made by another thread while the poller is blocked writes the selector's
eventfd, so the poller wakes, picks the change up and keeps waiting for the
rest of its timeout.

Edge emulation (the C side, ``lowio_pollset_wait``): as in mio's poll
selector, an EDGE registration stops reporting the readiness bits it has
just reported until the source is reregistered (do it after a read or write
hit EAGAIN), while the bits that did not fire stay armed (a peer's shutdown
is reported after an undrained read event); a ONESHOT registration stops
reporting anything.  A source whose error or hang-up was reported stays
quiet until reregistered.  An event carries the source's full readiness,
as with epoll, and a source closed without deregister is forgotten, as
with epoll, even if its fd number names another file by the next wait.

Deregistering (or reregistering) a source while another thread is blocked
in a wait wakes that wait, which drops the source's events and waits on:
once ``deregister`` has returned, no wait that ends later reports it.
"""

from __future__ import annotations

import errno
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from ._errors import FD_MAX, blocking_error, os_error, range_error
from ._lifecycle import OPEN, FdOwner
from ._native import ffi, lib
from .eventfd import EventFd

_WANTED = lib.EPOLLIN | lib.EPOLLOUT | lib.EPOLLPRI | lib.EPOLLRDHUP
_ALWAYS = lib.EPOLLERR | lib.EPOLLHUP
_pollset_wait = lib.lowio_pollset_wait
_MISSES = int(lib.LOWIO_MISSES)


def _mode_of(mask: int) -> int:
    if mask & lib.EPOLLONESHOT:
        return int(lib.LOWIO_MODE_ONESHOT)
    if mask & lib.EPOLLET:
        return int(lib.LOWIO_MODE_EDGE)
    return int(lib.LOWIO_MODE_LEVEL)


class PollSelector(FdOwner):
    """poll(2)-based selector; ``fileno()`` is its notifier eventfd."""

    KIND = "Poll"
    name = "poll"

    def __init__(self) -> None:
        self._notify = EventFd()
        super().__init__(self._notify.fileno())
        self._finalizer.detach()  # the EventFd owns and closes the fd
        self._lock = threading.Lock()
        # fd -> (token, mask, (st_dev, st_ino)); the truth for the registry
        self._table: dict[int, tuple[int, int, tuple[int, int]]] = {}
        self._dirty: set[int] = set()
        self._index: dict[int, int] = {}  # fd -> slot in the C arrays
        self._in_poll = False
        self._waker_token: int | None = None
        self._waker: weakref.ref[PollWaker] | None = None
        self._wake_pending = False
        self._ident = ffi.new("uint64_t[2]")
        self._ps = ffi.new("struct lowio_pollset *")
        self._arrays: tuple[Any, ...] = ()
        self._reported: Any = None
        self._grow(16)
        self._ps.nfds = 1
        self._ps.fds[0].fd = self._fd
        self._ps.fds[0].events = lib.EPOLLIN

    def _on_release(self) -> None:
        self._notify._release(self._state)

    def fileno(self) -> int:
        self.check_open()
        return self._fd

    # ---- the C arrays (polling thread only) ----

    def _grow(self, capacity: int) -> None:
        fds = ffi.new("struct pollfd[]", capacity)
        tokens = ffi.new("uint64_t[]", capacity)
        wanted = ffi.new("uint32_t[]", capacity)
        armed = ffi.new("uint32_t[]", capacity)
        modes = ffi.new("uint8_t[]", capacity)
        dev = ffi.new("uint64_t[]", capacity)
        ino = ffi.new("uint64_t[]", capacity)
        arrays = (fds, tokens, wanted, armed, modes, dev, ino)
        if self._arrays:
            used = self._ps.nfds
            for new, old in zip(arrays, self._arrays, strict=True):
                ffi.memmove(new, old, used * (ffi.sizeof(old) // len(old)))
        self._arrays = arrays
        # one entry per event a wait reports (at most one per source)
        self._reported = ffi.new("struct pollfd[]", capacity)
        ps = self._ps
        ps.fds, ps.tokens, ps.wanted, ps.armed, ps.modes, ps.dev, ps.ino = arrays
        ps.reported = self._reported

    def _sync(self) -> None:
        ps = self._ps
        fds, tokens, wanted_bits, armed, modes, dev, ino = self._arrays
        for fd in self._dirty:
            entry = self._table.get(fd)
            slot = self._index.get(fd)
            if entry is None:
                if slot is not None:
                    self._remove_slot(fd, slot)
                continue
            if slot is None:
                if ps.nfds == len(fds):
                    self._grow(2 * len(fds))
                    fds, tokens, wanted_bits, armed, modes, dev, ino = self._arrays
                slot = ps.nfds
                ps.nfds += 1
                self._index[fd] = slot
            token, mask, (dev[slot], ino[slot]) = entry
            wanted = mask & _WANTED
            fds[slot].fd = fd
            fds[slot].events = wanted
            fds[slot].revents = 0
            tokens[slot] = token
            wanted_bits[slot] = wanted
            armed[slot] = wanted | _ALWAYS
            modes[slot] = _mode_of(mask)
        self._dirty.clear()

    def _remove_slot(self, fd: int, slot: int) -> None:
        ps = self._ps
        last = ps.nfds - 1
        del self._index[fd]
        if slot != last:
            for array in self._arrays:
                array[slot] = array[last]
            moved = ps.fds[slot].fd
            self._index[moved if moved >= 0 else -moved - 1] = slot
        ps.nfds = last

    # ---- waiting ----

    def bind(self, events_c: Any) -> None:
        events_c.ep = ffi.NULL

    @property
    def wait(self) -> Callable[[Any], int]:
        return self._wait

    @property
    def wait0(self) -> Callable[[Any], int]:
        return self._wait0

    @property
    def wait_forever(self) -> Callable[[Any], int]:
        return self._wait_forever

    def _wait(self, events_c: Any) -> int:
        return self._wait_restoring(events_c, int(events_c.timeout_ms))

    def _wait0(self, events_c: Any) -> int:
        return self._wait_restoring(events_c, 0)

    def _wait_forever(self, events_c: Any) -> int:
        return self._wait_restoring(events_c, -1)

    def _wait_restoring(self, events_c: Any, timeout_ms: int) -> int:
        requested = events_c.timeout_ms
        try:
            return self._wait_loop(events_c, timeout_ms)
        finally:
            events_c.timeout_ms = requested

    def _wait_loop(self, events_c: Any, timeout_ms: int) -> int:
        deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms > 0 else 0.0
        while True:
            with self._lock:
                if self._state != OPEN:
                    return -errno.EBADF
                if self._in_poll:
                    return int(lib.LOWIO_EBUSY_WAIT)
                if self._dirty:
                    self._sync()
                if self._wake_pending:
                    timeout_ms = 0
                self._in_poll = True
            events_c.timeout_ms = timeout_ms
            n = -errno.EINTR
            try:
                n = _pollset_wait(self._ps, events_c)
            finally:
                with self._lock:
                    self._in_poll = False
                    # registrations changed during the wait: their events
                    # are stale (the next wait reports them anew)
                    if self._dirty and n > 0:
                        n = self._drop_changed(events_c, n)
                    stale = bool(self._dirty)
            if n < 0:
                return n
            misses: int = n & lib.LOWIO_MISSES
            n ^= misses
            if self._wake_pending and n < events_c.capacity:
                with self._lock:
                    token = self._waker_token
                    if self._wake_pending and token is not None:
                        self._wake_pending = False
                        events_c.out[n] = (token << lib.LOWIO_FLAG_BITS) | lib.EPOLLIN
                        if events_c.table_mask:  # not interned: Events looks it up
                            events_c.ids[n] = 0
                            misses = lib.LOWIO_MISSES
                        n += 1
            if n or timeout_ms == 0 or not (self._ps.notified or stale):
                return n | misses
            # Woken only to pick up registration changes: wait out the rest.
            if timeout_ms > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return 0
                timeout_ms = max(1, int(left * 1000 + 0.999))

    def _drop_changed(self, events_c: Any, result: int) -> int:
        """Removes from a wait's result the events of sources in ``_dirty``
        (caller holds the lock); returns the new result."""
        misses = result & _MISSES
        n = result ^ misses
        reported, out, ids = self._reported, events_c.out, events_c.ids
        kept = 0
        for k in range(n):
            fd = reported[k].fd
            if (fd if fd >= 0 else -fd - 1) in self._dirty:
                continue
            if kept != k:
                out[kept] = out[k]
                ids[kept] = ids[k]
            kept += 1
        return kept | misses

    def wait_error(self, result: int) -> Exception | None:
        if result == -errno.EINTR:
            return None
        if result == lib.LOWIO_EBUSY_WAIT:
            return RuntimeError("another thread is already inside poll() on this Poll")
        return self.state_error() or os_error(result, "poll")

    # ---- registration (any thread) ----

    def _check_source(self, fd: int, op: str, check_blocking: bool = False) -> tuple[int, int]:
        try:
            result = lib.lowio_check_source(fd, self._ident)
        except OverflowError:
            raise range_error(fd) from None
        if result < 0:
            raise os_error(result, f"poll selector {op} on fd {fd}")
        if result == lib.LOWIO_SOURCE_REGULAR:
            raise os_error(-errno.EPERM, f"poll selector {op} on fd {fd}")
        if result == lib.LOWIO_SOURCE_BLOCKING and check_blocking:
            raise blocking_error(fd)
        return (int(self._ident[0]), int(self._ident[1]))

    def _changed(self, fd: int) -> None:
        self._dirty.add(fd)
        if self._in_poll:
            self._notify.wake()

    def _checked_mask(self, fd: int, token: int, mask: int) -> int:
        """``mask``, if it fits this selector (and ``fd``, ``token`` and
        ``mask`` fit the C arrays: the raw interface does not check them)."""
        if not (0 <= fd <= FD_MAX and 0 <= token < 2**64 and 0 <= mask < 2**32):
            raise range_error(fd, token, mask)
        if mask & (lib.EPOLLEXCLUSIVE | lib.EPOLLWAKEUP):
            raise ValueError(
                "exclusive=True and wakeup=True need the epoll selector; this Poll uses poll(2)"
            )
        return mask

    def register(self, fd: int, token: int, mask: int, any_source: bool = False) -> None:
        """``any_source`` also accepts a socket in blocking mode."""
        mask = self._checked_mask(fd, token, mask)
        with self._lock:
            self.check_open()
            ident = self._check_source(fd, "register", check_blocking=not any_source)
            old = self._table.get(fd)
            if old is not None and old[2] == ident:
                raise os_error(-errno.EEXIST, f"poll selector register on fd {fd}")
            # (a different file on a reused fd number replaces the stale entry,
            # as epoll forgets a registration when its file is closed)
            self._table[fd] = (token, mask, ident)
            self._changed(fd)

    def reregister(self, fd: int, token: int, mask: int) -> None:
        mask = self._checked_mask(fd, token, mask)
        with self._lock:
            self.check_open()
            ident = self._check_source(fd, "reregister")
            old = self._table.get(fd)
            if old is None or old[2] != ident:
                raise os_error(-errno.ENOENT, f"poll selector reregister on fd {fd}")
            self._table[fd] = (token, mask, ident)
            self._changed(fd)

    def rearm_fn(self, fd: int, token: int, mask: int) -> Callable[[], int]:
        """A prepared ``reregister(fd, token, mask)`` returning 0 or -errno."""
        self.check_open()
        self._checked_mask(fd, token, mask)

        def rearm() -> int:
            if self._state != OPEN:
                return -errno.EBADF
            try:
                self.reregister(fd, token, mask)
            except OSError as exc:
                return -(exc.errno or errno.EINVAL)
            except ValueError:  # the fd, token or mask does not fit
                return -errno.EINVAL
            return 0

        return rearm

    def deregister(self, fd: int) -> None:
        with self._lock:
            self.check_open()
            ident = self._check_source(fd, "deregister")
            old = self._table.get(fd)
            if old is None or old[2] != ident:
                raise os_error(-errno.ENOENT, f"poll selector deregister on fd {fd}")
            del self._table[fd]
            self._changed(fd)

    # ---- waker ----

    def new_waker(self, token: int) -> PollWaker:
        with self._lock:
            self.check_open()
            current = self._waker() if self._waker is not None else None
            if current is not None and not current.closed:
                raise RuntimeError(
                    "this Poll already has a Waker; a Poll supports one at a time "
                    "(close the other first)"
                )
            waker = PollWaker(self)
            self._waker = weakref.ref(waker)
            self._waker_token = token
            self._wake_pending = False
            return waker

    def _wake(self) -> None:
        self._wake_pending = True
        self._notify.wake()

    def _drop_waker(self) -> None:
        with self._lock:
            self._waker_token = None
            self._wake_pending = False


class PollWaker:
    """The poll selector's waker: it reuses the selector's own eventfd and
    reports its token as readable on the next wait."""

    def __init__(self, selector: PollSelector) -> None:
        self._selector: PollSelector | None = selector

    @property
    def closed(self) -> bool:
        return self._selector is None or self._selector.closed

    def wake(self) -> None:
        selector = self._selector
        if selector is None:
            raise ValueError("I/O operation on closed Waker")
        selector.check_open()
        selector._wake()

    def close(self) -> None:
        selector, self._selector = self._selector, None
        if selector is not None:
            selector._drop_waker()
