"""Platform layer: the only code that calls the operating system through C.

``epoll`` (Linux) and a ``poll(2)`` fallback with the same interface, and
``eventfd``.  Nothing here imports the rest of lowio.  A selector takes
complete epoll event masks and integer tokens, and a wait fills a
``struct lowio_events`` buffer with ``token << 16 | flags`` values.
"""

from __future__ import annotations

from ._errors import closed_error, forked_error
from ._lifecycle import FdOwner
from ._native import ffi, lib
from .epoll import EpollSelector
from .eventfd import EventFd
from .pollset import PollSelector

Selector = EpollSelector | PollSelector
SELECTORS: dict[str, type[EpollSelector] | type[PollSelector]] = {
    "epoll": EpollSelector,
    "poll": PollSelector,
}
DEFAULT_SELECTOR = "epoll"

__all__ = [
    "DEFAULT_SELECTOR",
    "SELECTORS",
    "EpollSelector",
    "EventFd",
    "FdOwner",
    "PollSelector",
    "Selector",
    "closed_error",
    "ffi",
    "forked_error",
    "lib",
]
