"""``lowio.StapledStream`` (forwarding, send_eof, closing both halves even
when one fails) and ``lowio.aclose_forcefully``."""

from __future__ import annotations

from typing import Any

import pytest
from _socket_helpers import lowio_test

import lowio
from lowio import StapledStream, aclose_forcefully
from lowio.abc import AsyncResource, ReceiveStream, SendStream
from lowio.testing import (
    assert_checkpoints,
    check_half_closeable_stream,
    memory_stream_one_way_pair,
)


class RecordingSend(SendStream):
    def __init__(self) -> None:
        self.record: list[Any] = []

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.record.append(("send_all", data))

    async def wait_send_all_might_not_block(self) -> None:
        self.record.append("wait_send_all_might_not_block")

    async def aclose(self) -> None:
        self.record.append("aclose")


class RecordingReceive(ReceiveStream):
    def __init__(self) -> None:
        self.record: list[Any] = []

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        self.record.append(("receive_some", max_bytes))
        return b""

    async def aclose(self) -> None:
        self.record.append("aclose")


@lowio_test
async def test_stapled_stream_forwards_each_method() -> None:
    send, receive = RecordingSend(), RecordingReceive()
    stapled = StapledStream(send, receive)
    assert stapled.send_stream is send
    assert stapled.receive_stream is receive
    assert isinstance(stapled, lowio.abc.HalfCloseableStream)
    await stapled.send_all(b"foo")
    await stapled.wait_send_all_might_not_block()
    assert send.record == [("send_all", b"foo"), "wait_send_all_might_not_block"]
    send.record.clear()
    # no send_eof on the send stream: closing it is the end of file
    await stapled.send_eof()
    assert send.record == ["aclose"]
    send.record.clear()

    async def send_eof() -> None:
        send.record.append("send_eof")

    send.send_eof = send_eof  # type: ignore[attr-defined]
    await stapled.send_eof()
    assert send.record == ["send_eof"]
    send.record.clear()
    assert receive.record == []
    assert await stapled.receive_some(1234) == b""
    assert await stapled.receive_some() == b""
    assert receive.record == [("receive_some", 1234), ("receive_some", None)]
    assert send.record == []
    receive.record.clear()
    await stapled.aclose()
    assert send.record == ["aclose"]
    assert receive.record == ["aclose"]
    # the halves can be replaced
    other = RecordingSend()
    stapled.send_stream = other
    await stapled.send_all(b"x")
    assert other.record == [("send_all", b"x")]
    assert "StapledStream(send_stream=" in repr(stapled)


@lowio_test
async def test_stapled_stream_closes_both_halves_when_one_fails() -> None:
    class FailingSend(RecordingSend):
        async def aclose(self) -> None:
            await super().aclose()
            raise ValueError("send error")

    class FailingReceive(RecordingReceive):
        async def aclose(self) -> None:
            await super().aclose()
            raise ValueError("receive error")

    stapled = StapledStream(FailingSend(), FailingReceive())
    with pytest.raises(ValueError, match=r"^receive error$") as info:
        await stapled.aclose()
    assert isinstance(info.value.__context__, ValueError)
    assert str(info.value.__context__) == "send error"
    assert stapled.send_stream.record == ["aclose"]
    assert stapled.receive_stream.record == ["aclose"]


def test_stapled_stream_is_final() -> None:
    with pytest.raises(TypeError):

        class Sub(StapledStream):  # type: ignore[misc, type-arg]
            pass


@lowio_test
async def test_stapled_memory_streams_pass_the_half_closeable_suite() -> None:
    async def maker() -> tuple[Any, Any]:
        a_send, a_receive = memory_stream_one_way_pair()
        b_send, b_receive = memory_stream_one_way_pair()
        return StapledStream(a_send, b_receive), StapledStream(b_send, a_receive)

    await check_half_closeable_stream(maker, None)


class CloseRecorder(AsyncResource):
    """aclose waits at a checkpoint; records whether it was cancelled."""

    def __init__(self) -> None:
        self.outcome = ""

    async def aclose(self) -> None:
        try:
            await lowio.sleep_forever()
        except lowio.Cancelled:
            self.outcome = "cancelled"
            raise


@lowio_test
async def test_aclose_forcefully_cancels_the_close_and_returns() -> None:
    resource = CloseRecorder()
    with assert_checkpoints():
        await aclose_forcefully(resource)
    assert resource.outcome == "cancelled"

    class Failing(AsyncResource):
        async def aclose(self) -> None:
            raise OSError("close failed")

    with pytest.raises(OSError, match="close failed"):
        await aclose_forcefully(Failing())
    # an outer cancellation is not swallowed by the inner scope
    with lowio.CancelScope() as outer:
        outer.cancel()
        await aclose_forcefully(CloseRecorder())
        await lowio.lowlevel.checkpoint()
        pytest.fail("not reached")  # pragma: no cover
    assert outer.cancelled_caught
