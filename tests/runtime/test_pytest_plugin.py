"""lowio's pytest plugin (``lowio.pytest_plugin``), driven with pytester in
a separate pytest process per case."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def run(pytester: pytest.Pytester, source: str, ini: str = "") -> pytest.RunResult:
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(source)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")


def test_marked_async_tests_run_on_lowio(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest, lowio, sniffio

        @pytest.mark.lowio
        async def test_runs():
            await lowio.sleep(0)
            assert sniffio.current_async_library() == "lowio"
            assert lowio.lowlevel.current_task() is not None

        @pytest.mark.lowio
        async def test_fails():
            await lowio.sleep(0)
            assert 1 == 2
        """,
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*assert 1 == 2*"])


def test_unmarked_async_tests_are_left_alone_unless_lowio_mode(pytester: pytest.Pytester) -> None:
    source = """
        import lowio

        async def test_unmarked():
            await lowio.sleep(0)
        """
    plain = run(pytester, source)
    plain.assert_outcomes(failed=1)  # pytest: async tests need a plugin
    moded = run(pytester, source, ini="lowio_mode = true")
    moded.assert_outcomes(passed=1)


def test_async_fixtures_set_up_in_order_and_tear_down_after(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest, lowio

        events = []

        @pytest.fixture
        async def database():
            await lowio.sleep(0)
            events.append("db up")
            yield "db"
            await lowio.sleep(0)
            events.append("db down")

        @pytest.fixture
        async def user(database):
            events.append(f"user up on {database}")
            return "alice"

        @pytest.fixture
        def plain():
            return 42

        async def test_uses_them(user, database, plain):
            events.append(f"test {user} {database} {plain}")

        def test_order():
            assert events == [
                "db up", "user up on db", "test alice db 42", "db down",
            ]
        """,
        ini="lowio_mode = true",
    )
    result.assert_outcomes(passed=2)


def test_nursery_fixture_background_tasks_are_cancelled_after(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest, lowio

        state = {}

        @pytest.fixture
        async def server(nursery):
            ready = lowio.Event()

            async def serve():
                ready.set()
                try:
                    await lowio.sleep_forever()
                except lowio.Cancelled:
                    state["cancelled"] = True
                    raise

            nursery.start_soon(serve)
            await ready.wait()
            return "up"

        @pytest.mark.lowio
        async def test_with_server(server):
            assert server == "up"

        def test_after():
            assert state == {"cancelled": True}
        """,
    )
    result.assert_outcomes(passed=2)


def test_autojump_clock_makes_sleeps_instant(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import time, pytest, lowio

        @pytest.mark.lowio
        async def test_sleep(autojump_clock):
            start, virtual = time.monotonic(), lowio.current_time()
            await lowio.sleep(3600)
            assert lowio.current_time() - virtual >= 3600
            assert time.monotonic() - start < 30
        """,
    )
    result.assert_outcomes(passed=1)


def test_fixture_errors_and_misuse_are_reported(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest, lowio

        @pytest.fixture
        async def broken():
            raise KeyError("fixture broke")

        @pytest.fixture
        async def no_yield():
            if False:
                yield

        @pytest.fixture
        async def twice():
            yield 1
            yield 2

        @pytest.fixture(scope="module")
        async def wide():
            return 1

        @pytest.mark.lowio
        async def test_broken(broken):
            pass

        @pytest.mark.lowio
        async def test_no_yield(no_yield):
            pass

        @pytest.mark.lowio
        async def test_twice(twice):
            pass

        @pytest.mark.lowio
        async def test_wide(wide):
            pass

        @pytest.mark.lowio
        def test_sync_marked():
            pass
        """,
    )
    result.assert_outcomes(failed=4, errors=1)
    out = result.stdout.str()
    for message in (
        "fixture broke",
        "did not yield",
        "yielded more than once",
        "requested an async fixture 'wide'",  # pytest's refusal: one run per test
        "is for async tests",
    ):
        assert message in out


def test_other_libraries_markers_are_not_claimed(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest, sniffio

        @pytest.mark.anyio
        async def test_anyio_owns_it():
            assert sniffio.current_async_library() == "asyncio"

        @pytest.fixture
        def anyio_backend():
            return "asyncio"
        """,
        ini="lowio_mode = true",
    )
    result.assert_outcomes(passed=1)


def test_with_pytest_trio_active_each_marker_gets_its_own_fixtures(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
        import pytest, lowio, trio, trio.testing

        @pytest.mark.lowio
        async def test_lowio(nursery, autojump_clock):
            assert isinstance(autojump_clock, lowio.testing.MockClock)
            nursery.start_soon(lowio.sleep_forever)
            await lowio.sleep(3600)

        @pytest.mark.trio
        async def test_trio(nursery, autojump_clock):
            assert isinstance(autojump_clock, trio.testing.MockClock)
            assert not isinstance(autojump_clock, lowio.testing.MockClock)
            nursery.start_soon(trio.sleep_forever)
            await trio.sleep(3600)
        """,
    )
    result.assert_outcomes(passed=2)
