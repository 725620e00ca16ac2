"""lowio.lowlevel.FdStream on pipes: trio's FdStream semantics, on the
owned fast path (no epoll_ctl per wait)."""

from __future__ import annotations

import errno
import gc
import os
import select
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import lowio
from lowio import BrokenResourceError, BusyResourceError, ClosedResourceError
from lowio.lowlevel import FdStream
from lowio.testing import assert_checkpoints, wait_all_tasks_blocked

PIPE_BUF = getattr(select, "PIPE_BUF", 4096)


def make_pipe() -> tuple[FdStream, FdStream]:
    """(send end, receive end)."""
    r, w = os.pipe()
    return FdStream(w), FdStream(r)


def clog(stream: FdStream) -> None:
    """Fills the pipe behind ``stream`` (writes > PIPE_BUF, which pipes may
    split, so that the last bytes of free space get used too)."""
    try:
        while True:
            os.write(stream.fileno(), b"x" * PIPE_BUF * 2)
    except BlockingIOError:
        pass


def drain(fd: int) -> int:
    total = 0
    try:
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return total
            total += len(chunk)
    except BlockingIOError:
        return total


def raises_in_task(
    exc_type: type[BaseException], fn: Callable[..., Awaitable[object]], *args: object
) -> Callable[[], Awaitable[None]]:
    """A task body: ``await fn(*args)`` must raise ``exc_type``."""

    async def task() -> None:
        with pytest.raises(exc_type):
            await fn(*args)

    return task


def run(fn: Callable[[], Awaitable[Any]]) -> Any:
    return lowio.run(fn)


def test_round_trip_and_fileno() -> None:
    async def main() -> None:
        r, w = os.pipe()
        async with FdStream(w) as send, FdStream(r) as receive:
            assert send.fileno() == w
            assert receive.fileno() == r
            assert not os.get_blocking(w)
            assert not os.get_blocking(r)
            await send.send_all(b"hello")
            assert await receive.receive_some() == b"hello"
            await send.send_all(bytearray(b"abcdef"))
            assert await receive.receive_some(4) == b"abcd"
            assert await receive.receive_some(4) == b"ef"
            await send.send_all(memoryview(b"xyz")[1:])
            assert await receive.receive_some(10) == b"yz"
            await send.send_all(b"")  # nothing to send: fine
        assert send.fileno() == -1
        assert receive.fileno() == -1
        for fd in (r, w):
            with pytest.raises(OSError) as info:
                os.close(fd)
            assert info.value.errno == errno.EBADF

    run(main)


def test_a_receiver_waits_for_data() -> None:
    async def main() -> None:
        send, receive = make_pipe()
        got: list[bytes] = []
        async with send, receive, lowio.open_nursery() as nursery:

            async def reader() -> None:
                got.append(await receive.receive_some())

            nursery.start_soon(reader)
            await wait_all_tasks_blocked()
            assert got == []
            await send.send_all(b"late")
        assert got == [b"late"]

    run(main)


def test_a_large_transfer_arrives_intact() -> None:
    data = bytes(range(256)) * (4 * 4096)  # 4 MiB

    async def main() -> None:
        send, receive = make_pipe()
        received = bytearray()

        async def sender() -> None:
            async with send:
                await send.send_all(data)

        async def reader() -> None:
            async for chunk in receive:
                received.extend(chunk)

        async with receive, lowio.open_nursery() as nursery:
            nursery.start_soon(sender)
            nursery.start_soon(reader)
        assert received == data

    run(main)


def test_non_byte_buffers_are_sent_whole() -> None:
    import array

    async def main() -> None:
        send, receive = make_pipe()
        async with send, receive:
            await send.send_all(memoryview(array.array("i", [1, 2, 3])))  # type: ignore[arg-type]
            assert await receive.receive_some() == array.array("i", [1, 2, 3]).tobytes()

    run(main)


def test_eof_is_empty_bytes() -> None:
    async def main() -> None:
        send, receive = make_pipe()
        async with receive:
            await send.send_all(b"last")
            await send.aclose()
            assert await receive.receive_some() == b"last"
            assert await receive.receive_some() == b""
            assert await receive.receive_some() == b""
            assert [chunk async for chunk in receive] == []

    run(main)


def test_eof_wakes_a_waiting_receiver() -> None:
    async def main() -> None:
        send, receive = make_pipe()
        got: list[bytes] = []
        async with receive, lowio.open_nursery() as nursery:

            async def reader() -> None:
                got.append(await receive.receive_some())

            nursery.start_soon(reader)
            await wait_all_tasks_blocked()
            await send.aclose()
        assert got == [b""]

    run(main)


def test_sending_to_a_pipe_without_reader_is_broken() -> None:
    async def main() -> None:
        send, receive = make_pipe()
        async with send:
            await receive.aclose()
            with pytest.raises(BrokenResourceError) as info:
                await send.send_all(b"x")
            assert isinstance(info.value.__cause__, BrokenPipeError)

    run(main)


def test_a_reader_leaving_wakes_a_blocked_sender_with_broken() -> None:
    async def main() -> None:
        send, receive = make_pipe()
        clog(send)
        async with send, lowio.open_nursery() as nursery:
            nursery.start_soon(raises_in_task(BrokenResourceError, send.send_all, b"y" * 100))
            await wait_all_tasks_blocked()
            await receive.aclose()

    run(main)


def test_two_senders_at_once_is_busy() -> None:
    async def main() -> None:
        send, receive = make_pipe()
        clog(send)
        async with send, receive:
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(send.send_all, b"z" * 10)
                await wait_all_tasks_blocked()
                with pytest.raises(BusyResourceError):
                    await send.send_all(b"w")
                with pytest.raises(BusyResourceError):
                    await send.wait_send_all_might_not_block()
                drain(receive.fileno())  # the first sender finishes
            assert drain(receive.fileno()) == 10

    run(main)


def test_two_receivers_at_once_is_busy() -> None:
    async def main() -> None:
        send, receive = make_pipe()
        async with send, receive, lowio.open_nursery() as nursery:
            nursery.start_soon(receive.receive_some)
            await wait_all_tasks_blocked()
            with pytest.raises(BusyResourceError):
                await receive.receive_some()
            await send.send_all(b"done")

    run(main)


@pytest.mark.parametrize("how", ["close", "aclose"])
def test_closing_wakes_a_waiting_receiver_with_closed(how: str) -> None:
    async def main() -> None:
        send, receive = make_pipe()
        async with send, lowio.open_nursery() as nursery:
            nursery.start_soon(raises_in_task(ClosedResourceError, receive.receive_some))
            await wait_all_tasks_blocked()
            if how == "close":
                receive.close()
            else:
                await receive.aclose()

    run(main)


def test_closing_wakes_a_waiting_sender_with_closed() -> None:
    async def main() -> None:
        send, receive = make_pipe()
        clog(send)
        async with receive, lowio.open_nursery() as nursery:
            nursery.start_soon(raises_in_task(ClosedResourceError, send.send_all, b"q" * 100))
            await wait_all_tasks_blocked()
            send.close()
            send2, receive2 = make_pipe()
            clog(send2)
            nursery.start_soon(
                raises_in_task(ClosedResourceError, send2.wait_send_all_might_not_block)
            )
            await wait_all_tasks_blocked()
            send2.close()
            receive2.close()

    run(main)


def test_everything_after_close_is_closed() -> None:
    async def main() -> None:
        send, receive = make_pipe()
        await send.aclose()
        await send.aclose()  # idempotent
        receive.close()
        receive.close()
        with pytest.raises(ClosedResourceError):
            await send.send_all(b"x")
        with pytest.raises(ClosedResourceError):
            await send.send_all(b"")  # checked up front, as trio
        with pytest.raises(ClosedResourceError):
            await send.wait_send_all_might_not_block()
        with pytest.raises(ClosedResourceError):
            await receive.receive_some()

    run(main)


def test_a_close_between_wake_up_and_read_is_closed() -> None:
    # the fd is closed after the wait returned but before os.read ran
    async def main() -> None:
        send, receive = make_pipe()
        runner = lowio._core.GLOBAL_RUN_CONTEXT.runner
        assert runner is not None
        io = runner.io
        original = io.wait_owned_readable

        async def wait_then_close(fd: int) -> None:
            await original(fd)
            receive.close()

        io.wait_owned_readable = wait_then_close  # type: ignore[method-assign]
        try:
            async with send, lowio.open_nursery() as nursery:
                nursery.start_soon(raises_in_task(ClosedResourceError, receive.receive_some))
                await wait_all_tasks_blocked()
                await send.send_all(b"x")
        finally:
            del io.wait_owned_readable

    run(main)


def test_wait_send_all_might_not_block() -> None:
    async def main() -> None:
        send, receive = make_pipe()
        async with send, receive:
            with assert_checkpoints():
                await send.wait_send_all_might_not_block()  # empty pipe: at once
            clog(send)
            with lowio.move_on_after(0.05) as scope:
                await send.wait_send_all_might_not_block()
            assert scope.cancelled_caught
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(send.wait_send_all_might_not_block)
                await wait_all_tasks_blocked()
                drain(receive.fileno())

    run(main)


def test_every_io_method_is_a_checkpoint() -> None:
    async def main() -> None:
        send, receive = make_pipe()
        async with send, receive, lowio.open_nursery() as nursery:
            with assert_checkpoints():  # fast path: written at once
                await send.send_all(b"a")
            with assert_checkpoints():  # fast path: data there
                await receive.receive_some()
            with assert_checkpoints():
                await send.send_all(b"")

            async def feed_later() -> None:
                await wait_all_tasks_blocked()
                await send.send_all(b"b")

            nursery.start_soon(feed_later)
            with assert_checkpoints():  # slow path: parks
                await receive.receive_some()
            clog(send)

            async def drain_later() -> None:
                await wait_all_tasks_blocked()
                drain(receive.fileno())

            nursery.start_soon(drain_later)
            with assert_checkpoints():  # slow path: parks
                await send.send_all(b"c" * 10)
        s2, r2 = make_pipe()
        with assert_checkpoints():
            await s2.aclose()
        with assert_checkpoints():
            await r2.aclose()

    run(main)


def test_a_cancelled_receive_leaves_the_data_in_the_pipe() -> None:
    async def main() -> None:
        send, receive = make_pipe()
        async with send, receive:
            await send.send_all(b"keep")
            with lowio.CancelScope() as scope:
                scope.cancel()
                await receive.receive_some()
            assert scope.cancelled_caught
            with lowio.CancelScope() as scope:
                scope.cancel()
                await send.send_all(b"nope")
            assert scope.cancelled_caught
            assert await receive.receive_some() == b"keep"

    run(main)


def test_owned_waits_cost_no_epoll_ctl() -> None:
    async def main() -> None:
        send, receive = make_pipe()
        runner = lowio._core.GLOBAL_RUN_CONTEXT.runner
        assert runner is not None
        io = runner.io
        calls: list[str] = []
        add, mod = io._add, io._mod

        def counting_add(*args: Any, **kwargs: Any) -> None:
            calls.append("add")
            add(*args, **kwargs)

        def counting_mod(*args: Any, **kwargs: Any) -> None:
            calls.append("mod")
            mod(*args, **kwargs)

        io._add, io._mod = counting_add, counting_mod  # type: ignore[method-assign]
        try:
            async with send, receive, lowio.open_nursery() as nursery:

                async def ping() -> None:
                    for i in range(20):
                        await wait_all_tasks_blocked()
                        await send.send_all(b"%d" % i)

                nursery.start_soon(ping)
                for i in range(20):
                    assert await receive.receive_some() == b"%d" % i
                never_armed = io._states[receive.fileno()].rearm is None
        finally:
            io._add, io._mod = add, mod  # type: ignore[method-assign]
        assert calls == ["add"]  # one registration, then edges only
        assert never_armed  # no epoll_ctl(MOD) prepared either

    run(main)


def test_a_collected_stream_closes_its_fd_and_is_forgotten() -> None:
    async def main() -> None:
        send, receive = make_pipe()
        r_fd, w_fd = receive.fileno(), send.fileno()
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(receive.receive_some)
            await wait_all_tasks_blocked()
            await send.send_all(b"x")  # receive is now registered
        del send, receive
        gc.collect()
        for fd in (r_fd, w_fd):
            with pytest.raises(OSError):
                os.fstat(fd)
        # a new pipe on the same fd numbers must not inherit a dead
        # registration (the owned path would park forever on it)
        r, w = os.pipe()
        if r != r_fd:  # pragma: no cover
            os.close(r)
            os.close(w)
            pytest.skip("the fd number was not reused")
        stream = FdStream(r)
        with lowio.fail_after(2):
            async with lowio.open_nursery() as nursery:
                nursery.start_soon(stream.receive_some)
                await wait_all_tasks_blocked()
                os.write(w, b"y")
        await stream.aclose()
        os.close(w)

    run(main)


def test_close_restores_the_blocking_mode_and_double_close_is_harmless() -> None:
    async def main() -> None:
        r, w = os.pipe()
        stream = FdStream(w)
        assert not os.get_blocking(w)
        keep = os.dup(w)  # shares the open file description
        stream.close()
        assert os.get_blocking(keep)
        os.close(keep)
        # an old closed stream closing again must not touch a new fd with
        # the same number (trio's misdirected-aclose regression)
        r2, w2 = os.pipe()
        new = FdStream(w2)
        stream.close()
        await stream.aclose()
        await new.send_all(b"ok")
        assert os.read(r2, 10) == b"ok"
        await new.aclose()
        os.close(r)
        os.close(r2)

    run(main)


def test_close_outside_a_run_works() -> None:
    r, w = os.pipe()
    stream = FdStream(w)
    stream.close()
    assert stream.fileno() == -1
    os.close(r)


def test_bad_arguments() -> None:
    with pytest.raises(TypeError):
        FdStream(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        FdStream("3")  # type: ignore[arg-type]
    r, w = os.pipe()
    os.close(w)
    os.close(r)
    with pytest.raises(OSError):
        FdStream(r)

    async def main() -> None:
        send, receive = make_pipe()
        async with send, receive:
            with pytest.raises(ValueError, match=r"^max_bytes must be integer >= 1$"):
                await receive.receive_some(0)
            with pytest.raises(TypeError, match=r"^max_bytes must be integer >= 1$"):
                await receive.receive_some(1.5)  # type: ignore[arg-type]
            await send.send_all(b"still works")
            assert await receive.receive_some() == b"still works"

    run(main)


def test_an_odd_os_error_is_broken() -> None:
    async def main() -> None:
        send, receive = make_pipe()
        async with send, receive:
            dir_fd = os.open("/", os.O_DIRECTORY)
            try:
                os.dup2(dir_fd, receive.fileno())  # read() now fails: EISDIR
                with pytest.raises(BrokenResourceError) as info:
                    await receive.receive_some(10)
                assert isinstance(info.value.__cause__, IsADirectoryError)
            finally:
                os.close(dir_fd)

    run(main)


def test_a_stale_cache_entry_for_a_reused_fd_number_is_dropped() -> None:
    """A pipe closed without notify_closing leaves an entry for its fd
    number; an FdStream on a new pipe that gets the same number must not
    park on that dead registration (the owned waits trust the cache)."""

    async def main() -> None:
        r1, w1 = os.pipe()
        os.set_blocking(r1, False)
        with lowio.move_on_after(0.01):
            await lowio.lowlevel.wait_readable(r1)  # leaves a cache entry for r1
        os.close(r1)  # no notify_closing
        os.close(w1)
        r2, w2 = os.pipe()
        if r2 != r1:  # pragma: no cover - the kernel hands out the lowest free number
            os.close(r2)
            os.close(w2)
            pytest.skip("fd number not reused")
        reader = FdStream(r2)
        writer = FdStream(w2)
        try:
            async with lowio.open_nursery() as nursery:

                async def send_later() -> None:
                    await lowio.sleep(0.01)
                    await writer.send_all(b"ping")

                nursery.start_soon(send_later)
                with lowio.fail_after(2):
                    assert await reader.receive_some(10) == b"ping"
        finally:
            await reader.aclose()
            await writer.aclose()

    lowio.run(main)


def test_fd_stream_is_a_stream() -> None:
    # check_one_way_stream (and trio's tests) require the Stream ABC
    assert issubclass(lowio.lowlevel.FdStream, lowio.abc.Stream)
