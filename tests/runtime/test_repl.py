"""``python -m lowio``: the console with top-level await."""

from __future__ import annotations

import signal
import subprocess
import sys
import time


def console(stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lowio"], input=stdin, capture_output=True, text=True, timeout=60
    )


def test_statements_run_in_one_run_with_top_level_await() -> None:
    done = console(
        "await lowio.sleep(0)\n"
        "token = lowio.lowlevel.current_token()\n"
        "x = await lowio.to_thread.run_sync(lambda: 21)\n"
        "print(x * 2, token is lowio.lowlevel.current_token())\n"
        "async with lowio.open_nursery() as nursery:\n"
        "    nursery.start_soon(lowio.sleep, 0)\n"
        "\n"
        "print('nursery done')\n"
    )
    assert done.returncode == 0, done.stderr
    assert "42 True" in done.stdout
    assert "nursery done" in done.stdout
    assert "lowio REPL" in done.stderr


def test_an_error_is_shown_and_the_console_goes_on() -> None:
    done = console("1/0\nprint('still here')\nraise SystemExit(3)\nprint('not reached')\n")
    assert "ZeroDivisionError: division by zero" in done.stderr
    assert "still here" in done.stdout
    assert "not reached" not in done.stdout
    assert done.returncode == 3


def test_ctrl_c_interrupts_the_running_statement_only() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "lowio"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write("print('sleeping', flush=True)\nawait lowio.sleep(30)\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip().endswith("sleeping")  # after the prompt
            time.sleep(0.5)  # into the sleep
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate("print('alive')\n", timeout=30)
        finally:
            proc.kill()
    assert "KeyboardInterrupt" in err
    assert "alive" in out
