"""Raw epoll event bits, for ``Registry.register_mask`` and for decoding
``Events.packed()`` values (``token << FLAG_BITS | flags``).  The poll(2)
selector uses the same bits."""

from __future__ import annotations

from .._sys import lib

IN: int = int(lib.EPOLLIN)
PRI: int = int(lib.EPOLLPRI)
OUT: int = int(lib.EPOLLOUT)
ERR: int = int(lib.EPOLLERR)
HUP: int = int(lib.EPOLLHUP)
RDHUP: int = int(lib.EPOLLRDHUP)
ET: int = int(lib.EPOLLET)
FLAG_BITS: int = int(lib.LOWIO_FLAG_BITS)
FLAG_MASK: int = (1 << FLAG_BITS) - 1
TOKEN_BITS: int = int(lib.LOWIO_TOKEN_BITS)  # tokens are < 2**TOKEN_BITS
