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


FD_MAX = 2**31 - 1  # fds are C ints


def range_error(fd: int, token: int = 0, mask: int = 0) -> ValueError:
    """``ValueError`` for a selector call whose fd (or raw token or mask)
    does not fit its C type, naming the culprit."""
    if not 0 <= fd <= FD_MAX:
        return ValueError(f"fd {fd} is out of range: an fd is an int in 0..2**31-1")
    if not 0 <= token < 2**64:
        return ValueError(f"token {token} is out of range for fd {fd}")
    return ValueError(f"event mask {mask:#x} is out of range for fd {fd}")
