"""``lowio.testing``: helpers for testing code that runs on lowio."""

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
    "wait_all_tasks_blocked",
    "wait_all_threads_completed",
]
