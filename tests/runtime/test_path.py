"""``lowio.Path``: a ``pathlib.PurePath`` whose file-system methods are
async (worker threads).

The pure side (construction, operators, comparisons with ``pathlib``,
derived paths staying ``lowio.Path``), every async method of trio's
``trio.Path`` present and async, each family on a real directory
(queries, whole-file I/O, changes, path-returning and many-path methods,
``open``), errors, that a blocking call does not block the run (a FIFO),
and cancellation before a call starts.
"""

from __future__ import annotations

import inspect
import os
import pathlib
import stat
import sys
import threading

import pytest

import lowio
from lowio._file_io import AsyncIOWrapper

# trio 0.35's async methods of trio.Path on this Python (POSIX).
ASYNC_NAMES = {
    "absolute", "chmod", "cwd", "exists", "expanduser", "glob", "group", "hardlink_to",
    "home", "is_block_device", "is_char_device", "is_dir", "is_fifo", "is_file", "is_mount",
    "is_socket", "is_symlink", "iterdir", "lchmod", "lstat", "mkdir", "open", "owner",
    "read_bytes", "read_text", "readlink", "rename", "replace", "resolve", "rglob", "rmdir",
    "samefile", "stat", "symlink_to", "touch", "unlink", "write_bytes", "write_text",
}  # fmt: skip
if sys.version_info >= (3, 12):
    ASYNC_NAMES.add("is_junction")
else:
    ASYNC_NAMES.add("link_to")
if sys.version_info >= (3, 13):
    ASYNC_NAMES.add("full_match")

PURE_NAMES = {
    "as_posix", "as_uri", "is_absolute", "is_relative_to", "is_reserved", "joinpath",
    "match", "relative_to", "with_name", "with_stem", "with_suffix",
}  # fmt: skip


def run(fn: object) -> None:
    lowio.run(fn)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the pure side


def test_construction() -> None:
    p = lowio.Path("a", pathlib.Path("b"), "c")
    assert type(p) is lowio.PosixPath
    assert isinstance(p, lowio.Path)
    assert isinstance(p, pathlib.PurePosixPath)
    assert not isinstance(p, pathlib.Path)
    assert str(p) == "a/b/c"
    assert bytes(p) == b"a/b/c"
    assert os.fspath(p) == "a/b/c"
    assert repr(lowio.Path(".")) == "lowio.Path('.')"
    assert type(lowio.PosixPath("x")) is lowio.PosixPath
    with pytest.raises(TypeError):
        lowio.Path(1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("left", "right"),
    [(lowio.Path, pathlib.Path), (pathlib.Path, lowio.Path), (lowio.Path, lowio.Path)],
)
def test_comparisons_and_hash_match_pathlib(left: type, right: type) -> None:
    assert left("a/b") == right("a/b")
    assert not left("a") != right("a")  # noqa: SIM202
    assert left("a") < right("b")
    assert right("b") > left("a")
    assert hash(left("x/y")) == hash(right("x/y"))
    assert left("a") != None  # noqa: E711


def test_derived_paths_stay_lowio_paths() -> None:
    p = lowio.Path("/tmp/dir/file.txt")
    derived = [
        p / "x",
        "x" / lowio.Path("y"),
        p / pathlib.Path("z"),
        p.parent,
        p.parents[1],
        p.with_name("other"),
        p.with_suffix(".py"),
        p.with_stem("s"),
        p.joinpath("a", "b"),
        p.relative_to("/tmp"),
    ]
    for d in derived:
        assert type(d) is lowio.PosixPath, d
    assert (p.name, p.stem, p.suffix, p.parts[-1]) == ("file.txt", "file", ".txt", "file.txt")
    assert p.as_uri() == "file:///tmp/dir/file.txt"
    assert p.match("*.txt")


def test_which_methods_are_async() -> None:
    for name in ASYNC_NAMES:
        assert inspect.iscoroutinefunction(getattr(lowio.Path, name)), name
    for name in PURE_NAMES:
        assert not inspect.iscoroutinefunction(getattr(lowio.Path, name)), name
    resolve = lowio.Path(".").resolve
    assert resolve.__name__ == "resolve"
    assert resolve.__qualname__ == "Path.resolve"
    assert resolve.__doc__ is not None
    assert "pathlib.Path.resolve" in resolve.__doc__
    with pytest.raises(AttributeError):
        lowio.Path(".").no_such_method  # type: ignore[attr-defined]  # noqa: B018


# ---------------------------------------------------------------- async methods


def test_queries(tmp_path: pathlib.Path) -> None:
    (tmp_path / "file").write_text("abc")
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    os.symlink(tmp_path / "file", tmp_path / "link")

    async def main() -> None:
        d = lowio.Path(tmp_path)
        assert await (d / "file").exists()
        assert not await (d / "missing").exists()
        assert await (d / "file").is_file()
        assert await (d / "dir").is_dir()
        assert await (d / "fifo").is_fifo()
        assert await (d / "link").is_symlink()
        assert not await (d / "file").is_socket()
        assert await lowio.Path("/dev/null").is_char_device()
        assert not await (d / "file").is_block_device()
        assert await lowio.Path("/").is_mount()
        assert (await (d / "file").stat()).st_size == 3
        assert stat.S_ISLNK((await (d / "link").lstat()).st_mode)
        assert await (d / "link").samefile(d / "file")  # a lowio.Path argument
        assert await (d / "link").samefile(str(d / "file"))
        assert await (d / "file").owner() == pathlib.Path(tmp_path / "file").owner()
        assert await (d / "file").group() == pathlib.Path(tmp_path / "file").group()
        for name in ("is_dir", "is_file", "exists"):
            assert await getattr(lowio.Path("."), name)() == getattr(pathlib.Path("."), name)()

    run(main)


def test_whole_file_io_and_changes(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        d = lowio.Path(tmp_path)
        f = d / "sub" / "f.txt"
        await f.parent.mkdir()
        assert await f.write_text("héllo", encoding="utf-8") == 5
        assert await f.read_text(encoding="utf-8") == "héllo"
        assert await f.write_bytes(b"\x00\x01") == 2
        assert await f.read_bytes() == b"\x00\x01"
        await f.chmod(0o600)
        assert stat.S_IMODE((await f.stat()).st_mode) == 0o600
        await (d / "t").touch()
        assert await (d / "t").exists()
        await (d / "s").symlink_to(f)
        await (d / "h").hardlink_to(f)
        assert (await (d / "h").stat()).st_nlink == 2
        await (d / "t").unlink()
        await (d / "t").unlink(missing_ok=True)
        with pytest.raises(FileNotFoundError):
            await (d / "t").unlink()
        with pytest.raises(OSError):
            await f.parent.rmdir()  # not empty
        await (d / "empty").mkdir()
        await (d / "empty").rmdir()
        assert not await (d / "empty").exists()
        with pytest.raises(FileExistsError):
            await f.parent.mkdir()

    run(main)


def test_methods_returning_paths(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        d = lowio.Path(tmp_path)
        a = d / "a"
        await a.touch()
        b = await a.rename(d / "b")
        c = await b.replace(d / "c")
        await (d / "link").symlink_to("c")
        target = await (d / "link").readlink()
        resolved = await (d / "link").resolve()
        absolute = await lowio.Path("x").absolute()
        home = await lowio.Path("~/x").expanduser()
        for result in (b, c, target, resolved, absolute, home):
            assert type(result) is lowio.PosixPath, result
        assert (str(b), str(c), str(target)) == (str(d / "b"), str(d / "c"), "c")
        assert resolved == pathlib.Path(tmp_path / "c").resolve()
        assert absolute == pathlib.Path("x").absolute()
        assert home == pathlib.Path("~/x").expanduser()
        cwd, user_home = await lowio.Path.cwd(), await lowio.Path.home()
        assert type(cwd) is type(user_home) is lowio.PosixPath
        assert (cwd, user_home) == (pathlib.Path.cwd(), pathlib.Path.home())
        assert type(await lowio.PosixPath.cwd()) is lowio.PosixPath

    run(main)


def test_methods_returning_many_paths(tmp_path: pathlib.Path) -> None:
    for name in ("a.py", "b.txt", "sub/c.py", "sub/deeper/d.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()

    async def main() -> None:
        d = lowio.Path(tmp_path)
        entries = await d.iterdir()
        assert iter(entries) is entries  # an iterator, already filled
        listed = sorted(entries)
        assert [p.name for p in listed] == ["a.py", "b.txt", "sub"]
        globbed = sorted(await d.glob("*.py"))
        recursive = sorted(await d.rglob("*.py"))
        for p in [*listed, *globbed, *recursive]:
            assert type(p) is lowio.PosixPath
        assert [p.name for p in globbed] == ["a.py"]
        assert [p.relative_to(d).as_posix() for p in recursive] == [
            "a.py",
            "sub/c.py",
            "sub/deeper/d.py",
        ]
        with pytest.raises(FileNotFoundError):
            await (d / "missing").iterdir()  # raised in the thread, not on iteration

    run(main)


def test_open(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        p = lowio.Path(tmp_path) / "f"
        async with await p.open("w") as f:
            assert isinstance(f, AsyncIOWrapper)
            await f.write("line 1\nline 2\n")
        assert f.closed
        async with await p.open("rb") as binary:
            assert await binary.read() == b"line 1\nline 2\n"
        async with await p.open() as text:
            assert [line async for line in text] == ["line 1\n", "line 2\n"]
        with pytest.raises(FileNotFoundError):
            await (p.parent / "missing").open()

    run(main)


def test_a_blocking_call_does_not_block_the_run(tmp_path: pathlib.Path) -> None:
    """Reading a FIFO blocks until a writer comes: the writer is another
    task of the same run, so the read must be in a thread."""
    fifo = lowio.Path(tmp_path) / "fifo"
    os.mkfifo(fifo)
    got: list[str] = []

    async def main() -> None:
        async def reader() -> None:
            got.append(await fifo.read_text())

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(reader)
            await lowio.sleep(0.01)
            await fifo.write_text("through the fifo")

    run(main)
    assert got == ["through the fifo"]


def test_a_cancelled_call_does_not_start(tmp_path: pathlib.Path) -> None:
    calls: list[threading.Thread] = []
    target = lowio.Path(tmp_path) / "never"

    async def main() -> None:
        with lowio.CancelScope() as scope:
            scope.cancel()
            for attempt in (target.touch, target.mkdir, lowio.Path.cwd, target.iterdir):
                with pytest.raises(lowio.Cancelled):
                    await attempt()
            with pytest.raises(lowio.Cancelled):
                await target.open("w")
        calls.append(threading.current_thread())

    run(main)
    assert calls
    assert not os.path.exists(target)
