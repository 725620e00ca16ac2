"""The plugin that runs anyio's own test suite on lowio
(``tests/anyio_suite/lowio_plugin.py``), driven with pytester in a separate
pytest process: what a failed test leaves in reference cycles is finalised,
and reported, in that test's teardown, not in whichever later test the
garbage collector happens to run in."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SUITE_DIR = Path(__file__).resolve().parent.parent / "anyio_suite"

# The first test leaves an unclosed socket in a reference cycle: the failure's
# traceback holds the frame that holds the socket, and pytest keeps that
# traceback (sys.last_traceback, its own call record) in cycles too, as it
# does when one of anyio's tests fails half-way through making a socket.  The
# second test stands for the unrelated test a full collection lands in.
LEAKING_THEN_INNOCENT = """
import gc
import socket


def test_fails_with_a_socket_in_its_traceback():
    sock = socket.socket()
    cycle = [sock]
    cycle.append(cycle)
    raise OSError("bind failed half-way")


def test_innocent_bystander():
    gc.collect()
"""


def run_with_plugin(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.RunResult:
    monkeypatch.syspath_prepend(str(SUITE_DIR))  # the subprocess inherits PYTHONPATH
    monkeypatch.setenv("PYTHONPATH", str(SUITE_DIR))
    pytester.makepyfile(LEAKING_THEN_INNOCENT)
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "lowio_plugin", "-W", "error", "-rA", "-q"
    )  # fmt: skip


def test_a_failed_tests_garbage_is_charged_to_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_with_plugin(pytester, monkeypatch)
    # the failed test also errors in its teardown, on its own unclosed socket
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_fails_with_a_socket_in_its_traceback*",
            "*PytestUnraisableExceptionWarning: Exception ignored in: <socket.socket*",
            "*ResourceWarning: unclosed <socket.socket*",
            "PASSED *::test_innocent_bystander",
            "ERROR *::test_fails_with_a_socket_in_its_traceback*",
            "FAILED *::test_fails_with_a_socket_in_its_traceback*",
        ]
    )


def test_without_the_plugin_the_bystander_is_charged(pytester: pytest.Pytester) -> None:
    """What the plugin corrects: pytest alone reports the socket in the
    later test that ran the collection."""
    pytester.makepyfile(LEAKING_THEN_INNOCENT)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", "-rA", "-q")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["FAILED *::test_innocent_bystander*"])
