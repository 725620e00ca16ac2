"""``open_nursery(strict_exception_groups=...)`` and the run-wide default
``lowio.run(..., strict_exception_groups=...)``; ``restrict_keyboard_interrupt_to_checkpoints``."""

from __future__ import annotations

import os
import signal
import sys
import warnings

import pytest

import lowio

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup


async def boom() -> None:
    raise ValueError("boom")


async def nursery_with_failing_child(strict: bool | None) -> None:
    async with lowio.open_nursery(strict_exception_groups=strict) as nursery:
        nursery.start_soon(boom)


def test_strict_true_wraps_a_single_error() -> None:
    with pytest.raises(ExceptionGroup) as info:
        lowio.run(nursery_with_failing_child, True)
    assert [type(e) for e in info.value.exceptions] == [ValueError]


def test_strict_true_overrides_a_loose_run() -> None:
    warns = pytest.warns(lowio.TrioDeprecationWarning, match="strict_exception_groups=False")
    with warns, pytest.raises(ExceptionGroup):
        lowio.run(nursery_with_failing_child, True, strict_exception_groups=False)


def test_none_inherits_the_runs_setting() -> None:
    with pytest.raises(ExceptionGroup):
        lowio.run(nursery_with_failing_child, None)
    warns = pytest.warns(lowio.TrioDeprecationWarning, match=r"run\(\.\.\., strict_exc")
    with warns as record, pytest.raises(ValueError, match="boom"):
        lowio.run(nursery_with_failing_child, None, strict_exception_groups=False)
    assert [w.filename for w in record] == [__file__]


def test_loose_nursery_raises_a_single_error_bare_and_warns_at_the_caller() -> None:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="boom"):
            lowio.run(nursery_with_failing_child, False)
    assert [type(w.message) for w in record] == [lowio.TrioDeprecationWarning]
    assert "open_nursery(strict_exception_groups=False)" in str(record[0].message)
    assert record[0].filename == __file__


async def loose_nursery_whose_body_is_cancelled() -> None:
    async with lowio.open_nursery(strict_exception_groups=False) as nursery:
        nursery.start_soon(boom)
        await lowio.sleep_forever()  # cancelled by the child's error


@pytest.mark.filterwarnings("ignore::lowio.TrioDeprecationWarning")
def test_loose_group_collapses_once_cancelled_is_stripped() -> None:
    with pytest.raises(ValueError, match="boom") as info:
        lowio.run(loose_nursery_whose_body_is_cancelled)
    # the group's traceback entries come first
    names = [entry.name for entry in info.traceback]
    assert "loose_nursery_whose_body_is_cancelled" in names
    assert names[-1] == "boom"


@pytest.mark.filterwarnings("ignore::lowio.TrioDeprecationWarning")
def test_loose_group_with_two_errors_stays_a_group_with_the_note() -> None:
    async def main() -> None:
        async with lowio.open_nursery(strict_exception_groups=False) as nursery:
            nursery.start_soon(boom)
            nursery.start_soon(boom)

    with pytest.raises(ExceptionGroup) as info:
        lowio.run(main)
    assert len(info.value.exceptions) == 2
    assert any("loose" in note for note in info.value.__notes__)


def test_a_strict_group_is_never_collapsed() -> None:
    async def main() -> None:
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(boom)
            await lowio.sleep_forever()

    with pytest.raises(BaseExceptionGroup) as info:
        lowio.run(main)
    assert [type(e) for e in info.value.exceptions] == [ValueError]


def test_restrict_keyboard_interrupt_to_checkpoints() -> None:
    reached_checkpoint = []

    async def main() -> None:
        os.kill(os.getpid(), signal.SIGINT)  # lands in unprotected code
        for _ in range(1000):  # no checkpoint: the KI must wait
            pass
        reached_checkpoint.append(True)
        await lowio.sleep(10)

    with pytest.raises(KeyboardInterrupt):
        lowio.run(main, restrict_keyboard_interrupt_to_checkpoints=True)
    assert reached_checkpoint == [True]

    reached_checkpoint.clear()
    with pytest.raises(KeyboardInterrupt):
        lowio.run(main)
    assert reached_checkpoint == []
