"""KeyboardInterrupt protection (trio's ``enable_ki_protection`` /
``disable_ki_protection`` / ``currently_ki_protected``), decided by the
whole call stack: a protected caller protects what it calls."""

from __future__ import annotations

import contextlib
import inspect
import signal
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import lowio
from lowio import from_thread, to_thread
from lowio.lowlevel import (
    Instrument,
    add_instrument,
    checkpoint,
    current_token,
    currently_ki_protected,
    disable_ki_protection,
    enable_ki_protection,
    spawn_system_task,
)
from lowio.testing import wait_all_tasks_blocked

needs_default_sigint = pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="lowio installs its SIGINT handler only over Python's default",
)


def unmarked_helper() -> bool:
    return currently_ki_protected()


@enable_ki_protection
def protected_caller() -> bool:
    assert currently_ki_protected()
    return unmarked_helper()


@disable_ki_protection
def unprotected_caller() -> bool:
    assert not currently_ki_protected()
    return unmarked_helper()


def test_where_code_is_protected_by_default() -> None:
    record: dict[str, bool] = {}

    class Probe(Instrument):
        def before_task_step(self, task: Any) -> None:
            record["instrument"] = currently_ki_protected()

    async def system_task() -> None:
        record["system task"] = currently_ki_protected()
        record["system task, callee"] = unmarked_helper()

    async def main() -> None:
        record["task"] = currently_ki_protected()
        record["task, callee"] = unmarked_helper()
        current_token().run_sync_soon(lambda: record.update(callback=currently_ki_protected()))
        spawn_system_task(system_task)
        add_instrument(Probe())
        await wait_all_tasks_blocked()

    lowio.run(main)
    record["outside a run"] = currently_ki_protected()
    assert record == {
        "task": False,
        "task, callee": False,
        "callback": True,
        "system task": True,
        "system task, callee": True,
        "instrument": True,
        "outside a run": True,
    }


def test_a_protected_caller_protects_what_it_calls_until_marked_otherwise() -> None:
    @enable_ki_protection
    def protected_then_unprotected() -> bool:
        return unprotected_caller()

    async def main() -> None:
        assert protected_caller()  # the unmarked helper inherits it
        assert not unprotected_caller()
        assert not protected_then_unprotected()  # the innermost mark wins

    lowio.run(main)
    assert not unprotected_caller()  # outside a run, too


def test_async_functions_keep_their_mark_across_checkpoints() -> None:
    async def child(expected: bool) -> None:
        assert currently_ki_protected() == expected
        await checkpoint()
        assert currently_ki_protected() == expected
        await lowio.sleep(0.001)
        assert currently_ki_protected() == expected

    @enable_ki_protection
    async def protected() -> None:
        await child(True)

    @disable_ki_protection
    async def unprotected() -> None:
        await child(False)

    async def main() -> None:
        await protected()
        await unprotected()
        await child(False)
        # a decorated task function overrides the task's default
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(protected)
            nursery.start_soon(unprotected)

    lowio.run(main)


def test_generators_and_async_generators() -> None:
    @enable_ki_protection
    def gen_protected() -> Iterator[bool]:
        yield currently_ki_protected()
        yield unmarked_helper()

    @disable_ki_protection
    def gen_unprotected() -> Iterator[bool]:
        yield currently_ki_protected()

    @enable_ki_protection
    async def agen_protected() -> AsyncIterator[bool]:
        yield currently_ki_protected()
        await checkpoint()
        yield currently_ki_protected()

    @disable_ki_protection
    async def agen_unprotected() -> AsyncIterator[bool]:
        yield currently_ki_protected()

    async def main() -> None:
        assert list(gen_protected()) == [True, True]
        for _ in gen_protected():
            assert not currently_ki_protected()  # the loop body is the caller's
        assert list(gen_unprotected()) == [False]
        assert [value async for value in agen_protected()] == [True, True]
        async for _ in agen_protected():
            assert not currently_ki_protected()
        assert [value async for value in agen_unprotected()] == [False]

    lowio.run(main)


def test_context_managers() -> None:
    seen: list[tuple[str, bool]] = []

    @contextlib.contextmanager
    @enable_ki_protection
    def protected_manager() -> Iterator[None]:
        seen.append(("enter", currently_ki_protected()))
        try:
            yield
        finally:
            seen.append(("exit", currently_ki_protected()))

    @contextlib.asynccontextmanager
    @enable_ki_protection
    async def protected_async_manager() -> AsyncIterator[None]:
        seen.append(("aenter", currently_ki_protected()))
        try:
            yield
        finally:
            seen.append(("aexit", currently_ki_protected()))

    class Manager:
        @enable_ki_protection
        def __enter__(self) -> None:
            seen.append(("__enter__", currently_ki_protected()))

        @enable_ki_protection
        def __exit__(self, *exc: object) -> None:
            seen.append(("__exit__", currently_ki_protected()))

        @enable_ki_protection
        async def __aenter__(self) -> None:
            await checkpoint()
            seen.append(("__aenter__", currently_ki_protected()))

        @enable_ki_protection
        async def __aexit__(self, *exc: object) -> None:
            seen.append(("__aexit__", currently_ki_protected()))

    async def main() -> None:
        with protected_manager():
            seen.append(("body", currently_ki_protected()))
        with pytest.raises(KeyError), protected_manager():  # exit by throw()
            raise KeyError
        async with protected_async_manager():
            seen.append(("body", currently_ki_protected()))
        with pytest.raises(KeyError):
            async with protected_async_manager():
                raise KeyError
        with Manager():
            seen.append(("body", currently_ki_protected()))
        async with Manager():
            seen.append(("body", currently_ki_protected()))

    lowio.run(main)
    assert [protected for name, protected in seen if name == "body"] == [False] * 4
    assert all(protected for name, protected in seen if name != "body"), seen
    assert len(seen) == 16


def test_del_is_protected() -> None:
    def __del__() -> bool:  # named so: finalizers may run anywhere
        return unmarked_helper()

    async def main() -> None:
        assert not unmarked_helper()
        assert __del__()

    lowio.run(main)


def test_the_decorators_return_the_function_and_keep_its_kind() -> None:
    async def afn() -> None:
        pass

    def gen() -> Iterator[None]:
        yield

    async def agen() -> AsyncIterator[None]:
        yield

    def sync() -> None:
        pass

    for fn in (afn, gen, agen, sync):
        kind = (
            inspect.iscoroutinefunction(fn),
            inspect.isgeneratorfunction(fn),
            inspect.isasyncgenfunction(fn),
        )
        for decorator in (enable_ki_protection, disable_ki_protection):
            assert decorator(fn) is fn
            assert (
                inspect.iscoroutinefunction(fn),
                inspect.isgeneratorfunction(fn),
                inspect.isasyncgenfunction(fn),
            ) == kind


@pytest.mark.parametrize("bad", [42, "f", len, staticmethod(unmarked_helper)])
def test_something_without_code_is_a_type_error(bad: Any) -> None:
    for decorator in (enable_ki_protection, disable_ki_protection):
        with pytest.raises(TypeError, match="__code__"):
            decorator(bad)


def test_from_thread_calls_run_unprotected_as_in_trio() -> None:
    async def async_probe() -> bool:
        await checkpoint()
        return currently_ki_protected()

    def in_worker() -> list[bool]:
        return [from_thread.run_sync(currently_ki_protected), from_thread.run(async_probe)]

    async def main() -> None:
        assert await to_thread.run_sync(in_worker) == [False, False]
        token = current_token()

        def alone() -> list[bool]:  # not through a waiting task
            return [
                from_thread.run_sync(currently_ki_protected, trio_token=token),
                from_thread.run(async_probe, trio_token=token),
            ]

        assert await to_thread.run_sync(alone, abandon_on_cancel=True) == [False, False]

    lowio.run(main)


def test_a_custom_hostname_resolver_runs_unprotected() -> None:
    seen: list[bool] = []

    class Resolver:
        async def getaddrinfo(self, *args: Any) -> list[Any]:
            seen.append(currently_ki_protected())
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))]

        async def getnameinfo(self, *args: Any) -> tuple[str, str]:
            seen.append(currently_ki_protected())
            return ("localhost", "http")

    async def main() -> None:
        lowio.socket.set_custom_hostname_resolver(Resolver())
        await lowio.socket.getaddrinfo("example.invalid", 80)
        await lowio.socket.getnameinfo(("127.0.0.1", 80), 0)

    lowio.run(main)
    assert seen == [False, False]


# ---- real Ctrl-C ----


def ctrl_c() -> None:
    signal.raise_signal(signal.SIGINT)  # the handler runs before this returns


@needs_default_sigint
def test_ctrl_c_in_code_called_by_a_protected_function_waits_for_a_checkpoint() -> None:
    @enable_ki_protection
    def protected() -> None:
        ctrl_c()  # an unmarked callee: protected by its caller
        record.append("not raised")

    record: list[str] = []

    async def main() -> None:
        protected()
        with pytest.raises(KeyboardInterrupt):
            await lowio.sleep(5)  # the loop hands it to the main task's wait
        record.append("at the checkpoint")

    lowio.run(main)
    assert record == ["not raised", "at the checkpoint"]


@needs_default_sigint
def test_ctrl_c_in_unprotected_code_raises_at_once() -> None:
    @enable_ki_protection
    def protected() -> None:
        unprotected()

    @disable_ki_protection
    def unprotected() -> None:
        ctrl_c()

    async def main() -> None:
        with pytest.raises(KeyboardInterrupt):
            ctrl_c()
        with pytest.raises(KeyboardInterrupt):
            protected()
        await checkpoint()  # nothing left pending

    lowio.run(main)


@needs_default_sigint
def test_ctrl_c_in_an_unprotected_system_task_raises_there() -> None:
    caught: list[str] = []

    @disable_ki_protection
    async def system_task() -> None:
        try:
            ctrl_c()
        except KeyboardInterrupt:
            caught.append("KI")

    async def main() -> None:
        spawn_system_task(system_task)
        await wait_all_tasks_blocked()

    lowio.run(main)
    assert caught == ["KI"]


def test_currently_ki_protected_in_another_thread_outside_any_run() -> None:
    seen: list[bool] = []
    thread = threading.Thread(target=lambda: seen.extend([unmarked_helper(), unprotected_caller()]))
    thread.start()
    thread.join()
    assert seen == [True, False]
