"""Real trio libraries on lowio installed as trio (``lowio.install_as_trio()``
before anything imports trio), each in a fresh interpreter: the scripts in
``trio_libraries/`` run one scenario each, on 127.0.0.1 only, and check
that their fds are back to baseline at the end.

* trio-websocket: server and client, 50 concurrent clients, plain and TLS;
* hypercorn's trio worker: HTTP/1.1 keep-alive, TLS with HTTP/2, graceful
  shutdown through ``shutdown_trigger`` (httpx as the client, in the same
  process, on its trio path);
* pytest-trio: a small project run by ``LOWIO_AS_TRIO=1 python -m pytest``
  (the start-up hook installs lowio as trio before pytest-trio loads);
* trio-util: its value, timing and task helpers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent.parent / "trio_libraries"


def run(args: list[str], *, as_trio_env: str | None = None, cwd: Path = HERE) -> str:
    """Runs ``python *args`` in a fresh interpreter; returns its stdout,
    failing the test (with its output) on a non-zero exit."""
    env = {k: v for k, v in os.environ.items() if k != "LOWIO_AS_TRIO"}
    if as_trio_env is not None:
        env["LOWIO_AS_TRIO"] = as_trio_env
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def run_script(name: str, *args: str) -> list[str]:
    lines = run([str(HERE / name), *args]).splitlines()
    assert lines[-1] == "fds back to baseline", lines
    return lines


@pytest.mark.parametrize("mode", ["plain", "tls"])
def test_trio_websocket_server_and_50_clients(mode: str) -> None:
    lines = run_script("websocket_echo.py", mode)
    assert lines[0] == "50 clients x 5 messages echoed" + (" over TLS" if mode == "tls" else "")


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        (
            "keepalive",
            [
                "5 HTTP/1.1 requests on one kept-alive connection",
                "the port is closed after serve() returned",
            ],
        ),
        ("h2", ["20 concurrent requests on one HTTP/2 connection over TLS"]),
        (
            "graceful",
            [
                "a request in flight at shutdown completed",
                "the port is closed after serve() returned",
            ],
        ),
    ],
)
def test_hypercorn_trio_worker(scenario: str, expected: list[str]) -> None:
    assert run_script("hypercorn_app.py", scenario)[:-1] == expected


def test_pytest_trio_project_under_lowio_as_trio(tmp_path: Path) -> None:
    # a copy: what pytest and its plugins write next to the tests stays out of the tree
    project = tmp_path / "project"
    shutil.copytree(HERE / "pytest_trio_project", project)
    out = run(["-m", "pytest", "-q", "-p", "no:cacheprovider"], as_trio_env="1", cwd=project)
    assert "7 passed, 1 xfailed" in out, out


def test_trio_util_helpers() -> None:
    assert run_script("trio_util_helpers.py")[:-1] == [
        "AsyncValue, AsyncBool, compose_values",
        "periodic, move_on_when, wait_any, wait_all",
        "trio_async_generator",
    ]


# trio.__file__: trio's own __init__.py, or lowio's under install_as_trio()
PROBE = "import sys, trio; print(trio.__file__, 'lowio' in sys.modules)"


@pytest.mark.parametrize("value", ["1", "yes"])
def test_lowio_as_trio_set_installs_lowio_at_start_up(value: str) -> None:
    trio_file, lowio_loaded = run(["-c", PROBE], as_trio_env=value).split()
    assert trio_file.endswith(os.path.join("lowio", "__init__.py")) and lowio_loaded == "True"


@pytest.mark.parametrize("value", [None, "", "0"])
def test_lowio_as_trio_unset_leaves_trio_and_lowio_alone(value: str | None) -> None:
    trio_file, lowio_loaded = run(["-c", PROBE], as_trio_env=value).split()
    assert trio_file.endswith(os.path.join("trio", "__init__.py")) and lowio_loaded == "False"


def test_lowio_as_trio_failure_is_one_line_on_stderr() -> None:
    # the real trio imported before the hook asks for lowio as trio
    code = """if 1:
        import os, trio, lowio_anyio_hook
        os.environ["LOWIO_AS_TRIO"] = "1"
        lowio_anyio_hook.install_as_trio_if_asked()
        print("on")
    """
    env = {k: v for k, v in os.environ.items() if k != "LOWIO_AS_TRIO"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0 and done.stdout == "on\n", done.stderr
    assert done.stderr.startswith("lowio: LOWIO_AS_TRIO is set, but lowio.install_as_trio() failed")
    assert "before anything imports trio" in done.stderr and done.stderr.count("\n") == 1


def test_websocket_echo_benchmark_runs_both_runtimes() -> None:
    root = Path(__file__).resolve().parents[2]
    out = run(
        ["-m", "benchmarks.ws_echo", "--reps", "1", "--clients", "5", "--seconds", "0.2"], cwd=root
    )
    lines = out.splitlines()
    assert lines[0] == "trio-websocket echo, 5 clients, 1 reps of 0.2 s", out
    assert [line.split()[0] for line in lines[1:3]] == ["trio", "lowio"], out
    assert "lowio / trio:" in lines[3], out
    bad = subprocess.run(
        [sys.executable, "-m", "benchmarks.ws_echo", "--reps", "0"],
        capture_output=True, text=True, cwd=root, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "--reps and --clients must be >= 1" in bad.stderr
