"""The in-process anyio workloads, one implementation each, run through
``anyio.run(..., backend=B)`` on the backends lowio, trio and asyncio.

Importing this module registers lowio's anyio backend
(``lowio.anyio.register()``), so ``backend="lowio"`` works however lowio
was installed.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.lowlevel

import lowio.anyio

from .runtime_common import Impl, Outcome, perf_counter_ns

lowio.anyio.register()

BACKENDS = ("lowio", "trio", "asyncio")


def anyio_sleep0(backend: str, n: int, rep: int) -> Outcome:
    sleep = anyio.sleep

    async def main() -> tuple[int, int]:
        done = 0
        start = perf_counter_ns()
        for _ in range(n):
            await sleep(0)
            done += 1
        return perf_counter_ns() - start, done

    ns, done = anyio.run(main, backend=backend)
    return Outcome({"ns": ns / n}, done)


def anyio_spawn(backend: str, n: int, rep: int) -> Outcome:
    checkpoint = anyio.lowlevel.checkpoint
    create_task_group = anyio.create_task_group
    done = 0

    async def child() -> None:
        nonlocal done
        await checkpoint()
        done += 1

    async def main() -> int:
        start = perf_counter_ns()
        async with create_task_group() as tg:
            start_soon = tg.start_soon
            for _ in range(n):
                start_soon(child)
        return perf_counter_ns() - start

    ns = anyio.run(main, backend=backend)
    return Outcome({"ns": ns / n}, done)


def on_every_backend(fn: Callable[[str, int, int], Outcome]) -> dict[str, Impl]:
    """{backend: (size, rep) -> Outcome} of one workload function."""

    def bind(backend: str) -> Impl:
        return lambda n, rep: fn(backend, n, rep)

    return {backend: bind(backend) for backend in BACKENDS}
