"""glibc's heap thresholds, raised once per process by the first run
(lowio/_sys/_heap.py, docs/design.md §3.7).

Each behaviour test runs in a fresh interpreter: the thresholds are
process state, and this test process has long had its own adjusted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from lowio._sys import _heap

glibc = pytest.mark.skipif(not _heap._is_glibc(), reason="glibc's dynamic mmap threshold only")

# Prints whether a fresh buffer lies in the [heap] mapping, 1 MiB before
# one lowio run and 2 MiB after it (glibc serves both from mmap at its
# initial 128 KiB threshold; freeing the first one raises the threshold to
# 1 MiB, so the second must be larger).
PROBE = textwrap.dedent(
    """
    import ctypes, lowio

    def in_heap(size):
        buf = bytearray(size)
        address = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))
        with open("/proc/self/maps") as maps:
            for line in maps:
                if line.rstrip().endswith("[heap]"):
                    low, high = (int(x, 16) for x in line.split()[0].split("-"))
                    return low <= address < high
        return False

    before = in_heap(1 << 20)
    async def main():
        pass
    lowio.run(main)
    print(before, in_heap(2 << 20))
    """
)


def probe(env_extra: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.pop("GLIBC_TUNABLES", None)
    env.update(env_extra)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@glibc
def test_a_run_moves_buffers_of_megabytes_into_the_heap() -> None:
    assert probe({}) == "False True"


@glibc
def test_thresholds_set_by_the_environment_stay() -> None:
    # an explicit threshold turns glibc's dynamic adjustment off: the
    # priming block changes nothing
    assert probe({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072"}) == "False False"


def test_only_the_first_call_primes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_heap, "_done", False)
    assert _heap.raise_heap_thresholds() is _heap._is_glibc()
    assert _heap.raise_heap_thresholds() is False


def test_other_c_libraries_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_heap, "_done", False)
    monkeypatch.setattr(_heap.os, "confstr", lambda name: None)
    assert _heap.raise_heap_thresholds() is False


def test_a_platform_without_the_name_is_not_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(name: str) -> str:
        raise ValueError(f"unrecognized configuration name {name!r}")

    monkeypatch.setattr(_heap.os, "confstr", unknown)
    assert _heap._is_glibc() is False
