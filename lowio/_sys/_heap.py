"""glibc's heap thresholds, raised once per process for I/O buffers
(docs/design.md §3.7).

glibc serves a ``malloc`` below its *mmap threshold* (128 KiB at start)
from the heap, and gives the heap's free top back to the kernel whenever it
exceeds the *trim threshold* (twice the mmap threshold).  A server holding a
few hundred ``recv(65536)`` results at once (each message stays referenced
by its task until the next one arrives) frees and allocates megabytes at
the top of the heap every round, so the heap is trimmed and grown again
all the time: every 64 KiB ``bytes`` then costs a ``brk`` and up to 16
page faults.  glibc raises both thresholds by itself (its *dynamic* mmap
threshold) once the program frees a block that was allocated with ``mmap``;
:func:`raise_heap_thresholds` frees one such block, of :data:`PRIME_SIZE`,
so the thresholds become 8 MiB and 16 MiB: allocations below 8 MiB come
from the heap, and up to 16 MiB of free heap top is kept.

It costs one ``mmap`` and one ``munmap`` (``bytes(n)`` is a ``calloc``,
which touches no page of a fresh mapping) and changes nothing if the
program, or ``MALLOC_*`` environment variables / ``GLIBC_TUNABLES``, set
the thresholds already (glibc's dynamic adjustment is then off), or on a
C library other than glibc.
"""

from __future__ import annotations

import os

# glibc's adjustment stops at DEFAULT_MMAP_THRESHOLD_MAX (32 MiB on 64-bit)
PRIME_SIZE = 8 << 20

_done = False


def _is_glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError, AttributeError):
        return False


def raise_heap_thresholds() -> bool:
    """Frees one ``PRIME_SIZE`` block allocated with ``mmap`` the first time
    it is called in a process running on glibc (see the module docstring);
    returns whether it did.  Any thread; not a checkpoint; never raises."""
    global _done
    if _done:
        return False
    _done = True
    if not _is_glibc():
        return False
    block = bytes(PRIME_SIZE)  # calloc: mmap'ed, no page touched
    del block  # munmap: glibc raises its thresholds to this size
    return True


__all__ = ["PRIME_SIZE", "raise_heap_thresholds"]
