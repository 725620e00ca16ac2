"""lowio's poller, in the shape of Rust's mio: ``Poll``, ``Registry``,
``Events``, ``Event``, ``Interest``, ``Waker`` and the trigger modes
``EDGE`` (default), ``LEVEL`` and ``ONESHOT``.

Usable on its own from plain threads; the runtime is built on it.
"""

from ._events import Event, Events
from ._interest import EDGE, LEVEL, ONESHOT, Interest, Mode
from ._poll import WAIT_SLOW, Poll, PreparedWaits
from ._registry import TOKEN_LIMIT, Registry
from ._waker import Waker

__all__ = [
    "EDGE",
    "LEVEL",
    "ONESHOT",
    "TOKEN_LIMIT",
    "WAIT_SLOW",
    "Event",
    "Events",
    "Interest",
    "Mode",
    "Poll",
    "PreparedWaits",
    "Registry",
    "Waker",
]
