"""``lowio.lowlevel.RunVar`` (trio's semantics and errors), lowio's per-run
state on it (nothing shared between runs, all dropped at the end), and
trio's spellings of lowio's names."""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any

import anyio
import pytest

import lowio
import lowio.lowlevel
from lowio._core import SteppedRun
from lowio.lowlevel import RunVar, RunVarToken, current_token

VAR: RunVar[str] = RunVar("VAR")
WITH_DEFAULT: RunVar[str] = RunVar("WITH_DEFAULT", "the default")


def test_get_set_reset() -> None:
    async def main() -> None:
        with pytest.raises(LookupError):
            VAR.get()
        assert VAR.get("given") == "given"
        assert WITH_DEFAULT.get() == "the default"
        assert WITH_DEFAULT.get("given") == "given"  # as ContextVar: the argument wins

        first = VAR.set("one")
        assert first.previous_value is RunVarToken.MISSING and first.var is VAR
        assert VAR.get() == "one" and VAR.get("given") == "one"
        second = VAR.set("two")
        assert second.previous_value == "one"
        VAR.reset(second)
        assert VAR.get() == "one"
        VAR.reset(first)
        with pytest.raises(LookupError):
            VAR.get()

    lowio.run(main)


def test_one_value_for_the_whole_run() -> None:
    async def child() -> None:
        assert VAR.get() == "main"
        VAR.set("child")

    async def main() -> None:
        VAR.set("main")
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(child)
        assert VAR.get() == "child"  # not per task (unlike a ContextVar)
        seen: list[str] = []
        current_token().run_sync_soon(lambda: seen.append(VAR.get()))
        await lowio.testing.wait_all_tasks_blocked()
        assert seen == ["child"]

    lowio.run(main)


def test_token_errors() -> None:
    other: RunVar[str] = RunVar("other")

    async def main() -> RunVarToken[str]:
        token = VAR.set("x")
        with pytest.raises(ValueError, match="not for us"):
            other.reset(token)  # type: ignore[arg-type]
        VAR.reset(token)
        assert token.redeemed
        with pytest.raises(ValueError, match="already been used"):
            VAR.reset(token)
        with pytest.raises(TypeError, match="RunVarToken"):
            VAR.reset(None)  # type: ignore[arg-type]
        return VAR.set("y")

    old_token = lowio.run(main)

    async def later() -> None:
        with pytest.raises(ValueError, match="another run"):
            VAR.reset(old_token)

    lowio.run(later)
    with pytest.raises(TypeError, match="no public constructor"):
        RunVarToken(VAR, None, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name must be a str"):
        RunVar(42)  # type: ignore[arg-type]
    assert repr(VAR) == "<RunVar name='VAR'>"


def test_outside_a_run_is_a_runtime_error() -> None:
    async def main() -> RunVarToken[str]:
        return VAR.set("x")

    token = lowio.run(main)
    for call in (VAR.get, lambda: VAR.set("x"), lambda: VAR.reset(token)):
        with pytest.raises(RuntimeError, match="outside of a run"):
            call()
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            VAR.get()
        except BaseException as exc:
            errors.append(exc)

    async def in_a_run() -> None:
        VAR.set("run")
        thread = threading.Thread(target=in_thread)  # another thread is outside
        thread.start()
        thread.join()

    lowio.run(in_a_run)
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)


def test_consecutive_runs_do_not_share_state_and_it_is_dropped_at_the_end() -> None:
    class Value:
        pass

    refs: list[weakref.ref[Value]] = []
    holder: RunVar[Value] = RunVar("holder")

    async def main() -> None:
        with pytest.raises(LookupError):
            holder.get()
        value = Value()
        refs.append(weakref.ref(value))
        holder.set(value)

    run = SteppedRun(main)  # kept alive: the run object must not keep the state
    run.finish()
    gc.collect()
    assert refs[0]() is None
    lowio.run(main)


def test_the_runtimes_per_run_state_is_per_run() -> None:
    limiters: list[weakref.ref[Any]] = []
    resolvers: list[object | None] = []

    class Resolver:
        async def getaddrinfo(self, *args: object) -> list[Any]:
            raise AssertionError  # pragma: no cover

        async def getnameinfo(self, *args: object) -> tuple[str, str]:
            raise AssertionError  # pragma: no cover

    async def main() -> None:
        limiter = lowio.to_thread.current_default_thread_limiter()
        assert lowio.to_thread.current_default_thread_limiter() is limiter
        limiters.append(weakref.ref(limiter))
        assert await lowio.to_thread.run_sync(lambda: 1) == 1
        resolvers.append(lowio.socket.set_custom_hostname_resolver(Resolver()))
        resolvers.append(lowio.socket.set_custom_socket_factory(None))

    for _ in range(2):
        run = SteppedRun(main)
        run.finish()
        gc.collect()
        assert limiters[-1]() is None  # dropped with the run, not with the Runner
    assert resolvers == [None, None, None, None]  # the previous run's are gone


def test_the_anyio_backends_default_limiter_is_per_run() -> None:
    seen: list[object] = []

    async def main() -> None:
        limiter = anyio.to_thread.current_default_thread_limiter()
        assert anyio.to_thread.current_default_thread_limiter() is limiter
        seen.append(limiter)

    anyio.run(main, backend="lowio")
    anyio.run(main, backend="lowio")
    assert len(seen) == 2 and seen[0] is not seen[1]


def test_trio_spellings() -> None:
    assert lowio.TrioInternalError is lowio.LowioInternalError
    assert lowio.lowlevel.current_trio_token is lowio.lowlevel.current_token
    assert not lowio.lowlevel.in_trio_run() and not lowio.lowlevel.in_trio_task()
    seen: dict[str, tuple[bool, bool]] = {}

    class Probe(lowio.lowlevel.Instrument):
        def before_io_wait(self, timeout: float) -> None:
            seen.setdefault("instrument", (lowio.lowlevel.in_run(), lowio.lowlevel.in_task()))

    async def main() -> None:
        seen["task"] = (lowio.lowlevel.in_trio_run(), lowio.lowlevel.in_trio_task())
        current_token().run_sync_soon(
            lambda: seen.setdefault("callback", (lowio.lowlevel.in_run(), lowio.lowlevel.in_task()))
        )
        await lowio.testing.wait_all_tasks_blocked()

    lowio.run(main, instruments=[Probe()])
    # in_trio_task is True exactly where current_task() works: callbacks
    # run in the init task, as trio's in its run_sync_soon task
    assert seen == {"task": (True, True), "callback": (True, True), "instrument": (True, False)}
