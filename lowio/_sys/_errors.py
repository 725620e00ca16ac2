"""Turning the C layer's ``-errno`` results into Python exceptions."""

from __future__ import annotations

import errno
import os


def os_error(neg_errno: int, what: str) -> OSError:
    """``OSError`` for a ``-errno`` result; the constructor picks the subclass
    (``FileExistsError`` for EEXIST, ``FileNotFoundError`` for ENOENT, ...)."""
    code = -neg_errno
    message = f"{what}: {os.strerror(code)}"
    if code == errno.EPERM:
        message += " (regular files and directories are always ready and cannot be polled)"
    return OSError(code, message)


def closed_error(kind: str) -> ValueError:
    return ValueError(f"I/O operation on closed {kind}")


def forked_error(kind: str) -> RuntimeError:
    return RuntimeError(
        f"this {kind} belongs to the parent process; a forked child must create its own"
    )


def blocking_error(fd: int) -> ValueError:
    return ValueError(
        f"fd {fd} is a socket in blocking mode; sources must be non-blocking "
        "(call sock.setblocking(False) first)"
    )
