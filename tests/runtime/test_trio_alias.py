"""lowio.install_as_trio(): ``import trio`` gives lowio.  Each test runs in a
fresh interpreter, since installing changes ``sys.modules`` for good."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def run_fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def check(code: str) -> str:
    done = run_fresh(code)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_trio_and_its_public_submodules_are_lowio() -> None:
    out = check(
        """
        import lowio
        lowio.install_as_trio()
        import trio, trio.lowlevel, trio.socket, trio.testing, trio.abc
        import trio.to_thread, trio.from_thread
        assert trio.run is lowio.run and trio.open_nursery is lowio.open_nursery
        for name in ("lowlevel", "socket", "testing", "abc", "to_thread", "from_thread"):
            assert getattr(trio, name) is getattr(lowio, name), name
        assert trio.__version__ == "0.35.0"

        async def main():
            await trio.sleep(0)
            return trio.lowlevel.current_task().name

        print(trio.run(main))
        """
    )
    assert "main" in out


def test_private_paths_give_the_public_object_of_the_same_name() -> None:
    check(
        """
        import lowio
        lowio.install_as_trio()
        from trio._timeouts import fail_after
        from trio._threads import to_thread_run_sync
        from trio._core._run import current_task
        from trio._core import checkpoint
        from trio._socket import SocketType
        assert fail_after is lowio.fail_after
        assert to_thread_run_sync is lowio.to_thread.run_sync
        assert current_task is lowio.lowlevel.current_task
        assert checkpoint is lowio.lowlevel.checkpoint
        assert SocketType is lowio.socket.SocketType
        """
    )


def test_trio_private_names_fail_clearly() -> None:
    check(
        """
        import lowio
        lowio.install_as_trio()
        from lowio._trio_alias import PRIVATE_MARK
        import trio._core._run as run_module
        try:
            run_module.GLOBAL_RUN_CONTEXT
        except AttributeError as exc:
            assert str(exc).startswith(PRIVATE_MARK), exc
            assert "trio._core._run.GLOBAL_RUN_CONTEXT" in str(exc)
        else:
            raise AssertionError("a private trio name resolved")
        try:
            from trio._signals import _signal_handler
        except ImportError as exc:
            assert "_signal_handler" in str(exc)
        else:
            raise AssertionError("an underscored name resolved")
        try:
            trio_missing = __import__("trio").no_such_name
        except AttributeError as exc:
            assert "no attribute 'no_such_name'" in str(exc)
        else:
            raise AssertionError(trio_missing)
        """
    )


def test_refused_after_the_real_trio_is_imported() -> None:
    out = check(
        """
        import trio
        import lowio
        try:
            lowio.install_as_trio()
        except RuntimeError as exc:
            print(exc)
        """
    )
    assert "before anything imports trio" in out


def test_installing_twice_is_harmless_and_reported() -> None:
    check(
        """
        import lowio
        from lowio._trio_alias import installed
        assert not installed()
        lowio.install_as_trio()
        lowio.install_as_trio()
        assert installed()
        import sys
        assert sum(type(f).__name__ == "_TrioFinder" for f in sys.meta_path) == 1
        """
    )


def test_sniffio_says_trio_in_this_mode_and_lowio_otherwise() -> None:
    plain = check(
        """
        import lowio, sniffio
        async def main():
            return sniffio.current_async_library()
        print(lowio.run(main))
        """
    )
    assert plain.strip() == "lowio"
    aliased = check(
        """
        import lowio, sniffio
        lowio.install_as_trio()
        import trio
        async def main():
            in_thread = await trio.to_thread.run_sync(
                lambda: trio.from_thread.run_sync(sniffio.current_async_library)
            )
            return sniffio.current_async_library(), in_thread
        print(*trio.run(main))
        """
    )
    assert aliased.split() == ["trio", "trio"]


def test_dropping_trio_from_sys_modules_imports_the_alias_again() -> None:
    check(
        """
        import sys, lowio
        lowio.install_as_trio()
        import trio
        del sys.modules["trio"]
        import trio as again
        assert again.run is lowio.run and again is not trio
        assert sys.modules["trio.lowlevel"] is lowio.lowlevel
        """
    )


def test_importing_hypothesis_works_in_this_mode() -> None:
    check(
        """
        import lowio
        lowio.install_as_trio()
        import hypothesis  # runs trio's entry point, trio._core._run:_hypothesis_plugin_setup
        """
    )


def test_trios_scheduling_random_is_lowios_coin() -> None:
    # what pytest-trio registers with Hypothesis and trio's tests seed
    check(
        """
        import lowio
        lowio.install_as_trio()
        import trio._core._run
        from lowio._core._schedule_order import SCHEDULING_RNG
        assert trio._core._run._r is SCHEDULING_RNG
        assert trio._core._run._ALLOW_DETERMINISTIC_SCHEDULING is False
        from hypothesis.internal.entropy import RANDOMS_TO_MANAGE
        assert any(r is SCHEDULING_RNG for r in RANDOMS_TO_MANAGE.values())
        """
    )


def test_suite_mode_gives_lowio_counterparts_of_some_private_names(tmp_path: Path) -> None:
    # trio's test_signals reads these two; as placeholders the test would
    # swallow the failure and exit with SIGILL pending (fatal)
    for module in ("_signals", "_socket"):  # trio's source tree, as far as it matters
        (tmp_path / f"{module}.py").write_text("")
    check(
        f"""
        import socket, lowio, lowio._signals
        lowio.install_as_trio(_tests_dir={str(tmp_path)!r})
        from trio._signals import get_pending_signal_count, _signal_handler
        assert get_pending_signal_count is lowio._signals.pending_signal_count
        assert _signal_handler is lowio._signals._signal_handlers
        from trio._socket import _NUMERIC_ONLY
        assert _NUMERIC_ONLY == socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
        """
    )


def test_reprs_name_trio_in_this_mode() -> None:
    out = check(
        """
        import sys, lowio
        lowio.install_as_trio()
        import trio

        async def main():
            proc = await trio.lowlevel.open_process([sys.executable, "-c", ""])
            await proc.wait()
            print(repr(proc))
            print(repr(trio.Path(".")))
            print(repr(trio.CapacityLimiter(1)))

        trio.run(main)
        """
    )
    process, path, limiter = out.splitlines()
    assert process.startswith("<trio.Process [") and "exited with status 0" in process
    assert path == "trio.Path('.')"
    assert limiter.startswith("<trio.CapacityLimiter at ")


def test_suite_mode_star_imports_submodules_and_base_classes(tmp_path: Path) -> None:
    # a stand-in for trio's source tree: what the real modules bind
    (tmp_path / "_sync.py").write_text(
        "import math, sys\nfrom typing import overload\nclass Lock: ...\n"
        "class _Hidden: ...\nclass OnlyInTrio: ...\ndel sys\n"
    )
    (tmp_path / "_util.py").write_text("class Final: ...\n")
    check(
        f"""
        import math, typing, lowio
        lowio.install_as_trio(_tests_dir={str(tmp_path)!r})
        from lowio._trio_alias import PRIVATE_MARK
        namespace = {{}}
        exec("from trio._sync import *", namespace)
        assert namespace["Lock"] is lowio.Lock, namespace
        assert namespace["overload"] is typing.overload
        assert namespace["math"] is math
        assert "OnlyInTrio" not in namespace and "_Hidden" not in namespace
        assert "sys" not in namespace  # deleted at the end of the module
        import trio._sync
        listed = dir(trio._sync)
        assert "Lock" in listed and "overload" in listed
        assert "OnlyInTrio" not in listed and "sys" not in listed and "Event" not in listed
        import trio
        assert trio._util.__name__ == "trio._util"  # not imported by anyone yet
        from trio._util import Final
        try:
            class Sub(Final):
                pass
        except AttributeError as exc:
            assert str(exc).startswith(PRIVATE_MARK), exc
        else:
            raise AssertionError("subclassed a placeholder")
        try:
            isinstance(1, Final)
        except AttributeError as exc:
            assert str(exc).startswith(PRIVATE_MARK), exc
        else:
            raise AssertionError("isinstance() with a placeholder")
        import trio._util
        try:
            trio._util.Final = object  # patching a private name nothing reads
        except AttributeError as exc:
            assert str(exc).startswith(PRIVATE_MARK), exc
        else:
            raise AssertionError("patched a placeholder")
        trio._util.Mine = 1  # a name trio does not have: an ordinary attribute
        assert trio._util.Mine == 1
        """
    )


def test_a_public_trio_name_lowio_lacks_is_not_a_module() -> None:
    check(
        """
        import lowio
        lowio.install_as_trio()
        try:
            from trio import NoSuchThing
        except ImportError as exc:
            assert "NoSuchThing" in str(exc), exc
        else:
            raise AssertionError(f"resolved to {NoSuchThing!r}")
        import trio._core._run  # private module paths still import
        """
    )


def test_suite_mode_patching_a_counterpart_patches_lowio(tmp_path: Path) -> None:
    (tmp_path / "_subprocess.py").write_text("can_try_pidfd_open = True\n")
    check(
        f"""
        from unittest import mock
        import lowio, lowio._subprocess as sub
        lowio.install_as_trio(_tests_dir={str(tmp_path)!r})
        with mock.patch("trio._subprocess.can_try_pidfd_open", new=False):
            assert sub._can_try_pidfd_open is False
        assert sub._can_try_pidfd_open is True
        """
    )
