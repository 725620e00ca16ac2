"""install_as_trio(): a name read from the ``trio`` stand-in is bound in it
once found, so later reads are plain module attribute reads (a trio library
reads ``trio.fail_after`` and the like on every request).  Each test runs in
a fresh interpreter, since installing changes ``sys.modules`` for good."""

from __future__ import annotations

from tests.runtime.test_trio_alias import check


def test_trios_names_are_bound_at_install_and_the_pollers_on_first_read() -> None:
    check(
        """
        import lowio
        lowio.install_as_trio()
        import trio
        # as trio binds its names at import: iterating vars(trio) sees them all
        assert vars(trio)["fail_after"] is lowio.fail_after
        assert vars(trio)["SocketStream"] is lowio.SocketStream
        assert vars(trio)["__version__"] == "0.35.0"
        names = dict(vars(trio))
        for name in list(names):
            getattr(trio, name)
        assert dict(vars(trio)) == names  # no read binds another name
        assert "Poll" not in vars(trio)  # lowio's own, not trio's
        assert trio.Poll is lowio.Poll
        assert vars(trio)["Poll"] is lowio.Poll
        """
    )


def test_private_paths_bind_the_public_object_too() -> None:
    check(
        """
        import lowio
        lowio.install_as_trio()
        import trio._timeouts, trio._threads
        assert trio._timeouts.move_on_after is lowio.move_on_after
        assert vars(trio._timeouts)["move_on_after"] is lowio.move_on_after
        assert trio._threads.to_thread_run_sync is lowio.to_thread.run_sync
        assert vars(trio._threads)["to_thread_run_sync"] is lowio.to_thread.run_sync
        """
    )


def test_missing_and_private_names_stay_unbound_and_keep_failing() -> None:
    check(
        """
        import lowio
        lowio.install_as_trio()
        import trio, trio._core._run
        from lowio._trio_alias import PRIVATE_MARK
        for _ in range(2):  # the second read fails the same way
            try:
                trio.no_such_name
            except AttributeError as exc:
                assert "no_such_name" in str(exc), exc
            else:
                raise AssertionError("trio.no_such_name did not fail")
            try:
                trio._core._run.GLOBAL_RUN_CONTEXT
            except AttributeError as exc:
                assert str(exc).startswith(PRIVATE_MARK), exc
            else:
                raise AssertionError("a trio-private name did not fail")
        assert "no_such_name" not in vars(trio)
        assert "GLOBAL_RUN_CONTEXT" not in vars(trio._core._run)
        """
    )


def test_a_bound_name_can_be_patched_and_restored() -> None:
    check(
        """
        import lowio
        lowio.install_as_trio()
        import trio
        original = trio.sleep
        trio.sleep = "patched"
        assert trio.sleep == "patched" and lowio.sleep is original
        trio.sleep = original
        assert trio.sleep is lowio.sleep
        """
    )


def test_trios_own_test_modules_are_not_bound() -> None:
    # trio's suite on lowio: a private module's names resolve afresh on each
    # read, so a test patching lowio's counterpart is seen through it
    check(
        """
        import os, tempfile
        import lowio
        from lowio import _trio_alias
        tests = tempfile.mkdtemp()
        os.makedirs(os.path.join(tests, "_core"))
        for name in ("_timeouts.py", os.path.join("_core", "__init__.py")):
            with open(os.path.join(tests, name), "w") as f:
                f.write("def fail_after(): pass\\n")
        _trio_alias.install_as_trio(_tests_dir=tests)
        import trio._timeouts
        assert trio._timeouts.fail_after is lowio.fail_after
        assert "fail_after" not in vars(trio._timeouts)
        """
    )
