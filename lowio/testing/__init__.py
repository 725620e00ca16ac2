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
from ._raises_group import Matcher as _Matcher
from ._raises_group import RaisesGroup as _RaisesGroup
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

# trio.testing's RaisesGroup and Matcher (lowio's own, with trio's messages)
# are deprecated, as in trio 0.33: pytest has them now (pytest.RaisesGroup,
# pytest.RaisesExc).  Reading them warns; trio's underscored names do not.
_DEPRECATED = {"RaisesGroup": (_RaisesGroup, "RaisesGroup"), "Matcher": (_Matcher, "RaisesExc")}


def __getattr__(name: str) -> object:
    if name not in _DEPRECATED:
        raise AttributeError(f"module 'lowio.testing' has no attribute {name!r}")
    found, instead = _DEPRECATED[name]
    warnings.warn(
        f"lowio.testing.{name} (trio.testing.{name}) is deprecated since trio 0.33.0;"
        f" use pytest.{instead} instead (https://github.com/python-trio/trio/issues/3326)",
        DeprecationWarning,
        stacklevel=2,
    )
    return found
