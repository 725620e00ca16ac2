"""tests/trio_suite/run.py: how trio's suite results are read and judged
(synthetic JUnit reports; the real run is CI's)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import run as harness

from lowio._trio_alias import PRIVATE_MARK

SITE = "../../site-packages/trio/_tests/test_x.py"


def report(path: Path, cases: list[str]) -> Path:
    path.write_text(f"<testsuites><testsuite>{''.join(cases)}</testsuite></testsuites>")
    return path


def case(name: str, body: str = "", classname: str = "test_x", file: str = SITE) -> str:
    return f'<testcase classname="{classname}" name="{name}" file="{file}">{body}</testcase>'


def failure(text: str) -> str:
    return f'<failure message="failed">{text}</failure>'


def test_outcomes_reads_statuses_and_collection_errors(tmp_path: Path) -> None:
    xml = report(
        tmp_path / "r.xml",
        [
            case("test_ok"),
            case("test_bad", failure("AssertionError")),
            case("test_skip", '<skipped message="no"/>'),
            case("test_x", '<error message="collection failure">ImportError</error>', ""),
        ],
    )
    got = harness.outcomes(xml)
    assert got["trio/_tests/test_x.py::test_ok"][0] == "passed"
    assert got["trio/_tests/test_x.py::test_bad"][0] == "failed"
    assert got["trio/_tests/test_x.py::test_skip"][0] == "skipped"
    assert got["test_x.py::"][0] == "error"


def test_private_failures_are_told_apart_from_missing_public_names() -> None:
    public = {"open_memory_channel", "fail_after"}
    assert harness.private_name(f"{PRIVATE_MARK} trio._core._run.Runner", public) == (
        "trio._core._run.Runner"
    )
    # a public trio name lowio lacks is a real failure, whatever the message says
    assert harness.private_name(f"{PRIVATE_MARK} trio._channel.open_memory_channel", public) is None
    assert harness.private_name(
        "cannot import name '_signal_handler' from 'trio._signals'", public
    ) == ("trio._signals._signal_handler")
    assert (
        harness.private_name("cannot import name 'fail_after' from 'trio._timeouts'", public)
        is None
    )
    assert harness.private_name("AssertionError: 1 != 2", public) is None


def compare(
    trio: dict[str, tuple[str, str]],
    lowio: dict[str, tuple[str, str]],
    gaps: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> int:
    monkeypatch.setattr(harness, "trio_public_names", lambda: {"fail_after"})
    monkeypatch.setattr(harness, "known_gaps", lambda: gaps)
    return harness.compare(trio, lowio)


def test_a_public_api_failure_fails_the_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    trio = {"a::t1": ("passed", ""), "a::t2": ("passed", ""), "a::t3": ("failed", "")}
    lowio = {
        "a::t1": ("passed", ""),
        "a::t2": ("failed", "AssertionError: wrong"),
        "a::t3": ("failed", ""),
    }
    assert compare(trio, lowio, {}, monkeypatch) == 1
    out = capsys.readouterr().out
    assert "1 tests pass on trio but not on lowio" in out and "a::t2" in out


def test_private_and_listed_failures_do_not_fail_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    trio = {"a::t1": ("passed", ""), "a::t2": ("passed", ""), "a::t3": ("passed", "")}
    lowio = {
        "a::t1": ("failed", f"{PRIVATE_MARK} trio._core._run.GLOBAL_RUN_CONTEXT"),
        "a::t2": ("failed", "AttributeError: start_guest_run"),
        "a::t3": ("passed", ""),
    }
    gaps = {"a::t2": "guest mode", "a::t3": "was a gap"}
    assert compare(trio, lowio, gaps, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "trio._core._run.GLOBAL_RUN_CONTEXT" in out
    assert "guest mode" in out
    assert "1 known gaps now pass on lowio" in out and "a::t3" in out


def test_a_module_lowio_cannot_import_counts_each_of_its_tests(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    trio = {
        "trio/_tests/test_y.py::t1": ("passed", ""),
        "trio/_tests/test_y.py::t2": ("passed", ""),
    }
    lowio = {"test_y.py::": ("error", "cannot import name 'fail_after' from 'trio._timeouts'")}
    assert compare(trio, lowio, {}, monkeypatch) == 1
    assert "2 tests pass on trio but not on lowio" in capsys.readouterr().out


FAKE_NET_CHECK = """
import importlib.util, os, sys
from lowio._trio_alias import PRIVATE_MARK, install_as_trio
import trio_fake_net

trio_dir = os.path.dirname(importlib.util.find_spec("trio").origin)
install_as_trio(_tests_dir=trio_dir)
trio_fake_net.install(trio_dir)

import trio
from trio.testing._fake_net import FakeNet

assert sys.modules["trio.testing._fake_net"].__file__ == os.path.join(
    trio_dir, "testing", "_fake_net.py"
)
import trio._util
# bound only while trio's file was imported: trio._util's own tests still
# count as reading trio's internals
assert PRIVATE_MARK in repr(trio._util.NoPublicConstructor)


async def main():
    FakeNet().enable()
    a = trio.socket.socket(type=trio.socket.SOCK_DGRAM)
    b = trio.socket.socket(type=trio.socket.SOCK_DGRAM)
    await a.bind(("127.0.0.1", 0))
    await b.sendto(b"ping", a.getsockname())  # resolved by _resolve_address_nocp
    data, source = await a.recvfrom(10)
    assert data == b"ping" and source == b.getsockname(), (data, source)
    print("ok")


trio.run(main)
"""


def test_trio_fake_net_runs_on_lowio() -> None:
    """trio's own FakeNet loads under trio's names and carries a datagram
    through lowio's socket API (a separate process: install_as_trio is for
    good)."""
    import subprocess

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-c", FAKE_NET_CHECK], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_tests_of_trios_own_files_count_as_private(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(harness, "TRIO_OWN_FILES", {"a::t[x-*": "x's files", "a::t2": "y"})
    trio = {f"a::{t}": ("passed", "") for t in ("t[x-1]", "t[x-2]", "t[z-1]", "t2", "t22")}
    lowio = {  # a listed one may also be missing on lowio (not collected there)
        "a::t[x-1]": ("failed", "AssertionError"),
        "a::t[z-1]": ("failed", "AssertionError"),
        "a::t2": ("failed", "TypeError"),
        "a::t22": ("failed", "TypeError"),
    }
    assert compare(trio, lowio, {}, monkeypatch) == 1
    out = capsys.readouterr().out
    assert "reading trio's private internals (cannot pass elsewhere): 3" in out
    assert "2  x's files" in out and "1  y" in out
    assert "2 tests pass on trio but not on lowio" in out
    assert "a::t[z-1]" in out and "a::t22" in out


def test_a_module_given_as_the_target_that_does_not_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # pytest names its collection error neither by module nor by file
    text = (
        "ImportError while importing test module '/x/site-packages/trio/_tests/test_y.py'.\n"
        "E   ImportError: cannot import name 'final' from 'trio._util' (unknown location)"
    )
    body = f'<error message="collection failure">{text}</error>'
    xml = report(tmp_path / "r.xml", [case("", body, classname="", file="")])
    trio = {"trio/_tests/test_y.py::t1": ("passed", "")}
    lowio = harness.outcomes(xml)
    assert list(lowio) == ["trio/_tests/test_y.py::"]
    assert compare(trio, lowio, {}, monkeypatch) == 0  # its test counts as private
    assert "1  trio._util.final" in capsys.readouterr().out


def test_a_suspect_is_run_once_more_and_counts_only_if_it_fails_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(harness, "known_gaps", lambda: {"trio/_tests/test_x.py::t4": "a gap"})
    trio = {f"trio/_tests/test_x.py::t{i}": ("passed", "") for i in range(1, 6)}
    lowio = {
        "trio/_tests/test_x.py::t1": ("failed", "AssertionError: slow"),
        "trio/_tests/test_x.py::t2": ("error", "AssertionError: broken"),
        "trio/_tests/test_x.py::t3": ("failed", f"{PRIVATE_MARK} trio._core._run.Runner"),
        "trio/_tests/test_x.py::t4": ("failed", "AssertionError: listed"),
        "trio/_tests/test_x.py::t5": ("passed", ""),
    }
    ran: list[list[str]] = []

    def run_suite(report: Path, timeout: int, on_lowio: bool, targets: list[str]) -> int:
        assert on_lowio
        ran.append(targets)
        report.write_text(
            "<testsuites><testsuite>"
            + case("t1", file="x/site-packages/trio/_tests/test_x.py")
            + case("t2", failure("AssertionError: broken"), file="trio/_tests/test_x.py")
            + "</testsuite></testsuites>"
        )
        return 1

    monkeypatch.setattr(harness, "run_suite", run_suite)
    harness.rerun_suspects(trio, lowio, tmp_path, 30)
    # only the would-be regressions run again, as --pyargs targets
    assert ran == [["trio._tests.test_x::t1", "trio._tests.test_x::t2"]]
    assert lowio["trio/_tests/test_x.py::t1"] == ("passed", "")
    assert lowio["trio/_tests/test_x.py::t2"][0] == "error"  # the first run's outcome stays
    assert "1 passed on the second run" in capsys.readouterr().out
