"""The runtime workloads on the trio-shaped API: one implementation each,
run on lowio and on trio (the library's functions bound to locals)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from types import ModuleType
from typing import Any

from .runtime_common import (
    BYTES,
    Outcome,
    durations,
    nonblocking_pair,
    perf_counter,
    perf_counter_ns,
    process_time,
    timer_outcome,
)


class TrioShaped:
    """The slice of the trio API the workloads use, from lowio or trio."""

    def __init__(self, mod: ModuleType) -> None:
        self.run: Callable[[Callable[[], Coroutine[Any, Any, Any]]], Any] = mod.run
        self.open_nursery = mod.open_nursery
        self.sleep = mod.sleep
        self.move_on_after = mod.move_on_after
        self.Cancelled: type[BaseException] = mod.Cancelled
        self.checkpoint = mod.lowlevel.checkpoint
        self.wait_readable = mod.lowlevel.wait_readable
        self.open_memory_channel = mod.open_memory_channel


def trio_sleep0(lib: TrioShaped, n: int, rep: int) -> Outcome:
    sleep = lib.sleep

    async def main() -> tuple[int, int]:
        done = 0
        start = perf_counter_ns()
        for _ in range(n):
            await sleep(0)
            done += 1
        return perf_counter_ns() - start, done

    ns, done = lib.run(main)
    return Outcome({"ns": ns / n}, done)


def trio_spawn(lib: TrioShaped, n: int, rep: int) -> Outcome:
    checkpoint = lib.checkpoint
    open_nursery = lib.open_nursery
    done = 0

    async def child() -> None:
        nonlocal done
        await checkpoint()
        done += 1

    async def main() -> int:
        start = perf_counter_ns()
        async with open_nursery() as nursery:
            start_soon = nursery.start_soon
            for _ in range(n):
                start_soon(child)
        return perf_counter_ns() - start

    ns = lib.run(main)
    return Outcome({"ns": ns / n}, done)


def trio_cancel_read(lib: TrioShaped, n: int, rep: int) -> Outcome:
    checkpoint, wait_readable = lib.checkpoint, lib.wait_readable
    open_nursery, cancelled_exc = lib.open_nursery, lib.Cancelled
    a, b = nonblocking_pair()
    fd = b.fileno()
    cancelled = 0
    blocking = False

    async def reader() -> None:
        nonlocal cancelled, blocking
        blocking = True  # the same step goes on into wait_readable and parks
        try:
            await wait_readable(fd)
        except cancelled_exc:
            cancelled += 1
            raise

    async def main() -> int:
        nonlocal blocking
        caught = 0
        start = perf_counter_ns()
        for _ in range(n):
            blocking = False
            async with open_nursery() as nursery:
                nursery.start_soon(reader)
                while not blocking:
                    await checkpoint()
                nursery.cancel_scope.cancel()
            caught += nursery.cancel_scope.cancelled_caught
        ns = perf_counter_ns() - start
        assert caught == n, f"{caught} of {n} nurseries caught the cancellation"
        return ns

    try:
        ns = lib.run(main)
    finally:
        a.close()
        b.close()
    return Outcome({"ns": ns / n}, cancelled)


def trio_move_on(lib: TrioShaped, n: int, rep: int) -> Outcome:
    checkpoint, move_on_after = lib.checkpoint, lib.move_on_after

    async def main() -> tuple[int, int]:
        done = 0
        start = perf_counter_ns()
        for _ in range(n):
            with move_on_after(10) as scope:
                await checkpoint()
                done += 1
            done -= scope.cancelled_caught
        return perf_counter_ns() - start, done

    ns, done = lib.run(main)
    return Outcome({"ns": ns / n}, done)


def trio_pingpong(lib: TrioShaped, n: int, rep: int) -> Outcome:
    wait_readable, open_nursery = lib.wait_readable, lib.open_nursery
    a, b = nonblocking_pair()
    afd, bfd = a.fileno(), b.fileno()

    async def echo() -> None:
        recv, send = b.recv, b.send
        for _ in range(n):
            await wait_readable(bfd)
            send(recv(1))

    async def main() -> tuple[int, int]:
        recv, send = a.recv, a.send
        echoed = 0
        start = perf_counter_ns()
        async with open_nursery() as nursery:
            nursery.start_soon(echo)
            for i in range(n):
                ping = BYTES[i & 255]
                send(ping)
                await wait_readable(afd)
                echoed += recv(1) == ping
        return perf_counter_ns() - start, echoed

    try:
        ns, echoed = lib.run(main)
    finally:
        a.close()
        b.close()
    return Outcome({"ns": ns / n}, echoed)


def trio_channel_pingpong(lib: TrioShaped, n: int, rep: int) -> Outcome:
    open_nursery, open_memory_channel = lib.open_nursery, lib.open_memory_channel

    async def main() -> tuple[int, int]:
        ping_send, ping_receive = open_memory_channel(0)
        pong_send, pong_receive = open_memory_channel(0)

        async def echo() -> None:
            send, receive = pong_send.send, ping_receive.receive
            for _ in range(n):
                await send(await receive())

        send, receive = ping_send.send, pong_receive.receive
        echoed = 0
        start = perf_counter_ns()
        async with open_nursery() as nursery:
            nursery.start_soon(echo)
            for i in range(n):
                await send(i)
                echoed += await receive() == i
        return perf_counter_ns() - start, echoed

    ns, echoed = lib.run(main)
    return Outcome({"ns": ns / n}, echoed)


def trio_timers(lib: TrioShaped, n: int, rep: int) -> Outcome:
    sleep, open_nursery = lib.sleep, lib.open_nursery
    lateness = [-1.0] * n

    async def sleeper(i: int, seconds: float) -> None:
        t0 = perf_counter()
        await sleep(seconds)
        lateness[i] = perf_counter() - t0 - seconds

    async def main() -> float:
        cpu0 = process_time()
        async with open_nursery() as nursery:
            start_soon = nursery.start_soon
            for i, seconds in enumerate(durations(n, rep)):
                start_soon(sleeper, i, seconds)
        return process_time() - cpu0

    cpu = lib.run(main)
    return timer_outcome(lateness, cpu)
