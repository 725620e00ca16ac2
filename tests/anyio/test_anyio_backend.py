"""lowio's anyio backend (``anyio_backend``): registration with no import,
the version check, and the behaviour of each part (cancel scopes, task
groups, synchronization, threads and portals, the pytest runner, task
introspection, signals, raw fd waits).

The async tests run through anyio's own pytest plugin on the "lowio"
backend (the ``anyio_backend`` fixture below), so they also exercise the
backend's ``TestRunner``.
"""

from __future__ import annotations

import contextvars
import importlib.metadata
import math
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup

anyio = pytest.importorskip("anyio")

import sniffio  # noqa: E402
from anyio.abc import TaskStatus  # noqa: E402

import anyio_backend as backend_package  # noqa: E402  (the fixture below takes the name)
import lowio  # noqa: E402
from anyio_backend._testing import TestRunner  # noqa: E402
from lowio.testing import MockClock  # noqa: E402

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def anyio_backend() -> str:
    return "lowio"


def run_python(code: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Runs ``code`` in a fresh interpreter (outside the repo, so that only
    the installed distribution can provide lowio); returns its stdout."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# ---- registration and the version check ----


def test_anyio_run_needs_no_import(tmp_path: Path) -> None:
    out = run_python(
        """
        import sys
        import anyio
        assert "anyio_backend" not in sys.modules and "lowio" not in sys.modules

        async def main(x):
            import sniffio
            await anyio.sleep(0.001)
            return sniffio.current_async_library(), x

        print(anyio.run(main, 7, backend="lowio"))
        print("lowio" in anyio.get_all_backends())  # not added by default
        """,
        tmp_path,
    )
    assert out.split("\n")[:2] == ["('lowio', 7)", "False"]


def test_the_start_up_hook_is_installed_and_stays_small(tmp_path: Path) -> None:
    out = run_python(
        """
        import sys
        print(sorted({type(f).__name__ for f in sys.meta_path}))
        print(sorted(m for m in sys.modules if "lowio" in m or "anyio" in m))
        """,
        tmp_path,
    )
    finders, modules = out.splitlines()
    assert "LowioBackendFinder" in finders
    loaded = eval(modules)
    assert "lowio_anyio_hook" in loaded
    # nothing heavy at start-up: neither lowio, nor the backend, nor anyio
    assert not [m for m in loaded if m.split(".")[0] in ("lowio", "anyio_backend", "anyio")]


def test_register_is_the_explicit_fallback(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = run_python(
        """
        import sys
        sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "LowioBackendFinder"]
        import lowio.anyio
        assert "anyio" not in sys.modules  # importing it does not import anyio
        import anyio
        try:
            anyio.run(anyio.sleep, 0, backend="lowio")
        except LookupError:
            print("not found")
        lowio.anyio.register()
        lowio.anyio.register()  # idempotent
        print(anyio.run(anyio.sleep, 0, backend="lowio"))
        """,
        tmp_path,
        env,
    )
    assert out.splitlines() == ["not found", "None"]


def test_the_version_check_names_the_supported_range() -> None:
    backend_package.check_anyio_version("4.16.0")
    backend_package.check_anyio_version("4.16.7.post1")
    for bad in ("4.15.2", "4.17.0", "5.0", "(not installed)"):
        with pytest.raises(RuntimeError, match=r"anyio>=4\.16,<4\.17") as info:
            backend_package.check_anyio_version(bad)
        assert bad in str(info.value)


def test_importing_with_another_anyio_version_fails_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_version = importlib.metadata.version

    def fake_version(name: str) -> str:
        return "4.15.0" if name == "anyio" else real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", fake_version)
    for name in [m for m in sys.modules if m == "anyio_backend" or m.startswith("anyio_backend.")]:
        monkeypatch.delitem(sys.modules, name)  # restored after the test
    with pytest.raises(RuntimeError, match=r"supports anyio>=4\.16,<4\.17, but anyio 4\.15\.0"):
        import anyio_backend  # noqa: F401


def test_anyio_run_reports_an_unsupported_version(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.metadata as m\n"
            "real = m.version\n"
            "m.version = lambda n: '4.17.1' if n == 'anyio' else real(n)\n"
            "import anyio\n"
            "anyio.run(anyio.sleep, 0, backend='lowio')\n",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "RuntimeError: lowio's anyio backend supports anyio>=4.16,<4.17" in proc.stderr
    assert "anyio 4.17.1 is installed" in proc.stderr


def test_readme_example_runs(tmp_path: Path) -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- anyio-run[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert match, "the anyio example is missing from README.md"
    assert run_python(match.group(1), tmp_path).strip() == "LOWIO"  # with no lowio import


def test_every_backend_method_is_implemented() -> None:
    from anyio.abc import AsyncBackend

    methods = [n for n, v in vars(AsyncBackend).items() if isinstance(v, classmethod)]
    assert len(methods) == 46
    backend = backend_package.backend_class
    assert issubclass(backend, AsyncBackend) and not backend.__abstractmethods__
    assert all(name in vars(backend) for name in methods)


def test_hot_backend_methods_are_lowios_functions_themselves() -> None:
    # no forwarding frame between anyio and lowio on these paths
    backend = backend_package.backend_class
    assert backend.checkpoint is lowio.lowlevel.checkpoint
    assert backend.cancel_shielded_checkpoint is lowio.lowlevel.cancel_shielded_checkpoint
    assert backend.sleep is lowio.sleep
    assert backend.current_time is lowio.current_time


def test_run_options_and_awaitables() -> None:
    clock = MockClock(autojump_threshold=0)

    async def main() -> float:
        await anyio.sleep(1000)  # instant on the autojumping clock
        return anyio.current_time()

    assert anyio.run(main, backend="lowio", backend_options={"clock": clock}) >= 1000

    class Awaitable:
        def __await__(self) -> Any:
            return anyio.sleep(0).__await__()

    assert anyio.run(Awaitable, backend="lowio") is None  # not a coroutine: accepted
    with pytest.raises(TypeError):
        anyio.run(lambda: None, backend="lowio")  # type: ignore[arg-type, return-value]


# ---- cancel scopes ----


async def test_cancel_message_names_the_reason_and_the_task() -> None:
    with anyio.CancelScope() as scope:
        scope.cancel("enough")
        with pytest.raises(anyio.get_cancelled_exc_class()) as info:
            await anyio.lowlevel.checkpoint()
    assert scope.cancel_called
    assert "enough" in str(info.value)
    assert anyio.get_current_task().name in str(info.value)
    assert anyio.get_cancelled_exc_class() is lowio.Cancelled


async def test_deadlines_shields_and_timeouts() -> None:
    assert anyio.current_effective_deadline() == math.inf
    with anyio.move_on_after(0.01) as scope:
        assert scope.deadline <= anyio.current_time() + 0.01
        assert anyio.current_effective_deadline() == scope.deadline
        await anyio.sleep(5)
    assert scope.cancelled_caught
    with pytest.raises(TimeoutError, match="too slow"), anyio.fail_after(0.01, reason="too slow"):
        await anyio.sleep(5)
    with anyio.CancelScope() as outer:
        outer.cancel()
        assert anyio.current_effective_deadline() == -math.inf
        with anyio.CancelScope(shield=True) as inner:
            assert inner.shield
            await anyio.sleep(0.001)  # not cancelled: shielded
            inner.shield = False
            with pytest.raises(lowio.Cancelled):
                await anyio.sleep(0)
    with anyio.CancelScope(deadline=anyio.current_time() - 1) as past:
        await anyio.sleep(0)
    assert past.cancelled_caught
    with pytest.raises(ValueError, match="NaN"):
        anyio.CancelScope(deadline=math.nan)


async def test_checkpoints() -> None:
    with anyio.CancelScope() as scope:
        scope.cancel()
        await anyio.lowlevel.cancel_shielded_checkpoint()  # no cancel point
        with pytest.raises(lowio.Cancelled):
            await anyio.lowlevel.checkpoint_if_cancelled()
    await anyio.lowlevel.checkpoint_if_cancelled()
    await anyio.lowlevel.checkpoint()


# ---- task groups ----


async def test_task_group_errors_are_strict_groups() -> None:
    async def fail() -> None:
        raise KeyError("child")

    with pytest.RaisesGroup(KeyError):
        async with anyio.create_task_group() as tg:
            tg.start_soon(fail)
            await anyio.sleep_forever()
    with pytest.RaisesGroup(ValueError):
        async with anyio.create_task_group():
            raise ValueError("body")


async def test_only_cancellations_leave_as_one_bare_cancelled() -> None:
    with anyio.CancelScope() as outer:
        with pytest.raises(lowio.Cancelled) as info:
            async with anyio.create_task_group() as tg:
                tg.start_soon(anyio.sleep_forever)
                tg.start_soon(anyio.sleep_forever)
                await anyio.wait_all_tasks_blocked()
                outer.cancel("stop")
        raise info.value
    assert outer.cancelled_caught
    assert isinstance(info.value.__cause__, BaseExceptionGroup)
    assert "stop" in str(info.value)


async def test_cancelling_the_group_itself_is_not_an_error() -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.sleep_forever)
        await anyio.wait_all_tasks_blocked()
        tg.cancel("done")
    assert tg.cancel_scope.cancel_called and tg.cancel_scope.cancelled_caught


async def test_start_handshake() -> None:
    async def server(port: int, *, task_status: TaskStatus[int]) -> None:
        await anyio.sleep(0)
        task_status.started(port + 1)
        await anyio.sleep_forever()

    async def broken(*, task_status: TaskStatus[None]) -> None:
        raise OSError("cannot start")

    async def lazy(*, task_status: TaskStatus[None]) -> None:
        pass

    def sync_wrapper(*, task_status: TaskStatus[str]) -> Coroutine[Any, Any, str]:
        task_status.started("early")  # before the task runs

        async def body() -> str:
            return "result"

        return body()

    async with anyio.create_task_group() as tg:
        assert await tg.start(server, 8000) == 8001
        with pytest.raises(OSError, match="cannot start"):  # unwrapped
            await tg.start(broken)
        with pytest.raises(RuntimeError, match="hild exited"):
            await tg.start(lazy)
        handle = await tg.start(sync_wrapper, return_handle=True)
        assert handle.start_value == "early"
        assert await handle == "result"
        tg.cancel_scope.cancel()


async def test_names_handles_and_contexts() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    async def name_and_var() -> tuple[str | None, str, str]:
        return anyio.get_current_task().name, var.get(), sniffio.current_async_library()

    context = contextvars.copy_context()
    context.run(var.set, "custom")
    context.run(sniffio.current_async_library_cvar.set, "something else")
    async with anyio.create_task_group() as tg:
        named = tg.start_soon(name_and_var, name="worker")
        handle = tg.create_task(name_and_var(), name="handle", context=context)
        default = tg.start_soon(name_and_var)
    assert await named == ("worker", "unset", "lowio")
    assert await handle == ("handle", "custom", "lowio")
    assert (await default)[0].endswith("test_names_handles_and_contexts.<locals>.name_and_var")
    with pytest.raises(RuntimeError, match="not active"):
        tg.start_soon(name_and_var)
    with pytest.raises(RuntimeError, match="more than once"):
        async with tg:
            pass


async def test_task_handle_cancel() -> None:
    async with anyio.create_task_group() as tg:
        handle = tg.create_task(anyio.sleep_forever())
        await anyio.wait_all_tasks_blocked()
        handle.cancel()
    with pytest.raises(anyio.TaskCancelled):
        await handle
    assert handle.status is anyio.TaskHandle.Status.CANCELLED


# ---- synchronization ----


async def test_event() -> None:
    event = anyio.Event()
    assert type(event).__module__ == "anyio_backend._sync"
    async with anyio.create_task_group() as tg:
        tg.start_soon(event.wait)
        await anyio.wait_all_tasks_blocked()
        assert event.statistics().tasks_waiting == 1
        event.set()
    assert event.is_set() and event.statistics().tasks_waiting == 0


async def test_lock_owner_and_errors() -> None:
    lock = anyio.Lock()
    async with lock:
        stats = lock.statistics()
        assert stats.locked and stats.owner == anyio.get_current_task()
        with pytest.raises(RuntimeError, match="Attempted to acquire an already held Lock"):
            await lock.acquire()
        with pytest.raises(RuntimeError, match="Attempted to acquire an already held Lock"):
            lock.acquire_nowait()

        async def try_nowait() -> None:
            with pytest.raises(anyio.WouldBlock):
                lock.acquire_nowait()

        async with anyio.create_task_group() as tg:
            tg.start_soon(try_nowait)
    assert not lock.locked() and lock.statistics().owner is None


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("entering", [False, True], ids=["acquire", "async_with"])
async def test_lock_fast_acquire_skips_the_schedule_point(fast: bool, entering: bool) -> None:
    lock = anyio.Lock(fast_acquire=fast)
    task = lowio.lowlevel.current_task()
    before = task._schedule_points
    if entering:
        async with lock:  # free: a fast acquire does not yield
            assert task._schedule_points == before + (0 if fast else 1)
    else:
        await lock.acquire()
        assert task._schedule_points == before + (0 if fast else 1)
        lock.release()
    with anyio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(lowio.Cancelled):  # always a cancel point
            await lock.acquire()
    assert not lock.locked()


async def test_lock_waiters_are_served_in_order() -> None:
    lock = anyio.Lock(fast_acquire=True)
    order: list[int] = []

    async def take(n: int) -> None:
        async with lock:
            order.append(n)
            await anyio.sleep(0)

    async with anyio.create_task_group() as tg:
        await lock.acquire()
        for n in range(3):
            tg.start_soon(take, n)
            # one at a time: tasks spawned together start in no promised
            # order, and the promise is the order in which they began waiting
            await anyio.wait_all_tasks_blocked()
        assert lock.statistics().tasks_waiting == 3
        lock.release()  # handed to the oldest waiter, and so on
    assert order == [0, 1, 2]


async def test_semaphore() -> None:
    sem = anyio.Semaphore(1, max_value=1, fast_acquire=True)
    async with sem:
        assert sem.value == 0 and sem.max_value == 1
        with pytest.raises(anyio.WouldBlock):
            sem.acquire_nowait()
        async with anyio.create_task_group() as tg:
            tg.start_soon(sem.acquire)
            await anyio.wait_all_tasks_blocked()
            assert sem.statistics().tasks_waiting == 1
            sem.release()  # handed to the waiter (which keeps it)
            assert sem.value == 0
    assert sem.value == 1
    with pytest.raises(ValueError):
        sem.release()
    with pytest.raises(ValueError):
        anyio.Semaphore(-1)


async def test_capacity_limiter_statistics() -> None:
    limiter = anyio.CapacityLimiter(1)
    async with limiter:
        assert limiter.borrowed_tokens == 1 and limiter.available_tokens == 0
        with pytest.raises(anyio.WouldBlock):
            limiter.acquire_on_behalf_of_nowait("someone")
        async with anyio.create_task_group() as tg:
            tg.start_soon(limiter.acquire_on_behalf_of, "borrower")
            await anyio.wait_all_tasks_blocked()
            stats = limiter.statistics()
            assert stats.tasks_waiting == 1 and stats.total_tokens == 1
            assert isinstance(stats.borrowers, tuple) and len(stats.borrowers) == 1
            limiter.total_tokens = 2  # wakes the waiter
    assert limiter.statistics().borrowers == ("borrower",)
    limiter.release_on_behalf_of("borrower")
    with pytest.raises(TypeError, match=r"int or math\.inf"):
        anyio.CapacityLimiter(1.5)
    assert anyio.CapacityLimiter(math.inf).total_tokens == math.inf


# ---- threads and portals ----


async def test_worker_threads() -> None:
    def worker() -> tuple[str | None, object]:
        try:
            library: str | None = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            library = None
        back = anyio.from_thread.run(anyio.sleep, 0)
        return library, (back, anyio.from_thread.run_sync(sniffio.current_async_library))

    assert await anyio.to_thread.run_sync(worker) == (None, (None, "lowio"))
    default = anyio.to_thread.current_default_thread_limiter()
    assert default is anyio.to_thread.current_default_thread_limiter()
    assert default.total_tokens == 40
    limiter = anyio.CapacityLimiter(1)
    assert await anyio.to_thread.run_sync(lambda: 5, limiter=limiter) == 5
    assert limiter.borrowed_tokens == 0


async def test_worker_cancellation() -> None:
    release = threading.Event()

    def blocking() -> str:
        release.wait(5)
        return "done"

    with anyio.move_on_after(0.01) as scope:  # abandoned: returns at once
        await anyio.to_thread.run_sync(blocking, abandon_on_cancel=True)
    assert scope.cancelled_caught
    release.set()

    def polling() -> None:
        while True:
            anyio.from_thread.check_cancelled()
            time.sleep(0.001)

    with anyio.move_on_after(0.01) as scope:  # waits, and the worker sees it
        await anyio.to_thread.run_sync(polling)
    assert scope.cancelled_caught
    with pytest.raises(anyio.NoEventLoopError):
        anyio.from_thread.check_cancelled()  # not in a worker


async def test_tokens_from_plain_threads() -> None:
    token = anyio.lowlevel.current_token()
    results: list[object] = []

    def plain_thread() -> None:
        results.append(anyio.from_thread.run_sync(sniffio.current_async_library, token=token))
        results.append(anyio.from_thread.run(anyio.sleep, 0, token=token))

    thread = threading.Thread(target=plain_thread)
    thread.start()
    await anyio.to_thread.run_sync(thread.join)
    assert results == ["lowio", None]


def test_run_finished_error_after_the_run() -> None:
    async def main() -> Any:
        return anyio.lowlevel.current_token()

    token = anyio.run(main, backend="lowio")
    with pytest.raises(anyio.RunFinishedError):
        anyio.from_thread.run_sync(print, token=token)


def test_blocking_portal() -> None:
    with anyio.from_thread.start_blocking_portal(backend="lowio") as portal:
        assert portal.call(sniffio.current_async_library) == "lowio"

        async def add(a: int, b: int) -> int:
            await anyio.sleep(0.001)
            return a + b

        assert portal.call(add, 1, 2) == 3
        future = portal.start_task_soon(anyio.sleep_forever)
        future.cancel()
        with pytest.raises(KeyError):
            portal.call(dict().__getitem__, "missing")


# ---- introspection ----


async def test_task_info() -> None:
    host = anyio.get_current_task()
    infos: dict[str, anyio.TaskInfo] = {}
    event = anyio.Event()

    async def child(*, task_status: TaskStatus[None]) -> None:
        infos["child"] = anyio.get_current_task()
        task_status.started()
        await event.wait()

    async with anyio.create_task_group() as tg:
        await tg.start(child, name="the child")
        running = {info.name: info for info in anyio.get_running_tasks()}
        assert running["the child"] == infos["child"]
        assert running["the child"].parent_id == host.id
        assert not infos["child"].has_pending_cancellation()
        tg.cancel_scope.cancel()
        assert infos["child"].has_pending_cancellation()
        assert host.has_pending_cancellation()
    assert not host.has_pending_cancellation()
    assert not infos["child"].has_pending_cancellation()  # gone


def test_main_task_name() -> None:
    async def main() -> str | None:
        return anyio.get_current_task().name

    name = anyio.run(main, backend="lowio")
    assert name == f"{__name__}.test_main_task_name.<locals>.main"


# ---- signals and raw fd waits ----


async def test_signal_receiver_yields_signals() -> None:
    previous = signal.signal(signal.SIGUSR1, lambda *a: None)
    try:
        with anyio.open_signal_receiver(signal.SIGUSR1) as signals:
            os.kill(os.getpid(), signal.SIGUSR1)
            with anyio.fail_after(5):
                async for signum in signals:
                    assert signum is signal.Signals.SIGUSR1
                    break
    finally:
        signal.signal(signal.SIGUSR1, previous)


async def test_wait_readable_and_writable_map_errors() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        b.setblocking(False)
        await anyio.wait_writable(a)
        b.send(b"x")
        await anyio.wait_readable(a)
        a.recv(1)
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.wait_readable, a)
            await anyio.wait_all_tasks_blocked()
            with pytest.raises(anyio.BusyResourceError):
                await anyio.wait_readable(a)
            tg.cancel_scope.cancel()
        with pytest.raises(ExceptionGroup) as info:  # the waiter: ClosedResourceError
            async with anyio.create_task_group() as tg:
                tg.start_soon(anyio.wait_readable, a)
                await anyio.wait_all_tasks_blocked()
                anyio.notify_closing(a)
        assert type(info.value.exceptions[0]) is anyio.ClosedResourceError


# ---- the pytest runner ----


def test_test_runner_keeps_one_run_across_calls() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var")
    seen: list[object] = []

    async def fixture(value: str) -> AsyncIterator[str]:
        token = var.set(value)
        async with anyio.create_task_group() as tg:  # open around the tests
            tg.start_soon(anyio.sleep_forever)
            yield value
            tg.cancel_scope.cancel()
        var.reset(token)

    async def test(n: int) -> None:
        seen.append((n, var.get(), anyio.lowlevel.current_token().native_token))
        await anyio.sleep(10)  # instant: the runner's clock autojumps

    clock = MockClock(autojump_threshold=0)
    with TestRunner(clock=clock) as runner:
        assert not runner.is_running()
        fixture_values = runner.run_asyncgen_fixture(fixture, {"value": "set"})
        assert next(iter(fixture_values)) == "set"
        runner.run_test(test, {"n": 1})
        runner.run_test(test, {"n": 2})
        with pytest.raises(StopIteration):
            next(iter(fixture_values))
        with pytest.raises(ZeroDivisionError):
            runner.run_fixture(lambda: _divide_by_zero(), {})
        assert runner.run_fixture(_answer, {}) == 42  # the run survived the error
    assert [s[:2] for s in seen] == [(1, "set"), (2, "set")]
    assert seen[0][2] is seen[1][2]  # one run


async def _divide_by_zero() -> None:
    1 / 0  # noqa: B018


async def _answer() -> int:
    return 42


def test_test_runner_refuses_a_fixture_that_yields_twice() -> None:
    async def twice() -> AsyncIterator[int]:
        yield 1
        yield 2

    with TestRunner() as runner:
        values = iter(runner.run_asyncgen_fixture(twice, {}))
        assert next(values) == 1
        with pytest.raises(RuntimeError, match="did not stop"):
            next(values)


def test_pytest_plugin_with_async_fixtures(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(
        textwrap.dedent(
            """
            import contextvars
            import anyio, pytest, sniffio

            var = contextvars.ContextVar("var")

            @pytest.fixture(scope="module")
            def anyio_backend():
                return "lowio"

            @pytest.fixture(scope="module")
            async def server():
                async with anyio.create_task_group() as tg:
                    tg.start_soon(anyio.sleep_forever)
                    yield tg
                    tg.cancel_scope.cancel()

            @pytest.fixture
            async def value():
                token = var.set("from fixture")
                yield "value"
                var.reset(token)

            @pytest.mark.anyio
            async def test_one(server, value):
                assert sniffio.current_async_library() == "lowio"
                assert value == "value" and var.get() == "from fixture"
                assert len(server.cancel_scope.native._cancel_status._tasks) >= 0

            @pytest.mark.anyio
            async def test_two(server):
                await anyio.sleep(0.001)
                pytest.skip("skipping works")

            @pytest.mark.anyio
            async def test_three(server):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(anyio.sleep, 0)

            def test_sync_with_async_fixture(anyio_backend, value):
                assert value == "value"
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_inner.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "3 passed, 1 skipped" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("fast", [False, True])
async def test_lock_async_with_is_acquire(fast: bool) -> None:
    """``async with lock:`` takes a free lock at once (its schedule point:
    ``test_lock_fast_acquire_skips_the_schedule_point``) and otherwise
    behaves as ``acquire()``: a cancelled task takes nothing, a contended
    lock is waited for in order, and re-entry by the owner is anyio's
    error."""
    lock = anyio.Lock(fast_acquire=fast)
    async with lock:
        assert lock.statistics().owner == anyio.get_current_task()
        with pytest.raises(RuntimeError, match="Attempted to acquire an already held Lock"):
            async with lock:
                pass  # pragma: no cover
    assert not lock.locked()
    with anyio.CancelScope() as scope:
        scope.cancel()
        async with lock:
            pytest.fail("entered a lock in a cancelled scope")  # pragma: no cover
    assert scope.cancelled_caught and not lock.locked()
    order: list[int] = []

    async def take(n: int) -> None:
        async with lock:
            order.append(n)

    async with anyio.create_task_group() as tg, lock:
        for n in range(3):
            tg.start_soon(take, n)
            await anyio.wait_all_tasks_blocked()  # parked one at a time: in this order
        assert lock.statistics().tasks_waiting == 3
    assert order == [0, 1, 2] and not lock.locked()
