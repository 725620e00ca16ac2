"""``Interest`` (what readiness to watch) and the trigger modes."""

from __future__ import annotations

import enum

from .._sys import lib


class Interest(enum.IntFlag):
    """Readiness a registration asks for; combine with ``|``.  Never empty."""

    READABLE = 1
    WRITABLE = 2
    PRIORITY = 4


class Mode(enum.Enum):
    """How readiness is reported.

    * ``EDGE`` (the default, as in mio): an event when a source becomes ready;
      read or write until ``BlockingIOError`` before expecting another.
    * ``LEVEL``: an event on every poll while the source is ready.
    * ``ONESHOT``: one event, then nothing until ``reregister``.
    """

    EDGE = "edge"
    LEVEL = "level"
    ONESHOT = "oneshot"


EDGE = Mode.EDGE
LEVEL = Mode.LEVEL
ONESHOT = Mode.ONESHOT

_VALID = int(Interest.READABLE | Interest.WRITABLE | Interest.PRIORITY)


def _interest_bits(interest: int) -> int:
    bits = 0
    if interest & Interest.READABLE:
        bits |= lib.EPOLLIN | lib.EPOLLRDHUP
    if interest & Interest.WRITABLE:
        bits |= lib.EPOLLOUT
    if interest & Interest.PRIORITY:
        bits |= lib.EPOLLPRI
    return bits


def _table(mode_bits: int) -> tuple[int, ...]:
    # index: the Interest value; 0 (empty interest) maps to 0, "refuse"
    return (0, *(_interest_bits(i) | mode_bits for i in range(1, _VALID + 1)))


MASKS: dict[Mode, tuple[int, ...]] = {
    EDGE: _table(lib.EPOLLET),
    LEVEL: _table(0),
    ONESHOT: _table(lib.EPOLLONESHOT),
}


def check_interest(interest: object) -> int:
    """Validates an interest given as something other than ``Interest``."""
    if isinstance(interest, bool) or not isinstance(interest, int):
        raise TypeError(
            f"interest must be a lowio.Interest (or int), not {type(interest).__name__}"
        )
    if interest == 0:
        raise ValueError("interest must not be empty: use Interest.READABLE, WRITABLE or PRIORITY")
    if interest < 0 or interest & ~_VALID:
        raise ValueError(f"interest {interest!r} has bits outside READABLE|WRITABLE|PRIORITY")
    return int(interest)


def mask_for(interest: object, mode: object, exclusive: bool, wakeup: bool) -> int:
    """The epoll event mask for a registration (slow path: validates all)."""
    if not isinstance(mode, Mode):
        raise TypeError(f"mode must be lowio.poll.EDGE, LEVEL or ONESHOT, not {mode!r}")
    value = check_interest(interest)
    mask = MASKS[mode][value]
    if exclusive:
        if mode is ONESHOT:
            raise ValueError(
                "exclusive=True cannot be combined with ONESHOT (the kernel refuses it)"
            )
        if value & Interest.PRIORITY:
            raise ValueError(
                "exclusive=True cannot be combined with Interest.PRIORITY (the kernel refuses it)"
            )
        # EPOLLEXCLUSIVE accepts only IN/OUT/ERR/HUP/WAKEUP/ET: no RDHUP
        mask = (mask & ~lib.EPOLLRDHUP) | lib.EPOLLEXCLUSIVE
    if wakeup:
        mask |= lib.EPOLLWAKEUP
    return mask
