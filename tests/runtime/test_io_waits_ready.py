"""The readiness cache's READY flag and the raw waits: trusted for fds a
lowio object owns (no ``epoll_ctl``), never for a program's own fds (the
program may have filled or drained them since the edge); the direction
stays taken while a wait consumes READY; and a wake-up by an event resets
``custom_sleep_data`` as ``reschedule`` does."""

from __future__ import annotations

import errno
import socket

import pytest
from _io_wait_helpers import drain_socket, fill_socket, io_manager
from _socket_helpers import EpollCtlCounter, lowio_test
from conftest import in_both_orders

import lowio
import lowio.socket as lsocket
from lowio.lowlevel import current_task, wait_readable, wait_writable
from lowio.testing import wait_all_tasks_blocked

Pair = tuple[socket.socket, socket.socket]  # the conftest fixture ``pair``


async def cache_write_ready(a: socket.socket, b: socket.socket) -> None:
    """Makes the cache hold READY for writing ``a`` (EPOLLOUT registered,
    then an event reported while a task waited to read)."""
    await wait_writable(a)
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(wait_readable, a)
        await wait_all_tasks_blocked()
        b.send(b"x")
    assert io_manager()._states[a.fileno()].write_ready
    assert drain_socket(a) == b"x"


@lowio_test
async def test_wait_writable_on_a_program_socket_filled_since_the_edge(pair: Pair) -> None:
    a, b = pair
    await cache_write_ready(a, b)
    fill_socket(a)  # plain sends, unseen by lowio
    with lowio.move_on_after(0.2) as scope:
        await wait_writable(a)
    assert scope.cancelled_caught, "wait_writable returned while a was full"
    with pytest.raises(BlockingIOError):
        a.send(b"y")
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(wait_writable, a)
        await wait_all_tasks_blocked()
        drain_socket(b)
    a.send(b"y")  # the wait returned because a became writable


@lowio_test
async def test_wait_readable_on_a_program_socket_drained_since_the_edge(pair: Pair) -> None:
    a, b = pair
    b.send(b"x")
    await wait_readable(a)
    b.send(b"y")  # nobody waits: READY
    await wait_all_tasks_blocked()
    assert io_manager()._states[a.fileno()].read_ready
    assert drain_socket(a) == b"xy"  # plain recv, unseen by lowio
    with lowio.move_on_after(0.2) as scope:
        await wait_readable(a)
    assert scope.cancelled_caught, "wait_readable returned while a was empty"


async def claim_and_cache_ready(a: lsocket.SocketType, b: lsocket.SocketType) -> None:
    """``a`` claims its registration (a recv that waits, a wait_writable
    that adds EPOLLOUT), then an event comes while nobody waits: READY for
    both directions."""
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(a.recv, 1)
        await wait_all_tasks_blocked()
        await b.send(b"x")
    await a.wait_writable()
    await b.send(b"y")
    await wait_all_tasks_blocked()
    state = io_manager()._states[a.fileno()]
    assert state.read_ready and state.write_ready and state.owned


@lowio_test
async def test_lowio_sockets_keep_consuming_ready_without_epoll_ctl() -> None:
    a, b = lsocket.socketpair()
    with a, b:
        await claim_and_cache_ready(a, b)
        counter = EpollCtlCounter()
        await wait_readable(a)
        await a.wait_writable()
        assert counter.total == 0, counter.calls
        assert await a.recv(10) == b"y"


# ---- the READY path's checkpoint ----


@pytest.mark.parametrize("direction", ["read", "write"])
@lowio_test
async def test_a_second_waiter_is_refused_while_ready_is_consumed(direction: str) -> None:
    a, b = lsocket.socketpair()
    with a, b:
        fill = direction == "write"
        wait = a.wait_writable if fill else (lambda: wait_readable(a))
        await claim_and_cache_ready(a, b)
        state = io_manager()._states[a.fileno()]
        outcome: list[str] = []

        async def waiter() -> None:
            try:
                await wait()
            except lowio.BusyResourceError:
                outcome.append("busy")
            else:
                outcome.append("returned")

        async with lowio.open_nursery() as nursery:
            nursery.start_soon(waiter)  # one consumes READY: in its checkpoint...
            nursery.start_soon(waiter)  # ...the other asks
        assert sorted(outcome) == ["busy", "returned"]
        assert (state.write_task if fill else state.read_task) is None
        assert io_manager().statistics().tasks_waiting_read == 0


def test_closing_during_the_ready_checkpoint() -> None:
    # the waiter and the closer start in one batch, in either order: a close
    # while the wait holds the direction in its checkpoint makes it raise
    # ClosedResourceError; a close before the wait began leaves it a closed
    # socket to wait on (EBADF)
    async def scenario() -> bool:
        a, b = lsocket.socketpair()
        with b:
            await claim_and_cache_ready(a, b)
            state = io_manager()._states[a.fileno()]
            outcome: list[BaseException] = []
            during: list[bool] = []

            async def waiter() -> None:
                try:
                    await wait_readable(a)
                except (lowio.ClosedResourceError, OSError) as exc:
                    outcome.append(exc)

            async def closer() -> None:
                during.append(state.read_task is not None)  # HELD
                a.close()

            async with lowio.open_nursery() as nursery:
                nursery.start_soon(waiter)
                nursery.start_soon(closer)
            [exc] = outcome
            if during[0]:
                assert isinstance(exc, lowio.ClosedResourceError)
            else:
                assert type(exc) is OSError and exc.errno == errno.EBADF
            return during[0]

    in_both_orders(lambda: lowio.run(scenario))


@lowio_test
async def test_cancelled_during_the_ready_checkpoint_frees_the_direction() -> None:
    a, b = lsocket.socketpair()
    with a, b:
        await claim_and_cache_ready(a, b)
        with lowio.CancelScope() as scope:
            scope.cancel()
            await wait_readable(a)
        assert scope.cancelled_caught
        assert io_manager()._states[a.fileno()].read_task is None
        await wait_readable(a)  # not busy


# ---- custom_sleep_data ----


@pytest.mark.parametrize("direction", ["read", "write"])
@lowio_test
async def test_an_io_wake_up_resets_custom_sleep_data(direction: str, pair: Pair) -> None:
    a, b = pair
    seen: list[object] = []

    async def waiter() -> None:
        current_task().custom_sleep_data = "mine"
        await (wait_readable(a) if direction == "read" else wait_writable(a))
        seen.append(current_task().custom_sleep_data)

    if direction == "write":
        fill_socket(a)
    async with lowio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await wait_all_tasks_blocked()
        if direction == "read":
            b.send(b"x")
        else:
            drain_socket(b)
    assert seen == [None]
