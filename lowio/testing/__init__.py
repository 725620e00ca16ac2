"""``lowio.testing``: helpers for testing code that runs on lowio."""

import warnings

from .._core import MockClock, wait_all_tasks_blocked
from .._threads import active_thread_count, wait_all_threads_completed
from ._check_streams import check_half_closeable_stream, check_one_way_stream, check_two_way_stream
from ._checkpoints import assert_checkpoints, assert_no_checkpoints
from ._lockstep_streams import lockstep_stream_one_way_pair, lockstep_stream_pair
from ._memory_streams import (
    MemoryReceiveStream,
    MemorySendStream,
    memory_stream_one_way_pair,
    memory_stream_pair,
    memory_stream_pump,
)
from ._network import open_stream_to_socket_listener
from ._sequencer import Sequencer
from ._trio_test import trio_test

__all__ = [
    "MemoryReceiveStream",
    "MemorySendStream",
    "MockClock",
    "Sequencer",
    "active_thread_count",
    "assert_checkpoints",
    "assert_no_checkpoints",
    "check_half_closeable_stream",
    "check_one_way_stream",
    "check_two_way_stream",
    "lockstep_stream_one_way_pair",
    "lockstep_stream_pair",
    "memory_stream_one_way_pair",
    "memory_stream_pair",
    "memory_stream_pump",
    "open_stream_to_socket_listener",
    "trio_test",
    "wait_all_tasks_blocked",
    "wait_all_threads_completed",
]

# trio.testing's RaisesGroup and Matcher moved into pytest (pytest.RaisesGroup,
# pytest.RaisesExc); trio keeps them as deprecated names, and so does lowio,
# as pytest's own classes (so only where pytest is installed).
_MOVED_TO_PYTEST = {"RaisesGroup": "RaisesGroup", "Matcher": "RaisesExc"}


def __getattr__(name: str) -> object:
    moved = _MOVED_TO_PYTEST.get(name.removeprefix("_"))
    if moved is None:
        raise AttributeError(f"module 'lowio.testing' has no attribute {name!r}")
    try:
        import pytest
    except ImportError:
        raise AttributeError(
            f"lowio.testing.{name} is pytest.{moved}, and pytest is not installed"
        ) from None
    if not name.startswith("_"):  # a DeprecationWarning, as trio's here
        warnings.warn(
            f"lowio.testing.{name} is deprecated since trio 0.33.0; use pytest.{moved}",
            DeprecationWarning,
            stacklevel=2,
        )
    return getattr(pytest, moved)
