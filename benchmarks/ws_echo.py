"""trio-websocket echo on trio vs on lowio installed as trio (the same
unmodified library code): ``python -m benchmarks.ws_echo [--reps N]``.

Each measurement is a fresh interpreter (``--child trio`` or ``--child
lowio``; lowio must be installed as trio before anything imports trio)
running one ``serve_websocket`` echo server and ``--clients`` clients on
127.0.0.1, each sending a short message and awaiting its echo, as many
round trips as fit in ``--seconds``.  The two runtimes alternate, rep by
rep, and the report is each one's median round trips/s and their ratio
(target: lowio >= 1.3x trio).  Client and server share the process, so
both sides run on the runtime under test.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from functools import partial

TARGET = 1.3


def child(runtime: str, clients: int, seconds: float) -> None:
    """Runs one measurement and prints its round trips/s."""
    if runtime == "lowio":
        import lowio

        lowio.install_as_trio()
    import trio
    from trio_websocket import ConnectionClosed, open_websocket, serve_websocket

    async def echo(request: object) -> None:
        ws = await request.accept()  # type: ignore[attr-defined]
        try:
            while True:
                await ws.send_message(await ws.get_message())
        except ConnectionClosed:
            pass

    counts = [0] * clients

    async def client(port: int, number: int, start: trio.Event, stop: list[float]) -> None:
        async with open_websocket("127.0.0.1", port, "/", use_ssl=False) as ws:
            await start.wait()
            while time.perf_counter() < stop[0]:
                await ws.send_message("ping")
                await ws.get_message()
                counts[number] += 1

    async def main() -> float:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(partial(serve_websocket, echo, "127.0.0.1", 0, None))
            start, stop = trio.Event(), [0.0]
            async with trio.open_nursery() as group:
                for number in range(clients):
                    group.start_soon(client, server.port, number, start, stop)
                await trio.sleep(0.2)  # all connected
                began = time.perf_counter()
                stop[0] = began + seconds
                start.set()
            elapsed = time.perf_counter() - began
            nursery.cancel_scope.cancel()
        return sum(counts) / elapsed

    print(f"{trio.run(main):.1f}")


def measure(runtime: str, clients: int, seconds: float) -> float:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.ws_echo", "--child", runtime,
         "--clients", str(clients), "--seconds", str(seconds)],
        capture_output=True, text=True, timeout=60 + seconds, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the {runtime} measurement failed:\n{done.stderr}")
    return float(done.stdout.split()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="measurements per runtime")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one measurement")
    parser.add_argument("--child", choices=["trio", "lowio"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reps < 1 or args.clients < 1 or args.seconds <= 0:
        parser.error("--reps and --clients must be >= 1 and --seconds > 0")
    if args.child:
        child(args.child, args.clients, args.seconds)
        return
    results: dict[str, list[float]] = {"trio": [], "lowio": []}
    for _ in range(args.reps):
        for runtime in results:
            results[runtime].append(measure(runtime, args.clients, args.seconds))
    trio_rate, lowio_rate = (statistics.median(results[r]) for r in ("trio", "lowio"))
    ratio = lowio_rate / trio_rate
    print(f"trio-websocket echo, {args.clients} clients, {args.reps} reps of {args.seconds:g} s")
    for runtime, rates in results.items():
        print(f"  {runtime:6} {statistics.median(rates):>10,.0f} round trips/s (reps: "
              + ", ".join(f"{r:,.0f}" for r in rates) + ")")  # fmt: skip
    mark = "ok" if ratio >= TARGET else "below target"
    print(f"  lowio / trio: {ratio:.2f}x (target >= {TARGET}x: {mark})")


if __name__ == "__main__":
    main()
