# Type stub for the C extension built from _events_core.c.  The poll
# layer's Events narrows the types.
from collections.abc import Iterator
from typing import Any

class EventsCore:
    _n: int
    _objs: list[Any] | None
    def __init__(self, ids_address: int, capacity: int) -> None: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...
