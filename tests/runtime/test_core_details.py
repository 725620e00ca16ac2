"""Small trio-compatibility details of the core: error texts, statistics,
instrument hooks."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

import lowio
from lowio._core import _library_name

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup


@pytest.fixture
def as_trio() -> Iterator[None]:
    before = _library_name.library_name()
    _library_name.set_library_name("trio")
    yield
    _library_name.set_library_name(before)


def test_no_public_constructor_names_the_public_class() -> None:
    with pytest.raises(TypeError, match=r"^lowio\.Cancelled has no public constructor$"):
        lowio.Cancelled()
    with pytest.raises(TypeError, match=r"^lowio\.lowlevel\.Task has no public constructor$"):
        lowio.lowlevel.Task()


@pytest.mark.usefixtures("as_trio")
def test_no_public_constructor_under_trios_name() -> None:
    with pytest.raises(TypeError, match=r"^trio\.Cancelled has no public constructor$"):
        lowio.Cancelled()


@pytest.mark.usefixtures("as_trio")
def test_bad_call_hint_names_trio() -> None:
    async def f() -> None:
        pass

    coro = f()
    with pytest.raises(TypeError, match=r"^Trio was expecting an async function") as info:
        lowio.run(coro)  # type: ignore[arg-type]
    assert "trio.run(f, ...)" in str(info.value)


def test_instrument_whose_hook_lookup_raises_is_not_installed() -> None:
    class Evil(lowio.abc.Instrument):
        def task_exited(self, task: object) -> None:
            raise AssertionError("never called")  # pragma: no cover

        @property
        def after_run(self) -> None:
            raise ValueError("oops")

    async def main() -> None:
        with pytest.raises(ValueError, match=r"^oops$"):
            lowio.lowlevel.add_instrument(Evil())
        instruments = lowio.lowlevel.current_task()._runner.instruments
        assert "task_exited" not in instruments
        assert "after_run" not in instruments
        assert not instruments

    lowio.run(main)


def test_after_run_sees_the_run() -> None:
    seen: list[tuple[str, bool, bool]] = []

    class Probe(lowio.abc.Instrument):
        def before_run(self) -> None:
            seen.append(("before", lowio.lowlevel.in_run(), lowio.lowlevel.in_task()))

        def after_run(self) -> None:
            seen.append(("after", lowio.lowlevel.in_run(), lowio.lowlevel.in_task()))

    async def main() -> None:
        pass

    lowio.run(main, instruments=[Probe()])
    assert seen == [("before", True, False), ("after", True, False)]
    assert not lowio.lowlevel.in_run()


def test_system_task_crash_cause_is_wrapped_as_in_trio() -> None:
    async def crasher() -> None:
        raise KeyError("k")

    async def main() -> None:
        lowio.lowlevel.spawn_system_task(crasher)
        await lowio.sleep_forever()

    with pytest.raises(lowio.LowioInternalError) as info:
        lowio.run(main)
    cause = info.value.__cause__
    # the system nursery's group inside the outer (run_sync_soon) nursery's
    assert isinstance(cause, BaseExceptionGroup)
    (inner,) = cause.exceptions
    assert isinstance(inner, BaseExceptionGroup)
    assert [type(e) for e in inner.exceptions] == [KeyError]


def test_spawned_function_sees_lowio_whatever_the_spawner_set() -> None:
    import sniffio

    seen: list[str] = []

    def returns_coroutine() -> Any:
        seen.append(sniffio.current_async_library())
        return lowio.sleep(0)

    async def main() -> None:
        local = sniffio.thread_local
        async with lowio.open_nursery() as nursery:
            previous, local.name = local.name, "nullio"
            try:
                nursery.start_soon(returns_coroutine)
            finally:
                local.name = previous

    lowio.run(main)
    assert seen == [_library_name.library_name()]


def test_run_sync_soon_crash_after_the_system_nursery_closed() -> None:
    record: list[str] = []
    saved: list[Any] = []

    async def agen() -> Any:
        token = lowio.lowlevel.current_token()
        try:
            yield 1
        finally:
            token.run_sync_soon(lambda: {}["nope"])
            token.run_sync_soon(lambda: record.append("2nd ran"))

    async def main() -> None:
        saved.append(agen())
        await saved[-1].asend(None)  # finalized once the system nursery is gone

    with pytest.raises(lowio.LowioInternalError) as info:
        lowio.run(main)
    cause = info.value.__cause__
    assert isinstance(cause, BaseExceptionGroup)
    assert [type(e) for e in cause.exceptions] == [KeyError]
    assert record == ["2nd ran"]  # the later callback still ran


def test_foreign_async_generator_without_hooks_is_closed_as_cpython_would() -> None:
    import gc

    async def awaits_after_yield() -> Any:
        try:
            yield 42
        finally:
            await lowio.lowlevel.cancel_shielded_checkpoint()

    reported: list[str] = []
    holder: list[Any] = []

    class StepOutsideTasks(lowio.abc.Instrument):
        def before_io_wait(self, timeout: float) -> None:
            if not holder:
                agen = awaits_after_yield()
                with pytest.raises(StopIteration):
                    agen.asend(None).send(None)  # first iterated outside any task
                holder.append(agen)

    async def main() -> None:
        await lowio.sleep(0.001)
        holder.clear()  # collected inside the run: our finalizer decides
        gc.collect()

    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda u: reported.append(str(u.exc_value))
    try:
        lowio.run(main, instruments=[StepOutsideTasks()])
    finally:
        sys.unraisablehook = old_hook
    assert any("awaited something during finalization" in r for r in reported), reported


def test_waiting_on_a_closed_fd_raises_the_plain_ebadf() -> None:
    import socket

    async def main() -> None:
        for wait in (lowio.lowlevel.wait_readable, lowio.lowlevel.wait_writable):
            with socket.socket() as sock:
                fd = sock.fileno()
            with pytest.raises(OSError, match=r"^\[Errno 9\] Bad file descriptor$"):
                await wait(fd)

    lowio.run(main)
