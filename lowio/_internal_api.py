"""What lowio's anyio backend (``anyio_backend``) may use of lowio beyond
its public API -- the backend imports no other private module of lowio's,
and matches no error text: it tells lowio's errors apart by their classes
(``lowio.BusyResourceError``, ``lowio.ClosedResourceError``, ``OSError``).

* The owned fast path on lowio sockets (``lowio._owned_fast_path``, whose
  docstring states the contract): ``recv(sock, bufsize, flags)``,
  ``send(sock, data, flags)``, ``send_all(sock, data)``,
  ``call(sock, write, fn, *args)``, ``park(sock, write)`` and
  ``wait(sock, write)``.  Each is a checkpoint; use them from the run's
  thread.
* :func:`stdlib_socket`: the standard socket a lowio socket wraps.
* :func:`wait_for_handover`: anyio's ``fast_acquire`` on lowio's
  ``Lock`` and ``Semaphore``.
* ``BaseCancelScope``: ``lowio.CancelScope`` open to subclassing, so that
  anyio's cancel scopes are lowio scopes themselves (the subclass
  overrides nothing the scheduler calls; its construction is
  ``BaseCancelScope.__init__``'s).
* :func:`acquire_free_lock`: ``async with`` on anyio's ``Lock`` without
  a coroutine when the lock is free.
* :func:`start_soon_in_context`: ``nursery.start_soon`` in a given
  ``contextvars.Context`` (anyio's ``TaskGroup.create_task(context=)``).
* :func:`cancelled_like`: a new ``lowio.Cancelled`` with another one's
  source, reason and task (users cannot construct ``Cancelled``; anyio's
  task group raises one in place of a group of cancellations).
* ``SteppedRun`` (``lowio._core._driver``, whose docstring states the
  contract): one run advanced in pieces by a synchronous host
  (``run_until(done)``, ``finish()``, ``finished``); anyio's pytest runner.
  Call it from outside any run; it runs in the calling thread.
* ``Value`` / ``Error`` / ``Outcome``: a captured result or exception;
  ``unwrap()`` returns the value or raises the exception (with its
  traceback).  No checkpoint; any thread.
"""

from __future__ import annotations

import socket as _stdlib_socket
from collections.abc import Awaitable, Callable
from contextvars import Context
from typing import TYPE_CHECKING, Any

from ._core import Cancelled, Nursery, SteppedRun
from ._core._cancel import BaseCancelScope
from ._core._outcome import Error, Outcome, Value
from ._owned_fast_path import call, park, send_all, wait

if TYPE_CHECKING:

    def recv(sock: SocketType, bufsize: int, flags: int = 0, /) -> Awaitable[bytes]: ...

    def send(sock: SocketType, data: Any, flags: int = 0, /) -> Awaitable[int]: ...

else:
    # the C operations doing _owned_fast_path.recv's and send's steps
    # (lowio/_owned_ops.c), as lowio's sockets use them
    from ._owned_ops import recv_op as recv
    from ._owned_ops import send_op as send
from ._socket import SocketType
from ._sync import Lock, Semaphore


def stdlib_socket(sock: SocketType) -> _stdlib_socket.socket:
    """The non-blocking ``socket.socket`` under the lowio socket ``sock``
    (anyio's ``_raw_socket``).  For options and addresses: I/O on it
    bypasses lowio's readiness cache.  Not a checkpoint."""
    return sock._sock


def wait_for_handover(primitive: Lock | Semaphore) -> Awaitable[None]:
    """Waits in ``primitive``'s queue until ``release()`` hands the lock (or
    one unit) to this task, which then holds it.  Only right after
    ``acquire_nowait()`` raised ``WouldBlock``, with no checkpoint between.
    A checkpoint; cancelled, the task leaves the queue without it."""
    return primitive._lot.park()


# ``acquire_free_lock(lock)``: if ``lock`` is free, nobody waits for it and
# the current task is not due a cancellation, takes it and returns the
# schedule point that ``lock.acquire()`` would still pass (await it at
# once); otherwise None, nothing done: ``await lock.acquire()`` instead.
# From the run's thread.  The method itself, with no call between (anyio's
# ``async with lock:`` goes through it).
acquire_free_lock: Callable[[Lock], Awaitable[None] | None] = Lock._acquire_free


def start_soon_in_context(
    nursery: Nursery, async_fn: Callable[[], Awaitable[object]], name: object, context: Context
) -> None:
    """``nursery.start_soon(async_fn, name=name)``, the task running in
    ``context`` itself (not a copy: give each task a context of its own).
    Not a checkpoint; ``RuntimeError`` if the nursery has closed.  From the
    run's thread."""
    nursery._parent_task._runner.spawn_impl(async_fn, (), nursery, name, context=context)


def cancelled_like(exc: Cancelled) -> Cancelled:
    """A new ``Cancelled`` carrying ``exc``'s ``source``, ``reason`` and
    ``source_task`` (no traceback, cause or context).  Any thread."""
    return Cancelled._create(source=exc.source, reason=exc.reason, source_task=exc.source_task)


__all__ = [
    "BaseCancelScope",
    "Error",
    "Outcome",
    "SteppedRun",
    "Value",
    "acquire_free_lock",
    "call",
    "cancelled_like",
    "park",
    "recv",
    "send",
    "send_all",
    "start_soon_in_context",
    "stdlib_socket",
    "wait",
    "wait_for_handover",
]
