"""lowio.open_process / run_process / Process: trio's semantics, on both
ways of waiting for an exit (pidfd in the poller, waiter thread)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lowio
import lowio._subprocess as subprocess_module
from lowio import Process, open_process, run_process
from lowio.lowlevel import FdStream
from lowio.testing import assert_checkpoints, wait_all_tasks_blocked

PY = sys.executable
CAT = "/bin/cat"
TRUE = "/bin/true"
SLEEP = "/bin/sleep"


def python(code: str) -> list[str]:
    return [PY, "-c", code]


@pytest.fixture(params=["pidfd", "thread"])
def wait_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs the test with pidfds, then with the waiter-thread fallback."""
    if request.param == "thread":

        def no_pidfd(pid: int) -> int:
            raise OSError(errno.ENOSYS, "pidfd_open disabled for the test")

        monkeypatch.setattr(subprocess_module, "_pidfd_open", no_pidfd)
    return str(request.param)


@pytest.fixture(autouse=True)
def no_zombies() -> Iterator[None]:
    """Every child a test starts is reaped by the end of the test."""
    yield
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def assert_reaped(pid: int) -> None:
    """Neither running nor a zombie: waitpid knows no such child."""
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert not Path(f"/proc/{pid}").exists() or _not_ours(pid)


def _not_ours(pid: int) -> bool:  # pragma: no cover  (the pid was reused)
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1]) != os.getpid()


def test_echo_through_stdin_and_stdout(wait_mode: str) -> None:
    async def main() -> None:
        proc = await open_process([CAT], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert isinstance(proc.stdin, FdStream)
        assert isinstance(proc.stdout, FdStream)
        assert proc.stderr is None
        assert (proc._pidfd is not None) == (wait_mode == "pidfd")
        assert proc.returncode is None
        assert proc.poll() is None
        assert f"running with PID {proc.pid}" in repr(proc)
        await proc.stdin.send_all(b"ping")
        assert await proc.stdout.receive_some() == b"ping"
        await proc.stdin.aclose()
        assert await proc.stdout.receive_some() == b""
        assert await proc.wait() == 0
        assert proc.returncode == 0
        assert proc._pidfd is None
        assert "exited with status 0" in repr(proc)
        await proc.stdout.aclose()
        assert_reaped(proc.pid)

    lowio.run(main)


def test_stdio_staples_stdin_and_stdout() -> None:
    async def main() -> None:
        proc = await open_process([CAT], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdio is not None
        async with proc.stdio:
            await proc.stdio.send_all(b"both ways")
            assert await proc.stdio.receive_some() == b"both ways"
            await proc.stdio.send_eof()
            assert [chunk async for chunk in proc.stdio] == []
        assert await proc.wait() == 0

    lowio.run(main)


def test_run_process_feeds_stdin_and_captures(wait_mode: str) -> None:
    async def main() -> None:
        data = bytes(range(256)) * 1024  # more than a pipe holds
        result = await run_process([CAT], stdin=data, capture_stdout=True)
        assert isinstance(result, subprocess.CompletedProcess)
        assert result.args == [CAT]
        assert result.returncode == 0
        assert result.stdout == data
        assert result.stderr is None
        # the default stdin is empty
        result = await run_process([CAT], capture_stdout=True)
        assert result.stdout == b""

    lowio.run(main)


def test_capture_stdout_and_stderr_apart_and_merged() -> None:
    code = "import sys; sys.stdout.write('out'); sys.stdout.flush(); sys.stderr.write('err')"

    async def main() -> None:
        result = await run_process(python(code), capture_stdout=True, capture_stderr=True)
        assert (result.stdout, result.stderr) == (b"out", b"err")
        result = await run_process(python(code), capture_stdout=True, stderr=subprocess.STDOUT)
        assert result.stdout == b"outerr"
        assert result.stderr is None
        result = await run_process(python(code), stdout=subprocess.DEVNULL, capture_stderr=True)
        assert (result.stdout, result.stderr) == (None, b"err")

    lowio.run(main)


def test_exit_codes(wait_mode: str) -> None:
    async def main() -> None:
        result = await run_process(python("raise SystemExit(7)"), check=False)
        assert result.returncode == 7
        result = await run_process([TRUE])
        assert result.returncode == 0
        proc = await open_process([SLEEP, "10"])
        proc.kill()
        assert await proc.wait() == -signal.SIGKILL
        assert "exited with signal 9" in repr(proc)
        proc = await open_process([SLEEP, "10"])
        proc.terminate()
        assert await proc.wait() == -signal.SIGTERM
        proc = await open_process([SLEEP, "10"])
        proc.send_signal(signal.SIGINT)
        assert await proc.wait() == -signal.SIGINT
        proc.kill()  # after the reap: does nothing (the pid may be reused)
        proc.send_signal(signal.SIGKILL)

    lowio.run(main)


def test_check_raises_called_process_error_with_the_output() -> None:
    code = "import sys; print('o'); print('e', file=sys.stderr); sys.exit(3)"

    async def main() -> None:
        with pytest.raises(subprocess.CalledProcessError) as info:
            await run_process(python(code), capture_stdout=True, capture_stderr=True)
        exc = info.value
        assert exc.returncode == 3
        assert exc.cmd == python(code)
        assert exc.stdout == b"o\n"
        assert exc.stderr == b"e\n"
        with pytest.raises(subprocess.CalledProcessError) as info:
            await run_process(python("raise SystemExit(1)"))
        assert info.value.stdout is None

    lowio.run(main)


def test_env_cwd_and_shell(tmp_path: Path) -> None:
    code = "import os; print(os.getcwd(), os.environ['LOWIO_TEST'], end='')"

    async def main() -> None:
        env = dict(os.environ, LOWIO_TEST="yes")
        result = await run_process(python(code), capture_stdout=True, env=env, cwd=tmp_path)
        assert result.stdout == f"{tmp_path} yes".encode()
        result = await run_process("echo $((6 * 7))", shell=True, capture_stdout=True)
        assert result.stdout == b"42\n"
        result = await run_process(b"exit 5", shell=True, check=False)
        assert result.returncode == 5

    lowio.run(main)


def test_start_new_session() -> None:
    async def main() -> None:
        code = "import os; print(os.getsid(0), end='')"
        result = await run_process(python(code), capture_stdout=True, start_new_session=True)
        assert int(result.stdout) != os.getsid(0)
        result = await run_process(python(code), capture_stdout=True)
        assert int(result.stdout) == os.getsid(0)

    lowio.run(main)


def test_pass_fds() -> None:
    async def main() -> None:
        r, w = os.pipe()
        async with FdStream(r) as reader:
            code = f"import os; os.write({w}, b'through the fd')"
            await run_process(python(code), pass_fds=(w,))
            os.close(w)
            assert await reader.receive_some() == b"through the fd"
            # without pass_fds the child does not get it
            r2, w2 = os.pipe()
            code = f"import os; os.write({w2}, b'x')"
            result = await run_process(python(code), check=False, capture_stderr=True)
            assert result.returncode == 1
            assert b"Bad file descriptor" in result.stderr
            os.close(r2)
            os.close(w2)

    lowio.run(main)


def test_a_missing_program_is_file_not_found(wait_mode: str) -> None:
    async def main() -> None:
        with pytest.raises(FileNotFoundError):
            await run_process(["/nonexistent/program"])
        with pytest.raises(FileNotFoundError):
            await open_process(
                ["/nonexistent/program"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        # (the fixture checks that the pipes were closed)

    lowio.run(main)


def test_cancelling_run_process_kills_and_reaps_the_child(wait_mode: str) -> None:
    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            proc: Process = await nursery.start(run_process, [SLEEP, "10"])
            await wait_all_tasks_blocked()
            start = lowio.current_time()
            nursery.cancel_scope.cancel()
        assert lowio.current_time() - start < 2
        assert proc.returncode == -signal.SIGTERM
        assert_reaped(proc.pid)
        # the same with a timeout around a direct call
        with lowio.move_on_after(0.1) as scope:
            await run_process([SLEEP, "10"])
        assert scope.cancelled_caught

    lowio.run(main)


def test_deliver_cancel_is_used_and_cancelled_once_the_child_exits() -> None:
    ignore_term = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); " + (
        "import os; os.write(1, b'ready'); time.sleep(10)"
    )
    events: list[str] = []

    async def deliver_cancel(proc: Process) -> None:
        events.append("terminate")
        proc.terminate()  # ignored
        await lowio.sleep(0.1)
        events.append("kill")
        proc.kill()
        try:
            await lowio.sleep_forever()
        finally:
            events.append("cancelled")

    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            proc: Process = await nursery.start(
                lambda task_status: run_process(
                    python(ignore_term),
                    stdout=subprocess.PIPE,
                    deliver_cancel=deliver_cancel,
                    task_status=task_status,
                )
            )
            assert proc.stdout is not None
            assert await proc.stdout.receive_some() == b"ready"
            nursery.cancel_scope.cancel()
        await proc.stdout.aclose()
        assert events == ["terminate", "kill", "cancelled"]
        assert proc.returncode == -signal.SIGKILL
        assert_reaped(proc.pid)

    lowio.run(main)


def test_run_process_via_nursery_start_with_pipes() -> None:
    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            proc: Process = await nursery.start(
                lambda task_status: run_process(
                    [CAT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, task_status=task_status
                )
            )
            assert proc.stdin is not None
            assert proc.stdout is not None
            await proc.stdin.send_all(b"interactive")
            assert await proc.stdout.receive_some() == b"interactive"
            await proc.stdin.aclose()
        assert proc.returncode == 0
        await proc.stdout.aclose()

    lowio.run(main)


def test_several_tasks_wait_and_one_may_be_cancelled(wait_mode: str) -> None:
    async def main() -> None:
        proc = await open_process([CAT], stdin=subprocess.PIPE)
        assert proc.stdin is not None
        results: list[int] = []

        async def waiter() -> None:
            results.append(await proc.wait())

        async with lowio.open_nursery() as nursery:
            async with lowio.open_nursery() as inner:
                inner.start_soon(waiter)  # the first: waits on the pidfd, or starts the thread
                await wait_all_tasks_blocked()
                nursery.start_soon(waiter)
                nursery.start_soon(waiter)
                await wait_all_tasks_blocked()
                inner.cancel_scope.cancel()
            await wait_all_tasks_blocked()
            assert proc.returncode is None  # cancelling a wait leaves the child alone
            assert proc._pidfd_waiting == (wait_mode == "pidfd")  # another task took over
            await proc.stdin.aclose()  # cat exits
        assert results == [0, 0]
        assert_reaped(proc.pid)

    lowio.run(main)


def test_wait_is_a_checkpoint(wait_mode: str) -> None:
    async def main() -> None:
        proc = await open_process([TRUE])
        with assert_checkpoints():
            await proc.wait()  # running: parks
        with assert_checkpoints():
            await proc.wait()  # already reaped
        with lowio.CancelScope() as scope:
            scope.cancel()
            await proc.wait()
        assert scope.cancelled_caught

    lowio.run(main)


def test_poll_reaps_and_closes_the_pidfd() -> None:
    async def main() -> None:
        proc = await open_process([TRUE])
        pidfd = proc._pidfd
        assert pidfd is not None and pidfd >= 0
        with lowio.fail_after(5):
            while proc.poll() is None:
                await lowio.sleep(0.005)
        assert proc._pidfd is None
        with pytest.raises(OSError):
            os.fstat(pidfd)
        assert_reaped(proc.pid)
        assert await proc.wait() == 0

    lowio.run(main)


def test_poll_in_another_task_while_one_waits_on_the_pidfd() -> None:
    async def main() -> None:
        proc = await open_process([CAT], stdin=subprocess.PIPE)
        assert proc.stdin is not None
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(proc.wait)
            await wait_all_tasks_blocked()
            await proc.stdin.aclose()
            with lowio.fail_after(5):
                while proc.poll() is None:  # reaps and closes the pidfd under the waiter
                    await lowio.sleep(0.005)
        assert proc.returncode == 0

    lowio.run(main)


def test_thread_fallback_reports_through_run_sync_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def no_pidfd(pid: int) -> int:
        calls.append(pid)
        raise OSError(errno.ENOSYS, "no pidfd")

    monkeypatch.setattr(subprocess_module, "_pidfd_open", no_pidfd)

    async def main() -> None:
        proc = await open_process([SLEEP, "0.05"])
        assert calls == [proc.pid]
        assert proc._pidfd is None
        stats = lowio.lowlevel.current_statistics()
        assert stats.io_statistics.tasks_waiting_read == 0
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(proc.wait)
            await wait_all_tasks_blocked()
            assert proc._watcher_token is lowio.lowlevel.current_token()
            # no pidfd in the poller: the task waits on the parking lot
            assert lowio.lowlevel.current_statistics().io_statistics.tasks_waiting_read == 0
        assert proc.returncode == 0
        assert_reaped(proc.pid)

    lowio.run(main)


def test_aclose_closes_the_pipes_and_waits() -> None:
    async def main() -> None:
        proc = await open_process([CAT], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        stdin, stdout = proc.stdin, proc.stdout
        assert stdin is not None
        assert stdout is not None
        await proc.aclose()  # cat sees EOF and exits
        assert proc.returncode == 0
        assert stdin.fileno() == stdout.fileno() == -1
        # cancelled while waiting: the child is killed and reaped
        proc = await open_process([SLEEP, "10"])
        with lowio.move_on_after(0.05):
            await proc.aclose()
        assert proc.returncode == -signal.SIGKILL
        assert_reaped(proc.pid)

    lowio.run(main)


def test_open_process_in_a_cancelled_scope_spawns_nothing() -> None:
    async def main() -> None:
        with lowio.CancelScope() as scope:
            scope.cancel()
            await open_process([SLEEP, "10"], stdout=subprocess.PIPE)
        assert scope.cancelled_caught

    lowio.run(main)


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ([TRUE], {"text": True}),
        ([TRUE], {"universal_newlines": True}),
        ([TRUE], {"encoding": "utf-8"}),
        ([TRUE], {"errors": "strict"}),
        ([TRUE], {"bufsize": 4096}),
        ("true", {}),
        (b"true", {}),
        ([TRUE], {"shell": True}),
    ],
)
def test_open_process_bad_arguments(command: Any, options: dict[str, Any]) -> None:
    async def main() -> None:
        with pytest.raises(TypeError):
            await open_process(command, **options)

    lowio.run(main)


def test_run_process_bad_arguments() -> None:
    async def main() -> None:
        with pytest.raises(UnicodeError):
            await run_process([CAT], stdin="text")  # type: ignore[arg-type]
        for key in ("stdout", "stderr"):
            with pytest.raises(ValueError, match=r"only valid with nursery\.start"):
                await run_process([CAT], **{key: subprocess.PIPE})
        with pytest.raises(ValueError, match=r"only valid with nursery\.start"):
            await run_process([CAT], stdin=subprocess.PIPE)
        with pytest.raises(ValueError, match="both stdout and capture_stdout"):
            await run_process([CAT], capture_stdout=True, stdout=subprocess.DEVNULL)
        with pytest.raises(ValueError, match="both stderr and capture_stderr"):
            await run_process([CAT], capture_stderr=True, stderr=subprocess.DEVNULL)

    lowio.run(main)


def test_process_has_no_public_constructor_and_needs_a_run() -> None:
    with pytest.raises(TypeError):
        Process(None, None, None, None)  # type: ignore[arg-type]
    assert Process.universal_newlines is False
    assert Process.encoding is None
    coro = open_process([TRUE])
    with pytest.raises(RuntimeError, match="lowio"):
        coro.send(None)


def test_stdin_from_a_file_descriptor(tmp_path: Path) -> None:
    source = tmp_path / "input"
    source.write_bytes(b"from a file")

    async def main() -> None:
        with source.open("rb") as f:
            result = await run_process([CAT], stdin=f, capture_stdout=True)
        assert result.stdout == b"from a file"
        with source.open("rb") as f:
            result = await run_process([CAT], stdin=f.fileno(), capture_stdout=True)
        assert result.stdout == b"from a file"

    lowio.run(main)


def test_a_process_can_be_waited_for_in_a_later_run(wait_mode: str) -> None:
    async def start() -> Process:
        proc = await open_process([SLEEP, "0.2"])
        with lowio.move_on_after(0.01):
            await proc.wait()  # the waiter thread (if any) reports to this run
        assert proc.returncode is None
        return proc

    proc = lowio.run(start)

    async def finish() -> int:
        with lowio.fail_after(5):
            return await proc.wait()

    assert lowio.run(finish) == 0
    assert_reaped(proc.pid)


def test_the_no_pidfd_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess_module, "_can_try_pidfd_open", False)

    async def main() -> None:
        proc = await open_process([TRUE])
        assert proc._pidfd is None  # waits with a thread
        assert await proc.wait() == 0
        assert_reaped(proc.pid)

    lowio.run(main)
