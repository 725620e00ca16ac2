# Type stub for the C extension built from _io_core.c (IOManager._process's
# event hand-out; see its header comment).
from typing import Any

def configure(
    state_type: type,
    task_type: type,
    shift: int,
    slot_mask: int,
    flag_mask: int,
    read_bits: int,
    unsure_bits: int,
    write_bits: int,
    /,
) -> None: ...
def dispatch(packed: Any, slots: list[Any], runq: list[Any], count: int = ..., /) -> None: ...
