"""The owned fast path (docs/design.md §3.4): I/O on the fds lowio owns -- its sockets
(``lowio.socket``), ``FdStream``, and the streams built on them (anyio's on
lowio, the high-level streams).

Every operation here is one flat generator-based coroutine and a
checkpoint:

1. a cancel check (a cancel point: ``Cancelled`` before any system call);
2. the system call on the non-blocking fd; if it succeeds, a schedule point
   (never a cancel point, so data read is never lost to a cancellation)
   and done; an error other than EAGAIN is raised after a schedule point
   (trio's ``_try_sync``: the call is a checkpoint whatever its outcome);
3. on EAGAIN the owner *claims* the fd's registration
   (``IOManager.claim``: one ``epoll_ctl`` the first time, or when the
   cache holds an entry left over from an older file with the same
   number) and the task parks on the persistent edge-triggered
   registration with **no** ``epoll_ctl`` (EAGAIN proves that the next
   arrival is a new edge); it retries when woken.

An *owner* is an object with these attributes (lowio's ``SocketType`` and
``FdStream`` are the two kinds):

* ``_fd``: the fd, ``-1`` once closed;
* ``_state``: the registration claimed, ``UNCLAIMED`` before;
* ``_read_extra``: epoll bits its registration needs besides the default
  ones (``EPOLLPRI`` for TCP, see the drained rule), else 0;
* ``_send(data) -> int``: one non-blocking write (for :func:`send_all`);
* ``_short_write_full``: whether a short write proves the send buffer full,
  so the next room is an edge (:func:`send_all` then parks after one
  instead of writing again until EAGAIN);
* sockets only, for :func:`recv`: ``_recv(bufsize, flags) -> bytes`` and
  ``_drain`` (``NEVER``, ``VERIFY`` or ``SOUND``, see below).

**The drained rule** (:func:`recv`): a ``recv`` shorter than asked for
emptied the receive buffer, so the next ``recv`` waits for the next edge
before its system call (tokio's rule: one failing ``recv`` less per
message).  That is true only where the kernel says so, which on Linux is
TCP alone (``tcp_recvmsg`` returns less than asked only when the queue is
empty -- or at FIN, an urgent mark, or below ``SO_RCVLOWAT``), and only
when every later arrival is an edge.  It is false, so the rule is off:

* for datagram and seqpacket sockets (one message per call);
* for AF_UNIX stream sockets (a read stops after a message carrying
  SCM_RIGHTS, at a change of sender with ``SO_PASSCRED``, at an
  ``MSG_OOB`` mark) and every other family or protocol (SCTP, MPTCP);
* with ``SO_RCVLOWAT`` above 1 (no edge until that much is queued, while a
  ``recv`` would return less at once) or a ULP such as kTLS: both are read
  with ``getsockopt`` once per socket before the rule is first used
  (``VERIFY`` -> ``SOUND`` or ``NEVER``), and again after lowio's
  ``setsockopt`` changes one of them;
* after urgent data: TCP registrations carry ``EPOLLPRI``, and an event
  with it (or with EOF or an error: no later edge repeats those) makes the
  cache entry ``read_unsure`` for good; an ``MSG_OOB`` read turns the rule
  off for the socket;
* for reads with flags (``MSG_PEEK`` ...), and for the other read calls
  (``recv_into``, ``recvfrom``, ``recvmsg``, ...), which never use it;
* once any wait consumed an edge of the fd since the short read (a raw
  ``wait_readable``, another read call that parked): every read-direction
  wait clears the entry's ``drained`` flag, and a short read sets it only
  while nobody waits.

What it cannot see: an option set or urgent data read through another
handle of the same socket (a ``dup``, the bare fd number) after the check.
``FdStream`` (pipes, TTYs: a packet-mode pipe or a TTY in canonical mode
returns one packet or line per read) never uses the rule.

**recv's schedule point** comes before its system call (a cancel check,
the schedule point, the read), where the other operations have it after
theirs: a program echoing what it receives then reads and sends with no
other task in between, while the message is still in the CPU's cache (with
a hundred busy connections the tasks woken together would otherwise all
read before any of them sends: the send then copies from memory).  Every
``recv`` is still a cancel point and a schedule point, and data read is
still never lost to a cancellation (the read is the last step).  A socket
closed by another task during the schedule point gives ``OSError(EBADF)``,
as an operation on a closed socket does.

lowio's sockets run :func:`recv` and :func:`send` as ``recv_op`` and
``send_op``: C awaitables (``lowio/_owned_ops.c``) doing the usual cases of
the same steps, which hand the rest to :func:`recv`, :func:`send`,
``_recv_parked`` and ``_send_parked`` where it happens.  A change to those
steps here must be made there too.

The functions take the owner first; none is thread-safe (the run's thread
only).  ``RuntimeError`` outside a run; ``BusyResourceError`` if another
task waits in the same direction; ``ClosedResourceError`` if the fd is
closed (``notify_closing``) while the task waits; other errors are the
system call's ``OSError``.
"""

from __future__ import annotations

import socket as _stdlib_socket
import types
from collections.abc import Callable, Generator
from typing import Any, Protocol, TypeVar

from ._core._cancel_status import CancelStatus as _CancelStatus
from ._core._exceptions import BusyResourceError
from ._core._io import BUSY_READ as _BUSY_READ
from ._core._io import BUSY_WRITE as _BUSY_WRITE
from ._core._io import FdState, fd_of
from ._core._local import GLOBAL_RUN_CONTEXT, no_run_error
from ._core._task import Task
from ._core._traps import CHECKPOINT, DELIVER_PENDING
from ._owned_ops import bind as _bind_ops
from ._owned_ops import configure as _configure_ops
from ._owned_ops import method as _ops_method
from ._owned_ops import recv_op as _recv_op
from ._owned_ops import send_op as _send_op
from .poll import flags as _flags

T = TypeVar("T")

_BlockingIOError = BlockingIOError


class Owner(Protocol):
    """What the operations need of an owner (see the module docstring)."""

    _fd: int
    _state: FdState
    _read_extra: int
    _short_write_full: bool

    def _send(self, data: Any, /) -> int: ...


class SocketOwner(Owner, Protocol):
    """An owner that :func:`recv` and :func:`send` accept: a lowio socket."""

    _sock: _stdlib_socket.socket
    _drain: int

    def _recv(self, bufsize: int, flags: int = 0, /) -> bytes: ...

    def _send(self, data: Any, flags: int = 0, /) -> int: ...


# ``_drain`` values: the drained rule never applies; applies once the
# socket's options are checked; applies.
NEVER = 0
VERIFY = 1
SOUND = 2

TCP_ULP = getattr(_stdlib_socket, "TCP_ULP", 31)  # Linux's; Python does not name it
_RULE_OPTIONS = {
    (_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_RCVLOWAT),
    (_stdlib_socket.IPPROTO_TCP, TCP_ULP),
}
_MSG_OOB = _stdlib_socket.MSG_OOB


# ---- what an owner sets up ----


def socket_rules(sock: _stdlib_socket.socket) -> tuple[int, int, bool]:
    """``(_drain, _read_extra, _short_write_full)`` for a lowio socket on
    ``sock`` (see the module docstring).  No system call."""
    family, kind, proto = sock.family, sock.type, sock.proto
    stream = kind == _stdlib_socket.SOCK_STREAM
    if stream and family in (_stdlib_socket.AF_INET, _stdlib_socket.AF_INET6):
        if proto in (0, _stdlib_socket.IPPROTO_TCP):
            return VERIFY, _flags.PRI, True
        return NEVER, 0, False
    return NEVER, 0, stream and family == _stdlib_socket.AF_UNIX


def note_sockopt(sock: SocketOwner, level: int, optname: int) -> None:
    """Call when an option is set on the lowio socket ``sock``: an option
    the drained rule depends on is checked again before its next use."""
    if sock._drain != NEVER and (level, optname) in _RULE_OPTIONS:
        sock._drain = VERIFY
        sock._state.drained = False


def _verify(sock: _stdlib_socket.socket) -> int:
    try:
        sound = (
            sock.getsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_RCVLOWAT) == 1
            and sock.getsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_PROTOCOL)
            == _stdlib_socket.IPPROTO_TCP
            and not sock.getsockopt(_stdlib_socket.IPPROTO_TCP, TCP_ULP, 16).strip(b"\0")
        )
    except OSError:
        return NEVER
    return SOUND if sound else NEVER


def _short_read(sock: SocketOwner) -> None:
    """After a ``recv`` without flags returned less than asked on a socket
    whose rule is not ``NEVER``: marks the cache entry drained when the rule
    holds (its registration is live, nobody waits to read, no EOF, error
    or urgent data seen)."""
    state = sock._state
    if state.fd < 0 or state.read_task is not None or state.read_unsure:
        return  # unclaimed or forgotten, another waiter, or unsure
    if sock._drain == VERIFY:
        sock._drain = _verify(sock._sock)
        if sock._drain == NEVER:
            return
    # every edge collected so far announced data this read has taken
    state.read_ready = False
    state.drained = True


# ---- the steps every operation shares ----


def _task(what: str) -> Task:
    """The current task, with one more cancel point counted (the caller
    then yields ``DELIVER_PENDING`` if the task must stop)."""
    task = GLOBAL_RUN_CONTEXT.task
    if task is None:
        raise no_run_error(what)
    task._cancel_points += 1
    return task


# The operations below repeat the retry loop (park, system call, EAGAIN)
# on purpose: each is one flat generator for speed (they are the hottest
# code of every lowio program), do not fold them into nested ``yield from``.


@types.coroutine
def park(owner: Owner, write: bool) -> Generator[Any, Any, None]:
    """Claims ``owner``'s registration and parks until its next edge in that
    direction (no ``epoll_ctl`` once claimed).  Call it only right after
    the owner's system call hit EAGAIN.  A checkpoint."""
    runner = GLOBAL_RUN_CONTEXT.runner
    if runner is None:
        raise no_run_error("lowio I/O")
    io = runner.io
    io.claim(owner, write)
    if write:
        yield from io.wait_owned_writable(owner._fd)
    else:
        yield from io.wait_owned_readable(owner._fd)


@types.coroutine
def wait(owner: Owner, write: bool) -> Generator[Any, Any, None]:
    """``wait_readable`` / ``wait_writable`` for ``owner``: its registration
    is claimed first, so a READY edge the cache holds is consumed with no
    ``epoll_ctl`` (lowio sees every EAGAIN of its own objects, so READY is
    trusted).  May return spuriously after the owner itself filled or
    drained the fd.  A checkpoint; ``OSError(EBADF)`` once the owner is
    closed."""
    runner = GLOBAL_RUN_CONTEXT.runner
    if runner is None:
        raise no_run_error("wait_writable()" if write else "wait_readable()")
    fd = fd_of(owner._fd)
    io = runner.io
    io.claim(owner, write)
    if write:
        yield from io.wait_writable(fd)
    else:
        yield from io.wait_readable(fd)


@types.coroutine
def call(owner: Owner, write: bool, fn: Callable[..., T], *args: Any) -> Generator[Any, Any, T]:
    """``fn(*args)``, a non-blocking system call on ``owner``'s fd in the
    direction ``write``, the owned way (see the module docstring)."""
    task = _task("lowio I/O")
    if task._cancel_status.effectively_cancelled or task._ki_pending:
        yield DELIVER_PENDING  # raises Cancelled
    try:
        result = fn(*args)
    except _BlockingIOError:
        pass
    except BaseException:
        yield CHECKPOINT  # trio's _try_sync: a schedule point, then the error
        raise
    else:
        yield CHECKPOINT  # a schedule point, never a cancel point
        return result
    io = task._runner.io
    io.claim(owner, write)
    wait = io.wait_owned_writable if write else io.wait_owned_readable
    fd = owner._fd
    while True:
        yield from wait(fd)
        try:
            return fn(*args)
        except _BlockingIOError:
            pass


@types.coroutine
def recv(sock: SocketOwner, bufsize: int, flags: int = 0) -> Generator[Any, Any, bytes]:
    """``sock._recv(bufsize, flags)`` the owned way, with the drained rule
    (see the module docstring)."""
    task = GLOBAL_RUN_CONTEXT.task  # _task(), inlined
    if task is None:
        raise no_run_error("lowio I/O")
    task._cancel_points += 1
    if task._cancel_status.effectively_cancelled or task._ki_pending:
        yield DELIVER_PENDING
    recv = sock._recv
    state = sock._state
    if flags:
        if flags & _MSG_OOB:
            sock._drain = NEVER  # the urgent byte read: no PRI will say so
    elif state.drained:
        # (drained is only ever set on the live entry the socket claimed)
        state.drained = False
        if not state.read_ready and not state.read_unsure and state.read_task is None:
            # the buffer is empty and the next data an edge: wait first
            flags = -1
    if flags >= 0:
        # the schedule point comes before the read (see "recv's schedule
        # point" in the module docstring)
        yield CHECKPOINT
        try:
            data = recv(bufsize, flags)
        except _BlockingIOError:
            # EAGAIN: _recv_parked claims the registration first
            return (yield from _recv_parked(sock, task, bufsize, flags, None))
        if 0 < len(data) < bufsize and sock._drain and not flags:
            _short_read(sock)
        return data
    return (yield from _recv_parked(sock, task, bufsize, 0, state))


@types.coroutine
def _recv_parked(
    sock: SocketOwner, task: Task, bufsize: int, flags: int, state: FdState | None
) -> Generator[Any, Any, bytes]:
    """:func:`recv`'s wait loop: parks on the next edge, reads when woken,
    again until the read succeeds.  ``state`` is the claimed entry, or None
    right after a read hit EAGAIN (the registration is claimed first)."""
    if state is None:
        state = task._runner.io.claim(sock, False)
    recv = sock._recv
    while True:  # IOManager.wait_owned_readable, inlined
        if state.read_task is not None:
            raise BusyResourceError(_BUSY_READ)
        state.read_ready = state.drained = False
        state.read_task = task
        yield state.abort_read
        try:
            data = recv(bufsize, flags)
        except _BlockingIOError:
            continue
        if 0 < len(data) < bufsize and sock._drain and not flags:
            _short_read(sock)
        return data


@types.coroutine
def send(sock: SocketOwner, data: Any, flags: int = 0) -> Generator[Any, Any, int]:
    """``sock._send(data, flags)`` the owned way: one send, which may be
    partial; returns the number of bytes sent."""
    task = GLOBAL_RUN_CONTEXT.task  # _task(), inlined
    if task is None:
        raise no_run_error("lowio I/O")
    task._cancel_points += 1
    if task._cancel_status.effectively_cancelled or task._ki_pending:
        yield DELIVER_PENDING
    send = sock._send
    try:
        sent = send(data, flags)
    except _BlockingIOError:
        pass
    except BaseException:
        yield CHECKPOINT
        raise
    else:
        yield CHECKPOINT
        return sent
    return (yield from _send_parked(sock, task, data, flags))


@types.coroutine
def _send_parked(sock: SocketOwner, task: Task, data: Any, flags: int) -> Generator[Any, Any, int]:
    """:func:`send`'s wait loop, after its write hit EAGAIN: claims the
    registration, parks on the next edge, writes when woken, again until
    the write succeeds."""
    state = task._runner.io.claim(sock, True)
    send = sock._send
    while True:  # IOManager.wait_owned_writable, inlined
        if state.write_task is not None:
            raise BusyResourceError(_BUSY_WRITE)
        state.write_ready = False
        state.write_task = task
        yield state.abort_write
        try:
            return send(data, flags)
        except _BlockingIOError:
            pass


@types.coroutine
def send_all(owner: Owner, data: Any) -> Generator[Any, Any, None]:
    """Writes all of ``data`` (a bytes-like object) with ``owner._send``:
    a cancel check, one write, a schedule point if it all went at once;
    otherwise the task parks (after EAGAIN, or after a short write when
    ``owner._short_write_full``) and writes the rest when woken.  If
    cancelled while parked, the part already written stays written."""
    task = GLOBAL_RUN_CONTEXT.task  # _task(), inlined
    if task is None:
        raise no_run_error("send_all()")
    task._cancel_points += 1
    if task._cancel_status.effectively_cancelled or task._ki_pending:
        yield DELIVER_PENDING
    send = owner._send
    try:
        sent = send(data)
    except _BlockingIOError:
        sent = -1
    except BaseException:
        yield CHECKPOINT
        raise
    if type(data) is bytes:
        if sent == len(data):
            yield CHECKPOINT
            return
        view = memoryview(data)
    else:
        view = memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")  # bytes-like objects of other formats
        if sent == view.nbytes:
            yield CHECKPOINT
            return
    full = owner._short_write_full
    if sent > 0:
        view = view[sent:]
    io = task._runner.io
    fd = owner._fd
    io.claim(owner, True)
    wait = io.wait_owned_writable
    if sent < 0 or full:
        yield from wait(fd)
    while True:
        try:
            sent = send(view)
        except _BlockingIOError:
            yield from wait(fd)
            continue
        if sent == len(view):
            return
        view = view[sent:]
        if full:
            yield from wait(fd)


# The C awaitables doing recv's and send's usual cases (lowio/_owned_ops.c);
# they hand everything else to the generators above.
_configure_ops(
    GLOBAL_RUN_CONTEXT, CHECKPOINT, recv, send, _recv_parked, _send_parked, _short_read, SOUND
)
_bind_ops("task", Task)
_bind_ops("cancel_status", _CancelStatus)
_bind_ops("fd_state", FdState)
recv_op = _ops_method(_recv_op)
send_op = _ops_method(_send_op)


def bind_owner(cls: type) -> None:
    """Lets the C operations read an owner class's slots directly (lowio's
    ``SocketType`` calls it once)."""
    _bind_ops("socket", cls)


__all__ = [
    "NEVER",
    "SOUND",
    "VERIFY",
    "Owner",
    "SocketOwner",
    "bind_owner",
    "call",
    "note_sockopt",
    "park",
    "recv",
    "recv_op",
    "send",
    "send_all",
    "send_op",
    "socket_rules",
    "wait",
]
