"""Error texts name the library the program uses: ``lowio.`` names by
default, trio's (``trio.Cancelled``, ``trio.run(f, ...)``) once lowio
stands in for trio."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import lowio
from lowio._core import _library_name


@pytest.fixture
def as_trio() -> Iterator[None]:
    before = _library_name.library_name()
    _library_name.set_library_name("trio")
    yield
    _library_name.set_library_name(before)


def test_no_public_constructor_names_the_public_class() -> None:
    with pytest.raises(TypeError, match=r"^lowio\.Cancelled has no public constructor$"):
        lowio.Cancelled()
    with pytest.raises(TypeError, match=r"^lowio\.lowlevel\.Task has no public constructor$"):
        lowio.lowlevel.Task()


@pytest.mark.usefixtures("as_trio")
def test_no_public_constructor_under_trios_name() -> None:
    with pytest.raises(TypeError, match=r"^trio\.Cancelled has no public constructor$"):
        lowio.Cancelled()


@pytest.mark.usefixtures("as_trio")
def test_bad_call_hint_names_trio() -> None:
    async def f() -> None:
        pass

    coro = f()
    with pytest.raises(TypeError, match=r"^Trio was expecting an async function") as info:
        lowio.run(coro)  # type: ignore[arg-type]
    assert "trio.run(f, ...)" in str(info.value)
