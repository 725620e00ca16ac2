"""``lowio.to_thread``: run blocking calls in worker threads (trio's
``trio.to_thread``)."""

from ._threads import current_default_thread_limiter
from ._threads import to_thread_run_sync as run_sync

__all__ = ["current_default_thread_limiter", "run_sync"]
