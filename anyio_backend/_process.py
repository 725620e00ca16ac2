"""anyio's ``Process`` on lowio: ``open_process`` (on ``lowio.open_process``:
a pidfd in the run's poller where the kernel has them, pipes as
``lowio.lowlevel.FdStream`` on the owned fast path) and the shutdown of
``anyio.to_process``'s worker pool when the run ends.

The pipes are anyio byte streams: ``receive`` raises ``EndOfStream`` at the
end of the output, ``ClosedResourceError`` once the stream is closed (also
when another task closes it during the call), ``BrokenResourceError`` for
a broken pipe (the child closed its end) or another OS error.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from os import PathLike
from signal import Signals
from typing import IO, Any

from anyio import BrokenResourceError, BusyResourceError, ClosedResourceError, EndOfStream, abc
from anyio.abc._eventloop import StrOrBytesPath

import lowio
from lowio import BrokenResourceError as LowioBrokenResourceError
from lowio import BusyResourceError as LowioBusyResourceError
from lowio import ClosedResourceError as LowioClosedResourceError
from lowio.lowlevel import FdStream, spawn_system_task

_RECEIVE_SIZE = 65536


@contextmanager
def _anyio_errors(doing: str) -> Iterator[None]:
    """Turns lowio's stream errors into anyio's (``doing``: "reading from"
    or "writing to", for ``BusyResourceError``)."""
    try:
        yield
    except LowioClosedResourceError as exc:
        raise ClosedResourceError from exc.__cause__
    except LowioBrokenResourceError as exc:
        raise BrokenResourceError from exc.__cause__
    except LowioBusyResourceError:
        raise BusyResourceError(doing) from None


class ProcessReceiveStream(abc.ByteReceiveStream):
    """The child's stdout or stderr."""

    def __init__(self, stream: FdStream) -> None:
        self._stream = stream

    async def receive(self, max_bytes: int = _RECEIVE_SIZE) -> bytes:
        if max_bytes < 1:
            raise ValueError("max_bytes must be a positive integer")
        with _anyio_errors("reading from"):
            data = await self._stream.receive_some(max_bytes)
        if data:
            return data
        raise EndOfStream

    async def aclose(self) -> None:
        await self._stream.aclose()


class ProcessSendStream(abc.ByteSendStream):
    """The child's stdin."""

    def __init__(self, stream: FdStream) -> None:
        self._stream = stream

    async def send(self, item: bytes) -> None:
        with _anyio_errors("writing to"):
            await self._stream.send_all(item)

    async def aclose(self) -> None:
        await self._stream.aclose()


class Process(abc.Process):
    """A child process (anyio's ``Process``) over a ``lowio.Process``."""

    def __init__(
        self,
        process: lowio.Process,
        stdin: ProcessSendStream | None,
        stdout: ProcessReceiveStream | None,
        stderr: ProcessReceiveStream | None,
    ) -> None:
        self._process = process
        self._stdin = stdin
        self._stdout = stdout
        self._stderr = stderr

    async def aclose(self) -> None:
        """Closes the pipes, then waits for the child to exit; if cancelled
        (or anything else interrupts the wait) kills it and waits for it
        to die before re-raising."""
        with lowio.CancelScope(shield=True):
            if self._stdin:
                await self._stdin.aclose()
            if self._stdout:
                await self._stdout.aclose()
            if self._stderr:
                await self._stderr.aclose()
        try:
            await self.wait()
        except BaseException:
            self.kill()
            with lowio.CancelScope(shield=True):
                await self.wait()
            raise

    async def wait(self) -> int:
        return await self._process.wait()

    def terminate(self) -> None:
        self._process.terminate()

    def kill(self) -> None:
        self._process.kill()

    def send_signal(self, signal: Signals) -> None:
        self._process.send_signal(signal)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    @property
    def stdin(self) -> abc.ByteSendStream | None:
        return self._stdin

    @property
    def stdout(self) -> abc.ByteReceiveStream | None:
        return self._stdout

    @property
    def stderr(self) -> abc.ByteReceiveStream | None:
        return self._stderr


def _as_str(item: StrOrBytesPath) -> str:
    path = os.fspath(item)
    return path if isinstance(path, str) else os.fsdecode(path)


async def open_process(
    command: StrOrBytesPath | Sequence[StrOrBytesPath],
    *,
    stdin: int | IO[Any] | None,
    stdout: int | IO[Any] | None,
    stderr: int | IO[Any] | None,
    **kwargs: Any,
) -> Process:
    """Starts ``command`` (a string or path: through the shell; a sequence:
    executed directly); the other arguments go to ``subprocess.Popen``."""
    if isinstance(command, (str, bytes, PathLike)):
        process = await lowio.open_process(
            _as_str(command), stdin=stdin, stdout=stdout, stderr=stderr, shell=True, **kwargs
        )
    else:
        process = await lowio.open_process(
            [_as_str(item) for item in command],
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            shell=False,
            **kwargs,
        )
    return Process(
        process,
        ProcessSendStream(process.stdin) if process.stdin else None,
        ProcessReceiveStream(process.stdout) if process.stdout else None,
        ProcessReceiveStream(process.stderr) if process.stderr else None,
    )


async def _shutdown_process_pool(workers: set[abc.Process]) -> None:
    """A system task: sleeps until the run ends (system tasks are cancelled
    once the main task is done), then kills the pool's workers and reaps
    them."""
    try:
        await lowio.sleep(math.inf)
    except lowio.Cancelled:
        workers = set(workers)
        for process in workers:
            if process.returncode is None:
                process.kill()
        with lowio.CancelScope(shield=True):
            for process in workers:
                await process.aclose()


def setup_process_pool_exit_at_shutdown(workers: set[abc.Process]) -> None:
    """Makes sure ``anyio.to_process``'s workers (``workers``, filled in
    later) are killed when this run ends."""
    spawn_system_task(_shutdown_process_pool, workers, name="anyio process pool shutdown")


__all__ = [
    "Process",
    "ProcessReceiveStream",
    "ProcessSendStream",
    "open_process",
    "setup_process_pool_exit_at_shutdown",
]
