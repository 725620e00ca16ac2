"""``lowio.open_file`` / ``lowio.wrap_file`` and the async file object.

What is forwarded (the sync members as they are, the blocking methods as
async methods run in worker threads) and what is not, each method family on
real files (reading, writing, positioning, text and buffered attributes,
in-memory files), async iteration, ``detach``, ``aclose`` under
cancellation, cancellation before a call starts and during one, errors, and
fds/threads back to their baseline (the autouse ``no_leaks`` fixture, and
counted inside one run in ``test_fds_and_threads_back_inside_a_run``).
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from unittest import mock

import pytest

import lowio
from lowio._core._thread_cache import stop_idle_workers
from lowio._file_io import ASYNC_METHODS, SYNC_ATTRIBUTES, AsyncIOWrapper


def run(fn: object) -> None:
    lowio.run(fn)  # type: ignore[arg-type]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "file"


# ---------------------------------------------------------------- what is forwarded


def test_the_two_tables_are_disjoint_and_complete() -> None:
    assert not SYNC_ATTRIBUTES & ASYNC_METHODS
    assert {"read", "write", "seek", "tell", "truncate", "flush", "peek"} <= ASYNC_METHODS
    assert {"closed", "fileno", "name", "mode", "raw", "buffer", "getvalue"} <= SYNC_ATTRIBUTES


def test_wrap_file_rejects_non_files() -> None:
    with pytest.raises(TypeError, match="does not implement required duck-file methods"):
        lowio.wrap_file("")
    with pytest.raises(TypeError, match="close and \\(read or write\\)"):
        lowio.wrap_file(object())

    class NoClose:
        def read(self) -> bytes:
            raise AssertionError

    with pytest.raises(TypeError):
        lowio.wrap_file(NoClose())

    class NotCallable:
        close = None
        read = "x"

    with pytest.raises(TypeError):
        lowio.wrap_file(NotCallable())


def test_wrap_file_accepts_duck_files() -> None:
    class WriteOnly:
        def __init__(self) -> None:
            self.written: list[str] = []

        def write(self, data: str) -> int:
            self.written.append(data)
            return len(data)

        def close(self) -> None:
            pass

    duck = WriteOnly()
    wrapped = lowio.wrap_file(duck)
    assert isinstance(wrapped, AsyncIOWrapper)
    assert wrapped.wrapped is duck

    async def main() -> None:
        assert await wrapped.write("abc") == 3  # type: ignore[misc]
        await wrapped.aclose()

    run(main)
    assert duck.written == ["abc"]
    with pytest.raises(AttributeError):
        wrapped.read  # type: ignore[misc]  # noqa: B018  (the duck has none)


def test_dir_matches_the_wrapped_file() -> None:
    wrapped = mock.Mock(spec_set=io.StringIO)
    f = lowio.wrap_file(wrapped)
    names = set(dir(f))
    for name in SYNC_ATTRIBUTES | ASYNC_METHODS:
        assert (name in names) == (name in dir(wrapped)), name
        assert hasattr(f, name) == hasattr(wrapped, name), name
    assert {"wrapped", "aclose", "detach"} <= names


def test_members_outside_the_tables_are_not_forwarded() -> None:
    class Raw(io.RawIOBase):
        def extra(self) -> None:
            raise AssertionError

    f = lowio.wrap_file(Raw())
    assert hasattr(f.wrapped, "extra")
    with pytest.raises(AttributeError):
        f.extra  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError):
        f.getvalue  # type: ignore[misc]  # noqa: B018  (not on a RawIOBase)


def test_sync_members_are_the_files_own() -> None:
    wrapped = mock.Mock(spec_set=io.StringIO)
    f = lowio.wrap_file(wrapped)
    for name in SYNC_ATTRIBUTES:
        if hasattr(wrapped, name):
            assert getattr(f, name) is getattr(wrapped, name), name


def test_async_methods_are_made_once_and_named() -> None:
    f = lowio.wrap_file(io.StringIO())
    for name in ASYNC_METHODS:
        if hasattr(f.wrapped, name):
            assert getattr(f, name) is getattr(f, name), name
    assert f.read.__name__ == "read"
    assert f.read.__qualname__ == "AsyncIOWrapper.read"
    assert f.read.__doc__ is not None
    assert "_io.StringIO.read" in f.read.__doc__
    assert "worker thread" in f.read.__doc__


def test_async_methods_pass_arguments_and_results_through() -> None:
    wrapped = mock.Mock(spec_set=io.BytesIO)
    f = lowio.wrap_file(wrapped)

    async def main() -> None:
        for name in sorted(ASYNC_METHODS):
            if not hasattr(wrapped, name):
                continue
            method = getattr(wrapped, name)
            result = await getattr(f, name)(mock.sentinel.arg, keyword=mock.sentinel.kw)
            method.assert_called_once_with(mock.sentinel.arg, keyword=mock.sentinel.kw)
            assert result is method.return_value

    run(main)


def test_async_methods_run_in_a_worker_thread() -> None:
    threads: list[threading.Thread] = []

    class Recorder(io.StringIO):
        def read(self, size: int | None = -1, /) -> str:
            threads.append(threading.current_thread())
            return super().read(size)

    async def main() -> None:
        f = lowio.wrap_file(Recorder("abc"))
        assert await f.read() == "abc"

    run(main)
    assert threads and threads[0] is not threading.main_thread()


# ---------------------------------------------------------------- real files, by family


def test_text_file_reading_writing_positioning(path: Path) -> None:
    async def main() -> None:
        async with await lowio.open_file(path, "w+", encoding="utf-8", newline="") as f:
            assert isinstance(f, AsyncIOWrapper)
            assert (f.name, f.mode, f.encoding, f.errors) == (str(path), "w+", "utf-8", "strict")
            assert f.line_buffering is False
            assert f.readable() and f.writable() and f.seekable() and not f.isatty()
            assert f.fileno() == f.wrapped.fileno()
            assert isinstance(f.buffer, io.BufferedRandom)
            assert await f.write("one\r\n") == 5
            await f.writelines(["two\n", "three\n"])
            await f.flush()
            assert await f.tell() == 15
            assert await f.seek(0) == 0
            assert await f.readline() == "one\r\n"
            assert f.newlines == f.wrapped.newlines == ("\n", "\r\n")
            assert await f.readlines() == ["two\n", "three\n"]
            await f.seek(0)
            assert await f.read(3) == "one"
            await f.seek(0)
            assert [line async for line in f] == ["one\r\n", "two\n", "three\n"]
            assert await f.truncate(3) == 3
            assert not f.closed
        assert f.closed
        assert path.read_text() == "one"

    run(main)


def test_buffered_and_raw_binary_files(path: Path) -> None:
    path.write_bytes(b"0123456789" * 1000)

    async def main() -> None:
        async with await lowio.open_file(path, "rb") as f:
            assert isinstance(f.wrapped, io.BufferedReader)
            assert isinstance(f.raw, io.FileIO)
            peeked = await f.peek(4)
            assert peeked[:4] == b"0123"
            assert await f.read1(5) == b"01234"
            buffer = bytearray(5)
            assert await f.readinto(buffer) == 5
            assert bytes(buffer) == b"56789"
            assert await f.readinto1(buffer) == 5
            assert await f.read() == (b"0123456789" * 1000)[15:]
            assert await f.read() == b""
            assert [line async for line in f] == []
        async with await lowio.open_file(path, "rb", buffering=0) as raw:
            assert isinstance(raw.wrapped, io.FileIO)
            assert raw.closefd is True
            assert len(await raw.readall()) == 10_000
        async with await lowio.open_file(path, "r+b") as rw:
            assert isinstance(rw.wrapped, io.BufferedRandom)
            await rw.seek(-2, os.SEEK_END)
            assert await rw.write(b"XY") == 2
        assert path.read_bytes().endswith(b"67XY")

    run(main)


def test_in_memory_files() -> None:
    async def main() -> None:
        text = lowio.wrap_file(io.StringIO())
        await text.write("hello")
        assert text.getvalue() == "hello"
        binary = lowio.wrap_file(io.BytesIO(b"abc"))
        assert bytes(binary.getbuffer()) == b"abc"
        assert await binary.read() == b"abc"
        lines = lowio.wrap_file(io.StringIO("a\nb\n\nc"))
        assert [line async for line in lines] == ["a\n", "b\n", "\n", "c"]

    run(main)


def test_detach_rewraps(path: Path) -> None:
    path.write_bytes(b"data")

    async def main() -> None:
        raw = open(path, "rb", buffering=0)  # noqa: SIM115  (closed through the wrapper)
        buffered = lowio.wrap_file(io.BufferedReader(raw))
        detached = await buffered.detach()
        assert isinstance(detached, AsyncIOWrapper)
        assert detached.wrapped is raw
        with pytest.raises(ValueError):
            buffered.wrapped.read()  # the buffered layer is detached
        text = lowio.wrap_file(io.TextIOWrapper(io.BufferedReader(raw)))
        inner = await text.detach()
        assert isinstance(inner.wrapped, io.BufferedReader)
        assert await inner.read() == b"data"
        await detached.aclose()
        assert raw.closed

    run(main)


def test_open_file_arguments_and_errors(path: Path, tmp_path: Path) -> None:
    async def main() -> None:
        with pytest.raises(FileNotFoundError):
            await lowio.open_file(tmp_path / "missing")
        with pytest.raises(ValueError, match="invalid mode"):
            await lowio.open_file(path, "rz")
        with pytest.raises(ValueError, match="binary mode doesn't take an encoding"):
            await lowio.open_file(path, "wb", encoding="utf-8")  # type: ignore[call-overload]
        # opener and closefd, as for open()
        opened: list[str] = []

        def opener(name: str, flags: int) -> int:
            opened.append(name)
            return os.open(name, flags, 0o600)

        async with await lowio.open_file(path, "w", opener=opener) as f:
            await f.write("x")
        assert opened == [str(path)]
        fd = os.open(path, os.O_RDONLY)
        try:
            async with await lowio.open_file(fd, "r", closefd=False) as f:
                assert await f.read() == "x"
            os.fstat(fd)  # still open
        finally:
            os.close(fd)
        # Path objects are accepted, lowio's too
        async with await lowio.open_file(lowio.Path(path)) as f:
            assert await f.read() == "x"
        # a closed file raises what io raises
        with pytest.raises(ValueError, match="closed file"):
            await f.read()
        await f.aclose()  # idempotent

    run(main)


# ---------------------------------------------------------------- cancellation


def test_a_cancelled_call_does_not_start() -> None:
    wrapped = mock.Mock(spec_set=io.StringIO)
    f = lowio.wrap_file(wrapped)

    async def main() -> None:
        with lowio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(lowio.Cancelled):
                await f.read()
            with pytest.raises(lowio.Cancelled):
                await f.__anext__()
        assert not wrapped.read.called
        assert not wrapped.readline.called

    run(main)


def test_open_file_is_a_checkpoint(path: Path) -> None:
    async def main() -> None:
        with lowio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(lowio.Cancelled):
                await lowio.open_file(path, "w")
        assert not path.exists()  # the thread never ran

    run(main)


def test_a_started_call_runs_to_completion_under_cancellation() -> None:
    """Once its thread runs, a call is not abandoned: it completes, its
    result is returned, and the cancellation arrives at the next
    checkpoint."""
    started, release = threading.Event(), threading.Event()

    class Slow(io.StringIO):
        def write(self, data: str, /) -> int:
            started.set()
            release.wait(10)
            return super().write(data)

    f = lowio.wrap_file(Slow())
    results: list[int] = []

    async def main() -> None:
        scope = lowio.CancelScope()

        async def writer() -> None:
            with scope:
                results.append(await f.write("done"))
                await lowio.lowlevel.checkpoint()
                results.append(-1)  # not reached: cancelled above

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(writer)
            await lowio.to_thread.run_sync(started.wait, 10)
            scope.cancel()
            await lowio.sleep(0.05)  # the cancellation is pending, the write still runs
            assert results == []
            release.set()
        assert scope.cancelled_caught

    run(main)
    assert results == [4]
    assert f.wrapped.getvalue() == "done"


def test_aclose_closes_even_when_cancelled(path: Path) -> None:
    async def main() -> None:
        with lowio.CancelScope() as scope:
            f = await lowio.open_file(path, "w")
            await f.write("kept")  # buffered until close
            scope.cancel()
            with pytest.raises(lowio.Cancelled):
                await f.write("x")
            with pytest.raises(lowio.Cancelled):
                await f.aclose()
        assert f.closed

    run(main)
    assert path.read_text() == "kept"  # close flushed the buffer


def test_async_with_closes_when_the_body_is_cancelled(path: Path) -> None:
    async def main() -> None:
        with lowio.move_on_after(0.01) as scope:
            async with await lowio.open_file(path, "w") as f:
                await lowio.sleep_forever()
        assert scope.cancelled_caught
        assert f.closed

    run(main)


# ---------------------------------------------------------------- nothing leaks


def test_fds_and_threads_back_inside_a_run(tmp_path: Path) -> None:
    """Many files opened and closed concurrently: the fds are back within
    the run, and the worker threads end once idle."""
    stop_idle_workers()
    threads_before = threading.active_count()
    counts: list[tuple[int, int]] = []

    def fd_count() -> int:
        return len(os.listdir("/proc/self/fd"))

    async def main() -> None:
        before = fd_count()

        async def one(i: int) -> None:
            async with await lowio.open_file(tmp_path / f"f{i}", "w") as f:
                await f.write(str(i) * 1000)
            async with await lowio.open_file(tmp_path / f"f{i}") as f:
                assert await f.read() == str(i) * 1000

        async with lowio.open_nursery() as nursery:
            for i in range(20):
                nursery.start_soon(one, i)
        counts.append((before, fd_count()))

    run(main)
    assert counts[0][0] == counts[0][1]
    stop_idle_workers()
    assert threading.active_count() == threads_before


def test_async_method_docs_name_the_class_a_spec_mock_claims() -> None:
    wrapped = lowio.wrap_file(mock.Mock(spec_set=io.StringIO))
    assert wrapped.read.__doc__ is not None
    assert "io.StringIO.read" in wrapped.read.__doc__
