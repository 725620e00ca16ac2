"""``Registry``: registering sources with a ``Poll`` (any thread may)."""

from __future__ import annotations

import operator
from collections.abc import Callable

from .._sys import Selector
from ._interest import EDGE, Interest, Mode, mask_for

TOKEN_LIMIT = 1 << 47


def source_fd(source: object) -> int:
    """An fd from an int or an object with ``fileno()``."""
    if isinstance(source, bool):
        raise TypeError("source must be an fd (int) or have a fileno() method, not bool")
    if isinstance(source, int):
        fd = source
    else:
        fileno = getattr(source, "fileno", None)
        if fileno is None:
            raise TypeError(
                f"source must be an fd (int) or have a fileno() method, not {type(source).__name__}"
            )
        fd = fileno()
        if isinstance(fd, bool) or not isinstance(fd, int):
            raise TypeError(f"{type(source).__name__}.fileno() returned {fd!r}, not an int")
    if fd < 0:
        raise ValueError(f"source fd must be non-negative, not {fd} (is the source closed?)")
    return int(fd)


def check_token(token: object) -> int:
    if isinstance(token, bool):
        raise TypeError("token must be an int, not bool")
    try:
        value = operator.index(token)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"token must be an int, not {type(token).__name__}") from None
    if not 0 <= value < TOKEN_LIMIT:
        raise ValueError(f"token must satisfy 0 <= token < 2**47, not {value}")
    return value


class Registry:
    """Registers sources with a ``Poll``.  Thread-safe: any thread may call
    these while another thread is blocked in ``Poll.poll`` (the new
    registration takes effect for that wait).

    A source is an int fd or an object with ``fileno()``, non-blocking if it
    is a socket.  None of these methods blocks or is a checkpoint.
    """

    __slots__ = ("_selector",)

    def __init__(self, selector: Selector) -> None:
        self._selector = selector

    def register(
        self,
        source: object,
        token: int,
        interest: Interest,
        *,
        mode: Mode = EDGE,
        exclusive: bool = False,
        wakeup: bool = False,
    ) -> None:
        """Starts watching ``source``; its events will carry ``token``.

        Raises ``FileExistsError`` if it is registered already,
        ``PermissionError`` for a regular file, ``OSError`` (EBADF) for a
        closed fd, ``ValueError`` for a blocking socket, a bad token or
        interest, or an ``exclusive`` combination the kernel refuses.
        """
        fd = source if type(source) is int and source >= 0 else source_fd(source)
        if type(token) is not int or not 0 <= token < TOKEN_LIMIT:
            token = check_token(token)
        if type(interest) is Interest and type(mode) is Mode and not (exclusive or wakeup):
            # per-mode table (hashing an Enum is slow); 0 means empty interest
            mask = mode._masks[interest] or mask_for(interest, mode, False, False)  # type: ignore[attr-defined]
        else:
            mask = mask_for(interest, mode, exclusive, wakeup)
        self._selector.register(fd, token, mask)

    def reregister(
        self,
        source: object,
        token: int,
        interest: Interest,
        *,
        mode: Mode = EDGE,
        wakeup: bool = False,
        exclusive: bool = False,
    ) -> None:
        """Replaces the token, interest and mode of a registered source (and
        re-arms it: an already-ready source is reported again).

        Raises ``FileNotFoundError`` if it is not registered; ``ValueError``
        for ``exclusive=True`` (epoll can only set it on ``register``).
        """
        if exclusive:
            raise ValueError(
                "exclusive=True can only be given to register(); the kernel "
                "refuses to modify an exclusive registration"
            )
        fd = source if type(source) is int and source >= 0 else source_fd(source)
        if type(token) is not int or not 0 <= token < TOKEN_LIMIT:
            token = check_token(token)
        if type(interest) is Interest and type(mode) is Mode and not wakeup:
            mask = mode._masks[interest] or mask_for(interest, mode, False, False)  # type: ignore[attr-defined]
        else:
            mask = mask_for(interest, mode, False, wakeup)
        self._selector.reregister(fd, token, mask)

    def deregister(self, source: object) -> None:
        """Stops watching ``source``; no event for it is returned by polls
        that start afterwards.  ``FileNotFoundError`` if it is not registered."""
        fd = source if type(source) is int and source >= 0 else source_fd(source)
        self._selector.deregister(fd)

    # ---- the raw interface, for event loops built on lowio (its runtime) ----
    # Complete epoll masks (``lowio.poll.flags``), int fds and tokens, and no
    # argument checks: the caller validated them once.  Same errors as above.

    def register_mask(self, fd: int, token: int, mask: int, *, any_source: bool = False) -> None:
        """``register`` with a raw mask; ``any_source`` also accepts a
        socket in blocking mode (for loops that never read it themselves)."""
        self._selector.register(fd, token, mask, any_source)

    @property
    def reregister_mask(self) -> Callable[[int, int, int], None]:
        """``reregister_mask(fd, token, mask)``: ``reregister`` with a raw mask
        (re-arms an edge-triggered source).  The selector's own function, to
        save a call on event loops' hot paths."""
        return self._selector.reregister

    def rearm_fn(self, fd: int, token: int, mask: int) -> Callable[[], int]:
        """A prepared ``reregister_mask(fd, token, mask)`` for event loops
        that re-arm the same fd before every wait: it returns 0, or -errno
        on failure (it raises nothing: call ``reregister_mask`` to get the
        exception).  Valid while the ``Poll`` is open."""
        return self._selector.rearm_fn(fd, token, mask)

    def try_clone(self) -> Registry:
        """Another handle on the same poller, e.g. to give to a thread.  It is
        valid while the ``Poll`` is open (closing the ``Poll`` closes it)."""
        self._selector.check_open()
        return Registry(self._selector)

    def __repr__(self) -> str:
        return f"<lowio.poll.Registry selector={self._selector.name}>"
