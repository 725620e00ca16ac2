"""The runtime workloads on asyncio."""

from __future__ import annotations

import asyncio
import sys

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


def asyncio_sleep0(n: int, rep: int) -> Outcome:
    sleep = asyncio.sleep

    async def main() -> tuple[int, int]:
        done = 0
        start = perf_counter_ns()
        for _ in range(n):
            await sleep(0)
            done += 1
        return perf_counter_ns() - start, done

    ns, done = asyncio.run(main())
    return Outcome({"ns": ns / n}, done)


def asyncio_spawn(n: int, rep: int) -> Outcome:
    sleep = asyncio.sleep
    done = 0

    async def child() -> None:
        nonlocal done
        await sleep(0)
        done += 1

    async def main() -> int:
        start = perf_counter_ns()
        if sys.version_info >= (3, 11):
            async with asyncio.TaskGroup() as group:
                create_task = group.create_task
                for _ in range(n):
                    create_task(child())
        else:  # pragma: no cover (3.10)
            await asyncio.gather(*(child() for _ in range(n)))
        return perf_counter_ns() - start

    ns = asyncio.run(main())
    return Outcome({"ns": ns / n}, done)


def asyncio_cancel_read(n: int, rep: int) -> Outcome:
    sleep, cancelled_exc = asyncio.sleep, asyncio.CancelledError
    a, b = nonblocking_pair()
    cancelled = 0
    blocking = False

    async def main() -> int:
        nonlocal blocking
        loop = asyncio.get_running_loop()
        sock_recv, create_task = loop.sock_recv, loop.create_task

        async def reader() -> None:
            nonlocal cancelled, blocking
            blocking = True  # the same step goes on into sock_recv and parks
            try:
                await sock_recv(b, 1)
            except cancelled_exc:
                cancelled += 1
                raise

        caught = 0
        start = perf_counter_ns()
        for _ in range(n):
            blocking = False
            task = create_task(reader())
            while not blocking:
                await sleep(0)
            task.cancel()
            try:
                await task
            except cancelled_exc:
                caught += 1
        ns = perf_counter_ns() - start
        assert caught == n, f"{caught} of {n} awaits saw the cancellation"
        return ns

    try:
        ns = asyncio.run(main())
    finally:
        a.close()
        b.close()
    return Outcome({"ns": ns / n}, cancelled)


def asyncio_move_on(n: int, rep: int) -> Outcome:
    sleep = asyncio.sleep

    async def main() -> tuple[int, int]:
        done = 0
        start = perf_counter_ns()
        if sys.version_info >= (3, 11):
            timeout = asyncio.timeout
            for _ in range(n):
                async with timeout(10) as scope:
                    await sleep(0)
                    done += 1
                done -= scope.expired()
        else:  # pragma: no cover (3.10: the nearest equivalent)
            for _ in range(n):
                await asyncio.wait_for(sleep(0), 10)
                done += 1
        return perf_counter_ns() - start, done

    ns, done = asyncio.run(main())
    return Outcome({"ns": ns / n}, done)


def asyncio_pingpong(n: int, rep: int) -> Outcome:
    a, b = nonblocking_pair()

    async def main() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        sock_recv, sock_sendall = loop.sock_recv, loop.sock_sendall

        async def echo() -> None:
            for _ in range(n):
                await sock_sendall(b, await sock_recv(b, 1))

        echoed = 0
        start = perf_counter_ns()
        echo_task = loop.create_task(echo())
        for i in range(n):
            ping = BYTES[i & 255]
            await sock_sendall(a, ping)
            echoed += await sock_recv(a, 1) == ping
        await echo_task
        return perf_counter_ns() - start, echoed

    try:
        ns, echoed = asyncio.run(main())
    finally:
        a.close()
        b.close()
    return Outcome({"ns": ns / n}, echoed)


def asyncio_channel_pingpong(n: int, rep: int) -> Outcome:
    async def main() -> tuple[int, int]:
        # asyncio has no unbuffered channel: the nearest is a one-slot Queue
        pings: asyncio.Queue[int] = asyncio.Queue(1)
        pongs: asyncio.Queue[int] = asyncio.Queue(1)

        async def echo() -> None:
            put, get = pongs.put, pings.get
            for _ in range(n):
                await put(await get())

        put, get = pings.put, pongs.get
        echoed = 0
        start = perf_counter_ns()
        echo_task = asyncio.get_running_loop().create_task(echo())
        for i in range(n):
            await put(i)
            echoed += await get() == i
        await echo_task
        return perf_counter_ns() - start, echoed

    ns, echoed = asyncio.run(main())
    return Outcome({"ns": ns / n}, echoed)


def asyncio_timers(n: int, rep: int) -> Outcome:
    sleep = asyncio.sleep
    lateness = [-1.0] * n

    async def sleeper(i: int, seconds: float) -> None:
        t0 = perf_counter()
        await sleep(seconds)
        lateness[i] = perf_counter() - t0 - seconds

    async def main() -> float:
        cpu0 = process_time()
        if sys.version_info >= (3, 11):
            async with asyncio.TaskGroup() as group:
                create_task = group.create_task
                for i, seconds in enumerate(durations(n, rep)):
                    create_task(sleeper(i, seconds))
        else:  # pragma: no cover (3.10)
            await asyncio.gather(*(sleeper(i, s) for i, s in enumerate(durations(n, rep))))
        return process_time() - cpu0

    cpu = asyncio.run(main())
    return timer_outcome(lateness, cpu)
