"""``Registry``: registering sources with a ``Poll`` (any thread may)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._sys import SELECTORS, EpollSelector, Selector
from .._sys._errors import FD_MAX, range_error
from ._interest import EDGE, LEVEL, MASKS, ONESHOT, Interest, Mode, mask_for
from ._registry_core import RegistryCore, configure
from .flags import TOKEN_BITS

TOKEN_LIMIT = 1 << TOKEN_BITS
_SELECTOR_TYPES = tuple(SELECTORS.values())


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
    if fd > FD_MAX:
        raise range_error(fd)
    return int(fd)


def check_token(token: object) -> int:
    if isinstance(token, bool):
        raise TypeError("token must be an int, not bool")
    try:
        value = operator.index(token)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"token must be an int, not {type(token).__name__}") from None
    if not 0 <= value < TOKEN_LIMIT:
        raise ValueError(f"token must satisfy 0 <= token < 2**{TOKEN_BITS}, not {value}")
    return value


# The C methods handle well-formed calls on epoll (see _registry_core.c);
# tell them what the arguments mean.
configure(
    Interest,
    (EDGE, LEVEL, ONESHOT),
    (MASKS[EDGE], MASKS[LEVEL], MASKS[ONESHOT]),
    TOKEN_LIMIT,
    EpollSelector,
)


class Registry(RegistryCore):
    """Registers sources with a ``Poll``.  Thread-safe: any thread may call
    these while another thread is blocked in ``Poll.poll`` (the new
    registration takes effect for that wait).

    A source is an int fd or an object with ``fileno()``, non-blocking if it
    is a socket; an fd outside 0..2**31-1 is a ``ValueError`` naming it (on
    every path, the raw ``*_mask`` ones included).  None of these methods
    blocks or is a checkpoint.

    ``register``, ``reregister`` and ``deregister`` are C methods (the
    base class) that handle well-formed calls on the epoll selector in one
    step; every other call, and every error, goes through the ``_*_slow``
    methods here, which hold the semantics.
    """

    __slots__ = ()

    if TYPE_CHECKING:
        _selector: Selector

        def register(
            self,
            source: object,
            token: int,
            interest: Interest,
            *,
            mode: Mode = EDGE,
            exclusive: bool = False,
            wakeup: bool = False,
        ) -> None: ...

        def reregister(
            self,
            source: object,
            token: int,
            interest: Interest,
            *,
            mode: Mode = EDGE,
            wakeup: bool = False,
            exclusive: bool = False,
        ) -> None: ...

        def deregister(self, source: object) -> None: ...

    def __init__(self, selector: Selector) -> None:
        """Not for users: ``Poll.registry`` and :meth:`try_clone` make them.
        Raises ``TypeError`` unless ``selector`` is a lowio selector."""
        if not isinstance(selector, _SELECTOR_TYPES):
            raise TypeError(
                "Registry is made by lowio.poll.Poll (use poll.registry), "
                f"not from {type(selector).__name__}"
            )
        super().__init__(selector)

    # the Python halves of the C methods (defined below the class)
    _register_slow: Callable[..., None]
    _reregister_slow: Callable[..., None]
    _deregister_slow: Callable[..., None]

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
        exception).  After the ``Poll`` is closed it returns -EBADF (it
        holds the poller, not its fd number, which another Poll may reuse).
        Raises ``ValueError`` now if ``fd``, ``token`` or ``mask`` does not
        fit its C type."""
        return self._selector.rearm_fn(fd, token, mask)

    def try_clone(self) -> Registry:
        """Another handle on the same poller, e.g. to give to a thread.  It is
        valid while the ``Poll`` is open (closing the ``Poll`` closes it)."""
        self._selector.check_open()
        return Registry(self._selector)

    def __repr__(self) -> str:
        return f"<lowio.poll.Registry selector={self._selector.name}>"


# The Python halves of register / reregister / deregister: the C methods
# call them for everything but a well-formed call on epoll.  They carry the
# public names, so that an argument error reads "register() takes ...".


def register(
    self: Registry,
    source: object,
    token: int,
    interest: Interest,
    *,
    mode: Mode = EDGE,
    exclusive: bool = False,
    wakeup: bool = False,
) -> None:
    fd = source_fd(source)
    token = check_token(token)
    self._selector.register(fd, token, mask_for(interest, mode, exclusive, wakeup))


def reregister(
    self: Registry,
    source: object,
    token: int,
    interest: Interest,
    *,
    mode: Mode = EDGE,
    wakeup: bool = False,
    exclusive: bool = False,
) -> None:
    if exclusive:
        raise ValueError(
            "exclusive=True can only be given to register(); the kernel "
            "refuses to modify an exclusive registration"
        )
    fd = source_fd(source)
    token = check_token(token)
    self._selector.reregister(fd, token, mask_for(interest, mode, False, wakeup))


def deregister(self: Registry, source: object) -> None:
    self._selector.deregister(source_fd(source))


Registry._register_slow = register
Registry._reregister_slow = reregister
Registry._deregister_slow = deregister
