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
"""

from __future__ import annotations

import socket as _stdlib_socket
from collections.abc import Awaitable

from ._owned_fast_path import call, park, recv, send, send_all, wait
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


__all__ = [
    "call",
    "park",
    "recv",
    "send",
    "send_all",
    "stdlib_socket",
    "wait",
    "wait_for_handover",
]
