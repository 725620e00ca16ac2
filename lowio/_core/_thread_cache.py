"""The worker-thread cache behind ``to_thread.run_sync``
(``lowio.lowlevel.start_thread_soon``).

An unbounded pool: a job goes to an idle worker if there is one (the most
recently idle first, so that few threads do most of the work and the others
time out), else to a new thread.  Bounding the number of threads is the
caller's business (``to_thread.run_sync``'s ``limiter``).  One cache per
process, shared by every run.

A worker waits ``idle_timeout`` seconds (10 by default) for its next
job, then exits.  Workers are daemon threads.  ``stop_idle_workers()`` ends
the idle ones at once (tests use it to get back to their thread baseline);
workers busy with a job are never touched.

Each worker's "job slot" is a lock held while it has no job: assigning a job
stores it and releases the lock.  The idle set is a dict used as a LIFO
stack; ``popitem`` and ``del`` are atomic under the GIL, so whoever removes a
worker from it (a caller assigning a job, the worker timing out, or
``stop_idle_workers``) owns it.
"""

from __future__ import annotations

import contextvars
import itertools
import os
import sys
import threading
import traceback
from collections.abc import Callable
from threading import Lock, Thread
from typing import Any, TypeVar

from ._library_name import library_name
from ._outcome import Outcome, capture

T = TypeVar("T")

IDLE_TIMEOUT = 10.0  # seconds

_name_counter = itertools.count()

_Job = tuple[Callable[[], Any], Callable[[Outcome[Any]], object], "str | None"]


def _load_setname() -> Callable[[int, bytes], object] | None:
    if sys.platform == "darwin":  # pragma: no cover - there it names only the caller
        return None
    try:
        import ctypes

        setname = ctypes.CDLL(None).pthread_setname_np  # glibc / musl (libpthread is loaded)
    except (OSError, AttributeError):  # pragma: no cover - not Linux-like
        return None
    setname.argtypes = [ctypes.c_ulong, ctypes.c_char_p]
    setname.restype = ctypes.c_int
    return setname


_setname: Callable[[int, bytes], object] | None = None
_setname_loaded = False


def set_os_thread_name(ident: int | None, name: str) -> None:
    """Sets the OS-level name of the thread ``ident`` (``/proc/.../comm``:
    at most 15 ASCII bytes; longer names are cut) where the platform has
    ``pthread_setname_np``; otherwise does nothing."""
    global _setname, _setname_loaded
    if not _setname_loaded:
        _setname = _load_setname()
        _setname_loaded = True
    if _setname is not None and ident is not None:
        _setname(ident, name.encode("ascii", errors="replace")[:15])


class _Worker:
    __slots__ = ("_cache", "_default_name", "_job", "_job_slot", "_thread")

    def __init__(self, cache: ThreadCache) -> None:
        self._cache = cache
        self._job: _Job | None = None
        # held while there is no job; released by whoever assigns one
        self._job_slot = Lock()
        self._job_slot.acquire()
        # "lowio thread N"; "Trio thread N" under install_as_trio, trio's name
        library = "Trio" if library_name() == "trio" else "lowio"
        self._default_name = f"{library} thread {next(_name_counter)}"
        if sys.version_info >= (3, 14):  # pragma: no cover - start with an empty context
            self._thread = Thread(
                target=self._work,
                name=self._default_name,
                daemon=True,
                context=contextvars.Context(),  # type: ignore[call-arg, unused-ignore]
            )
        else:
            self._thread = Thread(target=self._work, name=self._default_name, daemon=True)
        self._thread.start()

    def _rename(self, name: str) -> None:
        self._thread.name = name
        set_os_thread_name(self._thread.ident, name)

    def _handle_job(self) -> None:
        # A method of its own, so that the job's objects die when it returns.
        job = self._job
        assert job is not None
        self._job = None
        fn, deliver, name = job
        del job
        if name is not None:
            self._rename(name)
        result = capture(fn)
        if name is not None:
            self._rename(self._default_name)
        del fn  # do not keep what fn refers to (its contextvars...) alive
        # Idle *before* delivering: if deliver leads to a new job, it can
        # come to this thread instead of starting another one.
        self._cache._idle[self] = None
        try:
            deliver(result)
        except BaseException as exc:
            print("Exception while delivering result of a lowio worker thread", file=sys.stderr)
            traceback.print_exception(type(exc), exc, exc.__traceback__)

    def _work(self) -> None:
        set_os_thread_name(self._thread.ident, self._default_name)
        while True:
            if self._job_slot.acquire(timeout=self._cache.idle_timeout):
                if self._job is None:
                    return  # stop_idle_workers() took us out of the idle set
                self._handle_job()
            else:
                try:
                    del self._cache._idle[self]
                except KeyError:
                    # Someone took us out of the idle set just now: a job
                    # (or a stop) is being handed to us.  Wait for it.
                    continue
                return


class ThreadCache:
    """A pool of reusable daemon worker threads.  Thread-safe."""

    __slots__ = ("_idle", "idle_timeout")

    def __init__(self, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self._idle: dict[_Worker, None] = {}
        #: seconds an idle worker waits for a job before it exits (read by
        #: each worker when it starts waiting)
        self.idle_timeout = idle_timeout

    def start_thread_soon(
        self,
        fn: Callable[[], T],
        deliver: Callable[[Outcome[T]], object],
        name: str | None = None,
    ) -> None:
        try:
            worker, _ = self._idle.popitem()
        except KeyError:
            worker = _Worker(self)
        worker._job = (fn, deliver, name)
        worker._job_slot.release()

    def idle_count(self) -> int:
        """How many workers are waiting for a job."""
        return len(self._idle)

    def stop_idle_workers(self) -> int:
        """Ends every idle worker now and waits until their threads have
        exited; returns how many.  Workers busy with a job are left alone
        (they become idle when done).  Any thread may call it."""
        stopped: list[_Worker] = []
        while True:
            try:
                worker, _ = self._idle.popitem()
            except KeyError:
                break
            worker._job = None
            worker._job_slot.release()
            stopped.append(worker)
        current = threading.current_thread()
        for worker in stopped:
            if worker._thread is not current:  # called from a deliver callback
                worker._thread.join()
        return len(stopped)

    def _forget_after_fork(self) -> None:
        # in a forked child the workers' threads do not exist
        self._idle.clear()


THREAD_CACHE = ThreadCache()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=THREAD_CACHE._forget_after_fork)


def start_thread_soon(
    fn: Callable[[], T],
    deliver: Callable[[Outcome[T]], object],
    name: str | None = None,
) -> None:
    """Runs ``deliver(outcome)`` in a worker thread, where ``outcome`` is
    ``fn()``'s ``Value`` or ``Error`` (``.unwrap()`` returns or raises it).

    Not async: returns at once; any thread may call it.  ``fn`` does the
    blocking work; ``deliver`` hands the result on and must not block.  If
    ``deliver`` raises, the error is printed to stderr and dropped.
    ``name`` names the thread (``threading`` and, where possible, the OS)
    while ``fn`` runs.

    Workers are cached and reused (see ``ThreadCache``), so neither function
    should leave thread-level state (``threading.local``) behind.  Workers
    are daemon threads: if the main thread exits, they are killed.
    """
    THREAD_CACHE.start_thread_soon(fn, deliver, name)


def stop_idle_workers() -> int:
    """Ends the cache's idle workers now (see ``ThreadCache.stop_idle_workers``)."""
    return THREAD_CACHE.stop_idle_workers()
