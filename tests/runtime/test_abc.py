"""lowio.abc: trio.abc's names, and the behaviour the base classes give."""

from __future__ import annotations

import pytest
import trio

import lowio
from lowio import abc


def test_same_names_as_trio_abc() -> None:
    assert set(abc.__all__) == {n for n in dir(trio.abc) if not n.startswith("_")}


@pytest.mark.parametrize("name", abc.__all__)
def test_abstract_methods_match_trio(name: str) -> None:
    ours = getattr(abc, name)
    theirs = getattr(trio.abc, name)
    none: frozenset[str] = frozenset()
    assert getattr(ours, "__abstractmethods__", none) == theirs.__abstractmethods__


def test_cannot_instantiate_without_the_abstract_methods() -> None:
    with pytest.raises(TypeError, match="abstract"):
        abc.Stream()  # type: ignore[abstract]


class _Chunks(abc.ReceiveStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = 0

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await lowio.lowlevel.checkpoint()
        return self.chunks.pop(0) if self.chunks else b""

    async def aclose(self) -> None:
        self.closed += 1


class _Values(abc.ReceiveChannel[int]):
    def __init__(self, values: list[int]) -> None:
        self.values = values

    async def receive(self) -> int:
        await lowio.lowlevel.checkpoint()
        if not self.values:
            raise lowio.EndOfChannel
        return self.values.pop(0)

    async def aclose(self) -> None:
        pass


def test_receive_stream_iterates_until_eof_and_async_with_closes() -> None:
    async def main() -> tuple[list[bytes], int]:
        stream = _Chunks([b"a", b"bc"])
        async with stream as entered:
            assert entered is stream
            got = [chunk async for chunk in stream]
        return got, stream.closed

    assert lowio.run(main) == ([b"a", b"bc"], 1)


def test_async_with_closes_on_error_too() -> None:
    stream = _Chunks([])

    async def main() -> None:
        async with stream:
            raise KeyError("boom")

    with pytest.raises(KeyError):
        lowio.run(main)
    assert stream.closed == 1


def test_receive_channel_iterates_until_end_of_channel() -> None:
    async def main() -> list[int]:
        return [value async for value in _Values([1, 2, 3])]

    assert lowio.run(main) == [1, 2, 3]


def test_clock_and_instrument_are_the_runtimes() -> None:
    assert isinstance(lowio.testing.MockClock(), abc.Clock)
    assert issubclass(abc.Instrument, object)
    assert abc.Instrument is lowio.lowlevel.Instrument
