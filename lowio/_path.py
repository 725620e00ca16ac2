"""``lowio.Path``: ``pathlib`` with the blocking methods made async (trio's
``trio.Path``).

``Path`` is a ``pathlib.PurePath``: the pure operations (``/``, ``parent``,
``name``, ``with_suffix``, ``relative_to``, ``match``, ``as_uri``...) stay
synchronous and return ``lowio.Path`` objects.  Every method of
``pathlib.Path`` that touches the file system is an async method here: it
builds the ``pathlib.Path`` for the same path and calls its method in a
worker thread with ``lowio.to_thread.run_sync`` (``abandon_on_cancel=False``:
a checkpoint, cancellable only before the thread starts), raising what
``pathlib`` raises.  Methods that return paths return ``lowio.Path``;
``glob``, ``rglob`` and ``iterdir`` collect their whole result in the thread
and return an iterator over it (``for p in await d.iterdir():``).
``open()`` returns a lowio's async file object (``AsyncIOWrapper``).

``Path(...)`` gives a ``PosixPath`` (Windows is not supported by lowio).
"""

from __future__ import annotations

import os
import pathlib
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from functools import partial
from typing import IO, TYPE_CHECKING, Any, BinaryIO, ClassVar, Literal, TypeVar, overload

from ._core._exceptions import final
from ._core._library_name import library_name
from ._file_io import AsyncIOWrapper, wrap_file
from ._threads import to_thread_run_sync

if TYPE_CHECKING:
    from io import BufferedRandom, BufferedReader, BufferedWriter, FileIO, TextIOWrapper
    from typing import Concatenate

    from _typeshed import (
        OpenBinaryMode,
        OpenBinaryModeReading,
        OpenBinaryModeUpdating,
        OpenBinaryModeWriting,
        OpenTextMode,
    )
    from typing_extensions import ParamSpec, Self

    P = ParamSpec("P")

T = TypeVar("T")
PathT = TypeVar("PathT", bound="Path")


def _describe(method: Callable[..., object], how: str) -> str:
    return (
        f"Like :meth:`pathlib.Path.{method.__name__}`, but async: runs in a worker "
        f"thread (a checkpoint; cancellable only before it starts){how}."
    )


def _call(method: Callable[..., T], self: Path, args: Any, kwargs: Any) -> Callable[[], T]:
    """``method`` bound to the ``pathlib.Path`` for ``self``, as a call for a
    worker thread.  ``lowio.Path`` arguments are passed as ``pathlib.Path``
    (``samefile`` calls ``other.stat()``, which must not be the async one)."""
    args = [a._concrete() if isinstance(a, Path) else a for a in args]
    return partial(method, self._concrete(), *args, **kwargs)


def _in_thread(
    method: Callable[Concatenate[pathlib.Path, P], T],
) -> Callable[Concatenate[Path, P], Awaitable[T]]:
    """A ``pathlib.Path`` method whose result is returned as it is."""

    async def call(self: Path, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await to_thread_run_sync(_call(method, self, args, kwargs))

    call.__name__, call.__qualname__ = method.__name__, f"Path.{method.__name__}"
    call.__doc__ = _describe(method, "")
    return call


def _in_thread_to_path(
    method: Callable[Concatenate[pathlib.Path, P], pathlib.Path],
) -> Callable[Concatenate[PathT, P], Awaitable[PathT]]:
    """A ``pathlib.Path`` method that returns a path: a ``lowio.Path``
    (of the caller's class) is returned."""

    async def call(self: PathT, /, *args: P.args, **kwargs: P.kwargs) -> PathT:
        result = await to_thread_run_sync(_call(method, self, args, kwargs))
        return type(self)(result)

    call.__name__, call.__qualname__ = method.__name__, f"Path.{method.__name__}"
    call.__doc__ = _describe(method, "; returns a lowio.Path")
    return call


def _in_thread_to_paths(
    method: Callable[Concatenate[pathlib.Path, P], Iterable[pathlib.Path]],
) -> Callable[Concatenate[PathT, P], Awaitable[Iterator[PathT]]]:
    """A ``pathlib.Path`` method that yields paths: all of them are
    collected in the thread; an iterator of ``lowio.Path`` is returned."""

    async def call(self: PathT, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[PathT]:
        call_method = _call(method, self, args, kwargs)
        found = await to_thread_run_sync(lambda: list(call_method()))
        return iter([type(self)(p) for p in found])

    call.__name__, call.__qualname__ = method.__name__, f"Path.{method.__name__}"
    call.__doc__ = _describe(
        method, "; collects every result in the thread and returns an iterator of lowio.Path"
    )
    return call


class Path(pathlib.PurePath):
    """A ``pathlib.PurePath`` whose file-system methods are async (see the
    module docstring).  ``Path(...)`` returns a :class:`PosixPath`."""

    __slots__ = ()
    _concrete_class: ClassVar[type[pathlib.Path]]

    def __new__(cls, *args: str | os.PathLike[str]) -> Self:
        if cls is Path:
            cls = PosixPath  # type: ignore[assignment]
        return super().__new__(cls, *args)

    def _concrete(self) -> pathlib.Path:
        """The blocking ``pathlib.Path`` for the same path."""
        return self._concrete_class(self)

    def __repr__(self) -> str:
        return f"{library_name()}.Path({str(self)!r})"

    def as_uri(self) -> str:
        """Like ``pathlib.Path.as_uri`` (synchronous)."""
        return self._concrete().as_uri()

    @classmethod
    async def cwd(cls) -> Self:
        """The current working directory (``os.getcwd`` in a worker thread)."""
        return cls(await to_thread_run_sync(pathlib.Path.cwd))

    @classmethod
    async def home(cls) -> Self:
        """The user's home directory (``pathlib.Path.home`` in a worker thread)."""
        return cls(await to_thread_run_sync(pathlib.Path.home))

    # -- opening: the same overloads as the built-in open()
    @overload
    async def open(
        self,
        mode: OpenTextMode = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> AsyncIOWrapper[TextIOWrapper]: ...
    @overload
    async def open(
        self,
        mode: OpenBinaryMode,
        buffering: Literal[0],
        encoding: None = None,
        errors: None = None,
        newline: None = None,
    ) -> AsyncIOWrapper[FileIO]: ...
    @overload
    async def open(
        self,
        mode: OpenBinaryModeUpdating,
        buffering: Literal[-1, 1] = -1,
        encoding: None = None,
        errors: None = None,
        newline: None = None,
    ) -> AsyncIOWrapper[BufferedRandom]: ...
    @overload
    async def open(
        self,
        mode: OpenBinaryModeWriting,
        buffering: Literal[-1, 1] = -1,
        encoding: None = None,
        errors: None = None,
        newline: None = None,
    ) -> AsyncIOWrapper[BufferedWriter]: ...
    @overload
    async def open(
        self,
        mode: OpenBinaryModeReading,
        buffering: Literal[-1, 1] = -1,
        encoding: None = None,
        errors: None = None,
        newline: None = None,
    ) -> AsyncIOWrapper[BufferedReader]: ...
    @overload
    async def open(
        self,
        mode: OpenBinaryMode,
        buffering: int = -1,
        encoding: None = None,
        errors: None = None,
        newline: None = None,
    ) -> AsyncIOWrapper[BinaryIO]: ...
    @overload
    async def open(
        self,
        mode: str,
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> AsyncIOWrapper[IO[Any]]: ...
    async def open(self, *args: Any, **kwargs: Any) -> AsyncIOWrapper[IO[Any]]:
        """Like ``pathlib.Path.open``, in a worker thread (a checkpoint);
        returns the file as a lowio's async file object (``AsyncIOWrapper``)."""
        opened = await to_thread_run_sync(partial(self._concrete().open, *args, **kwargs))
        return wrap_file(opened)

    # -- queries
    stat = _in_thread(pathlib.Path.stat)
    lstat = _in_thread(pathlib.Path.lstat)
    exists = _in_thread(pathlib.Path.exists)
    is_dir = _in_thread(pathlib.Path.is_dir)
    is_file = _in_thread(pathlib.Path.is_file)
    is_symlink = _in_thread(pathlib.Path.is_symlink)
    is_socket = _in_thread(pathlib.Path.is_socket)
    is_fifo = _in_thread(pathlib.Path.is_fifo)
    is_block_device = _in_thread(pathlib.Path.is_block_device)
    is_char_device = _in_thread(pathlib.Path.is_char_device)
    is_mount = _in_thread(pathlib.Path.is_mount)
    if sys.version_info >= (3, 12):
        is_junction = _in_thread(pathlib.Path.is_junction)
    samefile = _in_thread(pathlib.Path.samefile)
    owner = _in_thread(pathlib.Path.owner)
    group = _in_thread(pathlib.Path.group)
    if sys.version_info >= (3, 13):
        full_match = _in_thread(pathlib.Path.full_match)

    # -- whole-file reads and writes
    read_bytes = _in_thread(pathlib.Path.read_bytes)
    read_text = _in_thread(pathlib.Path.read_text)
    write_bytes = _in_thread(pathlib.Path.write_bytes)
    write_text = _in_thread(pathlib.Path.write_text)

    # -- changing the file system
    touch = _in_thread(pathlib.Path.touch)
    mkdir = _in_thread(pathlib.Path.mkdir)
    rmdir = _in_thread(pathlib.Path.rmdir)
    unlink = _in_thread(pathlib.Path.unlink)
    chmod = _in_thread(pathlib.Path.chmod)
    lchmod = _in_thread(pathlib.Path.lchmod)
    symlink_to = _in_thread(pathlib.Path.symlink_to)
    hardlink_to = _in_thread(pathlib.Path.hardlink_to)
    if sys.version_info < (3, 12):
        link_to = _in_thread(pathlib.Path.link_to)

    # -- methods that return a path
    rename = _in_thread_to_path(pathlib.Path.rename)
    replace = _in_thread_to_path(pathlib.Path.replace)
    readlink = _in_thread_to_path(pathlib.Path.readlink)
    resolve = _in_thread_to_path(pathlib.Path.resolve)
    absolute = _in_thread_to_path(pathlib.Path.absolute)
    expanduser = _in_thread_to_path(pathlib.Path.expanduser)

    # -- methods that return many paths
    iterdir = _in_thread_to_paths(pathlib.Path.iterdir)
    glob = _in_thread_to_paths(pathlib.Path.glob)
    rglob = _in_thread_to_paths(pathlib.Path.rglob)


@final
class PosixPath(Path, pathlib.PurePosixPath):
    """A :class:`lowio.Path` for POSIX paths (the blocking counterpart is
    ``pathlib.PosixPath``)."""

    __slots__ = ()
    _concrete_class: ClassVar[type[pathlib.Path]] = pathlib.PosixPath


@final
class WindowsPath(Path, pathlib.PureWindowsPath):
    """A :class:`lowio.Path` for Windows paths (trio's class): on POSIX it
    is a pure path whose file-system methods raise
    ``pathlib.UnsupportedOperation`` (``NotImplementedError`` before Python
    3.13), as ``pathlib.WindowsPath`` does there."""

    __slots__ = ()
    _concrete_class: ClassVar[type[pathlib.Path]] = pathlib.WindowsPath
