"""``lowlevel.start_guest_run``: lowio hosted by another loop (a queue
loop and asyncio), its I/O wait in a worker thread."""

from __future__ import annotations

import asyncio
import gc
import math
import queue
import signal
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sniffio

import lowio
from lowio.lowlevel import start_guest_run


def queue_host(fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
    """The simplest host: a queue of callbacks, run in this thread."""
    todo: queue.Queue[tuple[str, Any]] = queue.Queue()
    host = threading.current_thread()

    def soon_threadsafe(cb: Callable[[], object]) -> None:
        todo.put(("run", cb))

    def soon(cb: Callable[[], object]) -> None:
        assert threading.current_thread() is host
        todo.put(("run", cb))

    start_guest_run(
        fn,
        *args,
        run_sync_soon_threadsafe=soon_threadsafe,
        run_sync_soon_not_threadsafe=soon,
        done_callback=lambda outcome: todo.put(("done", outcome)),
        **kwargs,
    )
    while True:
        op, obj = todo.get()
        if op == "run":
            obj()
        else:
            return obj.unwrap()


def test_result_and_error_reach_done_callback() -> None:
    async def ok() -> str:
        await lowio.sleep(0.01)
        return "ok"

    async def fail() -> None:
        raise KeyError("nope")

    assert queue_host(ok) == "ok"
    with pytest.raises(KeyError, match="nope"):
        queue_host(fail)
    assert not lowio.lowlevel.in_run()


def test_io_and_a_host_thread_outside_the_run() -> None:
    async def main() -> bytes:
        a, b = lowio.socket.socketpair()
        with a, b:
            async with lowio.open_nursery() as nursery:
                got: list[bytes] = []

                async def receive() -> None:
                    got.append(await a.recv(10))

                nursery.start_soon(receive)
                await lowio.testing.wait_all_tasks_blocked()
                await b.send(b"hi")
            return got[0]

    assert queue_host(main) == b"hi"


def test_host_deadline_change_and_reschedule_wake_the_worker() -> None:
    async def main(host_soon: Callable[[Callable[[], object]], object]) -> None:
        with lowio.CancelScope() as scope:
            host_soon(lambda: setattr(scope, "deadline", -math.inf))
            await lowio.sleep_forever()
        assert scope.cancelled_caught
        event = lowio.Event()
        host_soon(event.set)
        await event.wait()

    todo: queue.Queue[tuple[str, Any]] = queue.Queue()
    start_guest_run(
        main,
        lambda cb: todo.put(("run", cb)),
        run_sync_soon_threadsafe=lambda cb: todo.put(("run", cb)),
        done_callback=lambda outcome: todo.put(("done", outcome)),
    )
    while True:
        op, obj = todo.get(timeout=10)
        if op == "done":
            obj.unwrap()
            break
        obj()


def test_start_guest_run_refuses_inside_a_run_and_bad_clock() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="inside a run"):
            start_guest_run(main, run_sync_soon_threadsafe=print, done_callback=print)

    lowio.run(main)

    class BadClock(lowio.abc.Clock):
        def start_clock(self) -> None:
            raise ValueError("whoops")

        def current_time(self) -> float:
            return 0.0

        def deadline_to_sleep_time(self, deadline: float) -> float:
            return 0.0

    with pytest.raises(lowio.LowioInternalError):
        start_guest_run(main, run_sync_soon_threadsafe=print, done_callback=print, clock=BadClock())
    assert not lowio.lowlevel.in_run()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_on_asyncio_with_sniffio() -> None:
    async def lowio_main() -> list[str]:
        names = [sniffio.current_async_library()]

        async def in_asyncio() -> None:
            names.append(sniffio.current_async_library())

        # an asyncio task made here copies this task's context
        task = asyncio.ensure_future(in_asyncio())
        while not task.done():
            await lowio.sleep(0.001)
        return names

    async def aio_main() -> list[str]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        start_guest_run(
            lowio_main,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=done.set_result,
            host_uses_signal_set_wakeup_fd=True,
        )
        await asyncio.sleep(0.02)
        assert sniffio.current_async_library() == "asyncio"
        result: list[str] = (await done).unwrap()
        return result

    assert asyncio.run(aio_main()) == [lowio._core._library_name.library_name(), "asyncio"]


def test_wakeup_fd_collision_warns() -> None:
    async def main() -> None:
        pass

    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        signal.set_wakeup_fd(a.fileno())
        try:
            with pytest.warns(RuntimeWarning, match="signal handling code.*collided"):
                queue_host(main)
        finally:
            assert signal.set_wakeup_fd(-1) == a.fileno()


def test_abandoned_run_warns_and_releases_the_thread() -> None:
    def abandon() -> None:
        async def main() -> None:
            while True:
                await lowio.lowlevel.checkpoint()

        todo: list[Callable[[], object]] = []
        start_guest_run(main, run_sync_soon_threadsafe=todo.append, done_callback=print)
        todo.pop()()  # one tick, then the host goes away
        del todo

    with pytest.warns(RuntimeWarning, match="guest run got abandoned"):
        abandon()
        for _ in range(4):
            gc.collect()
    assert not lowio.lowlevel.in_run()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
