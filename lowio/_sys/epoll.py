"""The epoll selector: where lowio calls ``epoll_ctl`` and ``epoll_wait``.

Masks passed in are complete epoll event masks (EPOLLIN, EPOLLET, ...), built
by the poll layer.  The kernel does the thread-safety: any thread may
register, reregister and deregister while another waits.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import threading
import weakref
from collections.abc import Callable
from typing import Any

from ._errors import blocking_error, os_error, range_error
from ._lifecycle import FdOwner
from ._native import ffi, lib
from .eventfd import EventFd

_ctl = lib.lowio_epoll_ctl
_ADD = lib.EPOLL_CTL_ADD
_MOD = lib.EPOLL_CTL_MOD
_DEL = lib.EPOLL_CTL_DEL
_ADD_ANY = lib.EPOLL_CTL_ADD | lib.LOWIO_CTL_ANY_SOURCE


class EpollSelector(FdOwner):
    """One epoll instance (``epoll_create1(EPOLL_CLOEXEC)``)."""

    KIND = "Poll"
    name = "epoll"

    def __init__(self) -> None:
        fd = lib.lowio_epoll_create()
        if fd < 0:
            raise os_error(fd, "epoll_create1")
        super().__init__(fd)
        self._ep = ffi.new("struct lowio_epoll *")
        self._ep.epfd = fd
        self._waker: weakref.ref[EpollWaker] | None = None
        self._waker_lock = threading.Lock()

    def _on_release(self) -> None:
        self._ep.epfd = -1

    def fileno(self) -> int:
        self.check_open()
        return self._fd

    @property
    def ep_address(self) -> int:
        """The address of this poller's ``struct lowio_epoll`` (valid while
        this object lives; its ``epfd`` is -1 once closed), for the poll
        layer's Registry methods in C, which read it only from an object of
        exactly this type."""
        return int(ffi.cast("uintptr_t", self._ep))

    def bind(self, events_c: Any) -> None:
        """Points an events buffer at this poller (before :attr:`wait`)."""
        events_c.ep = self._ep

    @property
    def wait(self) -> Callable[[Any], int]:
        """``wait(events_c)`` waits ``events_c.timeout_ms`` and fills the
        buffer; returns the count, or a negative code for :meth:`wait_error`.
        One cffi call with one argument: the hot path."""
        return lib.lowio_epoll_wait  # type: ignore[no-any-return]

    @property
    def wait0(self) -> Callable[[Any], int]:
        """Like :attr:`wait` with a timeout of 0, whatever ``timeout_ms`` says."""
        return lib.lowio_epoll_wait0  # type: ignore[no-any-return]

    @property
    def wait_forever(self) -> Callable[[Any], int]:
        """Like :attr:`wait` with no timeout, whatever ``timeout_ms`` says."""
        return lib.lowio_epoll_wait_forever  # type: ignore[no-any-return]

    def wait_error(self, result: int) -> Exception | None:
        """The exception for a negative wait result; None for EINTR (retry)."""
        if result == -errno.EINTR:
            return None
        if result == lib.LOWIO_EBUSY_WAIT:
            return RuntimeError("another thread is already inside poll() on this Poll")
        return self.state_error() or os_error(result, "epoll_wait")

    def register(self, fd: int, token: int, mask: int, any_source: bool = False) -> None:
        """``any_source`` also accepts a socket in blocking mode."""
        try:
            result = _ctl(self._fd, _ADD_ANY if any_source else _ADD, fd, mask, token)
        except OverflowError:
            raise range_error(fd, token, mask) from None
        if result:
            raise self._ctl_error(result, "ADD", fd)

    def reregister(self, fd: int, token: int, mask: int) -> None:
        try:
            result = _ctl(self._fd, _MOD, fd, mask, token)
        except OverflowError:
            raise range_error(fd, token, mask) from None
        if result:
            raise self._ctl_error(result, "MOD", fd)

    def deregister(self, fd: int) -> None:
        try:
            result = _ctl(self._fd, _DEL, fd, 0, 0)
        except OverflowError:
            raise range_error(fd) from None
        if result:
            raise self._ctl_error(result, "DEL", fd)

    def rearm_fn(self, fd: int, token: int, mask: int) -> Callable[[], int]:
        """A prepared ``reregister(fd, token, mask)``: calling it costs one
        cffi call with one argument and returns 0 or -errno (it raises
        nothing; use :meth:`reregister` to get the exception).  It holds
        this poller, not its fd number: after :meth:`close` it returns
        -EBADF, whatever now has that number."""
        self.check_open()
        r = ffi.new("struct lowio_rearm *")
        try:
            r.fd, r.events, r.token = fd, mask, token
        except OverflowError:
            raise range_error(fd, token, mask) from None
        r.ep = self._ep
        rearm = functools.partial(lib.lowio_epoll_rearm, r)
        rearm.poller = self._ep  # type: ignore[attr-defined]  # r.ep points into it
        return rearm

    def _ctl_error(self, result: int, op: str, fd: int) -> Exception:
        state = self.state_error()
        if state is not None:
            return state
        if result == lib.LOWIO_EBLOCKING:
            return blocking_error(fd)
        error = os_error(result, f"epoll_ctl({op}) on fd {fd}")
        if op == "MOD" and result == -errno.EINVAL:
            error = OSError(
                errno.EINVAL,
                f"epoll_ctl(MOD) on fd {fd}: the kernel refuses to modify this "
                "registration (a source registered with exclusive=True cannot be "
                "reregistered: deregister it and register it again)",
            )
        return error

    def new_waker(self, token: int) -> EpollWaker:
        with self._waker_lock:
            self.check_open()
            current = self._waker() if self._waker is not None else None
            if current is not None and not current.closed:
                raise RuntimeError(
                    "this Poll already has a Waker; a Poll supports one at a time "
                    "(close the other first)"
                )
            waker = EpollWaker(self, token)
            self._waker = weakref.ref(waker)
            return waker


class EpollWaker(EventFd):
    """An eventfd registered edge-triggered for reading under ``token``; the
    counter is never read (each write is a new edge), as in mio."""

    KIND = "Waker"

    def __init__(self, selector: EpollSelector, token: int) -> None:
        super().__init__()
        self._selector = selector
        try:
            selector.register(self._fd, token, lib.EPOLLIN | lib.EPOLLET)
        except BaseException:
            super().close()
            raise

    def close(self) -> None:
        if not self.closed and not self._selector.closed:
            with contextlib.suppress(OSError):
                self._selector.deregister(self._fd)
        super().close()
