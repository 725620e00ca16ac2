"""pytest-trio's tests, fixtures and clocks, run on lowio installed as trio
by ``LOWIO_AS_TRIO=1``.  In trio mode (pytest.ini) every async test and
fixture is pytest-trio's."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import AsyncIterator, Iterator
from functools import partial

import pytest
import sniffio
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_trio import trio_fixture

import lowio

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

teardowns: list[str] = []


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


@pytest.fixture(autouse=True)
def fds_back_to_baseline() -> Iterator[None]:
    gc.collect()
    before = open_fds()
    yield
    gc.collect()
    assert open_fds() <= before, f"leaked fds: {sorted(open_fds() - before)}"


async def test_trio_is_lowio() -> None:
    assert trio.run is lowio.run and trio.testing.MockClock is lowio.testing.MockClock
    assert sniffio.current_async_library() == "trio"
    await trio.sleep(0)


@pytest.fixture
async def upper_server(nursery: trio.Nursery) -> AsyncIterator[int]:
    async def handler(stream: trio.SocketStream) -> None:
        async with stream:
            await stream.send_all((await stream.receive_some(100)).upper())

    listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    yield listeners[0].socket.getsockname()[1]
    teardowns.append("upper_server")


@pytest.mark.trio
async def test_server_in_the_nursery_fixture(upper_server: int) -> None:
    async with await trio.open_tcp_stream("127.0.0.1", upper_server) as stream:
        await stream.send_all(b"abc")
        assert await stream.receive_some(100) == b"ABC"


async def test_fixture_was_torn_down() -> None:
    assert teardowns == ["upper_server"]


async def test_autojump_clock(autojump_clock: trio.testing.MockClock) -> None:
    start = trio.current_time()
    await trio.sleep(1000)
    assert trio.current_time() - start == pytest.approx(1000)


@trio_fixture
def task_name() -> str:
    return trio.lowlevel.current_task().name


async def test_trio_fixture(task_name: str) -> None:
    assert task_name


@pytest.fixture
async def shared_event() -> trio.Event:
    return trio.Event()


@pytest.fixture
async def setter(shared_event: trio.Event, nursery: trio.Nursery) -> None:
    nursery.start_soon(partial(trio.sleep, 0.01))  # a child the fixture's nursery waits for
    shared_event.set()


async def test_fixtures_share_one_run(shared_event: trio.Event, setter: None) -> None:
    with trio.fail_after(1):
        await shared_event.wait()


@settings(max_examples=20, deadline=None, database=None)  # writes nothing here
@given(st.integers(min_value=0, max_value=5))
async def test_hypothesis(n: int) -> None:
    for _ in range(n):
        await trio.sleep(0)


# pytest-trio reports a test's errors in a group, on trio as on lowio
@pytest.mark.xfail(raises=BaseExceptionGroup, strict=True)
async def test_a_failure_is_reported() -> None:
    with trio.fail_after(0.01):
        await trio.sleep_forever()
