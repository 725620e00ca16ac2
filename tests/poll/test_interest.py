from __future__ import annotations

import pytest

from lowio._sys import lib
from lowio.poll import EDGE, LEVEL, ONESHOT, Interest, Mode
from lowio.poll._interest import MASKS, mask_for


def test_interest_combines_and_exports() -> None:
    both = Interest.READABLE | Interest.WRITABLE
    assert Interest.READABLE in both and Interest.PRIORITY not in both
    assert list(Mode) == [EDGE, LEVEL, ONESHOT]


def test_masks_follow_mio() -> None:
    readable = mask_for(Interest.READABLE, EDGE, False, False)
    assert readable == lib.EPOLLIN | lib.EPOLLRDHUP | lib.EPOLLET
    assert mask_for(Interest.WRITABLE, LEVEL, False, False) == lib.EPOLLOUT
    assert mask_for(Interest.PRIORITY, ONESHOT, False, False) == lib.EPOLLPRI | lib.EPOLLONESHOT
    # the fast table and the validating path agree everywhere
    for mode, table in MASKS.items():
        for value in range(1, 8):
            assert table[value] == mask_for(Interest(value), mode, False, False)


def test_exclusive_drops_rdhup_and_refuses_what_the_kernel_refuses() -> None:
    mask = mask_for(Interest.READABLE, EDGE, True, False)
    assert mask & lib.EPOLLEXCLUSIVE and not mask & lib.EPOLLRDHUP
    assert mask_for(Interest.READABLE, LEVEL, True, False) & lib.EPOLLEXCLUSIVE
    with pytest.raises(ValueError, match="ONESHOT"):
        mask_for(Interest.READABLE, ONESHOT, True, False)
    with pytest.raises(ValueError, match="PRIORITY"):
        mask_for(Interest.READABLE | Interest.PRIORITY, EDGE, True, False)


def test_wakeup_flag() -> None:
    assert mask_for(Interest.READABLE, EDGE, False, True) & lib.EPOLLWAKEUP


@pytest.mark.parametrize(
    ("interest", "error", "match"),
    [
        (Interest(0), ValueError, "empty"),
        (0, ValueError, "empty"),
        (8, ValueError, "outside"),
        (-1, ValueError, "outside"),
        (1.0, TypeError, "float"),
        (True, TypeError, "bool"),
        ("r", TypeError, "str"),
    ],
)
def test_bad_interest(interest: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        mask_for(interest, EDGE, False, False)


@pytest.mark.parametrize("mode", ["edge", 0, None, "EDGE"])
def test_bad_mode(mode: object) -> None:
    with pytest.raises(TypeError, match="mode must be"):
        mask_for(Interest.READABLE, mode, False, False)
