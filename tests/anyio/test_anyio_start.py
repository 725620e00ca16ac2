"""``TaskGroup.start`` on lowio's anyio backend, with and without the task
handle: without one (``return_handle=False``, which no caller can reach)
the task runs without building it, and must behave as with one.  Each
test also runs on anyio's trio backend, the behaviour lowio's matches."""

from __future__ import annotations

import sys
from collections.abc import Coroutine
from typing import Any

import pytest

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

anyio = pytest.importorskip("anyio")

from anyio.abc import TaskStatus  # noqa: E402

pytestmark = pytest.mark.anyio

both_ways = pytest.mark.parametrize("return_handle", [False, True], ids=["plain", "handle"])


@pytest.fixture(params=["lowio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def start_value(result: Any, return_handle: bool) -> Any:
    return result.start_value if return_handle else result


@both_ways
async def test_the_started_task_runs_on_and_is_cancelled_with_the_group(
    return_handle: bool,
) -> None:
    steps: list[str] = []

    async def worker(label: str, *, task_status: TaskStatus[str]) -> None:
        task_status.started(label.upper())
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            steps.append(f"{label} cancelled")
            raise

    async with anyio.create_task_group() as tg:
        result = await tg.start(worker, "a", return_handle=return_handle)
        assert start_value(result, return_handle) == "A"
        await anyio.wait_all_tasks_blocked()
        tg.cancel_scope.cancel()
    assert steps == ["a cancelled"]
    assert tg.cancel_scope.cancel_called
    if return_handle:
        assert result.status is anyio.TaskHandle.Status.CANCELLED


@both_ways
async def test_an_error_after_started_reaches_the_group(return_handle: bool) -> None:
    async def worker(*, task_status: TaskStatus[None]) -> None:
        task_status.started()
        await anyio.sleep(0)
        raise KeyError("after started")

    with pytest.raises(BaseExceptionGroup) as info:
        async with anyio.create_task_group() as tg:
            await tg.start(worker, return_handle=return_handle)
            await anyio.sleep_forever()
    assert [type(exc) for exc in info.value.exceptions] == [KeyError]


@both_ways
async def test_a_scope_the_task_leaves_open_is_reported(return_handle: bool) -> None:
    """The scope anyio's handle runs the task in catches a cancel scope the
    task entered and never exited: the group gets the ``RuntimeError``,
    whether or not the caller asked for the handle."""

    async def careless(*, task_status: TaskStatus[None]) -> None:
        anyio.CancelScope().__enter__()
        task_status.started()

    with pytest.raises(BaseExceptionGroup) as info:
        async with anyio.create_task_group() as tg:
            await tg.start(careless, return_handle=return_handle)
    (error,) = info.value.exceptions
    assert isinstance(error, RuntimeError)
    assert "still within its child" in str(error) or "stack corrupted" in str(error)


@both_ways
async def test_started_before_the_coroutine_runs(return_handle: bool) -> None:
    results: list[str] = []

    def early(*, task_status: TaskStatus[str]) -> Coroutine[Any, Any, None]:
        task_status.started("early")

        async def body() -> None:
            results.append("body ran")

        return body()

    async with anyio.create_task_group() as tg:
        result = await tg.start(early, return_handle=return_handle)
        assert start_value(result, return_handle) == "early"
    assert results == ["body ran"]
    if return_handle:
        assert result.status is anyio.TaskHandle.Status.FINISHED
