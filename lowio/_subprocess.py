"""Child processes: ``lowio.open_process``, ``lowio.run_process`` and
``lowio.Process`` (trio's API and semantics).

* Spawning (``subprocess.Popen``: fork/exec, which may be slow for a big
  parent or with ``preexec_fn``) runs in a short-lived thread, so the loop
  keeps running meanwhile.  It is not cancellable once started.
* Waiting for the exit: where the kernel has ``pidfd_open`` (Linux >= 5.3),
  the process's pidfd goes into the run's poller (``wait_readable``);
  otherwise one waiter thread per process blocks in
  ``waitid(WEXITED | WNOWAIT)`` and reports back through the run token's
  ``run_sync_soon``.  Either way the exit status is then collected with
  ``waitpid`` (``Popen.wait``), so no zombie is left behind.
* The pipes to the child are :class:`~lowio.lowlevel.FdStream` s.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import warnings
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias, TypeVar

from ._core._cancel import CancelScope
from ._core._exceptions import (
    BrokenResourceError,
    ClosedResourceError,
    NoPublicConstructor,
    RunFinishedError,
    final,
)
from ._core._library_name import library_name
from ._core._local import GLOBAL_RUN_CONTEXT, no_run_error
from ._core._nursery import TASK_STATUS_IGNORED, Nursery, TaskStatus, open_nursery
from ._core._parking_lot import ParkingLot
from ._core._traps import Abort, checkpoint, checkpoint_if_cancelled, wait_task_rescheduled
from ._fd_stream import AsyncClosing, FdStream
from ._timeouts import sleep

if TYPE_CHECKING:
    from ._core._entry_queue import RunToken
    from ._core._run import Runner

T = TypeVar("T")

StrOrBytesPath: TypeAlias = str | bytes | os.PathLike[str] | os.PathLike[bytes]


class HasFileno(Protocol):
    """Anything with a ``fileno()`` method."""

    def fileno(self) -> int: ...


# False: every Process waits with a thread, as where the kernel has no
# pidfds (tests set it to cover that path on any kernel).
_can_try_pidfd_open = True


def _pidfd_open(pid: int) -> int:
    """``os.pidfd_open(pid)``; ``OSError`` where the kernel or Python has
    none (then lowio waits with a thread).  Tests replace it."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        raise OSError("os.pidfd_open is not available")
    fd: int = pidfd_open(pid)
    return fd


def _current_runner(what: str) -> Runner:
    runner = GLOBAL_RUN_CONTEXT.runner
    if runner is None:
        raise no_run_error(what)
    return runner


async def _run_in_thread(fn: Callable[[], T]) -> T:
    """``fn()`` in a new daemon thread; its result (or exception) comes back
    through ``run_sync_soon``.  A cancel point before starting; once the
    thread runs, the wait cannot be cancelled (the thread's work, a spawn,
    must not be abandoned half-way)."""
    await checkpoint_if_cancelled()
    runner = _current_runner("_run_in_thread()")
    task = GLOBAL_RUN_CONTEXT.task
    assert task is not None
    token = runner.token

    def deliver(value: Any, error: BaseException | None) -> None:
        if error is None:
            runner.reschedule(task, value)
        else:
            runner.reschedule_raise(task, error)

    def worker() -> None:
        value: Any = None
        error: BaseException | None = None
        try:
            value = fn()
        except BaseException as exc:
            error = exc
        # RunFinishedError: the run crashed meanwhile; nobody to tell
        with contextlib.suppress(RunFinishedError):
            token.run_sync_soon(deliver, value, error)

    threading.Thread(target=worker, name="lowio subprocess spawner", daemon=True).start()

    def abort(_: object) -> Abort:
        return Abort.FAILED

    result: T = await wait_task_rescheduled(abort)
    return result


class _StapledStream(AsyncClosing):
    """``Process.stdio``: the child's stdin and stdout as one stream (trio's
    ``StapledStream``): sends go to ``send_stream``, receives come from
    ``receive_stream``; ``send_eof`` closes ``send_stream``."""

    def __init__(self, send_stream: FdStream, receive_stream: FdStream) -> None:
        self.send_stream = send_stream
        self.receive_stream = receive_stream

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.send_stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.send_stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self.send_stream.aclose()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        return await self.receive_stream.receive_some(max_bytes)

    def __aiter__(self) -> _StapledStream:
        return self

    async def __anext__(self) -> bytes:
        data = await self.receive_some()
        if not data:
            raise StopAsyncIteration
        return data

    async def aclose(self) -> None:
        try:
            await self.send_stream.aclose()
        finally:
            await self.receive_stream.aclose()


@final
class Process(metaclass=NoPublicConstructor):
    """A child process, like ``subprocess.Popen`` but async.  Made by
    ``open_process`` (or ``await nursery.start(run_process, ...)``).

    Attributes: ``args`` (the command), ``pid``, ``returncode``, ``stdin``
    (an ``FdStream`` to send to, or None), ``stdout`` / ``stderr``
    (``FdStream`` s to receive from, or None), ``stdio`` (stdin and stdout
    stapled together, or None).  Use it from the run's thread.
    """

    universal_newlines: Final = False
    encoding: Final = None
    errors: Final = None

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        stdin: FdStream | None,
        stdout: FdStream | None,
        stderr: FdStream | None,
    ) -> None:
        self._proc = popen
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.stdio: _StapledStream | None = None
        if stdin is not None and stdout is not None:
            self.stdio = _StapledStream(stdin, stdout)
        self.args: StrOrBytesPath | Sequence[StrOrBytesPath] = popen.args
        self.pid: int = popen.pid
        # the pidfd while the child is unreaped; None once it is (or where
        # there are no pidfds: wait() uses a thread then)
        self._pidfd: int | None = None
        if _can_try_pidfd_open:
            with contextlib.suppress(OSError):
                self._pidfd = _pidfd_open(popen.pid)
        self._pidfd_waiting = False  # a task is in wait_readable(pidfd)
        self._watcher_token: RunToken | None = None  # the run the waiter thread reports to
        self._exit_seen = False  # the waiter thread saw the exit
        self._lot = ParkingLot()  # the other tasks in wait()

    def __repr__(self) -> str:
        returncode = self.returncode
        if returncode is None:
            status = f"running with PID {self.pid}"
        elif returncode < 0:
            status = f"exited with signal {-returncode}"
        else:
            status = f"exited with status {returncode}"
        return f"<{library_name()}.Process {self.args!r}: {status}>"

    @property
    def returncode(self) -> int | None:
        """The exit status (negative: killed by that signal), or None while
        the child runs.  Always current: reading it reaps an exited child
        (``waitpid(WNOHANG)``), no need to call ``poll`` or ``wait`` first."""
        result = self._proc.poll()
        if result is not None:
            self._close_pidfd()
        return result

    def poll(self) -> int | None:
        """The same as :attr:`returncode` (for code ported from
        ``subprocess``).  Not a checkpoint."""
        return self.returncode

    def _close_pidfd(self) -> None:
        fd = self._pidfd
        if fd is None:
            return
        self._pidfd = None
        runner = GLOBAL_RUN_CONTEXT.runner
        if runner is not None:
            runner.io.notify_closing(fd)  # wakes a task in wait(): it re-checks
        os.close(fd)

    async def wait(self) -> int:
        """Waits until the child has exited, reaps it and returns its exit
        status.  A checkpoint.  Several tasks may wait at once.  If
        cancelled, the child keeps running (``run_process`` kills it)."""
        if self.poll() is not None:
            await checkpoint()
        while self.poll() is None:
            if self._pidfd is not None:
                await self._wait_pidfd()
            else:
                await self._wait_thread()
        returncode = self._proc.returncode
        assert returncode is not None
        return returncode

    async def _wait_pidfd(self) -> None:
        if self._pidfd_waiting:
            await self._lot.park()  # woken when that task is done (or cancelled)
            return
        self._pidfd_waiting = True
        try:
            runner = _current_runner("Process.wait()")
            # ClosedResourceError: another task reaped the child (poll) and
            # closed the pidfd meanwhile
            with contextlib.suppress(ClosedResourceError):
                assert self._pidfd is not None
                await runner.io.wait_readable(self._pidfd)
            # the pidfd is readable once the child has exited: reap it now
            self._proc.wait()
            self._close_pidfd()
        finally:
            self._pidfd_waiting = False
            self._lot.unpark_all()

    async def _wait_thread(self) -> None:
        if self._exit_seen:
            await checkpoint()
            self._proc.wait()  # it has exited: waitpid returns at once
            return
        runner = _current_runner("Process.wait()")
        if self._watcher_token is not runner.token:  # none yet, or one for an ended run
            self._start_watcher(runner)
        await self._lot.park()

    def _start_watcher(self, runner: Runner) -> None:
        token = runner.token
        pid = self.pid

        def exited() -> None:  # in the run's thread
            self._exit_seen = True
            self._lot.unpark_all()

        def watch() -> None:
            # WNOWAIT: leave the child to be reaped by Popen, which records
            # the status.  If waitid fails (SIGCHLD ignored: the kernel
            # reaped it; or reaped elsewhere), report anyway: poll() copes.
            with contextlib.suppress(OSError):
                os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            with contextlib.suppress(RunFinishedError):
                token.run_sync_soon(exited)

        self._watcher_token = token
        threading.Thread(target=watch, name=f"lowio waiter for pid {pid}", daemon=True).start()

    def send_signal(self, sig: signal.Signals | int) -> None:
        """Sends ``sig`` to the child (nothing once it has been reaped, so a
        reused pid is never signalled)."""
        self._proc.send_signal(sig)

    def terminate(self) -> None:
        """Sends ``SIGTERM``: a request to exit, which the child may ignore."""
        self._proc.terminate()

    def kill(self) -> None:
        """Sends ``SIGKILL``; use :meth:`wait` to know when it has died."""
        self._proc.kill()

    async def aclose(self) -> None:
        """Closes the pipes to the child, then waits for it to exit.  If
        cancelled while waiting, kills the child and waits for it to die
        (shielded) before letting the cancellation through.  A checkpoint.
        (trio's ``Process.aclose`` of trio < 0.20; trio 0.35 has none.)"""
        with CancelScope(shield=True):
            for stream in (self.stdin, self.stdout, self.stderr):
                if stream is not None:
                    await stream.aclose()
        try:
            await self.wait()
        finally:
            if self._proc.returncode is None:
                self.kill()
                with CancelScope(shield=True):
                    await self.wait()

    def __del__(self) -> None:
        fd = getattr(self, "_pidfd", None)
        if fd is not None:
            self._pidfd = None
            with contextlib.suppress(OSError):
                os.close(fd)


_UNSUPPORTED_OPTIONS = ("universal_newlines", "text", "encoding", "errors", "bufsize")


async def open_process(
    command: StrOrBytesPath | Sequence[StrOrBytesPath],
    *,
    stdin: int | HasFileno | None = None,
    stdout: int | HasFileno | None = None,
    stderr: int | HasFileno | None = None,
    **options: object,
) -> Process:
    """Starts ``command`` in a child process and returns a :class:`Process`
    (trio's ``trio.lowlevel.open_process``); nothing supervises it: wait for
    it (or use ``run_process``).

    ``stdin`` / ``stdout`` / ``stderr``: ``subprocess.PIPE`` (the Process
    gets an ``FdStream``), ``subprocess.DEVNULL``, an fd or an object with
    ``fileno()``, or None (inherit ours); ``stderr=subprocess.STDOUT`` too.
    Other ``subprocess.Popen`` options (``cwd``, ``env``, ``shell``,
    ``pass_fds``, ``start_new_session``, ``executable``, ...) pass through;
    text mode and buffering options do not exist here.

    A checkpoint (a cancel point before the spawn; the spawn itself runs in
    a thread and is not cancellable).  Raises ``TypeError`` for text-mode
    options, a string command without ``shell=True`` or a sequence with it;
    ``OSError`` if the spawn fails (``FileNotFoundError`` for a missing
    program, ``PermissionError``, ...).
    """
    for key in _UNSUPPORTED_OPTIONS:
        if options.get(key):
            raise TypeError(
                "lowio.Process only supports communicating over unbuffered byte "
                f"streams; the '{key}' option is not supported"
            )
    if isinstance(command, (str, bytes)) and not options.get("shell"):
        raise TypeError(
            "command must be a sequence (not a string or bytes) if shell=False on UNIX systems"
        )
    if not isinstance(command, (str, bytes)) and options.get("shell"):
        raise TypeError(
            "command must be a string or bytes (not a sequence) if shell=True on UNIX systems"
        )
    _current_runner("open_process()")

    our_stdin: FdStream | None = None
    our_stdout: FdStream | None = None
    our_stderr: FdStream | None = None
    child_stdin: Any = stdin
    child_stdout: Any = stdout
    child_stderr: Any = stderr
    with contextlib.ExitStack() as always, contextlib.ExitStack() as on_failure:
        if stdin == subprocess.PIPE:
            rfd, wfd = os.pipe()
            always.callback(os.close, rfd)
            our_stdin = FdStream(wfd)
            on_failure.callback(our_stdin.close)
            child_stdin = rfd

        def pipe_from_child() -> tuple[FdStream, int]:
            """Our read end (closed if the spawn fails), the child's write end."""
            rfd, wfd = os.pipe()
            always.callback(os.close, wfd)
            ours = FdStream(rfd)
            on_failure.callback(ours.close)
            return ours, wfd

        if stdout == subprocess.PIPE:
            our_stdout, child_stdout = pipe_from_child()
        if stderr == subprocess.STDOUT:
            if child_stdout is not None:
                child_stderr = child_stdout
        elif stderr == subprocess.PIPE:
            our_stderr, child_stderr = pipe_from_child()
        popen: subprocess.Popen[bytes] = await _run_in_thread(
            partial(
                subprocess.Popen,
                command,  # type: ignore[arg-type]
                stdin=child_stdin,
                stdout=child_stdout,
                stderr=child_stderr,
                **options,
            )
        )
        on_failure.pop_all()
    return Process._create(popen, our_stdin, our_stdout, our_stderr)


async def _posix_deliver_cancel(process: Process) -> None:
    """The default ``deliver_cancel``: SIGTERM; if the child is still alive
    5 seconds later, a ``RuntimeWarning`` and SIGKILL.  (``run_process``
    cancels this as soon as the child has exited.)  A failure to signal is
    a warning, not an error: the child is waited for anyway."""
    try:
        process.terminate()
        await sleep(5)
        warnings.warn(
            RuntimeWarning(
                f"process {process!r} ignored SIGTERM for 5 seconds. "
                "(Maybe you should pass a custom deliver_cancel?) Trying SIGKILL."
            ),
            stacklevel=1,
        )
        process.kill()
    except OSError as exc:
        warnings.warn(
            RuntimeWarning(f"tried to kill process {process!r}, but failed with: {exc!r}"),
            stacklevel=1,
        )


def _pipe_only_with_start(name: str, hint: str = "") -> ValueError:
    return ValueError(
        f"{name}=subprocess.PIPE is only valid with nursery.start, "
        f"since that's the only way to access the pipe{hint}"
    )


def _plan_stdio(
    stdin: bytes | bytearray | memoryview | int | HasFileno | None,
    capture_stdout: bool,
    capture_stderr: bool,
    started_by_nursery: bool,
    options: dict[str, object],
) -> bytes | bytearray | memoryview | None:
    """Checks ``run_process``'s stdio arguments and turns them into
    ``open_process`` options (in ``options``); returns the bytes to feed
    to the child's stdin, or None if its stdin is not ours to feed."""
    if isinstance(stdin, str):
        raise UnicodeError("process stdin must be bytes, not str")
    if not started_by_nursery:
        # nobody could reach the pipe: the Process is never handed out
        if stdin is subprocess.PIPE:
            raise _pipe_only_with_start(
                "stdin", "; use nursery.start or pass the data you want to write directly"
            )
        for name in ("stdout", "stderr"):
            if options.get(name) is subprocess.PIPE:
                raise _pipe_only_with_start(name)
    for name, capture in (("stdout", capture_stdout), ("stderr", capture_stderr)):
        if capture:
            if name in options:
                raise ValueError(f"can't specify both {name} and capture_{name}")
            options[name] = subprocess.PIPE
    if isinstance(stdin, (bytes, bytearray, memoryview)):
        options["stdin"] = subprocess.PIPE
        return stdin
    options["stdin"] = stdin
    return None


class _Pumps:
    """The tasks that feed the child's stdin and collect its captured
    output.  Taking a stream for a pump removes it from the ``Process``
    (and ``stdio``): only the pump uses it, and closes it when done."""

    def __init__(self) -> None:
        self.stdout: list[bytes] | None = None
        self.stderr: list[bytes] | None = None

    def start(
        self,
        nursery: Nursery,
        proc: Process,
        input_: bytes | bytearray | memoryview | None,
        capture_stdout: bool,
        capture_stderr: bool,
    ) -> None:
        if input_ is not None:
            assert proc.stdin is not None
            nursery.start_soon(self._feed, proc.stdin, input_)
            proc.stdin = proc.stdio = None
        if capture_stdout:
            assert proc.stdout is not None
            self.stdout = []
            nursery.start_soon(self._collect, proc.stdout, self.stdout)
            proc.stdout = proc.stdio = None
        if capture_stderr:
            assert proc.stderr is not None
            self.stderr = []
            nursery.start_soon(self._collect, proc.stderr, self.stderr)
            proc.stderr = None

    @staticmethod
    async def _feed(stream: FdStream, data: bytes | bytearray | memoryview) -> None:
        async with stream:
            with contextlib.suppress(BrokenResourceError):  # the child stopped reading
                await stream.send_all(data)

    @staticmethod
    async def _collect(stream: FdStream, chunks: list[bytes]) -> None:
        async with stream:
            async for chunk in stream:
                chunks.append(chunk)


async def _supervise(
    proc: Process,
    nursery: Nursery,
    deliver_cancel: Callable[[Process], Awaitable[object]],
    setup: Callable[[], None],
) -> None:
    """Runs ``setup()`` (start the pumps, hand the Process out), then
    waits for the child.  If either is interrupted (cancelled, a pump
    failed and cancelled the nursery, ``setup`` raised), runs
    ``deliver_cancel(proc)`` in the nursery and waits, shielded, until the
    child has exited (it is always reaped), then cancels ``deliver_cancel``
    and lets the error through."""
    try:
        setup()
        await proc.wait()
    except BaseException:
        with CancelScope(shield=True):
            killer_scope = CancelScope(shield=True)

            async def kill() -> None:
                with killer_scope:
                    await deliver_cancel(proc)

            nursery.start_soon(kill)
            await proc.wait()
            killer_scope.cancel(reason="the process has exited")
        raise


async def run_process(
    command: StrOrBytesPath | Sequence[StrOrBytesPath],
    *,
    stdin: bytes | bytearray | memoryview | int | HasFileno | None = b"",
    capture_stdout: bool = False,
    capture_stderr: bool = False,
    check: bool = True,
    deliver_cancel: Callable[[Process], Awaitable[object]] | None = None,
    task_status: TaskStatus[Process] = TASK_STATUS_IGNORED,
    **options: object,
) -> subprocess.CompletedProcess[bytes]:
    """Runs ``command`` to completion and returns a
    ``subprocess.CompletedProcess``.  With ``await nursery.start(run_process,
    ...)`` the ``Process`` is handed back at once and the task supervises it.
    A checkpoint.

    * ``stdin``: bytes to feed (default ``b""``: an empty stdin), or any
      ``stdin`` of ``open_process`` (``subprocess.PIPE`` only with
      ``nursery.start``).
    * ``capture_stdout`` / ``capture_stderr``: collect the output into the
      result's ``stdout`` / ``stderr`` (else they pass through, and are None).
    * ``check`` (default True): a non-zero exit raises
      ``subprocess.CalledProcessError`` (with the captured output).
    * Cancellation: ``deliver_cancel(process)`` is called (default: SIGTERM,
      then SIGKILL after 5 s) and the child is always waited for (reaped)
      before ``Cancelled`` propagates; ``deliver_cancel`` is cancelled once
      the child has exited.
    * Other options go to ``open_process``.

    Raises ``UnicodeError`` for a ``str`` stdin; ``ValueError`` for
    ``subprocess.PIPE`` without ``nursery.start`` or a stream both captured
    and redirected; ``OSError`` if the spawn fails; errors of the feeding,
    reading and ``deliver_cancel`` tasks in an ``ExceptionGroup``.
    """
    input_ = _plan_stdio(
        stdin, capture_stdout, capture_stderr, task_status is not TASK_STATUS_IGNORED, options
    )
    proc = await open_process(command, **options)  # type: ignore[arg-type]
    pumps = _Pumps()
    async with open_nursery() as nursery:

        def setup() -> None:
            pumps.start(nursery, proc, input_, capture_stdout, capture_stderr)
            task_status.started(proc)

        await _supervise(proc, nursery, deliver_cancel or _posix_deliver_cancel, setup)
    stdout = None if pumps.stdout is None else b"".join(pumps.stdout)
    stderr = None if pumps.stderr is None else b"".join(pumps.stderr)
    returncode = proc.returncode
    assert returncode is not None
    if returncode and check:
        raise subprocess.CalledProcessError(returncode, proc.args, output=stdout, stderr=stderr)
    return subprocess.CompletedProcess(proc.args, returncode, stdout, stderr)


__all__ = ["HasFileno", "Process", "open_process", "run_process"]
