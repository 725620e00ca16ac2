# Type stub for the C extension built from _registry_core.c.  The poll
# layer's Registry narrows the argument types.
from typing import Any

class RegistryCore:
    _selector: Any
    def __init__(self, selector: object) -> None: ...
    def register(
        self,
        source: Any,
        token: int,
        interest: Any,
        *,
        mode: Any = ...,
        exclusive: bool = False,
        wakeup: bool = False,
    ) -> None: ...
    def reregister(
        self,
        source: Any,
        token: int,
        interest: Any,
        *,
        mode: Any = ...,
        wakeup: bool = False,
        exclusive: bool = False,
    ) -> None: ...
    def deregister(self, source: Any) -> None: ...

def configure(
    interest_type: type,
    modes: tuple[object, object, object],
    masks: tuple[tuple[int, ...], ...],
    token_limit: int,
    epoll_type: type,
) -> None: ...
