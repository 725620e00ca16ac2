"""``Events`` (the buffer a poll fills) and ``Event`` (one readiness report).

The C layer writes each event as one ``uint64``: ``token << 16 | flags``,
where the flags are epoll's bits, and, looked up in this buffer's intern
table, the id of the immutable ``Event`` object for that value.  Iterating
maps ids (small ints: no allocation) to the objects; a value never seen
before is interned once, on the poll that first returns it.  No C struct
field is read from Python per event.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .._sys import ffi, lib
from ._events_core import EventsCore

_IN = int(lib.EPOLLIN)
_PRI = int(lib.EPOLLPRI)
_OUT = int(lib.EPOLLOUT)
_ERR = int(lib.EPOLLERR)
_HUP = int(lib.EPOLLHUP)
_RDHUP = int(lib.EPOLLRDHUP)
_SHIFT = int(lib.LOWIO_FLAG_BITS)
_FLAGS = (1 << _SHIFT) - 1
_MISSES = int(lib.LOWIO_MISSES)
MAX_CAPACITY = 1 << 20
TABLE_SIZE = 4096  # intern table slots (kept at most half full)


class Event:
    """One readiness report: a ``token`` and what became ready.

    The flag logic is mio's for epoll.  Events are immutable and compare by
    value; the same ``Event`` object may be handed out again later.  Its
    methods raise nothing and may be called from any thread.
    """

    __slots__ = ("_flags", "token")
    token: int
    _flags: int

    def __init__(self, token: int, flags: int) -> None:
        object.__setattr__(self, "token", token)
        object.__setattr__(self, "_flags", flags)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Event is immutable")

    def is_readable(self) -> bool:
        """Data (or priority data) can be read."""
        return self._flags & (_IN | _PRI) != 0

    def is_writable(self) -> bool:
        """The source can be written to."""
        return self._flags & _OUT != 0

    def is_error(self) -> bool:
        """The source reported an error (``EPOLLERR``); the next I/O call
        on it raises that error."""
        return self._flags & _ERR != 0

    def is_read_closed(self) -> bool:
        """Both halves closed, or the peer shut down writing (FIN) / a pipe's
        writers are all gone."""
        f = self._flags
        return f & _HUP != 0 or (f & _IN != 0 and f & _RDHUP != 0)

    def is_write_closed(self) -> bool:
        """Both halves closed, or a pipe's readers are all gone."""
        f = self._flags
        return f & _HUP != 0 or (f & _OUT != 0 and f & _ERR != 0) or f == _ERR

    def is_priority(self) -> bool:
        """Priority (out-of-band) data can be read (``Interest.PRIORITY``)."""
        return self._flags & _PRI != 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return self.token == other.token and self._flags == other._flags

    def __hash__(self) -> int:
        return hash((self.token, self._flags))

    def __repr__(self) -> str:
        names = [
            name
            for name, test in (
                ("readable", self.is_readable),
                ("writable", self.is_writable),
                ("error", self.is_error),
                ("read_closed", self.is_read_closed),
                ("write_closed", self.is_write_closed),
                ("priority", self.is_priority),
            )
            if test()
        ]
        return f"Event(token={self.token}, {'|'.join(names) or 'none'})"


class Events(EventsCore):
    """A preallocated buffer of up to ``capacity`` events, filled by
    ``Poll.poll``.  Sources beyond ``capacity`` are reported by later polls.
    Owned by one thread at a time.  ``TypeError`` for a ``capacity`` that
    is not an int, ``ValueError`` outside ``1 .. 2**20``.  ``objects=False``
    skips the intern table in ``Poll.poll`` (for loops that read
    :meth:`packed`; iterating still works, making ``Event`` objects on the
    fly).

    ``iter(events)`` and ``len(events)`` are the C base class's (a snapshot
    of the events, in order); ``_n`` and ``_objs`` are its fields.
    """

    __slots__ = (
        "_bound",
        "_c",
        "_capacity",
        "_ids",
        "_ids_mv",
        "_interned",
        "_keys",
        "_keys_mv",
        "_ms",
        "_mv",
        "_out",
        "_scratch",
        "_vals",
        "_vals_mv",
    )

    if TYPE_CHECKING:
        _objs: list[Event | None] | None

        def __iter__(self) -> Iterator[Event]: ...

    def __init__(self, capacity: int = 1024, *, objects: bool = True) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise TypeError(f"capacity must be an int, not {type(capacity).__name__}")
        if not 1 <= capacity <= MAX_CAPACITY:
            raise ValueError(f"capacity must be between 1 and {MAX_CAPACITY}, not {capacity}")
        self._capacity = capacity
        self._out = ffi.new("uint64_t[]", capacity)
        self._ids = ffi.new("uint32_t[]", capacity)
        super().__init__(int(ffi.cast("uintptr_t", self._ids)), capacity)
        self._scratch = ffi.new("struct epoll_event[]", capacity)
        self._keys = ffi.new("uint64_t[]", TABLE_SIZE)
        self._vals = ffi.new("uint32_t[]", TABLE_SIZE)
        c = self._c = ffi.new("struct lowio_events *")
        c.out, c.ids, c.scratch = self._out, self._ids, self._scratch
        # objects=False: for loops that decode packed() themselves; the wait
        # skips the intern table and iterating builds Events on the fly.
        c.keys, c.vals = self._keys, self._vals
        c.table_mask = TABLE_SIZE - 1 if objects else 0
        c.capacity = capacity
        c.timeout_ms = 0
        self._mv = memoryview(ffi.buffer(self._out)).cast("Q")
        self._ids_mv = memoryview(ffi.buffer(self._ids)).cast("I")
        self._keys_mv = memoryview(ffi.buffer(self._keys)).cast("Q")
        self._vals_mv = memoryview(ffi.buffer(self._vals)).cast("I")
        # id -> Event (id 0 means "not interned"); None with objects=False
        self._objs: list[Event | None] | None = [None] if objects else None
        self._interned = 0  # entries in the C table
        self._n = 0
        self._bound: object = None  # the selector whose waits fill this buffer
        self._ms = 0  # mirror of _c.timeout_ms, to skip needless cdata writes

    def _filled(self, result: int) -> int:
        """Takes a wait's non-negative result: the count, plus ``LOWIO_MISSES``
        if some values were not interned yet (they are, now)."""
        n = result & (_MISSES - 1)
        if result & _MISSES and self._objs is not None:  # (objects=False: no table)
            ids, out = self._ids_mv, self._mv
            if len(self._objs) + n > TABLE_SIZE:  # start afresh, before any id is handed out
                self._keys_mv[:] = memoryview(bytes(8 * TABLE_SIZE)).cast("Q")
                self._objs = [None]
                self._interned = 0
                for i in range(n):
                    ids[i] = 0
            for i in range(n):
                if ids[i] == 0:
                    ids[i] = self._intern(out[i])
        self._n = n
        return n

    def _intern(self, packed: int) -> int:
        """The id of an Event for ``packed``.  The table is kept at most half
        full, so that the C lookup always ends at an empty slot; values
        beyond that get an Event but no table entry (a later miss)."""
        keys = self._keys_mv
        assert self._objs is not None
        slot = lib.lowio_find_slot(self._c, packed)
        if keys[slot] == packed:
            return int(self._vals_mv[slot])
        ident = len(self._objs)
        self._objs.append(Event(packed >> _SHIFT, packed & _FLAGS))
        if self._interned < TABLE_SIZE // 2:
            self._vals_mv[slot] = ident
            keys[slot] = packed
            self._interned += 1
        return ident

    @property
    def capacity(self) -> int:
        """The most events one poll reports."""
        return self._capacity

    def is_empty(self) -> bool:
        """No event since the last poll (or ``clear``)."""
        return self._n == 0

    def clear(self) -> None:
        """Forgets the events (``len`` becomes 0); the next poll refills it."""
        self._n = 0

    def _iter_uninterned(self) -> Iterator[Event]:
        """``iter()`` with ``objects=False``: Events made on the fly."""
        return iter([Event(v >> _SHIFT, v & _FLAGS) for v in self._mv[: self._n]])

    def packed(self) -> memoryview:
        """The raw events as ``token << 16 | epoll flags`` integers, valid until
        the next poll (for event loops that decode them themselves)."""
        return self._mv[: self._n]

    def __repr__(self) -> str:
        return f"Events(len={self._n}, capacity={self._capacity})"
