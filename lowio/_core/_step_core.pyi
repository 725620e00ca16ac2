"""The run loop's usual task steps in C (``_step_core.c``)."""

from typing import Any

YIELDED: int
RETURNED: int
RAISED: int
IN_PYTHON: int

def configure(task: type, cancel_status: type, park: type, checkpoint: object, /) -> None: ...
def step(
    batch: list[Any], start: int, here: dict[str, Any], runq: list[Any], /
) -> tuple[int, int, Any] | None: ...
