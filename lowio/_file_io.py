"""Async files: ``lowio.open_file``, ``lowio.wrap_file`` and the async file
object they return, ``AsyncIOWrapper`` (trio's names; the class is
defined here and not exported from ``lowio``).

The wrapper holds an ordinary (blocking) file object and forwards to it:

* *cheap* members — attributes and methods that never touch the disk or
  block (``closed``, ``name``, ``fileno()``, ``readable()``, ...) — are
  returned as they are, synchronously;
* *blocking* methods (``read``, ``write``, ``seek``, ``flush``, ...) become
  async: each call runs the file's method in a worker thread with
  ``lowio.to_thread.run_sync`` (``abandon_on_cancel=False``).  So each is a
  checkpoint: a cancelled call raises ``Cancelled`` before the thread
  starts; once started it runs to the end (a file operation cannot be
  interrupted half-way) and its result is returned.

A member is offered only when the wrapped file has it: ``dir()`` and
``hasattr`` on the wrapper agree with the file, and anything outside the two
tables below raises ``AttributeError`` (the wrapper is not a general proxy).
Operations on a closed file raise what the file raises (``ValueError`` for
``io``'s files), not ``ClosedResourceError``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from functools import partial
from typing import (
    IO,
    TYPE_CHECKING,
    Any,
    AnyStr,
    BinaryIO,
    Generic,
    Literal,
    TextIO,
    TypeVar,
    overload,
)

from ._abc import AsyncResource
from ._core import CancelScope
from ._core import checkpoint_if_cancelled as _checkpoint_if_cancelled
from ._threads import to_thread_run_sync

if TYPE_CHECKING:
    from typing import Protocol

    from _typeshed import (
        OpenBinaryMode,
        OpenBinaryModeReading,
        OpenBinaryModeUpdating,
        OpenBinaryModeWriting,
        OpenTextMode,
        StrOrBytesPath,
    )
    from typing_extensions import Buffer

# The members the wrapper forwards, by what they do.  "sync": returned
# as-is; "async": called in a worker thread.
_MEMBERS: dict[str, Literal["sync", "async"]] = {
    # state and capabilities (io.IOBase and its text/buffered/raw layers)
    **dict.fromkeys(("closed", "fileno", "isatty", "readable", "seekable", "writable"), "sync"),
    **dict.fromkeys(("encoding", "errors", "newlines", "line_buffering"), "sync"),
    **dict.fromkeys(("buffer", "raw", "closefd", "name", "mode"), "sync"),
    # in-memory files (io.StringIO, io.BytesIO)
    **dict.fromkeys(("getvalue", "getbuffer"), "sync"),
    # reading
    **dict.fromkeys(
        ("read", "read1", "readall", "readinto", "readinto1", "readline", "readlines", "peek"),
        "async",
    ),
    # writing
    **dict.fromkeys(("write", "writelines", "flush"), "async"),
    # positioning
    **dict.fromkeys(("seek", "tell", "truncate"), "async"),
}

SYNC_ATTRIBUTES: frozenset[str] = frozenset(n for n, k in _MEMBERS.items() if k == "sync")
ASYNC_METHODS: frozenset[str] = frozenset(n for n, k in _MEMBERS.items() if k == "async")

FileT = TypeVar("FileT")
FileT_co = TypeVar("FileT_co", covariant=True)
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

if TYPE_CHECKING:
    # What the typed members below ask of the wrapped file's type, for the
    # members that ``typing.IO`` and ``typing.TextIO`` do not cover (a member is usable on
    # ``AsyncIOWrapper[F]`` only when ``F`` has it).

    class _Raw(Protocol):
        @property
        def raw(self) -> io.RawIOBase: ...

    class _CloseFd(Protocol):
        @property
        def closefd(self) -> bool: ...

    class _GetValue(Protocol[T_co]):
        def getvalue(self) -> T_co: ...

    class _GetBuffer(Protocol):
        def getbuffer(self) -> memoryview: ...

    class _ReadAll(Protocol[T_co]):
        def readall(self) -> T_co: ...

    class _Read1(Protocol):
        def read1(self, size: int = ..., /) -> bytes: ...

    class _Peek(Protocol):
        def peek(self, size: int = ..., /) -> bytes: ...

    class _ReadInto(Protocol):
        def readinto(self, buffer: Buffer, /) -> int | None: ...

    class _ReadInto1(Protocol):
        def readinto1(self, buffer: Buffer, /) -> int: ...

    class _ReadLine(Protocol[T_co]):
        def readline(self, size: int = ..., /) -> T_co: ...

    class _Detach(Protocol[T_co]):
        def detach(self) -> T_co: ...

    class _Close(Protocol):
        def close(self) -> None: ...


def _async_method(wrapper: AsyncIOWrapper[Any], name: str) -> Callable[..., Any]:
    """The async form of the file's method ``name``: runs it in a worker
    thread."""
    method = getattr(wrapper.wrapped, name)

    async def call(*args: Any, **kwargs: Any) -> Any:
        return await to_thread_run_sync(partial(method, *args, **kwargs))

    call.__name__ = name
    call.__qualname__ = f"{type(wrapper).__name__}.{name}"
    file_type = wrapper.wrapped.__class__  # what a mock with a spec claims to be
    call.__doc__ = (
        f"Like :meth:`{file_type.__module__}.{file_type.__qualname__}.{name}`, but async: "
        "runs in a worker thread (a checkpoint; cancellable only before it starts)."
    )
    return call


class AsyncIOWrapper(AsyncResource, Generic[FileT_co]):
    """An asynchronous file object around a blocking file (see the module
    docstring for what is forwarded and how).

    ``async for line in f`` reads line by line (``readline`` in a thread per
    line).  ``async with f:`` closes it on the way out.  Build one with
    :func:`wrap_file` or :func:`open_file`; any thread may read the sync
    members, the async ones are called from a lowio task.
    """

    def __init__(self, file: FileT_co) -> None:
        self._wrapped = file

    @property
    def wrapped(self) -> FileT_co:
        """The wrapped (blocking) file object."""
        return self._wrapped

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            kind = _MEMBERS.get(name)
            if kind is None:
                raise AttributeError(name)
            if kind == "sync":
                return getattr(self._wrapped, name)  # AttributeError if the file lacks it
            method = _async_method(self, name)
            # Cached on the instance: later lookups no longer reach __getattr__.
            self.__dict__[name] = method
            return method

    def __dir__(self) -> Iterable[str]:
        names = set(super().__dir__())
        names.update(name for name in _MEMBERS if hasattr(self._wrapped, name))
        return names

    def __repr__(self) -> str:
        return f"<async file wrapping {self._wrapped!r}>"

    def __aiter__(self) -> AsyncIOWrapper[FileT_co]:
        return self

    async def __anext__(self: AsyncIOWrapper[_ReadLine[AnyStr]]) -> AnyStr:
        """The next line (``readline`` in a worker thread); stops at the end
        of the file."""
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    async def detach(self: AsyncIOWrapper[_Detach[T]]) -> AsyncIOWrapper[T]:
        """Like ``io.BufferedIOBase.detach`` / ``io.TextIOBase.detach``, in
        a worker thread; the underlying stream it returns comes back wrapped
        in a new ``AsyncIOWrapper``.  A checkpoint."""
        underlying = await to_thread_run_sync(self._wrapped.detach)
        return wrap_file(underlying)

    async def aclose(self: AsyncIOWrapper[_Close]) -> None:
        """Closes the file (``close()`` in a worker thread; flushes a
        buffered writer first).  Always closes: the thread runs shielded
        from cancellation, then a pending cancellation is raised.  A
        checkpoint; closing a closed file does nothing more."""
        with CancelScope(shield=True):
            await to_thread_run_sync(self._wrapped.close)
        await _checkpoint_if_cancelled()

    if TYPE_CHECKING:
        # The forwarded members, for type checkers (at run time __getattr__
        # provides them).  Each is usable only on a wrapper of a file type
        # that has it.

        # sync members
        @property
        def closed(self: AsyncIOWrapper[IO[Any]]) -> bool: ...
        @property
        def name(self: AsyncIOWrapper[IO[Any]]) -> Any: ...
        @property
        def mode(self: AsyncIOWrapper[IO[Any]]) -> str: ...
        @property
        def encoding(self: AsyncIOWrapper[TextIO]) -> str: ...
        @property
        def errors(self: AsyncIOWrapper[TextIO]) -> str | None: ...
        @property
        def newlines(self: AsyncIOWrapper[TextIO]) -> Any: ...
        @property
        def line_buffering(self: AsyncIOWrapper[TextIO]) -> bool: ...
        @property
        def buffer(self: AsyncIOWrapper[TextIO]) -> BinaryIO: ...
        @property
        def raw(self: AsyncIOWrapper[_Raw]) -> io.RawIOBase: ...
        @property
        def closefd(self: AsyncIOWrapper[_CloseFd]) -> bool: ...
        def fileno(self: AsyncIOWrapper[IO[Any]]) -> int: ...
        def isatty(self: AsyncIOWrapper[IO[Any]]) -> bool: ...
        def readable(self: AsyncIOWrapper[IO[Any]]) -> bool: ...
        def seekable(self: AsyncIOWrapper[IO[Any]]) -> bool: ...
        def writable(self: AsyncIOWrapper[IO[Any]]) -> bool: ...
        def getvalue(self: AsyncIOWrapper[_GetValue[T]]) -> T: ...
        def getbuffer(self: AsyncIOWrapper[_GetBuffer]) -> memoryview: ...

        # async methods
        async def read(self: AsyncIOWrapper[IO[AnyStr]], size: int | None = -1, /) -> AnyStr: ...
        async def read1(self: AsyncIOWrapper[_Read1], size: int = -1, /) -> bytes: ...
        async def readall(self: AsyncIOWrapper[_ReadAll[T]]) -> T: ...
        async def readinto(self: AsyncIOWrapper[_ReadInto], buffer: Buffer, /) -> int | None: ...
        async def readinto1(self: AsyncIOWrapper[_ReadInto1], buffer: Buffer, /) -> int: ...
        async def readline(self: AsyncIOWrapper[_ReadLine[T]], size: int = -1, /) -> T: ...
        async def readlines(
            self: AsyncIOWrapper[IO[AnyStr]], hint: int = -1, /
        ) -> list[AnyStr]: ...
        async def peek(self: AsyncIOWrapper[_Peek], size: int = 0, /) -> bytes: ...
        async def write(self: AsyncIOWrapper[IO[AnyStr]], data: AnyStr, /) -> int: ...
        async def writelines(
            self: AsyncIOWrapper[IO[AnyStr]], lines: Iterable[AnyStr], /
        ) -> None: ...
        async def flush(self: AsyncIOWrapper[IO[Any]]) -> None: ...
        async def seek(self: AsyncIOWrapper[IO[Any]], target: int, whence: int = 0, /) -> int: ...
        async def tell(self: AsyncIOWrapper[IO[Any]]) -> int: ...
        async def truncate(self: AsyncIOWrapper[IO[Any]], size: int | None = None, /) -> int: ...


def wrap_file(file: FileT) -> AsyncIOWrapper[FileT]:
    """Wraps a file object (anything with a ``close`` method and a ``read``
    or ``write`` method, ``io`` classes or duck files) in an
    :class:`AsyncIOWrapper`.  Not a checkpoint; ``TypeError`` for anything
    else."""

    def has_method(name: str) -> bool:
        return callable(getattr(file, name, None))

    if not (has_method("close") and (has_method("read") or has_method("write"))):
        raise TypeError(
            f"{file!r} does not implement required duck-file methods: close and (read or write)"
        )
    return AsyncIOWrapper(file)


_Opener = Callable[[str, int], int]


@overload
async def open_file(
    file: StrOrBytesPath | int,
    mode: OpenTextMode = "r",
    buffering: int = -1,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    closefd: bool = True,
    opener: _Opener | None = None,
) -> AsyncIOWrapper[io.TextIOWrapper]: ...
@overload
async def open_file(
    file: StrOrBytesPath | int,
    mode: OpenBinaryMode,
    buffering: Literal[0],
    encoding: None = None,
    errors: None = None,
    newline: None = None,
    closefd: bool = True,
    opener: _Opener | None = None,
) -> AsyncIOWrapper[io.FileIO]: ...
@overload
async def open_file(
    file: StrOrBytesPath | int,
    mode: OpenBinaryModeUpdating,
    buffering: Literal[-1, 1] = -1,
    encoding: None = None,
    errors: None = None,
    newline: None = None,
    closefd: bool = True,
    opener: _Opener | None = None,
) -> AsyncIOWrapper[io.BufferedRandom]: ...
@overload
async def open_file(
    file: StrOrBytesPath | int,
    mode: OpenBinaryModeWriting,
    buffering: Literal[-1, 1] = -1,
    encoding: None = None,
    errors: None = None,
    newline: None = None,
    closefd: bool = True,
    opener: _Opener | None = None,
) -> AsyncIOWrapper[io.BufferedWriter]: ...
@overload
async def open_file(
    file: StrOrBytesPath | int,
    mode: OpenBinaryModeReading,
    buffering: Literal[-1, 1] = -1,
    encoding: None = None,
    errors: None = None,
    newline: None = None,
    closefd: bool = True,
    opener: _Opener | None = None,
) -> AsyncIOWrapper[io.BufferedReader]: ...
@overload
async def open_file(
    file: StrOrBytesPath | int,
    mode: OpenBinaryMode,
    buffering: int,
    encoding: None = None,
    errors: None = None,
    newline: None = None,
    closefd: bool = True,
    opener: _Opener | None = None,
) -> AsyncIOWrapper[BinaryIO]: ...
@overload
async def open_file(
    file: StrOrBytesPath | int,
    mode: str,
    buffering: int = -1,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    closefd: bool = True,
    opener: _Opener | None = None,
) -> AsyncIOWrapper[IO[Any]]: ...
async def open_file(
    file: StrOrBytesPath | int,
    mode: str = "r",
    buffering: int = -1,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    closefd: bool = True,
    opener: _Opener | None = None,
) -> AsyncIOWrapper[Any]:
    """The async form of the built-in ``open()`` (same arguments, same
    errors: ``OSError``, ``ValueError``...): opens the file in a worker
    thread and returns it wrapped in an :class:`AsyncIOWrapper`.

    A checkpoint (cancellable before the thread starts; a file it opened is
    always returned).  Use it as ``async with await lowio.open_file(p) as
    f:``."""
    opened = await to_thread_run_sync(
        partial(io.open, file, mode, buffering, encoding, errors, newline, closefd, opener)
    )
    return wrap_file(opened)
