"""lowio: a low-level I/O backend for Python's structured-concurrency world.

This release ships the poller layer (``lowio.poll``): ``Poll``, ``Events``,
``Interest`` and ``Waker`` are re-exported here.
"""

from .poll import Events, Interest, Poll, Waker

__version__ = "0.1.0"

__all__ = ["Events", "Interest", "Poll", "Waker", "__version__"]
