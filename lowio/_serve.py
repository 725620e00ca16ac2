"""``lowio.serve_listeners``: accept loops that hand each connection to a
handler task (trio's ``serve_listeners``).

One loop per listener accepts forever and starts ``handler(stream)`` in the
handler nursery; the stream is closed (forcefully, without waiting) when
the handler returns or raises.  When ``accept`` fails because the process
or the system is out of a resource (``EMFILE``, ``ENFILE``, ``ENOMEM``,
``ENOBUFS``) the loop logs the error on the ``lowio.serve_listeners``
logger and sleeps ``ACCEPT_RETRY_DELAY`` seconds before it tries again, so
it never spins on a full fd table; any other error ends the serving.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from ._abc import AsyncResource, Listener
from ._core import TASK_STATUS_IGNORED, Nursery, TaskStatus, open_nursery
from ._stapled_stream import aclose_forcefully
from ._timeouts import sleep

# accept() errors that say "out of a resource now", not "this listener is broken"
ACCEPT_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
ACCEPT_RETRY_DELAY = 0.100  # seconds between accept() retries after a resource shortage

LOGGER = logging.getLogger("lowio.serve_listeners")

StreamT = TypeVar("StreamT", bound=AsyncResource)
ListenerT = TypeVar("ListenerT", bound=Listener[Any])
Handler = Callable[[StreamT], Awaitable[object]]


async def _run_handler(stream: StreamT, handler: Handler[StreamT]) -> None:
    try:
        await handler(stream)
    finally:
        await aclose_forcefully(stream)


async def _accept_forever(
    listener: Listener[StreamT], handler_nursery: Nursery, handler: Handler[StreamT]
) -> NoReturn:
    async with listener:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                if exc.errno not in ACCEPT_CAPACITY_ERRNOS:
                    raise
                LOGGER.error(
                    "accept returned %s (%s); retrying in %s seconds",
                    errno.errorcode[exc.errno],
                    os.strerror(exc.errno),
                    ACCEPT_RETRY_DELAY,
                    exc_info=True,
                )
                await sleep(ACCEPT_RETRY_DELAY)
            else:
                handler_nursery.start_soon(_run_handler, stream, handler)


async def serve_listeners(
    handler: Handler[StreamT],
    listeners: list[ListenerT],
    *,
    handler_nursery: Nursery | None = None,
    task_status: TaskStatus[list[ListenerT]] = TASK_STATUS_IGNORED,
) -> NoReturn:
    """Accepts connections on every listener of ``listeners``, forever, and
    runs ``await handler(stream)`` for each in a task of its own, in
    ``handler_nursery`` (default: a nursery inside this call, so handlers
    end with it).  Each stream is closed when its handler is done.

    Returns only by raising: cancel it to stop serving (the listeners are
    then closed).  With ``nursery.start``, ``task_status.started`` gets
    ``listeners`` once the accept loops are started.  An ``accept`` error
    other than the resource shortages (see the module docstring) is raised
    and ends the serving.  Call it from the run's thread.
    """
    async with open_nursery() as nursery:
        target = nursery if handler_nursery is None else handler_nursery
        for listener in listeners:
            nursery.start_soon(_accept_forever, listener, target, handler)
        task_status.started(listeners)
    raise AssertionError("the accept loops never end without an error")  # pragma: no cover


__all__ = ["ACCEPT_CAPACITY_ERRNOS", "ACCEPT_RETRY_DELAY", "serve_listeners"]
