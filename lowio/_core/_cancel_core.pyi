"""A cancel scope's common entry and exit in C (``_cancel_core.c``)."""

from collections.abc import Callable
from typing import Any

def configure(
    run_context: object,
    task: type,
    cancel_status: type,
    scope: type,
    init_py: Callable[..., Any],
    enter_py: Callable[..., Any],
    exit_py: Callable[..., Any],
    /,
) -> None: ...
def methods() -> tuple[Any, Any, Any]: ...
