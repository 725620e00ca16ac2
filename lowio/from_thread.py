"""``lowio.from_thread``: call back into a run from another thread (trio's
``trio.from_thread``): from a worker of ``lowio.to_thread.run_sync``, or
from any thread given the run's token (``trio_token=``)."""

from ._threads import from_thread_check_cancelled as check_cancelled
from ._threads import from_thread_run as run
from ._threads import from_thread_run_sync as run_sync

__all__ = ["check_cancelled", "run", "run_sync"]
